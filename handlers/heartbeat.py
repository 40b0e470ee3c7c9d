"""Writes one heartbeat event into this account-region's heartbeat log group.

The group is subscribed like any other, so a heartbeat in the archive proves that the whole
path (subscription, destination, stream, bucket) works for this account and region; the
logging stack's freshness check (handlers/freshness.py) notices when they stop arriving.
Run every `heartbeatMinutes` (default 5) by an EventBridge schedule.

In the archive, heartbeats (and CloudWatch Logs' own control messages) share one partition
per delivery stream, HEARTBEAT_PARTITION, instead of each account's: a heartbeat in every
account's partition would keep all of them active, and Firehose writes an object per active
partition per buffer interval (at 2,000 accounts x 17 regions and 300 s, 9.8 million objects
a day, about $2,900 a month of S3 PUTs and Firehose object charges, where the shared partition
makes 17 x 288). The record's `owner` (set by CloudWatch Logs, not by the sender) still says
whose heartbeat it is.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import InputLogEventTypeDef

HEARTBEAT_LOG_GROUP = "/central-logging/heartbeat"
HEARTBEAT_LOG_STREAM = "heartbeat"
DEFAULT_HEARTBEAT_MINUTES = 5
# The account partition (`account=<value>/`) heartbeats and control messages are written to.
HEARTBEAT_PARTITION = "heartbeat"
# CloudWatch Logs' health checks of a destination (owner "CloudwatchLogs",
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html): no
# account's data, so they must not take a partition of their own either.
CONTROL_MESSAGE_TYPE = "CONTROL_MESSAGE"


def partition_key_query() -> str:
    """The JQ query (Firehose runs JQ 1.6) that names a record's partition, as
    `partition_of` does: the envelope's owner, or HEARTBEAT_PARTITION for heartbeats and
    control messages. Only fields CloudWatch Logs sets decide (message type, log group)."""
    return (
        f'{{owner: (if .messageType == "{CONTROL_MESSAGE_TYPE}" or '
        f'.logGroup == "{HEARTBEAT_LOG_GROUP}" then "{HEARTBEAT_PARTITION}" else .owner end)}}'
    )


def partition_of(envelope: dict[str, object]) -> object:
    """The partition Firehose writes `envelope` to (partition_key_query, in Python: for
    records redriven from the error prefix)."""
    if (
        envelope.get("messageType") == CONTROL_MESSAGE_TYPE
        or envelope.get("logGroup") == HEARTBEAT_LOG_GROUP
    ):
        return HEARTBEAT_PARTITION
    return envelope.get("owner")


def heartbeat_event(account: str, region: str, sent_at: datetime) -> dict[str, object]:
    """The event as design.md section 4 documents it."""
    return {
        "heartbeat": True,
        "account": account,
        "region": region,
        "sentAt": sent_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def send_heartbeat(
    client: CloudWatchLogsClient, account: str, region: str, now: datetime
) -> dict[str, object]:
    """Put one heartbeat event; creates the log stream if it is missing (first run, or
    someone deleted it), never the group, which the member stack owns."""
    event = heartbeat_event(account, region, now)
    entry: InputLogEventTypeDef = {
        "timestamp": int(now.timestamp() * 1000),
        "message": json.dumps(event),
    }
    try:
        client.put_log_events(
            logGroupName=HEARTBEAT_LOG_GROUP, logStreamName=HEARTBEAT_LOG_STREAM, logEvents=[entry]
        )
    except client.exceptions.ResourceNotFoundException:
        # A concurrent run may have created it meanwhile.
        with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
            client.create_log_stream(
                logGroupName=HEARTBEAT_LOG_GROUP, logStreamName=HEARTBEAT_LOG_STREAM
            )
        client.put_log_events(
            logGroupName=HEARTBEAT_LOG_GROUP, logStreamName=HEARTBEAT_LOG_STREAM, logEvents=[entry]
        )
    return event


def account_of(function_arn: str) -> str:
    """The account field of the invoked function's ARN (no STS call, no extra permission)."""
    parts = function_arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda" or not parts[4].isdigit():
        raise ValueError(f"the invoked function ARN {function_arn!r} is not a Lambda function ARN")
    return parts[4]


def handler(event: object, context: object) -> dict[str, object]:
    region = os.environ["AWS_REGION"]
    account = account_of(str(getattr(context, "invoked_function_arn", "")))
    client = boto3.session.Session().client("logs", region_name=region)
    return send_heartbeat(client, account, region, datetime.now(UTC))
