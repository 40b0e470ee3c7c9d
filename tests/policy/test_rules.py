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
from tests.infra.harness import LOGGING_ACCOUNT_ID, ORG_ID, Resource, Run, run_program

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


def stack_violations(rule: Rule, resources: list[Resource]) -> list[str]:
    """What a stack rule reports for these resources, their property dependencies resolved."""
    assert isinstance(rule, StackValidationPolicy)
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
    reported, report_violation = report()
    assert rule.validate(StackValidationArgs(list(found.values())), report_violation) is None
    return reported


def every_violation(resources: list[Resource]) -> list[tuple[str, str]]:
    found = []
    for rule in rules.POLICIES:
        if isinstance(rule, StackValidationPolicy):
            found += [(rule.name, m) for m in stack_violations(rule, resources)]
            continue
        for resource in resources:
            found += [(rule.name, m) for m in violations(rule, resource.type, resource.inputs)]
    return found


@pytest.mark.parametrize("name", STACK_CONFIGS)
def test_our_stacks_pass_every_rule(name: str) -> None:
    run = stack(name)
    assert run.of_type(rules.ROLE), "every stack has service roles for the rules to check"
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
) -> None:
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
EXCLUSIVE_ROLE_ATTACHMENTS = rules.EXCLUSIVE_ATTACHMENTS[0]
EXCLUSIVE_GROUP_ATTACHMENTS = rules.EXCLUSIVE_ATTACHMENTS[2]

# Shapes that defeated the pack before: (rule, resource type, inputs, words in the violation).
HOLES: dict[str, tuple[str, str, dict[str, Any], str]] = {
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
    "managed-power-user": (
        "no-admin-managed-policies",
        rules.ROLE,
        {"managedPolicyArns": [managed("PowerUserAccess")]},
        "PowerUserAccess",
    ),
    "managed-admin-through-policy-attachment": (
        "no-admin-managed-policies",
        rules.POLICY_ATTACHMENT,
        {"policyArn": managed("AdministratorAccess"), "roles": ["central-sender"]},
        "AdministratorAccess",
    ),
    "managed-admin-through-user-attachment": (
        "no-admin-managed-policies",
        rules.USER_POLICY_ATTACHMENT,
        {"policyArn": managed("AdministratorAccess"), "user": "ops"},
        "AdministratorAccess",
    ),
    "managed-admin-through-exclusive-attachments": (
        "no-admin-managed-policies",
        EXCLUSIVE_ROLE_ATTACHMENTS,
        {"roleName": "central-sender", "policyArns": [managed("AdministratorAccess")]},
        "AdministratorAccess",
    ),
    "managed-s3-full-through-group-exclusive-attachments": (
        "no-admin-managed-policies",
        EXCLUSIVE_GROUP_ATTACHMENTS,
        {"groupName": "readers", "policyArns": [managed("AmazonS3FullAccess")]},
        "AmazonS3FullAccess",
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
}


@pytest.mark.parametrize(("rule", "resource_type", "props", "expected"), HOLES.values(), ids=HOLES)
def test_each_shape_that_defeated_a_rule_is_reported(
    rule: str, resource_type: str, props: dict[str, Any], expected: str
) -> None:
    [message] = violations(policy(rule), resource_type, props)
    assert expected in message


# Shapes AWS documents as equivalent to ours, which the rules must not reject.
ACCEPTED: dict[str, tuple[str, str, dict[str, Any]]] = {
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
    "trust-source-arn-of-one-region": (
        "service-roles-confused-deputy",
        rules.ROLE,
        trust({"StringLike": {"aws:SourceArn": "arn:aws:logs:eu-west-1:*:*"}}),
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


def test_every_rule_is_exercised_by_a_mutation() -> None:
    exercised = {m[0] for m in MUTATIONS} | {h[0] for h in HOLES.values()}
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
