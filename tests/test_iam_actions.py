"""The tests' own map from API calls to IAM actions follows AWS, whatever moto calls them."""

import boto3
import pytest
from moto import mock_aws

from tests.iam_actions import UnmappedOperation, current_action, iam_action, track_calls


def test_calls_are_named_as_the_service_authorization_reference_names_them() -> None:
    assert iam_action("s3", "ListObjectsV2") == "s3:ListBucket"
    assert iam_action("s3", "HeadObject") == "s3:GetObject"
    assert iam_action("lambda", "Invoke") == "lambda:InvokeFunction"
    # botocore's CloudWatch client is `cloudwatch`, IAM's prefix too (its endpoint is monitoring).
    assert iam_action("cloudwatch", "PutMetricData") == "cloudwatch:PutMetricData"
    assert iam_action("logs", "PutSubscriptionFilter") == "logs:PutSubscriptionFilter"


def test_an_s3_call_missing_from_the_table_fails_instead_of_being_guessed() -> None:
    with pytest.raises(UnmappedOperation, match="s3:PutBucketReplication is not in"):
        iam_action("s3", "PutBucketReplication")


def test_the_action_of_the_call_in_progress_is_seen_where_moto_answers_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str | None] = []
    track_calls(monkeypatch)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="archive")
        s3.meta.events.register("before-send", lambda **_: seen.append(current_action()))
        s3.list_objects_v2(Bucket="archive", Prefix="x/")
        s3.list_buckets()
    assert seen == ["s3:ListBucket", "s3:ListAllMyBuckets"]
    assert current_action() is None
