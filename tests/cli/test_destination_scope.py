"""Where the member stack's destinations list accounts it writes `none` as the sender role
parameter: the CLI then puts filters without roleArn, as the subscriber functions do, and
counts such filters as covering."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from central_logging.cli import main
from handlers import core
from tests.handlers.harness import (
    DESTINATION_ARN,
    FILTER_NAME,
    LOGGING_ACCOUNT,
    REGION,
    FakeAws,
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert err == ""
    return code, json.loads(out)


@pytest.fixture
def accounts_scope_parameters(aws: FakeAws) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=core.DESTINATION_PARAMETER, Value=DESTINATION_ARN, Type="String")
    ssm.put_parameter(Name=core.SENDER_ROLE_PARAMETER, Value=core.NO_SENDER_ROLE, Type="String")


@pytest.mark.usefixtures("accounts_scope_parameters")
def test_no_role_is_passed_where_the_member_stack_wrote_none(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    # The destination lists the member account (tests/cli/conftest.py): no roleArn needed.
    aws.create_log_groups("/app/by-the-lambda", "/app/new")
    aws.put_filter("/app/by-the-lambda", FILTER_NAME, DESTINATION_ARN)

    code, audit = run(capsys, "audit", "--logging-account", LOGGING_ACCOUNT)
    assert code == 1
    outcomes = {g["logGroup"]: g["outcome"] for g in audit["logGroups"]}
    assert outcomes == {"/app/by-the-lambda": "already-subscribed", "/app/new": "not-subscribed"}

    code, _ = run(capsys, "backfill")
    assert code == 0
    assert "roleArn" not in aws.filter("/app/new", FILTER_NAME)
