"""Fixtures of the handler tests: moto with IAM enforcement, a cross-account destination, and
the subscriber function's role holding the exact policy the member stack renders."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest
from moto import mock_aws

from components.policies import destination_access_policy
from tests.aws_env import fake_credentials
from tests.handlers.harness import (
    DESTINATION_ARN,
    FUNCTION_ARN,
    ORGANIZATION_ID,
    REGION,
    SENDER_ROLE_ARN,
    FakeAws,
    function_environment,
    member_settings,
    rendered_member_stack,
)


@pytest.fixture
def function_policy() -> dict[str, Any]:
    """The IAM policy the member stack renders for its sweep function in `REGION`."""
    run = rendered_member_stack()
    function = run.one("aws:lambda/function:Function", f"central-{REGION}-reconciler")
    assert function.state["arn"] == FUNCTION_ARN
    assert function.inputs["environment"]["variables"]["SENDER_ROLE_ARN"] == SENDER_ROLE_ARN
    policy: dict[str, Any] = run.one(
        "aws:iam/rolePolicy:RolePolicy", f"central-{REGION}-reconciler"
    ).policy("policy")
    return policy


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    """moto, extended; the destination lives in the logging account and is shared with the
    organisation, as the logging stack renders it."""
    # Set before moto starts, so that undoing them last restores the environment as it was.
    fake_credentials(monkeypatch, REGION)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        fake = FakeAws(monkeypatch)
        fake.create_destination(destination_access_policy(DESTINATION_ARN, ORGANIZATION_ID, []))
        yield fake


@pytest.fixture
def function_session(aws: FakeAws, function_policy: dict[str, Any]) -> boto3.session.Session:
    return aws.function_session(function_policy)


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, function_session: boto3.session.Session) -> None:
    """The subscriber function's environment: its settings and its role's credentials."""
    credentials = function_session.get_credentials()
    assert credentials is not None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token or "")
    for variable, value in function_environment(member_settings()).items():
        monkeypatch.setenv(variable, value)


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays botocore backs off for between retries, recorded instead of slept."""
    delays: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=delays.append))
    return delays
