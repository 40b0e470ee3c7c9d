"""Every bad organization-stack value stops the program with one sentence, before any
resource; the member keys keep their meaning and their checks."""

from __future__ import annotations

import json

import pytest

from components.config import ConfigError, parse_member, parse_organization
from tests.infra.harness import config_error

STACK = "example-org/central-logging/logging"
BASE = {"role": "organization", "loggingStack": STACK}

CASES = [
    (
        {"loggingStack": None},
        "central-logging:loggingStack is not set; set it to the logging stack as "
        "org/project/stack.",
    ),
    (
        {"organizationalUnitIds": ["ou-ab12-34cd56ef", "o-exampleorgid"]},
        "central-logging:organizationalUnitIds is 'o-exampleorgid'; each entry must be an "
        "organizational unit ID (ou-...) or the root ID (r-...).",
    ),
    (
        {"organizationalUnitIds": ["OU-AB12-34CD56EF"]},
        "central-logging:organizationalUnitIds is 'OU-AB12-34CD56EF'; each entry must be an "
        "organizational unit ID (ou-...) or the root ID (r-...).",
    ),
    (
        {"organizationalUnitIds": "ou-ab12-34cd56ef"},
        "central-logging:organizationalUnitIds is 'ou-ab12-34cd56ef'; it must be a list, each "
        "entry an organizational unit ID (ou-...) or the root ID (r-...).",
    ),
    (
        {"organizationalUnitIds": ["r-ab12", "r-ab12"]},
        "central-logging:organizationalUnitIds is 'r-ab12'; each entry may appear only once.",
    ),
    (
        {"excludeAccounts": ["11111111111"]},
        "central-logging:excludeAccounts is '11111111111'; each entry must be a 12-digit "
        "account ID.",
    ),
    (
        {"excludeAccounts": [111111111111]},
        "central-logging:excludeAccounts is 111111111111; write each account ID in quotes, "
        'such as "012345678901", since YAML reads an unquoted one as a number and drops its '
        "leading zeros.",
    ),
    (
        {"callAs": "self"},
        "central-logging:callAs is 'self'; allowed values are SELF, DELEGATED_ADMIN.",
    ),
    (
        {"maxConcurrentPercentage": 0},
        "central-logging:maxConcurrentPercentage is '0'; it must be a whole number from 1 to 100.",
    ),
    (
        {"maxConcurrentPercentage": "25%"},
        "central-logging:maxConcurrentPercentage is '25%'; it must be a whole number from 1 to "
        "100.",
    ),
    (
        {"failureTolerancePercentage": 101},
        "central-logging:failureTolerancePercentage is '101'; it must be a whole number from 0 "
        "to 100.",
    ),
    (
        {"failureTolerancePercentage": -1},
        "central-logging:failureTolerancePercentage is '-1'; it must be a whole number from 0 "
        "to 100.",
    ),
    (
        {"memberAlarms": "yes"},
        "central-logging:memberAlarms is 'yes'; it must be true or false.",
    ),
    (
        {"alarmEmail": "ops@example.com"},
        "central-logging:alarmEmail is 'ops@example.com'; the organization role's alarms live "
        "in each member account, where no topic of this stack can be notified, so leave it "
        "unset.",
    ),
    (
        {"alarmTopicArn": "arn:aws:sns:eu-west-1:222222222222:alarms"},
        "central-logging:alarmTopicArn is 'arn:aws:sns:eu-west-1:222222222222:alarms'; the "
        "organization role's alarms live in each member account, where no topic of this stack "
        "can be notified, so leave it unset.",
    ),
    # The member keys, checked as in a member stack.
    (
        {"subscriptionMode": "stackset"},
        "central-logging:subscriptionMode is 'stackset'; allowed values are lambda, "
        "account-policy.",
    ),
    (
        {"subscriptionMode": "account-policy", "excludeLogGroups": ["/aws/lambda/*"]},
        "central-logging:excludeLogGroups is '/aws/lambda/*'; subscriptionMode account-policy "
        "takes exact log group names only, no glob patterns.",
    ),
    (
        {"filterName": "central:logging"},
        "central-logging:filterName is 'central:logging'; it must be 1 to 512 characters "
        "without : or *.",
    ),
    (
        {"replaceFilterNames": ["central-logging"]},
        "central-logging:replaceFilterNames is 'central-logging'; it must not contain "
        "filterName itself.",
    ),
    (
        {"reconcileSchedule": "daily"},
        "central-logging:reconcileSchedule is 'daily'; it must be an EventBridge schedule such "
        "as rate(6 hours) or cron(0 3 * * ? *), or off.",
    ),
    (
        {"regions": ["eu-west-1", "moon-east-1"]},
        "central-logging:regions is 'moon-east-1'; each entry must be an AWS region name such "
        "as eu-west-1.",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), CASES)
def test_bad_value_stops_the_program_before_any_resource(
    overrides: dict[str, object], message: str
) -> None:
    config = {k: v for k, v in {**BASE, **overrides}.items() if v is not None}
    assert config_error(config, account_id="222222222222") == message


def test_defaults_are_safe_for_a_large_organisation() -> None:
    settings = parse_organization({"loggingStack": STACK}, "eu-west-1")
    assert settings.organizational_unit_ids == ()  # the root, looked up at deploy time
    assert settings.exclude_accounts == ()
    assert settings.call_as == "SELF"
    # A quarter of the accounts at a time, and a bad tenth stops the rollout in a region.
    assert settings.max_concurrent_percentage == 25
    assert settings.failure_tolerance_percentage == 10
    assert settings.member.regions == ("eu-west-1",)
    assert settings.member.subscription_mode == "lambda"
    assert settings.member.alarms.topic_arn is None and settings.member.alarms.email is None
    assert settings.member_alarms is False


def test_values_are_read() -> None:
    settings = parse_organization(
        {
            "loggingStack": STACK,
            "organizationalUnitIds": '["ou-ab12-34cd56ef", "r-ab12"]',
            "excludeAccounts": '["111111111111"]',
            "callAs": "DELEGATED_ADMIN",
            "maxConcurrentPercentage": "100",
            "failureTolerancePercentage": "0",
            "memberAlarms": "true",
        },
        "eu-west-1",
    )
    assert settings.organizational_unit_ids == ("ou-ab12-34cd56ef", "r-ab12")
    assert settings.exclude_accounts == ("111111111111",)
    assert settings.call_as == "DELEGATED_ADMIN"
    assert (settings.max_concurrent_percentage, settings.failure_tolerance_percentage) == (100, 0)
    assert settings.member_alarms is True


def test_account_policy_exclusions_that_would_not_fit_the_stack_set_twice_are_refused() -> None:
    names = [f"/app/{i:04d}/" + "n" * 490 for i in range(30)]
    values = {
        "loggingStack": STACK,
        "subscriptionMode": "account-policy",
        "excludeLogGroups": json.dumps(names),
    }
    # A member stack takes them (its settings are SSM parameters, not a template body) ...
    parse_member(values, "eu-west-1")
    # ... an organization stack, whose template holds them twice, does not.
    with pytest.raises(ConfigError) as raised:
        parse_organization(values, "eu-west-1")
    assert str(raised.value).startswith(
        "central-logging:excludeLogGroups has 30 names, which make the account policy's "
        "selection criteria 15"
    )
    assert "an organization stack fits at most 12288" in str(raised.value)
