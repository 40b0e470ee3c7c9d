"""backfill and audit as an operator meets them: the sender role and the exclusions of the member
stack, outcomes that say what went wrong, refreshing role credentials."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.organizations.models import OrganizationsBackend
from moto.sts.models import STSBackend

from central_logging.cli import main
from components.policies import destination_access_policy
from handlers import core
from tests.handlers.harness import (
    DESTINATION_ARN,
    DESTINATION_NAME,
    FILTER_NAME,
    LOGGING_ACCOUNT,
    MEMBER_ACCOUNT,
    ORGANIZATION_ID,
    REGION,
    SENDER_ROLE_ARN,
    FakeAws,
    admin_session,
)

DELIVERY_LOG_GROUP = f"/aws/kinesisfirehose/{DESTINATION_NAME}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert err == ""
    return code, json.loads(out)


def by_group(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {g["logGroup"]: (g["outcome"], g["detail"]) for g in document["logGroups"]}


def put_parameter(name: str, value: str) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(Name=name, Value=value, Type="String")


@pytest.fixture
def member_parameters(aws: FakeAws) -> None:
    """Both SSM parameters the member stack writes in its region."""
    put_parameter(core.DESTINATION_PARAMETER, DESTINATION_ARN)
    put_parameter(core.SENDER_ROLE_PARAMETER, SENDER_ROLE_ARN)


@pytest.mark.usefixtures("member_parameters")
def test_audit_and_backfill_pass_the_sender_role_the_member_stack_wrote(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    # An organisation-wide destination: AWS refuses any put without the sender role.
    aws.set_destination_policy(destination_access_policy(DESTINATION_ARN, ORGANIZATION_ID, []))
    aws.create_log_groups("/app/by-the-lambda", "/app/new")
    aws.put_filter("/app/by-the-lambda", FILTER_NAME, DESTINATION_ARN, role_arn=SENDER_ROLE_ARN)
    aws.destinations.put_attempts.clear()

    code, audit = run(capsys, "audit", "--logging-account", LOGGING_ACCOUNT)

    assert code == 1
    assert by_group(audit) == {
        "/app/by-the-lambda": (
            "already-subscribed",
            f"filter {FILTER_NAME!r} already delivers to {DESTINATION_ARN} "
            f"(sender role {SENDER_ROLE_ARN})",
        ),
        "/app/new": (
            "not-subscribed",
            f"would put filter {FILTER_NAME!r} (sender role {SENDER_ROLE_ARN})",
        ),
    }

    code, backfill = run(capsys, "backfill")

    assert code == 0
    assert by_group(backfill)["/app/new"][0] == "subscribed"
    assert aws.filter("/app/new", FILTER_NAME).get("roleArn") == SENDER_ROLE_ARN
    assert [p.log_group for p in aws.destinations.put_attempts] == ["/app/new"]


@pytest.mark.usefixtures("member_parameters")
def test_role_arn_given_wins_over_the_parameter(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    other_role = SENDER_ROLE_ARN.replace("central-sender", "other-sender")
    aws.create_log_groups("/app/new")

    assert run(capsys, "backfill", "--role-arn", other_role)[0] == 0
    assert aws.filter("/app/new", FILTER_NAME).get("roleArn") == other_role


def test_backfill_in_the_logging_account_never_subscribes_the_delivery_log_group(
    aws: FakeAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.set_destination_policy(
        destination_access_policy(DESTINATION_ARN, None, [MEMBER_ACCOUNT, LOGGING_ACCOUNT])
    )
    logging_account = admin_session(LOGGING_ACCOUNT)
    for name in (DELIVERY_LOG_GROUP, "/app/logging"):
        logging_account.client("logs").create_log_group(logGroupName=name)
    # A member account's group of the same name is no delivery path: it is subscribed.
    aws.create_log_groups(DELIVERY_LOG_GROUP)
    credentials = logging_account.get_credentials().get_frozen_credentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token or "")

    code, document = run(capsys, "backfill", "--destination-arn", DESTINATION_ARN)

    assert code == 0
    assert by_group(document) == {
        DELIVERY_LOG_GROUP: ("excluded", f"matches exclude pattern {DELIVERY_LOG_GROUP!r}"),
        "/app/logging": ("subscribed", f"put filter {FILTER_NAME!r}"),
    }
    assert {g["account"] for g in document["logGroups"]} == {LOGGING_ACCOUNT}

    # The same run in the member account (moto's default credentials).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    code, member = run(capsys, "backfill", "--destination-arn", DESTINATION_ARN)
    assert by_group(member)[DELIVERY_LOG_GROUP][0] == "subscribed"


def test_a_missing_destination_fails_every_put_and_the_backfill(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = DESTINATION_ARN.replace(DESTINATION_NAME, "Deleted")
    aws.create_log_groups("/app/a", "/app/b")

    code, document = run(capsys, "backfill", "--destination-arn", gone)

    assert code == 1
    assert document["summary"] == {"failed": 2}
    assert {detail for _, detail in by_group(document).values()} == {
        "ResourceNotFoundException: The specified destination does not exist."
    }


def test_a_log_group_deleted_before_its_put_is_not_found(
    aws: FakeAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.create_log_groups("/app/short-lived", "/app/stays")
    describe = core.describe_filters

    def describe_then_delete(client: Any, log_group: str) -> Any:
        filters = describe(client, log_group)
        if log_group == "/app/short-lived":
            aws.logs.delete_log_group(logGroupName=log_group)
        return filters

    monkeypatch.setattr("central_logging.sweep.describe_filters", describe_then_delete)

    code, document = run(capsys, "backfill", "--destination-arn", DESTINATION_ARN)

    assert code == 0
    assert by_group(document)["/app/short-lived"][0] == "not-found"
    assert by_group(document)["/app/stays"][0] == "subscribed"


@pytest.mark.usefixtures("member_parameters")
def test_dry_run_and_audit_say_the_same_about_full_slots(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.create_log_groups("/app/full")
    aws.create_foreign_filter("/app/full", "siem")
    aws.create_foreign_filter("/app/full", "metrics")

    audit = by_group(run(capsys, "audit", "--logging-account", LOGGING_ACCOUNT)[1])["/app/full"]
    dry_run = by_group(run(capsys, "backfill", "--dry-run")[1])["/app/full"]

    assert audit == dry_run
    assert audit[0] == "limit-exceeded"
    assert "'siem'" in audit[1] and "'metrics'" in audit[1]


def test_an_organization_without_active_accounts_is_one_sentence(
    aws: FakeAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("organizations", region_name=REGION).create_organization(FeatureSet="ALL")
    monkeypatch.setattr(OrganizationsBackend, "list_accounts", lambda self, **_: ([], None))

    code = main(
        ["audit", "--destination-arn", DESTINATION_ARN, "--organization", "--assume-role", "ops"]
    )

    assert code == 2
    assert capsys.readouterr() == (
        "",
        "central-logging: --organization found no active account in the organization.\n",
    )


def test_assumed_role_credentials_are_refreshed_before_they_expire(
    aws: FakeAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    account = "444444444444"
    logs = admin_session(account).client("logs")
    for index in range(3):
        logs.create_log_group(logGroupName=f"/app/{index}")
    sessions: list[str] = []
    assume_role = STSBackend.assume_role

    def short_lived(backend: STSBackend, **kwargs: Any) -> Any:
        role = assume_role(backend, **kwargs)
        if kwargs["role_session_name"] == "central-logging":
            sessions.append(kwargs["role_arn"])
            # Expiring within botocore's refresh window: every use asks for new credentials.
            role.expiration = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=5)
        return role

    monkeypatch.setattr(STSBackend, "assume_role", short_lived)

    code, document = run(
        capsys,
        "backfill",
        "--destination-arn",
        DESTINATION_ARN,
        "--accounts",
        account,
        "--assume-role",
        "central-logging-operator",
    )

    assert code == 0
    assert document["summary"] == {"subscribed": 3}
    assert len(sessions) > 1
    assert set(sessions) == {f"arn:aws:iam::{account}:role/central-logging-operator"}


@pytest.mark.usefixtures("member_parameters")
def test_progress_shows_on_a_terminal_also_with_json(
    aws: FakeAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    aws.create_log_groups("/app/a", "/app/b")

    assert main(["audit", "--json", "--logging-account", LOGGING_ACCOUNT]) == 1

    assert "2/2 log groups" in terminal.getvalue()
    assert json.loads(capsys.readouterr().out)["summary"] == {"not-subscribed": 2}
