"""The archive reader role against moto's S3 with IAM enforcement on (issue 22 item 2): the
policy the logging stack renders reads the archive and the query results, and every write,
delete or change under the archive prefix or on the bucket is refused. moto judges actions
and resources (not KMS conditions: tests/infra/test_reader.py judges those)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from components import policies
from components.athena import DATABASE, WORKGROUP
from tests.aws_env import fake_credentials
from tests.handlers.harness import (
    MEMBER_ACCOUNT,
    REGION,
    IamEnforcement,
    session_for,
)

BUCKET = "central-archive"
RESULTS = "central-athena-results"
PREFIX = "CentralizedAccountsLog/"
OBJECT = f"{PREFIX}account=111111111111/region={REGION}/year=2026/month=01/day=10/a.json.gz"


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, IamEnforcement]]:
    fake_credentials(monkeypatch, REGION)
    with mock_aws():
        enforcement = IamEnforcement(monkeypatch)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=BUCKET, Key=OBJECT, Body=b"archived")
        s3.create_bucket(Bucket=RESULTS, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=RESULTS, Key="old.csv", Body=b"a,b")
        policy = policies.archive_reader_policy(
            partition="aws",
            region=REGION,
            account_id=MEMBER_ACCOUNT,
            bucket_arn=f"arn:aws:s3:::{BUCKET}",
            s3_prefix=PREFIX,
            kms_key_arn=f"arn:aws:kms:{REGION}:{MEMBER_ACCOUNT}:key/k",
            athena=(WORKGROUP, DATABASE, f"arn:aws:s3:::{RESULTS}"),
        )
        iam = boto3.client("iam", region_name=REGION)
        trust = policies.reader_trust("aws", [MEMBER_ACCOUNT])
        iam.create_role(RoleName="central-reader", AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(
            RoleName="central-reader", PolicyName="read", PolicyDocument=json.dumps(policy)
        )
        credentials = boto3.client("sts", region_name=REGION).assume_role(
            RoleArn=f"arn:aws:iam::{MEMBER_ACCOUNT}:role/central-reader", RoleSessionName="jane"
        )["Credentials"]
        yield session_for(credentials).client("s3"), enforcement


def refused(call: Callable[[], Any]) -> bool:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"] == "AccessDenied"
    return False


def test_a_reader_lists_and_gets_the_archive_and_writes_only_query_results(
    reader: tuple[Any, IamEnforcement],
) -> None:
    s3, enforcement = reader
    with enforcement.enforced():
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]
        body = s3.get_object(Bucket=BUCKET, Key=OBJECT)["Body"].read()
        s3.put_object(Bucket=RESULTS, Key="new.csv", Body=b"x")
        result = s3.get_object(Bucket=RESULTS, Key="old.csv")["Body"].read()

    assert [item["Key"] for item in listed] == [OBJECT]
    assert (body, result) == (b"archived", b"a,b")


@pytest.mark.parametrize(
    "write",
    [
        "put archive object",
        "delete archive object",
        "delete query result",
        "tag archive object",
        "put bucket policy",
        "delete bucket policy",
        "put versioning",
        "put lifecycle",
        "delete bucket",
    ],
)
def test_a_reader_cannot_write_delete_or_change_the_archive(
    reader: tuple[Any, IamEnforcement], write: str
) -> None:
    s3, enforcement = reader
    tagging = {"TagSet": [{"Key": "k", "Value": "v"}]}
    calls: dict[str, Callable[[], Any]] = {
        "put archive object": lambda: s3.put_object(Bucket=BUCKET, Key=OBJECT, Body=b"forged"),
        "delete archive object": lambda: s3.delete_object(Bucket=BUCKET, Key=OBJECT),
        "delete query result": lambda: s3.delete_object(Bucket=RESULTS, Key="old.csv"),
        "tag archive object": lambda: s3.put_object_tagging(
            Bucket=BUCKET, Key=OBJECT, Tagging=tagging
        ),
        "put bucket policy": lambda: s3.put_bucket_policy(Bucket=BUCKET, Policy="{}"),
        "delete bucket policy": lambda: s3.delete_bucket_policy(Bucket=BUCKET),
        "put versioning": lambda: s3.put_bucket_versioning(
            Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"}
        ),
        "put lifecycle": lambda: s3.put_bucket_lifecycle_configuration(
            Bucket=BUCKET, LifecycleConfiguration={"Rules": []}
        ),
        "delete bucket": lambda: s3.delete_bucket(Bucket=BUCKET),
    }
    with enforcement.enforced():
        assert refused(calls[write])
    assert (
        boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=OBJECT)["Body"].read()
        == b"archived"
    )
