"""Drift: someone else's change to a subscription, seen within seconds on CloudTrail's record.

EventBridge receives CloudTrail's "AWS API Call via CloudTrail" events of management calls
(EventBridge user guide, "Events from AWS services": CloudTrail), so a deleted or replaced
filter, or a deleted account policy, is noticed as it happens:
- lambda mode: the log group goes to the subscriber, which decides and applies as for a new
  group. Calls by our own functions are not drift (they would loop), and are told apart by
  the role the caller's session was issued from (CloudTrail userIdentity element,
  `sessionContext.sessionIssuer.arn`).
- account-policy mode: a change to our policy raises the `account-policy-changed` alarm. It
  is not put back by a function: `pulumi up` owns the policy, and a function restoring it
  would fight every intended change.

Patterns follow EventBridge's content filtering (EventBridge user guide, "Content filtering
in Amazon EventBridge event patterns"): `anything-but` never matches a missing field, so
callers without a session issuer (IAM users, the root user) are matched by `exists: false`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import ResourceOptions

from components.alarms import AlarmNotifier, AlarmSpec
from handlers.core import DRIFT_RULE_DESCRIPTION

Pattern = dict[str, Any]

FILTER_EVENTS = ["DeleteSubscriptionFilter", "PutSubscriptionFilter"]
ACCOUNT_POLICY_EVENTS = ["DeleteAccountPolicy", "PutAccountPolicy"]
FILTER_RULE_DESCRIPTION = DRIFT_RULE_DESCRIPTION
ACCOUNT_POLICY_RULE_DESCRIPTION = "Our account-level subscription filter policy was put or deleted"


def _cloudtrail_call(event_names: list[str], **detail: Any) -> Pattern:
    """A successful CloudWatch Logs call as CloudTrail records it; failed calls carry
    `errorCode` and changed nothing."""
    return {
        "source": ["aws.logs"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["logs.amazonaws.com"],
            "eventName": event_names,
            "errorCode": [{"exists": False}],
            **detail,
        },
    }


def _issuer(condition: list[Any]) -> Pattern:
    return {"userIdentity": {"sessionContext": {"sessionIssuer": {"arn": condition}}}}


def filter_drift_pattern(own_role_arns: Sequence[str]) -> Pattern:
    """Any subscription filter put or deleted by anyone but our own functions' roles."""
    return _cloudtrail_call(
        FILTER_EVENTS,
        **{
            "$or": [
                _issuer([{"anything-but": sorted(own_role_arns)}]),
                _issuer([{"exists": False}]),
            ]
        },
    )


def account_policy_drift_pattern(policy_name: str) -> Pattern:
    """Our account-level subscription filter policy put or deleted, by anyone."""
    return _cloudtrail_call(
        ACCOUNT_POLICY_EVENTS,
        requestParameters={
            "policyName": [policy_name],
            "policyType": ["SUBSCRIPTION_FILTER_POLICY"],
        },
    )


def account_policy_changed_alarm(policy_name: str) -> AlarmSpec:
    """The alarm on the drift rule's matches. A change is an event, not a state: no matches
    is the normal case, not silence."""
    return AlarmSpec(
        "account-policy-changed",
        f"The account-level subscription filter policy {policy_name} was put or deleted: "
        "unless a deployment did it, find the caller in CloudTrail and put the policy back: "
        "`pulumi up --refresh` for a member stack; for a StackSet instance, see the README's "
        "alarm runbook.",
        namespace="AWS/Events",
        metric="MatchedEvents",
        statistic="Sum",
        threshold=0,
    )


def watch_account_policy(
    parent: pulumi.Resource, alarms: AlarmNotifier, name: str, region: str, policy_name: str
) -> aws.cloudwatch.EventRule:
    """The rule on changes to our account policy, and the alarm on its matches."""
    rule = aws.cloudwatch.EventRule(
        f"{name}-{region}-account-policy-changed",
        region=region,
        description=ACCOUNT_POLICY_RULE_DESCRIPTION,
        event_pattern=json.dumps(account_policy_drift_pattern(policy_name), sort_keys=True),
        opts=ResourceOptions(parent=parent),
    )
    alarms.watch(account_policy_changed_alarm(policy_name), region, {"RuleName": rule.name})
    return rule
