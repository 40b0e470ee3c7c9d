"""The archive outlives the stack and resists quiet rewrites: what `pulumi destroy` leaves,
and the bucket and key policies an auditor reads."""

from __future__ import annotations

import fnmatch
from typing import Any

from components import policies
from tests.infra.harness import (
    LOGGING_ACCOUNT_ID,
    ORG_ID,
    Run,
    config_error,
    deploy_role_arn,
    run_program,
)

BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
# Everything that makes the archive usable and protected, by type: destroy leaves all of it.
ARCHIVE_TYPES = {
    BUCKET,
    KEY,
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
}
FULL_ARCHIVE = {
    "role": "logging",
    "organizationId": ORG_ID,
    "objectLockMode": "GOVERNANCE",
    "objectLockDays": 30,
    "transitionDays": 90,
    "expireDays": 400,
}


def test_destroy_leaves_the_archive_with_every_protection_and_removes_the_pipeline() -> None:
    run = run_program(FULL_ARCHIVE)
    archive = [r for r in run.resources if r.type in ARCHIVE_TYPES]
    assert {r.type for r in archive} == ARCHIVE_TYPES
    assert [r.name for r in archive if not r.retain_on_delete] == []
    # The pipeline itself goes: roles, streams and destinations are not kept.
    pipeline = [
        r for r in run.resources if r.type not in ARCHIVE_TYPES and r.type.startswith("aws:")
    ]
    assert pipeline
    assert [r.name for r in pipeline if r.retain_on_delete] == []


ADMIN = "arn:aws:iam::999999999999:role/break-glass"
DEPLOYER = deploy_role_arn(LOGGING_ACCOUNT_ID)
MEMBER_ROLE = "arn:aws:iam::999999999999:role/ops/some-admin"


def denied(policy: dict[str, Any], principal_arn: str | None, action: str, resource: str) -> bool:
    """Whether an explicit Deny of `policy` applies to this request (IAM's evaluation of the
    elements our denies use: Principal "*", Action, Resource and ArnNotEquals on
    aws:PrincipalArn, which holds for a request without the key too)."""
    for statement in policy["Statement"]:
        if statement["Effect"] != "Deny" or statement["Principal"] != "*":
            continue
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if not any(fnmatch.fnmatchcase(action, a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in resources):
            continue
        conditions = dict(statement.get("Condition", {}))
        exempt = conditions.pop("ArnNotEquals", {}).get("aws:PrincipalArn")
        if conditions:  # the TLS deny: these requests use TLS
            continue
        if exempt is None or principal_arn not in exempt:
            return True
    return False


def archive_policies(config: dict[str, object]) -> tuple[Run, dict[str, Any], dict[str, Any], str]:
    run = run_program(config)
    bucket_arn = run.one(BUCKET).state["arn"]
    return (
        run,
        run.one("aws:s3/bucketPolicy:BucketPolicy").policy("policy"),
        run.one(KEY).policy("policy"),
        bucket_arn,
    )


REGIONS = ["eu-west-1", "us-east-1"]


def test_only_admins_and_the_deployer_change_protections_or_destroy_history() -> None:
    _, policy, _, bucket = archive_policies(
        {"role": "logging", "organizationId": ORG_ID, "archiveAdminRoleArns": [ADMIN]}
    )
    for action in policies.PROTECTION_ACTIONS:
        assert denied(policy, MEMBER_ROLE, action, bucket), action
        assert denied(policy, None, action, bucket), action
        assert not denied(policy, ADMIN, action, bucket), action
        assert not denied(policy, DEPLOYER, action, bucket), action
    for action in ("s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"):
        for key in (
            "CentralizedAccountsLog/account=111111111111/x.json.gz",
            "athena-results/q.csv",
        ):
            assert denied(policy, MEMBER_ROLE, action, f"{bucket}/{key}")
            assert not denied(policy, ADMIN, action, f"{bucket}/{key}")
    # Reading stays with IAM: the policy denies nothing else.
    assert not denied(policy, MEMBER_ROLE, "s3:GetObject", f"{bucket}/CentralizedAccountsLog/x")
    assert not denied(policy, MEMBER_ROLE, "s3:PutObject", f"{bucket}/athena-results/q.csv")


def test_without_admin_roles_the_deployer_role_is_exempt_by_its_role_arn() -> None:
    _, policy, key_policy, bucket = archive_policies({"role": "logging", "organizationId": ORG_ID})
    exemptions = [
        s["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        for document in (policy, key_policy)
        for s in document["Statement"]
        if s["Sid"] in ("DenyProtectionChanges", "DenyHistoryRewrites", "DenyKeyDestruction")
    ]
    # The IAM role with its path, as aws:PrincipalArn holds it; never the session ARN.
    assert exemptions == [[DEPLOYER]] * 3
    assert not denied(policy, DEPLOYER, "s3:PutBucketPolicy", bucket)


def test_only_the_delivery_roles_write_under_the_archive_prefix() -> None:
    run, policy, _, bucket = archive_policies(
        {"role": "logging", "memberAccounts": ["111111111111"], "regions": REGIONS}
    )
    writers = [run.one(ROLE, f"central-{region}-firehose").state["arn"] for region in REGIONS]
    forged = f"{bucket}/CentralizedAccountsLog/account=222222222222/region=eu-west-1/x.json.gz"
    for writer in writers:
        assert not denied(policy, writer, "s3:PutObject", forged)
        assert not denied(
            policy, writer, "s3:PutObject", f"{bucket}/CentralizedAccountsLog/errors/x"
        )
    for other in (DEPLOYER, MEMBER_ROLE, None):
        assert denied(policy, other, "s3:PutObject", forged)
    destination_roles = [
        r.state["arn"] for r in run.of_type(ROLE) if r.name.endswith("-destination")
    ]
    assert destination_roles
    assert all(denied(policy, r, "s3:PutObject", forged) for r in destination_roles)


def test_the_key_is_used_only_through_s3_for_the_archive_and_kept_by_admins() -> None:
    _, _, key_policy, bucket = archive_policies(
        {"role": "logging", "organizationId": ORG_ID, "archiveAdminRoleArns": [ADMIN]}
    )
    allows = [s for s in key_policy["Statement"] if s["Effect"] == "Allow"]
    assert all(s["Principal"] == {"AWS": f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:root"} for s in allows)
    [use] = [
        s for s in allows if any(a in s["Action"] for a in ("kms:Decrypt", "kms:GenerateDataKey"))
    ]
    assert use["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket, f"{bucket}/*"]},
    }
    granted = {a for s in allows for a in s["Action"]}
    assert not {"kms:*", "kms:Encrypt", "kms:ReEncryptFrom", "kms:CreateGrant"} & granted
    key_arn = "*"
    for action in ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"):
        assert denied(key_policy, MEMBER_ROLE, action, key_arn)
        assert not denied(key_policy, ADMIN, action, key_arn)
        # KMS refuses a key policy that would lock its author out of PutKeyPolicy.
        assert not denied(key_policy, DEPLOYER, action, key_arn)


def test_admin_roles_must_be_role_arns() -> None:
    session = "arn:aws:sts::999999999999:assumed-role/break-glass/alice"
    message = config_error(
        {"role": "logging", "organizationId": ORG_ID, "archiveAdminRoleArns": [session]}
    )
    assert message == (
        f"central-logging:archiveAdminRoleArns is '{session}'; each entry must be an IAM role "
        "ARN such as arn:aws:iam::111111111111:role/NAME (not an assumed-role session ARN)."
    )
    assert "must be a list" in config_error(
        {"role": "logging", "organizationId": ORG_ID, "archiveAdminRoleArns": ADMIN}
    )
