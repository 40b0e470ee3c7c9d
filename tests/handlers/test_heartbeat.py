"""The heartbeat function, under the IAM policy the member stack renders for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers import heartbeat
from handlers.heartbeat import HEARTBEAT_LOG_GROUP, HEARTBEAT_LOG_STREAM
from tests.handlers.harness import MEMBER_ACCOUNT, REGION, FakeAws, rendered_member_stack
from tests.handlers.test_function_policy import resources_by_action

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{MEMBER_ACCOUNT}:function:central-logging-heartbeat"
CONTEXT = SimpleNamespace(invoked_function_arn=FUNCTION_ARN)


@pytest.fixture
def heartbeat_policy() -> dict[str, Any]:
    policy: dict[str, Any] = (
        rendered_member_stack()
        .one("aws:iam/rolePolicy:RolePolicy", f"central-{REGION}-heartbeat-function")
        .policy("policy")
    )
    return policy


@pytest.fixture
def as_heartbeat_function(
    aws: FakeAws, heartbeat_policy: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = aws.function_session(heartbeat_policy).get_credentials()
    assert credentials is not None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token or "")


def heartbeats(aws: FakeAws) -> list[tuple[int, dict[str, Any]]]:
    events = aws.logs.get_log_events(
        logGroupName=HEARTBEAT_LOG_GROUP, logStreamName=HEARTBEAT_LOG_STREAM
    )["events"]
    return [(e["timestamp"], json.loads(e["message"])) for e in events]


def test_the_policy_allows_writing_heartbeats_and_own_logs_only(
    heartbeat_policy: dict[str, Any],
) -> None:
    log_groups = f"arn:aws:logs:{REGION}:{MEMBER_ACCOUNT}:log-group"
    streams = {
        f"{log_groups}:/central-logging/heartbeat:log-stream:*",
        f"{log_groups}:/aws/lambda/central-logging-heartbeat:log-stream:*",
    }
    assert resources_by_action(heartbeat_policy) == {
        "logs:CreateLogStream": streams,
        "logs:PutLogEvents": streams,
    }


@pytest.mark.usefixtures("as_heartbeat_function")
def test_the_heartbeat_writes_the_documented_event(aws: FakeAws) -> None:
    aws.logs.create_log_group(logGroupName=HEARTBEAT_LOG_GROUP)
    before = datetime.now(UTC).replace(microsecond=0)

    with aws.iam.enforced():
        sent = heartbeat.handler({"source": "aws.events"}, CONTEXT)

    [(timestamp, event)] = heartbeats(aws)
    assert event == sent
    assert set(event) == {"heartbeat", "account", "region", "sentAt"}
    assert (event["heartbeat"], event["account"], event["region"]) == (
        True,
        MEMBER_ACCOUNT,
        REGION,
    )
    assert event["sentAt"].endswith("Z")
    sent_at = datetime.fromisoformat(event["sentAt"])
    assert before <= sent_at <= datetime.now(UTC)
    assert abs(timestamp / 1000 - sent_at.timestamp()) < 1
    assert sorted(set(aws.iam.actions)) == ["logs:CreateLogStream", "logs:PutLogEvents"]


@pytest.mark.usefixtures("as_heartbeat_function")
def test_later_heartbeats_reuse_the_stream_and_a_deleted_stream_comes_back(aws: FakeAws) -> None:
    aws.logs.create_log_group(logGroupName=HEARTBEAT_LOG_GROUP)
    with aws.iam.enforced():
        heartbeat.handler({}, CONTEXT)
        heartbeat.handler({}, CONTEXT)
    assert len(heartbeats(aws)) == 2
    assert aws.iam.actions.count("logs:CreateLogStream") == 1

    aws.logs.delete_log_stream(logGroupName=HEARTBEAT_LOG_GROUP, logStreamName="heartbeat")
    with aws.iam.enforced():
        heartbeat.handler({}, CONTEXT)
    assert len(heartbeats(aws)) == 1


@pytest.mark.usefixtures("as_heartbeat_function")
def test_a_missing_heartbeat_group_fails_the_invocation(aws: FakeAws) -> None:
    """The group belongs to the stack: the function never creates it, and its failure is
    what the heartbeat-missing alarm sees (no events)."""
    with aws.iam.enforced(), pytest.raises(ClientError) as raised:
        heartbeat.handler({}, CONTEXT)

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "/central-logging/heartbeat" not in {
        g["logGroupName"] for g in aws.logs.describe_log_groups()["logGroups"]
    }


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "not-an-arn",
        "arn:aws:iam::111111111111:role/x",
        "arn:aws:lambda:eu-west-1:abc:function:f",
    ],
)
def test_a_context_without_a_function_arn_is_refused(arn: str) -> None:
    with pytest.raises(ValueError, match="is not a Lambda function ARN"):
        heartbeat.account_of(arn)


def test_sent_at_is_utc_whatever_the_clock_zone() -> None:
    local = datetime(2026, 1, 2, 4, 5, 6, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))

    event = heartbeat.heartbeat_event("111111111111", "eu-west-1", local)

    assert event == {
        "heartbeat": True,
        "account": "111111111111",
        "region": "eu-west-1",
        "sentAt": "2026-01-02T04:05:06Z",
    }
