"""`central-logging read` over local folders, as a user runs it."""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from central_logging import archive as archive_module
from tests.archive.conftest import (
    ACCOUNT_A,
    ACCOUNT_B,
    DAY_1,
    DAY_2,
    Archive,
    envelope,
    json_object,
    millis,
    raw_object,
    run,
)


def _ids(documents: list[dict[str, Any]]) -> Counter[str]:
    return Counter(document["id"] for document in documents)


@pytest.fixture(params=["json", "raw"])
def archive(request: pytest.FixtureRequest, json_archive: Archive, raw_archive: Archive) -> Archive:
    return json_archive if request.param == "json" else raw_archive


def test_every_data_event_once_as_the_documented_json(archive: Archive, tmp_path: Path) -> None:
    outcome = run("read", str(archive.write(tmp_path)), "--json")

    assert (outcome.code, outcome.stderr) == (0, "")
    assert sorted(outcome.documents(), key=lambda d: d["id"]) == sorted(
        archive.events, key=lambda d: d["id"]
    )
    assert all(
        list(document)
        == ["account", "region", "logGroup", "logStream", "id", "timestamp", "time", "message"]
        for document in outcome.documents()
    )
    assert "CONTROL MESSAGE" not in outcome.stdout


def test_human_output_is_one_line_per_event(json_archive: Archive, tmp_path: Path) -> None:
    outcome = run("read", str(json_archive.write(tmp_path)))

    lines = outcome.stdout.splitlines()
    assert len(lines) == len(json_archive.events)
    assert (
        "2026-01-10T03:00:04.000Z 011111111111 eu-west-1 /aws/lambda/api eu-west-1/[$LATEST]a "
        "ERROR payment failed\\n  at charge()\\n  at main()"
    ) in lines
    assert any(line.endswith(" utilisateur créé: Zoë 🚀") for line in lines)


def test_events_are_in_timestamp_order_per_stream(archive: Archive, tmp_path: Path) -> None:
    documents = run("read", str(archive.write(tmp_path)), "--json").documents()

    streams: dict[tuple[str, str, str], list[int]] = {}
    for document in documents:
        key = (document["account"], document["logGroup"], document["logStream"])
        streams.setdefault(key, []).append(document["timestamp"])
    assert all(times == sorted(times) for times in streams.values())
    written = [e["timestamp"] for e in archive.events if e["logGroup"] == "/app/web"]
    assert written != sorted(written), "the archive holds events out of order"


@pytest.mark.parametrize(
    ("flags", "keep"),
    [
        (["--account", ACCOUNT_B], lambda e: e["account"] == ACCOUNT_B),
        (["--log-group", "/app/web"], lambda e: e["logGroup"] == "/app/web"),
        (["--log-group", "/app"], lambda e: False),
        (["--grep", "Zoë"], lambda e: "Zoë" in e["message"]),
        (["--grep", "at charge()\n"], lambda e: "at charge()\n" in e["message"]),
        (["--since", "2026-01-11T00:00:00Z"], lambda e: e["timestamp"] >= millis(DAY_2)),
        (["--until", "2026-01-11"], lambda e: e["timestamp"] < millis(DAY_2)),
        (
            # since inclusive, until exclusive, offsets honoured
            ["--since", "2026-01-10T05:00:02+01:00", "--until", "2026-01-10T06:00:02+01:00"],
            lambda e: (
                millis(DAY_1 + timedelta(hours=4, seconds=2))
                <= e["timestamp"]
                < millis(DAY_1 + timedelta(hours=5, seconds=2))
            ),
        ),
        (
            [
                "--account",
                ACCOUNT_A,
                "--log-group",
                "/aws/lambda/api",
                "--grep",
                "ERROR",
                "--since",
                "2026-01-11",
            ],
            lambda e: (
                e["account"] == ACCOUNT_A
                and e["logGroup"] == "/aws/lambda/api"
                and "ERROR" in e["message"]
                and e["timestamp"] >= millis(DAY_2)
            ),
        ),
    ],
)
def test_filters_keep_exactly_the_matching_events(
    archive: Archive, tmp_path: Path, flags: list[str], keep: Any
) -> None:
    outcome = run("read", str(archive.write(tmp_path)), "--json", *flags)

    expected = [event for event in archive.events if keep(event)]
    assert outcome.code == 0
    assert _ids(outcome.documents()) == _ids(expected)
    assert expected or flags == ["--log-group", "/app"]


def test_durations_count_back_from_now(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    recent = [(f"r{k}", millis(now - timedelta(minutes=k * 20 + 10)), f"m{k}") for k in range(8)]
    data = raw_object([envelope(ACCOUNT_A, "/g", "s", recent)])
    (tmp_path / "object").write_bytes(data)

    outcome = run("read", str(tmp_path), "--json", "--since", "1h", "--until", "15m")

    assert [d["id"] for d in outcome.documents()] == ["r2", "r1"]


def test_damaged_objects_are_named_and_the_rest_is_read(
    json_archive: Archive, tmp_path: Path
) -> None:
    root = json_archive.write(tmp_path)
    folder = root / f"account={ACCOUNT_A}/region=eu-west-1/year=2026/month=01/day=10"
    (folder / "empty.json.gz").write_bytes(b"")
    (folder / "corrupt.json.gz").write_bytes(gzip.compress(b"")[:10] + b"\xff" * 20)
    (folder / "zz-notjson.json.gz").write_bytes(gzip.compress(b"<html>AccessDenied</html>\n"))

    outcome = run("read", str(root), "--json")

    assert outcome.code == 1
    assert _ids(outcome.documents()) == _ids(json_archive.events)
    assert outcome.stderr.splitlines() == [
        f"central-logging: {folder / 'corrupt.json.gz'} is not a valid gzip stream (Error -3 while decompressing data: invalid block type); skipped.",
        f"central-logging: {folder / 'empty.json.gz'} is empty; skipped.",
        f"central-logging: {folder / 'zz-notjson.json.gz'} holds text that is not JSON (Expecting value); skipped.",
    ]


def test_firehose_error_records_are_not_read(raw_archive: Archive, tmp_path: Path) -> None:
    root = raw_archive.write(tmp_path)
    errors = root / "errors/region=eu-west-1/processing-failed/year=2026/month=01/day=10"
    errors.mkdir(parents=True)
    (errors / "failed").write_bytes(b'{"attemptsMade":4,"rawData":"H4sI"}\n')

    outcome = run("read", str(root), "--json")

    assert (outcome.code, outcome.stderr) == (0, "")
    assert _ids(outcome.documents()) == _ids(raw_archive.events)


@pytest.mark.parametrize("form", ["json", "raw"])
def test_partitions_the_filters_exclude_are_not_opened(
    form: str, json_archive: Archive, raw_archive: Archive, tmp_path: Path
) -> None:
    archive = json_archive if form == "json" else raw_archive
    root = archive.write(tmp_path)
    # Damaged objects where no kept event can be: reading them would exit 1.
    if form == "json":
        skipped = [
            f"account={ACCOUNT_B}/region=eu-west-1/year=2026/month=01/day=11",
            f"account={ACCOUNT_A}/region=us-east-1/year=2026/month=01/day=09",
            f"account={ACCOUNT_A}/region=us-east-1/year=2025/month=12/day=31",
        ]
    else:
        skipped = ["2026/01/09/23", "2025/12/31/23"]
    for folder in skipped:
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "damaged.json.gz").write_bytes(b"damaged")

    outcome = run(
        "read", str(root), "--json", "--account", ACCOUNT_A, "--since", "2026-01-10T02:00:00Z"
    )

    assert (outcome.code, outcome.stderr) == (0, "")
    assert _ids(outcome.documents()) == _ids(
        [
            e
            for e in archive.events
            if e["account"] == ACCOUNT_A and e["timestamp"] >= millis(DAY_1 + timedelta(hours=2))
        ]
    )


def test_a_partition_that_late_events_can_reach_is_still_read(tmp_path: Path) -> None:
    # An event stamped on the 10th that arrived on the 20th (CloudWatch accepts 14 days late).
    late = envelope(ACCOUNT_A, "/g", "s", [("late", millis(DAY_1), "late")])
    folder = tmp_path / f"account={ACCOUNT_A}/region=eu-west-1/year=2026/month=01/day=20"
    folder.mkdir(parents=True)
    (folder / "late.json.gz").write_bytes(json_object([late]))

    outcome = run("read", str(tmp_path), "--json", "--until", "2026-01-11")

    assert [d["id"] for d in outcome.documents()] == ["late"]


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (
            ["--since", "yesterday"],
            "central-logging: 'yesterday' is neither an ISO 8601 time nor a duration such as 15m, 2h or 7d.\n",
        ),
        (
            ["--until", "3x"],
            "central-logging: '3x' is neither an ISO 8601 time nor a duration such as 15m, 2h or 7d.\n",
        ),
    ],
)
def test_a_bad_time_is_a_usage_error(tmp_path: Path, argv: list[str], sentence: str) -> None:
    outcome = run("read", str(tmp_path), *argv)

    assert (outcome.code, outcome.stdout, outcome.stderr) == (2, "", sentence)


@pytest.mark.parametrize(
    ("source", "sentence"),
    [
        (
            "/nonexistent/archive",
            "central-logging: The source '/nonexistent/archive' is neither an s3:// URL nor a local folder.\n",
        ),
        ("s3://", "central-logging: The source 's3://' names no bucket; use s3://bucket/prefix.\n"),
    ],
)
def test_a_bad_source_is_a_usage_error(source: str, sentence: str) -> None:
    outcome = run("read", source)

    assert (outcome.code, outcome.stdout, outcome.stderr) == (2, "", sentence)


def test_an_object_larger_than_a_run_is_sorted_run_by_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = envelope(ACCOUNT_A, "/g", "s", [("c", 3, "m"), ("d", 4, "m")])
    early = envelope(ACCOUNT_A, "/g", "s", [("b", 2, "m"), ("a", 1, "m")])
    (tmp_path / "object").write_bytes(raw_object([late, early]))

    whole = run("read", str(tmp_path), "--json")
    monkeypatch.setattr("central_logging.archive.RUN_BYTES", 1)
    runs = run("read", str(tmp_path), "--json")

    assert [d["id"] for d in whole.documents()] == ["a", "b", "c", "d"]
    assert [d["id"] for d in runs.documents()] == ["c", "d", "a", "b"]


@pytest.mark.parametrize("as_json", [True, False])
def test_parallel_decoding_prints_exactly_what_one_process_prints(
    json_archive: Archive, tmp_path: Path, as_json: bool
) -> None:
    root = json_archive.write(tmp_path)
    folder = root / f"account={ACCOUNT_A}/region=eu-west-1/year=2026/month=01/day=10"
    (folder / "corrupt.json.gz").write_bytes(gzip.compress(b"")[:10] + b"\xff" * 20)
    now = datetime.now(UTC)
    filters = archive_module.Filters()
    render = archive_module.json_lines if as_json else archive_module.human_lines

    one: list[str] = []
    sequential = "".join(
        archive_module.read_objects(
            archive_module.list_local(str(root), filters, now), filters, render, one.append
        )
    )
    two: list[str] = []
    parallel = "".join(
        archive_module.read_local_in_parallel(
            archive_module.list_local(str(root), filters, now),
            filters,
            as_json,
            two.append,
            workers=2,
        )
    )

    assert parallel == sequential
    assert sequential.count("\n") == len(json_archive.events)
    assert (
        two
        == one
        == [
            f"{folder / 'corrupt.json.gz'} is not a valid gzip stream (Error -3 while decompressing "
            "data: invalid block type); skipped."
        ]
    )


@pytest.mark.parametrize("command", [["read"], ["query", "SELECT 1"]])
def test_since_after_until_is_a_usage_error(command: list[str], tmp_path: Path) -> None:
    outcome = run(*command, str(tmp_path), "--since", "1h", "--until", "2026-01-11")

    assert (outcome.code, outcome.stdout) == (2, "")
    assert outcome.stderr.startswith("central-logging: --since 1h (")
    assert outcome.stderr.endswith(
        ") is not before --until 2026-01-11 (2026-01-11T00:00:00+00:00); no event can match.\n"
    )


@pytest.mark.parametrize("command", [["read"], ["query", "SELECT 1"]])
def test_an_empty_local_folder_says_so(command: list[str], tmp_path: Path) -> None:
    outcome = run(*command, str(tmp_path))

    assert (outcome.code, outcome.stderr) == (
        0,
        f"central-logging: {tmp_path} holds no objects.\n",
    )


def test_the_shared_heartbeat_partition_reads_as_each_owners_events(tmp_path: Path) -> None:
    """Heartbeats of every account share `account=heartbeat/`; each event is still its
    owner's, and `--account` leaves the shared partition out."""
    moment = datetime(2026, 1, 10, 3, tzinfo=UTC)
    beats = [
        envelope(a, "/central-logging/heartbeat", "heartbeat", [(f"h{a}", millis(moment), "{}")])
        for a in ("011111111111", "022222222222")
    ]
    result = Archive()
    folder = "account=heartbeat/region=eu-west-1/year=2026/month=01/day=10/"
    result.add(
        folder + "central-logging-1-2026-01-10-03-05-00-x.json.gz",
        json_object(beats),
        beats,
        "eu-west-1",
    )

    every = run("read", str(result.write(tmp_path)), "--json")
    one = run("read", str(tmp_path), "--json", "--account", "011111111111")

    assert (every.code, every.stderr) == (0, "")
    assert sorted((d["account"], d["region"]) for d in every.documents()) == [
        ("011111111111", "eu-west-1"),
        ("022222222222", "eu-west-1"),
    ]
    assert (one.code, one.documents()) == (0, [])
