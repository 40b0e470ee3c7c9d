"""`central-logging query`: SQL over the `events` view agrees with the archive's truth."""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from central_logging.query import EVENTS_COLUMNS
from tests.archive.conftest import ACCOUNT_A, Archive, build_raw_archive, run

RAW_KEYS = [f"raw/{key}" for key in build_raw_archive().objects]


@pytest.fixture
def both(json_archive: Archive, raw_archive: Archive, tmp_path: Path) -> tuple[Path, Archive]:
    """One folder holding the json layout and, under raw/, the raw layout."""
    root = json_archive.write(tmp_path / "archive")
    raw_archive.write(root / "raw")
    return root, Archive(events=json_archive.events + raw_archive.events)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_event_once_as_read_json_prints_it(both: tuple[Path, Archive]) -> None:
    """`query --format json` and `read --json` speak one language: the same fields, values
    and times (ISO 8601 UTC with Z), region included, in either archive format."""
    root, truth = both

    outcome = run("query", "SELECT * FROM events", str(root), "--format", "json")
    read = run("read", str(root), "--json")

    assert (outcome.code, outcome.stderr) == (0, "")
    rows = outcome.documents()
    assert [list(row) for row in rows[:1]] == [[name for name, _ in EVENTS_COLUMNS]]
    assert sorted(rows, key=lambda r: r["id"]) == sorted(truth.events, key=lambda e: e["id"])
    assert sorted(read.documents(), key=lambda r: r["id"]) == sorted(rows, key=lambda r: r["id"])


def test_the_view_has_the_documented_columns_and_types(both: tuple[Path, Archive]) -> None:
    root, _ = both

    outcome = run("query", "DESCRIBE events", str(root), "--format", "csv")

    assert [(r["column_name"], r["column_type"]) for r in _csv(outcome.stdout)] == list(
        EVENTS_COLUMNS
    )


def test_region_comes_from_the_partitions_or_the_raw_objects_stream(
    both: tuple[Path, Archive], tmp_path: Path
) -> None:
    root, truth = both
    # A raw object whose name is not Firehose's: no region.
    (root / "raw" / "renamed").write_bytes((root / next(iter(RAW_KEYS))).read_bytes())
    sql = "SELECT region, count(*) AS n FROM events GROUP BY ALL ORDER BY region NULLS LAST"

    outcome = run("query", sql, str(root), "--format", "csv")

    expected = Counter(e["region"] for e in truth.events)
    assert _csv(outcome.stdout) == [
        {"region": "eu-west-1", "n": str(expected["eu-west-1"])},
        {"region": "us-east-1", "n": str(expected["us-east-1"])},
        {"region": "", "n": "7"},
    ]


def test_a_grouped_count_by_account_and_day_matches_the_truth(both: tuple[Path, Archive]) -> None:
    root, truth = both
    sql = (
        "SELECT account, strftime(time, '%Y-%m-%d') AS day, count(*) AS errors FROM events "
        "WHERE message LIKE '%ERROR%' GROUP BY ALL ORDER BY ALL"
    )

    outcome = run("query", sql, str(root), "--format", "csv")

    expected = Counter(
        (e["account"], datetime.fromtimestamp(e["timestamp"] / 1000, UTC).strftime("%Y-%m-%d"))
        for e in truth.events
        if "ERROR" in e["message"]
    )
    assert [(r["account"], r["day"], int(r["errors"])) for r in _csv(outcome.stdout)] == sorted(
        (account, day, n) for (account, day), n in expected.items()
    )


def test_the_table_is_aligned_with_a_header(both: tuple[Path, Archive]) -> None:
    root, _ = both
    sql = (
        f"SELECT time, logGroup, message FROM events WHERE account = '{ACCOUNT_A}' "
        "AND message LIKE 'ERROR%' ORDER BY time LIMIT 1"
    )

    outcome = run("query", sql, str(root))

    message = "ERROR payment failed\\n  at charge()\\n  at main()"
    assert outcome.stdout.splitlines() == [
        "time                      logGroup         message",
        "------------------------  ---------------  " + "-" * len(message),
        "2026-01-10T03:00:00.000Z  /aws/lambda/api  " + message,
    ]


def test_control_messages_are_not_events(both: tuple[Path, Archive]) -> None:
    root, _ = both

    outcome = run(
        "query",
        "SELECT count(*) AS n FROM events WHERE message LIKE 'CWL CONTROL%'",
        str(root),
        "--format",
        "json",
    )

    assert outcome.documents() == [{"n": 0}]


def test_an_empty_folder_gives_an_empty_view(tmp_path: Path) -> None:
    outcome = run("query", "SELECT count(*) AS n FROM events", str(tmp_path), "--format", "csv")

    assert (outcome.code, outcome.stdout) == (0, "n\n0\n")


def test_bad_sql_is_a_usage_error(both: tuple[Path, Archive]) -> None:
    root, _ = both

    outcome = run("query", "SELECT nope FROM events", str(root))

    assert outcome.code == 2
    assert outcome.stderr.startswith(
        'central-logging: The SQL is not valid: Binder Error: Referenced column "nope" not found'
    )
    assert outcome.stderr.count("\n") == 1


def test_a_damaged_raw_object_is_named_and_the_rest_counted(
    raw_archive: Archive, tmp_path: Path
) -> None:
    root = raw_archive.write(tmp_path)
    (root / "2026/01/10/05/damaged").write_bytes(b"damaged")

    outcome = run("query", "SELECT count(*) AS n FROM events", str(root), "--format", "csv")

    assert outcome.code == 1
    assert outcome.stdout == f"n\n{len(raw_archive.events)}\n"
    assert outcome.stderr.startswith(
        f"central-logging: {root / '2026/01/10/05/damaged'} is not a valid gzip stream"
    )


def test_damaged_json_objects_are_named_and_skipped_not_the_end_of_the_query(
    json_archive: Archive, tmp_path: Path
) -> None:
    root = json_archive.write(tmp_path)
    folders = sorted({path.parent for path in root.rglob("*.json.gz")})
    (folders[0] / "damaged.json.gz").write_bytes(b"\x1f\x8b\x08damaged")
    (folders[-1] / "other.json.gz").write_bytes(gzip.compress(b'{"logEvents": "not a list"}\n'))

    outcome = run("query", "SELECT count(*) AS n FROM events", str(root), "--format", "csv")

    assert outcome.code == 1
    assert outcome.stdout == f"n\n{len(json_archive.events)}\n"  # printed once, in full
    assert sorted(outcome.stderr.splitlines()) == sorted(
        [
            f"central-logging: {folders[0] / 'damaged.json.gz'} is not a valid gzip stream; "
            "skipped.",
            f"central-logging: {folders[-1] / 'other.json.gz'} holds JSON that is not a "
            "CloudWatch Logs envelope; skipped.",
        ]
    )
