"""`central-logging query`: SQL over the `events` view agrees with the archive's truth."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from central_logging.query import EVENTS_COLUMNS
from tests.archive.conftest import ACCOUNT_A, Archive, run


@pytest.fixture
def both(json_archive: Archive, raw_archive: Archive, tmp_path: Path) -> tuple[Path, Archive]:
    """One folder holding the json layout and, under raw/, the raw layout."""
    root = json_archive.write(tmp_path / "archive")
    raw_archive.write(root / "raw")
    return root, Archive(events=json_archive.events + raw_archive.events)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_event_once_with_its_columns(both: tuple[Path, Archive]) -> None:
    root, truth = both

    outcome = run("query", "SELECT * FROM events", str(root), "--format", "json")

    assert (outcome.code, outcome.stderr) == (0, "")
    rows = outcome.documents()
    assert [list(row) for row in rows[:1]] == [[name for name, _ in EVENTS_COLUMNS]]
    assert sorted(
        (r["account"], r["log_group"], r["log_stream"], r["id"], r["message"]) for r in rows
    ) == sorted(
        (e["account"], e["logGroup"], e["logStream"], e["id"], e["message"]) for e in truth.events
    )
    by_id = {e["id"]: e for e in truth.events}
    assert all(
        datetime.fromisoformat(r["ts"]).timestamp() * 1000
        == pytest.approx(by_id[r["id"]]["timestamp"])
        for r in rows
    )


def test_the_view_has_the_documented_columns_and_types(both: tuple[Path, Archive]) -> None:
    root, _ = both

    outcome = run("query", "DESCRIBE events", str(root), "--format", "csv")

    assert [(r["column_name"], r["column_type"]) for r in _csv(outcome.stdout)] == list(
        EVENTS_COLUMNS
    )


def test_region_comes_from_the_json_partitions(both: tuple[Path, Archive]) -> None:
    root, truth = both
    sql = "SELECT region, count(*) AS n FROM events GROUP BY ALL ORDER BY region NULLS LAST"

    outcome = run("query", sql, str(root), "--format", "csv")

    raw_count = sum(1 for e in truth.events if e["logStream"] in ("stream-1", "web-1"))
    expected = Counter(e["logStream"].split("/")[0].removeprefix("web-") for e in truth.events)
    assert _csv(outcome.stdout) == [
        {"region": "eu-west-1", "n": str(expected["eu-west-1"])},
        {"region": "us-east-1", "n": str(expected["us-east-1"])},
        {"region": "", "n": str(raw_count)},
    ]


def test_a_grouped_count_by_account_and_day_matches_the_truth(both: tuple[Path, Archive]) -> None:
    root, truth = both
    sql = (
        "SELECT account, strftime(ts, '%Y-%m-%d') AS day, count(*) AS errors FROM events "
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
    sql = f"SELECT log_group, message FROM events WHERE account = '{ACCOUNT_A}' AND message LIKE 'ERROR%' LIMIT 1"

    outcome = run("query", sql, str(root))

    message = "ERROR payment failed\\n  at charge()\\n  at main()"
    assert outcome.stdout.splitlines() == [
        "log_group        message",
        "---------------  " + "-" * len(message),
        "/aws/lambda/api  " + message,
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


def test_a_damaged_json_object_fails_the_query_in_one_sentence(
    json_archive: Archive, tmp_path: Path
) -> None:
    root = json_archive.write(tmp_path)
    folder = next(path.parent for path in root.rglob("*.json.gz"))
    (folder / "damaged.json.gz").write_bytes(b"damaged")

    outcome = run("query", "SELECT count(*) FROM events", str(root))

    assert (outcome.code, outcome.stdout) == (1, "")
    assert outcome.stderr.startswith("central-logging: The query failed: ")
    assert outcome.stderr.count("\n") == 1
