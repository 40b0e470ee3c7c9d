"""FreshnessCheck: does every account-region still deliver? (logging stack, home region)

Every 5 minutes a function (handlers/freshness.py) finds the newest archived object of every
expected account-region. Members write a heartbeat every 5 minutes, so an account-region with
nothing archived for the buffer interval plus two heartbeats has stopped delivering. The
`archive-stale` alarm fires when any account-region has been stale for
`alarmFreshnessSeconds`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import pulumi
from pulumi import Output, ResourceOptions

from components import policies
from components.alarms import PERIOD_SECONDS, AlarmNotifier
from components.config import LoggingSettings
from components.functions import scheduled_function
from handlers.freshness import METRIC_NAMESPACE, STALE_METRIC
from handlers.heartbeat import HEARTBEAT_INTERVAL_SECONDS

FUNCTION_NAME = "central-logging-freshness"


def freshness_seconds(settings: LoggingSettings) -> int:
    """How long an account-region may deliver nothing before it is stale: Firehose holds a
    heartbeat up to the buffer interval, and one late heartbeat is no failure."""
    return settings.buffer_interval_seconds + 2 * HEARTBEAT_INTERVAL_SECONDS


def expected_accounts(settings: LoggingSettings) -> list[str]:
    return list(dict.fromkeys([*settings.member_accounts, *settings.freshness_accounts]))


class FreshnessCheck(pulumi.ComponentResource):
    """The freshness function, its schedule and the `archive-stale` alarm."""

    def __init__(
        self,
        name: str,
        *,
        settings: LoggingSettings,
        bucket_name: Output[str],
        bucket_arn: Output[str],
        delivery_stream_names: Mapping[str, Output[str]],
        alarms: AlarmNotifier,
        opts: ResourceOptions | None = None,
    ) -> None:
        super().__init__("central-logging:freshness:FreshnessCheck", name, None, opts)
        home = settings.home_region
        environment: dict[str, pulumi.Input[str]] = {
            "ARCHIVE_BUCKET": bucket_name,
            "ARCHIVE_PREFIX": settings.s3_prefix,
            "REGIONS": json.dumps(list(settings.regions)),
            "EXPECTED_ACCOUNTS": json.dumps(expected_accounts(settings)),
            "FRESHNESS_SECONDS": str(freshness_seconds(settings)),
            "ARCHIVE_FORMAT": settings.archive_format,
        }
        if settings.archive_format == "raw":
            # No account in the raw layout: regions are told apart by their stream's name.
            environment["DELIVERY_STREAMS"] = Output.all(**delivery_stream_names).apply(
                lambda names: json.dumps(names, sort_keys=True)
            )
        scheduled_function(
            self,
            f"{name}-function",
            region=home,
            function_name=FUNCTION_NAME,
            description="central-logging freshness: has every account-region delivered lately?",
            handler="handlers.freshness.handler",
            schedule=f"rate({PERIOD_SECONDS // 60} minutes)",
            environment=environment,
            timeout=300,
            policy=lambda own_logs: Output.all(bucket_arn, own_logs).apply(
                lambda a: policies.freshness_function_policy(
                    bucket_arn=a[0], archive_prefix=settings.s3_prefix, function_log_group_arn=a[1]
                )
            ),
        )
        per_region = " (per region: archiveFormat raw has no account partition)"
        # Silence is the failure: the function publishes the count every 5 minutes, so no
        # data means the check itself stopped (or cannot list the archive), and breaches.
        alarms.alarm(
            "archive-stale",
            home,
            "An account-region has delivered nothing to the archive for "
            f"{freshness_seconds(settings)} s"
            f"{per_region if settings.archive_format == 'raw' else ''}: read "
            f"/aws/lambda/{FUNCTION_NAME} for which, then follow the archive-stale runbook.",
            namespace=METRIC_NAMESPACE,
            metric=STALE_METRIC,
            dimensions={},
            statistic="Maximum",
            threshold=0,
            periods=math.ceil(settings.alarms.freshness_seconds / PERIOD_SECONDS),
            missing_data="breaching",
        )
        self.register_outputs({})
