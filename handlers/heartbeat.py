"""Writes one heartbeat event into this account-region's heartbeat log group.

The group is subscribed like any other, so a heartbeat in the archive proves that the whole
path (subscription, destination, stream, bucket) works for this account and region; the
logging stack's freshness check (handlers/freshness.py) notices when they stop arriving.
Run every 5 minutes by an EventBridge schedule.
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
HEARTBEAT_INTERVAL_SECONDS = 300


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
