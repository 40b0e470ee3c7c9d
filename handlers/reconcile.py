"""Sweeps every log group of the function's region, paced under the API quotas.

Before the Lambda time limit runs out, the sweep invokes its own function asynchronously with
a cursor (the DescribeLogGroups page token and the counts so far), so any number of log groups
is covered. A sweep only writes where a log group needs it: a second full sweep writes nothing.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import TYPE_CHECKING, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from handlers.core import (
    FAILED,
    LIMIT_EXCEEDED,
    OUTCOMES,
    STANDARD_CLASS,
    Settings,
    json_logger,
    make_logs_client,
    quota_limiters,
    read_account_policies,
    subscribe_log_group,
)

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient

LOGGER = json_logger("central_logging.reconcile")

PAGE_SIZE = 50  # the most DescribeLogGroups returns per page
# Time kept in hand when deciding whether another page fits. A page of 50 log groups takes
# about 20 s at 5 DescribeSubscriptionFilters and 5 PutSubscriptionFilter calls per second;
# the rest is room for retries and for the continuing invocation itself.
SAFETY_MARGIN_MS = 60_000


class LambdaContext(Protocol):
    @property
    def invoked_function_arn(self) -> str: ...

    def get_remaining_time_in_millis(self) -> int: ...


def read_cursor(event: object) -> tuple[str | None, Counter[str]]:
    """Where an earlier invocation of this sweep stopped: the next page token and the counts
    so far; (None, no counts) for a new sweep."""
    if not isinstance(event, dict) or "cursor" not in event:
        return None, Counter()
    cursor = event["cursor"]
    if isinstance(cursor, dict) and set(cursor) == {"nextToken", "counts"}:
        token, counts = cursor["nextToken"], cursor["counts"]
        if (
            isinstance(token, str)
            and token
            and isinstance(counts, dict)
            and all(
                outcome in OUTCOMES and type(count) is int and count >= 0
                for outcome, count in counts.items()
            )
        ):
            return token, Counter(counts)
    raise ValueError(
        'The event\'s cursor must be {"nextToken": a non-empty string, "counts": '
        f"{{outcome: count}}}}; got {json.dumps(cursor, default=str)}."
    )


def _continue_sweep(
    lambda_client: LambdaClient, function_arn: str, next_token: str, counts: Counter[str]
) -> None:
    payload = {"cursor": {"nextToken": next_token, "counts": dict(counts)}}
    try:
        lambda_client.invoke(
            FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(payload)
        )
    except (ClientError, BotoCoreError) as error:
        LOGGER.error(
            "sweep stopped",
            extra={"fields": {"counts": dict(counts), "continued": False, "nextToken": next_token}},
        )
        raise RuntimeError(
            f"The sweep could not continue itself by invoking {function_arn}: {error}"
        ) from error


def sweep(
    event: object,
    context: LambdaContext,
    *,
    settings: Settings,
    logs_client: CloudWatchLogsClient,
    lambda_client: LambdaClient,
) -> dict[str, int]:
    """Subscribe every log group from the event's cursor on; returns the counts per outcome
    of the whole sweep so far."""
    next_token, counts = read_cursor(event)
    continued = False
    # Once per invocation: a log group the account policy delivers gets no filter of ours.
    account_policies = read_account_policies(logs_client)
    while True:
        page = (
            logs_client.describe_log_groups(limit=PAGE_SIZE, nextToken=next_token)
            if next_token
            else logs_client.describe_log_groups(limit=PAGE_SIZE)
        )
        for group in page.get("logGroups", []):
            result = subscribe_log_group(
                logs_client,
                group["logGroupName"],
                settings,
                log_class=group.get("logGroupClass", STANDARD_CLASS),
                account_policies=lambda: account_policies,
            )
            counts[result.outcome] += 1
            if result.outcome in (LIMIT_EXCEEDED, FAILED):
                LOGGER.warning("log group not covered", extra={"fields": result.as_dict()})
        next_token = page.get("nextToken")
        if not next_token:
            break
        # Checked only after a page: every invocation makes progress, so a short time limit
        # cannot make the sweep hand itself on forever.
        if context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS:
            _continue_sweep(lambda_client, context.invoked_function_arn, next_token, counts)
            continued = True
            break
    summary: dict[str, object] = {"counts": dict(counts), "continued": continued}
    if not continued:
        # One number for the member stack's metric filter: log groups left without delivery
        # that this project could deliver (not those of a class that takes no filters).
        summary["uncovered"] = counts[LIMIT_EXCEEDED] + counts[FAILED]
    LOGGER.info("sweep continues" if continued else "sweep finished", extra={"fields": summary})
    return dict(counts)


def handler(event: object, context: LambdaContext) -> dict[str, int]:
    region = os.environ.get("AWS_REGION")
    session = boto3.session.Session()
    return sweep(
        event,
        context,
        settings=Settings.from_env(os.environ),
        logs_client=make_logs_client(session, region, limiters=quota_limiters()),
        lambda_client=session.client("lambda", region_name=region),
    )
