"""`read` and `query` over `s3://bucket/prefix` on moto: paginated, streamed, pruned."""

from __future__ import annotations

import os
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from tests.archive.conftest import (
    ACCOUNT_A,
    ACCOUNT_B,
    BUCKET,
    DAY_1,
    DAY_2,
    PREFIX,
    S3,
    Archive,
    envelope,
    json_object,
    millis,
    raw_object,
    run,
)


@pytest.mark.parametrize("form", ["json", "raw"])
def test_an_s3_source_reads_like_the_local_folder(
    form: str, s3: S3, json_archive: Archive, raw_archive: Archive, tmp_path: Path
) -> None:
    archive = json_archive if form == "json" else raw_archive
    archive.upload(s3.client)

    remote = run("read", f"s3://{BUCKET}/{PREFIX}")
    local = run("read", str(archive.write(tmp_path)))

    assert (remote.code, remote.stderr) == (0, "")
    assert remote.stdout == local.stdout
    assert len(remote.stdout.splitlines()) == len(archive.events)


def test_listing_follows_every_page(s3: S3) -> None:
    folder = f"{PREFIX}account={ACCOUNT_A}/region=eu-west-1/year=2026/month=01/day=10/"
    for k in range(1005):
        data = json_object([envelope(ACCOUNT_A, "/g", "s", [(str(k), millis(DAY_1) + k, "m")])])
        s3.client.put_object(Bucket=BUCKET, Key=f"{folder}{k:05d}.json.gz", Body=data)

    outcome = run("read", f"s3://{BUCKET}/{PREFIX.rstrip('/')}", "--json")

    assert sorted(int(d["id"]) for d in outcome.documents()) == list(range(1005))


def test_only_the_partitions_the_filters_can_match_are_listed(
    s3: S3, json_archive: Archive
) -> None:
    json_archive.upload(s3.client)
    for day in ("2025/12/31", "2026/01/09"):
        folder = f"{PREFIX}account={ACCOUNT_A}/region=eu-west-1/year={day[:4]}/month={day[5:7]}/day={day[8:]}/"
        s3.client.put_object(Bucket=BUCKET, Key=folder + "x.json.gz", Body=b"damaged")

    outcome = run(
        "read", f"s3://{BUCKET}/{PREFIX}", "--account", ACCOUNT_A, "--since", "2026-01-11T01:00:00Z"
    )

    assert (outcome.code, outcome.stderr) == (0, "")
    assert len(outcome.stdout.splitlines()) == 2 * 11
    account = f"{PREFIX}account={ACCOUNT_A}/"
    days = [
        f"{account}region={r}/year=2026/month=01/day={d}/"
        for r in ("eu-west-1", "us-east-1")
        for d in ("10", "11")
    ]
    assert Counter(s3.listed) == Counter(
        [PREFIX, account]
        + [f"{account}region={r}/" for r in ("eu-west-1", "us-east-1")]
        + [f"{account}region={r}/year=2026/" for r in ("eu-west-1", "us-east-1")]
        + [f"{account}region={r}/year=2026/month=01/" for r in ("eu-west-1", "us-east-1")]
        + days
    )


def test_raw_partitions_are_pruned_by_day(s3: S3, raw_archive: Archive) -> None:
    raw_archive.upload(s3.client)
    s3.client.put_object(Bucket=BUCKET, Key=f"{PREFIX}2025/12/31/23/old", Body=b"damaged")
    s3.client.put_object(Bucket=BUCKET, Key=f"{PREFIX}errors/region=eu-west-1/x", Body=b"damaged")

    outcome = run("read", f"s3://{BUCKET}/{PREFIX}", "--since", "2026-01-11T02:00:00Z")

    assert (outcome.code, outcome.stderr) == (0, "")
    assert f"{PREFIX}2025/" not in s3.listed
    # The error folder is walked for diverted records; other error objects are not read.
    assert f"{PREFIX}errors/region=eu-west-1/" in s3.listed
    assert f"{PREFIX}2026/01/11/" in s3.listed
    assert len(outcome.stdout.splitlines()) == 2 * 7


def test_a_damaged_s3_object_is_named_by_its_url(s3: S3) -> None:
    good = raw_object([envelope(ACCOUNT_B, "/g", "s", [("1", millis(DAY_1), "ok")])])
    s3.client.put_object(Bucket=BUCKET, Key=f"{PREFIX}2026/01/10/05/a", Body=b"")
    s3.client.put_object(Bucket=BUCKET, Key=f"{PREFIX}2026/01/10/05/b", Body=good)

    outcome = run("read", f"s3://{BUCKET}/{PREFIX}", "--json")

    assert outcome.code == 1
    assert [d["message"] for d in outcome.documents()] == ["ok"]
    assert (
        outcome.stderr
        == f"central-logging: s3://{BUCKET}/{PREFIX}2026/01/10/05/a is empty; skipped.\n"
    )


@pytest.mark.parametrize("command", [["read"], ["query", "SELECT 1"]])
def test_a_missing_bucket_is_a_usage_error(command: list[str], s3: S3, tmp_path: Path) -> None:
    cache = ["--cache-dir", str(tmp_path)] if command[0] == "query" else []

    outcome = run(*command, "s3://no-such-bucket/logs/", *cache)

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        2,
        "",
        "central-logging: The bucket of s3://no-such-bucket/logs/ does not exist.\n",
    )


@pytest.mark.parametrize("command", [["read"], ["query", "SELECT count(*) AS n FROM events"]])
def test_a_prefix_without_objects_says_so(
    command: list[str], s3: S3, json_archive: Archive, tmp_path: Path
) -> None:
    json_archive.upload(s3.client)
    cache = ["--cache-dir", str(tmp_path)] if command[0] == "query" else []

    mistyped = run(*command, f"s3://{BUCKET}/CentralizedAccountLog/", *cache)
    too_early = run(*command, f"s3://{BUCKET}/{PREFIX}", "--until", "2025-06-01", *cache)

    assert (mistyped.code, mistyped.stderr) == (
        0,
        f"central-logging: s3://{BUCKET}/CentralizedAccountLog/ holds no objects.\n",
    )
    assert (too_early.code, too_early.stderr) == (
        0,
        f"central-logging: s3://{BUCKET}/{PREFIX} holds no objects in the partitions --account, "
        "--region, --since and --until select.\n",
    )


def test_a_cache_dir_that_is_a_file_is_a_usage_error(s3: S3, tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("not a folder")

    outcome = run(
        "query", "SELECT 1", f"s3://{BUCKET}/{PREFIX}", "--cache-dir", str(tmp_path / "cache")
    )

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        2,
        "",
        f"central-logging: The cache folder {str(tmp_path / 'cache')!r} is a file; give "
        "--cache-dir a folder.\n",
    )


def test_query_copies_only_the_partitions_that_account_and_time_can_match(
    s3: S3, json_archive: Archive, tmp_path: Path
) -> None:
    json_archive.upload(s3.client)
    sql = "SELECT count(*) AS n, min(time) AS first FROM events"
    since, until = DAY_2 + timedelta(hours=3), DAY_2 + timedelta(hours=4, minutes=30)
    window = ["--since", since.isoformat(), "--until", until.isoformat()]

    outcome = run(
        "query", sql, f"s3://{BUCKET}/{PREFIX}", "--account", ACCOUNT_A, *window,
        "--cache-dir", str(tmp_path), "--format", "json",
    )  # fmt: skip

    day_2 = f"{DAY_2:year=%Y/month=%m/day=%d}/"
    assert sorted(s3.got) == sorted(
        PREFIX + key
        for key in json_archive.objects
        if key.startswith(f"account={ACCOUNT_A}/") and day_2 in key
    )
    kept = [
        e
        for e in json_archive.events
        if e["account"] == ACCOUNT_A and millis(since) <= e["timestamp"] < millis(until)
    ]
    assert (outcome.code, outcome.stderr) == (0, "")
    assert outcome.documents()[0]["n"] == len(kept) > 0


def test_the_view_holds_only_what_the_filters_keep_whatever_the_cache_holds(
    s3: S3, json_archive: Archive, raw_archive: Archive, tmp_path: Path
) -> None:
    json_archive.upload(s3.client)
    raw_archive.upload(s3.client, prefix=PREFIX + "raw/")
    source = ["--cache-dir", str(tmp_path), "--format", "csv"]
    sql = "SELECT account, count(*) AS n FROM events GROUP BY account"
    run("query", sql, f"s3://{BUCKET}/{PREFIX}", *source)
    since = DAY_2 + timedelta(hours=4)

    outcome = run(
        "query", sql, f"s3://{BUCKET}/{PREFIX}", "--account", ACCOUNT_B,
        "--since", since.isoformat(), *source,
    )  # fmt: skip

    events = json_archive.events + raw_archive.events
    kept = [e for e in events if e["account"] == ACCOUNT_B and e["timestamp"] >= millis(since)]
    assert outcome.stdout == f"account,n\n{ACCOUNT_B},{len(kept)}\n"


@pytest.mark.parametrize("form", ["json", "csv"])
def test_query_shows_the_copy_on_a_terminal_only(
    form: str, s3: S3, json_archive: Archive, tmp_path: Path
) -> None:
    json_archive.upload(s3.client)
    argv = ["SELECT count(*) AS n FROM events", f"s3://{BUCKET}/{PREFIX}", "--format", form]

    terminal = run("query", *argv, "--cache-dir", str(tmp_path / "a"), terminal=True)
    again = run("query", *argv, "--cache-dir", str(tmp_path / "a"), terminal=True)
    piped = run("query", *argv, "--cache-dir", str(tmp_path / "b"))

    count = len(json_archive.objects)
    size = sum(map(len, json_archive.objects.values())) / 1e6
    assert terminal.stderr.endswith(
        f"\r\x1b[KCopying s3://{BUCKET}/{PREFIX}: {count} object(s) copied ({size:.1f} MB), "
        "0 already in the cache\n"
    )
    assert again.stderr.endswith(f"0 object(s) copied (0.0 MB), {count} already in the cache\n")
    assert terminal.stdout == again.stdout == piped.stdout
    assert piped.stderr == ""


def test_query_copies_an_s3_source_into_the_cache_once_and_skips_unfinished_copies(
    s3: S3, json_archive: Archive, raw_archive: Archive, tmp_path: Path
) -> None:
    json_archive.upload(s3.client)
    raw_archive.upload(s3.client)
    cache = tmp_path / "cache"
    sql = "SELECT account, count(*) AS n FROM events GROUP BY account ORDER BY account"

    first = run(
        "query", sql, f"s3://{BUCKET}/{PREFIX}", "--cache-dir", str(cache), "--format", "csv"
    )
    s3.client.delete_object(Bucket=BUCKET, Key=PREFIX + next(iter(raw_archive.objects)))
    (cache / BUCKET / PREFIX / "2026/01/10/05/interrupted.partial").write_bytes(b"\x1f\x8b")
    second = run(
        "query", sql, f"s3://{BUCKET}/{PREFIX}", "--cache-dir", str(cache), "--format", "csv"
    )

    counts = Counter(e["account"] for e in json_archive.events + raw_archive.events)
    expected = "account,n\n" + "".join(f"{a},{n}\n" for a, n in sorted(counts.items()))
    assert (first.code, first.stderr, first.stdout) == (0, "", expected)
    assert second.stdout == expected
    assert (cache / BUCKET / PREFIX / next(iter(json_archive.objects))).is_file()


@pytest.mark.parametrize("command", ["read", "query"])
def test_an_unknown_profile_is_a_usage_error(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    argv = ["SELECT 1"] if command == "query" else []

    outcome = run(command, *argv, f"s3://{BUCKET}/{PREFIX}", "--profile", "nope")

    assert (outcome.code, outcome.stderr) == (
        2,
        "central-logging: The AWS profile 'nope' does not exist.\n",
    )
