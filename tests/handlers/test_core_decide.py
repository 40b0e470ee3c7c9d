"""decide and is_excluded: what a log group needs, from its filters alone."""

from __future__ import annotations

import glob
from typing import TYPE_CHECKING
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.core import Decision, apply, decide, is_excluded
from tests.handlers.harness import (
    DESTINATION_ARN,
    FILTER_NAME,
    LEGACY_FILTER_NAME,
    SENDER_ROLE_ARN,
    member_settings,
)

if TYPE_CHECKING:
    from mypy_boto3_logs.type_defs import SubscriptionFilterTypeDef

SETTINGS = member_settings(exclude_patterns=("/aws/kinesisfirehose/*",))
OTHER_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/security"


def subscription_filter(
    name: str,
    destination_arn: str = DESTINATION_ARN,
    pattern: str = "",
    role_arn: str | None = SENDER_ROLE_ARN,
) -> SubscriptionFilterTypeDef:
    found: SubscriptionFilterTypeDef = {
        "filterName": name,
        "destinationArn": destination_arn,
        "filterPattern": pattern,
    }
    if role_arn is not None:
        found["roleArn"] = role_arn
    return found


OURS = subscription_filter(FILTER_NAME)
LEGACY = subscription_filter(
    LEGACY_FILTER_NAME, "arn:aws:logs:eu-west-1:999999999999:destination:Old"
)
FOREIGN = subscription_filter("security-tool", OTHER_ARN, role_arn=None)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            [],
            Decision("/app", "subscribed", "put filter 'central-logging'", (), FILTER_NAME),
        ),
        (
            [FOREIGN],
            Decision(
                "/app",
                "subscribed",
                "put filter 'central-logging'",
                (),
                FILTER_NAME,
                ("security-tool",),
            ),
        ),
        (
            [OURS, FOREIGN],
            Decision(
                "/app",
                "already-subscribed",
                f"filter 'central-logging' already delivers to {DESTINATION_ARN}",
            ),
        ),
        (
            [subscription_filter(FILTER_NAME, pattern="ERROR")],
            Decision("/app", "updated", "put filter 'central-logging'", (), FILTER_NAME),
        ),
        (
            [subscription_filter(FILTER_NAME, role_arn=None)],
            Decision("/app", "updated", "put filter 'central-logging'", (), FILTER_NAME),
        ),
        (
            [subscription_filter(FILTER_NAME, OTHER_ARN)],
            Decision("/app", "updated", "put filter 'central-logging'", (), FILTER_NAME),
        ),
        (
            [LEGACY, FOREIGN],
            Decision(
                "/app",
                "updated",
                "delete filter 'seed-central-logging', then put filter 'central-logging'",
                (LEGACY_FILTER_NAME,),
                FILTER_NAME,
                ("security-tool",),
            ),
        ),
        (
            [OURS, LEGACY],
            Decision(
                "/app",
                "updated",
                "delete filter 'seed-central-logging'",
                (LEGACY_FILTER_NAME,),
                None,
            ),
        ),
        (
            [subscription_filter("landing-zone")],
            Decision(
                "/app",
                "already-subscribed",
                f"filter 'landing-zone' of another owner already delivers to {DESTINATION_ARN} "
                "exactly as configured",
            ),
        ),
        (
            # Another owner's filter passing another role (one that may not deliver) is no
            # cover: ours is added beside it.
            [subscription_filter("decoy", role_arn="arn:aws:iam::111111111111:role/nothing")],
            Decision(
                "/app", "subscribed", "put filter 'central-logging'", (), FILTER_NAME, ("decoy",)
            ),
        ),
        (
            # A filter of another owner to our destination that drops events (here: all but
            # ERROR) is no cover: ours is added beside it.
            [subscription_filter("decoy", pattern="ERROR", role_arn=None)],
            Decision(
                "/app", "subscribed", "put filter 'central-logging'", (), FILTER_NAME, ("decoy",)
            ),
        ),
        (
            # Our own filter is kept as configured even where another owner's reaches the
            # destination: otherwise a changed filter pattern would never arrive.
            [subscription_filter("landing-zone"), subscription_filter(FILTER_NAME, pattern="x")],
            Decision(
                "/app",
                "updated",
                "put filter 'central-logging'",
                (),
                FILTER_NAME,
                ("landing-zone",),
            ),
        ),
    ],
)
def test_decide(filters: list[SubscriptionFilterTypeDef], expected: Decision) -> None:
    assert decide("/app", filters, SETTINGS) == expected


# Each field a member admin can set on a filter to our destination, so that fewer or other
# events arrive than configured, with such a value (API_PutSubscriptionFilter).
ALTERED_FIELDS: list[dict[str, object]] = [
    {"distribution": "Random"},
    {"applyOnTransformedLogs": True},
    {"fieldSelectionCriteria": '@aws.region NOT IN ["eu-west-1"]'},
    {"emitSystemFields": ["@aws.account"]},
]


@pytest.mark.parametrize("altered", ALTERED_FIELDS)
def test_our_filter_altered_in_any_delivery_field_is_deleted_and_put_anew(
    altered: dict[str, object],
) -> None:
    ours = {**subscription_filter(FILTER_NAME), **altered}

    decision = decide("/app", [ours], SETTINGS)  # type: ignore[list-item]

    assert decision == Decision(
        "/app",
        "updated",
        "delete filter 'central-logging', then put filter 'central-logging'",
        (FILTER_NAME,),
        FILTER_NAME,
    )


@pytest.mark.parametrize("altered", ALTERED_FIELDS)
def test_a_foreign_filter_altered_in_any_delivery_field_is_no_cover(
    altered: dict[str, object],
) -> None:
    theirs = {**subscription_filter("landing-zone"), **altered}

    decision = decide("/app", [theirs], SETTINGS)  # type: ignore[list-item]

    assert decision.outcome == "subscribed"
    assert decision.put_filter_name == FILTER_NAME


def test_fields_at_their_documented_defaults_change_nothing() -> None:
    described = {
        **subscription_filter(FILTER_NAME),
        "distribution": "ByLogStream",
        "applyOnTransformedLogs": False,
        "creationTime": 1_700_000_000_000,
    }

    assert decide("/app", [described], SETTINGS).outcome == "already-subscribed"  # type: ignore[list-item]


def test_an_excluded_log_group_loses_only_the_filters_this_project_owns() -> None:
    decision = decide("/aws/kinesisfirehose/central", [LEGACY, FOREIGN], SETTINGS)

    assert decision == Decision(
        "/aws/kinesisfirehose/central",
        "excluded",
        "matches exclude pattern '/aws/kinesisfirehose/*'",
        delete_filter_names=(LEGACY["filterName"],),
    )
    assert decide("/aws/kinesisfirehose/central", [FOREIGN], SETTINGS) == Decision(
        "/aws/kinesisfirehose/central",
        "excluded",
        "matches exclude pattern '/aws/kinesisfirehose/*'",
    )


def test_a_dry_run_reports_not_subscribed_and_what_a_run_would_do_without_calls() -> None:
    client = mock.Mock()
    decision = decide("/app", [LEGACY], SETTINGS)

    result = apply(client, decision, SETTINGS, dry_run=True)

    assert result.as_dict() == {
        "logGroup": "/app",
        "outcome": "not-subscribed",
        "detail": "would delete filter 'seed-central-logging', then put filter 'central-logging'",
    }
    assert client.mock_calls == []


def test_a_dry_run_reports_a_covered_log_group_as_it_is() -> None:
    result = apply(mock.Mock(), decide("/app", [OURS], SETTINGS), SETTINGS, dry_run=True)

    assert result.outcome == "already-subscribed"


filter_names = st.sampled_from([FILTER_NAME, LEGACY_FILTER_NAME, "security-tool", "landing-zone"])
filter_lists = st.lists(
    st.builds(
        subscription_filter,
        filter_names,
        st.sampled_from([DESTINATION_ARN, OTHER_ARN]),
        st.sampled_from(["", "ERROR"]),
        st.sampled_from([SENDER_ROLE_ARN, None]),
    ),
    max_size=4,
    unique_by=lambda f: f["filterName"],
)


def after(
    filters: list[SubscriptionFilterTypeDef], decision: Decision
) -> list[SubscriptionFilterTypeDef]:
    """The filters once `decision` is carried out."""
    kept = [
        f
        for f in filters
        if f["filterName"] not in decision.delete_filter_names
        and f["filterName"] != decision.put_filter_name
    ]
    if decision.put_filter_name is None:
        return kept
    return [*kept, subscription_filter(decision.put_filter_name)]


@given(filters=filter_lists)
def test_only_owned_filters_are_ever_written(filters: list[SubscriptionFilterTypeDef]) -> None:
    decision = decide("/app", filters, SETTINGS)

    assert set(decision.delete_filter_names) <= {LEGACY_FILTER_NAME}
    assert decision.put_filter_name in (None, FILTER_NAME)
    foreign = {f["filterName"] for f in filters} - {FILTER_NAME, LEGACY_FILTER_NAME}
    assert set(decision.foreign_filter_names) == (foreign if decision.needs_write else set())


@given(filters=filter_lists)
def test_once_carried_out_a_decision_needs_nothing_more(
    filters: list[SubscriptionFilterTypeDef],
) -> None:
    decision = decide("/app", filters, SETTINGS)

    again = decide("/app", after(filters, decision), SETTINGS)

    assert not again.needs_write
    assert again.outcome == "already-subscribed"


names = st.text(min_size=1, max_size=60)


@given(name=names)
def test_a_pattern_matches_its_own_literal_name(name: str) -> None:
    assert is_excluded(name, ["/other", glob.escape(name)])


@given(name=names)
def test_no_pattern_excludes_nothing_and_a_star_excludes_everything(name: str) -> None:
    assert not is_excluded(name, [])
    assert is_excluded(name, ["*"])


@given(prefix=names, rest=st.text(max_size=60))
def test_a_star_matches_across_slashes(prefix: str, rest: str) -> None:
    assert is_excluded(f"{prefix}/{rest}/more", [glob.escape(prefix) + "*"])


@given(prefix=names, name=names)
def test_a_prefix_pattern_matches_exactly_the_names_with_that_prefix(
    prefix: str, name: str
) -> None:
    assert is_excluded(name, [glob.escape(prefix) + "*"]) == name.startswith(prefix)


@given(name=names.filter(lambda n: n.swapcase() != n))
def test_matching_is_case_sensitive(name: str) -> None:
    assert not is_excluded(name.swapcase(), [glob.escape(name)])
