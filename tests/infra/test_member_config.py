"""Every bad member-stack value stops the program with one sentence, before any resource."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.config import SCHEDULE_RE, ConfigError, account_policy_selection, parse_member
from handlers.core import delivery_log_group_name
from tests.infra.harness import config_error

STACK = "example-org/central-logging/logging"
BASE = {"role": "member", "loggingStack": STACK}

CASES = [
    (
        {"loggingStack": None},
        "central-logging:loggingStack is not set; set it to the logging stack as "
        "org/project/stack.",
    ),
    (
        {"loggingStack": "logging"},
        "central-logging:loggingStack is 'logging'; it must be a stack name as org/project/stack.",
    ),
    (
        {"subscriptionMode": "policy"},
        "central-logging:subscriptionMode is 'policy'; allowed values are lambda, account-policy.",
    ),
    (
        {"filterName": "central:logging"},
        "central-logging:filterName is 'central:logging'; it must be 1 to 512 characters "
        "without : or *.",
    ),
    (
        {"filterName": "x" * 513},
        f"central-logging:filterName is '{'x' * 513}'; it must be 1 to 512 characters without "
        ": or *.",
    ),
    (
        {"subscriptionMode": "account-policy", "filterName": "aws/central-logging"},
        "central-logging:filterName is 'aws/central-logging'; an account policy name cannot "
        "start with aws/.",
    ),
    (
        {"filterPattern": "E" * 1025},
        f"central-logging:filterPattern is '{'E' * 40}...'; it must be at most 1024 characters.",
    ),
    (
        {"excludeLogGroups": ["/aws/lambda/ok", "bad group"]},
        "central-logging:excludeLogGroups is 'bad group'; each entry must be a log group name "
        "or glob pattern.",
    ),
    (
        {"subscriptionMode": "account-policy", "excludeLogGroups": ["/aws/lambda/*"]},
        "central-logging:excludeLogGroups is '/aws/lambda/*'; subscriptionMode account-policy "
        "takes exact log group names only, no glob patterns.",
    ),
    (
        {"excludeLogGroups": ["/aws/lambda/*", "/central-logging/*"]},
        "central-logging:excludeLogGroups is '/central-logging/*'; it matches "
        "/central-logging/heartbeat, whose heartbeats prove that this account delivers; that "
        "group is never excluded.",
    ),
    (
        {"subscriptionMode": "account-policy", "excludeLogGroups": ["/central-logging/heartbeat"]},
        "central-logging:excludeLogGroups is '/central-logging/heartbeat'; it matches "
        "/central-logging/heartbeat, whose heartbeats prove that this account delivers; that "
        "group is never excluded.",
    ),
    (
        {"replaceFilterNames": ["Legacy*"]},
        "central-logging:replaceFilterNames is 'Legacy*'; each entry must be a filter name of 1 "
        "to 512 characters without : or *.",
    ),
    (
        {"replaceFilterNames": ["central-logging"]},
        "central-logging:replaceFilterNames is 'central-logging'; it must not contain "
        "filterName itself.",
    ),
    (
        {"replaceFilterNames": ["Legacy", "Legacy"]},
        "central-logging:replaceFilterNames is 'Legacy'; each entry may appear only once.",
    ),
    (
        {"reconcileSchedule": "every 6 hours"},
        "central-logging:reconcileSchedule is 'every 6 hours'; it must be an EventBridge "
        "schedule such as rate(6 hours) or cron(0 3 * * ? *), or off.",
    ),
    (
        {"reconcileSchedule": "rate(1 hours)"},
        "central-logging:reconcileSchedule is 'rate(1 hours)'; it must be an EventBridge "
        "schedule such as rate(6 hours) or cron(0 3 * * ? *), or off.",
    ),
    (
        {"regions": ["eu-west-1", "EU-WEST-2"]},
        "central-logging:regions is 'EU-WEST-2'; each entry must be an AWS region name such as "
        "eu-west-1.",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), CASES)
def test_bad_value_stops_the_program_before_any_resource(
    overrides: dict[str, object], message: str
) -> None:
    config = {k: v for k, v in {**BASE, **overrides}.items() if v is not None}
    assert config_error(config, account_id="111111111111") == message


def test_defaults_match_the_documented_contract() -> None:
    settings = parse_member({"loggingStack": STACK}, "eu-west-1")
    assert settings.regions == ("eu-west-1",)
    assert settings.subscription_mode == "lambda"
    assert settings.filter_name == "central-logging"
    assert settings.filter_pattern == ""
    assert settings.exclude_log_groups == () and settings.replace_filter_names == ()
    assert settings.reconcile_schedule == "rate(1 day)"
    assert (
        parse_member(
            {"loggingStack": STACK, "reconcileSchedule": "off"}, "eu-west-1"
        ).reconcile_schedule
        is None
    )


@given(st.integers(min_value=2, max_value=10_000), st.sampled_from(["minutes", "hours", "days"]))
def test_every_plural_rate_is_accepted(value: int, unit: str) -> None:
    assert SCHEDULE_RE.fullmatch(f"rate({value} {unit})")
    assert not SCHEDULE_RE.fullmatch(f"rate({value} {unit[:-1]})")


@pytest.mark.parametrize(
    "schedule", ["rate(1 minute)", "rate(1 day)", "cron(0 3 * * ? *)", "cron(0/15 * ? * MON-FRI *)"]
)
def test_valid_schedules_are_accepted(schedule: str) -> None:
    settings = parse_member({"loggingStack": STACK, "reconcileSchedule": schedule}, "eu-west-1")
    assert settings.reconcile_schedule == schedule


# Exact names of 90 characters: about 250 fit in an account policy's selection criteria.
MANY_GROUPS = [f"/app/{i:05d}/" + "y" * 79 for i in range(400)]


def accepted(count: int, mode: str = "account-policy") -> bool:
    values = {
        "loggingStack": STACK,
        "subscriptionMode": mode,
        "excludeLogGroups": json.dumps(MANY_GROUPS[:count]),
    }
    try:
        parse_member(values, "eu-west-1")
    except ConfigError:
        return False
    return True


def test_account_policy_exclusions_fit_in_25_kb_with_the_logging_accounts_group() -> None:
    fits = max(n for n in range(len(MANY_GROUPS)) if accepted(n))
    assert 200 < fits < len(MANY_GROUPS) - 1
    # The most that is accepted still fits AWS's limit after the logging account adds its
    # delivery log group of the longest destinationName (491 characters).
    longest = delivery_log_group_name("d" * 491)
    criteria = account_policy_selection([*MANY_GROUPS[:fits], longest])
    assert criteria is not None and len(criteria.encode()) <= 25 * 1024
    # Lambda mode has its own limit, the functions' environment (tests/infra/test_limits.py).

    message = config_error(
        {
            **BASE,
            "subscriptionMode": "account-policy",
            "excludeLogGroups": MANY_GROUPS[: fits + 1],
        },
        account_id="111111111111",
    )
    size = len((account_policy_selection(MANY_GROUPS[: fits + 1]) or "").encode())
    assert message == (
        f"central-logging:excludeLogGroups has {fits + 1} names, which make the account "
        f"policy's selection criteria {size} bytes; at most 25084 fit (AWS allows 25600, less "
        "room for the logging account's delivery log group): exclude fewer log groups, or use "
        "subscriptionMode lambda, which takes glob patterns."
    )
