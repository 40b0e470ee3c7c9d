"""Every IAM, resource and key policy the program renders passes parliament."""

from __future__ import annotations

import json
from typing import Any

import parliament
import pytest

from tests.infra.harness import ORG_ID, Run, run_program
from tests.infra.test_subscriber import LOGGING_OUTPUTS, MEMBER, STACK

# Inputs that hold a policy document, by resource type.
POLICY_INPUTS = {
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:kms/key:Key": "policy",
    "aws:cloudwatch/logDestinationPolicy:LogDestinationPolicy": "accessPolicy",
}

# Findings parliament (an identity-policy linter) reports on correct policies of other
# kinds, by (resource type, finding), with the reason each is ignored. Nothing else is.
IGNORED = {
    ("aws:iam/role:Role", "MALFORMED"): (
        "a trust policy has no Resource element: the role itself is the resource"
    ),
    ("aws:kms/key:Key", "RESOURCE_STAR"): (
        "in a key policy, Resource * means this key only; the statement names its principal"
    ),
}

# RESOURCE_MISMATCH findings where parliament's bundled IAM data is out of date, by action.
STALE_RESOURCE_DATA = {
    "logs:PutSubscriptionFilter": (
        "authorised on the log group and on the destination ARN; parliament knows only the "
        "log group"
    ),
    "logs:PutAccountPolicy": "authorised on the destination ARN by a destination policy",
    "logs:DescribeLogGroups": (
        "authorised on arn:...:log-group::log-stream: of the caller's account and region, "
        "which the scoped log-group:* ARN matches; parliament asks for *"
    ),
}


def known(resource_type: str, finding: Any) -> bool:
    if (resource_type, finding.issue) in IGNORED:
        return True
    return finding.issue == "RESOURCE_MISMATCH" and all(
        item["action"] in STALE_RESOURCE_DATA for item in finding.detail
    )


CONFIGS = {
    "organization-json": {"role": "logging", "organizationId": ORG_ID},
    "accounts-raw-kinesis": {
        "role": "logging",
        "memberAccounts": ["111111111111"],
        "transport": "kinesis",
        "archiveFormat": "raw",
        "regions": ["eu-west-1", "us-east-1"],
    },
    "organization-cloudtrail-admins": {
        "role": "logging",
        "organizationId": ORG_ID,
        "accessTrail": "cloudtrail",
        "archiveAdminRoleArns": ["arn:aws:iam::999999999999:role/break-glass"],
        "readerPrincipals": ["444444444444", "arn:aws:iam::555555555555:role/siem"],
    },
    "organization-coverage": {
        "role": "logging",
        "organizationId": ORG_ID,
        "organizationReaderRoleArn": "arn:aws:iam::222222222222:role/list-accounts",
        "coverageCheck": True,
    },
    "organization-history-writers": {
        "role": "logging",
        "organizationId": ORG_ID,
        "historyWriterPrincipals": ["111111111111", "arn:aws:iam::222222222222:role/ops"],
    },
}


def rendered_policies(run: Run) -> list[tuple[tuple[str, str], dict[str, Any]]]:
    found = []
    for resource in run.resources:
        key = POLICY_INPUTS.get(resource.type)
        if key and key in resource.inputs:
            found.append(((resource.type, resource.name), resource.policy(key)))
    return found


MEMBER_CONFIGS = {
    "member-lambda": {
        "role": "member",
        "loggingStack": STACK,
        "regions": ["eu-west-1", "us-east-1"],
    },
    "member-account-policy": {
        "role": "member",
        "loggingStack": STACK,
        "subscriptionMode": "account-policy",
    },
    # The artifact buckets' policies (the templates' policies: test_organization_templates).
    "organization-lambda": {
        "role": "organization",
        "loggingStack": STACK,
        "regions": ["eu-west-1", "us-east-1"],
    },
}


@pytest.mark.parametrize(
    "config",
    [*CONFIGS.values(), *MEMBER_CONFIGS.values()],
    ids=[*CONFIGS, *MEMBER_CONFIGS],
)
def test_parliament_finds_nothing(config: dict[str, object]) -> None:
    run = run_program(config, account_id=MEMBER, stack_outputs=LOGGING_OUTPUTS)
    policies = rendered_policies(run)
    assert len(policies) >= 2
    problems = []
    for (resource_type, name), document in policies:
        analysed = parliament.analyze_policy_string(json.dumps(document))
        for finding in analysed.findings:
            if not known(resource_type, finding):
                problems.append(f"{resource_type} {name}: {finding.issue} {finding.detail}")
    assert problems == []
