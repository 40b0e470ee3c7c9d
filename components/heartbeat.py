"""Heartbeat: proof, every `heartbeatMinutes`, that one member account-region still delivers.

A log group `/central-logging/heartbeat` and a function writing one event into it on a
schedule. The group is subscribed like any other (by the subscriber, the sweep or the account
policy; it may never be excluded), so the logging stack's freshness check sees the heartbeat
in the archive (in the shared heartbeat partition: handlers/heartbeat.py), or notices its
absence.
"""

from __future__ import annotations

import math

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions

from components import policies
from components.alarms import PERIOD_SECONDS, AlarmNotifier, AlarmSpec
from components.functions import SignedFunctionCode, scheduled_function
from handlers.heartbeat import HEARTBEAT_LOG_GROUP

FUNCTION_NAME = "central-logging-heartbeat"
# The archive keeps every heartbeat; the group only needs to hold them until delivered.
HEARTBEAT_RETENTION_DAYS = 7
# No event in the group for this many heartbeat intervals raises the alarm.
MISSED_BEATS = 3
HANDLER = "handlers.heartbeat.handler"
# Lambda writes START and REPORT lines for every run into the function's own log group, which
# is subscribed like any other: every heartbeat would also flush an object into the account's
# own partition. In JSON format at WARN, Lambda sends neither, only warnings and errors
# ("Log-level filtering": the default system level INFO sends "start" and "report",
# https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
QUIET_LOG_LEVEL = "WARN"


def schedule(minutes: int) -> str:
    """The EventBridge rate expression ("rate(1 minute)" takes the singular)."""
    return f"rate({minutes} minute{'' if minutes == 1 else 's'})"


def description(minutes: int) -> str:
    return f"central-logging heartbeat: one event every {minutes} min"


def missing_alarm(minutes: int) -> AlarmSpec:
    """Silence is the failure here: AWS/Logs publishes IncomingLogEvents only for events that
    arrived, so missing data means no heartbeat was written (function, schedule or role
    broken, group deleted) and counts as breaching."""
    periods = math.ceil(MISSED_BEATS * minutes * 60 / PERIOD_SECONDS)
    return AlarmSpec(
        "heartbeat-missing",
        f"No heartbeat reached {HEARTBEAT_LOG_GROUP} for {periods * PERIOD_SECONDS // 60} "
        f"minutes: read /aws/lambda/{FUNCTION_NAME}; without heartbeats the logging stack "
        "cannot tell whether this account-region still delivers.",
        namespace="AWS/Logs",
        metric="IncomingLogEvents",
        statistic="Sum",
        threshold=1,
        comparison="LessThanThreshold",
        periods=periods,
        missing_data="breaching",
    )


class Heartbeat(pulumi.ComponentResource):
    """The heartbeat of one member region."""

    def __init__(
        self,
        name: str,
        *,
        region: str,
        partition: str,
        account_id: Output[str],
        alarms: AlarmNotifier,
        minutes: int,
        signed_code: SignedFunctionCode | None = None,
        opts: ResourceOptions | None = None,
    ) -> None:
        super().__init__("central-logging:heartbeat:Heartbeat", name, None, opts)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-log-group",
            region=region,
            name=HEARTBEAT_LOG_GROUP,
            retention_in_days=HEARTBEAT_RETENTION_DAYS,
            # Subscription filters take only the Standard class.
            log_group_class="STANDARD",
            opts=ResourceOptions(parent=self),
        )
        self.function = scheduled_function(
            self,
            f"{name}-function",
            region=region,
            function_name=FUNCTION_NAME,
            description=description(minutes),
            handler=HANDLER,
            schedule=schedule(minutes),
            log_level=QUIET_LOG_LEVEL,
            signed_code=signed_code,
            policy=lambda own_logs: Output.all(account_id, own_logs).apply(
                lambda a: policies.heartbeat_function_policy(
                    partition=partition, region=region, account_id=a[0], function_log_group_arn=a[1]
                )
            ),
        ).function
        alarms.watch(missing_alarm(minutes), region, {"LogGroupName": self.log_group.name})
        self.register_outputs({})
