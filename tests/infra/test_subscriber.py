"""MemberSubscriber under Pulumi's mock runtime, with a mocked logging StackReference."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.config import ConfigError
from components.functions import handler_files
from components.subscriber import CREATE_LOG_GROUP_PATTERN
from tests.infra.harness import LOGGING_ACCOUNT_ID, Run, run_program
from tests.infra.test_destination_trust import admits, instantiate

MEMBER = "111111111111"
STACK = "example-org/central-logging/logging"
REGIONS = ["eu-west-1", "us-east-1", "ap-northeast-1"]


def destination(region: str) -> str:
    return f"arn:aws:logs:{region}:{LOGGING_ACCOUNT_ID}:destination:CentralLogDestination"


LOGGING_OUTPUTS = {STACK: {"destinationArns": {r: destination(r) for r in REGIONS}}}


def run_member(**config: object) -> Run:
    return run_program(
        {"role": "member", "loggingStack": STACK, **config},
        region="eu-west-1",
        account_id=MEMBER,
        stack_outputs=LOGGING_OUTPUTS,
    )


def statements(resource_policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in resource_policy["Statement"]}


def test_lambda_mode_wires_each_region_to_its_own_destination() -> None:
    regions = ["eu-west-1", "us-east-1"]
    run = run_member(regions=regions, excludeLogGroups=["/aws/lambda/noisy-*"])
    sender = run.one("aws:iam/role:Role", "central-sender")
    for region in regions:
        for kind in ("subscriber", "reconciler"):
            function = run.one("aws:lambda/function:Function", f"central-{region}-{kind}")
            assert function.inputs["region"] == region
            assert function.inputs["runtime"] == "python3.13"
            env = function.inputs["environment"]["variables"]
            assert env == {
                "DESTINATION_ARN": destination(region),
                "SENDER_ROLE_ARN": sender.state["arn"],
                "FILTER_NAME": "central-logging",
                "FILTER_PATTERN": "",
                "EXCLUDE_PATTERNS": '["/aws/lambda/noisy-*"]',
                "REPLACE_FILTER_NAMES": "[]",
            }
        parameter = run.one("aws:ssm/parameter:Parameter", f"central-{region}-destination-arn")
        assert parameter.inputs["name"] == "/central-logging/destination-arn"
        assert parameter.inputs["value"] == destination(region)
        role = run.one("aws:ssm/parameter:Parameter", f"central-{region}-sender-role-arn")
        assert (role.inputs["name"], role.inputs["type"]) == (
            "/central-logging/sender-role-arn",
            "String",
        )
        assert role.inputs["value"] == sender.state["arn"]
        assert role.inputs["region"] == region
    assert run.outputs == {
        "destinationArns": {r: destination(r) for r in regions},
        "subscriptionMode": "lambda",
        "subscriberFunctionArns": {
            r: f"arn:aws:lambda:{r}:{MEMBER}:function:central-logging-subscriber" for r in regions
        },
        "senderRoleArn": sender.state["arn"],
    }
    assert not run.of_type("aws:cloudwatch/logAccountPolicy:LogAccountPolicy")
    for resource in run.resources[1:]:
        assert "central-logging:subscriber:MemberSubscriber" in run.ancestor_types(resource), (
            resource.name
        )


def test_new_log_groups_are_caught_from_cloudtrail_with_retries_and_dead_letters() -> None:
    run = run_member()
    rule = run.one("aws:cloudwatch/eventRule:EventRule", "central-eu-west-1-log-group-created")
    pattern = rule.policy("eventPattern")
    assert pattern == CREATE_LOG_GROUP_PATTERN
    assert pattern["detail"]["errorCode"] == [{"exists": False}]
    target = run.one(
        "aws:cloudwatch/eventTarget:EventTarget", "central-eu-west-1-log-group-created"
    )
    subscriber = run.one("aws:lambda/function:Function", "central-eu-west-1-subscriber")
    queue = run.one("aws:sqs/queue:Queue", "central-eu-west-1-dead-letters")
    assert target.inputs["arn"] == subscriber.state["arn"]
    assert target.inputs["deadLetterConfig"] == {"arn": queue.state["arn"]}
    assert target.inputs["retryPolicy"]["maximumRetryAttempts"] > 0
    assert queue.inputs["sqsManagedSseEnabled"] is True
    [send] = run.one("aws:sqs/queuePolicy:QueuePolicy").policy("policy")["Statement"]
    assert send["Principal"] == {"Service": "events.amazonaws.com"}
    # Only the subscriber's rules (new groups, filter drift) may park events in the queue.
    drift = run.one("aws:cloudwatch/eventRule:EventRule", "central-eu-west-1-filter-changed")
    assert send["Condition"] == {
        "ArnEquals": {"aws:SourceArn": sorted([rule.state["arn"], drift.state["arn"]])}
    }
    permission = run.one("aws:lambda/permission:Permission", "central-eu-west-1-log-group-created")
    assert permission.inputs["principal"] == "events.amazonaws.com"
    assert permission.inputs["sourceArn"] == rule.state["arn"]
    assert subscriber.inputs["handler"] == "handlers.subscribe.handler"
    assert subscriber.inputs["deadLetterConfig"] == {"targetArn": queue.state["arn"]}


def test_schedule_and_deploy_time_sweep() -> None:
    run = run_member(reconcileSchedule="rate(1 hour)")
    schedule = run.one("aws:cloudwatch/eventRule:EventRule", "central-eu-west-1-sweep-schedule")
    assert schedule.inputs["scheduleExpression"] == "rate(1 hour)"
    reconciler = run.one("aws:lambda/function:Function", "central-eu-west-1-reconciler")
    assert reconciler.inputs["handler"] == "handlers.reconcile.handler"
    assert reconciler.inputs["timeout"] == 900
    target = run.one("aws:cloudwatch/eventTarget:EventTarget", "central-eu-west-1-sweep-schedule")
    assert target.inputs["arn"] == reconciler.state["arn"]
    permission = run.one("aws:lambda/permission:Permission", "central-eu-west-1-sweep-schedule")
    assert permission.inputs["sourceArn"] == schedule.state["arn"]
    sweep = run.one("aws:lambda/invocation:Invocation", "central-eu-west-1-deploy-sweep")
    assert sweep.inputs["functionName"] == reconciler.state["name"]
    assert sweep.inputs["triggers"]["destination"] == destination("eu-west-1")


def test_deploy_sweep_runs_again_when_the_subscription_changes() -> None:
    def triggers(**config: object) -> dict[str, str]:
        run = run_member(**config)
        return run.one("aws:lambda/invocation:Invocation").inputs["triggers"]  # type: ignore[no-any-return]

    base = triggers()
    assert triggers() == base
    assert triggers(filterPattern="-DEBUG") != base
    assert triggers(replaceFilterNames=["LegacyFilter"]) != base


def test_schedule_off_creates_no_schedule() -> None:
    run = run_member(reconcileSchedule="off")
    assert sorted(r.name for r in run.of_type("aws:cloudwatch/eventRule:EventRule")) == [
        "central-eu-west-1-filter-changed",
        "central-eu-west-1-heartbeat-function-schedule",
        "central-eu-west-1-log-group-created",
    ]
    # The deploy-time sweep still covers existing log groups.
    assert run.of_type("aws:lambda/invocation:Invocation")


def test_function_roles_are_least_privilege() -> None:
    run = run_member()
    log_groups = f"arn:aws:logs:eu-west-1:{MEMBER}:log-group:*"
    sender = run.one("aws:iam/role:Role", "central-sender").state["arn"]
    reconciler = statements(
        run.one("aws:iam/rolePolicy:RolePolicy", "central-eu-west-1-reconciler").policy("policy")
    )
    subscriber = statements(
        run.one("aws:iam/rolePolicy:RolePolicy", "central-eu-west-1-subscriber").policy("policy")
    )
    for policy in (reconciler, subscriber):
        assert policy["ManageFilters"]["Resource"] == log_groups
        assert policy["UseDestination"] == {
            "Sid": "UseDestination",
            "Effect": "Allow",
            "Action": "logs:PutSubscriptionFilter",
            "Resource": destination("eu-west-1"),
        }
        assert policy["PassSenderRole"]["Resource"] == sender
        actions = [
            action
            for statement in policy.values()
            for action in (
                [statement["Action"]]
                if isinstance(statement["Action"], str)
                else statement["Action"]
            )
        ]
        assert not any(action.endswith("*") for action in actions), actions
    # Only the sweep lists log groups and invokes itself, and only itself.
    assert reconciler["ListLogGroups"]["Resource"] == log_groups
    assert reconciler["ContinueSweep"]["Resource"] == (
        f"arn:aws:lambda:eu-west-1:{MEMBER}:function:central-logging-reconciler"
    )
    assert "ContinueSweep" not in subscriber and "ListLogGroups" not in subscriber
    for role_name in ("central-eu-west-1-subscriber", "central-eu-west-1-reconciler"):
        [trust] = run.one("aws:iam/role:Role", role_name).policy("assumeRolePolicy")["Statement"]
        assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_sender_role_is_for_this_account_and_its_regions_only() -> None:
    run = run_member(regions=["eu-west-1", "us-east-1"])
    sender = run.one("aws:iam/role:Role", "central-sender")
    [trust] = sender.policy("assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "logs.amazonaws.com"}
    assert trust["Condition"] == {
        "StringLike": {
            "aws:SourceArn": [
                f"arn:aws:logs:eu-west-1:{MEMBER}:*",
                f"arn:aws:logs:us-east-1:{MEMBER}:*",
            ]
        }
    }
    [deliver] = run.one("aws:iam/rolePolicy:RolePolicy", "central-sender").policy("policy")[
        "Statement"
    ]
    assert deliver["Action"] == "logs:PutLogEvents"
    assert deliver["Resource"] == [
        f"arn:aws:logs:eu-west-1:{MEMBER}:log-group:*",
        f"arn:aws:logs:us-east-1:{MEMBER}:log-group:*",
    ]


# CloudWatch Logs User Guide, "Step 2: (Only if using an organization) Create an IAM role",
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CreateSubscriptionFilter-IAMrole.html
# (the same policy is on Cross-Account-Log_Subscription-Update-filter-Account.html for
# account-level subscription filter policies): the permissions of the role passed as
# `roleArn` to an organisation-wide destination, CWLtoSubscriptionFilterRole, file
# PermissionsForCWLSubscriptionFilter.json.
AWS_SENDER_ROLE_PERMISSIONS = """
{
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "logs:PutLogEvents",
            "Resource": "arn:aws:logs:region:111111111111:log-group:LogGroupOnWhichSubscriptionFilterIsCreated:*"
        }
    ]
}
"""
SENDER_REGIONS = ["eu-west-1", "us-east-1"]


@functools.cache
def sender_policy() -> dict[str, Any]:
    run = run_member(regions=SENDER_REGIONS)
    return dict(run.one("aws:iam/rolePolicy:RolePolicy", "central-sender").policy("policy"))


LOGS = {"Service": "logs.amazonaws.com"}


def put_log_events(policy: dict[str, Any], resource: str) -> bool:
    """Whether CloudWatch Logs, holding `policy`, may put events into `resource`."""
    return admits(policy, LOGS, "logs:PutLogEvents", {}, resource)


# botocore's logs model: LogGroupName 1..512 of [\.\-_/#A-Za-z0-9]+, LogStreamName 1..512 of
# [^:*]*.
log_group_names = st.from_regex(r"[.\-_/#A-Za-z0-9]{1,512}", fullmatch=True)
log_stream_names = st.from_regex(r"[^:*]{1,512}", fullmatch=True)


# The first example renders the member stack once (cached): no deadline.
@settings(deadline=None)
@given(log_group=log_group_names, log_stream=log_stream_names)
def test_the_sender_role_admits_what_awss_example_admits_for_this_accounts_log_groups(
    log_group: str, log_stream: str
) -> None:
    ours = sender_policy()
    for region in SENDER_REGIONS:
        example = instantiate(
            AWS_SENDER_ROLE_PERMISSIONS,
            **{
                "region": region,
                "111111111111": MEMBER,
                "LogGroupOnWhichSubscriptionFilterIsCreated": log_group,
            },
        )
        resource = f"arn:aws:logs:{region}:{MEMBER}:log-group:{log_group}:log-stream:{log_stream}"
        assert put_log_events(example, resource)
        assert put_log_events(ours, resource), resource
        # Nothing in another account (the destination's either) or an uncovered region.
        for account, other_region in ((LOGGING_ACCOUNT_ID, region), (MEMBER, "ap-south-1")):
            elsewhere = resource.replace(f":{region}:{MEMBER}:", f":{other_region}:{account}:")
            assert not put_log_events(ours, elsewhere), elsewhere


def test_account_policy_mode() -> None:
    run = run_member(
        subscriptionMode="account-policy",
        regions=["eu-west-1", "ap-northeast-1"],
        filterPattern="-DEBUG",
        excludeLogGroups=["/aws/kinesisfirehose/CentralLogDestination", "/aws/lambda/noisy"],
    )
    # No subscriber functions: only the heartbeat, which both modes have.
    assert [f.inputs["name"] for f in run.of_type("aws:lambda/function:Function")] == [
        "central-logging-heartbeat"
    ] * 2
    assert not run.of_type("aws:lambda/invocation:Invocation")
    sender = run.one("aws:iam/role:Role", "central-sender").state["arn"]
    for region in ("eu-west-1", "ap-northeast-1"):
        policy = run.one(
            "aws:cloudwatch/logAccountPolicy:LogAccountPolicy", f"central-{region}-account-policy"
        )
        assert policy.inputs["region"] == region
        assert policy.inputs["policyType"] == "SUBSCRIPTION_FILTER_POLICY"
        assert policy.inputs["scope"] == "ALL"
        assert policy.inputs["policyName"] == "central-logging"
        assert policy.policy("policyDocument") == {
            "DestinationArn": destination(region),
            "RoleArn": sender,
            "FilterPattern": "-DEBUG",
            "Distribution": "Random",
        }
        assert policy.inputs["selectionCriteria"] == (
            'LogGroupName NOT IN ["/aws/kinesisfirehose/CentralLogDestination", '
            '"/aws/lambda/noisy"]'
        )
    assert run.outputs["subscriptionMode"] == "account-policy"
    assert "subscriberFunctionArns" not in run.outputs


def test_a_region_without_destination_names_region_and_stack() -> None:
    with pytest.raises(ConfigError) as raised:
        run_member(regions=["eu-west-1", "eu-north-1"])
    assert str(raised.value) == (
        "central-logging:regions includes 'eu-north-1' but the logging stack "
        "example-org/central-logging/logging has no destination there (its destinationArns "
        "cover: ap-northeast-1, eu-west-1, us-east-1); add the region to the logging stack "
        "first or remove it here."
    )


def test_function_archive_holds_the_handlers_only(tmp_path: Any) -> None:
    package = tmp_path / "handlers"
    (package / "__pycache__").mkdir(parents=True)
    for name in ("__init__.py", "core.py", "subscribe.py", "test_core.py", "notes.md"):
        (package / name).write_text("")
    (package / "__pycache__" / "core.cpython-311.py").write_text("")
    assert sorted(handler_files(package)) == [
        "handlers/__init__.py",
        "handlers/core.py",
        "handlers/subscribe.py",
    ]
    shipped = sorted(handler_files())
    assert {"handlers/core.py", "handlers/subscribe.py", "handlers/reconcile.py"} <= set(shipped)
    assert all("__pycache__" not in name and "/test" not in name for name in shipped)


@pytest.mark.parametrize("mode", ["lambda", "account-policy"])
def test_the_logging_account_as_a_member_never_subscribes_its_delivery_logs(mode: str) -> None:
    run = run_program(
        {
            "role": "member",
            "loggingStack": STACK,
            "subscriptionMode": mode,
            "excludeLogGroups": ["/aws/lambda/noisy"],
        },
        account_id=LOGGING_ACCOUNT_ID,
        stack_outputs=LOGGING_OUTPUTS,
    )
    expected = ["/aws/lambda/noisy", "/aws/kinesisfirehose/CentralLogDestination"]
    if mode == "lambda":
        for kind in ("subscriber", "reconciler"):
            function = run.one("aws:lambda/function:Function", f"central-eu-west-1-{kind}")
            variables = function.inputs["environment"]["variables"]
            assert variables["EXCLUDE_PATTERNS"] == json.dumps(expected)
    else:
        policy = run.one("aws:cloudwatch/logAccountPolicy:LogAccountPolicy")
        assert policy.inputs["selectionCriteria"] == f"LogGroupName NOT IN {json.dumps(expected)}"


def test_a_member_account_keeps_only_its_own_exclusions() -> None:
    run = run_member(subscriptionMode="account-policy")
    policy = run.one("aws:cloudwatch/logAccountPolicy:LogAccountPolicy")
    assert "selectionCriteria" not in policy.inputs
