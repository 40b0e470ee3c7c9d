"""subscribe_log_group against AWS: the destination's access policy, retries, dry runs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import botocore
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError

from components.policies import destination_access_policy
from handlers.core import MAX_ATTEMPTS, apply, decide, make_logs_client, subscribe_log_group
from tests.handlers.harness import (
    DESTINATION_ARN,
    FILTER_NAME,
    LEGACY_FILTER_NAME,
    MEMBER_ACCOUNT,
    ORGANIZATION_ID,
    OUTSIDER_ACCOUNT,
    REGION,
    FakeAws,
    admin_session,
    logs_error_response,
    logs_success_response,
    member_settings,
)

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

ACCESS_DENIED = (
    "AccessDeniedException: User with accountId: {account} is not authorized to perform: "
    f"logs:PutSubscriptionFilter on resource: {DESTINATION_ARN}"
)


def test_an_organisation_destination_refuses_a_sender_without_a_role(aws: FakeAws) -> None:
    aws.create_log_groups("/app/orders")
    client = make_logs_client(None, REGION)

    result = subscribe_log_group(client, "/app/orders", member_settings(sender_role_arn=None))

    assert (result.outcome, result.detail) == (
        "failed",
        ACCESS_DENIED.format(account=MEMBER_ACCOUNT),
    )
    assert aws.filters("/app/orders") == {}


def test_a_destination_shared_with_the_account_takes_a_sender_without_a_role(aws: FakeAws) -> None:
    aws.set_destination_policy(destination_access_policy(DESTINATION_ARN, None, [MEMBER_ACCOUNT]))
    aws.create_log_groups("/app/orders")
    client = make_logs_client(None, REGION)

    result = subscribe_log_group(client, "/app/orders", member_settings(sender_role_arn=None))

    assert result.outcome == "subscribed"
    assert "roleArn" not in aws.filter("/app/orders", FILTER_NAME)


@pytest.mark.parametrize(
    "access_policy",
    [
        destination_access_policy(DESTINATION_ARN, ORGANIZATION_ID, []),
        destination_access_policy(DESTINATION_ARN, None, [MEMBER_ACCOUNT]),
    ],
    ids=["organisation", "listed-accounts"],
)
def test_an_account_outside_the_destination_policy_is_refused(
    aws: FakeAws, access_policy: dict[str, Any]
) -> None:
    aws.set_destination_policy(access_policy)
    outsider = admin_session(OUTSIDER_ACCOUNT)
    outsider.client("logs").create_log_group(logGroupName="/app/orders")
    settings = member_settings(
        sender_role_arn=f"arn:aws:iam::{OUTSIDER_ACCOUNT}:role/central-logging-sender"
    )

    result = subscribe_log_group(make_logs_client(outsider, REGION), "/app/orders", settings)

    assert (result.outcome, result.detail) == (
        "failed",
        ACCESS_DENIED.format(account=OUTSIDER_ACCOUNT),
    )


def test_a_dry_run_only_reads(aws: FakeAws, function_session: boto3.session.Session) -> None:
    aws.create_log_groups("/app/orders")
    aws.put_filter(
        "/app/orders", LEGACY_FILTER_NAME, DESTINATION_ARN, member_settings().sender_role_arn
    )
    client = make_logs_client(function_session, REGION)

    with aws.iam.enforced():
        result = subscribe_log_group(client, "/app/orders", member_settings(), dry_run=True)

    assert result.as_dict() == {
        "logGroup": "/app/orders",
        "outcome": "not-subscribed",
        "detail": f"would delete filter {LEGACY_FILTER_NAME!r}, then put filter {FILTER_NAME!r}",
    }
    assert aws.iam.actions == ["logs:DescribeSubscriptionFilters"]
    assert set(aws.filters("/app/orders")) == {LEGACY_FILTER_NAME}


@pytest.fixture
def offline_client() -> CloudWatchLogsClient:
    """A client as the handlers make it, answered by `answering` alone: no network, no moto."""
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    )
    return make_logs_client(session, REGION)


def answering(
    client: CloudWatchLogsClient, operation: str, answers: list[Callable[[], AWSResponse]]
) -> list[int]:
    """Answer `operation` with `answers` in turn; returns the list counting requests sent."""
    sent: list[int] = []

    def answer(**_: Any) -> AWSResponse:
        sent.append(1)
        return answers[len(sent) - 1]()

    events: Any = client.meta.events  # typed for handlers that return None; these answer
    events.register_first(f"before-send.cloudwatch-logs.{operation}", answer)
    return sent


def full_slots() -> AWSResponse:
    return logs_error_response("LimitExceededException", "Resource limit exceeded.")


@pytest.mark.usefixtures("backoffs")
def test_full_slots_do_not_use_up_the_retries_that_throttling_needs(
    offline_client: CloudWatchLogsClient,
) -> None:
    full = 120  # more than botocore's retry quota would survive (500 tokens, 5 each)
    sent = answering(
        offline_client,
        "PutSubscriptionFilter",
        [full_slots] * full
        + [lambda: logs_error_response("ThrottlingException", "Rate exceeded")] * 2
        + [logs_success_response],
    )
    settings = member_settings()
    decision = decide("/app/orders", [], settings)

    outcomes = [apply(offline_client, decision, settings).outcome for _ in range(full + 1)]

    assert outcomes == ["limit-exceeded"] * full + ["subscribed"]
    assert len(sent) == full + 3


def test_slots_taken_since_the_log_group_was_read_are_reported_as_such(
    offline_client: CloudWatchLogsClient,
) -> None:
    answering(offline_client, "PutSubscriptionFilter", [full_slots])
    settings = member_settings()

    result = apply(offline_client, decide("/app/orders", [], settings), settings)

    assert (result.outcome, result.detail) == (
        "limit-exceeded",
        "every subscription filter slot is taken by filters added since the log group was read",
    )


def test_an_unreachable_endpoint_is_reported_as_failed_after_retries(
    offline_client: CloudWatchLogsClient, backoffs: list[float]
) -> None:
    endpoint = f"https://logs.{REGION}.amazonaws.com/"

    def unreachable() -> AWSResponse:
        raise EndpointConnectionError(endpoint_url=endpoint)

    answering(offline_client, "DescribeSubscriptionFilters", [logs_success_response])
    sent = answering(offline_client, "PutSubscriptionFilter", [unreachable] * MAX_ATTEMPTS)

    result = subscribe_log_group(offline_client, "/app/orders", member_settings())

    assert result.as_dict() == {
        "logGroup": "/app/orders",
        "outcome": "failed",
        "detail": f'EndpointConnectionError: Could not connect to the endpoint URL: "{endpoint}"',
    }
    assert (len(sent), len(backoffs)) == (MAX_ATTEMPTS, MAX_ATTEMPTS - 1)


def test_a_botocore_that_cannot_see_a_delivery_field_is_refused() -> None:
    """botocore drops response fields its model lacks, so a client of an older one would take
    a filter set in `emitSystemFields` for one as configured."""
    core = botocore.session.Session()
    loader = core.get_component("data_loader")
    load_service_model = loader.load_service_model

    def without_emit_system_fields(service: str, type_name: str, **kwargs: Any) -> Any:
        model = copy.deepcopy(load_service_model(service, type_name, **kwargs))
        if service == "logs" and type_name == "service-2":
            del model["shapes"]["SubscriptionFilter"]["members"]["emitSystemFields"]
        return model

    loader.load_service_model = without_emit_system_fields
    session = boto3.session.Session(botocore_session=core, region_name=REGION)

    with pytest.raises(RuntimeError) as refused:
        make_logs_client(session, REGION)

    assert str(refused.value) == (
        f"This botocore {botocore.__version__} does not know the subscription filter field(s) "
        "emitSystemFields, so it cannot see them set; use a newer boto3."
    )
