"""Fixtures of the CLI tests: moto, the cross-account destination of the handler tests shared
with three member accounts, and fast fake time for the quota pacing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

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
# The console script of this venv, as an operator runs it.
CLI = str(Path(sys.executable).with_name("central-logging"))
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


@pytest.fixture
def endpoint(aws: FakeAws) -> Iterator[str]:
    """moto as a server on loopback, for the console script run as its own process."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def console(endpoint: str, *argv: str) -> subprocess.Popen[str]:
    """`central-logging ARGV` in its own process against `endpoint`, as an operator runs it
    (Ctrl-C, exit codes, pipes)."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        # This checkout's code, whichever checkout the console script was installed from.
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    return subprocess.Popen(
        [CLI, *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
