"""The archive outlives the stack and resists quiet rewrites: what `pulumi destroy` leaves,
and the bucket and key policies an auditor reads."""

from __future__ import annotations

from tests.infra.harness import ORG_ID, run_program

BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
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
