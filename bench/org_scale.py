"""Organisation-scale benchmark of the freshness path: what one scheduled run and one day of
folding cost at N accounts x R regions, run under moto.

For each size it folds one delivery of every account-region through the function's fold
(batches of the event source mapping's size, as S3 event notifications), then runs the
scheduled check, counting S3 requests, metrics and PutMetricData calls and timing both. It
then prints a day's requests and a month's cost of the freshness path from cited us-east-1
list prices (`PRICES`), at every account-region delivering every buffer interval (a
heartbeat every 5 minutes, the 300 s default buffer: 288 objects a day each).

`central-logging plan`'s totals for the same sizes are not printed here yet: `plan` is built
separately; `main()` is where they belong, next to `freshness_cost()`.

    PYTHONPATH=. venv/bin/python bench/org_scale.py [--accounts 200,2000] [--regions 17]
"""

from __future__ import annotations

import argparse
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

from central_logging.plan import total_usd
from components.freshness import BATCH_SIZE, FUNCTION_MEMORY_MB
from handlers import freshness
from handlers.freshness import FreshnessSettings

# us-east-1 list prices, read 2026-12-06.
PRICES = {
    # https://aws.amazon.com/s3/pricing/ (S3 Standard requests)
    "s3PutPer1000": 0.005,
    "s3GetPer1000": 0.0004,
    # https://aws.amazon.com/sqs/pricing/ (standard queue, after the first million a month)
    "sqsPerMillion": 0.40,
    # https://aws.amazon.com/lambda/pricing/ (Arm: per GB-second, per million requests)
    "lambdaPerGbSecond": 0.0000133334,
    "lambdaPerMillion": 0.20,
    # https://aws.amazon.com/cloudwatch/pricing/ (custom metric, first 10,000; API requests)
    "metricPerMonth": 0.30,
    "putMetricDataPer1000": 0.01,
}
SOURCES = sorted(
    {
        "https://aws.amazon.com/s3/pricing/",
        "https://aws.amazon.com/sqs/pricing/",
        "https://aws.amazon.com/lambda/pricing/",
        "https://aws.amazon.com/cloudwatch/pricing/",
    }
)
REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1",
    "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1",
    "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "sa-east-1",
]  # fmt: skip
HOME = "us-east-1"
BUCKET = "central-archive-bench"
PREFIX = "CentralizedAccountsLog/"
RUNS_PER_DAY = 24 * 60 // 5
OBJECTS_PER_ACCOUNT_REGION_PER_DAY = 24 * 3600 // 300
# An S3 notification is one SendMessage; Lambda receives and deletes up to 10 per request.
SQS_REQUESTS_PER_OBJECT = 1 + 2 / 10
DAYS_PER_MONTH = 30


@dataclass
class Measurement:
    accounts: int
    regions: int
    fold_seconds_per_batch: float
    fold_s3_requests_per_batch: float
    run_seconds: float
    run_s3_requests: Counter[str]
    metrics: int
    put_metric_data_calls: int
    stale: int


def _notification(account: str, region: str, at: datetime) -> str:
    key = (
        f"{PREFIX}account={account}/region={region}/year={at:%Y}/month={at:%m}/day={at:%d}/"
        f"CentralLogDestination-{region}-1-{at:%Y-%m-%d-%H-%M-%S}-bench"
    )
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": at.isoformat().replace("+00:00", "Z"),
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": quote_plus(key)}},
    }
    return json.dumps({"Records": [record]})


def measure(accounts: int, regions: list[str]) -> Measurement:
    ids = [f"{100000000000 + n:012d}" for n in range(accounts)]
    now = datetime.now(UTC)
    settings = FreshnessSettings.from_env(
        {
            "ARCHIVE_BUCKET": BUCKET,
            "ARCHIVE_PREFIX": PREFIX,
            "REGIONS": json.dumps(regions),
            # Every hundredth account silent: the run has something to report.
            "EXPECTED_ACCOUNTS": json.dumps(ids),
            "FRESHNESS_SECONDS": "900",
            "FRESHNESS_SOURCE": "events",
        }
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name=HOME)
        s3.create_bucket(Bucket=BUCKET)
        cloudwatch = boto3.client("cloudwatch", region_name=HOME)
        requests: Counter[str] = Counter()
        s3.meta.events.register(
            "before-call.s3.*", lambda model, **_: requests.update([model.name])
        )
        metric_calls: list[int] = []
        cloudwatch.meta.events.register(
            "provide-client-params.cloudwatch.PutMetricData",
            lambda params, **_: metric_calls.append(len(params["MetricData"])),
        )
        bodies = [
            _notification(account, region, now - timedelta(minutes=2))
            for n, account in enumerate(ids)
            if n % 100
            for region in regions
        ]
        started = time.monotonic()
        batches = 0
        for start in range(0, len(bodies), BATCH_SIZE):
            event = {
                "Records": [
                    {"messageId": str(i), "body": body, "eventSource": "aws:sqs"}
                    for i, body in enumerate(bodies[start : start + BATCH_SIZE])
                ]
            }
            freshness.fold(s3, settings, event, now)
            batches += 1
        fold_seconds = (time.monotonic() - started) / max(batches, 1)
        fold_requests = sum(requests.values()) / max(batches, 1)
        requests.clear()

        started = time.monotonic()
        result = freshness.check(s3, cloudwatch, settings, now)
        run_seconds = time.monotonic() - started
    return Measurement(
        accounts=accounts,
        regions=len(regions),
        fold_seconds_per_batch=fold_seconds,
        fold_s3_requests_per_batch=fold_requests,
        run_seconds=run_seconds,
        run_s3_requests=requests,
        metrics=sum(metric_calls),  # datums of the one run
        put_metric_data_calls=len(metric_calls),
        stale=len(result["stale"]),
    )


def freshness_cost(m: Measurement) -> dict[str, float]:
    """A month of the freshness path in USD, from PRICES."""
    objects = m.accounts * m.regions * OBJECTS_PER_ACCOUNT_REGION_PER_DAY * DAYS_PER_MONTH
    batches = objects / BATCH_SIZE
    runs = RUNS_PER_DAY * DAYS_PER_MONTH
    gb = FUNCTION_MEMORY_MB / 1024
    puts_per_batch = m.fold_s3_requests_per_batch / 2  # one read, one write per batch
    cost = {
        "sqs": objects * SQS_REQUESTS_PER_OBJECT / 1e6 * PRICES["sqsPerMillion"],
        "s3Requests": (batches * puts_per_batch + runs * m.run_s3_requests["PutObject"])
        / 1000
        * PRICES["s3PutPer1000"]
        + (batches * puts_per_batch + runs * m.run_s3_requests["GetObject"])
        / 1000
        * PRICES["s3GetPer1000"],
        "lambda": (batches * m.fold_seconds_per_batch + runs * m.run_seconds)
        * gb
        * PRICES["lambdaPerGbSecond"]
        + (batches + runs) / 1e6 * PRICES["lambdaPerMillion"],
        # Each run publishes each metric once: the datums of one run are the metrics.
        "metrics": m.metrics * PRICES["metricPerMonth"],
        "putMetricData": runs * m.put_metric_data_calls / 1000 * PRICES["putMetricDataPer1000"],
    }
    cost["total"] = sum(cost.values())
    return {k: round(v, 2) for k, v in cost.items()}


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
            f"  scheduled run: {sum(m.run_s3_requests.values())} S3 requests "
            f"({dict(m.run_s3_requests)}), {m.metrics} metrics in {m.put_metric_data_calls} "
            f"PutMetricData call(s), {m.run_seconds:.2f} s, {m.stale} stale"
        )
        print(
            f"  fold of {BATCH_SIZE} notifications: {m.fold_s3_requests_per_batch:.0f} S3 "
            f"requests, {m.fold_seconds_per_batch:.2f} s"
        )
        print(f"  freshness path, USD a month: {json.dumps(freshness_cost(m))}")
        # The whole overhead at the defaults, from `central-logging plan`'s cost model.
        print(f"  plan, overhead USD a month: {total_usd(m.accounts, m.regions):,.2f}")
    print("prices:", ", ".join(SOURCES))


if __name__ == "__main__":
    main()
