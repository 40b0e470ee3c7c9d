"""Subscribes a log group on its EventBridge "AWS API Call via CloudTrail" event: a new group
(CreateLogGroup), or one whose filters someone else changed (PutSubscriptionFilter,
DeleteSubscriptionFilter: drift, see components/drift.py), decided alike."""

from __future__ import annotations

import os

from handlers.core import (
    FAILED,
    IGNORED,
    STANDARD_CLASS,
    Result,
    Settings,
    json_logger,
    make_logs_client,
    read_account_policies,
    subscribe_log_group,
)

LOGGER = json_logger("central_logging.subscribe")
# The calls whose CloudTrail record names a log group to decide on.
EVENT_NAMES = ("CreateLogGroup", "PutSubscriptionFilter", "DeleteSubscriptionFilter")


def parse_event(event: object) -> tuple[str, str] | Result:
    """The log group a successful call of EVENT_NAMES named and its log class, or the
    `ignored` result saying why the event asks for nothing. Never raises, whatever the event
    holds."""
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict):
        return Result(None, IGNORED, "the event has no CloudTrail detail")
    parameters = detail.get("requestParameters")
    if not isinstance(parameters, dict):
        parameters = {}
    name = parameters.get("logGroupName")
    log_group = name if isinstance(name, str) and name else None
    if detail.get("eventSource") != "logs.amazonaws.com" or detail.get("eventName") not in (
        EVENT_NAMES
    ):
        return Result(
            log_group,
            IGNORED,
            f"the event is not a CloudWatch Logs call of {', '.join(EVENT_NAMES)}",
        )
    if "errorCode" in detail:
        # A failed call changed nothing (design section 6).
        return Result(log_group, IGNORED, f"the call failed with {detail['errorCode']}")
    if log_group is None:
        return Result(None, IGNORED, "the event names no log group")
    # CreateLogGroup's logGroupClass is STANDARD when absent (CloudWatch Logs API Reference,
    # CreateLogGroup). Any other value is passed on: an unknown class is tried.
    log_class = parameters.get("logGroupClass")
    return log_group, log_class if isinstance(log_class, str) and log_class else STANDARD_CLASS


def handler(event: object, context: object) -> dict[str, str | None]:
    settings = Settings.from_env(os.environ)
    parsed = parse_event(event)
    if isinstance(parsed, Result):
        result = parsed
    else:
        log_group, log_class = parsed
        client = make_logs_client(None, os.environ.get("AWS_REGION"))
        result = subscribe_log_group(
            client,
            log_group,
            settings,
            log_class=log_class,
            account_policies=lambda: read_account_policies(client),
        )
    LOGGER.info("log group handled", extra={"fields": result.as_dict()})
    if result.outcome == FAILED:
        # Raising makes Lambda retry the event, count an error (the subscriber-errors alarm)
        # and finally park it in the dead-letter queue; other outcomes are final.
        raise RuntimeError(
            f"Log group {result.log_group} was not subscribed: {result.detail.rstrip('.')}."
        )
    return result.as_dict()
