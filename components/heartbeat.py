"""Heartbeat: proof, every 5 minutes, that one member account-region still delivers.

A log group `/central-logging/heartbeat` and a function writing one event into it every 5
minutes. The group is subscribed like any other (by the subscriber, the sweep or the account
policy; it may never be excluded), so the logging stack's freshness check sees the heartbeat
in the archive, or notices its absence.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions

from components import policies
from components.alarms import AlarmNotifier, AlarmSpec
from components.functions import SignedFunctionCode, scheduled_function
from handlers.heartbeat import HEARTBEAT_INTERVAL_SECONDS, HEARTBEAT_LOG_GROUP

FUNCTION_NAME = "central-logging-heartbeat"
# The archive keeps every heartbeat; the group only needs to hold them until delivered.
HEARTBEAT_RETENTION_DAYS = 7
# IncomingLogEvents of the group missing for this many 5-minute periods raises the alarm.
MISSED_BEATS = 3
SCHEDULE = f"rate({HEARTBEAT_INTERVAL_SECONDS // 60} minutes)"
DESCRIPTION = "central-logging heartbeat: one event every 5 minutes"
HANDLER = "handlers.heartbeat.handler"
# Silence is the failure here: AWS/Logs publishes IncomingLogEvents only for events that
# arrived, so missing data means no heartbeat was written (function, schedule or role
# broken, group deleted) and counts as breaching.
MISSING_ALARM = AlarmSpec(
    "heartbeat-missing",
    f"No heartbeat reached {HEARTBEAT_LOG_GROUP} for 15 minutes: read "
    f"/aws/lambda/{FUNCTION_NAME}; without heartbeats the logging stack cannot tell "
    "whether this account-region still delivers.",
    namespace="AWS/Logs",
    metric="IncomingLogEvents",
    statistic="Sum",
    threshold=1,
    comparison="LessThanThreshold",
    periods=MISSED_BEATS,
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
            description=DESCRIPTION,
            handler=HANDLER,
            schedule=SCHEDULE,
            signed_code=signed_code,
            policy=lambda own_logs: Output.all(account_id, own_logs).apply(
                lambda a: policies.heartbeat_function_policy(
                    partition=partition, region=region, account_id=a[0], function_log_group_arn=a[1]
                )
            ),
        ).function
        alarms.watch(MISSING_ALARM, region, {"LogGroupName": self.log_group.name})
        self.register_outputs({})
