"""The CrossGuard rules over what our own stacks declare under Pulumi's mock runtime.

Every rule passes on every resource of our stacks, and one mutated property of one of our
resources makes it report a violation. Properties reach each rule wrapped the way the policy
engine hands them over (pulumi_policy's read-only proxies).
"""

from __future__ import annotations

import copy
import dataclasses
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
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policy import rules
from tests.infra.harness import (
    LOGGING_ACCOUNT_ID,
    ORG_ID,
    Resource,
    Run,
    deploy_role_arn,
    run_program,
)
from tests.infra.test_organization import MANAGEMENT

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
MEMBER = "111111111111"
OUTSIDE = "444444444444"
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
ORGANIZATION = {"role": "organization", "loggingStack": LOGGING_STACK, "regions": REGIONS}
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
    "logging-retention": (
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "objectLockMode": "COMPLIANCE",
            "objectLockDays": 365,
            "transitionDays": 30,
            "expireDays": 400,
            "archiveAdminRoleArns": [f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:role/archive-admin"],
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
    "member-in-the-logging-account": (
        {"role": "member", "loggingStack": LOGGING_STACK, "regions": REGIONS},
        LOGGING_ACCOUNT_ID,
    ),
    "member-code-signing": (
        {"role": "member", "loggingStack": LOGGING_STACK, "codeSigning": True},
        MEMBER,
    ),
    "logging-coverage": (
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "organizationReaderRoleArn": f"arn:aws:iam::{MANAGEMENT}:role/list-accounts",
            "coverageCheck": True,
        },
        LOGGING_ACCOUNT_ID,
    ),
    "logging-code-signing": (
        {"role": "logging", "organizationId": ORG_ID, "codeSigning": True},
        LOGGING_ACCOUNT_ID,
    ),
    "organization-lambda": (ORGANIZATION, MANAGEMENT),
    "organization-code-signing": ({**ORGANIZATION, "codeSigning": True}, MANAGEMENT),
    "organization-account-policy": (
        {**ORGANIZATION, "subscriptionMode": "account-policy", "excludeLogGroups": ["/aws/noisy"]},
        MANAGEMENT,
    ),
}
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
DEPLOYMENT = rules.Deployment(
    organization_id=ORG_ID,
    accounts=frozenset({LOGGING_ACCOUNT_ID, MEMBER, "222222222222", MANAGEMENT}),
    stacks={"logging": "logging", "member": "member", "organization": "organization"},
    existing_buckets=frozenset(),
)
# What the owners acknowledged for these stacks (policy/acknowledged.json's shape): the
# deploying role is always an archive admin.
ACKNOWLEDGED = {
    "excludeLogGroups": ["/aws/noisy"],
    "expireDays": [400],
    "transitionDays": [30],
    "objectLock": ["off", "COMPLIANCE:365d"],
    "archiveAdminRoleArns": [
        deploy_role_arn(LOGGING_ACCOUNT_ID),
        f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:role/archive-admin",
    ],
}


@pytest.fixture(autouse=True)
def deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pack judges with the test deployment, and as the logging stack unless told."""
    monkeypatch.setattr(rules, "deployment", lambda: DEPLOYMENT)
    monkeypatch.setenv("PULUMI_STACK", "logging")


def as_role(monkeypatch: pytest.MonkeyPatch, role: str) -> None:
    monkeypatch.setenv("PULUMI_STACK", role)


@functools.cache
def stack(name: str) -> Run:
    config, account_id = STACK_CONFIGS[name]
    return run_program(config, account_id=account_id, stack_outputs=LOGGING_OUTPUTS)


def role_of(name: str) -> str:
    return str(STACK_CONFIGS[name][0]["role"])


Rule = ResourceValidationPolicy | StackValidationPolicy
OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def policy(name: str) -> Rule:
    [found] = [p for p in rules.POLICIES if p.name == name]
    return found


def report() -> tuple[list[str], Callable[..., None]]:
    reported: list[str] = []

    def report_violation(message: str, urn: str | None = None) -> None:
        reported.append(message)

    return reported, report_violation


def violations(rule: Rule, resource_type: str, props: dict[str, Any]) -> list[str]:
    """What a resource rule reports for a resource with these inputs, as the engine calls it."""
    assert isinstance(rule, ResourceValidationPolicy)
    args = ResourceValidationArgs(
        resource_type=resource_type,
        props=unknown_checking_proxy(copy.deepcopy(props)),
        urn=f"urn:pulumi:test::central-logging::{resource_type}::example",
        name="example",
        opts=OPTIONS,
        provider=None,
    )
    reported, report_violation = report()
    assert rule.validate(args, report_violation) is None
    return reported


def policy_resources(resources: list[Resource]) -> list[PolicyResource]:
    """The resources as the engine hands them to a stack rule, dependencies resolved."""
    found = {
        r.urn: PolicyResource(
            r.type,
            unknown_checking_proxy(copy.deepcopy(r.inputs)),
            r.urn,
            r.name,
            OPTIONS,
            None,
            None,
            [],
            {},
        )
        for r in resources
    }
    for r in resources:
        found[r.urn].property_dependencies = {
            key: [found[urn] for urn in urns if urn in found]
            for key, urns in r.property_dependencies.items()
        }
    return list(found.values())


def stack_violations(
    rule: Rule, resources: list[Resource], config: dict[str, Any] | None = None
) -> list[str]:
    """What a stack rule reports for these resources, their property dependencies resolved."""
    assert isinstance(rule, StackValidationPolicy)
    reported, report_violation = report()
    args = StackValidationArgs(policy_resources(resources), config=config or ACKNOWLEDGED)
    assert rule.validate(args, report_violation) is None
    return reported


def every_violation(
    resources: list[Resource], config: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    found = []
    for rule in rules.POLICIES:
        if isinstance(rule, StackValidationPolicy):
            found += [(rule.name, m) for m in stack_violations(rule, resources, config)]
            continue
        for resource in resources:
            found += [(rule.name, m) for m in violations(rule, resource.type, resource.inputs)]
    return found


@pytest.mark.parametrize("name", STACK_CONFIGS)
def test_our_stacks_pass_every_rule(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    as_role(monkeypatch, role_of(name))
    run = stack(name)
    assert run.of_type(rules.ROLE) or run.of_type(rules.STACK_SET), "roles for the rules to check"
    assert every_violation(run.resources) == []


def replaced(run: Run, resource: Resource, props: dict[str, Any]) -> list[Resource]:
    """The stack's resources with one resource's inputs replaced."""
    changed = dataclasses.replace(resource, inputs=props)
    return [changed if r is resource else r for r in run.resources]


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
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    as_role(monkeypatch, role_of(stack_name))
    run = stack(stack_name)
    resource = run.one(resource_type, resource_name)
    props = copy.deepcopy(resource.inputs)
    mutate(props)
    checked = policy(rule)
    if isinstance(checked, StackValidationPolicy):
        assert stack_violations(checked, run.resources) == []
        messages = stack_violations(checked, replaced(run, resource, props))
    else:
        assert violations(checked, resource_type, resource.inputs) == []
        messages = violations(checked, resource_type, props)
    assert [m for m in messages if expected in m], messages


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


DESTINATION = f"arn:aws:logs:eu-west-1:{LOGGING_ACCOUNT_ID}:destination:CentralLogDestination"
OTHER_ORG = "o-otherorg123"
ARCHIVE = "archive-bucket"
ARCHIVE_ARN = f"arn:aws:s3:::{ARCHIVE}"


def org_grant(condition: dict[str, Any] | None, **changes: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "Organization",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "logs:PutSubscriptionFilter",
        "Resource": DESTINATION,
    }
    if condition is not None:
        statement["Condition"] = condition
    return {"accessPolicy": doc({**statement, **changes})}


def tls_deny(**changes: Any) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [ARCHIVE_ARN, f"{ARCHIVE_ARN}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        **changes,
    }


def archive_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"bucket": ARCHIVE, "policy": doc(*statements)}


def trust(condition: dict[str, Any] | None, principal: Any = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal or {"Service": "firehose.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if condition is not None:
        statement["Condition"] = condition
    return {"assumeRolePolicy": doc(statement)}


LOG_GROUP_ARN = "arn:aws:logs:eu-west-1:111111111111:log-group:x:*"


def allow(action: str, resource: str = LOG_GROUP_ARN) -> dict[str, Any]:
    return {"policy": doc({"Effect": "Allow", "Action": action, "Resource": resource})}


def managed(name: str) -> str:
    return f"arn:aws:iam::aws:policy/{name}"


ROLE_ARN = "arn:aws:iam::111111111111:role/central-sender"
GITHUB = "token.actions.githubusercontent.com"
PR_SUBJECT = "repo:example-org/central-logging:pull_request"
FOREIGN_DESTINATION = f"arn:aws:logs:eu-west-1:{OUTSIDE}:destination:Elsewhere"


def github_trust(condition: dict[str, Any], account: str = LOGGING_ACCOUNT_ID) -> dict[str, Any]:
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{GITHUB}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }
    return {"assumeRolePolicy": doc(statement)}


def grant(principal: Any, action: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {
        "Sid": "Grant",
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": "*" if not action.startswith("s3:") else f"{ARCHIVE_ARN}/*",
    }
    return {**statement, **({"Condition": condition} if condition else {})}


def template_role(**properties: Any) -> dict[str, Any]:
    role = {
        "AssumeRolePolicyDocument": {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ]
        },
        "RoleName": {"Fn::Sub": "central-logging-x-${AWS::Region}"},
    }
    return {"Type": "AWS::IAM::Role", "Properties": {**role, **properties}}


def stack_set(*resources: dict[str, Any]) -> dict[str, Any]:
    body = {"Resources": {f"Resource{i}": r for i, r in enumerate(resources)}}
    return {"templateBody": json.dumps(body), "name": "central-logging-regional"}


EXCLUSIVE_ROLE_ATTACHMENTS = rules.EXCLUSIVE_ATTACHMENTS[0]
EXCLUSIVE_GROUP_ATTACHMENTS = rules.EXCLUSIVE_ATTACHMENTS[2]

# Shapes that defeated the pack before: (rule, resource type, inputs, words in the violation).
HOLES: dict[str, tuple[str, str, dict[str, Any], str]] = {
    # The archive's object events.
    "notification-to-an-outside-queue": (
        "notifications-inside-the-deployment",
        rules.BUCKET_NOTIFICATION,
        {"queues": [{"queueArn": f"arn:aws:sqs:eu-west-1:{OUTSIDE}:events", "events": ["*"]}]},
        "outside the deployment",
    ),
    # Destination policies.
    "destination-allow-not-principal": (
        "destination-policy-org-scoped",
        rules.DESTINATION_POLICY,
        {
            "accessPolicy": doc(
                {
                    "Effect": "Allow",
                    "NotPrincipal": {"AWS": "111111111111"},
                    "Action": "logs:PutSubscriptionFilter",
                    "Resource": DESTINATION,
                }
            )
        },
        "NotPrincipal",
    ),
    "destination-org-list-with-another-org": (
        "destination-policy-org-scoped",
        rules.DESTINATION_POLICY,
        org_grant({"StringEquals": {"aws:PrincipalOrgID": [ORG_ID, OTHER_ORG]}}),
        "several organisations",
    ),
    "destination-org-wildcard": (
        "destination-policy-org-scoped",
        rules.DESTINATION_POLICY,
        org_grant({"StringLike": {"aws:PrincipalOrgID": "o-*"}}),
        "exact",
    ),
    "destination-org-if-exists": (
        "destination-policy-org-scoped",
        rules.DESTINATION_POLICY,
        org_grant({"StringEqualsIfExists": {"aws:PrincipalOrgID": ORG_ID}}),
        "exact",
    ),
    "destination-org-negated": (
        "destination-policy-org-scoped",
        rules.DESTINATION_POLICY,
        org_grant({"StringNotEquals": {"aws:PrincipalOrgID": OTHER_ORG}}),
        "exact",
    ),
    "destination-org-paths-any-org": (
        "destination-policy-org-scoped",
        rules.DESTINATION_POLICY,
        org_grant({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "*/r-ab12/*"}}),
        "exact",
    ),
    "destination-org-paths-of-two-orgs": (
        "destination-policy-org-scoped",
        rules.DESTINATION_POLICY,
        org_grant(
            {
                "ForAnyValue:StringLike": {
                    "aws:PrincipalOrgPaths": [f"{ORG_ID}/r-ab12/*", f"{OTHER_ORG}/r-cd34/*"]
                }
            }
        ),
        "several organisations",
    ),
    # Bucket policies.
    "bucket-tls-deny-on-bucket-arn-only": (
        "archive-bucket-tls-only",
        rules.BUCKET_POLICY,
        archive_policy(tls_deny(Resource=ARCHIVE_ARN)),
        "aws:SecureTransport",
    ),
    "bucket-tls-deny-on-another-bucket": (
        "archive-bucket-tls-only",
        rules.BUCKET_POLICY,
        archive_policy(tls_deny(Resource=["arn:aws:s3:::other", "arn:aws:s3:::other/*"])),
        "aws:SecureTransport",
    ),
    "bucket-tls-deny-exempting-an-account": (
        "archive-bucket-tls-only",
        rules.BUCKET_POLICY,
        archive_policy(
            tls_deny(
                Condition={
                    "Bool": {"aws:SecureTransport": "false"},
                    "StringNotEquals": {"aws:PrincipalAccount": "111111111111"},
                }
            )
        ),
        "aws:SecureTransport",
    ),
    "bucket-tls-deny-not-principal": (
        "archive-bucket-tls-only",
        rules.BUCKET_POLICY,
        archive_policy(
            {
                **{k: v for k, v in tls_deny().items() if k != "Principal"},
                "NotPrincipal": {"AWS": ROLE_ARN},
            }
        ),
        "aws:SecureTransport",
    ),
    "bucket-extra-allow-everyone": (
        "archive-bucket-tls-only",
        rules.BUCKET_POLICY,
        archive_policy(
            tls_deny(),
            {
                "Sid": "Read",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:GetObject",
                "Resource": f"{ARCHIVE_ARN}/*",
            },
        ),
        "allows everyone",
    ),
    # Role trust.
    **{
        f"trust-{name}": (
            "service-roles-confused-deputy",
            rules.ROLE,
            trust(condition),
            "confused-deputy",
        )
        for name, condition in {
            "source-arn-star": {"StringLike": {"aws:SourceArn": "*"}},
            "source-arn-any-region-and-account": {
                "ArnLike": {"aws:SourceArn": "arn:aws:logs:*:*:*"}
            },
            "source-account-star": {"StringLike": {"aws:SourceAccount": "*"}},
            "null": {"Null": {"aws:SourceArn": "false"}},
            "string-not-equals": {"StringNotEquals": {"aws:SourceAccount": "111111111111"}},
            "if-exists": {"StringEqualsIfExists": {"aws:SourceAccount": "111111111111"}},
            "arn-like-if-exists": {
                "ArnLikeIfExists": {"aws:SourceArn": "arn:aws:logs:eu-west-1:111111111111:*"}
            },
        }.items()
    },
    "trust-aws-star": (
        "service-roles-confused-deputy",
        rules.ROLE,
        trust(None, principal={"AWS": "*"}),
        "allows everyone",
    ),
    "trust-star": ("service-roles-confused-deputy", rules.ROLE, trust(None, "*"), "everyone"),
    # Role, user and group policies.
    "policy-logs-put-star": (
        "no-broad-role-actions",
        rules.ROLE_POLICY,
        allow("logs:Put*"),
        "logs:Put*",
    ),
    "policy-pass-role-on-star": (
        "no-broad-role-actions",
        rules.ROLE_POLICY,
        allow("iam:PassRole", "*"),
        "iam:PassRole on *",
    ),
    "policy-iam-role-wildcard": (
        "no-broad-role-actions",
        rules.USER_POLICY,
        allow("iam:*Role*", ROLE_ARN),
        "iam:*Role*",
    ),
    "policy-s3-star-on-star": (
        "no-broad-role-actions",
        rules.ROLE_POLICY,
        allow("s3:*", "*"),
        "s3:*",
    ),
    "policy-kms-star-on-star": (
        "no-broad-role-actions",
        rules.GROUP_POLICY,
        allow("kms:*", "*"),
        "kms:*",
    ),
    "policy-kms-decrypt-on-star": (
        "no-broad-role-actions",
        rules.ROLE_POLICY,
        allow("kms:Decrypt", "*"),
        "kms:Decrypt on *",
    ),
    "policy-not-resource": (
        "no-broad-role-actions",
        rules.ROLE_POLICY,
        {
            "policy": doc(
                {"Effect": "Allow", "Action": "logs:PutLogEvents", "NotResource": ROLE_ARN}
            )
        },
        "NotResource",
    ),
    "policy-not-action": (
        "no-broad-role-actions",
        rules.MANAGED_POLICY,
        {"policy": doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": ROLE_ARN})},
        "NotAction",
    ),
    # Inline bucket settings.
    **{
        f"bucket-inline-{name}": (
            "archive-bucket-no-inline-settings",
            rules.BUCKET,
            {"bucket": ARCHIVE, name: value},
            name,
        )
        for name, value in {
            "acl": "public-read",
            "policy": doc(tls_deny()),
            "versioning": {"enabled": False},
            "serverSideEncryptionConfiguration": {
                "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
            },
            "lifecycleRules": [{"enabled": True, "expiration": {"days": 1}}],
            "forceDestroy": True,
        }.items()
    },
    # Key policies.
    "key-kms-star-to-star": (
        "key-policy-grants-nothing-to-everyone",
        rules.KMS_KEY,
        {"policy": doc({"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"})},
        "everyone",
    ),
    "key-decrypt-to-aws-star": (
        "key-policy-grants-nothing-to-everyone",
        rules.KMS_KEY,
        {
            "policy": doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"kms:CallerAccount": "111111111111"}},
                }
            )
        },
        "everyone",
    ),
    # Issue 19: shapes that passed every rule before.
    **{
        f"trust-{name}": ("principals-inside-the-organization", rules.ROLE, props, words)
        for name, (props, words) in {
            "outside-account": (trust(None, {"AWS": f"arn:aws:iam::{OUTSIDE}:root"}), OUTSIDE),
            "outside-account-id": (trust(None, {"AWS": OUTSIDE}), OUTSIDE),
            "outside-account-beside-lambda": (
                trust(None, {"Service": "lambda.amazonaws.com", "AWS": OUTSIDE}),
                OUTSIDE,
            ),
            "outside-role": (trust(None, {"AWS": f"arn:aws:iam::{OUTSIDE}:role/x"}), OUTSIDE),
            "github-repo-star": (
                github_trust({"StringLike": {f"{GITHUB}:sub": "repo:*"}}),
                "exact subjects",
            ),
            "github-org-star": (
                github_trust(
                    {
                        "StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com"},
                        "StringLike": {f"{GITHUB}:sub": "repo:example-org/*"},
                    }
                ),
                "exact subjects",
            ),
            "github-no-audience": (
                github_trust({"StringEquals": {f"{GITHUB}:sub": PR_SUBJECT}}),
                "exact subjects",
            ),
            "github-provider-of-another-account": (
                github_trust(
                    {
                        "StringEquals": {
                            f"{GITHUB}:aud": "sts.amazonaws.com",
                            f"{GITHUB}:sub": PR_SUBJECT,
                        }
                    },
                    account=OUTSIDE,
                ),
                "exact subjects",
            ),
            "saml-provider": (
                trust(None, {"Federated": f"arn:aws:iam::{MEMBER}:saml-provider/idp"}),
                "saml-provider",
            ),
            "principal-org-of-another-organisation": (
                trust(
                    {"StringEquals": {"aws:PrincipalOrgID": OTHER_ORG}},
                    {"AWS": f"arn:aws:iam::{MEMBER}:root"},
                ),
                OTHER_ORG,
            ),
        }.items()
    },
    **{
        f"trust-{name}": (
            "service-roles-confused-deputy",
            rules.ROLE,
            trust(condition),
            "deployment",
        )
        for name, condition in {
            "source-arn-region-only": {
                "StringLike": {"aws:SourceArn": "arn:aws:firehose:eu-west-1:*:*"}
            },
            "source-arn-region-only-any-service": {
                "ArnLike": {"aws:SourceArn": "arn:aws:logs:eu-west-1:*:*"}
            },
            "source-arn-outside-account": {
                "ArnLike": {"aws:SourceArn": f"arn:aws:firehose:eu-west-1:{OUTSIDE}:*"}
            },
            "source-account-outside": {"StringEquals": {"aws:SourceAccount": OUTSIDE}},
            "source-org-of-another-organisation": {"StringEquals": {"aws:SourceOrgID": OTHER_ORG}},
            "source-org-paths-of-another-organisation": {
                "ForAnyValue:StringLike": {"aws:SourceOrgPaths": f"{OTHER_ORG}/r-ab12/*"}
            },
        }.items()
    },
    "trust-logs-region-only-shared-with-another-service": (
        "service-roles-confused-deputy",
        rules.ROLE,
        trust(
            {"StringLike": {"aws:SourceArn": "arn:aws:logs:eu-west-1:*:*"}},
            {"Service": ["logs.amazonaws.com", "firehose.amazonaws.com"]},
        ),
        "deployment",
    ),
    # Wildcard ARNs are wildcards.
    "policy-s3-object-wildcard-arn": (
        "no-broad-role-actions",
        rules.ROLE_POLICY,
        allow("s3:GetObject", "arn:aws:s3:::*/*"),
        "s3:GetObject on arn:aws:s3:::*/*",
    ),
    "policy-s3-bucket-prefix-wildcard": (
        "no-broad-role-actions",
        rules.ROLE_POLICY,
        allow("s3:DeleteObjectVersion", "arn:aws:s3:::central-*/*"),
        "arn:aws:s3:::central-*/*",
    ),
    "policy-kms-any-key": (
        "no-broad-role-actions",
        rules.ROLE_POLICY,
        allow("kms:Decrypt", "arn:aws:kms:eu-west-1:111111111111:key/*"),
        "kms:Decrypt on arn:aws:kms:eu-west-1:111111111111:key/*",
    ),
    "policy-kms-any-account": (
        "no-broad-role-actions",
        rules.MANAGED_POLICY,
        allow("kms:ScheduleKeyDeletion", "arn:aws:kms:*:*:key/abc"),
        "arn:aws:kms:*:*:key/abc",
    ),
    "policy-iam-any-role": (
        "no-broad-role-actions",
        rules.ROLE_POLICY,
        allow("iam:AttachRolePolicy", "arn:aws:iam::111111111111:role/*"),
        "iam:AttachRolePolicy on arn:aws:iam::111111111111:role/*",
    ),
    # Resource policies granting outside the deployment.
    "bucket-grants-an-outside-account": (
        "principals-inside-the-organization",
        rules.BUCKET_POLICY,
        archive_policy(tls_deny(), grant({"AWS": f"arn:aws:iam::{OUTSIDE}:root"}, "s3:GetObject")),
        OUTSIDE,
    ),
    "bucket-grants-another-organisation": (
        "principals-inside-the-organization",
        rules.BUCKET_POLICY,
        archive_policy(
            tls_deny(),
            grant("*", "s3:GetObject", {"StringEquals": {"aws:PrincipalOrgID": OTHER_ORG}}),
        ),
        OTHER_ORG,
    ),
    "key-grants-an-outside-account": (
        "principals-inside-the-organization",
        rules.KMS_KEY,
        {"policy": doc(grant({"AWS": OUTSIDE}, "kms:Decrypt"))},
        OUTSIDE,
    ),
    "key-policy-grants-an-outside-role": (
        "principals-inside-the-organization",
        rules.KMS_KEY_POLICY,
        {"policy": doc(grant({"AWS": f"arn:aws:iam::{OUTSIDE}:role/reader"}, "kms:Decrypt"))},
        OUTSIDE,
    ),
    "destination-grants-an-outside-account": (
        "principals-inside-the-organization",
        rules.DESTINATION_POLICY,
        {"accessPolicy": doc(grant({"AWS": [MEMBER, OUTSIDE]}, "logs:PutSubscriptionFilter"))},
        OUTSIDE,
    ),
    "destination-grants-another-organisation": (
        "principals-inside-the-organization",
        rules.DESTINATION_POLICY,
        org_grant({"StringEquals": {"aws:PrincipalOrgID": OTHER_ORG}}),
        OTHER_ORG,
    ),
    "queue-grants-an-outside-account": (
        "principals-inside-the-organization",
        rules.SQS_QUEUE_POLICY,
        {"policy": doc(grant({"AWS": OUTSIDE}, "sqs:ReceiveMessage"))},
        OUTSIDE,
    ),
    "queue-grants-everyone-but-one": (
        "principals-inside-the-organization",
        rules.SQS_QUEUE_POLICY,
        {
            "policy": doc(
                {
                    "Effect": "Allow",
                    "NotPrincipal": {"AWS": MEMBER},
                    "Action": "sqs:SendMessage",
                    "Resource": "*",
                }
            )
        },
        "NotPrincipal",
    ),
    "bucket-grants-a-canonical-user": (
        "principals-inside-the-organization",
        rules.BUCKET_POLICY,
        archive_policy(tls_deny(), grant({"CanonicalUser": "79a59df900b949e5"}, "s3:GetObject")),
        "CanonicalUser principals",
    ),
    "topic-grants-everyone": (
        "principals-inside-the-organization",
        rules.SNS_TOPIC,
        {"policy": doc(grant("*", "sns:Subscribe"))},
        "not limited to the organisation",
    ),
    "lambda-permission-for-an-outside-account": (
        "principals-inside-the-organization",
        rules.LAMBDA_PERMISSION,
        {"principal": OUTSIDE, "action": "lambda:InvokeFunction"},
        OUTSIDE,
    ),
    "lambda-permission-for-any-bucket": (
        "principals-inside-the-organization",
        rules.LAMBDA_PERMISSION,
        {"principal": "s3.amazonaws.com", "action": "lambda:InvokeFunction"},
        "names no sourceArn or sourceAccount",
    ),
    # Member side: logs delivered elsewhere.
    "filter-to-a-foreign-destination": (
        "member-destinations-in-the-deployment",
        rules.SUBSCRIPTION_FILTER,
        {"destinationArn": FOREIGN_DESTINATION, "filterPattern": ""},
        FOREIGN_DESTINATION,
    ),
    "account-policy-to-a-foreign-destination": (
        "member-destinations-in-the-deployment",
        rules.ACCOUNT_POLICY,
        {"policyDocument": json.dumps({"DestinationArn": FOREIGN_DESTINATION})},
        FOREIGN_DESTINATION,
    ),
    "subscriber-to-a-foreign-destination": (
        "member-destinations-in-the-deployment",
        rules.FUNCTION,
        {"environment": {"variables": {"DESTINATION_ARN": FOREIGN_DESTINATION}}},
        FOREIGN_DESTINATION,
    ),
    "cli-parameter-to-a-foreign-destination": (
        "member-destinations-in-the-deployment",
        rules.SSM_PARAMETER,
        {
            "name": "/central-logging/destination-arn",
            "type": "String",
            "value": FOREIGN_DESTINATION,
        },
        FOREIGN_DESTINATION,
    ),
    "template-cli-parameter-to-a-foreign-destination": (
        rules.TEMPLATE_RULE,
        rules.STACK_SET,
        stack_set(
            {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": "/central-logging/destination-arn",
                    "Type": "String",
                    "Value": FOREIGN_DESTINATION,
                },
            }
        ),
        FOREIGN_DESTINATION,
    ),
    "subscriber-to-a-stream-instead": (
        "member-destinations-in-the-deployment",
        rules.FUNCTION,
        {
            "environment": {
                "variables": {
                    "DESTINATION_ARN": f"arn:aws:kinesis:eu-west-1:{LOGGING_ACCOUNT_ID}:stream/x"
                }
            }
        },
        "not a CloudWatch Logs destination",
    ),
    # StackSet templates: what they deploy into every account passes the same rules.
    "template-admin-role": (
        rules.TEMPLATE_RULE,
        rules.STACK_SET,
        stack_set(template_role(ManagedPolicyArns=[ADMIN])),
        "AdministratorAccess",
    ),
    "template-role-with-a-star-policy": (
        rules.TEMPLATE_RULE,
        rules.STACK_SET,
        stack_set(
            template_role(
                Policies=[
                    {
                        "PolicyName": "all",
                        "PolicyDocument": {
                            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
                        },
                    }
                ]
            )
        ),
        "allows *",
    ),
    "template-role-trusting-an-outside-account": (
        rules.TEMPLATE_RULE,
        rules.STACK_SET,
        stack_set(
            template_role(
                AssumeRolePolicyDocument={
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{OUTSIDE}:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                }
            )
        ),
        OUTSIDE,
    ),
    "template-role-for-a-service-without-a-source": (
        rules.TEMPLATE_RULE,
        rules.STACK_SET,
        stack_set(
            template_role(
                AssumeRolePolicyDocument={
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                }
            )
        ),
        "confused-deputy",
    ),
    "template-iam-user": (
        rules.TEMPLATE_RULE,
        rules.STACK_SET,
        stack_set({"Type": "AWS::IAM::User", "Properties": {}}),
        "AWS::IAM::User",
    ),
    "template-filter-to-a-foreign-destination": (
        rules.TEMPLATE_RULE,
        rules.STACK_SET,
        {
            "templateBody": json.dumps(
                {
                    "Mappings": {"Regions": {"eu-west-1": {"DestinationArn": FOREIGN_DESTINATION}}},
                    "Resources": {
                        "Subscriber": {
                            "Type": "AWS::Lambda::Function",
                            "Properties": {
                                "Environment": {
                                    "Variables": {
                                        "DESTINATION_ARN": {
                                            "Fn::FindInMap": [
                                                "Regions",
                                                {"Ref": "AWS::Region"},
                                                "DestinationArn",
                                            ]
                                        }
                                    }
                                }
                            },
                        }
                    },
                }
            )
        },
        FOREIGN_DESTINATION,
    ),
    "template-admin-only-when-a-condition-holds": (
        rules.TEMPLATE_RULE,
        rules.STACK_SET,
        stack_set(template_role(ManagedPolicyArns={"Fn::If": ["InLoggingAccount", [], [ADMIN]]})),
        "AdministratorAccess",
    ),
    "template-unreadable": (
        rules.TEMPLATE_RULE,
        rules.STACK_SET,
        {"templateBody": "Resources: [yaml]"},
        "not a readable JSON template",
    ),
}


@pytest.mark.parametrize(("rule", "resource_type", "props", "expected"), HOLES.values(), ids=HOLES)
def test_each_shape_that_defeated_a_rule_is_reported(
    rule: str, resource_type: str, props: dict[str, Any], expected: str
) -> None:
    [message] = violations(policy(rule), resource_type, props)
    assert expected in message


def with_resource(
    type_: str, name: str, inputs: dict[str, Any], **deps: list[str]
) -> Callable[[Run], list[Resource]]:
    """The stack with one more resource."""

    def build(run: Run) -> list[Resource]:
        urn = f"urn:pulumi:test::central-logging::{type_}::{name}"
        return [*run.resources, Resource(urn, type_, name, inputs, {}, property_dependencies=deps)]

    return build


def with_changed(
    type_: str, name: str, change: Callable[[Resource], None]
) -> Callable[[Run], list[Resource]]:
    """The stack with one resource's inputs (or dependencies) changed."""

    def build(run: Run) -> list[Resource]:
        resource = run.one(type_, name)
        changed = dataclasses.replace(
            resource,
            inputs=copy.deepcopy(resource.inputs),
            property_dependencies=copy.deepcopy(resource.property_dependencies),
        )
        change(changed)
        return [changed if r is resource else r for r in run.resources]

    return build


def without(type_: str, name: str) -> Callable[[Run], list[Resource]]:
    return lambda run: [r for r in run.resources if r is not run.one(type_, name)]


def first_rule(resource: Resource) -> dict[str, Any]:
    return resource.inputs["rules"][0]  # type: ignore[no-any-return]


def firehose_config(resource: Resource) -> dict[str, Any]:
    return resource.inputs["extendedS3Configuration"]  # type: ignore[no-any-return]


def function_variables(resource: Resource) -> dict[str, Any]:
    return resource.inputs["environment"]["variables"]  # type: ignore[no-any-return]


def add_admin(resource: Resource) -> None:
    document = json.loads(resource.inputs["policy"])
    for statement in document["Statement"]:
        for condition in statement.get("Condition", {}).values():
            if "aws:PrincipalArn" in condition and statement["Sid"] == "DenyHistoryRewrites":
                condition["aws:PrincipalArn"].append(f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:role/x")
    resource.inputs["policy"] = json.dumps(document)


def set_account_policy_pattern(resource: Resource) -> None:
    template = json.loads(resource.inputs["templateBody"])
    policy = template["Resources"]["AccountPolicy"]["Properties"]
    text, variables = policy["PolicyDocument"]["Fn::Sub"]
    document = json.loads(text)
    document["FilterPattern"] = "-INFO"
    policy["PolicyDocument"]["Fn::Sub"] = [json.dumps(document), variables]
    resource.inputs["templateBody"] = json.dumps(template)


FIREHOSE = ("central-eu-west-1-firehose",)
ARCHIVE_LIFECYCLE = (rules.LIFECYCLE, "central-archive-lifecycle")
ARCHIVE_POLICY = (rules.BUCKET_POLICY, "central-archive-policy")
SUBSCRIBER = (rules.FUNCTION, "central-eu-west-1-subscriber")
REGIONAL_STACK_SET = (rules.STACK_SET, "central-regional")
EXCLUSIVE = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"

# Shapes over our real stacks that stack rules must catch: (rule, stack, build, words,
# acknowledgements or None for ACKNOWLEDGED).
STACK_HOLES: dict[
    str, tuple[str, str, Callable[[Run], list[Resource]], str, dict[str, Any] | None]
] = {
    "aws-native-bucket": (
        "resource-types-allowed",
        "logging-organization",
        with_resource("aws-native:s3:Bucket", "open", {"bucketName": "open"}),
        "aws-native:s3:Bucket",
        None,
    ),
    "v2-bucket": (
        "resource-types-allowed",
        "logging-organization",
        with_resource("aws:s3/bucketV2:BucketV2", "plain", {"forceDestroy": True}),
        "aws:s3/bucketV2:BucketV2",
        None,
    ),
    "v2-lifecycle": (
        "resource-types-allowed",
        "logging-retention",
        with_resource(
            "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
            "expire",
            {
                "bucket": "central-archive",
                "rules": [{"status": "Enabled", "expiration": {"days": 1}}],
            },
        ),
        "BucketLifecycleConfigurationV2",
        None,
    ),
    "iam-user-in-a-member-stack": (
        "resource-types-allowed",
        "member-lambda",
        with_resource("aws:iam/user:User", "backdoor", {"name": "backdoor"}),
        "aws:iam/user:User",
        None,
    ),
    "archive-expiring-after-a-day": (
        "archive-lifecycle-floor",
        "logging-retention",
        with_changed(*ARCHIVE_LIFECYCLE, lambda r: first_rule(r)["expiration"].update(days=1)),
        "expiration days 1",
        None,
    ),
    "archive-noncurrent-versions-expiring-after-a-day": (
        "archive-lifecycle-floor",
        "logging-retention",
        with_changed(
            *ARCHIVE_LIFECYCLE,
            lambda r: first_rule(r)["noncurrentVersionExpiration"].update(noncurrentDays=1),
        ),
        "noncurrent days 1",
        None,
    ),
    "archive-expiring-on-a-date": (
        "archive-lifecycle-floor",
        "logging-retention",
        with_changed(
            *ARCHIVE_LIFECYCLE,
            lambda r: first_rule(r).update(expiration={"date": "2026-12-07T00:00:00Z"}),
        ),
        "expiration date",
        None,
    ),
    "replication-to-an-outside-bucket": (
        "no-replication-outside-the-stack",
        "logging-organization",
        with_resource(
            rules.REPLICATION,
            "copy",
            {
                "bucket": "central-archive",
                "role": f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:role/copy",
                "rules": [
                    {
                        "id": "all",
                        "status": "Enabled",
                        "destination": {"bucket": "arn:aws:s3:::elsewhere", "account": OUTSIDE},
                    }
                ],
            },
        ),
        "arn:aws:s3:::elsewhere",
        None,
    ),
    "firehose-lambda-transform": (
        "firehose-delivers-to-the-archive",
        "logging-organization",
        with_changed(
            rules.FIREHOSE,
            *FIREHOSE,
            lambda r: firehose_config(r)["processingConfiguration"]["processors"].append(
                {
                    "type": "Lambda",
                    "parameters": [{"parameterName": "LambdaArn", "parameterValue": "x"}],
                }
            ),
        ),
        "transforms records with Lambda",
        None,
    ),
    "firehose-to-a-foreign-bucket": (
        "firehose-delivers-to-the-archive",
        "logging-organization",
        with_changed(
            rules.FIREHOSE,
            *FIREHOSE,
            lambda r: (
                firehose_config(r).update(bucketArn="arn:aws:s3:::elsewhere"),
                r.property_dependencies.update(extendedS3Configuration=[]),
            ),
        ),
        "arn:aws:s3:::elsewhere",
        None,
    ),
    "firehose-to-an-http-endpoint": (
        "firehose-delivers-to-the-archive",
        "logging-organization",
        with_changed(
            rules.FIREHOSE, *FIREHOSE, lambda r: r.inputs.update(destination="http_endpoint")
        ),
        "http_endpoint",
        None,
    ),
    "firehose-partitioned-by-another-key": (
        "firehose-delivers-to-the-archive",
        "logging-organization",
        with_changed(
            rules.FIREHOSE,
            *FIREHOSE,
            lambda r: firehose_config(r)["processingConfiguration"]["processors"][1]["parameters"][
                0
            ].update(parameterValue='{owner: "heartbeat"}'),
        ),
        "partitions records by",
        None,
    ),
    "firehose-backup-copy": (
        "firehose-delivers-to-the-archive",
        "logging-organization",
        with_changed(
            rules.FIREHOSE, *FIREHOSE, lambda r: firehose_config(r).update(s3BackupMode="Enabled")
        ),
        "backs records up",
        None,
    ),
    "destination-retargeted": (
        "destinations-target-the-stack",
        "logging-organization",
        with_changed(
            rules.LOG_DESTINATION,
            "central-eu-west-1",
            lambda r: (
                r.inputs.update(targetArn=f"arn:aws:firehose:eu-west-1:{OUTSIDE}:deliverystream/x"),
                r.property_dependencies.update(targetArn=[]),
            ),
        ),
        f"arn:aws:firehose:eu-west-1:{OUTSIDE}:deliverystream/x",
        None,
    ),
    **{
        f"managed-{name}": (
            "no-admin-managed-policies",
            "member-lambda",
            build,
            words,
            None,
        )
        for name, (build, words) in {
            "power-user-on-a-role": (
                with_changed(
                    rules.ROLE,
                    "central-eu-west-1-subscriber",
                    lambda r: r.inputs.update(managedPolicyArns=[managed("PowerUserAccess")]),
                ),
                "PowerUserAccess",
            ),
            "lambda-full-access-attached": (
                with_resource(
                    rules.ROLE_POLICY_ATTACHMENT,
                    "lambda-full",
                    {"role": "central-sender", "policyArn": managed("AWSLambda_FullAccess")},
                ),
                "AWSLambda_FullAccess",
            ),
            "admin-through-policy-attachment": (
                with_resource(
                    rules.POLICY_ATTACHMENT,
                    "admin",
                    {"policyArn": ADMIN, "roles": ["central-sender"]},
                ),
                "AdministratorAccess",
            ),
            "admin-through-user-attachment": (
                with_resource(
                    rules.USER_POLICY_ATTACHMENT, "admin", {"policyArn": ADMIN, "user": "ops"}
                ),
                "AdministratorAccess",
            ),
            "kms-power-user-through-exclusive-attachments": (
                with_resource(
                    EXCLUSIVE,
                    "kms",
                    {
                        "roleName": "central-sender",
                        "policyArns": [managed("AWSKeyManagementServicePowerUser")],
                    },
                ),
                "AWSKeyManagementServicePowerUser",
            ),
            "customer-policy-the-stack-does-not-declare": (
                with_resource(
                    rules.ROLE_POLICY_ATTACHMENT,
                    "extra",
                    {
                        "role": "central-sender",
                        "policyArn": f"arn:aws:iam::{MEMBER}:policy/anything",
                    },
                ),
                "not declared in this stack",
            ),
        }.items()
    },
    # Config changes that reduce coverage: visible until an owner acknowledges them.
    "filter-pattern-changed": (
        rules.COVERAGE_RULE,
        "member-lambda",
        with_changed(*SUBSCRIBER, lambda r: function_variables(r).update(FILTER_PATTERN="-INFO")),
        "filterPattern '-INFO'",
        None,
    ),
    "exclusion-added": (
        rules.COVERAGE_RULE,
        "member-lambda",
        with_changed(
            *SUBSCRIBER,
            lambda r: function_variables(r).update(EXCLUDE_PATTERNS=json.dumps(["/aws/lambda/*"])),
        ),
        "excludeLogGroups '/aws/lambda/*'",
        None,
    ),
    "expiry-shortened": (
        rules.COVERAGE_RULE,
        "logging-retention",
        with_changed(*ARCHIVE_LIFECYCLE, lambda r: first_rule(r)["expiration"].update(days=120)),
        "expireDays '120'",
        None,
    ),
    "transition-changed": (
        rules.COVERAGE_RULE,
        "logging-retention",
        with_changed(*ARCHIVE_LIFECYCLE, lambda r: first_rule(r)["transitions"][0].update(days=1)),
        "transitionDays '1'",
        None,
    ),
    "object-lock-removed": (
        rules.COVERAGE_RULE,
        "logging-retention",
        without(rules.OBJECT_LOCK, "central-archive-object-lock"),
        "objectLockMode/objectLockDays 'off'",
        {**ACKNOWLEDGED, "objectLock": ["COMPLIANCE:365d"]},
    ),
    "object-lock-shortened": (
        rules.COVERAGE_RULE,
        "logging-retention",
        with_changed(
            rules.OBJECT_LOCK,
            "central-archive-object-lock",
            lambda r: r.inputs["rule"]["defaultRetention"].update(days=1),
        ),
        "'COMPLIANCE:1d'",
        None,
    ),
    "archive-admin-added": (
        rules.COVERAGE_RULE,
        "logging-organization",
        with_changed(*ARCHIVE_POLICY, add_admin),
        f"archiveAdminRoleArns 'arn:aws:iam::{LOGGING_ACCOUNT_ID}:role/x'",
        None,
    ),
    "organization-template-pattern-changed": (
        rules.COVERAGE_RULE,
        "organization-account-policy",
        with_changed(*REGIONAL_STACK_SET, set_account_policy_pattern),
        "filterPattern '-INFO'",
        None,
    ),
}


@pytest.mark.parametrize(
    ("rule", "stack_name", "build", "expected", "acknowledged"),
    STACK_HOLES.values(),
    ids=STACK_HOLES,
)
def test_each_stack_shape_that_defeated_the_pack_is_reported(
    rule: str,
    stack_name: str,
    build: Callable[[Run], list[Resource]],
    expected: str,
    acknowledged: dict[str, Any] | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    as_role(monkeypatch, role_of(stack_name))
    run = stack(stack_name)
    assert stack_violations(policy(rule), run.resources, acknowledged) == []
    messages = stack_violations(policy(rule), build(run), acknowledged)
    assert [m for m in messages if expected in m], messages


def test_a_stack_the_deployment_does_not_name_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    as_role(monkeypatch, "member-b")
    [message] = stack_violations(policy("resource-types-allowed"), stack("member-lambda").resources)
    assert message.startswith("Stack 'member-b' has no role in policy/deployment.json")


def test_an_acknowledged_change_passes() -> None:
    run = stack("logging-retention")
    lifecycle = with_changed(
        *ARCHIVE_LIFECYCLE, lambda r: first_rule(r)["expiration"].update(days=120)
    )
    acknowledged = {**ACKNOWLEDGED, "expireDays": [400, 120]}
    assert stack_violations(policy(rules.COVERAGE_RULE), lifecycle(run), acknowledged) == []


# Shapes AWS documents as equivalent to ours, which the rules must not reject.
ACCEPTED: dict[str, tuple[str, str, dict[str, Any]]] = {
    "notification-to-our-queue": (
        "notifications-inside-the-deployment",
        rules.BUCKET_NOTIFICATION,
        {
            "queues": [
                {"queueArn": f"arn:aws:sqs:eu-west-1:{LOGGING_ACCOUNT_ID}:q", "events": ["*"]}
            ]
        },
    ),
    "destination-org-string-like-exact": (
        "destination-policy-org-scoped",
        rules.DESTINATION_POLICY,
        org_grant({"StringLike": {"aws:PrincipalOrgID": ORG_ID}}),
    ),
    "destination-org-paths": (
        "destination-policy-org-scoped",
        rules.DESTINATION_POLICY,
        org_grant({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": f"{ORG_ID}/r-ab12/*"}}),
    ),
    "bucket-tls-version-below-1-2": (
        "archive-bucket-tls-only",
        rules.BUCKET_POLICY,
        archive_policy(tls_deny(Condition={"NumericLessThan": {"s3:TlsVersion": 1.2}})),
    ),
    "bucket-bool-if-exists": (
        "archive-bucket-tls-only",
        rules.BUCKET_POLICY,
        archive_policy(tls_deny(Condition={"BoolIfExists": {"aws:SecureTransport": "false"}})),
    ),
    # A logging stack for a whole organisation: CloudWatch Logs of the region, any sender.
    "trust-logs-source-arn-of-one-region": (
        "service-roles-confused-deputy",
        rules.ROLE,
        trust(
            {"StringLike": {"aws:SourceArn": "arn:aws:logs:eu-west-1:*:*"}},
            {"Service": "logs.amazonaws.com"},
        ),
    ),
    "trust-source-account-of-the-deployment": (
        "service-roles-confused-deputy",
        rules.ROLE,
        trust({"StringEquals": {"aws:SourceAccount": MEMBER}}),
    ),
    "trust-github-exact-subject": (
        "principals-inside-the-organization",
        rules.ROLE,
        github_trust(
            {"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": PR_SUBJECT}}
        ),
    ),
    "destination-accounts-of-the-deployment": (
        "principals-inside-the-organization",
        rules.DESTINATION_POLICY,
        {
            "accessPolicy": doc(
                grant({"AWS": [MEMBER, LOGGING_ACCOUNT_ID]}, "logs:PutSubscriptionFilter")
            )
        },
    ),
    "destination-organisation-of-the-deployment": (
        "principals-inside-the-organization",
        rules.DESTINATION_POLICY,
        org_grant({"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}),
    ),
    "policy-objects-under-one-prefix": (
        "no-broad-role-actions",
        rules.ROLE_POLICY,
        allow("s3:GetObject", f"{ARCHIVE_ARN}/CentralizedAccountsLog/*"),
    ),
    "lambda-permission-for-a-service-of-the-deployment": (
        "principals-inside-the-organization",
        rules.LAMBDA_PERMISSION,
        {"principal": "events.amazonaws.com", "sourceAccount": MEMBER},
    ),
    "subscriber-to-the-logging-account": (
        "member-destinations-in-the-deployment",
        rules.FUNCTION,
        {"environment": {"variables": {"DESTINATION_ARN": DESTINATION}}},
    ),
    "trust-source-org-paths": (
        "service-roles-confused-deputy",
        rules.ROLE,
        trust({"ForAnyValue:StringLike": {"aws:SourceOrgPaths": f"{ORG_ID}/r-ab12/*"}}),
    ),
    "policy-pass-one-role": (
        "no-broad-role-actions",
        rules.ROLE_POLICY,
        allow("iam:PassRole", ROLE_ARN),
    ),
    "bucket-object-lock-enabled": (
        "archive-bucket-no-inline-settings",
        rules.BUCKET,
        {"bucket": ARCHIVE, "objectLockEnabled": True, "forceDestroy": False},
    ),
}


@pytest.mark.parametrize(("rule", "resource_type", "props"), ACCEPTED.values(), ids=ACCEPTED)
def test_documented_equivalents_of_our_shapes_pass(
    rule: str, resource_type: str, props: dict[str, Any]
) -> None:
    assert violations(policy(rule), resource_type, props) == []


@pytest.mark.parametrize(
    "missing",
    [
        rules.PUBLIC_ACCESS_BLOCK,
        rules.BUCKET_ENCRYPTION,
        rules.BUCKET_VERSIONING,
        rules.BUCKET_POLICY,
    ],
)
def test_a_bucket_declared_without_a_protection_is_reported(missing: str) -> None:
    run = stack("logging-organization")
    rule = policy("archive-bucket-protections-declared")
    [protection] = [r for r in run.of_type(missing) if r.name.startswith("central-archive-")]
    without = [r for r in run.resources if r is not protection]
    [message] = stack_violations(rule, without)
    assert "central-archive " in message
    # A protection of another bucket does not count for this one.
    elsewhere = dataclasses.replace(
        protection,
        inputs={**protection.inputs, "bucket": "another-bucket"},
        property_dependencies={},
    )
    assert len(stack_violations(rule, [*without, elsewhere])) == 1


def test_a_trail_of_data_events_passes_and_only_a_log_bucket_may_use_sse_s3() -> None:
    run = run_program(
        {"role": "logging", "organizationId": ORG_ID, "accessTrail": "cloudtrail"},
        account_id=LOGGING_ACCOUNT_ID,
    )
    assert run.of_type(rules.TRAIL)
    assert every_violation(run.resources) == []
    # Without the trail, the SSE-S3 log bucket is just a bucket without KMS.
    untrailed = [r for r in run.resources if r.type != rules.TRAIL]
    [message] = stack_violations(policy("archive-bucket-kms-encrypted"), untrailed)
    assert "AES256" in message
    logged = stack("logging-organization").resources
    unlogged = [r for r in logged if r.type != rules.BUCKET_LOGGING]
    assert stack_violations(policy("archive-bucket-kms-encrypted"), logged) == []
    assert len(stack_violations(policy("archive-bucket-kms-encrypted"), unlogged)) == 1


def test_only_a_bucket_whose_code_a_signing_job_signs_may_use_sse_s3(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """codeSigning: the code bucket is SSE-S3 (Signer and Lambda read it as the deployer);
    without the job that signs its code it is just a bucket without KMS."""
    as_role(monkeypatch, "member")
    signed = stack("member-code-signing").resources
    unsigned = [r for r in signed if r.type != rules.SIGNING_JOB]
    rule = policy("archive-bucket-kms-encrypted")

    assert stack_violations(rule, signed) == []
    [message] = stack_violations(rule, unsigned)
    assert "AES256" in message


def test_every_rule_is_exercised_by_a_mutation() -> None:
    exercised = (
        {m[0] for m in MUTATIONS}
        | {h[0] for h in HOLES.values()}
        | {h[0] for h in STACK_HOLES.values()}
    )
    assert exercised | {"archive-bucket-protections-declared"} == {p.name for p in rules.POLICIES}


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


DECLARED_POLICY = Resource(
    "urn:pulumi:test::central-logging::aws:iam/policy:Policy::audit",
    rules.MANAGED_POLICY,
    "audit",
    {"policy": doc({"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"})},
    {},
)


@pytest.mark.parametrize(
    ("policy_arn", "declared", "reported"),
    [
        (ADMIN, False, True),
        ("arn:aws:iam::aws:policy/IAMFullAccess", False, True),
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", False, True),
        ("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", False, True),
        ("arn:aws:iam::111111111111:policy/audit", False, True),
        ("arn:aws:iam::111111111111:policy/audit", True, False),
    ],
)
def test_attached_policies_are_declared_in_the_stack_or_allow_listed(
    policy_arn: str, declared: bool, reported: bool
) -> None:
    attachment = Resource(
        "urn:pulumi:test::central-logging::aws:iam/rolePolicyAttachment:RolePolicyAttachment::a",
        rules.ROLE_POLICY_ATTACHMENT,
        "a",
        {"role": "central-sender-id", "policyArn": policy_arn},
        {},
        property_dependencies={"policyArn": [DECLARED_POLICY.urn] if declared else []},
    )
    found = stack_violations(policy("no-admin-managed-policies"), [DECLARED_POLICY, attachment])
    assert bool(found) is reported


def test_the_pack_is_mandatory_and_runs_every_rule() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    wanted = (POLICY_DIR / "requirements.in").read_text().splitlines()
    direct = [line for line in wanted if line and not line.startswith("#")]
    assert {r.split(">=")[0] for r in direct} == {"pulumi", "pulumi-policy"}
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
