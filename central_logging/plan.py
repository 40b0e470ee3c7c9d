"""`central-logging plan`: the AWS quotas to request and the monthly overhead of the pipeline.

Offline, from a size (`--accounts`, `--regions`, `--gb-per-day` and the settings that drive
cost), or measured: AWS/Logs `IncomingBytes` of every account-region of the organisation, read
through GetMetricData in each account with `--assume-role`.

The overhead is everything except per-GB ingestion, delivery and storage of the logs
themselves: objects, heartbeats, the freshness check, metrics, alarms, the subscriber's sweep
and Kinesis streams. Prices are us-east-1 list prices without free tiers, in one table
(`PRICES`), each with the page it was read from. A month is 730 hours (AWS's pricing pages
use it); daily quantities count 30 days.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import boto3
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from handlers.freshness import CHECK_PERIOD_SECONDS, LISTING_WINDOW, silence_noticed_seconds

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

PROG = "central-logging"
INTERRUPTED = 130
HOURS_PER_MONTH = 730
# Daily volumes make a month of 30 days, as issue 18 counts them.
DAYS_PER_MONTH = 30
SECONDS_PER_DAY = 86_400
GIB = 1 << 30
MIB = 1 << 20

# --- prices: us-east-1 list prices, written once ----------------------------------------------

PRICES_READ_ON = "2026-12-06"
CLOUDWATCH_PRICING = "https://aws.amazon.com/cloudwatch/pricing/"
S3_PRICING = "https://aws.amazon.com/s3/pricing/"
FIREHOSE_PRICING = "https://aws.amazon.com/firehose/pricing/"
LAMBDA_PRICING = "https://aws.amazon.com/lambda/pricing/"
SQS_PRICING = "https://aws.amazon.com/sqs/pricing/"
EVENTBRIDGE_PRICING = "https://aws.amazon.com/eventbridge/pricing/"
KINESIS_PRICING = "https://aws.amazon.com/kinesis/data-streams/pricing/"


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    url: str


PRICES: dict[str, Price] = {
    "alarm": Price(0.10, "standard-resolution alarm metric-month", CLOUDWATCH_PRICING),
    "logsIngestion": Price(0.50, "GB ingested (standard log class)", CLOUDWATCH_PRICING),
    "s3Put": Price(0.005 / 1000, "PUT, COPY, POST or LIST request (S3 Standard)", S3_PRICING),
    "s3Get": Price(0.0004 / 1000, "GET request (S3 Standard)", S3_PRICING),
    "cloudwatchApiRequest": Price(
        0.01 / 1000, "API request (PutMetricData, GetMetricData, ...)", CLOUDWATCH_PRICING
    ),
    # Direct PUT ingestion, first 500 TB a month; each record is billed as a multiple of 5 KB.
    "firehoseIngestion": Price(0.029, "GB ingested, records rounded up to 5 KB", FIREHOSE_PRICING),
    "firehosePartitionedObject": Price(
        0.005 / 1000, "S3 object delivered with dynamic partitioning", FIREHOSE_PRICING
    ),
    "firehosePartitionedGb": Price(
        0.020, "GB delivered with dynamic partitioning", FIREHOSE_PRICING
    ),
    "lambdaRequest": Price(0.20 / 1_000_000, "invocation", LAMBDA_PRICING),
    "lambdaGbSecond": Price(0.0000166667, "GB-second (x86)", LAMBDA_PRICING),
    "sqsRequest": Price(0.40 / 1_000_000, "standard queue request (64 KB chunk)", SQS_PRICING),
    # Schedules of EventBridge rules and S3 event notifications to SQS cost nothing.
    "eventbridgeScheduledRule": Price(0.0, "event of a scheduled rule", EVENTBRIDGE_PRICING),
    "kinesisOnDemandStreamHour": Price(0.04, "on-demand stream-hour", KINESIS_PRICING),
}
# Custom metrics, per metric-month: first 10,000, next 240,000, next 750,000, above 1,000,000.
CUSTOM_METRIC_TIERS: tuple[tuple[float, float], ...] = (
    (10_000, 0.30),
    (240_000, 0.10),
    (750_000, 0.05),
    (math.inf, 0.02),
)
FIREHOSE_RECORD_UNIT = 5 * 1024

# --- what the program deploys, as the cost model needs it ---------------------------------------

# Firehose: 500 active partitions per stream by default, up to 5,000 on request; beyond, records
# go to the error prefix `activePartitionExceeded` ("Buffer data for dynamic partitioning").
BUFFERING_URL = "https://docs.aws.amazon.com/firehose/latest/dev/buffering.html"
QUOTAS_URL = "https://docs.aws.amazon.com/firehose/latest/dev/limits.html"
DEFAULT_PARTITIONS = 500
MAX_PARTITIONS = 5_000
# Direct PUT throughput per stream, in the region of the stream (the home region).
FAST_REGIONS = frozenset({"us-east-1", "us-west-2", "eu-west-1"})
FAST_THROUGHPUT = 5 * MIB
THROUGHPUT = 1 * MIB
# Ask before use reaches this share of a quota: the request takes days to be granted.
HEADROOM = 0.9
# Offline, the busiest minute of a region is taken as this multiple of its average; measured
# mode uses the real busiest minute.
PEAK_TO_AVERAGE = 4
# 26 bytes per event besides its message, as CloudWatch Logs counts an event
# (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html).
LOGS_EVENT_OVERHEAD = 26
# A heartbeat event (`{"heartbeat": true, "account", "region", "sentAt"}`), and the envelope
# CloudWatch Logs wraps it in (owner, group, stream, filter names), as Firehose decompresses it.
# The heartbeat function logs nothing else: its START and REPORT lines are filtered out
# (components/heartbeat.py).
HEARTBEAT_EVENT_BYTES = 110
HEARTBEAT_ENVELOPE_BYTES = 330
HEARTBEAT_MEMORY_GB = 128 / 1024
HEARTBEAT_SECONDS = 0.1
# The subscriber's daily sweep (lambda mode), per account-region.
SWEEP_MEMORY_GB = 256 / 1024
SWEEP_SECONDS = 20
# Freshness: each object of the heartbeat partition is an S3 event notification in the queue
# (one SendMessage, one receive, one delete), folded by one invocation that reads the object
# (parsing its heartbeats) and reads and writes the state. The check runs every minute and
# reads the state, writes its report and publishes its metrics in one PutMetricData call.
FRESHNESS_MEMORY_GB = 512 / 1024
FRESHNESS_FOLD_SECONDS = 0.3
FRESHNESS_SECONDS_PER_1000_HEARTBEATS = 0.05
FRESHNESS_RUN_SECONDS = 0.5
FRESHNESS_RUNS_PER_DAY = SECONDS_PER_DAY // CHECK_PERIOD_SECONDS
# Listing (an existing bucket): each run lists today's (and near midnight yesterday's)
# heartbeat folder of every region and reads the objects of the last 10 minutes.
LISTING_WINDOW_SECONDS = LISTING_WINDOW.total_seconds()
# Alarms the logging stack declares per covered region (Firehose delivery failing, data stale,
# records throttled, active partitions; Kinesis adds iterator age and write throttling), and
# the archive-stale alarm. Member alarms, per account-region, when memberAlarms is on.
LOGGING_ALARMS_PER_REGION = {"firehose": 4, "kinesis": 6}
LOGGING_ALARMS = 1
MEMBER_ALARMS_PER_ACCOUNT_REGION = {"lambda": 7, "account-policy": 4}
# Goal of issue 18: the overhead at 2,000 accounts x 17 regions with the defaults.
BUDGET_USD = 2_000.0

TRANSPORTS = ("firehose", "kinesis")
MODES = ("lambda", "account-policy")
FRESHNESS_METRICS = ("aggregate", "per-account")
MAX_ACCOUNTS = 100_000
MAX_GB_PER_DAY = 1_000_000.0
HEARTBEAT_MINUTES = (1, 1440)
BUFFER_SECONDS = (60, 900)


@dataclass(frozen=True)
class PlanInputs:
    """What the plan is computed from. `regions` are names; `region_count` may exceed them when
    only a count was given (the regions are then unnamed)."""

    accounts: int
    region_count: int
    gb_per_day: float
    regions: tuple[str, ...] = ()
    home_region: str = "us-east-1"
    heartbeat_minutes: int = 5
    buffer_seconds: int = 300
    buffer_mib: int = 64
    transport: str = "firehose"
    mode: str = "lambda"
    member_alarms: bool = False
    freshness_metrics: str = "aggregate"
    existing_bucket: bool = False
    # Measured: per region, the busiest minute's bytes per second and the accounts sending.
    peak_bytes_per_second: Mapping[str, float] = field(default_factory=dict)
    active_accounts: Mapping[str, int] = field(default_factory=dict)

    @property
    def account_regions(self) -> int:
        return self.accounts * self.region_count


def senders(inputs: PlanInputs) -> int:
    """Account-regions that send logs besides heartbeats: measured, or offline every one as
    soon as there are logs at all."""
    if inputs.active_accounts:
        return sum(inputs.active_accounts.values())
    return inputs.account_regions if inputs.gb_per_day > 0 else 0


def heartbeat_objects_per_day(inputs: PlanInputs) -> int:
    """Every stream's heartbeat partition (handlers/heartbeat.py) holds the heartbeats of all
    accounts and is flushed once per buffer interval."""
    return round(inputs.region_count * SECONDS_PER_DAY / inputs.buffer_seconds)


def objects_per_day(inputs: PlanInputs) -> int:
    """Objects Firehose writes a day: the heartbeat partitions', and each sending
    account-region's partition once per buffer interval while records arrive, or more when the
    logs fill the buffer size first."""
    by_time = senders(inputs) * SECONDS_PER_DAY / inputs.buffer_seconds
    by_size = inputs.gb_per_day * GIB / (inputs.buffer_mib * MIB)
    logs = max(by_time, by_size) if inputs.gb_per_day > 0 else 0.0
    return heartbeat_objects_per_day(inputs) + round(logs)


def _custom_metrics_usd(count: int) -> float:
    usd, below = 0.0, 0.0
    for upto, price in CUSTOM_METRIC_TIERS:
        usd += max(0.0, min(count, upto) - below) * price
        below = upto
    return usd


def _usd(name: str, quantity: float) -> float:
    return quantity * PRICES[name].usd


def monthly_usd(inputs: PlanInputs) -> dict[str, float]:
    """The overhead per month, item by item, and its `total`; dollars to the cent."""
    ar = inputs.account_regions
    objects = objects_per_day(inputs) * DAYS_PER_MONTH
    heartbeats = ar * 1440 / inputs.heartbeat_minutes * DAYS_PER_MONTH
    items: dict[str, float] = {
        "s3Puts": _usd("s3Put", objects),
        "firehosePartitionedObjects": _usd("firehosePartitionedObject", objects),
        "heartbeatFunction": _usd("lambdaRequest", heartbeats)
        + _usd("lambdaGbSecond", heartbeats * HEARTBEAT_MEMORY_GB * HEARTBEAT_SECONDS),
        "heartbeatLogs": _usd(
            "logsIngestion", heartbeats * (HEARTBEAT_EVENT_BYTES + LOGS_EVENT_OVERHEAD) / GIB
        ),
        # One record per heartbeat, billed as 5 KB.
        "heartbeatFirehose": _usd("firehoseIngestion", heartbeats * FIREHOSE_RECORD_UNIT / GIB)
        + _usd("firehosePartitionedGb", heartbeats * HEARTBEAT_ENVELOPE_BYTES / GIB),
    }
    runs = FRESHNESS_RUNS_PER_DAY * DAYS_PER_MONTH
    run_usd = (
        _usd("lambdaRequest", runs)
        + _usd("lambdaGbSecond", runs * FRESHNESS_MEMORY_GB * FRESHNESS_RUN_SECONDS)
        + _usd("cloudwatchApiRequest", runs)
    )
    heartbeat_objects = heartbeat_objects_per_day(inputs) * DAYS_PER_MONTH
    parse_seconds = inputs.accounts / 1000 * FRESHNESS_SECONDS_PER_1000_HEARTBEATS
    if inputs.existing_bucket:
        # No notifications from a bucket the stack does not own: each run lists a folder per
        # region and reads the heartbeat objects of the listing window.
        reads = runs * inputs.region_count * LISTING_WINDOW_SECONDS / inputs.buffer_seconds
        items["freshness"] = (
            run_usd
            + _usd("s3Put", runs * (inputs.region_count + 2))
            + _usd("s3Get", runs + reads)
            + _usd("lambdaGbSecond", reads * FRESHNESS_MEMORY_GB * parse_seconds)
        )
    else:
        items["freshness"] = (
            run_usd
            + _usd("s3Put", runs)
            + _usd("s3Get", runs)
            + _usd("sqsRequest", 3 * heartbeat_objects)
            + _usd("lambdaRequest", heartbeat_objects)
            + _usd(
                "lambdaGbSecond",
                heartbeat_objects * FRESHNESS_MEMORY_GB * (FRESHNESS_FOLD_SECONDS + parse_seconds),
            )
            + _usd("s3Get", 2 * heartbeat_objects)
            + _usd("s3Put", heartbeat_objects)
        )
    metrics = 1 + 2 * inputs.region_count
    if inputs.freshness_metrics == "per-account":
        metrics += ar
    items["freshnessMetrics"] = _custom_metrics_usd(metrics)
    alarms = LOGGING_ALARMS + LOGGING_ALARMS_PER_REGION[inputs.transport] * inputs.region_count
    if inputs.member_alarms:
        alarms += MEMBER_ALARMS_PER_ACCOUNT_REGION[inputs.mode] * ar
    items["alarms"] = _usd("alarm", alarms)
    if inputs.mode == "lambda":
        sweeps = ar * DAYS_PER_MONTH
        items["subscriberSweep"] = _usd("lambdaRequest", sweeps) + _usd(
            "lambdaGbSecond", sweeps * SWEEP_MEMORY_GB * SWEEP_SECONDS
        )
    if inputs.transport == "kinesis":
        items["kinesisStreams"] = _usd(
            "kinesisOnDemandStreamHour", inputs.region_count * HOURS_PER_MONTH
        )
    items = {name: round(usd, 2) for name, usd in items.items()}
    items["total"] = round(sum(items.values()), 2)
    return items


def throughput_quota(home_region: str) -> int:
    """Direct PUT bytes per second of one stream in `home_region`."""
    return FAST_THROUGHPUT if home_region in FAST_REGIONS else THROUGHPUT


def _region_names(inputs: PlanInputs) -> list[str]:
    if inputs.regions:
        return list(inputs.regions)
    return [f"each of {inputs.region_count} regions"] if inputs.region_count > 1 else ["the region"]


def quota_requests(inputs: PlanInputs) -> list[dict[str, Any]]:
    """The increases to ask AWS for before the organisation reaches these sizes."""
    requests: list[dict[str, Any]] = []
    for region in _region_names(inputs):
        sending = inputs.active_accounts.get(
            region, inputs.accounts if inputs.gb_per_day > 0 else 0
        )
        # Firehose names partitions by arrival day: for up to one buffer interval after
        # midnight each account holds yesterday's partition and today's; so does the
        # heartbeat partition.
        partitions = 2 * (sending + 1)
        if partitions > HEADROOM * DEFAULT_PARTITIONS:
            steps = math.ceil(partitions / HEADROOM / DEFAULT_PARTITIONS)
            wanted = min(MAX_PARTITIONS, steps * DEFAULT_PARTITIONS)
            why = (
                f"{sending} accounts send logs of {region}: up to {partitions} active partitions "
                f"in its stream after midnight, beyond {HEADROOM:.0%} of the default "
                f"{DEFAULT_PARTITIONS}; records beyond the quota go to "
                "errors/.../activePartitionExceeded/ until `central-logging redrive`"
            )
            if partitions > MAX_PARTITIONS:
                why += (
                    f"; more than {MAX_PARTITIONS} (AWS's maximum) cannot be granted, and each "
                    "region has one stream: the records beyond it go to the error prefix "
                    "after each midnight until redriven"
                )
            requests.append(
                {
                    "service": "Amazon Data Firehose",
                    "quota": "Dynamic partitioning active partitions per delivery stream",
                    "region": inputs.home_region,
                    "value": wanted,
                    "why": why,
                }
            )
        quota = throughput_quota(inputs.home_region)
        peak = inputs.peak_bytes_per_second.get(region)
        if peak is None:
            per_region = inputs.gb_per_day * GIB / SECONDS_PER_DAY / max(inputs.region_count, 1)
            peak, basis = per_region * PEAK_TO_AVERAGE, f"{PEAK_TO_AVERAGE}x the average"
        else:
            basis = "the busiest minute measured"
        if peak > HEADROOM * quota:
            wanted_mib = math.ceil(peak / HEADROOM / MIB)
            requests.append(
                {
                    "service": "Amazon Data Firehose",
                    "quota": "Direct PUT throughput per delivery stream (MiB/s)",
                    "region": inputs.home_region,
                    "value": wanted_mib,
                    "why": (
                        f"logs of {region} peak at {peak / MIB:.2f} MiB/s ({basis}, before "
                        f"CloudWatch Logs compresses them), beyond {HEADROOM:.0%} of the "
                        f"{quota // MIB} MiB/s of a stream in {inputs.home_region}; CloudWatch "
                        "Logs drops throttled deliveries after 24 hours; or use transport: "
                        "kinesis, whose on-demand streams take up to 200 MiB/s"
                    ),
                }
            )
    return requests


def sources() -> list[str]:
    """The pages of the prices and quotas behind every plan."""
    return sorted({price.url for price in PRICES.values()} | {BUFFERING_URL, QUOTAS_URL})


def build_plan(inputs: PlanInputs) -> dict[str, Any]:
    """The plan document, as `plan --json` prints it."""
    described = asdict(inputs)
    described["peak_bytes_per_second"] = dict(inputs.peak_bytes_per_second)
    described["active_accounts"] = dict(inputs.active_accounts)
    return {
        "inputs": {_camel(key): value for key, value in described.items()},
        "quotaRequests": quota_requests(inputs),
        "monthlyUsd": monthly_usd(inputs),
        "objectsPerDay": objects_per_day(inputs),
        "silenceNoticedMinutes": silence_noticed_minutes(inputs),
        "sources": sources(),
        "pricesReadOn": PRICES_READ_ON,
    }


def total_usd(accounts: int, regions: int = 17, **settings: Any) -> float:
    """The monthly overhead for `accounts` x `regions` with the given settings (PlanInputs
    fields) else the defaults, no logs beyond heartbeats: for the benchmark."""
    inputs = PlanInputs(accounts=accounts, region_count=regions, gb_per_day=0.0, **settings)
    return monthly_usd(inputs)["total"]


def silence_noticed_minutes(inputs: PlanInputs) -> float:
    """How long a silent account-region can go unreported (handlers/freshness.py)."""
    return silence_noticed_seconds(inputs.heartbeat_minutes, inputs.buffer_seconds) / 60


def settings_within_budget(inputs: PlanInputs) -> list[tuple[int, int, float, float]]:
    """(heartbeat minutes, buffer seconds, total, minutes to notice silence) of the settings
    that keep the overhead within `BUDGET_USD` at this size, quickest to notice first."""
    found = []
    for heartbeat in (5, 10, 15):
        for buffer in (300, 600, 900):
            candidate = replace(inputs, heartbeat_minutes=heartbeat, buffer_seconds=buffer)
            total = monthly_usd(candidate)["total"]
            if total <= BUDGET_USD:
                found.append((heartbeat, buffer, total, silence_noticed_minutes(candidate)))
    return sorted(found, key=lambda item: (item[3], item[2]))


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


# --- measured: AWS/Logs IncomingBytes of every account-region ----------------------------------

# One GetMetricData call per account-region reads the last day by the minute; CloudWatch keeps
# one-minute data for 15 days and answers up to 100,800 data points per call ("GetMetricData",
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html).
MEASURE_DAYS = 1
MEASURE_PERIOD = 60
MEASURE_THREADS = 16
# Calls per second over all accounts: well below GetMetricData's 50 per second per account and
# region, and STS's AssumeRole quota of the caller's account.
MEASURE_CALLS_PER_SECOND = 20


@dataclass
class Measured:
    """Per region: bytes per minute summed over accounts, and the accounts that sent any."""

    minutes: dict[str, dict[datetime, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
    )
    senders: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    failed: list[str] = field(default_factory=list)
    measured: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, account: str, region: str, points: Iterable[tuple[datetime, float]]) -> None:
        with self.lock:
            self.measured += 1
            for moment, value in points:
                self.minutes[region][moment] += value
                if value > 0:
                    self.senders[region].add(account)

    def inputs(self, base: PlanInputs) -> PlanInputs:
        with self.lock:
            total = sum(sum(series.values()) for series in self.minutes.values())
            peaks = {
                region: max(series.values(), default=0.0) / MEASURE_PERIOD
                for region, series in self.minutes.items()
            }
            active = {region: len(accounts) for region, accounts in self.senders.items()}
        return replace(
            base,
            gb_per_day=round(total / GIB / MEASURE_DAYS, 3),
            peak_bytes_per_second=peaks,
            active_accounts=active,
        )


class Pacer:
    """At most `rate` calls a second, shared by threads."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1 / rate
        self._next = 0.0
        self._clock = clock
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            time.sleep(start - now)


def incoming_bytes(client: CloudWatchClient, end: datetime) -> Iterator[tuple[datetime, float]]:
    """The account-region's AWS/Logs IncomingBytes per minute over the last `MEASURE_DAYS`:
    uncompressed bytes, and without the LogGroupName dimension the total of every log group
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CloudWatch-Logs-Monitoring-CloudWatch-Metrics.html),
    excluded ones too: an upper bound of what the subscription delivers."""
    kwargs: dict[str, Any] = {
        "MetricDataQueries": [
            {
                "Id": "incoming",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Logs", "MetricName": "IncomingBytes"},
                    "Period": MEASURE_PERIOD,
                    "Stat": "Sum",
                },
            }
        ],
        "StartTime": end - timedelta(days=MEASURE_DAYS),
        "EndTime": end,
    }
    while True:
        page = client.get_metric_data(**kwargs)
        for result in page["MetricDataResults"]:
            yield from zip(result["Timestamps"], result["Values"], strict=True)
        token = page.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


def organization_accounts(session: boto3.session.Session) -> list[str]:
    pages = session.client("organizations").get_paginator("list_accounts").paginate()
    return [a["Id"] for page in pages for a in page["Accounts"] if a["Status"] == "ACTIVE"]


def measure(
    session: boto3.session.Session,
    accounts: Sequence[str],
    regions: Sequence[str],
    role_name: str,
    measured: Measured,
    progress: TextIO | None,
    pacer: Pacer | None = None,
) -> None:
    """IncomingBytes of every account-region into `measured`; an account whose role cannot be
    assumed, or a region that cannot be read, is named in `measured.failed`."""
    pace = pacer or Pacer(MEASURE_CALLS_PER_SECOND)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    partition = session.get_partition_for_region(regions[0])
    sts = session.client("sts", region_name=regions[0])

    def one_account(account: str) -> None:
        pace.wait()
        try:
            credentials = sts.assume_role(
                RoleArn=f"arn:{partition}:iam::{account}:role/{role_name}",
                RoleSessionName=f"{PROG}-plan",
            )["Credentials"]
        except (ClientError, BotoCoreError) as error:
            with measured.lock:
                measured.failed.append(f"{account}: could not assume {role_name} ({error})")
            return
        member = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        for region in regions:
            pace.wait()
            try:
                client = member.client("cloudwatch", region_name=region)
                measured.add(account, region, list(incoming_bytes(client, end)))
            except (ClientError, BotoCoreError) as error:
                with measured.lock:
                    measured.failed.append(f"{account} {region}: {error}")
            if progress is not None:
                progress.write(
                    f"\r\x1b[KMeasured {measured.measured} of {len(accounts) * len(regions)} "
                    "account-regions"
                )
                progress.flush()

    pool = ThreadPoolExecutor(MEASURE_THREADS)
    try:
        for future in [pool.submit(one_account, account) for account in accounts]:
            future.result()
    finally:
        # After Ctrl-C the calls in flight are not awaited.
        pool.shutdown(wait=False, cancel_futures=True)
        if progress is not None:
            progress.write("\n")


# --- the command --------------------------------------------------------------------------------


class UsageError(Exception):
    """Bad usage: exit 2 with this one sentence on stderr."""


def known_regions() -> frozenset[str]:
    """Every region of every partition botocore knows to have CloudWatch Logs."""
    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("logs", partition)
    )


def parse_regions(text: str) -> tuple[int, tuple[str, ...]]:
    """`--regions`: a count, or a comma-separated list of region names."""
    text = text.strip()
    known = known_regions()
    if text.isdigit():
        count = int(text)
        if not 1 <= count <= len(known):
            raise UsageError(
                f"--regions {text} is not a region count from 1 to {len(known)} nor a list of "
                "region names."
            )
        return count, ()
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UsageError(
            f"--regions names {', '.join(map(repr, unknown))}, not an AWS region with "
            "CloudWatch Logs; give region names such as us-east-1,eu-west-1, or a count."
        )
    return len(names), names


def _bounded(flag: str, value: float, low: float, high: float, unit: str = "") -> None:
    if not low <= value <= high:
        raise UsageError(f"{flag} {value:g} is out of range; give {low:g} to {high:g}{unit}.")


def add_plan_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `plan` on an argparse subparsers object; returns its parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "plan",
        help="quotas to request and the monthly overhead",
        description="Quotas to request from AWS and the monthly overhead of the pipeline "
        "(everything but per-GB ingestion, delivery and storage), from us-east-1 list prices "
        f"read on {PRICES_READ_ON}. Offline from --accounts, --regions and --gb-per-day, or "
        "measured: --organization --assume-role ROLE reads AWS/Logs IncomingBytes of the last "
        "day in every account and region.",
    )
    parser.add_argument(
        "--accounts", type=int, metavar="N", help="accounts covered (offline); default: none"
    )
    parser.add_argument(
        "--regions",
        metavar="R|LIST",
        help="a region count, or region names separated by commas; default: none",
    )
    parser.add_argument(
        "--gb-per-day",
        type=float,
        metavar="G",
        help="logs of the whole organisation (offline); default: none",
    )
    parser.add_argument(
        "--home-region",
        help="the logging stack's region (default: the first of --regions, else us-east-1)",
    )
    parser.add_argument("--heartbeat-minutes", type=int, default=5, metavar="M", help="default: 5")
    parser.add_argument("--buffer-seconds", type=int, default=300, metavar="S", help="default: 300")
    parser.add_argument(
        "--transport", choices=TRANSPORTS, default="firehose", help="default: firehose"
    )
    parser.add_argument(
        "--mode", choices=MODES, default="lambda", help="subscriptionMode; default: lambda"
    )
    parser.add_argument(
        "--member-alarms", action="store_true", help="alarms in every member (default: off)"
    )
    parser.add_argument(
        "--freshness-metrics",
        choices=FRESHNESS_METRICS,
        default="aggregate",
        help="default: aggregate",
    )
    parser.add_argument(
        "--existing-bucket",
        action="store_true",
        help="existingBucketName is set (no events; default: off)",
    )
    parser.add_argument(
        "--organization", action="store_true", help="measure every account (default: off)"
    )
    parser.add_argument(
        "--assume-role", metavar="ROLE", help="role assumed in each account; default: none"
    )
    parser.add_argument("--profile", help="AWS profile; default: the standard chain")
    parser.add_argument("--json", action="store_true", help="one JSON document (default: text)")
    return parser


def inputs_from_args(args: argparse.Namespace) -> PlanInputs:
    """The offline inputs (accounts and volume may be replaced by measurement)."""
    if args.organization != (args.assume_role is not None):
        raise UsageError("--organization goes with --assume-role, and it with --organization.")
    if args.regions is None:
        raise UsageError("--regions is required: a count or a list of region names.")
    if args.organization and (args.accounts is not None or args.gb_per_day is not None):
        raise UsageError(
            "--organization measures accounts and volume; drop --accounts and --gb-per-day."
        )
    if not args.organization and (args.accounts is None or args.gb_per_day is None):
        raise UsageError("Give --accounts and --gb-per-day, or --organization --assume-role.")
    count, names = parse_regions(args.regions)
    if args.organization and not names:
        raise UsageError("--organization needs --regions as region names, not a count.")
    accounts = 0 if args.organization else args.accounts
    gb = 0.0 if args.organization else args.gb_per_day
    if not args.organization:
        _bounded("--accounts", accounts, 1, MAX_ACCOUNTS)
        if not math.isfinite(gb):
            raise UsageError(f"--gb-per-day {gb} is not a number of gigabytes.")
        _bounded("--gb-per-day", gb, 0, MAX_GB_PER_DAY, " GB")
    _bounded("--heartbeat-minutes", args.heartbeat_minutes, *HEARTBEAT_MINUTES)
    _bounded("--buffer-seconds", args.buffer_seconds, *BUFFER_SECONDS, " (dynamic partitioning)")
    home = args.home_region or (names[0] if names else "us-east-1")
    if home not in known_regions():
        raise UsageError(f"--home-region {home!r} is not an AWS region with CloudWatch Logs.")
    return PlanInputs(
        accounts=accounts,
        region_count=count,
        gb_per_day=gb,
        regions=names,
        home_region=home,
        heartbeat_minutes=args.heartbeat_minutes,
        buffer_seconds=args.buffer_seconds,
        transport=args.transport,
        mode=args.mode,
        member_alarms=args.member_alarms,
        freshness_metrics=args.freshness_metrics,
        existing_bucket=args.existing_bucket,
    )


def write_text(plan: dict[str, Any], inputs: PlanInputs, out: TextIO) -> None:
    out.write(
        f"{inputs.accounts} accounts x {inputs.region_count} regions, "
        f"{inputs.gb_per_day:g} GB of logs a day, home region {inputs.home_region}, heartbeat "
        f"every {inputs.heartbeat_minutes} min, buffer {inputs.buffer_seconds} s, "
        f"{inputs.transport}, {inputs.mode}\n"
    )
    out.write(f"Objects a day: {plan['objectsPerDay']:,}\n")
    out.write(
        f"A silent account-region is noticed within {plan['silenceNoticedMinutes']:g} minutes\n"
    )
    out.write(f"Monthly overhead (us-east-1 list prices read on {PRICES_READ_ON}):\n")
    for name, usd in plan["monthlyUsd"].items():
        out.write(f"  {name:<28} ${usd:>12,.2f}\n")
    if plan["quotaRequests"]:
        out.write("Quota increases to request:\n")
        for q in plan["quotaRequests"]:
            out.write(f"  {q['service']}, {q['quota']}, {q['region']}: {q['value']} ({q['why']})\n")
    else:
        out.write("Quota increases to request: none at this size.\n")
    if plan["monthlyUsd"]["total"] > BUDGET_USD:
        within = settings_within_budget(inputs)
        if within:
            choices = "; ".join(
                f"heartbeatMinutes {h} with bufferIntervalSeconds {b} (${t:,.2f}, silence "
                f"noticed within {m:.0f} min)"
                for h, b, t, m in within
            )
            out.write(f"Within ${BUDGET_USD:,.0f} a month: {choices}.\n")
        else:
            out.write(
                f"No heartbeat and buffer setting keeps this size within "
                f"${BUDGET_USD:,.0f} a month.\n"
            )
    out.write(
        "Not modelled: Firehose JQ processing hours ($0.08 an hour, see AWS/Firehose "
        "JQProcessing.Duration), KMS requests (the archive uses an S3 Bucket Key).\n"
    )
    out.write("Sources: " + ", ".join(plan["sources"]) + "\n")


def run_plan(
    args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """`plan`: 0 done, 1 when some account-regions could not be measured, 2 for bad usage,
    130 after Ctrl-C (with the plan over what was measured)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        inputs = inputs_from_args(args)
    except UsageError as error:
        print(f"{PROG}: {error}", file=err)
        return 2
    if not args.organization:
        _print(build_plan(inputs), inputs, args.json, out)
        return 0
    measured = Measured()
    try:
        session = boto3.session.Session(profile_name=args.profile)
        accounts = organization_accounts(session)
        if not accounts:
            print(f"{PROG}: --organization found no active account.", file=err)
            return 2
        inputs = replace(inputs, accounts=len(accounts))
        measure(
            session,
            accounts,
            inputs.regions,
            args.assume_role,
            measured,
            err if err.isatty() else None,
        )
    except ProfileNotFound:
        print(f"{PROG}: The AWS profile {args.profile!r} does not exist.", file=err)
        return 2
    except NoCredentialsError:
        print(
            f"{PROG}: No AWS credentials found; configure the standard credential chain or "
            "pass --profile.",
            file=err,
        )
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"{PROG}: Could not list the organization's accounts ({error}).", file=err)
        return 2
    except KeyboardInterrupt:
        _print(build_plan(measured.inputs(inputs)), measured.inputs(inputs), args.json, out)
        print(
            f"{PROG}: interrupted; the plan covers the {measured.measured} account-regions "
            "measured so far.",
            file=err,
        )
        return INTERRUPTED
    for failure in measured.failed:
        print(f"{PROG}: {failure}", file=err)
    final = measured.inputs(inputs)
    _print(build_plan(final), final, args.json, out)
    return 1 if measured.failed else 0


def _print(plan: dict[str, Any], inputs: PlanInputs, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(plan, indent=2) + "\n")
    else:
        write_text(plan, inputs, out)
    out.flush()
