"""Benchmark of `central-logging backfill` under the real CloudWatch Logs quotas.

A quota emulator serves moto on loopback behind a WSGI layer that enforces the per-API,
per-account-region token buckets of design section 6 and answers with ThrottlingException,
after a configurable latency per call. On N log groups with a realistic mix it times our
backfill and a baseline written to the original blog's procedure (one region, sequential,
delete every existing filter, then put), and prints the ratios issue 4 asks for.

    python bench/backfill_bench.py [--groups 1000] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.logs.exceptions import ResourceNotFoundException
from moto.logs.models import LogsBackend, logs_backends

from bench.quota_server import serve
from central_logging import cli
from handlers.core import QUOTAS_PER_SECOND
from tests.handlers.harness import AccountPolicies, put_in_slots

OWN_ACCOUNT = "123456789012"  # moto's account for the benchmark's own credentials
LOGGING_ACCOUNT = "222222222222"
OTHER_ACCOUNTS = ("444444444444", "555555555555")
REGIONS = ("eu-west-1", "eu-central-1")
FILTER_NAME = "central-logging"
FILTER_SLOTS = 2

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def _put_any_destination(
    backend: LogsBackend,
    log_group_name: str,
    filter_name: str,
    filter_pattern: str,
    destination_arn: str,
    role_arn: str | None,
) -> None:
    """moto refuses CloudWatch Logs destinations as filter targets; AWS keeps 2 slots."""
    group = backend.groups.get(log_group_name)
    if group is None:
        raise ResourceNotFoundException()
    put_in_slots(group, filter_name, filter_pattern, destination_arn, role_arn, FILTER_SLOTS)


def destination_arn(region: str) -> str:
    return f"arn:aws:logs:{region}:{LOGGING_ACCOUNT}:destination:central"


def populate(account: str, region: str, groups: int) -> int:
    """N log groups, straight into moto: 60 % new, 20 % covered, 10 % with one foreign
    filter, 5 % with full slots, 5 % excluded. Returns the number of foreign filters."""
    backend = logs_backends[account][region]
    foreign = 0
    for i in range(groups):
        kind = i % 20
        name = f"/firehose/errors-{i}" if kind == 19 else f"/app/service-{i}"
        backend.create_log_group(name, {})
        stream = f"arn:aws:kinesis:{region}:{account}:stream/siem"
        if kind in (0, 1, 2, 3):
            _put_any_destination(backend, name, FILTER_NAME, "", destination_arn(region), None)
        elif kind in (4, 5):
            _put_any_destination(backend, name, "siem", "", stream, None)
            foreign += 1
        elif kind == 6:
            _put_any_destination(backend, name, "siem", "", stream, None)
            _put_any_destination(backend, name, "metrics", "", stream, None)
            foreign += 2
        elif kind == 7 and i % 40 == 7:
            _put_any_destination(backend, name, "other-team", "", destination_arn(region), None)
            foreign += 1
    return foreign


def foreign_filters(account: str, region: str) -> int:
    groups = logs_backends[account][region].groups.values()
    return sum(1 for g in groups for name in g.subscription_filters if name != FILTER_NAME)


def reset_moto() -> None:
    for account in (OWN_ACCOUNT, *OTHER_ACCOUNTS):
        for region in REGIONS:
            logs_backends[account][region].reset()


def ours(argv: list[str]) -> tuple[float, int]:
    started = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["backfill", "--exclude", "/firehose/*", "--json", *argv])
    return time.monotonic() - started, code


def baseline(region: str) -> tuple[float, int]:
    """The blog's procedure: for every log group, delete every filter, then put ours."""
    logs = boto3.client(
        "logs", region_name=region, config=Config(retries={"mode": "standard", "max_attempts": 8})
    )
    destroyed = 0
    started = time.monotonic()
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            name = group["logGroupName"]
            filters = logs.describe_subscription_filters(logGroupName=name)["subscriptionFilters"]
            for f in filters:
                logs.delete_subscription_filter(logGroupName=name, filterName=f["filterName"])
                destroyed += f["filterName"] != FILTER_NAME
            logs.put_subscription_filter(
                logGroupName=name,
                filterName=FILTER_NAME,
                filterPattern="",
                destinationArn=destination_arn(region),
            )
    return time.monotonic() - started, destroyed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000, help="log groups per account-region")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per call")
    args = parser.parse_args()
    n = args.groups
    bound = n / QUOTAS_PER_SECOND["PutSubscriptionFilter"]

    LogsBackend.put_subscription_filter = _put_any_destination  # type: ignore[method-assign,assignment]
    AccountPolicies(pytest.MonkeyPatch())  # moto has none; backfill reads them first
    layer = serve(QUOTAS_PER_SECOND, args.latency, REGIONS[0])
    one = ["--destination-arn", destination_arn(REGIONS[0])]
    both = [*one, "--destination-arn", destination_arn(REGIONS[1])]

    foreign = populate(OWN_ACCOUNT, REGIONS[0], n)
    ours_time, ours_code = ours(one)
    ours_calls = layer.total()
    ours_throttled = sum(layer.count(op, "throttled") for op in QUOTAS_PER_SECOND)
    ours_destroyed = foreign - foreign_filters(OWN_ACCOUNT, REGIONS[0])
    layer.reset()
    rerun_time, _ = ours(one)
    rerun_writes = layer.count("PutSubscriptionFilter", "ok") + layer.count(
        "DeleteSubscriptionFilter", "ok"
    )

    reset_moto()
    populate(OWN_ACCOUNT, REGIONS[0], n)
    layer.reset()
    base_time, base_destroyed = baseline(REGIONS[0])
    base_calls = layer.total()

    reset_moto()
    for region in REGIONS:
        populate(OWN_ACCOUNT, region, n)
    two_regions_time, _ = ours(both)

    reset_moto()
    for account in (OWN_ACCOUNT, *OTHER_ACCOUNTS):
        for region in REGIONS:
            populate(account, region, n)
    accounts = ["--accounts", OWN_ACCOUNT, *OTHER_ACCOUNTS, "--assume-role", "bench"]
    fan_out_time, _ = ours([*both, *accounts])

    print(f"log groups per account-region: {n}; latency per call: {args.latency * 1000:.0f} ms")
    print(f"quota limit N/5 s: {bound:.1f} s")
    print(f"ours:     {ours_time:.1f} s = {ours_time / bound:.2f}x the limit (exit {ours_code})")
    print(f"baseline: {base_time:.1f} s = {base_time / bound:.2f}x the limit")
    print(f"API calls per log group: ours {ours_calls / n:.2f}, baseline {base_calls / n:.2f}")
    print(f"throttled responses, ours: {ours_throttled}")
    print(f"foreign filters destroyed: ours {ours_destroyed}, baseline {base_destroyed}")
    print(f"re-run: {rerun_time:.1f} s, successful writes {rerun_writes}")
    print(f"2 regions: {two_regions_time / ours_time:.2f}x one account-region")
    print(f"3 accounts x 2 regions: {fan_out_time / ours_time:.2f}x one account-region")


if __name__ == "__main__":
    main()
