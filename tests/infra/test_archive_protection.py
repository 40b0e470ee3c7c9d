"""The archive outlives the stack and resists quiet rewrites: what `pulumi destroy` leaves,
and the bucket and key policies an auditor reads."""

from __future__ import annotations

from typing import Any

from components import policies
from policy import rules
from tests.infra.harness import (
    LOGGING_ACCOUNT_ID,
    ORG_ID,
    Run,
    config_error,
    deploy_role_arn,
    run_program,
)
from tests.infra.iam_evaluator import denies

BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
TRAIL = "aws:cloudtrail/trail:Trail"
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
    LOGGING,
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


def denied(
    policy: dict[str, Any],
    principal_arn: str | None,
    action: str,
    resource: str,
    if_none_match: bool = False,
    **context: str,
) -> bool:
    """Whether an explicit Deny of `policy` applies to this request, made over TLS by
    `principal_arn` (None: a service principal, whose request has no aws:PrincipalArn), with
    an If-None-Match header when `if_none_match`, and the further condition keys `context`
    (e.g. aws_SourceArn for aws:SourceArn)."""
    keys = {
        "aws:SecureTransport": "true",
        **{k.replace("_", ":", 1): v for k, v in context.items()},
    }
    if principal_arn is not None:
        keys["aws:PrincipalArn"] = principal_arn
    if if_none_match:
        keys["s3:if-none-match"] = "*"
    return denies(policy, action, resource, keys)


def archive_policies(config: dict[str, object]) -> tuple[Run, dict[str, Any], dict[str, Any], str]:
    run = run_program(config)
    bucket_arn = run.one(BUCKET, "central-archive").state["arn"]
    return (
        run,
        run.one(BUCKET_POLICY, "central-archive-policy").policy("policy"),
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
    writers = [run.one(ROLE, f"central-{region}-firehose-role").state["arn"] for region in REGIONS]
    forged = f"{bucket}/CentralizedAccountsLog/account=222222222222/region=eu-west-1/x.json.gz"
    for writer in writers:
        assert not denied(policy, writer, "s3:PutObject", forged)
        assert not denied(
            policy, writer, "s3:PutObject", f"{bucket}/CentralizedAccountsLog/errors/x"
        )
    for other in (DEPLOYER, MEMBER_ROLE, None):
        assert denied(policy, other, "s3:PutObject", forged)
    # A forged heartbeat object would keep a dark account fresh: the heartbeat partition is
    # under the prefix like any other, written by the delivery roles alone.
    beat = (
        f"{bucket}/CentralizedAccountsLog/account=heartbeat/region=eu-west-1/year=2026/month=01/"
        "day=01/CentralLogDestination-eu-west-1-1-2026-01-01-00-00-00-x.json.gz"
    )
    assert all(denied(policy, other, "s3:PutObject", beat) for other in (DEPLOYER, MEMBER_ROLE))
    assert not denied(policy, writers[0], "s3:PutObject", beat)
    destination_roles = [
        r.state["arn"] for r in run.of_type(ROLE) if r.name.endswith("-destination")
    ]
    assert destination_roles
    assert all(denied(policy, r, "s3:PutObject", forged) for r in destination_roles)


def test_the_key_is_used_only_through_s3_for_the_archive_and_kept_by_admins() -> None:
    # Without the query layer: its results bucket is the key's only other use
    # (tests/infra/test_athena_results.py).
    _, _, key_policy, bucket = archive_policies(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "archiveAdminRoleArns": [ADMIN],
            "athena": "false",
        }
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


def log_bucket_settings(run: Run) -> dict[str, dict[str, Any]]:
    """The inputs of each resource configuring the access log bucket, by type."""
    return {
        r.type: r.inputs
        for r in run.resources
        if r.name.startswith("central-access-logs-") and r.type != BUCKET
    }


def test_server_access_logs_go_to_a_private_versioned_log_bucket_not_logged_into_itself() -> None:
    run = run_program({**FULL_ARCHIVE, "regions": REGIONS})
    archive = run.one(BUCKET, "central-archive")
    log_bucket = run.one(BUCKET, "central-access-logs")
    [logging] = run.of_type(LOGGING)
    assert logging.inputs["bucket"] == archive.state["bucket"]
    assert logging.inputs["targetBucket"] == log_bucket.state["bucket"]
    assert logging.inputs["targetPrefix"] == "s3-access-logs/"
    assert not run.of_type(TRAIL)

    settings = log_bucket_settings(run)
    public = settings["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"]
    assert all(public[flag] is True for flag in rules.PUBLIC_ACCESS_FLAGS)
    assert settings["aws:s3/bucketVersioning:BucketVersioning"]["versioningConfiguration"] == {
        "status": "Enabled"
    }
    encryption = settings[
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ]
    # Server access logs can only be delivered into an SSE-S3 bucket.
    assert encryption["rules"] == [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
    ]
    assert settings["aws:s3/bucketOwnershipControls:BucketOwnershipControls"]["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }
    [rule] = settings["aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"]["rules"]
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    assert rule["expiration"] == {"days": 400}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 400}

    policy = run.one(BUCKET_POLICY, "central-access-logs-policy").policy("policy")
    log_arn = log_bucket.state["arn"]
    [delivery] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert delivery == {
        "Sid": "S3ServerAccessLogsPolicy",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{log_arn}/s3-access-logs/*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": archive.state["arn"]},
            "StringEquals": {"aws:SourceAccount": LOGGING_ACCOUNT_ID},
        },
    }
    assert denied(policy, MEMBER_ROLE, "s3:DeleteObjectVersion", f"{log_arn}/s3-access-logs/x")
    assert denied(policy, MEMBER_ROLE, "s3:PutLifecycleConfiguration", log_arn)
    assert not denied(policy, DEPLOYER, "s3:PutLifecycleConfiguration", log_arn)

    # The access trail outlives the stack with the archive.
    trail_resources = [r for r in run.resources if r.name.startswith("central-access-logs")]
    assert [r.name for r in [*trail_resources, logging] if not r.retain_on_delete] == []
    assert run.outputs["accessTrail"] == {
        "kind": "server-access-logs",
        "bucketName": log_bucket.state["bucket"],
        "prefix": "s3-access-logs/",
    }


def test_a_trail_of_the_archive_data_events_when_preferred() -> None:
    run = run_program({"role": "logging", "organizationId": ORG_ID, "accessTrail": "cloudtrail"})
    archive_arn = run.one(BUCKET, "central-archive").state["arn"]
    log_bucket = run.one(BUCKET, "central-access-logs")
    trail = run.one(TRAIL)
    assert not run.of_type(LOGGING)
    assert trail.inputs["s3BucketName"] == log_bucket.state["bucket"]
    assert trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["isMultiRegionTrail"] is False
    [selector] = trail.inputs["advancedEventSelectors"]
    assert selector["fieldSelectors"] == [
        {"field": "eventCategory", "equals": ["Data"]},
        {"field": "resources.type", "equals": ["AWS::S3::Object"]},
        {"field": "resources.ARN", "startsWiths": [f"{archive_arn}/"]},
    ]
    assert trail.retain_on_delete
    policy = run.one(BUCKET_POLICY, "central-access-logs-policy").policy("policy")
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert {s["Principal"]["Service"] for s in allows} == {"cloudtrail.amazonaws.com"}
    assert all(
        s["Condition"]["StringEquals"]["aws:SourceArn"] == trail.state["arn"] for s in allows
    )
    assert run.outputs["accessTrail"] == {
        "kind": "cloudtrail",
        "trailArn": trail.state["arn"],
        "bucketName": log_bucket.state["bucket"],
        "prefix": "cloudtrail",
    }


def test_an_existing_trail_is_named_and_nothing_is_created_for_it() -> None:
    arn = "arn:aws:cloudtrail:eu-west-1:999999999999:trail/organization-trail"
    run = run_program({"role": "logging", "organizationId": ORG_ID, "accessTrail": arn})
    assert not run.of_type(TRAIL)
    assert not run.of_type(LOGGING)
    assert [b.name for b in run.of_type(BUCKET)] == ["central-archive", "central-athena-results"]
    assert run.outputs["accessTrail"] == {"kind": "cloudtrail", "trailArn": arn, "managedBy": "you"}


def test_an_existing_bucket_keeps_its_owner_s_logging() -> None:
    run = run_program(
        {"role": "logging", "organizationId": ORG_ID, "existingBucketName": "lz-logs"}
    )
    # No log bucket: only Athena's results bucket.
    assert [b.name for b in run.of_type(BUCKET)] == ["central-athena-results"]
    assert not run.of_type(LOGGING)
    assert run.outputs["accessTrail"] == {"kind": "none", "reason": "existingBucketName"}


def test_access_trail_values() -> None:
    for value in ("cloud-trail", "arn:aws:s3:::a-bucket", "arn:aws:cloudtrail:eu-west-1:1:trail/x"):
        assert config_error(
            {"role": "logging", "organizationId": ORG_ID, "accessTrail": value}
        ) == (
            f"central-logging:accessTrail is {value!r}; it must be server-access-logs, "
            "cloudtrail, or the ARN of an existing trail that records the archive's data "
            "events, arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME."
        )


def test_no_one_but_admins_hides_records_behind_delete_markers() -> None:
    _, policy, _, bucket = archive_policies(
        {"role": "logging", "organizationId": ORG_ID, "archiveAdminRoleArns": [ADMIN]}
    )
    record = f"{bucket}/CentralizedAccountsLog/account=111111111111/region=eu-west-1/x.json.gz"
    assert denied(policy, MEMBER_ROLE, "s3:DeleteObject", record)
    assert denied(policy, None, "s3:DeleteObject", record)
    assert not denied(policy, ADMIN, "s3:DeleteObject", record)
    assert not denied(policy, DEPLOYER, "s3:DeleteObject", record)
    # Outside the archive prefix the bucket's owner decides.
    assert not denied(policy, MEMBER_ROLE, "s3:DeleteObject", f"{bucket}/scratch/x")


def test_replication_inventory_and_notifications_stay_as_the_admins_set_them() -> None:
    _, policy, _, bucket = archive_policies(
        {"role": "logging", "organizationId": ORG_ID, "archiveAdminRoleArns": [ADMIN]}
    )
    # DeleteBucketReplication, DeleteBucketInventoryConfiguration are authorised as these.
    for action in (
        "s3:PutReplicationConfiguration",
        "s3:PutInventoryConfiguration",
        "s3:PutBucketNotification",
    ):
        assert denied(policy, MEMBER_ROLE, action, bucket), action
        assert not denied(policy, ADMIN, action, bucket), action


def test_nothing_reaches_the_archive_through_an_access_point_but_admins() -> None:
    _, policy, _, bucket = archive_policies(
        {"role": "logging", "organizationId": ORG_ID, "archiveAdminRoleArns": [ADMIN]}
    )
    access_point = f"arn:aws:s3:eu-west-1:{LOGGING_ACCOUNT_ID}:accesspoint/side-door"
    record = f"{bucket}/CentralizedAccountsLog/account=111111111111/x.json.gz"
    for action in ("s3:GetObject", "s3:PutObject", "s3:ListBucket"):
        resource = bucket if action == "s3:ListBucket" else record
        assert denied(policy, MEMBER_ROLE, action, resource, s3_DataAccessPointArn=access_point)
    assert not denied(policy, ADMIN, "s3:GetObject", record, s3_DataAccessPointArn=access_point)
    assert not denied(policy, MEMBER_ROLE, "s3:GetObject", record)


def test_only_the_log_service_writes_access_log_entries_and_only_admins_delete_them() -> None:
    run = run_program({**FULL_ARCHIVE, "archiveAdminRoleArns": [ADMIN]})
    archive_arn = run.one(BUCKET, "central-archive").state["arn"]
    log_arn = run.one(BUCKET, "central-access-logs").state["arn"]
    policy = run.one(BUCKET_POLICY, "central-access-logs-policy").policy("policy")
    entry = f"{log_arn}/s3-access-logs/2026-12-06-01-00-00-ABCDEF"
    assert not denied(policy, None, "s3:PutObject", entry, aws_SourceArn=archive_arn)
    # Another bucket's logs, or anyone's own request, forge entries.
    other = "arn:aws:s3:::someone-elses-bucket"
    assert denied(policy, None, "s3:PutObject", entry, aws_SourceArn=other)
    for writer in (MEMBER_ROLE, DEPLOYER, ADMIN):
        assert denied(policy, writer, "s3:PutObject", entry), writer
    assert denied(policy, MEMBER_ROLE, "s3:DeleteObject", entry)
    assert not denied(policy, ADMIN, "s3:DeleteObject", entry)


def test_only_cloudtrail_for_its_trail_writes_the_trail_s_log_files() -> None:
    run = run_program({"role": "logging", "organizationId": ORG_ID, "accessTrail": "cloudtrail"})
    trail_arn = run.one(TRAIL).state["arn"]
    log_arn = run.one(BUCKET, "central-access-logs").state["arn"]
    policy = run.one(BUCKET_POLICY, "central-access-logs-policy").policy("policy")
    log_file = f"{log_arn}/cloudtrail/AWSLogs/{LOGGING_ACCOUNT_ID}/x.json.gz"
    assert not denied(policy, None, "s3:PutObject", log_file, aws_SourceArn=trail_arn)
    assert denied(policy, MEMBER_ROLE, "s3:PutObject", log_file)
    assert not denied(policy, DEPLOYER, "s3:DeleteObject", f"{log_arn}/x")
