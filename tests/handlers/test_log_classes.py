"""Log classes: only STANDARD log groups take subscription filters (design section 6)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.session
import pytest

from handlers import subscribe
from handlers.core import CLASSES_WITHOUT_FILTERS, STANDARD_CLASS
from tests.handlers.harness import (
    FILTER_NAME,
    SCHEDULED_EVENT,
    FakeAws,
    Sweeper,
    create_log_group_event,
)

# Classes botocore's model lists on which no AWS page says whether they take subscription
# filters: the handlers try them, and AWS's refusal is reported as `unsupported-class`.
UNDOCUMENTED_CLASSES = {"ESSENTIALS"}


def class_event(log_group: str, log_class: str) -> dict[str, Any]:
    return create_log_group_event(
        log_group, requestParameters={"logGroupName": log_group, "logGroupClass": log_class}
    )


def test_every_log_class_aws_lists_is_known_here() -> None:
    # A class AWS adds shows up in botocore's model first: decide then whether it takes
    # subscription filters, and list it here or in CLASSES_WITHOUT_FILTERS.
    model = botocore.session.get_session().get_service_model("logs")
    listed = set(model.shape_for("LogGroupClass").enum)

    assert listed <= {STANDARD_CLASS, *CLASSES_WITHOUT_FILTERS, *UNDOCUMENTED_CLASSES}
    assert {STANDARD_CLASS, *CLASSES_WITHOUT_FILTERS} <= listed


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize("log_class", sorted(CLASSES_WITHOUT_FILTERS))
def test_a_new_log_group_of_a_class_without_filters_costs_no_filter_call(
    aws: FakeAws, log_class: str
) -> None:
    aws.create_log_groups("/app/archive", log_class=log_class)

    with aws.iam.enforced():
        result = subscribe.handler(class_event("/app/archive", log_class), None)

    assert result == {
        "logGroup": "/app/archive",
        "outcome": "unsupported-class",
        "detail": f"log class {log_class} takes no subscription filters; only STANDARD does",
    }
    assert aws.iam.actions == []


@pytest.mark.usefixtures("function_env")
def test_a_class_this_code_does_not_know_is_tried_and_the_refusal_reported(
    aws: FakeAws,
) -> None:
    aws.create_log_groups("/app/essentials", log_class="ESSENTIALS")

    with aws.iam.enforced():
        result = subscribe.handler(class_event("/app/essentials", "ESSENTIALS"), None)

    assert result == {
        "logGroup": "/app/essentials",
        "outcome": "unsupported-class",
        "detail": "log class ESSENTIALS takes no subscription filters; only STANDARD does",
    }
    # It could take a filter, so whether the account policy delivers it is read first.
    assert aws.iam.actions == ["logs:DescribeAccountPolicies", "logs:DescribeSubscriptionFilters"]


@pytest.mark.usefixtures("function_env")
def test_the_same_refusal_for_a_standard_log_group_is_a_failure(aws: FakeAws) -> None:
    # The event says STANDARD (no class given) but AWS refuses the class: that is no known
    # state, so it fails loudly rather than being filed away as unsupported-class.
    aws.create_log_groups("/app/mislabelled", log_class="INFREQUENT_ACCESS")

    with aws.iam.enforced(), pytest.raises(RuntimeError) as raised:
        subscribe.handler(create_log_group_event("/app/mislabelled"), None)

    assert str(raised.value) == (
        "Log group /app/mislabelled was not subscribed: ValidationException: This operation "
        "is only supported on the Standard log class."
    )


def test_the_sweep_reads_each_class_and_counts_none_of_them_as_uncovered(
    aws: FakeAws, function_session: boto3.session.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.create_log_groups("/app/standard", "/app/full")
    aws.create_foreign_filter("/app/full", "security-tool")
    aws.create_foreign_filter("/app/full", "metrics-tool")
    aws.create_log_groups("/app/archive", log_class="INFREQUENT_ACCESS")
    aws.create_log_groups("/aws/vendedlogs/delivery", log_class="DELIVERY")
    aws.create_log_groups("/app/essentials", log_class="ESSENTIALS")

    counts = Sweeper(aws, function_session).sweep(SCHEDULED_EVENT, seconds=900)

    assert counts == {"subscribed": 1, "limit-exceeded": 1, "unsupported-class": 3}
    described = aws.iam.actions.count("logs:DescribeSubscriptionFilters")
    assert described == 3  # the two STANDARD log groups and the one of an unknown class
    assert {p.log_group for p in aws.destinations.puts_of(FILTER_NAME)} == {
        "/app/standard",
        "/app/full",
    }
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["message"], summary["uncovered"]) == ("sweep finished", 1)
