"""`central-logging query SQL SOURCE`: SQL over an archive on one machine, with DuckDB.

The SQL sees one view, `events`, with the columns of `EVENTS_COLUMNS`. `json` objects in the
Firehose layout (`account=/region=/year=/month=/day=` below the source) are read by DuckDB
itself, with those folders as hive partitions, so a filter on `account` or `region` skips the
other folders. Every other object (the `raw` format, records Firehose diverted for want of a
partition, or `json` objects outside that layout) is decoded by `archive.py` into a temporary
newline-delimited JSON file first; its `region` is the one its object's key names (`archive.object_region`), NULL if none. The columns and the
`--format json` fields are those of `read --json`. An object DuckDB cannot read is named and
left out, and the query runs again without it; output is held back until a run succeeds, so
nothing is printed twice. An `s3://` source is first copied into a local
cache folder; objects already there are not downloaded again, as Firehose never rewrites one.
`--account`, `--region`, `--since` and `--until` select partitions as `read` does (`archive.list_s3` and
`archive.list_local`), for the copy and for the view, and the view keeps only their events.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, TextIO

import duckdb

from central_logging import archive, cache, options
from central_logging.cache import default_cache_dir

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The view `events`, as (name, DuckDB type): the fields of `read --json`, `time` the UTC
# TIMESTAMP of `timestamp` (ms); an Athena view over the archive must agree.
EVENTS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("account", "VARCHAR"),
    ("region", "VARCHAR"),
    ("logGroup", "VARCHAR"),
    ("logStream", "VARCHAR"),
    ("id", "VARCHAR"),
    ("timestamp", "BIGINT"),
    ("time", "TIMESTAMP"),
    ("message", "VARCHAR"),
)
FORMATS = ("table", "csv", "json")
# The relative path of a json object that DuckDB reads with hive partitioning.
_HIVE_KEY = re.compile(
    r"account=[^/]+/region=[^/]+/year=[^/]+/month=[^/]+/day=[^/]+/[^/]+\.json\.gz"
)
_FILES_VARIABLE = "central_logging_files"
# `timestamp` as JSON, so that the view can tell an integer from anything else.
_ENVELOPE_COLUMNS = (
    "{messageType: 'VARCHAR', logGroup: 'VARCHAR', logStream: 'VARCHAR', "
    "logEvents: 'STRUCT(id VARCHAR, \"timestamp\" JSON, message VARCHAR)[]'}"
)
# The view raises this, then the object's path, for an event whose time `read` would not
# accept (`archive.valid_millis`): the query runs again without that object.
_BAD_TIME_ERROR = "central-logging: bad event time in "
# Whether the event `e` has a time `read` accepts; else the error above. In the WHERE clause,
# which every query evaluates (a column it does not select may be left uncomputed).
_CHECKED_TIME = (
    "CASE WHEN json_type(e.\"timestamp\") IN ('BIGINT', 'UBIGINT') "
    f'AND TRY_CAST(e."timestamp" AS BIGINT) BETWEEN 0 AND {archive.MAX_MILLIS - 1} '
    f"THEN true ELSE error('{_BAD_TIME_ERROR}' || filename) END"
)
# The lines of `read --json`.
_DECODED_COLUMNS = (
    "{account: 'VARCHAR', region: 'VARCHAR', logGroup: 'VARCHAR', logStream: 'VARCHAR', "
    "id: 'VARCHAR', timestamp: 'BIGINT', message: 'VARCHAR'}"
)
# Errors of DuckDB reading one file it was given (a damaged gzip, JSON of another shape).
_FILE_ERRORS = (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException)
_USAGE_ERRORS = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)


# The longest file name common file systems take (NAME_MAX of ext4, XFS, APFS), in bytes.
MAX_NAME_BYTES = 255


def name_too_long(key: str) -> bool:
    """Whether a segment of `key` is longer than a file name can be (S3 allows 1,024 bytes)."""
    return any(
        len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in key.split("/")
    )


def cache_path(root: str, key: str) -> str | None:
    """Where the object `key` (below the source prefix) is kept below `root`; None for a key
    that could lead elsewhere or name a folder: an absolute key, a `.`, `..` or empty segment
    (a trailing `/` is how the S3 console marks a folder), or a NUL."""
    parts = key.split("/")
    if any(part in ("", ".", "..") or "\0" in part for part in parts):
        return None
    return os.path.join(root, *parts)


class CopyProgress(options.Progress):
    """The copy's progress."""

    def __init__(self, stream: TextIO | None, url: str) -> None:
        super().__init__(stream)
        self._url = url
        self.copied = 0
        self.cached = 0
        self.size = 0

    def line(self, elapsed: float) -> str:
        return (
            f"Copying {self._url}: {self.copied} object(s) copied "
            f"({self.size / 1e6:.1f} MB), {self.cached} already in the cache"
        )


def sync_s3(
    client: S3Client,
    url: str,
    cache_dir: str,
    filters: archive.Filters,
    now: datetime,
    report: Callable[[str], None],
    progress: CopyProgress,
) -> tuple[str, int]:
    """Copy the objects under `url` in the partitions `filters` can match into
    `cache_dir`/bucket/prefix; returns that folder and the number of objects listed.

    Keys that `cache_path` refuses, and objects that cannot be written, go to `report`.
    """
    bucket, prefix = archive.parse_s3_url(url)
    root = os.path.join(cache_dir, bucket, *prefix.split("/"))
    listed = 0
    for item in archive.list_s3(client, url, filters, now):
        listed += 1
        path = cache_path(root, item.key)
        if name_too_long(item.key):
            progress.clear()
            report(
                f"{archive.printable(item.name)} was not copied: a segment of its key is longer "
                f"than {MAX_NAME_BYTES} bytes, more than a file name can be."
            )
            continue
        if path is None:
            progress.clear()
            report(
                f"{archive.printable(item.name)} was not copied: its key could lead outside "
                "the cache folder or names a folder."
            )
            continue
        if os.path.exists(path):
            os.utime(path)  # used now: the last the cache's size limit deletes
            progress.cached += 1
            progress.show()
            continue
        # Beside the object, under a name that fits whatever the object's own name.
        partial = os.path.join(os.path.dirname(path), _partial_name(item.key))
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(partial, "wb") as file:
                for chunk in item.open():
                    file.write(chunk)
                    progress.size += len(chunk)
                    progress.show()
            os.replace(partial, path)
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as error:
            # Another key of the bucket holds the same path as a file or as a folder.
            progress.clear()
            report(f"{archive.printable(item.name)} was not copied ({error.strerror}).")
            continue
        progress.copied += 1
        progress.show()
    progress.show(final=True)
    os.makedirs(root, exist_ok=True)  # for the view, even if nothing was copied
    return root, listed


def _partial_name(key: str) -> str:
    """The name an object is downloaded under until complete (`create_events_view` skips it)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32] + ".partial"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_events_view(
    connection: duckdb.DuckDBPyConnection,
    root: str,
    scratch: str,
    filters: archive.Filters,
    now: datetime,
    report: Callable[[str], None],
    left_out: frozenset[str] = frozenset(),
) -> tuple[int, dict[str, str]]:
    """Create the view `events` over the events of the archive in the local folder `root`
    that `filters` keep; returns the number of objects found, and the files DuckDB reads
    itself (absolute path -> key below `root`), those in `left_out` left out.

    Objects outside the hive layout are decoded into a file in the folder `scratch`; those that
    cannot be read go to `report` and are skipped, as are downloads that `sync_s3` left
    unfinished.
    """
    hive: dict[str, str] = {}
    others: list[archive.ArchiveObject] = []
    found = 0
    for item in archive.list_local(root, filters, now):
        if _HIVE_KEY.fullmatch(item.key):
            found += 1
            path = os.path.abspath(item.name)
            if path not in left_out:
                hive[path] = item.key
        elif not item.key.endswith(".partial"):
            found += 1
            others.append(item)
    parts = []
    if hive:
        # The files that `list_local` found, not a glob: DuckDB's globs follow symbolic links.
        connection.execute(f"SET VARIABLE {_FILES_VARIABLE} = ?", [list(hive)])
        window = [
            f'"timestamp" {operator} {archive.to_millis(moment)}'
            for operator, moment in ((">=", filters.since), ("<", filters.until))
            if moment is not None
        ]
        parts.append(
            "SELECT account, region, logGroup, logStream, id, "
            '"timestamp", epoch_ms("timestamp") AS "time", message '
            "FROM (SELECT account, region, logGroup, logStream, e.id AS id, "
            'TRY_CAST(e."timestamp" AS BIGINT) AS "timestamp", e.message AS message '
            "FROM (SELECT account, region, logGroup, logStream, filename, "
            "unnest(logEvents) AS e "
            f"FROM read_json(getvariable('{_FILES_VARIABLE}'), format = 'newline_delimited', "
            f"columns = {_ENVELOPE_COLUMNS}, hive_partitioning = true, filename = true, "
            "hive_types = {account: 'VARCHAR', region: 'VARCHAR'}) "
            f"WHERE messageType = 'DATA_MESSAGE') WHERE {_CHECKED_TIME})"
            + (" WHERE " + " AND ".join(window) if window else "")
        )
    if others:
        decoded = os.path.join(scratch, "decoded.ndjson")
        if not os.path.exists(decoded):  # decoded once, whatever runs follow
            with open(decoded, "w", encoding="utf-8") as file:
                for text in archive.read_objects(others, filters, archive.json_lines, report):
                    file.write(text)
        parts.append(
            'SELECT account, region, logGroup, logStream, id, "timestamp", '
            'epoch_ms("timestamp") AS "time", message '
            f"FROM read_json({_literal(decoded)}, format = 'newline_delimited', "
            f"columns = {_DECODED_COLUMNS})"
        )
    if not parts:
        columns = ", ".join(f"NULL::{kind} AS {name}" for name, kind in EVENTS_COLUMNS)
        parts.append(f"SELECT {columns} WHERE false")
    connection.execute("CREATE OR REPLACE VIEW events AS " + " UNION ALL ".join(parts))
    return found, hive


def _utc(value: datetime) -> str:
    """A TIMESTAMP as ISO 8601 UTC with Z, to the millisecond as `read` prints it; DuckDB's
    TIMESTAMP has no zone, and every time of the archive is UTC."""
    moment = value.astimezone(UTC) if value.tzinfo else value
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return _utc(value)
    return archive.printable(str(value))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def write_result(
    names: Sequence[str], rows: Iterator[tuple[Any, ...]], form: str, out: IO[str]
) -> None:
    """Rows as an aligned table, CSV with a header, or one JSON object per line."""
    if form == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(
            [value if value is None else _text(value) for value in row] for row in rows
        )
    elif form == "json":
        for row in rows:
            document = {name: _json_value(value) for name, value in zip(names, row, strict=True)}
            out.write(archive.json_safe(json.dumps(document, ensure_ascii=False)) + "\n")
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
        + "); ts is a UTC TIMESTAMP. An s3:// source is first copied into --cache-dir, only "
        "the partitions that --account, --since and --until can match; the view holds only the "
        "events they keep. T is as for read. Table and CSV output escape control characters "
        "as read does; JSON output as read --json does.",
    )
    parser.add_argument("sql", metavar="SQL")
    parser.add_argument("source", metavar="SOURCE", help="s3://bucket/prefix or a local folder")
    archive.add_selection_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help=f"where s3:// sources are copied (default: {default_cache_dir()})",
    )
    parser.add_argument(
        "--cache-limit",
        metavar="GB",
        type=cache.limit_gb,
        default=cache.DEFAULT_LIMIT_GB,
        help="after the query, the least recently used objects go until the cache holds at "
        f"most this much (default: {cache.DEFAULT_LIMIT_GB:g})",
    )
    parser.add_argument(
        "--profile", help="AWS profile for an s3:// source; default: the standard chain"
    )
    return parser


def run_query(
    args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """`query`: 0 done, 1 when objects were unreadable or the query failed, 2 for bad usage."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    now = datetime.now(UTC)
    unreadable: list[str] = []

    def report(sentence: str) -> None:
        unreadable.append(sentence)
        archive.say(err, sentence)

    try:
        filters = archive.filters_from_args(args, now)
        cache_dir: str | None = None
        if args.source.startswith("s3://"):
            client = archive.s3_client(args.profile)
            progress = CopyProgress(err if err.isatty() else None, args.source)
            cache_dir = _cache_dir(args.cache_dir)
            root, listed = sync_s3(client, args.source, cache_dir, filters, now, report, progress)
        elif os.path.isdir(args.source):
            root, listed = args.source, None
        else:
            raise archive.UsageError(
                f"The source {args.source!r} is neither an s3:// URL nor a local folder."
            )
        with tempfile.TemporaryDirectory(prefix="central-logging-query-") as scratch:
            connection = duckdb.connect()
            try:
                result = _run_leaving_out_damaged(
                    connection, args, root, scratch, filters, now, report, err, listed
                )
                with result:
                    result.seek(0)
                    while text := result.read(archive.CHUNK_BYTES):
                        out.write(text)
                out.flush()
            finally:
                connection.close()
        if cache_dir is not None:
            cache.trim(cache_dir, cache.limit_bytes(args.cache_limit))
    except BrokenPipeError:
        archive.stop_output(out)
        return 1 if unreadable else 0
    except archive.source_errors() as error:
        code, sentence = archive.source_failure(error, args.source)
        archive.say(err, sentence)
        return code
    except _USAGE_ERRORS as error:
        archive.say(err, f"The SQL is not valid: {_first_line(error)}")
        return 2
    except duckdb.Error as error:
        archive.say(err, f"The query failed: {_first_line(error)}")
        return 1
    return 1 if unreadable else 0


def _run_leaving_out_damaged(
    connection: duckdb.DuckDBPyConnection,
    args: argparse.Namespace,
    root: str,
    scratch: str,
    filters: archive.Filters,
    now: datetime,
    report: Callable[[str], None],
    err: TextIO,
    listed: int | None,
) -> IO[str]:
    """The query's output, in a temporary file: run again without each object DuckDB finds
    damaged (named through `report`), so that one damaged object is not the end of the query."""
    left_out: set[str] = set()
    while True:
        found, hive = create_events_view(
            connection, root, scratch, filters, now, report, frozenset(left_out)
        )
        if not left_out and (found if listed is None else listed) == 0:
            archive.say(err, archive.no_objects(args.source, filters))
        # Returned open: the caller copies it out, then closes it.
        output = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=archive.CHUNK_BYTES, mode="w+", encoding="utf-8", dir=scratch
        )
        try:
            result = connection.execute(args.sql)
            names = [column[0] for column in result.description or []]
            write_result(names, _rows(result), args.format, output)
            return output
        except _FILE_ERRORS as error:
            output.close()
            damaged = [path for path in hive if path in str(error)]
            if not damaged:
                raise
            left_out.add(damaged[0])
            report(f"{_object_name(args.source, hive[damaged[0]])} {_damage(error)}; skipped.")


def _object_name(source: str, key: str) -> str:
    """How the user knows an object of the source: its s3:// URL, or its local path."""
    if source.startswith("s3://"):
        bucket, prefix = archive.parse_s3_url(source)
        return archive.printable(f"s3://{bucket}/{prefix}{key}")
    return archive.printable(os.path.join(source, *key.split("/")))


def _damage(error: Exception) -> str:
    """Why DuckDB could not read an object, without the path it already names."""
    if isinstance(error, duckdb.IOException):
        return "is not a valid gzip stream"
    if _BAD_TIME_ERROR in str(error):
        return f"holds an event whose {archive.BAD_TIMESTAMP}"
    return archive.NOT_AN_ENVELOPE


def _cache_dir(given: str | None) -> str:
    """The cache folder, created and marked if need be; UsageError when it cannot be used."""
    try:
        return cache.prepare(given or default_cache_dir(), default=given is None)
    except cache.CacheError as error:
        raise archive.UsageError(str(error)) from None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]
