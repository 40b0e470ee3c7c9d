"""`audit` trusts the logging side, not the audited account: destinations from the operator or
the logging stack, account policies and log classes reported as they are, and a trail of
management events required for drift repair."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from central_logging.cli import main
from handlers import core
from tests.cli.conftest import MANAGEMENT_ACCOUNT
from tests.handlers.harness import (
    DESTINATION_ARN,
    FILTER_NAME,
    LOGGING_ACCOUNT,
    MEMBER_ACCOUNT,
    OUTSIDER_ACCOUNT,
    REGION,
    FakeAws,
    admin_session,
)

# A destination the member admin made in an account of their own.
OWN_DESTINATION_ARN = f"arn:aws:logs:{REGION}:{OUTSIDER_ACCOUNT}:destination:Mine"
NO_TRAIL = (
    "no CloudTrail trail records this region's CloudWatch Logs management events: new log "
    "groups wait for the scheduled sweep, and filters deleted or changed are not put back "
    "until then"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert err == ""
    return code, json.loads(out)


def by_group(document: dict[str, Any]) -> dict[str | None, tuple[str, str]]:
    return {g["logGroup"]: (g["outcome"], g["detail"]) for g in document["logGroups"]}


@pytest.fixture
def redirected(aws: FakeAws) -> FakeAws:
    """The attack: the member admin points the SSM parameter at a destination of their own and
    moves the filters there."""
    outsider = admin_session(OUTSIDER_ACCOUNT).client("logs", region_name=REGION)
    outsider.put_destination(
        destinationName="Mine",
        targetArn=f"arn:aws:kinesis:{REGION}:{OUTSIDER_ACCOUNT}:stream/mine",
        roleArn=f"arn:aws:iam::{OUTSIDER_ACCOUNT}:role/mine",
    )
    outsider.put_destination_policy(
        destinationName="Mine",
        accessPolicy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": MEMBER_ACCOUNT},
                        "Action": "logs:PutSubscriptionFilter",
                        "Resource": OWN_DESTINATION_ARN,
                    }
                ],
            }
        ),
    )
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=core.DESTINATION_PARAMETER, Value=OWN_DESTINATION_ARN, Type="String"
    )
    aws.create_log_groups("/app/orders", "/app/payments")
    for group in ("/app/orders", "/app/payments"):
        aws.put_filter(group, FILTER_NAME, OWN_DESTINATION_ARN)
    return aws


def test_a_parameter_naming_another_account_is_a_finding_not_coverage(
    redirected: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = run(capsys, "audit", "--logging-account", LOGGING_ACCOUNT)

    assert code == 1
    assert by_group(document) == {
        None: (
            "failed",
            f"SSM parameter {core.DESTINATION_PARAMETER} names {OWN_DESTINATION_ARN}, not a "
            f"destination of the logging account {LOGGING_ACCOUNT}: not audited against it",
        )
    }


@pytest.mark.parametrize("source", ["--destination-arn", "--logging-outputs"])
def test_a_destination_from_the_logging_side_shows_the_filters_moved_away(
    redirected: FakeAws, capsys: pytest.CaptureFixture[str], tmp_path: Path, source: str
) -> None:
    outputs = tmp_path / "logging-outputs.json"
    outputs.write_text(json.dumps({"destinationArns": {REGION: DESTINATION_ARN}}))
    value = DESTINATION_ARN if source == "--destination-arn" else str(outputs)

    code, document = run(capsys, "audit", source, value)

    assert code == 1
    assert document["summary"] == {"not-subscribed": 2}


def test_logging_outputs_may_be_given_as_json_itself(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.create_log_groups("/app/orders")
    aws.put_filter("/app/orders", FILTER_NAME, DESTINATION_ARN)
    outputs = json.dumps({"destinationArns": {REGION: DESTINATION_ARN}, "bucketName": "b"})

    assert run(capsys, "audit", "--logging-outputs", outputs) == (
        0,
        {
            "summary": {"already-subscribed": 1},
            "logGroups": [
                {
                    "account": MEMBER_ACCOUNT,
                    "region": REGION,
                    "logGroup": "/app/orders",
                    "outcome": "already-subscribed",
                    "detail": f"filter {FILTER_NAME!r} already delivers to {DESTINATION_ARN} "
                    "(no sender role)",
                }
            ],
        },
    )


def test_a_decoy_filter_with_a_role_that_cannot_deliver_is_not_coverage(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.create_log_groups("/app/orders")
    powerless = f"arn:aws:iam::{MEMBER_ACCOUNT}:role/cannot-deliver"
    aws.put_filter("/app/orders", "decoy", DESTINATION_ARN, powerless)

    code, document = run(capsys, "audit", "--destination-arn", DESTINATION_ARN)

    assert code == 1
    assert by_group(document)["/app/orders"][0] == "not-subscribed"


def put_account_policy(pattern: str = "", excluded: list[str] | None = None) -> None:
    arguments: dict[str, Any] = {
        "policyName": FILTER_NAME,
        "policyType": "SUBSCRIPTION_FILTER_POLICY",
        "scope": "ALL",
        "policyDocument": json.dumps(
            {"DestinationArn": DESTINATION_ARN, "FilterPattern": pattern, "Distribution": "Random"}
        ),
    }
    if excluded:
        arguments["selectionCriteria"] = f"LogGroupName NOT IN {json.dumps(excluded)}"
    boto3.client("logs", region_name=REGION).put_account_policy(**arguments)


def test_log_groups_the_account_policy_covers_are_reported_so_and_get_no_second_filter(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.create_log_groups("/app/orders", "/app/excluded-from-policy")
    put_account_policy(excluded=["/app/excluded-from-policy"])
    covered = (
        "already-subscribed",
        f"account policy {FILTER_NAME!r} delivers it to {DESTINATION_ARN} exactly as configured",
    )

    code, audit = run(capsys, "audit", "--destination-arn", DESTINATION_ARN)

    assert code == 1
    assert by_group(audit)["/app/orders"] == covered
    assert by_group(audit)["/app/excluded-from-policy"][0] == "not-subscribed"

    code, backfill = run(capsys, "backfill", "--destination-arn", DESTINATION_ARN)

    assert code == 0
    assert by_group(backfill)["/app/orders"] == covered
    assert aws.filters("/app/orders") == {}  # no second copy of every event
    assert aws.filters("/app/excluded-from-policy") == {FILTER_NAME: DESTINATION_ARN}


def test_an_account_policy_not_as_configured_covers_nothing(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.create_log_groups("/app/orders")
    put_account_policy(pattern="NEVER")

    code, document = run(capsys, "backfill", "--destination-arn", DESTINATION_ARN)

    assert (code, document["summary"]) == (0, {"subscribed": 1})
    assert aws.filters("/app/orders") == {FILTER_NAME: DESTINATION_ARN}


def cloudtrail(account: str = MEMBER_ACCOUNT) -> Any:
    return admin_session(account).client("cloudtrail", region_name=REGION)


def test_the_organisation_trail_counts_in_every_member_account(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    # The conftest's organisation trail lives in the management account.
    trails = cloudtrail().describe_trails(includeShadowTrails=True)["trailList"]
    assert [t["TrailARN"].split(":")[4] for t in trails] == [MANAGEMENT_ACCOUNT]

    assert run(capsys, "audit", "--destination-arn", DESTINATION_ARN) == (
        0,
        {"summary": {}, "logGroups": []},
    )


def without_organisation_trail() -> None:
    cloudtrail(MANAGEMENT_ACCOUNT).delete_trail(Name="organization")


@pytest.mark.parametrize(
    "trail",
    [
        "none",
        "stopped",
        "single-region elsewhere",
        "read-only events",
        "logs left out",
    ],
)
def test_an_account_region_without_a_trail_of_management_events_is_a_finding(
    aws: FakeAws, capsys: pytest.CaptureFixture[str], trail: str
) -> None:
    without_organisation_trail()
    session = admin_session(MEMBER_ACCOUNT)
    if trail == "stopped":
        aws.create_trail(session, "own", logging=False)
    if trail == "single-region elsewhere":
        session.client("s3", region_name="us-east-1").create_bucket(Bucket="own-east")
        east = session.client("cloudtrail", region_name="us-east-1")
        east.create_trail(Name="own-east", S3BucketName="own-east", IsMultiRegionTrail=False)
        east.start_logging(Name="own-east")
    if trail == "read-only events":
        aws.create_trail(session, "own")
        cloudtrail().put_event_selectors(
            TrailName="own",
            EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}],
        )
    if trail == "logs left out":
        aws.create_trail(session, "own")
        cloudtrail().put_event_selectors(
            TrailName="own",
            AdvancedEventSelectors=[
                {
                    "Name": "management but CloudWatch Logs",
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Management"]},
                        {"Field": "eventSource", "NotEquals": ["logs.amazonaws.com"]},
                    ],
                }
            ],
        )

    code, document = run(capsys, "audit", "--destination-arn", DESTINATION_ARN)

    assert code == 1
    assert by_group(document) == {None: ("failed", NO_TRAIL)}


def test_an_own_trail_of_write_management_events_counts(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    without_organisation_trail()
    aws.create_trail(admin_session(MEMBER_ACCOUNT), "own")
    cloudtrail().put_event_selectors(
        TrailName="own",
        AdvancedEventSelectors=[
            {
                "Name": "write management events",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "readOnly", "Equals": ["false"]},
                ],
            }
        ],
    )

    assert run(capsys, "audit", "--destination-arn", DESTINATION_ARN)[0] == 0
