"""The CrossGuard rules over what our own stacks declare under Pulumi's mock runtime.

Every rule passes on every resource of our stacks, and one mutated property of one of our
resources makes it report a violation. Properties reach each rule wrapped the way the policy
engine hands them over (pulumi_policy's read-only proxies).
"""

from __future__ import annotations

import copy
import functools
import json
import runpy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policy import rules
from tests.infra.harness import LOGGING_ACCOUNT_ID, ORG_ID, Run, run_program

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
MEMBER = "111111111111"
LOGGING_STACK = "example-org/central-logging/logging"
REGIONS = ["eu-west-1", "us-east-1"]
LOGGING_OUTPUTS = {
    LOGGING_STACK: {
        "destinationArns": {
            r: f"arn:aws:logs:{r}:{LOGGING_ACCOUNT_ID}:destination:CentralLogDestination"
            for r in REGIONS
        }
    }
}
STACK_CONFIGS: dict[str, tuple[dict[str, object], str]] = {
    "logging-organization": ({"role": "logging", "organizationId": ORG_ID}, LOGGING_ACCOUNT_ID),
    "logging-kinesis-raw-accounts": (
        {
            "role": "logging",
            "memberAccounts": [MEMBER, "222222222222"],
            "transport": "kinesis",
            "archiveFormat": "raw",
            "regions": REGIONS,
        },
        LOGGING_ACCOUNT_ID,
    ),
    "member-lambda": (
        {"role": "member", "loggingStack": LOGGING_STACK, "regions": REGIONS},
        MEMBER,
    ),
    "member-account-policy": (
        {"role": "member", "loggingStack": LOGGING_STACK, "subscriptionMode": "account-policy"},
        MEMBER,
    ),
}
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


@functools.cache
def stack(name: str) -> Run:
    config, account_id = STACK_CONFIGS[name]
    return run_program(config, account_id=account_id, stack_outputs=LOGGING_OUTPUTS)


def policy(name: str) -> ResourceValidationPolicy:
    [found] = [p for p in rules.POLICIES if p.name == name]
    return found


def violations(
    rule: ResourceValidationPolicy, resource_type: str, props: dict[str, Any]
) -> list[str]:
    """What `rule` reports for a resource with these inputs, as the policy engine calls it."""
    args = ResourceValidationArgs(
        resource_type=resource_type,
        props=unknown_checking_proxy(copy.deepcopy(props)),
        urn=f"urn:pulumi:test::central-logging::{resource_type}::example",
        name="example",
        opts=PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), []),
        provider=None,
    )
    reported: list[str] = []

    def report_violation(message: str, urn: str | None = None) -> None:
        reported.append(message)

    assert rule.validate(args, report_violation) is None
    return reported


@pytest.mark.parametrize("name", STACK_CONFIGS)
def test_our_stacks_pass_every_rule(name: str) -> None:
    run = stack(name)
    assert run.of_type(rules.ROLE), "every stack has service roles for the rules to check"
    for resource in run.resources:
        for rule in rules.POLICIES:
            assert violations(rule, resource.type, resource.inputs) == [], (
                rule.name,
                resource.name,
            )


def set_in_policy(
    key: str, change: Callable[[dict[str, Any]], None]
) -> Callable[[dict[str, Any]], None]:
    """A mutation of the JSON policy document in input `key`, kept as a JSON string."""

    def mutate(props: dict[str, Any]) -> None:
        document = json.loads(props[key])
        change(document)
        props[key] = json.dumps(document)

    return mutate


def first_statement(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda document: change(document["Statement"][0])


def add_action(action: str, *, as_json: bool) -> Callable[[dict[str, Any]], None]:
    def mutate(props: dict[str, Any]) -> None:
        document = json.loads(props["policy"])
        document["Statement"][0]["Action"] = [*document["Statement"][0]["Action"], action]
        props["policy"] = json.dumps(document) if as_json else document

    return mutate


# (rule, stack, resource type, resource name, mutation, expected words in the violation)
MUTATIONS: list[tuple[str, str, str, str, Callable[[dict[str, Any]], None], str]] = [
    *[
        (
            "archive-bucket-public-access-blocked",
            "logging-organization",
            rules.PUBLIC_ACCESS_BLOCK,
            "central-archive-public-access",
            functools.partial(lambda flag, props: props.update({flag: False}), flag),
            flag,
        )
        for flag in rules.PUBLIC_ACCESS_FLAGS
    ],
    (
        "archive-bucket-kms-encrypted",
        "logging-organization",
        rules.BUCKET_ENCRYPTION,
        "central-archive-encryption",
        lambda props: props["rules"][0]["applyServerSideEncryptionByDefault"].update(
            sseAlgorithm="AES256"
        ),
        "AES256",
    ),
    (
        "archive-bucket-versioned",
        "logging-kinesis-raw-accounts",
        rules.BUCKET_VERSIONING,
        "central-archive-versioning",
        lambda props: props["versioningConfiguration"].update(status="Suspended"),
        "Suspended",
    ),
    (
        "archive-bucket-tls-only",
        "logging-organization",
        rules.BUCKET_POLICY,
        "central-archive-policy",
        set_in_policy(
            "policy",
            first_statement(
                lambda s: s["Condition"]["Bool"].update({"aws:SecureTransport": "true"})
            ),
        ),
        "aws:SecureTransport",
    ),
    (
        "archive-bucket-tls-only",
        "logging-organization",
        rules.BUCKET_POLICY,
        "central-archive-policy",
        set_in_policy("policy", first_statement(lambda s: s.update(Effect="Allow"))),
        "aws:SecureTransport",
    ),
    (
        "destination-policy-org-scoped",
        "logging-organization",
        rules.DESTINATION_POLICY,
        "central-eu-west-1-access",
        set_in_policy("accessPolicy", first_statement(lambda s: s.pop("Condition"))),
        "aws:PrincipalOrgID",
    ),
    (
        "destination-policy-org-scoped",
        "logging-kinesis-raw-accounts",
        rules.DESTINATION_POLICY,
        "central-us-east-1-access",
        set_in_policy("accessPolicy", first_statement(lambda s: s.update(Principal={"AWS": "*"}))),
        "aws:PrincipalOrgID",
    ),
    (
        "service-roles-confused-deputy",
        "logging-organization",
        rules.ROLE,
        "central-eu-west-1-firehose-role",
        set_in_policy("assumeRolePolicy", first_statement(lambda s: s.pop("Condition"))),
        "firehose.amazonaws.com",
    ),
    (
        "service-roles-confused-deputy",
        "member-account-policy",
        rules.ROLE,
        "central-sender",
        set_in_policy(
            "assumeRolePolicy",
            first_statement(
                lambda s: s.update(Condition={"StringLike": {"aws:PrincipalArn": "arn:aws:*"}})
            ),
        ),
        "logs.amazonaws.com",
    ),
    # The Lambda exemption covers lambda.amazonaws.com alone, not a role another service shares.
    (
        "service-roles-confused-deputy",
        "member-lambda",
        rules.ROLE,
        "central-us-east-1-subscriber",
        set_in_policy(
            "assumeRolePolicy",
            first_statement(
                lambda s: s.update(
                    Principal={"Service": ["lambda.amazonaws.com", "events.amazonaws.com"]}
                )
            ),
        ),
        "events.amazonaws.com",
    ),
    (
        "kinesis-stream-encrypted",
        "logging-kinesis-raw-accounts",
        rules.KINESIS_STREAM,
        "central-us-east-1-kinesis",
        lambda props: props.update(encryptionType="NONE"),
        "NONE",
    ),
    (
        "no-broad-role-actions",
        "member-lambda",
        rules.ROLE_POLICY,
        "central-eu-west-1-subscriber",
        add_action("logs:*", as_json=True),
        "logs:*",
    ),
    (
        "no-broad-role-actions",
        "member-lambda",
        rules.ROLE_POLICY,
        "central-eu-west-1-reconciler",
        add_action("IAM:*", as_json=True),
        "IAM:*",
    ),
    # A document handed over already parsed is read too.
    (
        "no-broad-role-actions",
        "logging-organization",
        rules.ROLE_POLICY,
        "central-eu-west-1-firehose-role",
        add_action("*", as_json=False),
        "allows *",
    ),
    (
        "no-broad-role-actions",
        "logging-kinesis-raw-accounts",
        rules.ROLE_POLICY,
        "central-eu-west-1-destination",
        set_in_policy(
            "policy",
            first_statement(lambda s: s.update(NotAction=s.pop("Action"))),
        ),
        "NotAction",
    ),
    (
        "no-broad-role-actions",
        "member-account-policy",
        rules.ROLE,
        "central-sender",
        lambda props: props.update(
            inlinePolicies=[
                {
                    "name": "extra",
                    "policy": {
                        "Version": "2012-10-17",
                        "Statement": {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
                    },
                }
            ]
        ),
        "iam:*",
    ),
    (
        "no-broad-role-actions",
        "member-account-policy",
        rules.ROLE_POLICY,
        "central-sender",
        lambda props: props.update(policy="{not json"),
        "not a readable JSON policy document",
    ),
    (
        "no-admin-managed-policies",
        "member-lambda",
        rules.ROLE,
        "central-eu-west-1-reconciler",
        lambda props: props.update(managedPolicyArns=[ADMIN]),
        "AdministratorAccess",
    ),
]


@pytest.mark.parametrize(
    ("rule", "stack_name", "resource_type", "resource_name", "mutate", "expected"),
    MUTATIONS,
    ids=[f"{m[0]}-{m[3]}-{i}" for i, m in enumerate(MUTATIONS)],
)
def test_each_rule_reports_one_mutated_property_of_our_resources(
    rule: str,
    stack_name: str,
    resource_type: str,
    resource_name: str,
    mutate: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    resource = stack(stack_name).one(resource_type, resource_name)
    assert violations(policy(rule), resource_type, resource.inputs) == []
    props = copy.deepcopy(resource.inputs)
    mutate(props)
    [message] = violations(policy(rule), resource_type, props)
    assert expected in message


def test_every_rule_is_exercised_by_a_mutation() -> None:
    assert {m[0] for m in MUTATIONS} == {p.name for p in rules.POLICIES}


def test_lambda_execution_roles_are_exempt_but_other_unconditioned_service_roles_are_not() -> None:
    trust: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    rule = policy("service-roles-confused-deputy")
    assert violations(rule, rules.ROLE, {"assumeRolePolicy": json.dumps(trust)}) == []
    trust["Statement"][0]["Principal"] = {"Service": "states.amazonaws.com"}
    assert len(violations(rule, rules.ROLE, {"assumeRolePolicy": json.dumps(trust)})) == 1


@pytest.mark.parametrize(
    ("policy_arn", "reported"),
    [
        (ADMIN, True),
        ("arn:aws:iam::aws:policy/IAMFullAccess", True),
        ("arn:aws:iam::aws:policy/CloudWatchLogsFullAccess", True),
        ("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", False),
        ("arn:aws:iam::111111111111:policy/AdministratorAccessForAudit", False),
    ],
)
def test_role_policy_attachments_of_admin_policies_are_reported(
    policy_arn: str, reported: bool
) -> None:
    props = {"role": "central-sender-id", "policyArn": policy_arn}
    found = violations(policy("no-admin-managed-policies"), rules.ROLE_POLICY_ATTACHMENT, props)
    assert bool(found) is reported


def test_the_pack_is_mandatory_and_runs_every_rule() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    requirements = (POLICY_DIR / "requirements.txt").read_text().split()
    assert {r.split(">=")[0] for r in requirements} == {"pulumi", "pulumi-policy"}
    # The CLI runs the pack directory with runpy from inside it; PolicyPack would then serve
    # the engine for ever, so it is replaced by a mock that records what it was given.
    with mock.patch("pulumi_policy.PolicyPack") as pack:
        try:
            runpy.run_path(str(POLICY_DIR), run_name="__main__")
        finally:
            sys.modules.pop("rules", None)
    pack.assert_called_once()
    kwargs = pack.call_args.kwargs
    assert kwargs["name"] == "central-logging"
    assert kwargs["enforcement_level"] is EnforcementLevel.MANDATORY
    assert [p.name for p in kwargs["policies"]] == [p.name for p in rules.POLICIES]
