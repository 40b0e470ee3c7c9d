"""`central-logging backfill` and `audit` against moto: outcomes, report, exit codes."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from moto.logs.exceptions import LogsClientError
from moto.logs.models import LogsBackend
from moto.sts.exceptions import STSClientError
from moto.sts.models import STSBackend

from central_logging.cli import main
from components.policies import destination_access_policy
from tests.aws_env import no_credentials
from tests.cli.conftest import OTHER_ACCOUNTS
from tests.handlers.harness import (
    DESTINATION_ARN,
    DESTINATION_NAME,
    FILTER_NAME,
    LEGACY_FILTER_NAME,
    LOGGING_ACCOUNT,
    MEMBER_ACCOUNT,
    REGION,
    SENDER_ROLE_ARN,
    FakeAws,
    admin_session,
)

COVERED = "/app/covered"
COVERED_BY_OTHER = "/app/covered-by-other-team"
NEW = "/app/new"
LEGACY = "/app/legacy"
FULL = "/app/full"
EXCLUDED = "/firehose/delivery-errors"
SELECTION = ["--exclude", "/firehose/*", "--replace-filter", LEGACY_FILTER_NAME]
# What audit trusts when it reads the destination from the audited account's SSM parameter.
TRUSTED = ["--logging-account", LOGGING_ACCOUNT]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *argv, "--json")
    assert err == ""
    return code, json.loads(out)


def outcomes(document: dict[str, Any]) -> dict[str, str]:
    return {g["logGroup"]: g["outcome"] for g in document["logGroups"]}


@pytest.fixture
def mix(aws: FakeAws) -> FakeAws:
    """One log group of each kind; the full one holds two filters of other owners."""
    aws.create_log_groups(COVERED, COVERED_BY_OTHER, NEW, LEGACY, FULL, EXCLUDED)
    aws.put_filter(COVERED, FILTER_NAME, DESTINATION_ARN)
    aws.put_filter(COVERED_BY_OTHER, "other-team", DESTINATION_ARN)
    aws.put_filter(LEGACY, LEGACY_FILTER_NAME, DESTINATION_ARN)
    aws.create_foreign_filter(FULL, "siem")
    aws.create_foreign_filter(FULL, "metrics")
    aws.destinations.put_attempts.clear()
    return aws


@pytest.mark.usefixtures("ssm_destination")
def test_backfill_subscribes_what_needs_it_and_reports_the_rest(
    mix: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = report(capsys, "backfill", *SELECTION)

    assert code == 1  # the full log group remains a gap
    assert outcomes(document) == {
        COVERED: "already-subscribed",
        COVERED_BY_OTHER: "already-subscribed",
        NEW: "subscribed",
        LEGACY: "updated",
        FULL: "limit-exceeded",
        EXCLUDED: "excluded",
    }
    assert document["summary"] == {
        "already-subscribed": 2,
        "subscribed": 1,
        "updated": 1,
        "limit-exceeded": 1,
        "excluded": 1,
    }
    for group in document["logGroups"]:
        assert set(group) == {"account", "region", "logGroup", "outcome", "detail"}
        assert (group["account"], group["region"]) == (MEMBER_ACCOUNT, REGION)
    full = next(g for g in document["logGroups"] if g["logGroup"] == FULL)
    assert "'siem'" in full["detail"] and "'metrics'" in full["detail"]
    assert mix.filters(NEW) == {FILTER_NAME: DESTINATION_ARN}
    assert mix.filters(LEGACY) == {FILTER_NAME: DESTINATION_ARN}
    assert set(mix.filters(FULL)) == {"siem", "metrics"}
    assert mix.filters(EXCLUDED) == {}
    # No write was spent on a covered or excluded log group.
    assert {p.log_group for p in mix.destinations.put_attempts} == {NEW, LEGACY, FULL}


@pytest.mark.usefixtures("ssm_destination")
def test_a_second_backfill_writes_nothing_and_exits_0(
    mix: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    mix.logs.delete_log_group(logGroupName=FULL)
    assert report(capsys, "backfill", *SELECTION)[0] == 0
    mix.destinations.put_attempts.clear()

    code, document = report(capsys, "backfill", *SELECTION)

    assert code == 0
    assert mix.destinations.put_attempts == []
    assert document["summary"] == {"already-subscribed": 4, "excluded": 1}


@pytest.mark.usefixtures("ssm_destination")
def test_dry_run_writes_nothing_and_says_what_it_would_do(
    mix: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = report(capsys, "backfill", "--dry-run", *SELECTION)

    assert code == 1
    assert mix.destinations.put_attempts == []
    assert mix.filters(NEW) == {}
    assert mix.filters(LEGACY) == {LEGACY_FILTER_NAME: DESTINATION_ARN}
    details = {g["logGroup"]: (g["outcome"], g["detail"]) for g in document["logGroups"]}
    assert details[NEW] == (
        "not-subscribed",
        f"would put filter {FILTER_NAME!r} (no sender role)",
    )
    assert details[LEGACY] == (
        "not-subscribed",
        f"would delete filter {LEGACY_FILTER_NAME!r}, then put filter {FILTER_NAME!r} "
        "(no sender role)",
    )


@pytest.mark.usefixtures("ssm_destination")
def test_audit_names_every_gap_and_writes_nothing(
    mix: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = report(capsys, "audit", *SELECTION, *TRUSTED)

    assert code == 1
    assert mix.destinations.put_attempts == []
    assert outcomes(document) == {
        COVERED: "already-subscribed",
        COVERED_BY_OTHER: "already-subscribed",
        NEW: "not-subscribed",
        LEGACY: "not-subscribed",
        FULL: "limit-exceeded",
        EXCLUDED: "excluded",
    }
    full = next(g for g in document["logGroups"] if g["logGroup"] == FULL)
    assert "'siem'" in full["detail"] and "'metrics'" in full["detail"]


@pytest.mark.usefixtures("ssm_destination")
def test_audit_exits_0_once_everything_is_covered(
    mix: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    mix.logs.delete_log_group(logGroupName=FULL)
    report(capsys, "backfill", *SELECTION)

    code, document = report(capsys, "audit", *SELECTION, *TRUSTED)

    assert code == 0
    assert document["summary"] == {"already-subscribed": 4, "excluded": 1}


@pytest.mark.usefixtures("ssm_destination")
def test_human_output_lists_the_problem_groups_and_a_summary(
    mix: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "audit", *SELECTION, *TRUSTED)

    assert code == 1
    assert err == ""  # no progress when stderr is not a terminal
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [
        f"{MEMBER_ACCOUNT} {REGION} {FULL}",
        f"{MEMBER_ACCOUNT} {REGION} {LEGACY}",
        f"{MEMBER_ACCOUNT} {REGION} {NEW}",
    ]
    assert lines[-1] == (
        "Summary: 2 already-subscribed, 1 excluded, 1 limit-exceeded, 2 not-subscribed "
        "in 1 account-region(s)."
    )


@pytest.mark.usefixtures("ssm_destination")
def test_progress_goes_to_a_terminal(
    mix: FakeAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    main(["audit", *SELECTION, *TRUSTED])
    assert "6/6 log groups" in terminal.getvalue()
    assert f"{MEMBER_ACCOUNT}/{REGION} 6/6" in terminal.getvalue()
    assert "ETA" in terminal.getvalue()


@pytest.mark.parametrize("command", ["backfill", "audit"])
def test_log_groups_of_classes_without_filters_are_uncovered_by_class(
    aws: FakeAws, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    aws.create_log_groups(COVERED)
    aws.put_filter(COVERED, FILTER_NAME, DESTINATION_ARN)
    aws.create_log_groups("/app/archive", log_class="INFREQUENT_ACCESS")
    aws.create_log_groups("/aws/vendedlogs/delivery", log_class="DELIVERY")
    aws.create_log_groups("/app/essentials", log_class="ESSENTIALS")
    aws.destinations.put_attempts.clear()
    describe = LogsBackend.describe_subscription_filters
    described: list[str] = []

    def recorded(backend: LogsBackend, log_group_name: str) -> Any:
        described.append(log_group_name)
        return describe(backend, log_group_name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LogsBackend, "describe_subscription_filters", recorded)
        code, out, err = run(capsys, command, "--destination-arn", DESTINATION_ARN)

    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f"{MEMBER_ACCOUNT} {REGION} /app/archive: unsupported-class: log class "
        "INFREQUENT_ACCESS takes no subscription filters; only STANDARD does",
        f"{MEMBER_ACCOUNT} {REGION} /app/essentials: unsupported-class: log class "
        "ESSENTIALS takes no subscription filters; only STANDARD does",
        f"{MEMBER_ACCOUNT} {REGION} /aws/vendedlogs/delivery: unsupported-class: log class "
        "DELIVERY takes no subscription filters; only STANDARD does",
        "Not covered by log class: DELIVERY 1, ESSENTIALS 1, INFREQUENT_ACCESS 1.",
        "Summary: 1 already-subscribed, 3 unsupported-class in 1 account-region(s).",
    ]
    # No filter call on a known class without filters; one on the class the CLI does not know.
    assert sorted(described) == [COVERED, "/app/essentials"]
    assert aws.destinations.put_attempts == []

    # Classes accepted as uncovered by choice; one left out still makes the run exit 1.
    allowed = ["--allow-class", "INFREQUENT_ACCESS", "--allow-class", "DELIVERY"]
    code, out, _ = run(capsys, command, "--destination-arn", DESTINATION_ARN, *allowed)
    assert code == 1
    assert (
        "Not covered by log class: DELIVERY 1 (allowed), ESSENTIALS 1, INFREQUENT_ACCESS 1 (allowed)."
        in out
    )
    code, _, _ = run(
        capsys,
        command,
        "--destination-arn",
        DESTINATION_ARN,
        *allowed,
        "--allow-class",
        "ESSENTIALS",
    )
    assert code == 0


def test_an_unreadable_log_group_is_failed_and_the_others_still_done(
    aws: FakeAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.create_log_groups("/app/secret", NEW)
    describe = LogsBackend.describe_subscription_filters

    def denied(backend: LogsBackend, log_group_name: str) -> Any:
        if log_group_name == "/app/secret":
            raise LogsClientError("AccessDeniedException", "not for you")
        return describe(backend, log_group_name)

    monkeypatch.setattr(LogsBackend, "describe_subscription_filters", denied)

    code, document = report(capsys, "backfill", "--destination-arn", DESTINATION_ARN)

    assert code == 1
    assert outcomes(document) == {"/app/secret": "failed", NEW: "subscribed"}
    secret = next(g for g in document["logGroups"] if g["logGroup"] == "/app/secret")
    assert secret["detail"] == "AccessDeniedException: not for you"


# moto's STS model has no shape for AccessDenied; botocore still parses the code.
@pytest.mark.filterwarnings("ignore:Exception\\(STSClientError\\)")
def test_fan_out_covers_every_account_and_reports_one_that_cannot_be_assumed(
    aws: FakeAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reachable, unreachable = OTHER_ACCOUNTS
    logs = {a: admin_session(a).client("logs") for a in (MEMBER_ACCOUNT, *OTHER_ACCOUNTS)}
    for account, client in logs.items():
        client.create_log_group(logGroupName=f"/app/{account}")
    assume_role = STSBackend.assume_role

    def refuse(backend: STSBackend, **kwargs: Any) -> Any:
        if f"::{unreachable}:" in kwargs["role_arn"]:
            raise STSClientError("AccessDenied", "not authorized to perform: sts:AssumeRole")
        return assume_role(backend, **kwargs)

    monkeypatch.setattr(STSBackend, "assume_role", refuse)

    code, document = report(
        capsys,
        "backfill",
        "--destination-arn",
        DESTINATION_ARN,
        "--accounts",
        MEMBER_ACCOUNT,
        reachable,
        unreachable,
        "--assume-role",
        "central-logging-operator",
    )

    assert code == 1
    assert document["logGroups"] == [
        {
            "account": MEMBER_ACCOUNT,
            "region": REGION,
            "logGroup": f"/app/{MEMBER_ACCOUNT}",
            "outcome": "subscribed",
            "detail": f"put filter {FILTER_NAME!r}",
        },
        {
            "account": reachable,
            "region": REGION,
            "logGroup": f"/app/{reachable}",
            "outcome": "subscribed",
            "detail": f"put filter {FILTER_NAME!r}",
        },
        {
            "account": unreachable,
            "region": REGION,
            "logGroup": None,
            "outcome": "failed",
            "detail": "could not assume role 'central-logging-operator': "
            "AccessDenied: not authorized to perform: sts:AssumeRole",
        },
    ]
    for account, client in logs.items():
        filters = client.describe_subscription_filters(logGroupName=f"/app/{account}")
        names = [f["filterName"] for f in filters["subscriptionFilters"]]
        assert names == ([] if account == unreachable else [FILTER_NAME])


BAD_ARN = "arn:aws:logs:eu-west-1:222222222222:log-group:central"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["backfill", "--destination-arn", BAD_ARN],
            "--destination-arn must be the ARN of a CloudWatch Logs destination, "
            f"arn:aws:logs:REGION:ACCOUNT:destination:NAME; got {BAD_ARN!r}.",
        ),
        (
            ["audit", "--destination-arn", DESTINATION_ARN, "--region", "us-east-1"],
            "No --destination-arn covers region us-east-1.",
        ),
        (
            ["audit", "--region", "us-east-1", *TRUSTED],
            "Region us-east-1 has no destination: SSM parameter "
            "/central-logging/destination-arn is missing there; pass --destination-arn.",
        ),
        (
            ["backfill", "--accounts", "444444444444"],
            "--assume-role goes with --accounts or --organization, and they with it.",
        ),
        (["audit", "--dry-run"], "Unrecognized arguments: --dry-run."),
        (
            ["audit", "--region", REGION],
            "Audit trusts only the logging side: pass --destination-arn, --logging-outputs or "
            "--logging-account (the audited account's own SSM parameter cannot vouch for itself).",
        ),
        (
            ["audit", "--destination-arn", DESTINATION_ARN, "--logging-account", "111111111111"],
            f"Destination account {LOGGING_ACCOUNT} is not the logging account 111111111111: "
            "every destination must be in the one logging account.",
        ),
        (
            ["audit", "--logging-account", "12345"],
            "--logging-account takes a 12-digit account ID; got '12345'.",
        ),
        (
            ["audit", *TRUSTED, "--allow-class", "infrequent access"],
            "--allow-class takes a log class name such as INFREQUENT_ACCESS; "
            "got 'infrequent access'.",
        ),
        (
            ["audit", "--logging-outputs", '{"bucketName": "archive"}'],
            "--logging-outputs must be the logging stack's outputs as JSON (pulumi stack output "
            "--json) with destinationArns, an object of region to destination ARN.",
        ),
        (
            ["audit", "--logging-outputs", "/nonexistent/outputs.json"],
            "--logging-outputs could not be read: No such file or directory.",
        ),
        (
            ["audit", "--logging-outputs", "{}", "--destination-arn", DESTINATION_ARN],
            "Give --destination-arn or --logging-outputs, not both.",
        ),
    ],
)
@pytest.mark.usefixtures("ssm_destination")
def test_bad_usage_exits_2_with_one_sentence(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run(capsys, *argv) == (2, "", f"central-logging: {message}\n")


@pytest.mark.usefixtures("aws")
def test_no_credentials_exits_2_with_one_sentence(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    no_credentials(monkeypatch)

    assert run(capsys, "audit", "--destination-arn", DESTINATION_ARN) == (
        2,
        "",
        "central-logging: No AWS credentials found; configure the standard credential chain "
        "or pass --profile.\n",
    )


def test_a_malformed_destination_is_reported_before_missing_credentials(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    no_credentials(monkeypatch)

    code, out, err = run(capsys, "audit", "--region", "eu-west-1", "--destination-arn", "bad")

    assert (code, out) == (2, "")
    assert "--destination-arn" in err and "bad" in err and "credentials" not in err


def test_a_missing_profile_exits_2(aws: FakeAws, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "audit", "--profile", "nope") == (
        2,
        "",
        "central-logging: The AWS profile 'nope' does not exist.\n",
    )


def test_organization_fans_out_over_its_active_accounts(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    organizations = boto3.client("organizations", region_name=REGION)
    organizations.create_organization(FeatureSet="ALL")
    member = organizations.create_account(Email="m@example.com", AccountName="member")
    account = member["CreateAccountStatus"]["AccountId"]
    accounts = [a["Id"] for a in organizations.list_accounts()["Accounts"]]
    assert sorted(accounts) == sorted([MEMBER_ACCOUNT, account])
    aws.set_destination_policy(destination_access_policy(DESTINATION_ARN, None, accounts))
    for each in accounts:
        admin_session(each).client("logs").create_log_group(logGroupName="/app/x")

    code, document = report(
        capsys,
        "backfill",
        "--destination-arn",
        DESTINATION_ARN,
        "--organization",
        "--assume-role",
        "central-logging-operator",
        "--role-arn",
        SENDER_ROLE_ARN,
    )

    assert code == 0
    assert sorted((g["account"], g["outcome"]) for g in document["logGroups"]) == sorted(
        (each, "subscribed") for each in accounts
    )
    # Each account's filter passes the sender role of the same name in that account.
    filters = (
        admin_session(account)
        .client("logs")
        .describe_subscription_filters(logGroupName="/app/x")["subscriptionFilters"]
    )
    assert [f.get("roleArn") for f in filters] == [SENDER_ROLE_ARN.replace(MEMBER_ACCOUNT, account)]


def test_each_destination_arn_covers_its_own_region(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    other_region = "us-east-1"
    other_arn = DESTINATION_ARN.replace(REGION, other_region)
    logging_logs = admin_session(LOGGING_ACCOUNT).client("logs", region_name=other_region)
    logging_logs.put_destination(
        destinationName=DESTINATION_NAME,
        targetArn=f"arn:aws:firehose:{other_region}:{LOGGING_ACCOUNT}:deliverystream/central",
        roleArn=f"arn:aws:iam::{LOGGING_ACCOUNT}:role/central-logging-destination",
    )
    logging_logs.put_destination_policy(
        destinationName=DESTINATION_NAME,
        accessPolicy=json.dumps(destination_access_policy(other_arn, None, [MEMBER_ACCOUNT])),
    )
    aws.create_log_groups("/app/here")
    boto3.client("logs", region_name=other_region).create_log_group(logGroupName="/app/there")

    code, document = report(
        capsys, "backfill", "--destination-arn", DESTINATION_ARN, "--destination-arn", other_arn
    )

    assert code == 0
    assert sorted((g["region"], g["logGroup"], g["outcome"]) for g in document["logGroups"]) == [
        (REGION, "/app/here", "subscribed"),
        (other_region, "/app/there", "subscribed"),
    ]
    there = boto3.client("logs", region_name=other_region).describe_subscription_filters(
        logGroupName="/app/there"
    )["subscriptionFilters"]
    assert [f["destinationArn"] for f in there] == [other_arn]
