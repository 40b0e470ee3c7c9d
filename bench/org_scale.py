"""Organisation-scale benchmark of the freshness path: what one buffer interval's folding and
one scheduled run cost at N accounts x R regions, run under moto.

Each region's stream writes one object of the heartbeat partition per buffer interval, holding
the heartbeat of every account (handlers/heartbeat.py). The benchmark writes those R objects,
folds them through the function's fold (one S3 event notification each, in one batch), then
runs the scheduled check, counting S3 requests, metrics and PutMetricData calls and timing
both. It ends with `central-logging plan`'s monthly overhead at the defaults for each size,
from the plan's cost model (central_logging/plan.py: cited us-east-1 list prices).

    PYTHONPATH=. venv/bin/python bench/org_scale.py [--accounts 200,2000] [--regions 17]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import boto3
from moto import mock_aws

from central_logging.plan import PlanInputs, build_plan
from handlers import freshness
from handlers.freshness import FreshnessSettings, stale_after_seconds
from handlers.heartbeat import HEARTBEAT_LOG_GROUP, HEARTBEAT_PARTITION

REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1",
    "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1",
    "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "sa-east-1",
]  # fmt: skip
HOME = "us-east-1"
BUCKET = "central-archive-bench"
PREFIX = "CentralizedAccountsLog/"


@dataclass
class Measurement:
    accounts: int
    regions: int
    fold_seconds: float
    fold_s3_requests: Counter[str]
    run_seconds: float
    run_s3_requests: Counter[str]
    metrics: int
    put_metric_data_calls: int
    stale: int


def heartbeat_object(accounts: list[str], sent: datetime) -> bytes:
    """One buffer interval of a stream's heartbeat partition, as Firehose writes it."""
    stamp = int(sent.timestamp() * 1000)
    lines = (
        json.dumps(
            {
                "messageType": "DATA_MESSAGE",
                "owner": account,
                "logGroup": HEARTBEAT_LOG_GROUP,
                "logStream": "heartbeat",
                "subscriptionFilters": ["central-logging"],
                "logEvents": [{"id": "1", "timestamp": stamp, "message": '{"heartbeat": true}'}],
            }
        )
        for account in accounts
    )
    return gzip.compress("\n".join(lines).encode() + b"\n")


def measure(accounts: int, regions: list[str]) -> Measurement:
    ids = [f"{100000000000 + n:012d}" for n in range(accounts)]
    now = datetime.now(UTC)
    sent = now - timedelta(minutes=2)
    settings = FreshnessSettings.from_env(
        {
            "ARCHIVE_BUCKET": BUCKET,
            "ARCHIVE_PREFIX": PREFIX,
            "REGIONS": json.dumps(regions),
            "EXPECTED_ACCOUNTS": json.dumps(ids),
            "FRESHNESS_SECONDS": str(stale_after_seconds(5, 300)),
            "FRESHNESS_SOURCE": "events",
        }
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name=HOME)
        s3.create_bucket(Bucket=BUCKET)
        cloudwatch = boto3.client("cloudwatch", region_name=HOME)
        # Every hundredth account silent: the run has something to report.
        body = heartbeat_object([a for n, a in enumerate(ids) if n % 100], sent)
        records = []
        for region in regions:
            key = (
                f"{PREFIX}account={HEARTBEAT_PARTITION}/region={region}/year={sent:%Y}/"
                f"month={sent:%m}/day={sent:%d}/"
                f"CentralLogDestination-{region}-1-{sent:%Y-%m-%d-%H-%M-%S}-bench.json.gz"
            )
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            notification = {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": sent.isoformat().replace("+00:00", "Z"),
                "s3": {"bucket": {"name": BUCKET}, "object": {"key": quote_plus(key)}},
            }
            records.append(
                {
                    "messageId": region,
                    "body": json.dumps({"Records": [notification]}),
                    "eventSource": "aws:sqs",
                }
            )
        requests: Counter[str] = Counter()
        s3.meta.events.register(
            "before-call.s3.*", lambda model, **_: requests.update([model.name])
        )
        metric_calls: list[int] = []
        cloudwatch.meta.events.register(
            "provide-client-params.cloudwatch.PutMetricData",
            lambda params, **_: metric_calls.append(len(params["MetricData"])),
        )
        started = time.monotonic()
        freshness.fold(s3, settings, {"Records": records}, now)
        fold_seconds = time.monotonic() - started
        fold_requests = Counter(requests)
        requests.clear()

        started = time.monotonic()
        result = freshness.check(s3, cloudwatch, settings, now)
        run_seconds = time.monotonic() - started
    return Measurement(
        accounts=accounts,
        regions=len(regions),
        fold_seconds=fold_seconds,
        fold_s3_requests=fold_requests,
        run_seconds=run_seconds,
        run_s3_requests=requests,
        metrics=sum(metric_calls),
        put_metric_data_calls=len(metric_calls),
        stale=len(result["stale"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", default="200,2000", help="comma-separated sizes")
    parser.add_argument("--regions", type=int, default=len(REGIONS), choices=range(1, 18))
    args = parser.parse_args()
    os.environ.setdefault("AWS_DEFAULT_REGION", HOME)
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[variable] = "testing"  # moto: never real credentials
    # One line per stale account-region is the function's job, not the benchmark's output.
    logging.getLogger(freshness.LOGGER.name).setLevel(logging.ERROR)
    for size in (int(n) for n in args.accounts.split(",")):
        m = measure(size, REGIONS[: args.regions])
        print(
            f"{m.accounts} accounts x {m.regions} regions = {m.accounts * m.regions} account-regions"
        )
        print(
            f"  fold of one buffer interval ({m.regions} heartbeat objects of {m.accounts} "
            f"heartbeats): {sum(m.fold_s3_requests.values())} S3 requests "
            f"({dict(m.fold_s3_requests)}), {m.fold_seconds:.2f} s"
        )
        print(
            f"  scheduled run: {sum(m.run_s3_requests.values())} S3 requests "
            f"({dict(m.run_s3_requests)}), {m.metrics} metrics in {m.put_metric_data_calls} "
            f"PutMetricData call(s), {m.run_seconds:.2f} s, {m.stale} stale"
        )
        plan = build_plan(PlanInputs(accounts=size, region_count=m.regions, gb_per_day=0.0))
        print(
            f"  plan at the defaults: {plan['objectsPerDay']:,} objects a day, overhead "
            f"${plan['monthlyUsd']['total']:,.2f} a month (freshness path "
            f"${plan['monthlyUsd']['freshness']:,.2f}), silence noticed within "
            f"{plan['silenceNoticedMinutes']:g} minutes"
        )


if __name__ == "__main__":
    main()
