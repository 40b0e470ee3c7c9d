"""The reconcile sweep: every log group of the region, paced, continued across invocations."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from unittest import mock

import boto3
import pytest

from handlers import reconcile
from tests.handlers.harness import (
    DESTINATION_ARN,
    FILTER_NAME,
    FUNCTION_ARN,
    LEGACY_FILTER_NAME,
    SCHEDULED_EVENT,
    SENDER_ROLE_ARN,
    FakeAws,
    FakeContext,
    FakeTime,
    Sweeper,
    member_settings,
)


@pytest.fixture
def sweeper(aws: FakeAws, function_session: boto3.session.Session) -> Sweeper:
    return Sweeper(aws, function_session)


def summaries(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines()]
    return [line for line in lines if line["logger"] == "central_logging.reconcile"]


def test_a_sweep_hands_itself_on_and_covers_every_log_group_exactly_once(
    aws: FakeAws, sweeper: Sweeper, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f"/app/service-{i:04d}" for i in range(1030)]
    aws.create_log_groups(*names)
    start = sweeper.time.now

    first = sweeper.sweep(SCHEDULED_EVENT, seconds=120)

    [continuation] = aws.invocations
    assert (continuation.function_name, continuation.invocation_type) == (FUNCTION_ARN, "Event")
    assert continuation.payload == {
        "cursor": {"nextToken": mock.ANY, "counts": {"subscribed": first["subscribed"]}}
    }
    assert first["subscribed"] % reconcile.PAGE_SIZE == 0
    assert 0 < first["subscribed"] < len(names)

    second = sweeper.sweep(continuation.payload, seconds=900)

    assert second == {"subscribed": len(names)}
    assert len(aws.invocations) == 1
    puts = Counter(put.log_group for put in aws.destinations.puts_of(FILTER_NAME))
    assert puts == Counter(names)
    # PutSubscriptionFilter and DescribeSubscriptionFilters: 5 per second each.
    assert sweeper.time.now - start >= (len(names) - 1) / 5
    assert [
        (s["message"], s["continued"], s["counts"]) for s in summaries(capsys.readouterr().out)
    ] == [
        ("sweep continues", True, first),
        ("sweep finished", False, second),
    ]


def test_a_second_full_sweep_writes_nothing(aws: FakeAws, sweeper: Sweeper) -> None:
    aws.create_log_groups(*(f"/app/service-{i:02d}" for i in range(60)))
    sweeper.sweep(SCHEDULED_EVENT, seconds=900)

    again = sweeper.sweep(SCHEDULED_EVENT, seconds=900)

    assert again == {"already-subscribed": 60}
    assert len(aws.destinations.puts_of(FILTER_NAME)) == 60


def test_the_sweep_adds_no_filter_where_the_account_policy_delivers(
    aws: FakeAws, sweeper: Sweeper
) -> None:
    """The policy is read once per invocation, not per log group; a group it leaves out by
    name is subscribed as any other."""
    covered = [f"/app/service-{i:02d}" for i in range(60)]
    aws.create_log_groups(*covered, "/app/left-out")
    aws.put_account_policy(excluded=("/app/left-out",))

    counts = sweeper.sweep(SCHEDULED_EVENT, seconds=900)

    assert counts == {"already-subscribed": len(covered), "subscribed": 1}
    assert [put.log_group for put in aws.destinations.puts_of(FILTER_NAME)] == ["/app/left-out"]
    assert aws.account_policies.describes == 1


def test_an_account_policy_to_another_destination_does_not_stop_the_sweep(
    aws: FakeAws, sweeper: Sweeper
) -> None:
    aws.create_log_groups("/app/orders")
    aws.put_account_policy(DESTINATION_ARN.replace("Central", "Other"))

    assert sweeper.sweep(SCHEDULED_EVENT, seconds=900) == {"subscribed": 1}
    assert aws.filters("/app/orders") == {FILTER_NAME: DESTINATION_ARN}


def test_every_invocation_makes_progress_however_little_time_it_has(
    aws: FakeAws, sweeper: Sweeper
) -> None:
    aws.create_log_groups(*(f"/app/service-{i:03d}" for i in range(120)))

    first = sweeper.sweep(SCHEDULED_EVENT, seconds=0)
    second = sweeper.sweep(aws.invocations[-1].payload, seconds=0)

    assert (first, second) == ({"subscribed": 50}, {"subscribed": 100})
    assert [i.payload["cursor"]["counts"] for i in aws.invocations] == [first, second]


@pytest.mark.parametrize(
    "cursor",
    [
        "page-2",
        {"nextToken": "", "counts": {}},
        {"nextToken": "page-2"},
        {"nextToken": "page-2", "counts": {"done": 3}},
        {"nextToken": "page-2", "counts": {"subscribed": -1}},
        {"nextToken": "page-2", "counts": {"subscribed": "3"}},
    ],
)
def test_a_malformed_cursor_stops_the_sweep_before_any_call(cursor: Any) -> None:
    logs_client, lambda_client = mock.Mock(), mock.Mock()

    with pytest.raises(ValueError) as raised:
        reconcile.sweep(
            {"cursor": cursor},
            FakeContext(FakeTime(), 900),
            settings=member_settings(),
            logs_client=logs_client,
            lambda_client=lambda_client,
        )

    assert str(raised.value) == (
        'The event\'s cursor must be {"nextToken": a non-empty string, "counts": '
        f"{{outcome: count}}}}; got {json.dumps(cursor)}."
    )
    assert (logs_client.mock_calls, lambda_client.mock_calls) == ([], [])


@pytest.mark.usefixtures("function_env")
def test_the_handler_sweeps_the_region_under_the_function_policy(
    aws: FakeAws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXCLUDE_PATTERNS", '["/aws/kinesisfirehose/*"]')
    aws.create_log_groups(
        "/app/new", "/app/legacy", "/app/full", "/aws/kinesisfirehose/central/errors"
    )
    aws.put_filter("/app/legacy", LEGACY_FILTER_NAME, DESTINATION_ARN, SENDER_ROLE_ARN)
    aws.create_foreign_filter("/app/full", "security-tool")
    aws.create_foreign_filter("/app/full", "metrics-tool")

    with aws.iam.enforced():
        counts = reconcile.handler(SCHEDULED_EVENT, FakeContext(FakeTime(), 900))

    assert counts == {"subscribed": 1, "updated": 1, "limit-exceeded": 1, "excluded": 1}
    assert aws.filters("/app/new") == aws.filters("/app/legacy") == {FILTER_NAME: DESTINATION_ARN}
    lines = summaries(capsys.readouterr().out)
    assert [(line["level"], line.get("logGroup")) for line in lines] == [
        ("WARNING", "/app/full"),
        ("INFO", None),
    ]
    assert (lines[-1]["counts"], lines[-1]["continued"]) == (counts, False)
    # The member stack's metric filter reads this number (SWEEP_SUMMARY_PATTERN).
    assert (lines[-1]["message"], lines[-1]["uncovered"]) == ("sweep finished", 1)


def test_the_sweep_repairs_what_a_member_admin_did_to_make_delivery_fail_quietly(
    aws: FakeAws, sweeper: Sweeper
) -> None:
    aws.create_log_groups("/app/decoyed", "/app/random", "/app/transformed", "/app/fine")
    sweeper.sweep(SCHEDULED_EVENT, seconds=900)
    powerless = SENDER_ROLE_ARN.replace("central-sender", "cannot-deliver")
    aws.logs.delete_subscription_filter(logGroupName="/app/decoyed", filterName=FILTER_NAME)
    aws.put_filter("/app/decoyed", "decoy", DESTINATION_ARN, powerless)
    aws.put_filter(
        "/app/random", FILTER_NAME, DESTINATION_ARN, SENDER_ROLE_ARN, distribution="Random"
    )
    aws.put_filter(
        "/app/transformed",
        FILTER_NAME,
        DESTINATION_ARN,
        SENDER_ROLE_ARN,
        applyOnTransformedLogs=True,
    )

    counts = sweeper.sweep(SCHEDULED_EVENT, seconds=900)

    assert counts == {"subscribed": 1, "updated": 2, "already-subscribed": 1}
    assert sweeper.sweep(SCHEDULED_EVENT, seconds=900) == {"already-subscribed": 4}
