"""The world the handler tests run in: accounts, fake time, and three extensions of moto.

- IAM: moto's enforcement is switched on only around the code under test, so setup and
  inspection keep using moto's unchecked default credentials.
- Cross-account destinations: moto has no model of a CloudWatch Logs destination as a filter
  target, so `CrossAccountDestinations` stands in for AWS on those puts.
- Log classes: moto has none, so `LogClasses` keeps and refuses them as AWS does.
- Account policies: moto has none, so `AccountPolicies` keeps subscription filter policies
  (PutAccountPolicy, DescribeAccountPolicies) per account and region.
- Trails: `OrganizationTrails` shows an organisation trail in every account, as AWS does.
- Filter fields: moto keeps only name, pattern, destination and role of a subscription filter,
  so `FilterFields` keeps the others a put may set (distribution, applyOnTransformedLogs,
  fieldSelectionCriteria, emitSystemFields).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from moto import settings as moto_settings
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.cloudtrail.models import CloudTrailBackend, Trail, cloudtrail_backends
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.access_control import IAMRequestBase
from moto.logs.exceptions import (
    LimitExceededException,
    LogsClientError,
    ResourceNotFoundException,
)
from moto.logs.models import LogGroup, LogsBackend, SubscriptionFilter, logs_backends
from moto.logs.responses import LogsResponse

from handlers import reconcile
from handlers.core import STANDARD_CLASS, Settings, make_logs_client, quota_limiters
from tests.iam_actions import current_action, track_calls
from tests.infra.harness import Run, run_program

if TYPE_CHECKING:
    from mypy_boto3_logs.type_defs import (
        PutSubscriptionFilterRequestTypeDef,
        SubscriptionFilterTypeDef,
    )

REGION = "eu-west-1"
# moto's default account, where calls with its default credentials land: the member account.
MEMBER_ACCOUNT = DEFAULT_ACCOUNT_ID
LOGGING_ACCOUNT = "222222222222"
OUTSIDER_ACCOUNT = "333333333333"
ORGANIZATION_ID = "o-a1b2c3d4e5"
# Organisation membership as AWS Organizations would report it; the outsider is in none.
ORGANIZATION_OF = {MEMBER_ACCOUNT: ORGANIZATION_ID}

DESTINATION_NAME = "CentralLogDestination"
DESTINATION_ARN = f"arn:aws:logs:{REGION}:{LOGGING_ACCOUNT}:destination:{DESTINATION_NAME}"
# The sweep: its role holds every permission the handlers use (the event handler's holds less).
FUNCTION_NAME = "central-logging-reconciler"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{MEMBER_ACCOUNT}:function:{FUNCTION_NAME}"
FUNCTION_LOG_GROUP_ARN = (
    f"arn:aws:logs:{REGION}:{MEMBER_ACCOUNT}:log-group:/aws/lambda/{FUNCTION_NAME}"
)
# As the member stack names it under the mock runtime (tests/infra/harness.py).
SENDER_ROLE_ARN = f"arn:aws:iam::{MEMBER_ACCOUNT}:role/central-sender"
FILTER_NAME = "central-logging"
LEGACY_FILTER_NAME = "seed-central-logging"


@functools.cache
def rendered_member_stack() -> Run:
    """The member stack of `MEMBER_ACCOUNT` in `REGION`, run under Pulumi's mock runtime."""
    stack = "example-org/central-logging/logging"
    return run_program(
        {"role": "member", "loggingStack": stack, "regions": [REGION]},
        region=REGION,
        account_id=MEMBER_ACCOUNT,
        stack_outputs={stack: {"destinationArns": {REGION: DESTINATION_ARN}}},
    )


def member_settings(**changes: Any) -> Settings:
    """The settings the member stack gives its subscriber, with `changes`."""
    settings = Settings(
        destination_arn=DESTINATION_ARN,
        sender_role_arn=SENDER_ROLE_ARN,
        filter_name=FILTER_NAME,
        replace_filter_names=(LEGACY_FILTER_NAME,),
    )
    return replace(settings, **changes)


def function_environment(settings: Settings) -> dict[str, str]:
    """The environment variables the component sets on the subscriber function."""
    return {
        "DESTINATION_ARN": settings.destination_arn,
        "SENDER_ROLE_ARN": settings.sender_role_arn or "",
        "FILTER_NAME": settings.filter_name,
        "FILTER_PATTERN": settings.filter_pattern,
        "EXCLUDE_PATTERNS": json.dumps(list(settings.exclude_patterns)),
        "REPLACE_FILTER_NAMES": json.dumps(list(settings.replace_filter_names)),
    }


def create_log_group_event(log_group: Any, **detail_changes: Any) -> dict[str, Any]:
    """An EventBridge "AWS API Call via CloudTrail" event of a successful CreateLogGroup."""
    detail = {
        "eventVersion": "1.08",
        "eventSource": "logs.amazonaws.com",
        "eventName": "CreateLogGroup",
        "awsRegion": REGION,
        "requestParameters": {"logGroupName": log_group},
        "responseElements": None,
        **detail_changes,
    }
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.logs",
        "account": MEMBER_ACCOUNT,
        "region": REGION,
        "detail": detail,
    }


SCHEDULED_EVENT = {
    "version": "0",
    "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "region": REGION,
    "detail": {},
}


def with_resources_widened(policy: Mapping[str, Any]) -> dict[str, Any]:
    """The policy with every Resource set to "*", actions and conditions kept.

    moto checks logs and lambda actions against the resource "*" only, so a scoped Resource
    would deny everything there; the scoping is asserted on the rendered policy instead.
    """
    return {**policy, "Statement": [{**s, "Resource": "*"} for s in policy["Statement"]]}


def without_action(policy: Mapping[str, Any], action: str) -> dict[str, Any]:
    """The policy with one action taken out of every statement (empty statements dropped)."""
    statements = []
    for statement in policy["Statement"]:
        actions = statement["Action"]
        kept = [a for a in ([actions] if isinstance(actions, str) else actions) if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    return {**policy, "Statement": statements}


def session_for(credentials: Mapping[str, Any]) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def admin_session(account: str) -> boto3.session.Session:
    """Unchecked credentials for `account` (moto lets anyone assume any role while IAM
    enforcement is off)."""
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="test-setup"
    )["Credentials"]
    return session_for(credentials)


class FakeTime:
    """A clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeContext:
    """A Lambda context whose time limit is `seconds` of `time` after its creation."""

    time: FakeTime
    seconds: float
    invoked_function_arn: str = FUNCTION_ARN
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = self.time.now + self.seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - self.time.now) * 1000)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _logs_response(status: int, body: dict[str, str]) -> AWSResponse:
    headers = HTTPHeaders()
    headers["x-amzn-RequestId"] = "test"
    headers["Content-Type"] = "application/x-amz-json-1.1"
    url = f"https://logs.{REGION}.amazonaws.com/"
    return AWSResponse(url, status, headers, _Body(json.dumps(body).encode()))


def logs_error_response(code: str, message: str) -> AWSResponse:
    """An HTTP response as CloudWatch Logs sends it for an error."""
    return _logs_response(400, {"__type": code, "message": message})


def logs_success_response() -> AWSResponse:
    return _logs_response(200, {})


def condition_context(action: str, data: Mapping[str, Any]) -> dict[str, str]:
    """The condition keys AWS sets from a request, for the requests whose keys our policies
    use (Service Authorization Reference: `s3:prefix` of ListBucket, `cloudwatch:namespace`
    of PutMetricData). moto parses a JSON body into a mapping with the body as its one key."""
    if action == "s3:ListBucket" and isinstance(data.get("prefix"), list):
        return {"s3:prefix": data["prefix"][0]}
    if action == "cloudwatch:PutMetricData" and len(data) == 1:
        namespace = json.loads(next(iter(data))).get("Namespace")
        return {"cloudwatch:namespace": namespace} if isinstance(namespace, str) else {}
    return {}


def _condition_holds(
    condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]
) -> bool:
    """StringEquals and StringLike, the operators our policies use; a key the request does not
    carry fails the condition, as in AWS."""
    for operator, keys in condition.items():
        for key, expected in keys.items():
            value = context.get(key)
            patterns = _as_list(expected)
            if value is None:
                return False
            if operator == "StringEquals" and value not in patterns:
                return False
            if operator == "StringLike" and not any(fnmatchcase(value, p) for p in patterns):
                return False
            if operator not in ("StringEquals", "StringLike"):
                raise NotImplementedError(f"condition operator {operator} is not modelled")
    return True


def conditions_allow(policies: list[Any], action: str, context: Mapping[str, str]) -> bool:
    """Whether a statement allowing `action` has its condition met (moto checks actions and
    resources only, and ignores the conditions of identity policies)."""
    for policy in policies:
        document = json.loads(policy) if isinstance(policy, str) else policy
        for statement in _as_list(document["Statement"]):
            actions = _as_list(statement["Action"])
            if statement["Effect"] != "Allow" or not any(
                fnmatchcase(action.lower(), a.lower()) for a in actions
            ):
                continue
            if _condition_holds(statement.get("Condition", {}), context):
                return True
    return False


class IamEnforcement:
    """Switches moto's IAM enforcement on around the code under test; records every action
    checked, under IAM's name for it (tests/iam_actions.py), and also enforces the conditions of the caller's
    identity policies for the condition keys in `condition_context`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.actions: list[str] = []
        check_action_permitted = IAMRequestBase.check_action_permitted

        def check(request: IAMRequestBase, resource: str) -> None:
            # AWS's name for the action of the call being made, never moto's.
            action = current_action()
            assert action is not None, f"moto checked {request._action} outside a botocore call"
            request._action = action
            self.actions.append(request._action)
            check_action_permitted(request, resource)
            context = condition_context(request._action, request._data)
            policies = request._access_key.collect_policies()
            if context and not conditions_allow(policies, request._action, context):
                request._raise_access_denied()

        monkeypatch.setattr(IAMRequestBase, "check_action_permitted", check)
        track_calls(monkeypatch)

    @contextmanager
    def enforced(self) -> Iterator[None]:
        previous = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # no request goes unchecked
        try:
            yield
        finally:
            moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = previous


@dataclass(frozen=True)
class PutAttempt:
    log_group: str
    filter_name: str


def put_in_slots(
    log_group: LogGroup,
    filter_name: str,
    filter_pattern: str,
    destination_arn: str,
    role_arn: str | None,
    slots: int,
) -> None:
    """A filter put as AWS keeps it: a filter of the same name is updated in its slot, a new
    one needs a free slot."""
    filters = log_group.subscription_filters
    if filter_name in filters:
        filters[filter_name].update(filter_pattern, destination_arn, role_arn)  # type: ignore[arg-type]
        return
    if len(filters) >= slots:
        raise LimitExceededException()
    filters[filter_name] = SubscriptionFilter(
        filter_name,
        log_group.name,
        filter_pattern,
        destination_arn,
        role_arn,  # type: ignore[arg-type]  # as moto's own model stores it
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _account_of(principal: str) -> str:
    # "123456789012" or "arn:aws:iam::123456789012:root"
    return principal.split(":")[4] if principal.startswith("arn:") else principal


class CrossAccountDestinations:
    """Stands in for AWS when a subscription filter targets a CloudWatch Logs destination.

    moto reads such an ARN as a log group's and refuses it. As AWS does, this requires the
    destination to exist in its own account and region, and its access policy to allow the
    sender's account: listed by ID, or as a member of the organisation named by the
    `aws:PrincipalOrgID` condition of a `Principal: "*"` statement. AWS can only check
    organisation membership through a role of the sender's own, so that statement applies
    only to puts that pass `roleArn`. Other policy shapes are not modelled and refused.

    It also counts filter slots per log group, `filter_slots` (2 today), without moto's slip of
    refusing an update of a filter that already holds a slot; and it records every attempt.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.filter_slots = 2
        self.put_attempts: list[PutAttempt] = []
        put_subscription_filter = LogsBackend.put_subscription_filter
        destinations = self

        def put(
            backend: LogsBackend,
            log_group_name: str,
            filter_name: str,
            filter_pattern: str,
            destination_arn: str,
            role_arn: str | None,
        ) -> None:
            if ":destination:" not in destination_arn:
                put_subscription_filter(
                    backend,
                    log_group_name,
                    filter_name,
                    filter_pattern,
                    destination_arn,
                    role_arn,  # type: ignore[arg-type]  # moto passes None itself
                )
                return
            destinations.put(
                backend, log_group_name, filter_name, filter_pattern, destination_arn, role_arn
            )

        monkeypatch.setattr(LogsBackend, "put_subscription_filter", put)

    def puts_of(self, filter_name: str) -> list[PutAttempt]:
        return [p for p in self.put_attempts if p.filter_name == filter_name]

    def put(
        self,
        backend: LogsBackend,
        log_group_name: str,
        filter_name: str,
        filter_pattern: str,
        destination_arn: str,
        role_arn: str | None,
    ) -> None:
        self.put_attempts.append(PutAttempt(log_group_name, filter_name))
        log_group = backend.groups.get(log_group_name)
        if log_group is None:
            raise ResourceNotFoundException()
        _, _, _, region, account, _ = destination_arn.split(":", 5)
        destination = logs_backends[account][region].destinations.get(destination_arn)
        if destination is None or region != backend.region_name:
            raise ResourceNotFoundException("The specified destination does not exist.")
        if not self._allows(destination.access_policy, backend.account_id, role_arn):
            raise LogsClientError(
                "AccessDeniedException",
                f"User with accountId: {backend.account_id} is not authorized to perform: "
                f"logs:PutSubscriptionFilter on resource: {destination_arn}",
            )
        put_in_slots(
            log_group, filter_name, filter_pattern, destination_arn, role_arn, self.filter_slots
        )

    @staticmethod
    def _allows(access_policy: str | None, sender: str, role_arn: str | None) -> bool:
        statements = json.loads(access_policy or "{}").get("Statement", [])
        for statement in statements:
            if statement.get("Effect") != "Allow" or "logs:PutSubscriptionFilter" not in (
                _as_list(statement.get("Action"))
            ):
                continue
            principal = statement.get("Principal")
            if principal == "*":
                condition = statement.get("Condition", {}).get("StringEquals", {})
                organization = condition.get("aws:PrincipalOrgID")
                if organization and role_arn and ORGANIZATION_OF.get(sender) == organization:
                    return True
            elif isinstance(principal, dict) and sender in {
                _account_of(p) for p in _as_list(principal.get("AWS"))
            }:
                return True
        return False


# AWS's answer to a subscription filter call on a log group of any class but STANDARD.
ONLY_STANDARD_MESSAGE = "This operation is only supported on the Standard log class."


class LogClasses:
    """Log classes, which moto does not model, as AWS keeps them: CreateLogGroup takes
    `logGroupClass` (STANDARD when absent), DescribeLogGroups returns it, and
    DescribeSubscriptionFilters and PutSubscriptionFilter refuse every class but STANDARD
    with a ValidationException. Any class is accepted, so that one this project does not know
    can be tried."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.of_arn: dict[str, str] = {}
        classes = self.of_arn
        create_log_group = LogsResponse.create_log_group
        to_describe_dict = LogGroup.to_describe_dict

        def create(response: LogsResponse) -> str:
            created = create_log_group(response)
            group = response.logs_backend.groups[response._get_param("logGroupName")]
            classes[group.arn] = response._get_param("logGroupClass") or STANDARD_CLASS
            return str(created)

        def describe(group: LogGroup) -> dict[str, Any]:
            return {
                **to_describe_dict(group),
                "logGroupClass": classes.get(group.arn, STANDARD_CLASS),
            }

        monkeypatch.setattr(LogsResponse, "create_log_group", create)
        monkeypatch.setattr(LogGroup, "to_describe_dict", describe)
        for operation in ("describe_subscription_filters", "put_subscription_filter"):
            monkeypatch.setattr(LogsBackend, operation, self._standard_only(operation))

    def _standard_only(self, operation: str) -> Callable[..., Any]:
        serve = getattr(LogsBackend, operation)
        classes = self.of_arn

        def refuse_other_classes(
            backend: LogsBackend, log_group_name: str, *args: Any, **kwargs: Any
        ) -> Any:
            group = backend.groups.get(log_group_name)
            if group is not None and classes.get(group.arn, STANDARD_CLASS) != STANDARD_CLASS:
                raise LogsClientError("ValidationException", ONLY_STANDARD_MESSAGE)
            return serve(backend, log_group_name, *args, **kwargs)

        return refuse_other_classes


class FilterFields:
    """The optional fields of a subscription filter, which moto drops, kept as AWS describes
    them (API_SubscriptionFilter: each "if it was specified when the subscription filter was
    created"; distribution ByLogStream by default). A put over an existing filter that leaves a
    field out keeps its value: AWS documents no reset, so the code under test must not rely on
    one."""

    FIELDS = (
        "distribution",
        "applyOnTransformedLogs",
        "fieldSelectionCriteria",
        "emitSystemFields",
    )

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        put_subscription_filter = LogsResponse.put_subscription_filter
        to_json = SubscriptionFilter.to_json

        def put(response: LogsResponse) -> str:
            answer = put_subscription_filter(response)
            group = response.logs_backend.groups[response._get_param("logGroupName")]
            stored = group.subscription_filters[response._get_param("filterName")]
            fields = getattr(stored, "optional_fields", {})
            for name in FilterFields.FIELDS:
                value = response._get_param(name)
                if value is not None:
                    fields[name] = value
            stored.optional_fields = fields  # type: ignore[attr-defined]
            return str(answer)

        def describe(subscription_filter: SubscriptionFilter) -> dict[str, Any]:
            return {
                **to_json(subscription_filter),
                **getattr(subscription_filter, "optional_fields", {}),
            }

        monkeypatch.setattr(LogsResponse, "put_subscription_filter", put)
        monkeypatch.setattr(SubscriptionFilter, "to_json", describe)


class AccountPolicies:
    """Account-level subscription filter policies, which moto does not model, kept per account
    and region as AWS keeps them: PutAccountPolicy replaces the policy of that name, and
    DescribeAccountPolicies lists those of a type (CloudWatch Logs API Reference,
    PutAccountPolicy, DescribeAccountPolicies)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.policies: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        # DescribeAccountPolicies calls answered, to show they are not made per log group.
        self.describes = 0
        policies = self.policies

        def put_account_policy(response: LogsResponse) -> str:
            name = response._get_param("policyName")
            policy = {
                "policyName": name,
                "policyDocument": response._get_param("policyDocument"),
                "policyType": response._get_param("policyType"),
                "scope": response._get_param("scope") or "ALL",
                "accountId": response.current_account,
            }
            criteria = response._get_param("selectionCriteria")
            if criteria:
                policy["selectionCriteria"] = criteria
            policies.setdefault((response.current_account, response.region), {})[name] = policy
            return json.dumps({"accountPolicy": policy})

        def describe_account_policies(response: LogsResponse) -> str:
            self.describes += 1
            found = policies.get((response.current_account, response.region), {}).values()
            kind = response._get_param("policyType")
            return json.dumps({"accountPolicies": [p for p in found if p["policyType"] == kind]})

        monkeypatch.setattr(LogsResponse, "put_account_policy", put_account_policy, raising=False)
        monkeypatch.setattr(
            LogsResponse, "describe_account_policies", describe_account_policies, raising=False
        )


# What GetEventSelectors reports for a trail created without selectors: every management
# event is logged (AWS CloudTrail User Guide, "Logging management events"); moto reports none.
DEFAULT_EVENT_SELECTORS = [
    {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": []}
]


class OrganizationTrails:
    """CloudTrail as member accounts see it. moto shows a trail in its own account only; AWS
    also shows an organisation trail in every member account (DescribeTrails with
    includeShadowTrails), where GetTrailStatus and GetEventSelectors take its ARN (AWS
    CloudTrail API Reference, GetTrailStatus). A trail set with no selectors reports AWS's
    default, and a multi-region trail answers by ARN in every region."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        describe_trails = CloudTrailBackend.describe_trails
        get_trail_status = CloudTrailBackend.get_trail_status
        get_event_selectors = CloudTrailBackend.get_event_selectors

        def organization_trails(backend: CloudTrailBackend) -> list[Trail]:
            return [
                trail
                for account, regions in list(cloudtrail_backends.items())
                if account != backend.account_id
                for regional in list(regions.values())
                for trail in regional.trails.values()
                if trail.is_org_trail
                and (trail.is_multi_region or trail.region_name == backend.region_name)
            ]

        def describe(backend: CloudTrailBackend, include_shadow_trails: bool) -> list[Trail]:
            own = list(describe_trails(backend, include_shadow_trails))
            return own + (organization_trails(backend) if include_shadow_trails else [])

        def visible(backend: CloudTrailBackend, name: str) -> Trail | None:
            trails = describe(backend, True)
            return next((t for t in trails if name in (t.arn, t.trail_name)), None)

        def status(backend: CloudTrailBackend, name: str) -> Any:
            trail = visible(backend, name)
            return trail.status if trail is not None else get_trail_status(backend, name)

        def selectors(backend: CloudTrailBackend, trail_name: str) -> Any:
            trail = visible(backend, trail_name)
            if trail is None:
                return get_event_selectors(backend, trail_name)
            basic, advanced = trail.get_event_selectors()
            return trail.arn, basic or ([] if advanced else DEFAULT_EVENT_SELECTORS), advanced

        monkeypatch.setattr(CloudTrailBackend, "describe_trails", describe)
        monkeypatch.setattr(CloudTrailBackend, "get_trail_status", status)
        monkeypatch.setattr(CloudTrailBackend, "get_event_selectors", selectors)


@dataclass(frozen=True)
class Invocation:
    function_name: str
    invocation_type: str
    payload: Any


class FakeAws:
    """moto with the extensions above, and the setup and inspection the tests need."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.iam = IamEnforcement(monkeypatch)
        self.destinations = CrossAccountDestinations(monkeypatch)
        self.log_classes = LogClasses(monkeypatch)
        FilterFields(monkeypatch)
        self.account_policies = AccountPolicies(monkeypatch)
        OrganizationTrails(monkeypatch)
        self.invocations: list[Invocation] = []
        self.logs = boto3.client("logs", region_name=REGION)
        invocations = self.invocations

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            invocations.append(
                Invocation(
                    function_name,
                    headers.get("X-Amz-Invocation-Type", "RequestResponse"),
                    json.loads(body),
                )
            )
            return b""

        monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)

    def create_destination(self, access_policy: Mapping[str, Any]) -> None:
        logs = admin_session(LOGGING_ACCOUNT).client("logs")
        logs.put_destination(
            destinationName=DESTINATION_NAME,
            targetArn=f"arn:aws:firehose:{REGION}:{LOGGING_ACCOUNT}:deliverystream/central",
            roleArn=f"arn:aws:iam::{LOGGING_ACCOUNT}:role/central-logging-destination",
        )
        self.set_destination_policy(access_policy)

    def set_destination_policy(self, access_policy: Mapping[str, Any]) -> None:
        admin_session(LOGGING_ACCOUNT).client("logs").put_destination_policy(
            destinationName=DESTINATION_NAME, accessPolicy=json.dumps(access_policy)
        )

    def function_session(self, policy: Mapping[str, Any]) -> boto3.session.Session:
        """Credentials of the subscriber function's role, holding `policy` (widened for
        moto's resource matching)."""
        iam = boto3.client("iam", region_name=REGION)
        iam.create_role(
            RoleName=FUNCTION_NAME,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        iam.put_role_policy(
            RoleName=FUNCTION_NAME,
            PolicyName="subscriber",
            PolicyDocument=json.dumps(with_resources_widened(policy)),
        )
        credentials = boto3.client("sts", region_name=REGION).assume_role(
            RoleArn=f"arn:aws:iam::{MEMBER_ACCOUNT}:role/{FUNCTION_NAME}",
            RoleSessionName=FUNCTION_NAME,
        )["Credentials"]
        return session_for(credentials)

    def create_log_groups(self, *names: str, log_class: str | None = None) -> None:
        for name in names:
            if log_class is None:
                self.logs.create_log_group(logGroupName=name)
            else:
                self.logs.create_log_group(logGroupName=name, logGroupClass=log_class)  # type: ignore[arg-type]  # any class, known or not

    def create_trail(
        self,
        session: boto3.session.Session,
        name: str,
        *,
        organization: bool = False,
        multi_region: bool = True,
        logging: bool = True,
    ) -> str:
        """A trail in the account of `session` (its bucket in that account); returns its ARN."""
        bucket = f"{name}-trail-bucket"
        session.client("s3", region_name=REGION).create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        cloudtrail = session.client("cloudtrail", region_name=REGION)
        arn = cloudtrail.create_trail(
            Name=name,
            S3BucketName=bucket,
            IsMultiRegionTrail=multi_region,
            IsOrganizationTrail=organization,
        )["TrailARN"]
        if logging:
            cloudtrail.start_logging(Name=name)
        return str(arn)

    def create_foreign_filter(self, log_group: str, filter_name: str) -> str:
        """A filter of another owner, to a Kinesis stream of its own; returns the stream ARN."""
        kinesis = boto3.client("kinesis", region_name=REGION)
        kinesis.create_stream(StreamName=filter_name, ShardCount=1)
        stream_arn = f"arn:aws:kinesis:{REGION}:{MEMBER_ACCOUNT}:stream/{filter_name}"
        self.put_filter(log_group, filter_name, stream_arn)
        return stream_arn

    def put_filter(
        self,
        log_group: str,
        filter_name: str,
        destination_arn: str,
        role_arn: str | None = None,
        *,
        pattern: str = "",
        **fields: Any,
    ) -> None:
        """Put a filter as a member admin would, with any optional `fields` of the request."""
        request: PutSubscriptionFilterRequestTypeDef = {
            "logGroupName": log_group,
            "filterName": filter_name,
            "filterPattern": pattern,
            "destinationArn": destination_arn,
            **fields,  # type: ignore[typeddict-item]
        }
        if role_arn is not None:
            request["roleArn"] = role_arn
        self.logs.put_subscription_filter(**request)

    def put_account_policy(
        self, destination_arn: str = DESTINATION_ARN, *, excluded: tuple[str, ...] = ()
    ) -> str:
        """An account-level subscription filter policy, put as a member admin would, through
        the sender role with every event; `excluded` log groups are left out by name. Returns
        its name."""
        arguments: dict[str, Any] = {
            "policyName": "org-wide",
            "policyType": "SUBSCRIPTION_FILTER_POLICY",
            "scope": "ALL",
            "policyDocument": json.dumps(
                {"DestinationArn": destination_arn, "RoleArn": SENDER_ROLE_ARN, "FilterPattern": ""}
            ),
        }
        if excluded:
            arguments["selectionCriteria"] = f"LogGroupName NOT IN {json.dumps(list(excluded))}"
        self.logs.put_account_policy(**arguments)
        return "org-wide"

    def filters(self, log_group: str) -> dict[str, str]:
        """Filter name -> destination ARN of every subscription filter of `log_group`."""
        response = self.logs.describe_subscription_filters(logGroupName=log_group)
        return {f["filterName"]: f["destinationArn"] for f in response["subscriptionFilters"]}

    def filter(self, log_group: str, filter_name: str) -> SubscriptionFilterTypeDef:
        response = self.logs.describe_subscription_filters(logGroupName=log_group)
        return next(f for f in response["subscriptionFilters"] if f["filterName"] == filter_name)


def throttle(monkeypatch: pytest.MonkeyPatch, operation: str, times: int) -> Callable[[], int]:
    """Make the logs backend answer `operation` (a LogsBackend method name) with
    ThrottlingException `times` times before it serves it; returns how many calls it saw."""
    serve = getattr(LogsBackend, operation)
    calls = 0

    def throttled(backend: LogsBackend, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls <= times:
            raise LogsClientError("ThrottlingException", "Rate exceeded")
        return serve(backend, *args, **kwargs)

    monkeypatch.setattr(LogsBackend, operation, throttled)
    return lambda: calls


class Sweeper:
    """Runs sweeps as the subscriber function, on fake time paced by the quota limiters."""

    def __init__(self, aws: FakeAws, session: boto3.session.Session) -> None:
        self.aws = aws
        self.time = FakeTime()
        self.logs = make_logs_client(
            session, REGION, limiters=quota_limiters(clock=self.time.clock, sleep=self.time.sleep)
        )
        self.lambda_client = session.client("lambda", region_name=REGION)

    def sweep(self, event: Any, seconds: float) -> dict[str, int]:
        with self.aws.iam.enforced():
            return reconcile.sweep(
                event,
                FakeContext(self.time, seconds),
                settings=member_settings(),
                logs_client=self.logs,
                lambda_client=self.lambda_client,
            )
