"""The service control policies of deploy/scp/, evaluated against the names the program
really gives its resources: the organization templates' in a member account, the logging
stack's in the logging account."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.infra.harness import DEPLOY_ROLE, LOGGING_ACCOUNT_ID, ORG_ID, Run, run_program
from tests.infra.iam_evaluator import denies
from tests.infra.test_organization_templates import CONFIGS, REGIONS, rendered, resolve

SCP_DIR = Path(__file__).resolve().parents[2] / "deploy" / "scp"
# "Maximum size of a policy document: Service control policies: 5120 bytes", saved as given
# through the CLI or an SDK (AWS Organizations User Guide, "Quotas for AWS Organizations").
SCP_MAX_BYTES = 5120
MEMBER = "111111111111"
# What an administrator of the account signs in as.
ADMIN = f"arn:aws:iam::{MEMBER}:role/AWSReservedSSO_AdministratorAccess_0123456789abcdef"
# The execution role service-managed StackSets create in every target account.
STACKSETS = f"arn:aws:iam::{MEMBER}:role/stacksets-exec-0123456789abcdef0123456789abcdef"


def scp(name: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads((SCP_DIR / name).read_text())
    return parsed


def request(policy: dict[str, Any], principal: str, action: str, resource: str) -> bool:
    """Whether the SCP denies `principal` this request."""
    return denies(policy, action, resource, {"aws:PrincipalArn": principal})


@pytest.mark.parametrize("name", ["member-accounts.json", "logging-account.json"])
def test_each_scp_fits_and_only_denies_with_an_exception_for_named_roles(name: str) -> None:
    text = (SCP_DIR / name).read_bytes()
    assert len(text) <= SCP_MAX_BYTES
    policy = scp(name)
    assert policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        # SCPs take no Principal; they deny, and allow nothing.
        assert statement["Effect"] == "Deny" and "Principal" not in statement
        assert set(statement["Condition"]) == {"ArnNotLike"}
        assert set(statement["Condition"]["ArnNotLike"]) == {"aws:PrincipalArn"}


# Per resource type of the templates: the ARN of a resource, and a change to it.
def protected(template: dict[str, Any], region: str) -> Iterator[tuple[str, str]]:
    for resource in template["Resources"].values():
        properties = resolve(resource["Properties"], template, region, MEMBER)
        kind = resource["Type"]
        if kind == "AWS::Lambda::Function":
            arn = f"arn:aws:lambda:{region}:{MEMBER}:function:{properties['FunctionName']}"
            yield "lambda:UpdateFunctionCode", arn
            yield "lambda:AddPermission", arn
        elif kind == "AWS::Events::Rule":
            arn = f"arn:aws:events:{region}:{MEMBER}:rule/{properties['Name']}"
            yield "events:DisableRule", arn
            yield "events:PutTargets", arn
        elif kind == "AWS::IAM::Role":
            arn = f"arn:aws:iam::{MEMBER}:role/{properties['RoleName']}"
            yield "iam:UpdateAssumeRolePolicy", arn
            yield "iam:PutRolePolicy", arn
            yield "iam:PassRole", arn
        elif kind == "AWS::SSM::Parameter":
            yield "ssm:PutParameter", f"arn:aws:ssm:{region}:{MEMBER}:parameter{properties['Name']}"
        elif kind == "AWS::SQS::Queue":
            yield "sqs:PurgeQueue", f"arn:aws:sqs:{region}:{MEMBER}:{properties['QueueName']}"
        elif kind == "AWS::Logs::LogGroup" and properties["LogGroupName"].startswith("/central"):
            arn = f"arn:aws:logs:{region}:{MEMBER}:log-group:{properties['LogGroupName']}"
            yield "logs:DeleteLogGroup", arn


@pytest.mark.parametrize("config", list(CONFIGS))
def test_no_one_but_the_project_s_roles_changes_what_the_templates_deploy(config: str) -> None:
    policy = scp("member-accounts.json")
    templates = rendered(config)
    changes = [
        change
        for region in REGIONS
        for purpose in ("account", "regional")
        for change in protected(templates[purpose], region)
    ]
    kinds = {action.split(":")[0] for action, _ in changes}
    assert {"lambda", "events", "iam", "ssm", "logs"} <= kinds
    for action, arn in changes:
        assert request(policy, ADMIN, action, arn), (action, arn)
        assert not request(policy, STACKSETS, action, arn), (action, arn)


def test_only_the_project_s_roles_put_or_delete_filters_and_log_policies() -> None:
    policy = scp("member-accounts.json")
    regional = rendered("lambda")["regional"]
    function_roles = [
        f"arn:aws:iam::{MEMBER}:role/{resolve(r['Properties']['RoleName'], regional, REGIONS[0], MEMBER)}"
        for r in regional["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
    ]
    group = f"arn:aws:logs:{REGIONS[0]}:{MEMBER}:log-group:/app/orders"
    for action in ("logs:PutSubscriptionFilter", "logs:DeleteSubscriptionFilter"):
        assert request(policy, ADMIN, action, group)
        assert all(not request(policy, role, action, group) for role in function_roles)
    for action in (
        "logs:PutAccountPolicy",
        "logs:DeleteAccountPolicy",
        "logs:PutTransformer",
        "logs:DeleteTransformer",
        "logs:PutDataProtectionPolicy",
        "logs:DeleteDataProtectionPolicy",
    ):
        assert request(policy, ADMIN, action, group), action
        assert not request(policy, STACKSETS, action, group), action
    # Reading, and everything else, stays with IAM.
    assert not request(policy, ADMIN, "logs:DescribeSubscriptionFilters", group)
    assert not request(policy, ADMIN, "lambda:CreateFunction", "arn:aws:lambda:*:*:function:x")


def test_no_one_makes_a_role_of_the_project_s_name_to_slip_through() -> None:
    policy = scp("member-accounts.json")
    forged = f"arn:aws:iam::{MEMBER}:role/central-logging-escape"
    assert request(policy, ADMIN, "iam:CreateRole", forged)
    assert request(policy, ADMIN, "iam:UpdateAssumeRolePolicy", forged)


def logging_scp() -> dict[str, Any]:
    """The logging account's SCP with its placeholder set to the role that deploys."""
    text = (SCP_DIR / "logging-account.json").read_text()
    assert text.count("DEPLOYER_ROLE_NAME") == 2
    parsed: dict[str, Any] = json.loads(
        text.replace("DEPLOYER_ROLE_NAME", f"platform/{DEPLOY_ROLE}")
    )
    return parsed


@pytest.fixture(params=["firehose", "kinesis"])
def logging_stack(request: pytest.FixtureRequest) -> Run:
    config: dict[str, Any] = {"role": "logging", "organizationId": ORG_ID, "regions": REGIONS}
    if request.param == "kinesis":
        config.update(transport="kinesis", archiveFormat="raw")
    return run_program(config)


def test_only_destination_roles_and_the_deployer_put_records_or_pass_firehose_roles(
    logging_stack: Run,
) -> None:
    policy = logging_scp()
    admin = f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:role/AWSReservedSSO_AdministratorAccess_0a1b"
    deployer = f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:role/platform/{DEPLOY_ROLE}"
    roles = logging_stack.of_type("aws:iam/role:Role")
    destination_roles = [r.state["arn"] for r in roles if r.name.endswith("-destination")]
    # Pulumi appends a random suffix to the name; the mocks keep the logical name.
    destination_roles += [f"{arn}-1a2b3c4" for arn in destination_roles]
    firehose_roles = [r.state["arn"] for r in roles if r.name.endswith("-firehose-role")]
    assert destination_roles and firehose_roles
    streams = [
        r.state["arn"]
        for kind in (
            "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
            "aws:kinesis/stream:Stream",
        )
        for r in logging_stack.of_type(kind)
    ]
    assert len(streams) >= len(REGIONS)
    for stream in streams:
        put = "firehose:PutRecord" if ":firehose:" in stream else "kinesis:PutRecords"
        assert request(policy, admin, put, stream), stream
        assert not request(policy, deployer, put, stream), stream
        assert all(not request(policy, role, put, stream) for role in destination_roles)
        change = (
            "firehose:UpdateDestination" if ":firehose:" in stream else "kinesis:UpdateShardCount"
        )
        assert request(policy, admin, change, stream)
    for role in [*firehose_roles, *destination_roles]:
        assert request(policy, admin, "iam:PassRole", role), role
        assert request(policy, admin, "iam:UpdateAssumeRolePolicy", role), role
        assert not request(policy, deployer, "iam:PassRole", role), role
    for destination in logging_stack.of_type("aws:cloudwatch/logDestination:LogDestination"):
        assert request(policy, admin, "logs:PutDestinationPolicy", destination.state["arn"])
        assert not request(policy, deployer, "logs:PutDestination", destination.state["arn"])
