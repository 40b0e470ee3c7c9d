"""An account-region covered by the organization stack gets what a member stack would declare
there: the same alarms (meaning, metric, thresholds, what missing data means), the same rules
and schedules, the same heartbeat. Each test compares the rendered template, resolved for one
account and region, with a member stack of the same settings under the mocks, so an alarm or
rule added to the member stack and not to the template fails here."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from moto.events.models import EventPattern

from tests.infra.harness import Run
from tests.infra.test_drift import called_by, role_session, sample
from tests.infra.test_organization import run_organization, template
from tests.infra.test_organization_templates import resolve
from tests.infra.test_subscriber import MEMBER, run_member

REGION = "eu-west-1"
MODES = ["lambda", "account-policy"]
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RULE = "aws:cloudwatch/eventRule:EventRule"
# The member stack's rule for the heartbeat's schedule, and the template's name for it.
RULE_NAMES = {"heartbeat-function-schedule": "heartbeat"}


@cache
def member(mode: str) -> Run:
    return run_member(regions=[REGION], subscriptionMode=mode)


@cache
def regional(mode: str) -> dict[str, Any]:
    """The regional template as CloudFormation resolves it in MEMBER's REGION."""
    rendered = template(run_organization(subscriptionMode=mode, memberAlarms=True), "regional")
    return {
        name: {"Type": r["Type"], **resolve(r["Properties"], rendered, REGION, MEMBER)}
        for name, r in rendered["Resources"].items()
    }


def of_type(mode: str, type_: str) -> list[dict[str, Any]]:
    return [r for r in regional(mode).values() if r["Type"] == type_]


def template_alarms(mode: str) -> dict[str, dict[str, Any]]:
    return {
        a["AlarmName"].removeprefix("central-logging-"): a
        for a in of_type(mode, "AWS::CloudWatch::Alarm")
    }


def member_alarms(mode: str) -> dict[str, dict[str, Any]]:
    return {
        r.name.removeprefix(f"central-{REGION}-"): r.inputs for r in member(mode).of_type(ALARM)
    }


@pytest.mark.parametrize("mode", MODES)
def test_every_alarm_of_a_member_stack_is_in_the_template_with_the_same_meaning(
    mode: str,
) -> None:
    ours, theirs = template_alarms(mode), member_alarms(mode)
    assert sorted(ours) == sorted(theirs)
    for purpose, alarm in theirs.items():
        rendered = ours[purpose]
        assert rendered["AlarmDescription"] == alarm["alarmDescription"], purpose
        assert rendered["EvaluationPeriods"] == alarm["evaluationPeriods"], purpose
        assert rendered["Threshold"] == alarm["threshold"], purpose
        assert rendered["ComparisonOperator"] == alarm["comparisonOperator"], purpose
        assert rendered["TreatMissingData"] == alarm["treatMissingData"], purpose
        if "metricQueries" in alarm:
            (query,) = alarm["metricQueries"]
            assert rendered["Metrics"] == [
                {
                    "Id": query["id"],
                    "Expression": query["expression"],
                    "Period": query["period"],
                    "ReturnData": query["returnData"],
                }
            ], purpose
            continue
        assert (rendered["Namespace"], rendered["MetricName"], rendered["Statistic"]) == (
            alarm["namespace"],
            alarm["metricName"],
            alarm["statistic"],
        ), purpose
        assert rendered["Period"] == alarm["period"], purpose
        names = [d["Name"] for d in rendered.get("Dimensions", [])]
        assert names == sorted(alarm.get("dimensions") or {}), purpose


def template_rules(mode: str) -> dict[str, dict[str, Any]]:
    return {
        r["Name"].removeprefix("central-logging-"): r for r in of_type(mode, "AWS::Events::Rule")
    }


@pytest.mark.parametrize("mode", MODES)
def test_every_rule_of_a_member_stack_is_in_the_template_with_the_same_trigger(
    mode: str,
) -> None:
    ours = template_rules(mode)
    run = member(mode)
    theirs = {
        RULE_NAMES.get(name, name): r
        for r in run.of_type(RULE)
        for name in [r.name.removeprefix(f"central-{REGION}-")]
    }
    # A member stack sweeps at deploy time with an invocation, a stack instance with a rule
    # on its own creation.
    assert sorted(ours) == sorted([*theirs, *(["deploy-sweep"] if mode == "lambda" else [])])
    for name, resource in theirs.items():
        rule, rendered = resource.inputs, ours[name]
        assert rendered.get("ScheduleExpression") == rule.get("scheduleExpression"), name
        if name != "filter-changed" and "eventPattern" in rule:
            # (The filter drift pattern names each stack's own roles: tested below.)
            assert rendered["EventPattern"] == json.loads(rule["eventPattern"]), name
        targets = [
            t
            for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget")
            if t.inputs["rule"] == resource.state["name"]
        ]
        assert len(rendered.get("Targets", [])) == len(targets), name
        for target, theirs_target in zip(rendered.get("Targets", []), targets, strict=True):
            assert ("DeadLetterConfig" in target) == ("deadLetterConfig" in theirs_target.inputs), (
                name
            )
            assert ("RetryPolicy" in target) == ("retryPolicy" in theirs_target.inputs), name


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))


def test_filter_drift_reaches_the_subscriber_unless_our_own_functions_made_it() -> None:
    resources = regional("lambda")
    rule = template_rules("lambda")["filter-changed"]
    pattern = rule["EventPattern"]
    own = [
        f"arn:aws:iam::{MEMBER}:role/central-logging-{kind}-{REGION}"
        for kind in ("subscriber", "reconciler")
    ]
    # Those are the roles the template gives its functions.
    assert sorted(own) == sorted(
        f"arn:aws:iam::{MEMBER}:role/{resources[f'{kind}Role']['RoleName']}"
        for kind in ("Subscriber", "Reconciler")
    )

    assert matches(pattern, sample())  # an Admin role's session deleted our filter
    assert matches(pattern, called_by({"type": "Root", "arn": f"arn:aws:iam::{MEMBER}:root"}))
    assert matches(pattern, sample(eventName="PutSubscriptionFilter"))
    for role in own:
        assert not matches(pattern, called_by(role_session(role, "central-logging")))
    assert not matches(pattern, sample(errorCode="AccessDenied"))

    [target] = rule["Targets"]
    assert target["Arn"] == "getatt:Subscriber.Arn"
    assert target["DeadLetterConfig"] == {"Arn": "getatt:DeadLetters.Arn"}
    # The dead-letter queue takes what either rule could not deliver.
    queue_policy = resources["DeadLettersPolicy"]["PolicyDocument"]
    (statement,) = queue_policy["Statement"]
    assert sorted(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(
        f"arn:aws:events:{REGION}:{MEMBER}:rule/central-logging-{name}"
        for name in ("log-group-created", "filter-changed")
    )
    permissions = {p["SourceArn"] for p in of_type("lambda", "AWS::Lambda::Permission")}
    assert "getatt:FilterChangedRule.Arn" in permissions


@pytest.mark.parametrize("mode", MODES)
def test_the_heartbeat_is_the_member_stacks(mode: str) -> None:
    resources = regional(mode)
    run = member(mode)
    prefix = f"central-{REGION}-heartbeat"
    group = run.one("aws:cloudwatch/logGroup:LogGroup", f"{prefix}-log-group").inputs
    assert resources["HeartbeatLogGroup"]["LogGroupName"] == group["name"]
    assert resources["HeartbeatLogGroup"]["RetentionInDays"] == group["retentionInDays"]
    assert resources["HeartbeatLogGroup"]["LogGroupClass"] == group["logGroupClass"]

    function = run.one("aws:lambda/function:Function", f"{prefix}-function").inputs
    rendered = resources["Heartbeat"]
    assert (rendered["FunctionName"], rendered["Handler"], rendered["Runtime"]) == (
        function["name"],
        function["handler"],
        function["runtime"],
    )
    assert (rendered["MemorySize"], rendered["Timeout"], rendered["Architectures"]) == (
        function["memorySize"],
        function["timeout"],
        function["architectures"],
    )
    # The same permissions, in this account and region.
    member_policy = run.one("aws:iam/rolePolicy:RolePolicy", f"{prefix}-function").policy("policy")
    [role_policy] = resources["HeartbeatRole"]["Policies"]
    assert role_policy["PolicyDocument"] == member_policy
    assert resources["HeartbeatRole"]["RoleName"] == f"central-logging-heartbeat-{REGION}"
    # Run on the member's schedule, watched by its alarm on this group.
    [target] = template_rules(mode)["heartbeat"]["Targets"]
    assert target["Arn"] == "getatt:Heartbeat.Arn"
    alarm = template_alarms(mode)["heartbeat-missing"]
    assert alarm["Dimensions"] == [
        {"Name": "LogGroupName", "Value": resources["HeartbeatLogGroup"]["LogGroupName"]}
    ]


def test_a_changed_account_policy_raises_the_alarm_on_its_rule() -> None:
    rule = template_rules("account-policy")["account-policy-changed"]
    deleted = sample(
        eventName="DeleteAccountPolicy",
        requestParameters={
            "policyName": "central-logging",
            "policyType": "SUBSCRIPTION_FILTER_POLICY",
        },
    )
    assert matches(rule["EventPattern"], deleted)
    assert not matches(rule["EventPattern"], sample())
    alarm = template_alarms("account-policy")["account-policy-changed"]
    assert alarm["Dimensions"] == [{"Name": "RuleName", "Value": rule["Name"]}]
