"""The subscriber function's IAM policy: scoped, sufficient, and nothing more than used.

moto enforces the actions (on resource "*"); the resources are checked here on the rendered
policy itself.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from handlers import subscribe
from tests.handlers.harness import (
    DESTINATION_ARN,
    FUNCTION_ARN,
    FUNCTION_LOG_GROUP_ARN,
    LEGACY_FILTER_NAME,
    MEMBER_ACCOUNT,
    REGION,
    SCHEDULED_EVENT,
    SENDER_ROLE_ARN,
    FakeAws,
    Sweeper,
    create_log_group_event,
    rendered_member_stack,
    without_action,
)

LOG_GROUPS = f"arn:aws:logs:{REGION}:{MEMBER_ACCOUNT}:log-group:*"
# Used by the Lambda service (own logs, dead letters), not by the handlers.
RUNTIME_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}
# Checked by AWS when PutSubscriptionFilter passes roleArn; moto does not model it.
UNMODELLED_ACTIONS = {"iam:PassRole"}


DEAD_LETTER_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{MEMBER_ACCOUNT}:central-{REGION}-dead-letters"


def resources_by_action(policy: dict[str, Any]) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = defaultdict(set)
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            resources = statement["Resource"]
            granted[action] |= {resources} if isinstance(resources, str) else set(resources)
    return dict(granted)


def test_every_action_is_scoped_to_this_account_region_and_function(
    function_policy: dict[str, Any],
) -> None:
    assert resources_by_action(function_policy) == {
        "logs:DescribeLogGroups": {LOG_GROUPS},
        # DescribeAccountPolicies has no resource type (Service Authorization Reference).
        "logs:DescribeAccountPolicies": {"*"},
        "logs:DescribeSubscriptionFilters": {LOG_GROUPS},
        "logs:DeleteSubscriptionFilter": {LOG_GROUPS},
        "logs:PutSubscriptionFilter": {LOG_GROUPS, DESTINATION_ARN},
        "iam:PassRole": {SENDER_ROLE_ARN},
        "lambda:InvokeFunction": {FUNCTION_ARN},
        "logs:CreateLogStream": {f"{FUNCTION_LOG_GROUP_ARN}:log-stream:*"},
        "logs:PutLogEvents": {f"{FUNCTION_LOG_GROUP_ARN}:log-stream:*"},
        "sqs:SendMessage": {DEAD_LETTER_QUEUE_ARN},
    }
    [pass_role] = [s for s in function_policy["Statement"] if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "logs.amazonaws.com"}}


def with_legacy_filter(aws: FakeAws, log_group: str) -> None:
    aws.create_log_groups(log_group)
    aws.put_filter(log_group, LEGACY_FILTER_NAME, DESTINATION_ARN, SENDER_ROLE_ARN)


@pytest.mark.usefixtures("function_env")
def test_the_handlers_use_every_granted_action_and_no_other(
    aws: FakeAws, function_session: boto3.session.Session, function_policy: dict[str, Any]
) -> None:
    with_legacy_filter(aws, "/app/legacy")
    aws.create_log_groups(*(f"/app/service-{i:02d}" for i in range(60)))
    with aws.iam.enforced():
        subscribe.handler(create_log_group_event("/app/legacy"), None)
    Sweeper(aws, function_session).sweep(SCHEDULED_EVENT, seconds=0)

    used = set(aws.iam.actions)

    assert used == set(resources_by_action(function_policy)) - RUNTIME_ACTIONS - UNMODELLED_ACTIONS


class TestTheSubscriberFailsWithoutAnyOfItsActions:
    @pytest.fixture(
        params=[
            "logs:DescribeAccountPolicies",
            "logs:DescribeSubscriptionFilters",
            "logs:DeleteSubscriptionFilter",
            "logs:PutSubscriptionFilter",
        ]
    )
    def removed_action(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    @pytest.fixture
    def function_policy(
        self, function_policy: dict[str, Any], removed_action: str
    ) -> dict[str, Any]:
        return without_action(function_policy, removed_action)

    @pytest.mark.usefixtures("function_env")
    def test_it_reports_the_log_group_failed(
        self, aws: FakeAws, removed_action: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with_legacy_filter(aws, "/app/legacy")

        with aws.iam.enforced(), pytest.raises(RuntimeError) as raised:
            subscribe.handler(create_log_group_event("/app/legacy"), None)

        assert str(raised.value).startswith("Log group /app/legacy was not subscribed: ")
        assert f"is not authorized to perform: {removed_action}" in str(raised.value)
        logged = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (logged["logGroup"], logged["outcome"]) == ("/app/legacy", "failed")


class TestTheSweepFailsWithoutAnyOfItsActions:
    @pytest.fixture(
        params=["logs:DescribeLogGroups", "logs:DescribeAccountPolicies", "lambda:InvokeFunction"]
    )
    def removed_action(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    @pytest.fixture
    def function_policy(
        self, function_policy: dict[str, Any], removed_action: str
    ) -> dict[str, Any]:
        return without_action(function_policy, removed_action)

    def test_it_stops_with_the_refusal(
        self, aws: FakeAws, function_session: boto3.session.Session, removed_action: str
    ) -> None:
        aws.create_log_groups(*(f"/app/service-{i:02d}" for i in range(60)))

        with pytest.raises((ClientError, RuntimeError)) as raised:
            Sweeper(aws, function_session).sweep(SCHEDULED_EVENT, seconds=0)

        assert f"is not authorized to perform: {removed_action}" in str(raised.value)


class TestTheEventFunctionNeedsOnlyItsOwnNarrowerPolicy:
    @pytest.fixture
    def function_policy(self) -> dict[str, Any]:
        policy: dict[str, Any] = (
            rendered_member_stack()
            .one("aws:iam/rolePolicy:RolePolicy", f"central-{REGION}-subscriber")
            .policy("policy")
        )
        return policy

    def test_it_has_no_sweep_permissions(self, function_policy: dict[str, Any]) -> None:
        granted = resources_by_action(function_policy)
        assert "logs:DescribeLogGroups" not in granted
        assert "lambda:InvokeFunction" not in granted

    @pytest.mark.usefixtures("function_env")
    def test_it_subscribes_a_new_log_group_and_replaces_a_legacy_filter(self, aws: FakeAws) -> None:
        aws.create_log_groups("/app/new")
        with_legacy_filter(aws, "/app/legacy")
        with aws.iam.enforced():
            new = subscribe.handler(create_log_group_event("/app/new"), None)
            legacy = subscribe.handler(create_log_group_event("/app/legacy"), None)
        assert (new["outcome"], legacy["outcome"]) == ("subscribed", "updated")
