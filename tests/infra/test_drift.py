"""Drift rules: which CloudTrail records they match, what they trigger, what they alarm on.

Patterns are evaluated by moto's model of EventBridge rule matching (the matcher its
PutEvents applies to rules; moto does not implement the TestEventPattern API behind `aws events
test-event-pattern`, whose semantics are the same: the pattern's fields must all match, a list
is "any of", `exists: false` matches a missing field, `anything-but` never does).

The sample event is CloudTrail's record of a DeleteSubscriptionFilter call as EventBridge
delivers it. No verbatim AWS-published record of this call was found in reach, so it is
assembled from AWS's documented shapes, field by field:
- the envelope: EventBridge user guide, "AWS service events delivered via AWS CloudTrail"
  (`detail-type` "AWS API Call via CloudTrail", `source` "aws.logs");
- `detail.userIdentity` of an assumed role: CloudTrail user guide, "CloudTrail userIdentity
  element" (its AssumedRole example, with `sessionContext.sessionIssuer`);
- `detail.requestParameters`: CloudWatch Logs API reference, DeleteSubscriptionFilter
  (`logGroupName`, `filterName`), and `responseElements` null as for every call without a
  response body; the other fields: CloudTrail user guide, "CloudTrail record contents".
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from moto.events.models import EventPattern

from handlers.subscribe import parse_event
from tests.infra.harness import Run
from tests.infra.test_subscriber import MEMBER, run_member

REGION = "eu-west-1"
ADMIN_ROLE = f"arn:aws:iam::{MEMBER}:role/Admin"

DELETE_SUBSCRIPTION_FILTER: dict[str, Any] = {
    "version": "0",
    "id": "0f7b1a52-3c6e-4b1c-9d4f-0c1f3a5e9b21",
    "detail-type": "AWS API Call via CloudTrail",
    "source": "aws.logs",
    "account": MEMBER,
    "time": "2026-11-29T10:15:02Z",
    "region": REGION,
    "resources": [],
    "detail": {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEID:alice",
            "arn": f"arn:aws:sts::{MEMBER}:assumed-role/Admin/alice",
            "accountId": MEMBER,
            "accessKeyId": "ASIAEXAMPLEKEYID",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEID",
                    "arn": ADMIN_ROLE,
                    "accountId": MEMBER,
                    "userName": "Admin",
                },
                "attributes": {"creationDate": "2026-11-29T09:58:40Z", "mfaAuthenticated": "false"},
            },
        },
        "eventTime": "2026-11-29T10:15:02Z",
        "eventSource": "logs.amazonaws.com",
        "eventName": "DeleteSubscriptionFilter",
        "awsRegion": REGION,
        "sourceIPAddress": "192.0.2.10",
        "userAgent": "aws-cli/2.22.0 md/command#logs.delete-subscription-filter",
        "requestParameters": {"logGroupName": "/app/orders", "filterName": "central-logging"},
        "responseElements": None,
        "requestID": "8e1c2d3f-4a5b-4c6d-8e7f-901a2b3c4d5e",
        "eventID": "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": MEMBER,
        "eventCategory": "Management",
    },
}


def sample(**detail_changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(DELETE_SUBSCRIPTION_FILTER)
    event["detail"].update(detail_changes)
    return event


def called_by(identity: dict[str, Any], **detail_changes: Any) -> dict[str, Any]:
    return sample(userIdentity=identity, **detail_changes)


def role_session(role_arn: str, session: str) -> dict[str, Any]:
    name = role_arn.rsplit("/", 1)[1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEID:{session}",
        "arn": f"arn:aws:sts::{MEMBER}:assumed-role/{name}/{session}",
        "accountId": MEMBER,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": MEMBER},
            "attributes": {"creationDate": "2026-11-29T09:58:40Z", "mfaAuthenticated": "false"},
        },
    }


@pytest.fixture(scope="module")
def lambda_stack() -> Run:
    return run_member(regions=[REGION])


@pytest.fixture(scope="module")
def account_policy_stack() -> Run:
    return run_member(regions=[REGION], subscriptionMode="account-policy")


@pytest.fixture
def matches() -> Any:
    def pattern_matches(pattern: str, event: dict[str, Any]) -> bool:
        return bool(EventPattern.load(pattern).matches_event(event))

    return pattern_matches


def rule(run: Run, purpose: str) -> Any:
    return run.one("aws:cloudwatch/eventRule:EventRule", f"central-{REGION}-{purpose}")


def role_of(run: Run, kind: str) -> str:
    role: str = run.one("aws:lambda/function:Function", f"central-{REGION}-{kind}").inputs["role"]
    return role


def test_a_filter_deleted_by_someone_else_is_matched(lambda_stack: Run, matches: Any) -> None:
    pattern = rule(lambda_stack, "filter-changed").inputs["eventPattern"]

    assert matches(pattern, DELETE_SUBSCRIPTION_FILTER)
    assert matches(pattern, sample(eventName="PutSubscriptionFilter"))


@pytest.mark.parametrize(
    "identity",
    [
        {"type": "IAMUser", "arn": f"arn:aws:iam::{MEMBER}:user/bob", "userName": "bob"},
        {"type": "Root", "arn": f"arn:aws:iam::{MEMBER}:root", "accountId": MEMBER},
        {"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"},
    ],
)
def test_callers_without_a_role_session_are_matched(
    lambda_stack: Run, matches: Any, identity: dict[str, Any]
) -> None:
    pattern = rule(lambda_stack, "filter-changed").inputs["eventPattern"]

    assert matches(pattern, called_by(identity))


@pytest.mark.parametrize("kind", ["subscriber", "reconciler"])
def test_our_own_functions_calls_are_not_drift(lambda_stack: Run, matches: Any, kind: str) -> None:
    pattern = rule(lambda_stack, "filter-changed").inputs["eventPattern"]
    own_role = role_of(lambda_stack, kind)

    for name in ("DeleteSubscriptionFilter", "PutSubscriptionFilter"):
        event = called_by(role_session(own_role, f"central-logging-{kind}"), eventName=name)
        assert not matches(pattern, event)
    # Another session name on our role is still our role; another role of the same name
    # prefix is not.
    assert not matches(pattern, called_by(role_session(own_role, "anything")))
    assert matches(pattern, called_by(role_session(f"{own_role}-copy", "x")))


@pytest.mark.parametrize(
    "changes",
    [
        {"errorCode": "AccessDenied", "errorMessage": "not authorized"},
        {"eventName": "DescribeSubscriptionFilters"},
        {"eventName": "CreateLogGroup"},
        {"eventSource": "monitoring.amazonaws.com"},
    ],
)
def test_failed_and_other_calls_are_not_drift(
    lambda_stack: Run, matches: Any, changes: dict[str, Any]
) -> None:
    pattern = rule(lambda_stack, "filter-changed").inputs["eventPattern"]

    assert not matches(pattern, sample(**changes))


def test_drift_goes_to_the_subscriber_with_retries_and_dead_letters(lambda_stack: Run) -> None:
    drift = rule(lambda_stack, "filter-changed")
    target = lambda_stack.one(
        "aws:cloudwatch/eventTarget:EventTarget", f"central-{REGION}-filter-changed"
    )
    subscriber = lambda_stack.one("aws:lambda/function:Function", f"central-{REGION}-subscriber")
    queue = lambda_stack.one("aws:sqs/queue:Queue", f"central-{REGION}-dead-letters")

    assert target.inputs["rule"] == drift.state["name"]
    assert target.inputs["arn"] == subscriber.state["arn"]
    assert target.inputs["deadLetterConfig"] == {"arn": queue.state["arn"]}
    permission = lambda_stack.one(
        "aws:lambda/permission:Permission", f"central-{REGION}-filter-changed"
    )
    assert permission.inputs["sourceArn"] == drift.state["arn"]
    [statement] = lambda_stack.one(
        "aws:sqs/queuePolicy:QueuePolicy", f"central-{REGION}-dead-letters"
    ).policy("policy")["Statement"]
    assert sorted(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(
        [drift.state["arn"], rule(lambda_stack, "log-group-created").state["arn"]]
    )


def test_the_subscriber_reads_the_log_group_of_a_drift_record() -> None:
    assert parse_event(DELETE_SUBSCRIPTION_FILTER) == ("/app/orders", "STANDARD")
    assert parse_event(sample(eventName="PutSubscriptionFilter")) == ("/app/orders", "STANDARD")


def test_account_policy_changes_raise_an_alarm(account_policy_stack: Run, matches: Any) -> None:
    changed = rule(account_policy_stack, "account-policy-changed")
    pattern = changed.inputs["eventPattern"]
    deleted = sample(
        eventName="DeleteAccountPolicy",
        requestParameters={
            "policyName": "central-logging",
            "policyType": "SUBSCRIPTION_FILTER_POLICY",
        },
    )

    assert matches(pattern, deleted)
    put = copy.deepcopy(deleted)
    put["detail"]["eventName"] = "PutAccountPolicy"
    assert matches(pattern, put)
    other = copy.deepcopy(deleted)
    other["detail"]["requestParameters"]["policyName"] = "someone-elses"
    assert not matches(pattern, other)
    assert not matches(pattern, sample(**{**deleted["detail"], "errorCode": "AccessDenied"}))

    alarm = account_policy_stack.one(
        "aws:cloudwatch/metricAlarm:MetricAlarm", f"central-{REGION}-account-policy-changed"
    )
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == (
        "AWS/Events",
        "MatchedEvents",
    )
    assert alarm.inputs["dimensions"] == {"RuleName": changed.state["name"]}
    assert (alarm.inputs["comparisonOperator"], alarm.inputs["threshold"]) == (
        "GreaterThanThreshold",
        0,
    )
    assert alarm.inputs["treatMissingData"] == "notBreaching"


def test_account_policy_mode_has_no_filter_drift_rule(account_policy_stack: Run) -> None:
    rules = {r.name for r in account_policy_stack.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert f"central-{REGION}-filter-changed" not in rules
    assert f"central-{REGION}-heartbeat-function-schedule" in rules
