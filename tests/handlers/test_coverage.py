"""The central coverage check on moto: an organisation of member accounts, each with the
reader role the organization stack deploys, checked by the function role the logging stack
renders, with moto's IAM enforcement on."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto.cloudwatch.models import cloudwatch_backends
from moto.iam.models import iam_backends
from moto.logs.models import SubscriptionFilter, logs_backends
from moto.logs.responses import LogsResponse
from moto.sts.exceptions import STSClientError
from moto.sts.models import STSBackend

from components import policies
from components.coverage import READER_ROLE_NAME, ROLE_NAME
from handlers import coverage
from handlers.coverage import CoverageSettings, CoverageSettingsError, Sessions
from tests.handlers.harness import (
    LOGGING_ACCOUNT,
    MEMBER_ACCOUNT,
    REGION,
    FakeAws,
    FakeTime,
    admin_session,
    session_for,
    with_resources_widened,
    without_action,
)
from tests.infra.harness import Run, run_program

OTHER_REGION = "us-east-1"
REGIONS = [REGION, OTHER_REGION]
# moto's default account creates the organisation: it is the management account.
MANAGEMENT = MEMBER_ACCOUNT
ORGANIZATION_ROLE = f"arn:aws:iam::{MANAGEMENT}:role/central-logging-list-accounts"
BUCKET = "central-archive"
PATTERN = "-DEBUG"
NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
# AWS answers AccessDenied to an AssumeRole of a missing role; moto's STS model names no such
# error shape and says so.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception\\(STSClientError\\) with code AccessDenied:UserWarning"
)


def destination(region: str) -> str:
    return f"arn:aws:logs:{region}:{LOGGING_ACCOUNT}:destination:CentralLogDestination"


def sender(account: str) -> str:
    return f"arn:aws:iam::{account}:role/central-logging-sender"


@functools.cache
def logging_stack() -> Run:
    return run_program(
        {
            "role": "logging",
            "organizationId": "o-a1b2c3d4e5",
            "regions": REGIONS,
            "organizationReaderRoleArn": ORGANIZATION_ROLE,
            "coverageCheck": True,
            "coverageFilterPattern": PATTERN,
            "coverageExcludeLogGroups": ["/aws/lambda/noisy-*"],
            "exemptAccounts": [MANAGEMENT],
        },
        region=REGION,
        account_id=LOGGING_ACCOUNT,
    )


def rendered_environment() -> dict[str, str]:
    function = logging_stack().one("aws:lambda/function:Function", "central-coverage-function")
    variables: dict[str, str] = function.inputs["environment"]["variables"]
    return {**variables, "REPORT_BUCKET": BUCKET}


def rendered_policy() -> dict[str, Any]:
    policy: dict[str, Any] = (
        logging_stack()
        .one("aws:iam/rolePolicy:RolePolicy", "central-coverage-function")
        .policy("policy")
    )
    return policy


def create_role(account: str, name: str, trust: dict[str, Any], policy: dict[str, Any]) -> None:
    iam = admin_session(account).client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName=name,
        PolicyName="policy",
        PolicyDocument=json.dumps(with_resources_widened(policy)),
    )


class AccountPolicies:
    """moto has no account policies: DescribeAccountPolicies answers what a test puts here."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.of: dict[tuple[str, str], list[dict[str, Any]]] = {}
        policies_of = self.of

        def describe_account_policies(response: LogsResponse) -> str:
            found = policies_of.get((response.current_account, response.region), [])
            return json.dumps({"accountPolicies": found})

        monkeypatch.setattr(
            LogsResponse, "describe_account_policies", describe_account_policies, raising=False
        )

    def put(self, account: str, region: str, document: dict[str, Any], criteria: str = "") -> None:
        policy = {
            "policyName": "central-logging",
            "policyType": "SUBSCRIPTION_FILTER_POLICY",
            "policyDocument": json.dumps(document),
            "scope": "ALL",
            "accountId": account,
        }
        if criteria:
            policy["selectionCriteria"] = criteria
        self.of.setdefault((account, region), []).append(policy)


@dataclass
class Organization:
    aws: FakeAws
    account_policies: AccountPolicies
    members: list[str]
    # A member the organization stack does not reach: no reader role.
    dark: str

    def log_group(self, account: str, region: str, name: str, log_class: str = "") -> None:
        logs = admin_session(account).client("logs", region_name=region)
        if log_class:
            logs.create_log_group(logGroupName=name, logGroupClass=log_class)  # type: ignore[arg-type]
        else:
            logs.create_log_group(logGroupName=name)

    def filter(
        self,
        account: str,
        region: str,
        group: str,
        name: str,
        *,
        destination_arn: str | None = None,
        pattern: str = PATTERN,
        role: str | None = None,
    ) -> None:
        """A filter as AWS keeps it (moto routes no filter to another account's destination)."""
        backend = logs_backends[account][region]
        backend.groups[group].subscription_filters[name] = SubscriptionFilter(
            name=name,
            log_group_name=group,
            filter_pattern=pattern,
            destination_arn=destination_arn or destination(region),
            role_arn=role or sender(account),
        )


def refuse_missing_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto lets anyone assume a role that does not exist; AWS refuses it, as here for the
    reader role."""
    assume_role = STSBackend.assume_role

    def assume(backend: STSBackend, **kwargs: Any) -> Any:
        role_arn = kwargs["role_arn"]
        account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[1]
        if name == READER_ROLE_NAME and not any(
            role.name == name for role in iam_backends[account]["global"].get_roles()
        ):
            raise STSClientError(
                "AccessDenied", f"Not authorized to perform: sts:AssumeRole on {role_arn}"
            )
        return assume_role(backend, **kwargs)

    monkeypatch.setattr(STSBackend, "assume_role", assume)


@pytest.fixture
def organization(aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Organization]:
    refuse_missing_readers(monkeypatch)
    management = admin_session(MANAGEMENT).client("organizations", region_name=REGION)
    management.create_organization(FeatureSet="ALL")
    members = [
        management.create_account(AccountName=f"member-{n}", Email=f"m{n}@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        for n in range(3)
    ]
    *reached, dark = members
    for account in reached:
        create_role(
            account,
            READER_ROLE_NAME,
            policies.coverage_reader_trust("aws", LOGGING_ACCOUNT, ROLE_NAME),
            policies.coverage_reader_policy("aws", account),
        )
    create_role(
        MANAGEMENT,
        ORGANIZATION_ROLE.rsplit("/", 1)[1],
        policies.coverage_reader_trust("aws", LOGGING_ACCOUNT, ROLE_NAME),
        policies.coverage_organization_policy(),
    )
    create_role(
        LOGGING_ACCOUNT,
        ROLE_NAME,
        policies.lambda_trust(),
        rendered_policy(),
    )
    s3 = admin_session(LOGGING_ACCOUNT).client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    yield Organization(aws, AccountPolicies(monkeypatch), reached, dark)


@dataclass
class Context:
    """A Lambda context with plenty of time until `calls` questions about it, then little."""

    calls: int = 1_000_000
    invoked_function_arn: str = (
        f"arn:aws:lambda:{REGION}:{LOGGING_ACCOUNT}:function:central-logging-coverage"
    )
    asked: int = field(default=0, init=False)
    lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def get_remaining_time_in_millis(self) -> int:
        with self.lock:
            self.asked += 1
            return 900_000 if self.asked <= self.calls else 1_000


def function_session() -> boto3.session.Session:
    credentials = (
        admin_session(LOGGING_ACCOUNT)
        .client("sts")
        .assume_role(
            RoleArn=f"arn:aws:iam::{LOGGING_ACCOUNT}:role/{ROLE_NAME}", RoleSessionName="coverage"
        )["Credentials"]
    )
    return session_for(credentials)


def check(
    organization: Organization, event: object, context: Context, time: FakeTime | None = None
) -> dict[str, Any]:
    """One invocation, as handler() wires it, with the function role's credentials."""
    settings = CoverageSettings.from_env(rendered_environment())
    paced = time or FakeTime()
    base = function_session()
    listing = base.client("sts").assume_role(
        RoleArn=ORGANIZATION_ROLE, RoleSessionName="central-logging-coverage"
    )["Credentials"]
    with organization.aws.iam.enforced():
        return coverage.run(
            event,
            context,
            settings=settings,
            sessions=Sessions(
                base,
                READER_ROLE_NAME,
                "aws",
                clock=paced.clock,
                sleep=paced.sleep,
            ),
            organizations=session_for(listing).client("organizations", region_name=REGION),
            s3=base.client("s3", region_name=REGION),
            cloudwatch=base.client("cloudwatch", region_name=REGION),
            lambda_client=base.client("lambda", region_name=REGION),
            now=NOW,
        )


def report(key: str = "latest.json") -> dict[str, Any]:
    s3 = admin_session(LOGGING_ACCOUNT).client("s3", region_name=REGION)
    body = s3.get_object(Bucket=BUCKET, Key=f"coverage/{key}")["Body"].read()
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def parts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for url in summary["parts"]:
        key = url.split("/coverage/", 1)[1]
        found += report(key)["accountRegions"]
    return found


def metrics() -> dict[tuple[str, str], float]:
    backend = cloudwatch_backends[LOGGING_ACCOUNT][REGION]
    return {
        (d.name, ",".join(f"{x.name}={x.value}" for x in d.dimensions)): float(d.value)
        for d in backend.metric_data
        if d.namespace == "CentralLogging"
    }


def test_only_filters_that_deliver_as_configured_count_and_dark_accounts_stay_unchecked(
    organization: Organization,
) -> None:
    first, second = organization.members
    for group in ("ours", "wrong-role", "wrong-pattern", "elsewhere", "bare"):
        organization.log_group(first, REGION, group)
    organization.filter(first, REGION, "ours", "central-logging")
    # A second filter to our destination with our pattern, but a role that cannot deliver.
    organization.filter(
        first, REGION, "wrong-role", "x", role=f"arn:aws:iam::{first}:role/cannot-deliver"
    )
    organization.filter(first, REGION, "wrong-pattern", "central-logging", pattern="NEVER")
    organization.filter(
        first,
        REGION,
        "elsewhere",
        "central-logging",
        destination_arn=f"arn:aws:logs:{REGION}:{first}:destination:mine",
    )
    organization.log_group(first, REGION, "/aws/lambda/noisy-job")
    organization.log_group(first, OTHER_REGION, "cold", log_class="INFREQUENT_ACCESS")
    organization.log_group(second, REGION, "covered-by-policy")
    organization.log_group(second, REGION, "left-out")
    organization.account_policies.put(
        second,
        REGION,
        {
            "DestinationArn": destination(REGION),
            "RoleArn": sender(second),
            "FilterPattern": PATTERN,
            "Distribution": "Random",
        },
        criteria='LogGroupName NOT IN ["left-out"]',
    )

    summary = check(organization, {"source": "aws.events"}, Context())

    assert summary["finished"] is True
    assert summary["accounts"] == 3  # the management account is excluded
    results = {(r["account"], r["region"]): r for r in parts(summary)}
    found = results[(first, REGION)]
    assert (found["covered"], found["excluded"], found["uncovered"]) == (1, 1, 4)
    assert {g["logGroup"]: g["reason"] for g in found["uncoveredLogGroups"]} == {
        "wrong-role": "no filter delivers to the archive as configured ('x')",
        "wrong-pattern": "no filter delivers to the archive as configured ('central-logging')",
        "elsewhere": "no filter delivers to the archive as configured ('central-logging')",
        "bare": "no subscription filter",
    }
    assert results[(first, OTHER_REGION)]["uncoveredLogGroups"] == [
        {"logGroup": "cold", "reason": "log class INFREQUENT_ACCESS takes no subscription filter"}
    ]
    by_policy = results[(second, REGION)]
    assert (by_policy["covered"], by_policy["uncovered"]) == (1, 1)
    for region in REGIONS:
        assert results[(organization.dark, region)]["unchecked"].startswith(
            f"cannot assume arn:aws:iam::{organization.dark}:role/{READER_ROLE_NAME}"
        )
    assert summary["uncoveredByRegion"] == {REGION: 5, OTHER_REGION: 1}
    assert summary["uncheckedAccountRegions"] == 2
    assert report() == summary == report(f"{summary['runId']}/report.json")
    assert metrics() == {
        ("UncoveredLogGroups", f"Region={REGION}"): 5,
        ("UncoveredLogGroups", f"Region={OTHER_REGION}"): 1,
        ("UncoveredLogGroups", ""): 6,
        ("UncheckedAccountRegions", ""): 2,
    }


def test_an_account_policy_of_another_destination_or_role_covers_nothing(
    organization: Organization,
) -> None:
    first, second = organization.members
    organization.log_group(first, REGION, "a")
    organization.log_group(second, REGION, "b")
    organization.account_policies.put(
        first,
        REGION,
        {
            "DestinationArn": f"arn:aws:logs:{REGION}:{first}:destination:mine",
            "RoleArn": sender(first),
            "FilterPattern": PATTERN,
        },
    )
    organization.account_policies.put(
        second,
        REGION,
        {
            "DestinationArn": destination(REGION),
            "RoleArn": f"arn:aws:iam::{second}:role/cannot-deliver",
            "FilterPattern": PATTERN,
        },
    )
    summary = check(organization, {}, Context())
    assert summary["uncoveredByRegion"][REGION] == 2


def test_the_check_continues_itself_and_totals_as_one_run(organization: Organization) -> None:
    first, second = organization.members
    for account in (first, second):
        for region in REGIONS:
            for n in range(120):  # three pages of DescribeLogGroups
                organization.log_group(account, region, f"group-{n:03d}")
    expected = check(organization, {}, Context())
    cloudwatch_backends[LOGGING_ACCOUNT][REGION].metric_data.clear()
    organization.aws.invocations.clear()

    summary = check(organization, {}, Context(calls=3))
    rounds = 1
    while not summary["finished"]:
        [invocation] = organization.aws.invocations
        organization.aws.invocations.clear()
        assert invocation.invocation_type == "Event"
        summary = check(organization, invocation.payload, Context(calls=6))
        rounds += 1
    assert rounds > 2
    for key in ("uncoveredByRegion", "uncheckedByRegion", "coveredLogGroups", "accounts"):
        assert summary[key] == expected[key], key
    assert summary["uncoveredByRegion"] == {REGION: 240, OTHER_REGION: 240}
    # Every account-region of the run is in the report, once per page run.
    checked = [r for r in parts(summary) if "unchecked" not in r]
    assert sum(r["uncovered"] for r in checked) == 480


def test_each_account_region_is_paced_under_its_quotas(organization: Organization) -> None:
    first, _ = organization.members
    for n in range(12):
        organization.log_group(first, REGION, f"group-{n:02d}")
    time = FakeTime()
    check(organization, {}, Context(), time)
    # 12 DescribeSubscriptionFilters at 3 a second (and one DescribeLogGroups): the 11 after
    # the first wait a third of a second each.
    assert time.now - FakeTime().now == pytest.approx(11 / 3)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"DESTINATION_ARNS": json.dumps({"eu-west-1": destination(OTHER_REGION)})},
            "DESTINATION_ARNS must be a JSON object of region -> destination ARN, "
            '{"eu-west-1": "arn:aws:logs:..."}; got \'{"eu-west-1": '
            f'"{destination(OTHER_REGION)}"}}\'.',
        ),
        (
            {"ORGANIZATION_ROLE_ARN": "me"},
            "ORGANIZATION_ROLE_ARN must be an IAM role ARN; got 'me'.",
        ),
        (
            {"EXCLUDE_ACCOUNTS": '["1"]'},
            "EXCLUDE_ACCOUNTS must be a JSON array of account IDs; got '[\"1\"]'.",
        ),
        (
            {"REPORT_PREFIX": "/coverage"},
            "REPORT_PREFIX must be a key prefix ending with /; got '/coverage'.",
        ),
    ],
)
def test_bad_settings_are_refused_with_one_sentence(changes: dict[str, str], message: str) -> None:
    with pytest.raises(CoverageSettingsError) as raised:
        CoverageSettings.from_env({**rendered_environment(), **changes})
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "cursor",
    [
        "resume",
        {"runId": "x"},
        {
            "runId": "2026-12-06T03-00-00Z",
            "position": -1,
            "pending": [],
            "parts": 0,
            "uncovered": {},
            "unchecked": {},
            "covered": 0,
            "excluded": 0,
        },
        {
            "runId": "2026-12-06T03-00-00Z",
            "position": 0,
            "pending": [{"account": "111111111111", "region": "mars-1", "nextToken": "t"}],
            "parts": 0,
            "uncovered": {},
            "unchecked": {},
            "covered": 0,
            "excluded": 0,
        },
    ],
)
def test_a_forged_cursor_is_refused(cursor: Any) -> None:
    with pytest.raises(ValueError, match="The event's cursor must be the one an earlier"):
        coverage.read_cursor({"cursor": cursor}, REGIONS, NOW)


def test_the_reader_role_needs_exactly_its_three_describe_actions(
    organization: Organization,
) -> None:
    first, _ = organization.members
    organization.log_group(first, REGION, "a")
    organization.filter(first, REGION, "a", "central-logging")
    complete = policies.coverage_reader_policy("aws", first)
    assert check(organization, {}, Context())["coveredLogGroups"] == 1
    for action in (
        "logs:DescribeAccountPolicies",
        "logs:DescribeLogGroups",
        "logs:DescribeSubscriptionFilters",
    ):
        admin_session(first).client("iam").put_role_policy(
            RoleName=READER_ROLE_NAME,
            PolicyName="policy",
            PolicyDocument=json.dumps(with_resources_widened(without_action(complete, action))),
        )
        summary = check(organization, {}, Context())
        assert summary["coveredLogGroups"] == 0, action
