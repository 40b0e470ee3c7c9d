"""`central-logging history` against moto: the boundary, the layout, exactly once (rerun and a
run killed half way), --verify, --dry-run, --since, bad input; `read` and `query` see it."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.logs.models import LogStream

from central_logging import history, sweep
from central_logging.cli import main
from components import policies
from handlers import core
from tests.cli.conftest import OTHER_ACCOUNTS, console
from tests.handlers.harness import (
    DESTINATION_ARN,
    FILTER_NAME,
    MEMBER_ACCOUNT,
    REGION,
    FakeAws,
    FakeTime,
    admin_session,
    rendered_member_stack,
    session_for,
    throttle,
    with_resources_widened,
    without_action,
)
from tests.infra.harness import run_program

BUCKET = "central-archive"
PREFIX = "CentralizedAccountsLog/"
ARCHIVE = f"s3://{BUCKET}/{PREFIX}"
GROUP = "/app/orders"
# What Firehose delivered live, so that the bucket is recognisably the archive.
LIVE_KEY = (
    f"{PREFIX}account={MEMBER_ACCOUNT}/region={REGION}/year=2026/month=01/day=01/live.json.gz"
)
HISTORY = ["history", ARCHIVE, "--destination-arn", DESTINATION_ARN]


@pytest.fixture
def archive(aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The archive bucket, FilterLogEvents paced on fake time, and live events of subscribed
    groups dropped (moto cannot send them through a cross-account destination; the live
    pipeline is not what these tests are about)."""
    monkeypatch.setattr(LogStream, "_send_log_events", lambda self, **_: None)
    monkeypatch.setattr(
        history,
        "limiters",
        lambda: {
            "FilterLogEvents": core.RateLimiter(5, clock=(t := FakeTime()).clock, sleep=t.sleep),
            **core.quota_limiters(clock=t.clock, sleep=t.sleep),
        },
    )
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    control = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logEvents": []}
    s3.put_object(Bucket=BUCKET, Key=LIVE_KEY, Body=gzip.compress(json.dumps(control).encode()))
    return s3


def put_events(aws: FakeAws, stream: str, stamps: list[datetime], text: str) -> None:
    with contextlib.suppress(aws.logs.exceptions.ResourceAlreadyExistsException):
        aws.logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    aws.logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[
            {"timestamp": int(s.timestamp() * 1000), "message": f"{text} {i}"}
            for i, s in enumerate(stamps)
        ],
    )
    time.sleep(0.005)  # the next step is ingested (or created) a few ms later


def before_and_after(aws: FakeAws) -> tuple[list[str], list[str]]:
    """Events of two streams over three days, then the subscription, then live events;
    returns the messages before and after it."""
    now = datetime.now(UTC)
    aws.create_log_groups(GROUP)
    days = [now - timedelta(days=2), now - timedelta(days=1, hours=1), now - timedelta(hours=1)]
    put_events(aws, "web-1", days, "old web-1")
    put_events(aws, "web-2", days[1:], "old web-2")
    aws.put_filter(GROUP, FILTER_NAME, DESTINATION_ARN)
    time.sleep(0.005)
    put_events(aws, "web-1", [now], "live web-1")
    before = [f"old web-1 {i}" for i in range(3)] + [f"old web-2 {i}" for i in range(2)]
    return before, ["live web-1 0"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def copy(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *HISTORY, *extra, "--json")
    assert err == ""
    return code, json.loads(out)


def archived(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The events `read` finds in the archive."""
    code, out, _ = run(capsys, "read", ARCHIVE, "--json")
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def history_keys(s3: Any) -> list[str]:
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=PREFIX).get("Versions", [])
    return sorted(v["Key"] for v in versions if "/history-" in v["Key"])


def test_copies_what_came_before_the_subscription_in_the_archive_layout(
    aws: FakeAws, archive: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before, _ = before_and_after(aws)

    code, report = copy(capsys)

    assert code == 0
    (group,) = report["logGroups"]
    created = aws.filter(GROUP, FILTER_NAME)["creationTime"]
    assert group["outcome"] == "copied"
    assert group["boundary"] == history.format_millis(created)
    assert group["events"] == len(before)
    assert group["firstTimestamp"] < group["lastTimestamp"]
    # One object per event day (both streams in it), in the day partition of the events.
    keys = history_keys(archive)
    assert len(keys) == 3
    for key in keys:
        assert key.startswith(f"{PREFIX}account={MEMBER_ACCOUNT}/region={REGION}/year=")
        assert key.rsplit("/", 1)[1].startswith("history-") and key.endswith(".json.gz")
    body = archive.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read()
    envelope = json.loads(gzip.decompress(body).splitlines()[0])
    assert envelope["messageType"] == "DATA_MESSAGE"
    assert envelope["owner"] == MEMBER_ACCOUNT
    assert envelope["logGroup"] == GROUP
    assert envelope["subscriptionFilters"] == ["history"]
    assert set(envelope["logEvents"][0]) == {"id", "timestamp", "message"}
    # `read` sees history, and not the live event (the subscription delivers that one).
    assert sorted(e["message"] for e in archived(capsys)) == sorted(before)


def test_query_sees_history_objects(
    aws: FakeAws,
    archive: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before_and_after(aws)
    copy(capsys)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    sql = "SELECT logStream, count(*) AS n FROM events GROUP BY logStream ORDER BY 1"
    code, out, _ = run(capsys, "query", sql, ARCHIVE, "--format", "json")

    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"logStream": "web-1", "n": 3},
        {"logStream": "web-2", "n": 2},
    ]


def test_a_rerun_writes_nothing_new(
    aws: FakeAws, archive: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before_and_after(aws)
    copy(capsys)
    versions = history_keys(archive)

    code, report = copy(capsys)

    assert code == 0
    assert report["totals"]["objectsWritten"] == 0
    assert report["logGroups"][0]["objectsAlreadyThere"] == 3
    assert history_keys(archive) == versions  # not even a new version


class Killed(BaseException):
    """The process dies: nothing after this point runs."""


def test_a_run_killed_half_way_and_run_again_leaves_each_event_once(
    aws: FakeAws, archive: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before, _ = before_and_after(aws)
    put = history.Archive.put
    puts = 0

    def dies_after_two(self: history.Archive, key: str, body: bytes) -> bool:
        nonlocal puts
        puts += 1
        if puts > 2:
            raise Killed
        return put(self, key, body)

    monkeypatch.setattr(history.Archive, "put", dies_after_two)
    with pytest.raises(Killed):
        main([*HISTORY, "--json"])
    capsys.readouterr()
    assert len(history_keys(archive)) == 2
    monkeypatch.setattr(history.Archive, "put", put)

    code, report = copy(capsys)

    assert code == 0
    assert report["logGroups"][0]["objectsWritten"] == 1
    events = archived(capsys)
    assert Counter(e["id"] for e in events).most_common(1)[0][1] == 1
    assert sorted(e["message"] for e in events) == sorted(before)


def test_a_group_not_subscribed_is_copied_to_a_watermark_and_later_only_the_rest(
    aws: FakeAws, archive: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "SETTLE", timedelta(0))
    now = datetime.now(UTC)
    aws.create_log_groups(GROUP)
    put_events(aws, "web-1", [now - timedelta(days=1), now - timedelta(minutes=5)], "early")

    code, report = copy(capsys)

    assert code == 0
    (group,) = report["logGroups"]
    assert group["outcome"] == "not-subscribed"
    assert group["watermark"] is not None and group["boundary"] is None
    assert group["events"] == 2
    time.sleep(0.005)
    put_events(aws, "web-1", [now - timedelta(minutes=4)], "later")
    aws.put_filter(GROUP, FILTER_NAME, DESTINATION_ARN)
    time.sleep(0.005)
    put_events(aws, "web-1", [now], "live")

    code, report = copy(capsys)

    assert report["logGroups"][0]["outcome"] == "copied"
    assert report["logGroups"][0]["events"] == 1
    messages = sorted(e["message"] for e in archived(capsys))
    assert messages == ["early 0", "early 1", "later 0"]


def test_verify_compares_event_ids_with_the_source(
    aws: FakeAws, archive: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before, _ = before_and_after(aws)
    copy(capsys)

    code, report = copy(capsys, "--verify")

    assert code == 0
    (group,) = report["logGroups"]
    assert group["outcome"] == "verified"
    assert group["detail"] == f"each of the {len(before)} events is in the archive once"
    # An object lost (say, deleted by someone with rights on the bucket) is found missing.
    archive.delete_object(Bucket=BUCKET, Key=history_keys(archive)[0])

    code, report = copy(capsys, "--verify")

    assert code == 1
    assert report["logGroups"][0]["outcome"] == "mismatch"
    assert " missing, 0 duplicated, 0 not in the source" in report["logGroups"][0]["detail"]
    assert not report["logGroups"][0]["detail"].startswith(
        f"{len(before)} events in the source, 0 "
    )


def test_dry_run_estimates_from_stored_bytes_and_writes_nothing(
    aws: FakeAws, archive: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before_and_after(aws)
    stored = aws.logs.describe_log_groups()["logGroups"][0]["storedBytes"]

    code, report = copy(capsys, "--dry-run")

    assert code == 0
    (group,) = report["logGroups"]
    assert group["outcome"] == "copied"
    assert group["bytes"] == stored
    assert group["events"] == stored // history.ESTIMATED_EVENT_BYTES
    assert report["totals"]["estimatedSeconds"] == 1
    assert history_keys(archive) == []


def test_since_limits_how_far_back_by_whole_days(
    aws: FakeAws, archive: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before_and_after(aws)

    code, report = copy(capsys, "--since", "1d")

    assert code == 0
    # Events of yesterday (from its start) and today: the three-days-old one stays behind.
    assert report["logGroups"][0]["events"] == 4
    assert "old web-1 0" not in [e["message"] for e in archived(capsys)]


def test_throttling_is_retried(
    aws: FakeAws, archive: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before, _ = before_and_after(aws)
    calls = throttle(monkeypatch, "filter_log_events", 2)

    code, report = copy(capsys)

    assert code == 0
    assert report["logGroups"][0]["events"] == len(before)
    assert calls() == 3


def test_excluded_groups_are_not_read(
    aws: FakeAws, archive: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before_and_after(aws)

    code, report = copy(capsys, "--exclude", "/app/*")

    assert code == 0
    assert report["logGroups"][0]["outcome"] == "excluded"
    assert history_keys(archive) == []


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (
            [*HISTORY, "--region", "mars-north-1"],
            "--region mars-north-1 is not an AWS region CloudWatch Logs serves.",
        ),
        (
            [*HISTORY, "--since", "2999-01-01"],
            "--since 2999-01-01 is in the future; history ends now.",
        ),
        (
            [*HISTORY, "--dry-run", "--verify"],
            "--dry-run and --verify exclude each other; give one.",
        ),
        (
            [*HISTORY, "--writer-role-arn", "writer"],
            "--writer-role-arn must be an IAM role ARN such as "
            "arn:aws:iam::111111111111:role/NAME; got 'writer'.",
        ),
        (
            ["history", "/tmp/archive", "--destination-arn", DESTINATION_ARN],
            "ARCHIVE must be s3://bucket/prefix; got '/tmp/archive'.",
        ),
        (
            ["history", "s3://no-such-bucket/x/", "--destination-arn", DESTINATION_ARN],
            "The bucket of s3://no-such-bucket/x/ does not exist.",
        ),
        (
            ["history", f"s3://{BUCKET}/elsewhere/", "--destination-arn", DESTINATION_ARN],
            f"s3://{BUCKET}/elsewhere/ holds no account= partitions, so it is not a "
            "central-logging archive in the json format (or nothing was delivered to it yet).",
        ),
        (
            ["history", f"s3://{BUCKET}/raw/", "--destination-arn", DESTINATION_ARN],
            f"s3://{BUCKET}/raw/ holds the raw format (YYYY/MM/DD/HH folders); history is "
            "written only into an archive in the json format.",
        ),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(
    aws: FakeAws,
    archive: Any,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    sentence: str,
) -> None:
    archive.put_object(Bucket=BUCKET, Key="raw/2026/01/01/00/records.gz", Body=b"")
    archive.put_object(Bucket=BUCKET, Key="elsewhere/notes.txt", Body=b"")

    code, out, err = run(capsys, *argv)

    assert (code, out, err) == (2, "", f"central-logging: {sentence}\n")


def test_progress_shows_events_bytes_and_eta() -> None:
    screen = io.StringIO()
    progress = history.Progress(screen)
    progress.listed(groups=2, stored_bytes=4_000_000)
    progress.add(events=1000, size=2_000_000)
    progress.group_done()
    progress.finish()

    line = screen.getvalue().rsplit("\r\x1b[K", 1)[1]
    assert line.startswith("1/2 log groups, 1000 events, 2.0 MB, ")
    assert "ETA " in line and line.endswith("(at most)\n")


def test_names_are_deterministic_in_their_content() -> None:
    day = datetime(2026, 1, 2).date()
    chunk = history.Chunk(MEMBER_ACCOUNT, REGION, GROUP, day)
    other = history.Chunk(MEMBER_ACCOUNT, REGION, "/app/other", day)
    events: list[Any] = [
        {"eventId": str(i), "timestamp": i, "message": "m", "logStreamName": f"s{i % 3}"}
        for i in range(25_000)
    ]

    assert chunk.key(PREFIX, 0, 10) == chunk.key(PREFIX, 0, 10)
    assert chunk.key(PREFIX, 0, 10) != other.key(PREFIX, 0, 10)
    assert chunk.key(PREFIX, 0, 10) != chunk.key(PREFIX, 10, 20)
    body = history.encode(chunk, events)
    assert history.encode(chunk, events) == body
    # Envelopes of one stream each, of at most 10,000 events, every event once.
    envelopes = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    assert all(len(e["logEvents"]) <= 10_000 for e in envelopes)
    for envelope in envelopes:
        stream = int(envelope["logStream"].removeprefix("s"))
        assert {int(event["id"]) % 3 for event in envelope["logEvents"]} == {stream}
    assert sorted(int(ev["id"]) for e in envelopes for ev in e["logEvents"]) == list(range(25_000))


def history_process(endpoint: str) -> subprocess.Popen[str]:
    return console(endpoint, *HISTORY, "--json")


def test_ctrl_c_prints_the_report_so_far_exits_130_and_a_rerun_leaves_each_event_once(
    aws: FakeAws, archive: Any, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    groups = [f"/app/{index:02}" for index in range(20)]
    for group in groups:
        aws.create_log_groups(group)
        aws.logs.create_log_stream(logGroupName=group, logStreamName="web")
        aws.logs.put_log_events(
            logGroupName=group,
            logStreamName="web",
            logEvents=[
                {"timestamp": int((now - timedelta(days=d)).timestamp() * 1000), "message": group}
                for d in (2, 1)
            ],
        )
    time.sleep(0.005)
    for group in groups:
        aws.put_filter(group, FILTER_NAME, DESTINATION_ARN)
    first = history_process(endpoint)
    deadline = time.monotonic() + 30
    # At 5 FilterLogEvents a second, 20 groups take 4 s: interrupt after the first few.
    while len(history_keys(archive)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=10)

    assert first.returncode == 130
    report = json.loads(out)
    assert 0 < len(report["logGroups"]) < len(groups)
    assert err.splitlines() == [
        "central-logging: interrupted; the report covers the log groups done so far; every "
        "object written is whole; run the same command again to finish."
    ]

    second = history_process(endpoint)
    out, err = second.communicate(timeout=60)

    assert (second.returncode, err) == (0, "")
    assert {g["logGroup"] for g in json.loads(out)["logGroups"]} == set(groups)
    events = archived(capsys)
    assert Counter(e["id"] for e in events).most_common(1)[0][1] == 1
    assert Counter(e["logGroup"] for e in events) == dict.fromkeys(groups, 2)


def role_session(name: str, policy: dict[str, Any]) -> boto3.session.Session:
    """Credentials of a role holding `policy` (resources widened where moto matches only
    "*": logs actions)."""
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MEMBER_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=name, PolicyName="rendered", PolicyDocument=json.dumps(policy))
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{MEMBER_ACCOUNT}:role/{name}", RoleSessionName=name
    )["Credentials"]
    return session_for(credentials)


@pytest.mark.parametrize("writer_grants_put", [True, False])
def test_the_rendered_reader_and_writer_roles_suffice_under_iam_enforcement(
    aws: FakeAws, archive: Any, writer_grants_put: bool
) -> None:
    before, _ = before_and_after(aws)
    reader_policy = (
        rendered_member_stack()
        .one("aws:iam/rolePolicy:RolePolicy", "central-history-reader")
        .policy("policy")
    )
    config = {
        "role": "logging",
        "memberAccounts": [MEMBER_ACCOUNT],
        "historyWriterPrincipals": [MEMBER_ACCOUNT],
    }
    writer_policy = (
        run_program(config, region=REGION, account_id=MEMBER_ACCOUNT)
        .one("aws:iam/rolePolicy:RolePolicy", "central-history-writer")
        .policy("policy")
    )
    if not writer_grants_put:
        writer_policy = without_action(writer_policy, "s3:PutObject")
    reader = role_session("history-reader", with_resources_widened(reader_policy))
    writer = role_session("history-writer", writer_policy)
    # The operator's own rights on the archive: listing and reading, not ours to render.
    everything = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    operator = role_session("operator", {"Version": "2012-10-17", "Statement": [everything]})
    store = history.Archive(operator.client("s3"), writer.client("s3"), BUCKET, PREFIX)
    progress = history.Progress(None)
    job = history.Job(store, 0, 0, verify=False, progress=progress, stop=threading.Event())
    reports: list[history.GroupReport] = []
    settings = core.Settings(DESTINATION_ARN, None, FILTER_NAME)

    with aws.iam.enforced():
        history.copy_account_region(reader, MEMBER_ACCOUNT, REGION, settings, job, reports.append)

    [report] = reports
    if writer_grants_put:
        assert (report.outcome, report.events) == ("copied", len(before))
        assert {"logs:FilterLogEvents", "s3:PutObject"} <= set(aws.iam.actions)
    else:
        assert (report.outcome, report.events) == ("failed", 0)
        assert report.detail.startswith("AccessDenied")


def test_accounts_are_read_through_the_role_assumed_in_each(
    aws: FakeAws, archive: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    other = OTHER_ACCOUNTS[0]
    logs = admin_session(other).client("logs")
    now = datetime.now(UTC)
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="web")
    stamp = int((now - timedelta(days=1)).timestamp() * 1000)
    logs.put_log_events(
        logGroupName=GROUP, logStreamName="web", logEvents=[{"timestamp": stamp, "message": "x"}]
    )
    time.sleep(0.005)
    logs.put_subscription_filter(
        logGroupName=GROUP, filterName=FILTER_NAME, filterPattern="", destinationArn=DESTINATION_ARN
    )

    code, report = copy(
        capsys, "--accounts", other, "--assume-role", policies.HISTORY_READER_ROLE_NAME
    )

    assert code == 0
    assert [(g["account"], g["outcome"], g["events"]) for g in report["logGroups"]] == [
        (other, "copied", 1)
    ]
    [key] = history_keys(archive)
    assert key.startswith(f"{PREFIX}account={other}/region={REGION}/")


def test_writes_go_through_the_writer_role(
    aws: FakeAws, archive: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before, _ = before_and_after(aws)
    role_arn = f"arn:aws:iam::{MEMBER_ACCOUNT}:role/path/central-history-writer"
    assumed: list[tuple[str, str]] = []
    assume = sweep._assume_role

    def recorded(profile: str | None, account: str, region: str, name: str) -> Any:
        assumed.append((account, name))
        return assume(profile, account, region, name)

    monkeypatch.setattr(sweep, "_assume_role", recorded)

    code, report = copy(capsys, "--writer-role-arn", role_arn)

    assert code == 0
    assert assumed == [(MEMBER_ACCOUNT, "path/central-history-writer")]
    assert report["totals"]["events"] == len(before)


def test_a_group_of_a_class_without_filters_is_copied_to_the_watermark(
    aws: FakeAws, archive: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "SETTLE", timedelta(0))
    aws.create_log_groups(GROUP, log_class="INFREQUENT_ACCESS")
    put_events(aws, "web-1", [datetime.now(UTC) - timedelta(days=1)], "rare")

    code, report = copy(capsys)

    assert code == 0
    assert [(g["outcome"], g["events"]) for g in report["logGroups"]] == [("not-subscribed", 1)]
