"""Every IAM, resource and key policy the program renders passes parliament."""

from __future__ import annotations

import json
from typing import Any

import parliament
import pytest

from tests.infra.harness import ORG_ID, Run, run_program

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
    ("aws:cloudwatch/logDestinationPolicy:LogDestinationPolicy", "RESOURCE_MISMATCH"): (
        "parliament's IAM data lacks the destination resource type of PutSubscriptionFilter "
        "and PutAccountPolicy, which CloudWatch Logs authorises on the destination ARN"
    ),
}

CONFIGS = {
    "organization-json": {"role": "logging", "organizationId": ORG_ID},
    "accounts-raw-kinesis": {
        "role": "logging",
        "memberAccounts": ["111111111111"],
        "transport": "kinesis",
        "archiveFormat": "raw",
        "regions": ["eu-west-1", "us-east-1"],
    },
}


def rendered_policies(run: Run) -> list[tuple[tuple[str, str], dict[str, Any]]]:
    found = []
    for resource in run.resources:
        key = POLICY_INPUTS.get(resource.type)
        if key and key in resource.inputs:
            found.append(((resource.type, resource.name), resource.policy(key)))
    return found


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_parliament_finds_nothing(config: dict[str, object]) -> None:
    policies = rendered_policies(run_program(config))
    assert len(policies) >= 7
    problems = []
    for (resource_type, name), document in policies:
        analysed = parliament.analyze_policy_string(json.dumps(document))
        for finding in analysed.findings:
            if (resource_type, finding.issue) not in IGNORED:
                problems.append(f"{resource_type} {name}: {finding.issue} {finding.detail}")
    assert problems == []
