"""The CLI agrees with the stack (issue 22 item 3): `subscribe`, `audit` and `unsubscribe` use
the settings the member stack wrote (SSM /central-logging/settings) unless flags say
otherwise; `backfill` is `subscribe`'s old name; `audit --summary`; `unsubscribe --dry-run`
names every filter it would delete; --region is checked; --version; every option's help says
its default."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from importlib import metadata
from typing import Any

import boto3
import pytest

from central_logging import cli
from components.config import cli_settings, parse_member
from handlers import core
from tests.handlers.harness import (
    DESTINATION_ARN,
    LEGACY_FILTER_NAME,
    LOGGING_ACCOUNT,
    MEMBER_ACCOUNT,
    REGION,
    FakeAws,
)

STACK_FILTER = "org-logs"
OURS = "/app/ours"
LEGACY = "/app/legacy"
NEW = "/app/new"
NOISY = "/app/noisy-batch"
STACK_CONFIG = {
    "loggingStack": "example-org/central-logging/logging",
    "filterName": STACK_FILTER,
    "excludeLogGroups": json.dumps(["/app/noisy-*"]),
    "replaceFilterNames": json.dumps([LEGACY_FILTER_NAME]),
}


def write_stack_settings(**config: str) -> None:
    """The parameters a member stack of this configuration writes (the same function)."""
    ssm = boto3.client("ssm", region_name=REGION)
    for name, value in cli_settings(parse_member({**STACK_CONFIG, **config}, REGION)):
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    # Audit trusts only the logging side (issue 20): the SSM destination is vouched for by
    # the logging account it must be in.
    trust = ["--logging-account", LOGGING_ACCOUNT] if argv[:1] == ("audit",) else []
    code = cli.main([*argv, *trust])
    out, err = capsys.readouterr()
    return code, out, err


def report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *argv, "--json")
    assert err == ""
    return code, json.loads(out)


def outcomes(document: dict[str, Any]) -> dict[str, str]:
    return {g["logGroup"]: g["outcome"] for g in document["logGroups"]}


@pytest.fixture
def stack(aws: FakeAws, ssm_destination: None) -> FakeAws:
    aws.create_log_groups(OURS, LEGACY, NEW, NOISY)
    aws.put_filter(OURS, STACK_FILTER, DESTINATION_ARN)
    aws.put_filter(LEGACY, LEGACY_FILTER_NAME, DESTINATION_ARN)
    write_stack_settings()
    return aws


def test_audit_without_flags_judges_by_the_stacks_settings(
    stack: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = report(capsys, "audit")

    assert code == 1
    assert outcomes(document) == {
        OURS: "already-subscribed",  # the stack's filter name, not central-logging
        LEGACY: "not-subscribed",  # the stack's replace list: ours to replace
        NEW: "not-subscribed",
        NOISY: "excluded",  # the stack's exclusions
    }
    legacy = next(g for g in document["logGroups"] if g["logGroup"] == LEGACY)
    assert f"would delete filter {LEGACY_FILTER_NAME!r}" in legacy["detail"]


def test_flags_override_the_stacks_settings(
    stack: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = report(capsys, "audit", "--filter-name", "central-logging", "--exclude", "x")

    assert code == 1
    assert outcomes(document) == {
        # org-logs is now another owner's filter: it delivers to the destination, with the
        # pattern asked for, so the log group counts as covered.
        OURS: "already-subscribed",
        LEGACY: "not-subscribed",  # the stack's replace list still applies
        NEW: "not-subscribed",
        NOISY: "not-subscribed",  # --exclude replaced the stack's list
    }
    ours = next(g for g in document["logGroups"] if g["logGroup"] == OURS)
    assert STACK_FILTER in ours["detail"]


@pytest.mark.parametrize("command", ["subscribe", "backfill"])
def test_subscribe_and_its_old_name_put_the_stacks_filter(
    stack: FakeAws, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, document = report(capsys, command)

    assert code == 0
    assert outcomes(document) == {
        OURS: "already-subscribed",
        LEGACY: "updated",
        NEW: "subscribed",
        NOISY: "excluded",
    }
    assert stack.filters(NEW) == {STACK_FILTER: DESTINATION_ARN}
    assert stack.filters(LEGACY) == {STACK_FILTER: DESTINATION_ARN}
    assert stack.filters(NOISY) == {}


def test_subscribe_leaves_an_account_policy_region_alone(
    stack: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    write_stack_settings(subscriptionMode="account-policy", excludeLogGroups='["/app/noisy"]')

    code, out, err = run(capsys, "subscribe")

    assert (code, out) == (2, "")
    assert err == (
        f"central-logging: Account {MEMBER_ACCOUNT} region {REGION} is covered by an "
        "account-level subscription filter policy (subscriptionMode account-policy in SSM "
        "parameter /central-logging/settings); per-log-group filters would deliver its events "
        "twice, so subscribe leaves it alone.\n"
    )
    assert stack.filters(NEW) == {}


def test_unsubscribe_removes_the_stacks_filters_and_its_dry_run_names_each(
    stack: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "unsubscribe", "--dry-run")

    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{MEMBER_ACCOUNT} {REGION} {LEGACY}: already-subscribed: would delete filter "
        f"{LEGACY_FILTER_NAME!r}",
        f"{MEMBER_ACCOUNT} {REGION} {OURS}: already-subscribed: would delete filter "
        f"{STACK_FILTER!r}",
        "Summary: 2 already-subscribed, 2 not-subscribed in 1 account-region(s).",
    ]
    assert stack.filters(OURS) == {STACK_FILTER: DESTINATION_ARN}

    code, document = report(capsys, "unsubscribe")

    assert code == 0
    assert document["summary"] == {"unsubscribed": 2, "not-subscribed": 2}
    assert stack.filters(OURS) == {} and stack.filters(LEGACY) == {}


def test_audit_summary_is_one_line_per_account_region(
    stack: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "audit", "--summary")

    assert (code, err) == (1, "")
    assert out == (
        f"{MEMBER_ACCOUNT} {REGION}: 1 covered, 3 uncovered (1 excluded, 2 not-subscribed)\n"
    )
    code, document = report(capsys, "audit", "--summary")
    assert document == {
        "summary": {"already-subscribed": 1, "not-subscribed": 2, "excluded": 1},
        "accountRegions": [
            {
                "account": MEMBER_ACCOUNT,
                "region": REGION,
                "outcomes": {"already-subscribed": 1, "not-subscribed": 2, "excluded": 1},
            }
        ],
    }


def test_long_exclusions_are_read_along_the_continued_parameters(
    stack: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    many = [f"/app/never-{i:05d}-with-a-rather-long-log-group-name" for i in range(300)]
    # parse_member refuses so long a list for the subscriber function's environment (4 KB,
    # issue 17); the parameters are written past it, as a stack of another mode could need.
    settings = replace(parse_member(STACK_CONFIG, REGION), exclude_log_groups=(*many, NEW))
    ssm = boto3.client("ssm", region_name=REGION)
    for name, value in cli_settings(settings):
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    assert boto3.client("ssm", region_name=REGION).get_parameter(
        Name=f"{core.SETTINGS_PARAMETER}-2"
    )

    _, document = report(capsys, "audit")

    assert outcomes(document)[NEW] == "excluded"  # the last name, in the last parameter


@pytest.mark.parametrize(
    ("value", "sentence"),
    [
        ("not json", "SSM parameter /central-logging/settings is not a JSON object."),
        (
            json.dumps({"filterName": 7, "filterPattern": "", "subscriptionMode": "lambda"}),
            "SSM parameter /central-logging/settings: filterName is missing or not a string.",
        ),
        (
            json.dumps(
                {
                    "filterName": "x",
                    "filterPattern": "",
                    "subscriptionMode": "lambda",
                    "excludeLogGroupsContinuedIn": "/central-logging/settings",
                }
            ),
            "SSM parameter /central-logging/settings: excludeLogGroupsContinuedIn is not a "
            "/central-logging/settings-N parameter.",
        ),
        (
            json.dumps(
                {
                    "filterName": "x",
                    "filterPattern": "",
                    "subscriptionMode": "lambda",
                    "excludeLogGroupsContinuedIn": "/central-logging/settings-2",
                }
            ),
            "SSM parameter /central-logging/settings-2: excludeLogGroupsContinuedIn leads back "
            "or past 1000 parameters.",
        ),
    ],
)
def test_settings_not_as_a_stack_writes_them_stop_with_one_sentence(
    stack: FakeAws, capsys: pytest.CaptureFixture[str], value: str, sentence: str
) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=core.SETTINGS_PARAMETER, Value=value, Type="String", Overwrite=True)
    # A second parameter that leads back to itself: the chain must stop.
    ssm.put_parameter(
        Name=f"{core.SETTINGS_PARAMETER}-2",
        Value=json.dumps(
            {"excludeLogGroups": [], "excludeLogGroupsContinuedIn": f"{core.SETTINGS_PARAMETER}-2"}
        ),
        Type="String",
        Overwrite=True,
    )

    code, out, err = run(capsys, "audit")

    assert (code, out) == (2, "")
    assert err == f"central-logging: Account {MEMBER_ACCOUNT} region {REGION}: {sentence}\n"


@pytest.mark.parametrize("command", ["subscribe", "audit", "unsubscribe"])
def test_a_malformed_region_is_bad_usage(
    aws: FakeAws, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, out, err = run(capsys, command, "--region", "eu-wst-1")

    assert (code, out) == (2, "")
    assert err == (
        "central-logging: --region takes an AWS region name such as eu-west-1; got 'eu-wst-1'.\n"
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"central-logging {metadata.version('central-logging')}\n"


def subcommand(command: str) -> argparse.ArgumentParser:
    """The parser of `command`, its arguments and all, as `central-logging COMMAND` builds it."""
    parser = cli._parser(command)
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[command]


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_options_help_says_its_default(command: str) -> None:
    parser = subcommand(command)
    undocumented = [
        action.option_strings[0]
        for action in parser._actions
        if action.option_strings
        and action.option_strings[0] != "-h"
        and "default" not in (action.help or "")
    ]
    assert undocumented == []
