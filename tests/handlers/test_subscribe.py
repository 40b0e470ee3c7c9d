"""The subscriber Lambda on CreateLogGroup events, under the function's own IAM policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.policies import destination_access_policy
from handlers import subscribe
from tests.handlers.harness import (
    DESTINATION_ARN,
    FILTER_NAME,
    LEGACY_FILTER_NAME,
    MEMBER_ACCOUNT,
    OUTSIDER_ACCOUNT,
    SENDER_ROLE_ARN,
    FakeAws,
    create_log_group_event,
    throttle,
)

pytestmark = pytest.mark.usefixtures("function_env")


def run(aws: FakeAws, event: Any) -> dict[str, Any]:
    with aws.iam.enforced():
        return subscribe.handler(event, None)


def test_a_new_log_group_is_subscribed_through_the_sender_role(aws: FakeAws) -> None:
    aws.create_log_groups("/app/orders")

    result = run(aws, create_log_group_event("/app/orders"))

    assert result == {
        "logGroup": "/app/orders",
        "outcome": "subscribed",
        "detail": f"put filter {FILTER_NAME!r}",
    }
    ours = aws.filter("/app/orders", FILTER_NAME)
    assert (ours["destinationArn"], ours["roleArn"], ours["filterPattern"]) == (
        DESTINATION_ARN,
        SENDER_ROLE_ARN,
        "",
    )


@pytest.mark.parametrize("call", ["DeleteSubscriptionFilter", "PutSubscriptionFilter"])
def test_a_filter_changed_by_someone_else_is_put_back(aws: FakeAws, call: str) -> None:
    """Drift: CloudTrail's record of the call names the group; it is decided as a new one."""
    aws.create_log_groups("/app/orders")
    run(aws, create_log_group_event("/app/orders"))
    aws.logs.delete_subscription_filter(logGroupName="/app/orders", filterName=FILTER_NAME)
    event = create_log_group_event(
        "/app/orders",
        eventName=call,
        requestParameters={"logGroupName": "/app/orders", "filterName": FILTER_NAME},
    )

    result = run(aws, event)

    assert result["outcome"] == "subscribed"
    assert aws.filters("/app/orders") == {FILTER_NAME: DESTINATION_ARN}


def test_a_repeated_event_writes_nothing(aws: FakeAws) -> None:
    aws.create_log_groups("/app/orders")
    run(aws, create_log_group_event("/app/orders"))

    result = run(aws, create_log_group_event("/app/orders"))

    assert result["outcome"] == "already-subscribed"
    assert len(aws.destinations.puts_of(FILTER_NAME)) == 1


def test_a_foreign_filter_is_kept_and_ours_added_beside_it(aws: FakeAws) -> None:
    aws.create_log_groups("/app/orders")
    stream_arn = aws.create_foreign_filter("/app/orders", "security-tool")

    result = run(aws, create_log_group_event("/app/orders"))

    assert result["outcome"] == "subscribed"
    assert aws.filters("/app/orders") == {"security-tool": stream_arn, FILTER_NAME: DESTINATION_ARN}


def test_full_filter_slots_are_reported_at_once_and_foreign_filters_left_alone(
    aws: FakeAws,
) -> None:
    aws.create_log_groups("/app/orders")
    first = aws.create_foreign_filter("/app/orders", "security-tool")
    second = aws.create_foreign_filter("/app/orders", "metrics-tool")

    result = run(aws, create_log_group_event("/app/orders"))

    assert result == {
        "logGroup": "/app/orders",
        "outcome": "limit-exceeded",
        "detail": "every subscription filter slot is taken by filters of other owners: "
        "'security-tool', 'metrics-tool'",
    }
    assert aws.filters("/app/orders") == {"security-tool": first, "metrics-tool": second}
    assert len(aws.destinations.puts_of(FILTER_NAME)) == 1  # refused once, never retried


def test_the_slot_limit_is_whatever_aws_allows(aws: FakeAws) -> None:
    aws.destinations.filter_slots = 3
    aws.create_log_groups("/app/orders")
    aws.create_foreign_filter("/app/orders", "security-tool")
    aws.create_foreign_filter("/app/orders", "metrics-tool")

    result = run(aws, create_log_group_event("/app/orders"))

    assert result["outcome"] == "subscribed"
    assert set(aws.filters("/app/orders")) == {"security-tool", "metrics-tool", FILTER_NAME}


def test_a_legacy_filter_is_replaced_by_ours(aws: FakeAws) -> None:
    aws.create_log_groups("/app/orders")
    foreign = aws.create_foreign_filter("/app/orders", "security-tool")
    aws.put_filter("/app/orders", LEGACY_FILTER_NAME, DESTINATION_ARN, SENDER_ROLE_ARN)

    result = run(aws, create_log_group_event("/app/orders"))

    assert result == {
        "logGroup": "/app/orders",
        "outcome": "updated",
        "detail": f"deleted filter {LEGACY_FILTER_NAME!r}, then put filter {FILTER_NAME!r}",
    }
    assert aws.filters("/app/orders") == {"security-tool": foreign, FILTER_NAME: DESTINATION_ARN}


def test_a_foreign_filter_to_our_destination_counts_as_covered(aws: FakeAws) -> None:
    aws.create_log_groups("/app/orders")
    aws.put_filter("/app/orders", "landing-zone", DESTINATION_ARN, SENDER_ROLE_ARN)

    result = run(aws, create_log_group_event("/app/orders"))

    assert result["outcome"] == "already-subscribed"
    assert "'landing-zone'" in result["detail"]
    assert aws.filters("/app/orders") == {"landing-zone": DESTINATION_ARN}


def test_a_foreign_filter_to_our_destination_with_another_pattern_hides_no_gap(
    aws: FakeAws,
) -> None:
    aws.create_log_groups("/app/orders")
    aws.put_filter("/app/orders", "decoy", DESTINATION_ARN, SENDER_ROLE_ARN, pattern="NEVER")

    result = run(aws, create_log_group_event("/app/orders"))

    assert result["outcome"] == "subscribed"
    assert aws.filters("/app/orders") == {"decoy": DESTINATION_ARN, FILTER_NAME: DESTINATION_ARN}
    assert aws.filter("/app/orders", FILTER_NAME)["filterPattern"] == ""


def test_a_failed_subscription_raises_after_logging_so_lambda_retries_it(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    # The destination now admits another account only: the put is refused.
    aws.set_destination_policy(destination_access_policy(DESTINATION_ARN, None, [OUTSIDER_ACCOUNT]))
    aws.create_log_groups("/app/orders")

    with pytest.raises(RuntimeError) as raised:
        run(aws, create_log_group_event("/app/orders"))

    assert str(raised.value) == (
        "Log group /app/orders was not subscribed: AccessDeniedException: User with accountId: "
        f"{MEMBER_ACCOUNT} is not authorized to perform: logs:PutSubscriptionFilter on "
        f"resource: {DESTINATION_ARN}."
    )
    logged = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (logged["logGroup"], logged["outcome"]) == ("/app/orders", "failed")


def test_an_excluded_log_group_is_read_but_never_written(
    aws: FakeAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXCLUDE_PATTERNS", json.dumps(["/aws/kinesisfirehose/*"]))
    aws.create_log_groups("/aws/kinesisfirehose/central/errors")

    result = run(aws, create_log_group_event("/aws/kinesisfirehose/central/errors"))

    assert result == {
        "logGroup": "/aws/kinesisfirehose/central/errors",
        "outcome": "excluded",
        "detail": "matches exclude pattern '/aws/kinesisfirehose/*'",
    }
    assert aws.iam.actions == ["logs:DescribeSubscriptionFilters"]
    assert aws.filters("/aws/kinesisfirehose/central/errors") == {}


def test_excluding_a_subscribed_log_group_removes_our_filter_and_keeps_others(
    aws: FakeAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = "/aws/kinesisfirehose/central/errors"
    aws.create_log_groups(group)
    run(aws, create_log_group_event(group))
    stream_arn = aws.create_foreign_filter(group, "security-tool")
    monkeypatch.setenv("EXCLUDE_PATTERNS", json.dumps(["/aws/kinesisfirehose/*"]))

    result = run(aws, create_log_group_event(group))

    assert result["outcome"] == "excluded"
    assert result["detail"] == (
        "matches exclude pattern '/aws/kinesisfirehose/*'; deleted filter 'central-logging'"
    )
    assert aws.filters(group) == {"security-tool": stream_arn}


def test_a_log_group_deleted_before_the_handler_runs_is_not_found(aws: FakeAws) -> None:
    result = run(aws, create_log_group_event("/app/short-lived"))

    assert result["logGroup"] == "/app/short-lived"
    assert result["outcome"] == "not-found"


NOT_OUR_CALL = (
    "the event is not a CloudWatch Logs call of CreateLogGroup, PutSubscriptionFilter, "
    "DeleteSubscriptionFilter"
)


@pytest.mark.parametrize(
    ("event", "log_group", "detail"),
    [
        (
            create_log_group_event("/app/orders", errorCode="ResourceAlreadyExistsException"),
            "/app/orders",
            "the call failed with ResourceAlreadyExistsException",
        ),
        (
            create_log_group_event("/app/orders", eventName="DeleteLogGroup"),
            "/app/orders",
            NOT_OUR_CALL,
        ),
        (create_log_group_event(None), None, "the event names no log group"),
        (create_log_group_event(""), None, "the event names no log group"),
        (
            {"detail-type": "Scheduled Event", "detail": {}},
            None,
            NOT_OUR_CALL,
        ),
        ("CreateLogGroup", None, "the event has no CloudTrail detail"),
        ({"detail": ["requestParameters"]}, None, "the event has no CloudTrail detail"),
    ],
)
def test_failed_calls_and_malformed_events_are_ignored_without_any_call(
    aws: FakeAws, event: Any, log_group: str | None, detail: str
) -> None:
    result = run(aws, event)

    assert result == {"logGroup": log_group, "outcome": "ignored", "detail": detail}
    assert aws.iam.actions == []


def test_throttling_is_retried_with_backoff(
    aws: FakeAws, monkeypatch: pytest.MonkeyPatch, backoffs: list[float]
) -> None:
    describes = throttle(monkeypatch, "describe_subscription_filters", times=2)
    puts = throttle(monkeypatch, "put_subscription_filter", times=3)
    aws.create_log_groups("/app/orders")

    result = run(aws, create_log_group_event("/app/orders"))

    assert result["outcome"] == "subscribed"
    assert (describes(), puts()) == (3, 4)
    assert len(backoffs) == 5


def test_the_handler_logs_its_result_as_one_json_line(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.create_log_groups("/app/orders")

    run(aws, create_log_group_event("/app/orders"))

    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["level"], line["logGroup"], line["outcome"]) == (
        "INFO",
        "/app/orders",
        "subscribed",
    )


def test_a_second_filter_to_our_destination_with_a_role_that_cannot_deliver_is_no_cover(
    aws: FakeAws,
) -> None:
    """A member admin's decoy: our destination and pattern, but a role that cannot deliver."""
    aws.create_log_groups("/app/orders")
    powerless = f"arn:aws:iam::{MEMBER_ACCOUNT}:role/cannot-deliver"
    aws.put_filter("/app/orders", "decoy", DESTINATION_ARN, powerless)

    result = run(aws, create_log_group_event("/app/orders"))

    assert result["outcome"] == "subscribed"
    assert aws.filter("/app/orders", FILTER_NAME)["roleArn"] == SENDER_ROLE_ARN
    assert aws.filter("/app/orders", "decoy")["roleArn"] == powerless  # never touched


@pytest.mark.parametrize(
    "altered",
    [
        {"distribution": "Random"},
        {"applyOnTransformedLogs": True},
        {"fieldSelectionCriteria": '@aws.region NOT IN ["eu-west-1"]'},
        {"emitSystemFields": ["@aws.account"]},
    ],
)
def test_our_filter_re_put_with_another_delivery_field_is_repaired(
    aws: FakeAws, altered: dict[str, Any]
) -> None:
    aws.create_log_groups("/app/orders")
    run(aws, create_log_group_event("/app/orders"))
    aws.put_filter("/app/orders", FILTER_NAME, DESTINATION_ARN, SENDER_ROLE_ARN, **altered)
    drift = create_log_group_event(
        "/app/orders",
        eventName="PutSubscriptionFilter",
        requestParameters={"logGroupName": "/app/orders", "filterName": FILTER_NAME, **altered},
    )

    result = run(aws, drift)

    assert result == {
        "logGroup": "/app/orders",
        "outcome": "updated",
        "detail": f"deleted filter {FILTER_NAME!r}, then put filter {FILTER_NAME!r}",
    }
    repaired = aws.filter("/app/orders", FILTER_NAME)
    assert not set(altered) & set(repaired) - {"distribution"}
    assert repaired.get("distribution") == "ByLogStream"
    assert run(aws, drift)["outcome"] == "already-subscribed"


def test_a_log_group_the_account_policy_delivers_gets_no_second_filter(aws: FakeAws) -> None:
    """Every event would arrive twice: once through the account policy, once through ours."""
    aws.create_log_groups("/app/orders")
    policy = aws.put_account_policy()

    result = run(aws, create_log_group_event("/app/orders"))

    assert result == {
        "logGroup": "/app/orders",
        "outcome": "already-subscribed",
        "detail": f"account policy {policy!r} delivers it to {DESTINATION_ARN} exactly as "
        "configured",
    }
    assert aws.filters("/app/orders") == {}
    assert aws.destinations.puts_of(FILTER_NAME) == []


@pytest.mark.parametrize(
    ("log_group", "policy"),
    [
        ("/app/orders", {"excluded": ("/app/orders",)}),
        ("/app/orders", {"destination_arn": DESTINATION_ARN.replace("Central", "Other")}),
    ],
    ids=["left-out-of-the-policy", "policy-to-another-destination"],
)
def test_an_account_policy_that_does_not_deliver_the_group_counts_for_nothing(
    aws: FakeAws, log_group: str, policy: dict[str, Any]
) -> None:
    aws.create_log_groups(log_group)
    aws.put_account_policy(**policy)

    result = run(aws, create_log_group_event(log_group))

    assert result["outcome"] == "subscribed"
    assert aws.filters(log_group) == {FILTER_NAME: DESTINATION_ARN}
