"""Athena's query results live in a bucket of their own: private, encrypted with the archive
key, without Object Lock, expired after `athenaResultsDays`; never in the archive."""

from __future__ import annotations

import pytest

from components.config import parse_logging
from tests.infra.harness import ORG_ID, Run, config_error, run_program

BUCKET = "aws:s3/bucket:Bucket"
RESULTS = "central-athena-results"
WORKGROUP = "aws:athena/workgroup:Workgroup"
KEY = "aws:kms/key:Key"


def settings_of(run: Run, type_: str, name: str) -> dict[str, object]:
    return run.one(type_, name).inputs


def results_bucket_arn(run: Run) -> str:
    return str(run.one(BUCKET, RESULTS).state["arn"])


def test_results_go_to_their_own_encrypted_expiring_bucket_not_the_archive() -> None:
    run = run_program(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "bucketName": "logs-example",
            "objectLockMode": "COMPLIANCE",
            "objectLockDays": 365,
            "athenaResultsDays": 7,
        }
    )
    results = run.one(BUCKET, RESULTS)
    location = run.one(WORKGROUP).inputs["configuration"]["resultConfiguration"]["outputLocation"]
    assert location == f"s3://{results.state['bucket']}/"
    assert not location.startswith("s3://logs-example/")
    # No Object Lock: an expired result is gone a day later.
    assert not results.inputs.get("objectLockEnabled")
    bucket_id = results.state["bucket"]
    settings = [r for r in run.resources if r.inputs.get("bucket") == bucket_id]
    kinds = sorted(r.type.split(":")[-1] for r in settings)
    assert kinds == [
        "BucketLifecycleConfiguration",
        "BucketOwnershipControls",
        "BucketPolicy",
        "BucketPublicAccessBlock",
        "BucketServerSideEncryptionConfiguration",
        "BucketVersioning",
    ]
    public = settings_of(
        run,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "central-athena-results-public-access",
    )
    assert all(
        public[k]
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    key_arn = run.one(KEY).state["arn"]
    encryption = settings_of(
        run,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "central-athena-results-encryption",
    )
    default = encryption["rules"][0]["applyServerSideEncryptionByDefault"]  # type: ignore[index]
    assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
    lifecycle = settings_of(
        run,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "central-athena-results-lifecycle",
    )
    (rule,) = lifecycle["rules"]  # type: ignore[misc]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": ""}
    assert rule["expiration"] == {"days": 7}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 1}


def test_the_archive_key_may_encrypt_results_only_for_the_results_bucket() -> None:
    run = run_program({"role": "logging", "organizationId": ORG_ID})
    key_policy = run.one(KEY).policy("policy")
    (use,) = [s for s in key_policy["Statement"] if s["Sid"] == "UseThroughS3ForArchive"]
    contexts = use["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]
    archive = run.one(BUCKET, "central-archive").state["arn"]
    results = results_bucket_arn(run)
    assert sorted(contexts) == sorted([archive, f"{archive}/*", results, f"{results}/*"])


def test_the_results_bucket_refuses_plain_http() -> None:
    run = run_program({"role": "logging", "organizationId": ORG_ID})
    policy = run.one("aws:s3/bucketPolicy:BucketPolicy", "central-athena-results-policy").policy(
        "policy"
    )
    results = results_bucket_arn(run)
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Resource"] == [results, f"{results}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_no_results_bucket_without_the_query_layer() -> None:
    run = run_program({"role": "logging", "organizationId": ORG_ID, "athena": "false"})
    assert [b.name for b in run.of_type(BUCKET) if b.name == RESULTS] == []
    key_policy = run.one(KEY).policy("policy")
    (use,) = [s for s in key_policy["Statement"] if s["Sid"] == "UseThroughS3ForArchive"]
    assert len(use["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]) == 2


def test_results_expire_after_30_days_by_default() -> None:
    assert parse_logging({"organizationId": ORG_ID}, "eu-west-1").athena_results_days == 30


@pytest.mark.parametrize("value", ["0", "-1", "thirty", "36501", "1.5"])
def test_a_bad_results_lifetime_stops_the_program(value: str) -> None:
    message = config_error(
        {"role": "logging", "organizationId": ORG_ID, "athenaResultsDays": value}
    )
    shown = repr(value)
    assert message == (
        f"central-logging:athenaResultsDays is {shown}; it must be a whole number from 1 to 36500."
    )
