"""`central-logging query SQL SOURCE`: SQL over an archive on one machine, with DuckDB.

The SQL sees one view, `events`, with the columns of `EVENTS_COLUMNS`. `json` objects in the
Firehose layout (`account=/region=/year=/month=/day=` below the source) are read by DuckDB
itself, with those folders as hive partitions, so a filter on `account` or `region` skips the
other folders. Every other object (the `raw` format, or `json` objects outside that layout) is
decoded by `archive.py` into a temporary newline-delimited JSON file first; its `region` is
NULL, as the `raw` layout does not record it. An `s3://` source is first copied into a local
cache folder; objects already there are not downloaded again, as Firehose never rewrites one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

import duckdb
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from central_logging import archive

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The view `events`, as (name, DuckDB type); an Athena table over the archive must agree.
EVENTS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("account", "VARCHAR"),
    ("region", "VARCHAR"),
    ("log_group", "VARCHAR"),
    ("log_stream", "VARCHAR"),
    ("id", "VARCHAR"),
    ("ts", "TIMESTAMP"),
    ("message", "VARCHAR"),
)
FORMATS = ("table", "csv", "json")
# The relative path of a json object that DuckDB reads with hive partitioning.
_HIVE_KEY = re.compile(
    r"account=[^/]+/region=[^/]+/year=[^/]+/month=[^/]+/day=[^/]+/[^/]+\.json\.gz"
)
_HIVE_GLOB = "account=*/region=*/year=*/month=*/day=*/*.json.gz"
_ENVELOPE_COLUMNS = (
    "{messageType: 'VARCHAR', logGroup: 'VARCHAR', logStream: 'VARCHAR', "
    "logEvents: 'STRUCT(id VARCHAR, \"timestamp\" BIGINT, message VARCHAR)[]'}"
)
# The lines of `read --json`.
_DECODED_COLUMNS = (
    "{account: 'VARCHAR', logGroup: 'VARCHAR', logStream: 'VARCHAR', id: 'VARCHAR', "
    "timestamp: 'BIGINT', message: 'VARCHAR'}"
)
_USAGE_ERRORS = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "central-logging")


def sync_s3(client: S3Client, url: str, cache_dir: str) -> str:
    """Copy the objects under `url` into `cache_dir`/bucket/prefix; returns that folder."""
    bucket, prefix = archive.parse_s3_url(url)
    root = os.path.join(cache_dir, bucket, *prefix.split("/"))
    for item in archive.list_s3(client, url, archive.Filters(), datetime.now(UTC)):
        path = os.path.join(root, *item.key.split("/"))
        if os.path.exists(path):
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = path + ".partial"
        with open(partial, "wb") as file:
            for chunk in item.open():
                file.write(chunk)
        os.replace(partial, path)
    return root


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_events_view(
    connection: duckdb.DuckDBPyConnection,
    root: str,
    scratch: str,
    report: Callable[[str], None],
) -> None:
    """Create the view `events` over the archive in the local folder `root`.

    Objects outside the hive layout are decoded into a file in the folder `scratch`; those that
    cannot be read go to `report` and are skipped, as are downloads that `sync_s3` left
    unfinished.
    """
    hive = False
    others: list[archive.ArchiveObject] = []
    for item in archive.list_local(root, archive.Filters(), datetime.now(UTC)):
        if _HIVE_KEY.fullmatch(item.key):
            hive = True
        elif not item.key.endswith(".partial"):
            others.append(item)
    parts = []
    if hive:
        files = _literal(os.path.join(root, *_HIVE_GLOB.split("/")))
        parts.append(
            "SELECT account, region, logGroup AS log_group, logStream AS log_stream, "
            'e.id AS id, epoch_ms(e."timestamp") AS ts, e.message AS message '
            "FROM (SELECT account, region, logGroup, logStream, unnest(logEvents) AS e "
            f"FROM read_json({files}, format = 'newline_delimited', "
            f"columns = {_ENVELOPE_COLUMNS}, hive_partitioning = true, "
            "hive_types = {account: 'VARCHAR', region: 'VARCHAR'}) "
            "WHERE messageType = 'DATA_MESSAGE')"
        )
    if others:
        decoded = os.path.join(scratch, "decoded.ndjson")
        with open(decoded, "w", encoding="utf-8") as file:
            for text in archive.read_objects(others, archive.Filters(), archive.json_lines, report):
                file.write(text)
        parts.append(
            "SELECT account, NULL::VARCHAR AS region, logGroup AS log_group, "
            "logStream AS log_stream, id, epoch_ms(timestamp) AS ts, message "
            f"FROM read_json({_literal(decoded)}, format = 'newline_delimited', "
            f"columns = {_DECODED_COLUMNS})"
        )
    if not parts:
        columns = ", ".join(f"NULL::{kind} AS {name}" for name, kind in EVENTS_COLUMNS)
        parts.append(f"SELECT {columns} WHERE false")
    connection.execute("CREATE VIEW events AS " + " UNION ALL ".join(parts))


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value).replace("\r", "\\r").replace("\n", "\\n")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def write_result(
    names: Sequence[str], rows: Iterator[tuple[Any, ...]], form: str, out: TextIO
) -> None:
    """Rows as an aligned table, CSV with a header, or one JSON object per line."""
    if form == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
    elif form == "json":
        for row in rows:
            document = {name: _json_value(value) for name, value in zip(names, row, strict=True)}
            out.write(json.dumps(document, ensure_ascii=False) + "\n")
    else:
        cells = [[_text(value) for value in row] for row in rows]
        widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(names)]
        for line in [list(names), ["-" * width for width in widths], *cells]:
            padded = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            out.write("  ".join(padded).rstrip() + "\n")


def _rows(result: duckdb.DuckDBPyConnection) -> Iterator[tuple[Any, ...]]:
    while batch := result.fetchmany(10_000):
        yield from batch


def add_query_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `query` on an argparse subparsers object; returns its parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "query",
        help="SQL over an archive with DuckDB",
        description="Run SQL over an archive on this machine. The SQL sees the view events("
        + ", ".join(name for name, _ in EVENTS_COLUMNS)
        + "); ts is a UTC TIMESTAMP. An s3:// source is first copied into --cache-dir.",
    )
    parser.add_argument("sql", metavar="SQL")
    parser.add_argument("source", metavar="SOURCE", help="s3://bucket/prefix or a local folder")
    parser.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help=f"where s3:// sources are copied (default: {default_cache_dir()})",
    )
    parser.add_argument("--profile", help="AWS profile for an s3:// source")
    return parser


def run_query(
    args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """`query`: 0 done, 1 when objects were unreadable or the query failed, 2 for bad usage."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    unreadable: list[str] = []

    def report(sentence: str) -> None:
        unreadable.append(sentence)
        print(sentence, file=err, flush=True)

    try:
        if args.source.startswith("s3://"):
            client = archive.s3_client(args.profile)
            root = sync_s3(client, args.source, args.cache_dir or default_cache_dir())
        elif os.path.isdir(args.source):
            root = args.source
        else:
            raise archive.UsageError(
                f"The source {args.source!r} is neither an s3:// URL nor a local folder."
            )
        with tempfile.TemporaryDirectory(prefix="central-logging-query-") as scratch:
            connection = duckdb.connect()
            try:
                create_events_view(connection, root, scratch, report)
                result = connection.execute(args.sql)
                names = [column[0] for column in result.description or []]
                write_result(names, _rows(result), args.format, out)
            finally:
                connection.close()
    except archive.UsageError as error:
        print(error, file=err)
        return 2
    except NoCredentialsError:
        print(archive.NO_CREDENTIALS, file=err)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"Could not copy {args.source} into the cache ({error}).", file=err)
        return 1
    except _USAGE_ERRORS as error:
        print(f"The SQL is not valid: {_first_line(error)}", file=err)
        return 2
    except duckdb.Error as error:
        print(f"The query failed: {_first_line(error)}", file=err)
        return 1
    out.flush()
    return 1 if unreadable else 0


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]
