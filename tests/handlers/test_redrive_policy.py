"""`central-logging redrive` runs under the exact policy the logging stack renders for its
redrive role, with moto's IAM enforcement on (issue 18 item 3)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from central_logging import archive
from central_logging.cli import main
from tests.archive.diverted import diverted_key, diverted_object, error_record
from tests.handlers import harness
from tests.handlers.harness import MEMBER_ACCOUNT, REGION, FakeAws, without_action
from tests.infra.harness import run_program

BUCKET = "central-archive"  # as the logging stack names it under the mock runtime
PREFIX = "CentralizedAccountsLog/"
ACCOUNT = "111111111111"


@functools.cache
def redrive_policy() -> dict[str, Any]:
    run = run_program(
        {"role": "logging", "memberAccounts": [ACCOUNT], "regions": [REGION]},
        region=REGION,
        account_id=MEMBER_ACCOUNT,
    )
    policy: dict[str, Any] = run.one(
        "aws:iam/rolePolicy:RolePolicy", "central-redrive-role"
    ).policy("policy")
    return policy


@pytest.fixture(autouse=True)
def list_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    """IAM authorises ListObjectsV2 as s3:ListBucket; moto 5.2.6 checks s3:ListObjectsV2. Main's
    tests/iam_actions.py maps it for every test; this harness's table does not yet."""
    table = getattr(harness, "IAM_ACTION_OF_OPERATION", None)
    if table is not None:
        monkeypatch.setitem(table, "s3:ListObjectsV2", "s3:ListBucket")


def _diverted_archive() -> str:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    envelope = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": "/app",
        "logStream": "s",
        "subscriptionFilters": ["central-logging"],
        "logEvents": [{"id": "1", "timestamp": 1_768_000_000_000, "message": "m"}],
    }
    key = PREFIX + diverted_key(REGION, datetime(2026, 1, 10, tzinfo=UTC))
    body = diverted_object([error_record([envelope], gzip_raw=True)], gzip_object=True)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return key


def _keys() -> list[str]:
    response = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)
    return sorted(item["Key"] for item in response.get("Contents", []))


def test_the_rendered_policy_allows_a_whole_redrive(
    aws: FakeAws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _diverted_archive()
    session = aws.function_session(redrive_policy())
    monkeypatch.setattr(archive, "s3_client", lambda profile: session.client("s3"))

    with aws.iam.enforced():
        code = main(["redrive", f"s3://{BUCKET}/{PREFIX}"])

    assert (code, capsys.readouterr().err) == (0, "")
    assert key not in _keys()
    assert [k for k in _keys() if f"account={ACCOUNT}/region={REGION}/" in k]
    assert set(aws.iam.actions) == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
    }


def test_without_delete_the_diverted_object_stays(
    aws: FakeAws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _diverted_archive()
    session = aws.function_session(without_action(redrive_policy(), "s3:DeleteObject"))
    monkeypatch.setattr(archive, "s3_client", lambda profile: session.client("s3"))

    with aws.iam.enforced():
        code = main(["redrive", f"s3://{BUCKET}/{PREFIX}"])

    assert code == 1
    assert "AccessDenied" in capsys.readouterr().err
    assert key in _keys()
