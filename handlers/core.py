"""Decide and apply the subscription of one log group to the central destination.

Shared by the Lambda handlers and the operator CLI. Deciding is pure (`decide`) and acting is
separate (`apply`), so a dry run or an audit reports exactly what a real run would do.

Rules (design section 4):
- Only filters this project owns are ever changed or deleted: the one named FILTER_NAME and
  any named in REPLACE_FILTER_NAMES.
- A filter delivers to the archive only if it is as configured in every field that decides
  what arrives (`delivery_differences`): destination, pattern, role, distribution,
  applyOnTransformedLogs, fieldSelectionCriteria, emitSystemFields. A filter of another owner
  counts as covering a log group only then: one with another pattern (say, one that never
  matches) or a role that cannot deliver does not. The project's own filter is always kept as
  configured, so a changed setting reaches every log group on the next sweep; one set in a
  field a put may not reset is deleted and put anew.
- A log group whose filter slots are all taken is reported as `limit-exceeded`. How many slots
  a log group has is left to AWS, which has raised the limit before.
- Only STANDARD log groups take subscription filters: one of a class known to take none is
  reported as `unsupported-class` without any filter call; one of a class this code does not
  know is tried, and AWS's refusal gives `unsupported-class` too.
- Dry runs and audits report `not-subscribed` for every log group that needs a write, with a
  detail saying what a real run would do.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Final

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import (
        AccountPolicyTypeDef,
        PutSubscriptionFilterRequestTypeDef,
        SubscriptionFilterTypeDef,
    )

# Outcomes: one vocabulary for the Lambda handlers, the CLI and reports.
SUBSCRIBED = "subscribed"
UPDATED = "updated"
ALREADY_SUBSCRIBED = "already-subscribed"
EXCLUDED = "excluded"
LIMIT_EXCEEDED = "limit-exceeded"
NOT_FOUND = "not-found"
IGNORED = "ignored"
FAILED = "failed"
UNSUPPORTED_CLASS = "unsupported-class"
NOT_SUBSCRIBED = "not-subscribed"
UNSUBSCRIBED = "unsubscribed"  # `central-logging unsubscribe` removed this project's filters
OUTCOMES = (
    SUBSCRIBED,
    UPDATED,
    ALREADY_SUBSCRIBED,
    EXCLUDED,
    LIMIT_EXCEEDED,
    NOT_FOUND,
    IGNORED,
    FAILED,
    UNSUPPORTED_CLASS,
    NOT_SUBSCRIBED,
    UNSUBSCRIBED,
)

# Log classes (DescribeLogGroups `logGroupClass`; CreateLogGroup's `logGroupClass`, STANDARD
# when absent). The subscription filter APIs answer every class but STANDARD with
# "ValidationException: This operation is only supported on the Standard log class." (design
# section 6; CloudWatch Logs User Guide, "Log classes").
STANDARD_CLASS = "STANDARD"
CLASSES_WITHOUT_FILTERS = frozenset({"INFREQUENT_ACCESS", "DELIVERY"})
_ONLY_STANDARD = "only supported on the Standard log class"

# Where each member account keeps, in every covered region, its destination ARN and the sender
# role its filters pass (written by the member stack, read by the CLI).
DESTINATION_PARAMETER = "/central-logging/destination-arn"
SENDER_ROLE_PARAMETER = "/central-logging/sender-role-arn"
# Beside them, the stack's subscription settings as one JSON object (filterName, filterPattern,
# excludeLogGroups, replaceFilterNames, subscriptionMode), so the CLI's defaults are the stack's.
SETTINGS_PARAMETER = "/central-logging/settings"
# Its value where the destinations list accounts: their filters pass no roleArn.
NO_SENDER_ROLE = "none"

# This project's functions in every member account-region (member stack and organization
# template alike, components/subscriber.py) and the description of its drift rule: while any
# of them exists there, a deleted filter of ours is put back.
FUNCTION_NAMES = ("central-logging-subscriber", "central-logging-reconciler")
DRIFT_RULE_DESCRIPTION = (
    "A subscription filter was put or deleted by another principal: check the log group"
)

# API quotas per account and region (design section 6); none of them is adjustable.
QUOTAS_PER_SECOND: Mapping[str, int] = {
    "DescribeLogGroups": 10,
    "DescribeSubscriptionFilters": 5,
    "PutSubscriptionFilter": 5,
    "DeleteSubscriptionFilter": 5,
}

# Attempts per call. Standard mode backs off with jitter, doubling up to 20 s: the seven
# retries wait up to 71 s in all (about 35 s on average), which outlasts the throttling that
# concurrent invocations cause.
MAX_ATTEMPTS = 8

_DESTINATION_ARN = re.compile(r"arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:destination:[^:*\s]{1,512}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_FILTER_NAME = re.compile(r"[^:*]{1,512}")
_MAX_FILTER_PATTERN = 1024


class SettingsError(ValueError):
    """A subscriber setting has a value that is not allowed."""


def _setting_error(variable: str, value: str | None, allowed: str) -> SettingsError:
    found = "it is not set" if value is None else f"got {value!r}"
    return SettingsError(f"{variable} must be {allowed}; {found}.")


def _json_strings(
    env: Mapping[str, str], variable: str, valid: Callable[[str], bool], allowed: str
) -> tuple[str, ...]:
    raw = env.get(variable, "")
    if not raw:
        return ()
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) and valid(v) for v in value):
        raise _setting_error(variable, raw, allowed)
    return tuple(value)


def _is_filter_name(name: str) -> bool:
    return _FILTER_NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class Settings:
    """What to subscribe to where; the subscriber Lambda reads it from its environment."""

    destination_arn: str
    sender_role_arn: str | None
    filter_name: str
    filter_pattern: str = ""
    exclude_patterns: tuple[str, ...] = ()
    replace_filter_names: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        destination_arn = env.get("DESTINATION_ARN")
        if destination_arn is None or not _DESTINATION_ARN.fullmatch(destination_arn):
            raise _setting_error(
                "DESTINATION_ARN",
                destination_arn,
                "the ARN of a CloudWatch Logs destination, "
                "arn:aws:logs:REGION:ACCOUNT:destination:NAME",
            )
        sender_role_arn = env.get("SENDER_ROLE_ARN") or None
        if sender_role_arn is not None and not _ROLE_ARN.fullmatch(sender_role_arn):
            raise _setting_error(
                "SENDER_ROLE_ARN",
                sender_role_arn,
                "empty or the ARN of an IAM role, arn:aws:iam::ACCOUNT:role/NAME",
            )
        filter_name = env.get("FILTER_NAME")
        if filter_name is None or not _is_filter_name(filter_name):
            raise _setting_error(
                "FILTER_NAME",
                filter_name,
                "a subscription filter name of 1 to 512 characters without ':' or '*'",
            )
        filter_pattern = env.get("FILTER_PATTERN", "")
        if len(filter_pattern) > _MAX_FILTER_PATTERN:
            raise _setting_error(
                "FILTER_PATTERN",
                filter_pattern,
                f"a filter pattern of at most {_MAX_FILTER_PATTERN} characters",
            )
        exclude_patterns = _json_strings(
            env,
            "EXCLUDE_PATTERNS",
            valid=bool,
            allowed='a JSON array of non-empty glob patterns, such as ["/aws/lambda/*"]',
        )
        replace_filter_names = _json_strings(
            env,
            "REPLACE_FILTER_NAMES",
            valid=_is_filter_name,
            allowed='a JSON array of subscription filter names, such as ["old-filter"]',
        )
        return cls(
            destination_arn=destination_arn,
            sender_role_arn=sender_role_arn,
            filter_name=filter_name,
            filter_pattern=filter_pattern,
            exclude_patterns=exclude_patterns,
            replace_filter_names=replace_filter_names,
        )

    @property
    def owned_filter_names(self) -> frozenset[str]:
        return frozenset((self.filter_name, *self.replace_filter_names))


def delivery_log_group_name(destination_name: str) -> str:
    """The log group where the delivery stream of a destination logs its delivery errors."""
    return f"/aws/kinesisfirehose/{destination_name}"


def delivery_log_groups(destination_arn: str, account_id: str) -> list[str]:
    """The log groups the delivery path of `destination_arn` writes in `account_id`: none
    unless that account owns the destination. They are never subscribed, or every delivery
    error would be delivered again, for ever (CloudWatch Logs User Guide, "Log recursion
    prevention", Subscriptions-recursion-prevention)."""
    _, _, _, _, owner, resource = destination_arn.split(":", 5)
    if owner != account_id:
        return []
    return [delivery_log_group_name(resource.removeprefix("destination:"))]


def _matching_exclude_pattern(log_group_name: str, patterns: Sequence[str]) -> str | None:
    return next((p for p in patterns if fnmatchcase(log_group_name, p)), None)


def is_excluded(log_group_name: str, patterns: Sequence[str]) -> bool:
    """Whether a glob pattern matches the whole name; case-sensitive, and `*` spans `/`."""
    return _matching_exclude_pattern(log_group_name, patterns) is not None


@dataclass(frozen=True)
class Decision:
    """What one log group needs, and the outcome once that is done."""

    log_group: str
    outcome: str
    detail: str
    # Filters this project owns under an earlier name: deleted before the put frees a slot.
    delete_filter_names: tuple[str, ...] = ()
    put_filter_name: str | None = None
    # Filters of other owners: never touched, named when they hold every slot.
    foreign_filter_names: tuple[str, ...] = ()

    @property
    def needs_write(self) -> bool:
        return bool(self.delete_filter_names) or self.put_filter_name is not None


@dataclass(frozen=True)
class Result:
    log_group: str | None  # None only for an ignored event that names no log group
    outcome: str
    detail: str = ""

    def as_dict(self) -> dict[str, str | None]:
        return {"logGroup": self.log_group, "outcome": self.outcome, "detail": self.detail}


# What a subscription filter delivers is decided by these fields of DescribeSubscriptionFilters'
# SubscriptionFilter besides the destination, pattern and role (CloudWatch Logs API Reference,
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_SubscriptionFilter.html
# and API_PutSubscriptionFilter.html), each with the value of a filter put without it, as this
# project puts its own: `distribution` defaults to ByLogStream; `applyOnTransformedLogs` to
# false (true sends the transformed events, which a member admin's transformer can empty);
# `fieldSelectionCriteria` (which events, by system fields) and `emitSystemFields` are absent.
DELIVERY_FIELD_DEFAULTS: Mapping[str, object] = {
    "distribution": "ByLogStream",
    "applyOnTransformedLogs": False,
    "fieldSelectionCriteria": "",
    "emitSystemFields": [],
}


# How a filter's field reads when AWS leaves it out of a description.
_ABSENT: Mapping[str, object] = {"filterPattern": "", "roleArn": None, **DELIVERY_FIELD_DEFAULTS}


def _field(subscription_filter: SubscriptionFilterTypeDef, field: str) -> object:
    found: Mapping[str, object] = subscription_filter
    return found.get(field) or _ABSENT.get(field)


def delivery_differences(
    subscription_filter: SubscriptionFilterTypeDef, settings: Settings
) -> list[str]:
    """The fields in which a filter does not deliver to the archive as configured: the one
    definition of "delivers to the archive" the sweep, the subscriber, drift repair and the CLI
    all use. An empty list: it delivers every event the configured filter would, as sent."""
    expected: Mapping[str, object] = {
        "destinationArn": settings.destination_arn,
        "filterPattern": settings.filter_pattern,
        "roleArn": settings.sender_role_arn,
        **DELIVERY_FIELD_DEFAULTS,
    }
    return [
        field
        for field, value in expected.items()
        if _field(subscription_filter, field) != (value or _ABSENT.get(field))
    ]


def _is_as_configured(subscription_filter: SubscriptionFilterTypeDef, settings: Settings) -> bool:
    return not delivery_differences(subscription_filter, settings)


def _needs_fresh_put(subscription_filter: SubscriptionFilterTypeDef) -> bool:
    """Whether a put over this filter may leave an optional field as it is: AWS documents no
    reset of a field a put omits, so a filter set in any of them is deleted and put anew."""
    return any(
        _field(subscription_filter, field) != default
        for field, default in DELIVERY_FIELD_DEFAULTS.items()
    )


# An account-level subscription filter policy (PutAccountPolicy, policyType
# SUBSCRIPTION_FILTER_POLICY) holds these attributes; Distribution "is only applicable when the
# destination is an Kinesis Data Streams data stream", not a logical destination, so it does
# not change what reaches the archive (CloudWatch Logs API Reference, PutAccountPolicy,
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutAccountPolicy.html).
_ACCOUNT_POLICY_FIELDS = {
    "DestinationArn": "destinationArn",
    "RoleArn": "roleArn",
    "FilterPattern": "filterPattern",
    "Distribution": None,
}
ACCOUNT_POLICY_TYPE: Final = "SUBSCRIPTION_FILTER_POLICY"
# Its selection criteria exclude log groups by exact name only (design section 6).
_NOT_IN = "LogGroupName NOT IN "


def account_policy_coverage(
    log_group: str, policies: Sequence[Mapping[str, Any]], settings: Settings
) -> Result | None:
    """`already-subscribed` if an account-level subscription filter policy of
    DescribeAccountPolicies delivers `log_group` to the archive as configured (by the same
    definition as a filter), else None. A policy document or selection this code cannot read
    covers nothing."""
    for policy in policies:
        try:
            document = json.loads(policy.get("policyDocument") or "")
        except ValueError:
            continue
        if not isinstance(document, dict) or not set(document) <= set(_ACCOUNT_POLICY_FIELDS):
            continue
        as_filter: Any = {
            field: document[key]
            for key, field in _ACCOUNT_POLICY_FIELDS.items()
            if field is not None and key in document
        }
        if delivery_differences(as_filter, settings) or not _selects(policy, log_group):
            continue
        return Result(
            log_group,
            ALREADY_SUBSCRIBED,
            f"account policy {policy.get('policyName')!r} delivers it to "
            f"{settings.destination_arn} exactly as configured",
        )
    return None


def read_account_policies(client: CloudWatchLogsClient) -> list[AccountPolicyTypeDef]:
    """The account-level subscription filter policies of the client's account-region (one at
    most, design section 6), read once per run rather than per log group; raises the error of
    a failed call (DescribeAccountPolicies, CloudWatch Logs API Reference,
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeAccountPolicies.html)."""
    policies: list[AccountPolicyTypeDef] = []
    token: str | None = None
    while True:
        page = (
            client.describe_account_policies(policyType=ACCOUNT_POLICY_TYPE, nextToken=token)
            if token
            else client.describe_account_policies(policyType=ACCOUNT_POLICY_TYPE)
        )
        policies.extend(page.get("accountPolicies", []))
        token = page.get("nextToken")
        if not token:
            return policies


def _selects(policy: Mapping[str, Any], log_group: str) -> bool:
    criteria = policy.get("selectionCriteria") or ""
    if not criteria:
        return True
    if not criteria.startswith(_NOT_IN):
        return False
    try:
        excluded = json.loads(criteria.removeprefix(_NOT_IN))
    except ValueError:
        return False
    return isinstance(excluded, list) and log_group not in excluded


def _writes_text(delete_names: Sequence[str], put_name: str | None, *, done: bool) -> str:
    delete_verb = "deleted" if done else "delete"
    steps = [f"{delete_verb} filter {name!r}" for name in delete_names]
    if put_name is not None:
        steps.append(f"put filter {put_name!r}")
    return ", then ".join(steps)


def decide(
    log_group: str, filters: Sequence[SubscriptionFilterTypeDef], settings: Settings
) -> Decision:
    """What `log_group` needs, given its current subscription filters. Pure."""
    owned = settings.owned_filter_names
    pattern = _matching_exclude_pattern(log_group, settings.exclude_patterns)
    if pattern is not None:
        # An exclusion added later (say, a log group found feeding the delivery path back
        # into itself) also removes the filters this project put there.
        ours_there = tuple(n for f in filters if (n := f.get("filterName", "")) in owned)
        return Decision(
            log_group,
            EXCLUDED,
            f"matches exclude pattern {pattern!r}",
            delete_filter_names=ours_there,
        )
    ours = next((f for f in filters if f.get("filterName") == settings.filter_name), None)
    ours_as_configured = ours is not None and _is_as_configured(ours, settings)
    retired = tuple(
        name
        for f in filters
        if (name := f.get("filterName", "")) in owned and name != settings.filter_name
    )
    foreign = [f for f in filters if f.get("filterName", "") not in owned]
    if ours_as_configured and not retired:
        return Decision(
            log_group,
            ALREADY_SUBSCRIBED,
            f"filter {settings.filter_name!r} already delivers to {settings.destination_arn}",
        )
    if ours is None and not retired:
        for f in foreign:
            if _is_as_configured(f, settings):
                return Decision(
                    log_group,
                    ALREADY_SUBSCRIBED,
                    f"filter {f.get('filterName')!r} of another owner already delivers to "
                    f"{settings.destination_arn} exactly as configured",
                )
    if ours is not None and _needs_fresh_put(ours):
        retired = (settings.filter_name, *retired)
    put_name = None if ours_as_configured else settings.filter_name
    return Decision(
        log_group,
        UPDATED if ours is not None or retired else SUBSCRIBED,
        _writes_text(retired, put_name, done=False),
        delete_filter_names=retired,
        put_filter_name=put_name,
        foreign_filter_names=tuple(f.get("filterName", "") for f in foreign),
    )


def unsupported_class(log_group: str, log_class: str) -> Result:
    """The outcome for a log group whose class takes no subscription filters."""
    return Result(
        log_group,
        UNSUPPORTED_CLASS,
        f"log class {log_class} takes no subscription filters; only {STANDARD_CLASS} does",
    )


def error_result(
    log_group: str,
    error: ClientError | BotoCoreError,
    log_class: str = STANDARD_CLASS,
    *,
    names_destination: bool = False,
) -> Result:
    """The outcome of a call that failed: `not-found` for a missing log group,
    `unsupported-class` where AWS refuses a log group's class other than STANDARD, else
    `failed`.

    A call that `names_destination` (PutSubscriptionFilter) also answers
    ResourceNotFoundException for a missing destination: that fails every log group until
    fixed, so it is `failed`; only AWS's "The specified log group does not exist." is
    `not-found` there.
    """
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Unknown")
        message = error.response.get("Error", {}).get("Message", "")
        refused_class = code == "ValidationException" and _ONLY_STANDARD in message
        if refused_class and log_class != STANDARD_CLASS:
            return unsupported_class(log_group, log_class)
        log_group_gone = code == "ResourceNotFoundException" and (
            not names_destination or "log group" in message.lower()
        )
        return Result(log_group, NOT_FOUND if log_group_gone else FAILED, f"{code}: {message}")
    return Result(log_group, FAILED, f"{type(error).__name__}: {error}")


def _put_arguments(
    log_group: str, filter_name: str, settings: Settings
) -> PutSubscriptionFilterRequestTypeDef:
    arguments: PutSubscriptionFilterRequestTypeDef = {
        "logGroupName": log_group,
        "filterName": filter_name,
        "filterPattern": settings.filter_pattern,
        "destinationArn": settings.destination_arn,
    }
    if settings.sender_role_arn is not None:
        arguments["roleArn"] = settings.sender_role_arn
    return arguments


def apply(
    client: CloudWatchLogsClient, decision: Decision, settings: Settings, *, dry_run: bool = False
) -> Result:
    """Carry out a decision: delete the retired owned filters, then put ours. Never raises
    for an AWS error; the result says what happened."""
    if not decision.needs_write:
        return Result(decision.log_group, decision.outcome, decision.detail)
    if dry_run:
        if decision.outcome == EXCLUDED:
            steps = _writes_text(decision.delete_filter_names, None, done=False)
            return Result(decision.log_group, EXCLUDED, f"{decision.detail}; would {steps}")
        return Result(decision.log_group, NOT_SUBSCRIBED, f"would {decision.detail}")
    try:
        for name in decision.delete_filter_names:
            client.delete_subscription_filter(logGroupName=decision.log_group, filterName=name)
    except (ClientError, BotoCoreError) as error:
        return error_result(decision.log_group, error)
    if decision.put_filter_name is not None:
        try:
            client.put_subscription_filter(
                **_put_arguments(decision.log_group, decision.put_filter_name, settings)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "LimitExceededException":
                return error_result(decision.log_group, error, names_destination=True)
            holders = (
                "filters of other owners: " + ", ".join(map(repr, decision.foreign_filter_names))
                if decision.foreign_filter_names
                else "filters added since the log group was read"
            )
            return Result(
                decision.log_group,
                LIMIT_EXCEEDED,
                f"every subscription filter slot is taken by {holders}",
            )
        except BotoCoreError as error:
            return error_result(decision.log_group, error)
    done = _writes_text(decision.delete_filter_names, decision.put_filter_name, done=True)
    if decision.outcome == EXCLUDED:
        return Result(decision.log_group, EXCLUDED, f"{decision.detail}; {done}")
    return Result(decision.log_group, decision.outcome, done)


def unsubscribe(
    client: CloudWatchLogsClient,
    log_group: str,
    filters: Sequence[SubscriptionFilterTypeDef],
    owned_filter_names: frozenset[str],
    *,
    dry_run: bool = False,
) -> Result:
    """Delete this project's own filters (exact names) from a log group; never another's."""
    ours = tuple(n for f in filters if (n := f.get("filterName", "")) in owned_filter_names)
    if not ours:
        return Result(log_group, NOT_SUBSCRIBED, "holds no filter of this project")
    if dry_run:
        return Result(
            log_group, ALREADY_SUBSCRIBED, f"would {_writes_text(ours, None, done=False)}"
        )
    try:
        for name in ours:
            client.delete_subscription_filter(logGroupName=log_group, filterName=name)
    except (ClientError, BotoCoreError) as error:
        return error_result(log_group, error)
    return Result(log_group, UNSUBSCRIBED, _writes_text(ours, None, done=True))


def describe_filters(
    client: CloudWatchLogsClient, log_group: str
) -> list[SubscriptionFilterTypeDef]:
    """Every subscription filter of a log group; raises the ClientError of a failed call."""
    filters: list[SubscriptionFilterTypeDef] = []
    paginator = client.get_paginator("describe_subscription_filters")
    for page in paginator.paginate(logGroupName=log_group):
        filters.extend(page.get("subscriptionFilters", []))
    return filters


def subscribe_log_group(
    client: CloudWatchLogsClient,
    log_group: str,
    settings: Settings,
    dry_run: bool = False,
    log_class: str = STANDARD_CLASS,
    account_policies: Callable[[], Sequence[AccountPolicyTypeDef]] = tuple,
) -> Result:
    """Describe, decide and apply for one log group of class `log_class`. A log group that an
    account policy delivers as configured gets no filter: with one, every event would arrive
    twice. `account_policies` gives the account's policies (`read_account_policies`), and is
    called only for a log group that could take a filter."""
    if log_class in CLASSES_WITHOUT_FILTERS:
        return unsupported_class(log_group, log_class)
    if not is_excluded(log_group, settings.exclude_patterns):
        try:
            covered = account_policy_coverage(log_group, account_policies(), settings)
        except (ClientError, BotoCoreError) as error:
            detail = error_result(log_group, error).detail
            return Result(log_group, FAILED, f"could not read account policies: {detail}")
        if covered:
            return covered
    try:
        filters = describe_filters(client, log_group)
    except (ClientError, BotoCoreError) as error:
        return error_result(log_group, error, log_class)
    return apply(client, decide(log_group, filters, settings), settings, dry_run=dry_run)


class RateLimiter:
    """Token bucket, thread-safe: up to `burst` calls at once, `rate_per_second` on average.

    Any one-second window holds at most `burst + rate_per_second - 1` calls (integer values);
    with a burst of 1 that is exactly the rate, which is how `quota_limiters` stays under a
    per-second quota.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError(
                "A rate limiter needs a rate above 0 and a burst of at least 1; "
                f"got rate {rate_per_second} and burst {burst}."
            )
        self._rate = rate_per_second
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    def acquire(self) -> None:
        """Wait until a call is within budget, and book it."""
        # Waiting while holding the lock queues callers: each gets the next token in turn.
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            wait = (1 - self._tokens) / self._rate
            self._sleep(wait)
            # The token that came due after `wait` is taken. Booking it at its due time rather
            # than re-reading the clock leaves no float remainder to wait for again, and any
            # time overslept is credited at the next call.
            self._tokens = 0.0
            self._updated = now + wait


def quota_limiters(
    clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
) -> dict[str, RateLimiter]:
    """One limiter per paced operation, each keeping to its per-second quota."""
    return {
        operation: RateLimiter(rate, burst=1, clock=clock, sleep=sleep)
        for operation, rate in QUOTAS_PER_SECOND.items()
    }


def _pacer(limiter: RateLimiter) -> Callable[..., None]:
    def wait_for_budget(**_: Any) -> None:
        limiter.acquire()

    return wait_for_budget


def _full_slots_are_final(client: CloudWatchLogsClient) -> Callable[..., None]:
    """A needs-retry handler for PutSubscriptionFilter: LimitExceededException there means
    every filter slot of the log group is taken, which no retry can change.

    botocore counts that code as throttling. Returning False from this handler would stop the
    retry, but botocore still runs its own retry handler afterwards, which books the error
    against the client's retry quota (5 of 500 tokens each); a sweep meeting many full log
    groups would drain it and then stop retrying real throttling. Raising the modeled error,
    exactly as botocore would raise it, ends the call here with no retry bookkeeping.
    """

    def raise_at_once(response: tuple[Any, Any] | None, **_: Any) -> None:
        if response is None:
            return
        parsed = response[1]
        if parsed.get("Error", {}).get("Code") == "LimitExceededException":
            raise client.exceptions.LimitExceededException(parsed, "PutSubscriptionFilter")

    return raise_at_once


def unseen_delivery_fields(client: CloudWatchLogsClient) -> list[str]:
    """The fields of DELIVERY_FIELD_DEFAULTS this client's API model does not know."""
    known = client.meta.service_model.shape_for("SubscriptionFilter").members  # type: ignore[attr-defined]
    return [field for field in DELIVERY_FIELD_DEFAULTS if field not in known]


def make_logs_client(
    session: boto3.session.Session | None,
    region: str | None,
    *,
    limiters: Mapping[str, RateLimiter] | None = None,
) -> CloudWatchLogsClient:
    """A CloudWatch Logs client that retries throttling with backoff, reports full filter
    slots at once, and paces each operation in `limiters` (every attempt counts)."""
    client = (session or boto3.session.Session()).client(
        "logs",
        region_name=region,
        config=Config(retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}),
    )
    unseen = unseen_delivery_fields(client)
    if unseen:
        # botocore drops response fields its model lacks: such a client would take a filter
        # set in one of them for one as configured.
        raise RuntimeError(
            f"This botocore {botocore.__version__} does not know the subscription filter "
            f"field(s) {', '.join(unseen)}, so it cannot see them set; use a newer boto3."
        )
    events = client.meta.events
    events.register_first(
        "needs-retry.cloudwatch-logs.PutSubscriptionFilter", _full_slots_are_final(client)
    )
    for operation, limiter in (limiters or {}).items():
        events.register(f"before-send.cloudwatch-logs.{operation}", _pacer(limiter))
    return client


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record; the `fields` mapping passed in `extra` is merged in."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StdoutLines(logging.Handler):
    # Resolves sys.stdout at each record (Lambda sends stdout to the function's log stream).
    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def json_logger(name: str) -> logging.Logger:
    """A logger writing one JSON object per line to stdout, apart from the Lambda runtime's
    own text format on the root logger."""
    logger = logging.getLogger(name)
    if not any(isinstance(handler, _StdoutLines) for handler in logger.handlers):
        handler = _StdoutLines()
        handler.setFormatter(JsonLineFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger
