"""Fixtures of the CLI tests: moto, the cross-account destination of the handler tests shared
with three member accounts, and fast fake time for the quota pacing."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from central_logging import sweep
from components.policies import destination_access_policy
from handlers import core
from tests.aws_env import fake_credentials
from tests.handlers.harness import (
    DESTINATION_ARN,
    MEMBER_ACCOUNT,
    REGION,
    FakeAws,
    FakeTime,
    admin_session,
)

OTHER_ACCOUNTS = ("444444444444", "555555555555")
# Where the organisation trail lives; AWS shows it in every member account.
MANAGEMENT_ACCOUNT = "666666666666"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    """moto as the handler tests extend it; the destination accepts puts from every member."""
    fake_credentials(monkeypatch, REGION)
    # The quota pacing runs on fake time, one clock per account-region as each has its budget.
    monkeypatch.setattr(
        sweep,
        "quota_limiters",
        lambda: core.quota_limiters(clock=(t := FakeTime()).clock, sleep=t.sleep),
    )
    with mock_aws():
        fake = FakeAws(monkeypatch)
        fake.create_destination(
            destination_access_policy(DESTINATION_ARN, None, [MEMBER_ACCOUNT, *OTHER_ACCOUNTS])
        )
        fake.create_trail(admin_session(MANAGEMENT_ACCOUNT), "organization", organization=True)
        yield fake


@pytest.fixture
def ssm_destination(aws: FakeAws) -> None:
    """The SSM parameter the member stack writes in its region."""
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=core.DESTINATION_PARAMETER, Value=DESTINATION_ARN, Type="String"
    )
