"""The central coverage check in the logging stack: its settings, function, role and alarms."""

from __future__ import annotations

import functools
import json
from typing import Any

import parliament
import pytest

from components import policies
from tests.infra.harness import LOGGING_ACCOUNT_ID, ORG_ID, Run, config_error, run_program
from tests.infra.test_archive_protection import DEPLOYER, MEMBER_ROLE, denied
from tests.infra.test_deploy_permissions import allowed
from tests.infra.test_deploy_permissions import policy as deploy_policy
from tests.infra.test_policies_lint import known

ORGANIZATION_ROLE = "arn:aws:iam::222222222222:role/central-logging-list-accounts"
REGIONS = ["eu-west-1", "us-east-1"]
COVERAGE = {
    "role": "logging",
    "organizationId": ORG_ID,
    "regions": REGIONS,
    "organizationReaderRoleArn": ORGANIZATION_ROLE,
    "coverageCheck": True,
    "coverageFilterPattern": "-DEBUG",
    "coverageExcludeLogGroups": ["/aws/lambda/noisy-*"],
    "exemptAccounts": ["222222222222"],
}
FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


@functools.cache
def logging_stack() -> Run:
    return run_program(COVERAGE)


def test_the_check_runs_daily_in_the_home_region_with_the_logging_side_s_own_settings() -> None:
    run = logging_stack()
    function = run.one(FUNCTION, "central-coverage-function")
    assert function.inputs["name"] == "central-logging-coverage"
    assert function.inputs["region"] == "eu-west-1"
    assert function.inputs["handler"] == "handlers.coverage.handler"
    assert function.inputs["timeout"] == 900
    variables = function.inputs["environment"]["variables"]
    destinations = {
        region: f"arn:aws:logs:{region}:{LOGGING_ACCOUNT_ID}:destination:CentralLogDestination"
        for region in REGIONS
    }
    assert json.loads(variables["DESTINATION_ARNS"]) == destinations
    assert variables["ORGANIZATION_ROLE_ARN"] == ORGANIZATION_ROLE
    assert variables["READER_ROLE_NAME"] == "central-logging-coverage-reader"
    # The role the organization stack puts in every account.
    assert variables["SENDER_ROLE_NAME"] == "central-logging-sender"
    assert variables["FILTER_PATTERN"] == "-DEBUG"
    assert json.loads(variables["EXCLUDE_PATTERNS"]) == ["/aws/lambda/noisy-*"]
    assert json.loads(variables["EXCLUDE_ACCOUNTS"]) == ["222222222222"]
    assert variables["REPORT_PREFIX"] == "coverage/"
    rule = run.one("aws:cloudwatch/eventRule:EventRule", "central-coverage-function-schedule")
    assert rule.inputs["scheduleExpression"] == "rate(1 day)"


def test_the_function_role_has_the_name_the_member_accounts_trust() -> None:
    run = logging_stack()
    role = run.one(ROLE, "central-coverage-function")
    assert role.inputs["name"] == "central-logging-coverage"
    trust = policies.coverage_reader_trust("aws", LOGGING_ACCOUNT_ID, role.inputs["name"])
    assert (
        trust["Statement"][0]["Condition"]["ArnEquals"]["aws:PrincipalArn"] == (role.state["arn"])
    )


def test_the_function_may_assume_readers_write_its_report_and_nothing_of_the_archive() -> None:
    run = logging_stack()
    bucket = run.one("aws:s3/bucket:Bucket", "central-archive").state["arn"]
    policy = run.one(ROLE_POLICY, "central-coverage-function").policy("policy")
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["AssumeReaders"]["Resource"] == [
        ORGANIZATION_ROLE,
        "arn:aws:iam::*:role/central-logging-coverage-reader",
    ]
    assert by_sid["WriteReport"] == {
        "Sid": "WriteReport",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": f"{bucket}/coverage/*",
    }
    granted = {
        action
        for statement in policy["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert not {"s3:GetObject", "s3:DeleteObject", "logs:PutSubscriptionFilter"} & granted
    assert by_sid["ContinueCheck"]["Resource"] == (
        f"arn:aws:lambda:eu-west-1:{LOGGING_ACCOUNT_ID}:function:central-logging-coverage"
    )


def test_alarms_watch_a_day_and_breach_when_the_check_does_not_finish() -> None:
    run = logging_stack()
    alarms = {
        a.name: a.inputs
        for a in run.of_type(ALARM)
        if a.inputs.get("metricName") in ("UncoveredLogGroups", "UncheckedAccountRegions")
    }
    assert sorted(alarms) == [
        "central-eu-west-1-account-regions-unchecked",
        "central-eu-west-1-log-groups-uncovered",
    ]
    for alarm in alarms.values():
        assert alarm["namespace"] == "CentralLogging"
        assert alarm["period"] == 86_400
        assert alarm["treatMissingData"] == "breaching"
        assert alarm["threshold"] == 0 and alarm["dimensions"] == {}


def test_one_reader_role_and_one_exemption_list_serve_both_checks() -> None:
    """The freshness and the coverage check list the same organisation through the same
    role and leave out the same accounts."""
    run = logging_stack()
    checks = [
        run.one(FUNCTION, name).inputs["environment"]["variables"]
        for name in ("central-coverage-function", "central-freshness-function")
    ]
    assert [c["ORGANIZATION_ROLE_ARN"] for c in checks] == [ORGANIZATION_ROLE] * 2
    coverage, freshness = checks
    assert json.loads(coverage["EXCLUDE_ACCOUNTS"]) == ["222222222222"]
    assert json.loads(freshness["EXCLUDED_ACCOUNTS"]) == ["222222222222"]


def test_the_reader_role_alone_turns_on_no_check() -> None:
    """organizationReaderRoleArn serves the freshness check too: only coverageCheck turns the
    coverage check on."""
    run = run_program(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "organizationReaderRoleArn": ORGANIZATION_ROLE,
        }
    )
    assert not [f for f in run.of_type(FUNCTION) if "coverage" in f.name]
    assert not [a for a in run.of_type(ALARM) if "uncovered" in a.name]


BASE = {"role": "logging", "organizationId": ORG_ID}
ENABLED = {"coverageCheck": True, "organizationReaderRoleArn": ORGANIZATION_ROLE}
CASES: list[tuple[dict[str, Any], str]] = [
    (
        {"coverageCheck": "yes"},
        "central-logging:coverageCheck is 'yes'; it must be true or false.",
    ),
    (
        {"coverageCheck": True, "organizationId": None, "memberAccounts": ["111111111111"]},
        "central-logging:coverageCheck is true; the coverage check covers the accounts of an "
        "organisation: set organizationId too.",
    ),
    (
        {"coverageCheck": True},
        "central-logging:coverageCheck is true; the coverage check lists the organisation's "
        "accounts through organizationReaderRoleArn: set it to a role in the management "
        "account or a delegated administrator.",
    ),
    (
        {"coverageFilterPattern": "-DEBUG"},
        "central-logging:coverageFilterPattern is '-DEBUG'; it only applies to the coverage "
        "check, which coverageCheck true turns on: set that too, or leave this unset.",
    ),
    (
        {"coverageExcludeLogGroups": ["/aws/lambda/noisy-*"]},
        'central-logging:coverageExcludeLogGroups is ["/aws/lambda/noisy-*"]; it only applies '
        "to the coverage check, which coverageCheck true turns on: set that too, or leave this "
        "unset.",
    ),
    (
        {"exemptAccounts": ["1234"]},
        "central-logging:exemptAccounts is '1234'; each entry must be a 12-digit account ID.",
    ),
    # Keys of earlier versions, still in stack files, name what replaced them.
    (
        {"coverageOrganizationRoleArn": ORGANIZATION_ROLE},
        "central-logging:coverageOrganizationRoleArn is set, but it was replaced by "
        "organizationReaderRoleArn with coverageCheck true: move its value there and remove "
        "this key.",
    ),
    (
        {"coverageExcludeAccounts": ["111111111111"]},
        "central-logging:coverageExcludeAccounts is set, but it was replaced by exemptAccounts: "
        "move its value there and remove this key.",
    ),
    (
        {"freshnessExcludeAccounts": ["111111111111"]},
        "central-logging:freshnessExcludeAccounts is set, but it was replaced by "
        "exemptAccounts: move its value there and remove this key.",
    ),
    (
        {**ENABLED, "coverageExcludeLogGroups": ["a b"]},
        "central-logging:coverageExcludeLogGroups is 'a b'; each entry must be a log group name "
        "or glob pattern.",
    ),
    (
        {**ENABLED, "s3Prefix": "coverage/logs/"},
        "central-logging:s3Prefix is 'coverage/logs/'; the coverage check writes its report "
        "under coverage/, so the archive prefix must not start with it.",
    ),
    (
        {**ENABLED, "coverageFilterPattern": "x" * 1025},
        f"central-logging:coverageFilterPattern is '{'x' * 40}...'; it must be at most 1024 "
        "characters.",
    ),
]


@pytest.mark.parametrize(("changes", "message"), CASES)
def test_bad_coverage_settings_stop_the_program(changes: dict[str, Any], message: str) -> None:
    config = {k: v for k, v in {**BASE, **changes}.items() if v is not None}
    assert config_error(config) == message


def test_the_management_account_role_lists_accounts_only_and_trusts_the_check_only() -> None:
    policy = policies.coverage_organization_policy()
    assert policy["Statement"] == [
        {
            "Sid": "ListAccounts",
            "Effect": "Allow",
            "Action": "organizations:ListAccounts",
            "Resource": "*",
        }
    ]


def test_the_listing_and_reader_policies_pass_parliament() -> None:
    for document in (
        policies.coverage_organization_policy(),
        policies.coverage_reader_policy("aws", "111111111111"),
    ):
        findings = parliament.analyze_policy_string(json.dumps(document)).findings
        assert [(f.issue, f.detail) for f in findings if not known(ROLE_POLICY, f)] == []


def test_the_logging_deployer_may_pass_the_function_roles_to_lambda() -> None:
    """Creating a function passes its role to Lambda: the deploy policy must allow that for
    the coverage (and freshness) function roles, not only for Firehose and CloudWatch Logs."""
    role = logging_stack().one(ROLE, "central-coverage-function").state["arn"]
    passed_to_lambda = {"iam:PassedToService": "lambda.amazonaws.com"}
    assert allowed(deploy_policy("logging"), "iam:PassRole", role, passed_to_lambda)


def test_only_the_coverage_function_writes_the_report_and_only_admins_delete_it() -> None:
    run = logging_stack()
    bucket = run.one("aws:s3/bucket:Bucket", "central-archive").state["arn"]
    policy = run.one("aws:s3/bucketPolicy:BucketPolicy", "central-archive-policy").policy("policy")
    coverage_role = run.one(ROLE, "central-coverage-function").state["arn"]
    latest = f"{bucket}/coverage/latest.json"
    assert not denied(policy, coverage_role, "s3:PutObject", latest)
    for forger in (MEMBER_ROLE, DEPLOYER):
        assert denied(policy, forger, "s3:PutObject", latest), forger
    assert denied(policy, MEMBER_ROLE, "s3:DeleteObject", latest)
    assert denied(policy, coverage_role, "s3:DeleteObject", latest)
    assert not denied(policy, DEPLOYER, "s3:DeleteObject", latest)
    # Records stay the delivery roles' alone.
    record = f"{bucket}/CentralizedAccountsLog/account=111111111111/x.json.gz"
    assert denied(policy, coverage_role, "s3:PutObject", record)
