"""`central-logging plan`: quotas and the monthly overhead, offline and measured (issue 18)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from central_logging import plan
from central_logging.cli import main
from tests.aws_env import fake_credentials

SIZE = ["--accounts", "2000", "--regions", "17", "--gb-per-day", "0"]


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["plan", *argv, "--json"]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def test_the_defaults_at_2000_accounts_and_17_regions(capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(capsys, *SIZE)
    assert set(document) >= {"inputs", "quotaRequests", "monthlyUsd", "objectsPerDay", "sources"}
    # Heartbeats share one partition per stream, flushed each 300-second interval: 17 x 288
    # objects a day, not the 34,000 x 288 of a heartbeat in every account's partition.
    assert document["objectsPerDay"] == 17 * 288
    usd = document["monthlyUsd"]
    assert usd["s3Puts"] == pytest.approx(17 * 288 * 30 * 0.005 / 1000, abs=0.01)
    assert usd["firehosePartitionedObjects"] == usd["s3Puts"]
    # 34,000 x 12 heartbeats an hour, each a Lambda invocation and a Firehose record of 5 KB.
    heartbeats = 34_000 * 12 * 24 * 30
    assert usd["heartbeatFunction"] >= heartbeats * 0.20 / 1_000_000
    assert usd["heartbeatFirehose"] >= heartbeats * 5 * 1024 / 2**30 * 0.029
    # 1 + 2 x 17 aggregate freshness metrics; 4 alarms per stream and archive-stale.
    assert usd["freshnessMetrics"] == pytest.approx(35 * 0.30)
    assert usd["alarms"] == pytest.approx((1 + 4 * 17) * 0.10)
    assert usd["total"] == pytest.approx(sum(v for k, v in usd.items() if k != "total"), abs=0.01)
    # Issue 18's goal: at most $2,000 a month, silence noticed within 15 minutes.
    assert usd["total"] <= plan.BUDGET_USD
    assert document["silenceNoticedMinutes"] <= 15
    assert all(url.startswith("https://") for url in document["sources"])


def test_issue_18_today_figures_come_back_with_the_settings_that_caused_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    document = run_json(capsys, *SIZE, "--member-alarms", "--freshness-metrics", "per-account")
    usd = document["monthlyUsd"]
    # 238,000 member alarms (7 per account-region in lambda mode) at $0.10.
    assert usd["alarms"] == pytest.approx(23_800 + (1 + 4 * 17) * 0.10)
    # 34,000 per-account metrics: 10,000 at $0.30 and 24,000 at $0.10, plus the aggregate 35.
    assert usd["freshnessMetrics"] == pytest.approx(3_000 + 24_035 * 0.10, abs=0.5)
    account_policy = run_json(capsys, *SIZE, "--member-alarms", "--mode", "account-policy")
    assert account_policy["monthlyUsd"]["alarms"] == pytest.approx(13_600 + 6.9)
    assert "subscriberSweep" not in account_policy["monthlyUsd"]


def test_an_existing_bucket_lists_heartbeat_folders_not_every_account_region(
    capsys: pytest.CaptureFixture[str],
) -> None:
    listing = run_json(capsys, *SIZE, "--existing-bucket")["monthlyUsd"]["freshness"]
    # Issue 18's figure: 36,001 ListObjectsV2 per 5-minute run, about $1,550 a month.
    assert listing < 36_001 * 288 * 30 * 0.005 / 1000 / 100
    assert listing > run_json(capsys, *SIZE)["monthlyUsd"]["freshness"]


def test_logs_from_every_account_bring_back_an_object_per_partition_and_interval(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Objects are in proportion to what arrives: with logs from every account-region each
    partition flushes every interval, and the text names the settings within budget."""
    assert main(["plan", "--accounts", "2000", "--regions", "17", "--gb-per-day", "100"]) == 0
    out = capsys.readouterr().out
    assert f"Objects a day: {17 * 288 + 34_000 * 288:,}" in out
    assert "A silent account-region is noticed within 14 minutes" in out
    assert "Within $2,000 a month: heartbeatMinutes" in out
    within = plan.settings_within_budget(plan.PlanInputs(2000, 17, 100.0))
    assert within and all(total <= plan.BUDGET_USD for _, _, total, _ in within)
    # A longer buffer is what brings the bill down.
    assert (5, 900) in {(h, b) for h, b, _, _ in within}
    assert (5, 300) not in {(h, b) for h, b, _, _ in within}


def test_totals_for_the_benchmark() -> None:
    small, large = plan.total_usd(200), plan.total_usd(2000)
    assert 0 < small < large < plan.BUDGET_USD
    assert plan.total_usd(2000, heartbeat_minutes=15) < large
    assert plan.total_usd(2000, transport="kinesis") == pytest.approx(
        large + 17 * 730 * 0.04 + 2 * 17 * 0.10, abs=0.01
    )


@pytest.mark.parametrize(
    ("accounts", "value"),
    [(200, None), (224, None), (225, 1000), (1000, 2500), (2000, 4500), (3000, 5000)],
)
def test_partition_quota_requests(
    capsys: pytest.CaptureFixture[str], accounts: int, value: int | None
) -> None:
    document = run_json(
        capsys, "--accounts", str(accounts), "--regions", "eu-west-1", "--gb-per-day", "1"
    )
    requests = [q for q in document["quotaRequests"] if "partitions" in q["quota"]]
    if value is None:
        assert requests == []
        return
    (request,) = requests
    assert request["value"] == value
    assert request["region"] == "eu-west-1"
    assert "after midnight" in request["why"]
    # The heartbeat partition counts too, yesterday's and today's.
    assert ("cannot be granted" in request["why"]) == ((accounts + 1) * 2 > plan.MAX_PARTITIONS)


def test_throughput_compares_with_the_quota_of_the_home_region(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 100 GB a day over 2 regions: 50 GB a day each, 0.59 MiB/s average, 2.37 MiB/s peak.
    size = ["--accounts", "10", "--regions", "us-east-1,eu-central-1", "--gb-per-day", "100"]
    fast = run_json(capsys, *size)
    assert [q for q in fast["quotaRequests"] if "throughput" in q["quota"]] == []
    slow = run_json(capsys, *size, "--home-region", "eu-central-1")
    requests = [q for q in slow["quotaRequests"] if "throughput" in q["quota"]]
    assert [(q["region"], q["value"]) for q in requests] == [("eu-central-1", 3)] * 2
    assert "transport: kinesis" in requests[0]["why"]


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (
            ["--accounts", "5", "--regions", "us-east-1,mars-north-1", "--gb-per-day", "1"],
            "--regions names 'mars-north-1', not an AWS region with CloudWatch Logs; give "
            "region names such as us-east-1,eu-west-1, or a count.",
        ),
        (
            ["--accounts", "-3", "--regions", "2", "--gb-per-day", "1"],
            "--accounts -3 is out of range; give 1 to 100000.",
        ),
        (
            ["--accounts", "5", "--regions", "2", "--gb-per-day", "1e12"],
            "--gb-per-day 1e+12 is out of range; give 0 to 1e+06 GB.",
        ),
        (
            ["--accounts", "5", "--regions", "2", "--gb-per-day", "nan"],
            "--gb-per-day nan is not a number of gigabytes.",
        ),
        (
            ["--accounts", "5", "--regions", "0", "--gb-per-day", "1"],
            "--regions 0 is not a region count from 1 to",
        ),
        (
            ["--accounts", "5", "--regions", "2", "--gb-per-day", "1", "--buffer-seconds", "30"],
            "--buffer-seconds 30 is out of range; give 60 to 900 (dynamic partitioning).",
        ),
        (
            ["--accounts", "five", "--regions", "2", "--gb-per-day", "1"],
            "Argument --accounts: invalid int value: 'five'.",
        ),
        (["--regions", "2", "--gb-per-day", "1"], "Give --accounts and --gb-per-day, or"),
        (
            ["--accounts", "5", "--regions", "2", "--gb-per-day", "1", "--home-region", "x-1"],
            "--home-region 'x-1' is not an AWS region with CloudWatch Logs.",
        ),
        (
            ["--accounts", "5", "--regions", "2", "--gb-per-day", "1", "--heartbeat-minutes", "0"],
            "--heartbeat-minutes 0 is out of range; give 1 to 1440.",
        ),
        (
            ["--organization", "--regions", "us-east-1"],
            "--organization goes with --assume-role, and it with --organization.",
        ),
        (
            ["--organization", "--assume-role", "Reader", "--regions", "3"],
            "--organization needs --regions as region names, not a count.",
        ),
    ],
)
def test_bad_usage_is_one_sentence_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], sentence: str
) -> None:
    assert main(["plan", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"central-logging: {sentence}")
    assert captured.err.count("\n") == 1


# --- measured --------------------------------------------------------------------------------

REGIONS = ("us-east-1", "eu-west-1")
ROLE = "CentralLoggingReader"


@pytest.fixture
def organization(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """An organisation of three accounts; two send logs, one is silent."""
    fake_credentials(monkeypatch, "us-east-1")
    monkeypatch.setattr(plan, "MEASURE_CALLS_PER_SECOND", 1000)
    with mock_aws():
        orgs = boto3.client("organizations")
        orgs.create_organization(FeatureSet="ALL")
        accounts = [
            orgs.create_account(AccountName=name, Email=f"{name}@example.com")[
                "CreateAccountStatus"
            ]["AccountId"]
            for name in ("a", "b", "c")
        ]
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        for account, per_minute in zip(
            accounts, (60 * 1024 * 1024, 6 * 1024 * 1024, 0), strict=True
        ):
            if not per_minute:
                continue
            credentials = boto3.client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="test"
            )["Credentials"]
            for region in REGIONS:
                cloudwatch = boto3.client(
                    "cloudwatch",
                    region_name=region,
                    aws_access_key_id=credentials["AccessKeyId"],
                    aws_secret_access_key=credentials["SecretAccessKey"],
                    aws_session_token=credentials["SessionToken"],
                )
                cloudwatch.put_metric_data(
                    Namespace="AWS/Logs",
                    MetricData=[
                        {
                            "MetricName": "IncomingBytes",
                            "Timestamp": now - timedelta(minutes=minutes),
                            "Value": per_minute * (3 if minutes == 10 else 1),
                            "Unit": "Bytes",
                        }
                        for minutes in range(1, 31)
                    ],
                )
        yield accounts


def test_measured_plan_reads_incoming_bytes_of_every_account_region(
    organization: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    regions = ",".join(REGIONS)
    argv = ["--organization", "--assume-role", ROLE, "--regions", regions]
    document = run_json(capsys, *argv, "--home-region", "eu-central-1")
    inputs = document["inputs"]
    # The management account of moto's organisation and the three created ones.
    assert inputs["accounts"] == 4
    assert inputs["activeAccounts"] == dict.fromkeys(REGIONS, 2)
    # Busiest minute: both senders at 3x, summed over the region's accounts.
    peak = 3 * 66 * 1024 * 1024 / 60
    assert inputs["peakBytesPerSecond"] == pytest.approx(dict.fromkeys(REGIONS, peak))
    # 30 minutes of 66 MiB a minute (two of them tripled) in each region.
    assert inputs["gbPerDay"] == pytest.approx(2 * (32 * 66) / 1024, abs=0.001)
    throughput = [q for q in document["quotaRequests"] if "throughput" in q["quota"]]
    assert [q["value"] for q in throughput] == [4, 4]
    assert all("busiest minute measured" in q["why"] for q in throughput)


def test_an_account_that_cannot_be_read_is_named_and_exits_1(
    organization: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = plan.incoming_bytes

    def refuse_one(client: Any, end: datetime) -> Iterator[tuple[datetime, float]]:
        if client.meta.region_name == "eu-west-1":
            raise (
                boto3.session.Session()
                .client("sts")
                .exceptions.ClientError(
                    {"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetMetricData"
                )
            )
        return real(client, end)

    monkeypatch.setattr(plan, "incoming_bytes", refuse_one)
    argv = ["plan", "--organization", "--assume-role", ROLE, "--regions", ",".join(REGIONS)]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err.count("eu-west-1: An error occurred (AccessDenied)") == 4
    assert "Monthly overhead" in captured.out


def test_ctrl_c_prints_the_plan_so_far_and_exits_130(
    organization: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = plan.Measured.add

    def interrupt_after_first(self: plan.Measured, *args: Any) -> None:
        real(self, *args)
        raise KeyboardInterrupt

    monkeypatch.setattr(plan.Measured, "add", interrupt_after_first)
    monkeypatch.setattr(plan, "MEASURE_THREADS", 1)
    argv = ["plan", "--organization", "--assume-role", ROLE, "--regions", "us-east-1", "--json"]
    assert main(argv) == 130
    captured = capsys.readouterr()
    assert json.loads(captured.out)["monthlyUsd"]["total"] > 0
    assert "interrupted; the plan covers the 1 account-regions measured so far" in captured.err
