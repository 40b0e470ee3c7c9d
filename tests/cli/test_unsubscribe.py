"""`central-logging unsubscribe`: this project's own filters go, every other owner's stay."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.logs.models import LogsBackend

from central_logging import cli, sweep
from components.drift import FILTER_RULE_DESCRIPTION
from components.subscriber import RECONCILER, SUBSCRIBER
from handlers import core
from tests.cli.conftest import OTHER_ACCOUNTS
from tests.handlers.harness import (
    DESTINATION_ARN,
    FILTER_NAME,
    LEGACY_FILTER_NAME,
    MEMBER_ACCOUNT,
    REGION,
    FakeAws,
    FakeTime,
    admin_session,
)

OURS = "/app/ours"
LEGACY = "/app/legacy"
BOTH_OWNERS = "/app/ours-and-siem"
OTHER_TEAM = "/app/other-team"
BARE = "/app/bare"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = cli.main(["unsubscribe", *argv, "--json"])
    out, err = capsys.readouterr()
    assert err == ""
    return code, json.loads(out)


def by_group(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {g["logGroup"]: (g["outcome"], g["detail"]) for g in document["logGroups"]}


@pytest.fixture
def subscribed(aws: FakeAws) -> FakeAws:
    aws.create_log_groups(OURS, LEGACY, BOTH_OWNERS, OTHER_TEAM, BARE)
    aws.put_filter(OURS, FILTER_NAME, DESTINATION_ARN)
    aws.put_filter(LEGACY, LEGACY_FILTER_NAME, DESTINATION_ARN)
    aws.put_filter(BOTH_OWNERS, FILTER_NAME, DESTINATION_ARN)
    aws.create_foreign_filter(BOTH_OWNERS, "siem")
    # Another owner's filter to the same destination is still not ours.
    aws.put_filter(OTHER_TEAM, "other-team", DESTINATION_ARN)
    return aws


def test_unsubscribe_removes_our_filters_only(
    subscribed: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    # As README shows it.
    code, document = run(capsys, "--region", REGION, "--replace-filter", LEGACY_FILTER_NAME)

    assert code == 0
    assert by_group(document) == {
        OURS: ("unsubscribed", f"deleted filter {FILTER_NAME!r}"),
        LEGACY: ("unsubscribed", f"deleted filter {LEGACY_FILTER_NAME!r}"),
        BOTH_OWNERS: ("unsubscribed", f"deleted filter {FILTER_NAME!r}"),
        OTHER_TEAM: ("not-subscribed", "holds no filter of this project"),
        BARE: ("not-subscribed", "holds no filter of this project"),
    }
    assert document["summary"] == {"unsubscribed": 3, "not-subscribed": 2}
    assert subscribed.filters(OURS) == {}
    assert subscribed.filters(LEGACY) == {}
    assert set(subscribed.filters(BOTH_OWNERS)) == {"siem"}
    assert subscribed.filters(OTHER_TEAM) == {"other-team": DESTINATION_ARN}

    # A second run finds nothing left to remove.
    assert run(capsys, "--replace-filter", LEGACY_FILTER_NAME)[1]["summary"] == {
        "not-subscribed": 5
    }


def test_names_are_exact_not_prefixes_or_patterns(
    subscribed: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "--filter-name", "central", "--replace-filter", "seed-central-loggin")[1][
        "summary"
    ] == {"not-subscribed": 5}
    assert subscribed.filters(OURS) == {FILTER_NAME: DESTINATION_ARN}
    assert subscribed.filters(LEGACY) == {LEGACY_FILTER_NAME: DESTINATION_ARN}

    assert cli.main(["unsubscribe", "--filter-name", "central-*"]) == 2
    assert capsys.readouterr().err.startswith("central-logging: --filter-name must be")


def test_dry_run_deletes_nothing_and_says_what_it_would(
    subscribed: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = run(capsys, "--dry-run")

    assert code == 0
    assert by_group(document)[OURS] == (
        "already-subscribed",
        f"would delete filter {FILTER_NAME!r}",
    )
    assert by_group(document)[LEGACY] == ("not-subscribed", "holds no filter of this project")
    assert subscribed.filters(OURS) == {FILTER_NAME: DESTINATION_ARN}


def test_a_refused_delete_is_failed_and_exits_1(
    subscribed: FakeAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.logs.exceptions import LogsClientError

    delete = LogsBackend.delete_subscription_filter

    def refuse(backend: LogsBackend, log_group_name: str, filter_name: str) -> None:
        if log_group_name == OURS:
            raise LogsClientError("AccessDeniedException", "not for you")
        delete(backend, log_group_name, filter_name)

    monkeypatch.setattr(LogsBackend, "delete_subscription_filter", refuse)

    code, document = run(capsys)

    assert code == 1
    assert by_group(document)[OURS] == ("failed", "AccessDeniedException: not for you")
    assert by_group(document)[BOTH_OWNERS][0] == "unsubscribed"


def test_every_delete_waits_for_the_delete_quota(
    aws: FakeAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = [f"/app/{index:02}" for index in range(12)]
    aws.create_log_groups(*groups)
    for group in groups:
        aws.put_filter(group, FILTER_NAME, DESTINATION_ARN)
    time = FakeTime()
    limiters = core.quota_limiters(clock=time.clock, sleep=time.sleep)
    deletes = limiters["DeleteSubscriptionFilter"]
    booked: list[float] = []

    def acquire() -> None:
        booked.append(time.now)
        core.RateLimiter.acquire(deletes)

    monkeypatch.setattr(deletes, "acquire", acquire)
    monkeypatch.setattr(sweep, "quota_limiters", lambda: limiters)

    assert run(capsys)[1]["summary"] == {"unsubscribed": 12}
    # Each delete waited for the DeleteSubscriptionFilter budget (5/s, the core's limiter).
    assert len(booked) == 12


def test_unsubscribe_needs_no_destination(aws: FakeAws, capsys: pytest.CaptureFixture[str]) -> None:
    # After the member stack is gone there is no SSM parameter: unsubscribe still works.
    aws.create_log_groups(OURS)
    aws.put_filter(OURS, FILTER_NAME, DESTINATION_ARN)

    assert run(capsys)[0] == 0
    assert aws.filters(OURS) == {}


def create_function(session: boto3.session.Session, name: str) -> None:
    role = session.client("iam").create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    session.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="handlers.subscribe.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )


def test_the_project_s_function_names_are_the_ones_unsubscribe_looks_for() -> None:
    assert {SUBSCRIBER.name, RECONCILER.name} == set(core.FUNCTION_NAMES)
    assert FILTER_RULE_DESCRIPTION == core.DRIFT_RULE_DESCRIPTION


@pytest.mark.parametrize("function", core.FUNCTION_NAMES)
def test_unsubscribe_refuses_while_a_function_of_the_project_runs(
    subscribed: FakeAws, capsys: pytest.CaptureFixture[str], function: str
) -> None:
    create_function(boto3.session.Session(region_name=REGION), function)

    for dry_run in ([], ["--dry-run"]):
        assert cli.main(["unsubscribe", "--region", REGION, *dry_run]) == 2
        assert capsys.readouterr() == (
            "",
            f"central-logging: Not unsubscribing: account {MEMBER_ACCOUNT} in {REGION} still "
            f"runs this project's function {function}, which would put every filter back; "
            "destroy the member stack (or its stack instances) first, then unsubscribe.\n",
        )
    assert subscribed.filters(OURS) == {FILTER_NAME: DESTINATION_ARN}


def test_unsubscribe_refuses_while_the_drift_rule_exists(
    subscribed: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    # As the organization template names it; a member stack's has a generated name.
    boto3.client("events", region_name=REGION).put_rule(
        Name="central-logging-filter-changed",
        EventPattern=json.dumps({"source": ["aws.logs"]}),
        Description=core.DRIFT_RULE_DESCRIPTION,
    )

    assert cli.main(["unsubscribe"]) == 2
    assert "drift rule central-logging-filter-changed" in capsys.readouterr().err
    assert subscribed.filters(OURS) == {FILTER_NAME: DESTINATION_ARN}


def test_one_running_account_stops_a_fan_out_before_any_delete(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    for account in OTHER_ACCOUNTS:
        logs = admin_session(account).client("logs")
        logs.create_log_group(logGroupName=OURS)
        logs.put_subscription_filter(
            logGroupName=OURS,
            filterName=FILTER_NAME,
            filterPattern="",
            destinationArn=DESTINATION_ARN,
        )
    create_function(admin_session(OTHER_ACCOUNTS[1]), "central-logging-reconciler")

    code = cli.main(["unsubscribe", "--accounts", *OTHER_ACCOUNTS, "--assume-role", "ops"])

    assert code == 2
    assert f"account {OTHER_ACCOUNTS[1]} in {REGION} still runs" in capsys.readouterr().err
    for account in OTHER_ACCOUNTS:
        described = (
            admin_session(account).client("logs").describe_subscription_filters(logGroupName=OURS)
        )
        assert [f["filterName"] for f in described["subscriptionFilters"]] == [FILTER_NAME]


def test_log_groups_without_filters_by_class_are_no_problem_for_unsubscribe(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.create_log_groups("/app/archive", log_class="INFREQUENT_ACCESS")

    assert cli.main(["unsubscribe"]) == 0
    out = capsys.readouterr().out
    assert "Not covered by log class" not in out
    assert out.splitlines()[-1] == "Summary: 1 unsupported-class in 1 account-region(s)."
