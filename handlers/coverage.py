"""The central coverage check: does every log group of every account-region of the
organisation deliver to the archive? Runs daily in the logging account's home region.

It trusts the logging side only. The accounts come from AWS Organizations (ListAccounts,
through ORGANIZATION_ROLE_ARN in the management account or a delegated administrator), never
from what delivered lately, so an account that goes dark stays unchecked until it leaves the
organisation. The destinations are the logging stack's own (DESTINATION_ARNS), never a
member's SSM parameter. In each account it assumes READER_ROLE_NAME, which the organization
stack deploys with DescribeLogGroups, DescribeSubscriptionFilters and DescribeAccountPolicies
only, and judges every filter and account policy with the one definition of "delivers to the
archive" in handlers/core.py.

Pacing: per account and region, DescribeLogGroups is limited to 10 and
DescribeSubscriptionFilters to 5 calls a second, neither adjustable (CloudWatch Logs quotas:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html). The
member's own subscriber shares them, so the check keeps to 5 and 3 a second, each
account-region with its own limiters, PARALLEL_ACCOUNT_REGIONS account-regions at once.

Before the Lambda time limit it invokes itself with a cursor (the position in the sorted
account x region list and the account-regions it left half done), like handlers/reconcile.py.

At 2,000 accounts x 17 regions = 34,000 account-regions, N log groups each (say 200):
- calls a day: ListAccounts 100 pages (20 accounts each), AssumeRole about 2,000 per
  invocation that reaches an account (credentials last an hour), and per account-region
  1 DescribeAccountPolicies + N/50 DescribeLogGroups + N DescribeSubscriptionFilters (none
  where an account policy covers every group): about 7 million, all free of charge;
- time: N/3 s per account-region (67 s), 34,000 x 67 s / 128 = 5 h a day, about 20 chained
  invocations of 15 minutes;
- Lambda cost: 17,700 s x 0.5 GB x $0.0000133334 per GB-s (arm64, us-east-1,
  https://aws.amazon.com/lambda/pricing/) = $0.12 a day, under $4 a month;
- metrics: UncoveredLogGroups per region and in all, UncheckedAccountRegions in all: 19
  custom metrics, about $5.70 a month (https://aws.amazon.com/cloudwatch/pricing/);
- report: one S3 object per invocation and two at the end.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from handlers.core import (
    CLASSES_WITHOUT_FILTERS,
    STANDARD_CLASS,
    RateLimiter,
    Settings,
    _is_as_configured,
    account_policy_coverage,
    delivery_log_groups,
    describe_filters,
    is_excluded,
    json_logger,
    make_logs_client,
    read_account_policies,
)
from handlers.freshness import METRIC_NAMESPACE

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_s3 import S3Client

LOGGER = json_logger("central_logging.coverage")

UNCOVERED_METRIC = "UncoveredLogGroups"
UNCHECKED_METRIC = "UncheckedAccountRegions"
# What the check asks of each account-region per second (out of 10 and 5).
RATES_PER_SECOND: Mapping[str, float] = {"DescribeLogGroups": 5, "DescribeSubscriptionFilters": 3}
PARALLEL_ACCOUNT_REGIONS = 128
PAGE_SIZE = 50  # the most DescribeLogGroups returns per page
# Time kept in hand: a page of 50 groups takes about 17 s at 3 calls a second, retries up to
# 71 s more, then the report part and the continuing invocation.
SAFETY_MARGIN_MS = 150_000
# Uncovered log groups named per account-region in the report (the counts are exact; `audit`
# lists one account in full).
LISTED_PER_ACCOUNT_REGION = 50
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_DESTINATION_ARN = re.compile(r"arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:destination:[^:*\s]{1,512}")
# Settings needs a filter name; "delivers to the archive" does not depend on it.
_ANY_FILTER_NAME = "central-logging"


class CoverageSettingsError(ValueError):
    """An environment variable of the coverage function has a value that is not allowed."""


def _error(variable: str, value: str | None, allowed: str) -> CoverageSettingsError:
    found = "it is not set" if value is None else f"got {value!r}"
    return CoverageSettingsError(f"{variable} must be {allowed}; {found}.")


@dataclass(frozen=True)
class CoverageSettings:
    destination_arns: Mapping[str, str]
    organization_role_arn: str
    reader_role_name: str
    sender_role_name: str
    report_bucket: str
    report_prefix: str
    filter_pattern: str = ""
    exclude_patterns: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()

    @property
    def regions(self) -> list[str]:
        return sorted(self.destination_arns)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CoverageSettings:
        destinations = _json(env, "DESTINATION_ARNS")
        allowed = 'a JSON object of region -> destination ARN, {"eu-west-1": "arn:aws:logs:..."}'
        if (
            not isinstance(destinations, dict)
            or not destinations
            or not all(
                isinstance(r, str)
                and _REGION.fullmatch(r)
                and isinstance(a, str)
                and _DESTINATION_ARN.fullmatch(a)
                and a.split(":")[3] == r
                for r, a in destinations.items()
            )
        ):
            raise _error("DESTINATION_ARNS", env.get("DESTINATION_ARNS"), allowed)
        role_arn = env.get("ORGANIZATION_ROLE_ARN")
        if role_arn is None or not _ROLE_ARN.fullmatch(role_arn):
            raise _error("ORGANIZATION_ROLE_ARN", role_arn, "an IAM role ARN")
        names = {}
        for variable in ("READER_ROLE_NAME", "SENDER_ROLE_NAME"):
            value = env.get(variable)
            if value is None or not _ROLE_NAME.fullmatch(value):
                raise _error(variable, value, "an IAM role name")
            names[variable] = value
        bucket = env.get("REPORT_BUCKET") or None
        if bucket is None:
            raise _error("REPORT_BUCKET", bucket, "the name of the bucket for the report")
        prefix = env.get("REPORT_PREFIX", "")
        if not prefix.endswith("/") or prefix.startswith("/"):
            raise _error("REPORT_PREFIX", prefix, "a key prefix ending with /")
        return cls(
            destination_arns=destinations,
            organization_role_arn=role_arn,
            reader_role_name=names["READER_ROLE_NAME"],
            sender_role_name=names["SENDER_ROLE_NAME"],
            report_bucket=bucket,
            report_prefix=prefix,
            filter_pattern=env.get("FILTER_PATTERN", ""),
            exclude_patterns=_strings(env, "EXCLUDE_PATTERNS", bool, "non-empty glob patterns"),
            exclude_accounts=_strings(
                env, "EXCLUDE_ACCOUNTS", lambda a: bool(_ACCOUNT.fullmatch(a)), "account IDs"
            ),
        )

    def subscription(self, account: str, region: str) -> Settings:
        """What delivering to the archive means for this account-region: the logging stack's
        destination, the members' pattern, and the sender role the organization stack puts
        in every account."""
        destination = self.destination_arns[region]
        partition = destination.split(":")[1]
        return Settings(
            destination_arn=destination,
            sender_role_arn=f"arn:{partition}:iam::{account}:role/{self.sender_role_name}",
            filter_name=_ANY_FILTER_NAME,
            filter_pattern=self.filter_pattern,
            # The logging account never subscribes its delivery path's own log group.
            exclude_patterns=(*self.exclude_patterns, *delivery_log_groups(destination, account)),
        )


def _json(env: Mapping[str, str], variable: str) -> Any:
    try:
        return json.loads(env.get(variable) or "null")
    except ValueError:
        return None


def _strings(
    env: Mapping[str, str], variable: str, valid: Callable[[str], bool], entries: str
) -> tuple[str, ...]:
    if not env.get(variable):
        return ()
    value = _json(env, variable)
    if not isinstance(value, list) or not all(isinstance(v, str) and valid(v) for v in value):
        raise _error(variable, env.get(variable), f"a JSON array of {entries}")
    return tuple(value)


class LambdaContext(Protocol):
    @property
    def invoked_function_arn(self) -> str: ...

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass
class Cursor:
    """Where a run stands: its ID, the next account-region of the sorted list to start, the
    account-regions started and not finished, the report parts written, and the totals."""

    run_id: str
    position: int = 0
    pending: list[dict[str, str]] = field(default_factory=list)
    parts: int = 0
    uncovered: Counter[str] = field(default_factory=Counter)
    unchecked: Counter[str] = field(default_factory=Counter)
    covered: int = 0
    excluded: int = 0

    def as_event(self) -> dict[str, Any]:
        return {
            "cursor": {
                "runId": self.run_id,
                "position": self.position,
                "pending": self.pending,
                "parts": self.parts,
                "uncovered": dict(self.uncovered),
                "unchecked": dict(self.unchecked),
                "covered": self.covered,
                "excluded": self.excluded,
            }
        }


def _counts(value: Any, regions: Sequence[str]) -> bool:
    return isinstance(value, dict) and all(
        r in regions and type(n) is int and n >= 0 for r, n in value.items()
    )


def read_cursor(event: object, regions: Sequence[str], now: datetime) -> Cursor:
    """The cursor an earlier invocation handed on, or a new run's."""
    if not isinstance(event, dict) or "cursor" not in event:
        return Cursor(run_id=now.strftime("%Y-%m-%dT%H-%M-%SZ"))
    cursor = event["cursor"]
    keys = {"runId", "position", "pending", "parts", "uncovered", "unchecked", "covered"}
    if (
        isinstance(cursor, dict)
        and set(cursor) == {*keys, "excluded"}
        and isinstance(cursor["runId"], str)
        and re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z", cursor["runId"])
        and all(type(cursor[k]) is int and cursor[k] >= 0 for k in ("position", "parts"))
        and all(type(cursor[k]) is int and cursor[k] >= 0 for k in ("covered", "excluded"))
        and _counts(cursor["uncovered"], regions)
        and _counts(cursor["unchecked"], regions)
        and isinstance(cursor["pending"], list)
        and all(
            isinstance(p, dict)
            and set(p) == {"account", "region", "nextToken"}
            and isinstance(p["account"], str)
            and _ACCOUNT.fullmatch(p["account"])
            and p["region"] in regions
            and isinstance(p["nextToken"], str)
            and p["nextToken"]
            for p in cursor["pending"]
        )
    ):
        return Cursor(
            run_id=cursor["runId"],
            position=cursor["position"],
            pending=cursor["pending"],
            parts=cursor["parts"],
            uncovered=Counter(cursor["uncovered"]),
            unchecked=Counter(cursor["unchecked"]),
            covered=cursor["covered"],
            excluded=cursor["excluded"],
        )
    raise ValueError(
        "The event's cursor must be the one an earlier invocation of the coverage check "
        f"handed on; got {json.dumps(cursor, default=str)}."
    )


@dataclass
class AccountRegion:
    """The result of checking (part of) one account-region."""

    account: str
    region: str
    covered: int = 0
    excluded: int = 0
    uncovered: int = 0
    listed: list[dict[str, str]] = field(default_factory=list)
    # Set when the check stopped for time: where to go on.
    next_token: str | None = None
    # Set when the account-region could not be read at all.
    unchecked: str | None = None

    def add_uncovered(self, log_group: str, reason: str) -> None:
        self.uncovered += 1
        if len(self.listed) < LISTED_PER_ACCOUNT_REGION:
            self.listed.append({"logGroup": log_group, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"account": self.account, "region": self.region}
        if self.unchecked:
            found["unchecked"] = self.unchecked
            return found
        found.update(covered=self.covered, excluded=self.excluded, uncovered=self.uncovered)
        if self.listed:
            found["uncoveredLogGroups"] = self.listed
        if self.next_token:
            found["continues"] = True
        return found


def _error_text(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Unknown')}: {details.get('Message', '')}"
    return f"{type(error).__name__}: {error}"


def account_policy_selection(
    logs: CloudWatchLogsClient, settings: Settings
) -> Callable[[str], bool] | None:
    """Which log groups an account-level subscription filter policy delivers to the archive,
    or None if no policy of this account does: judged by the one definition in
    handlers/core.py (`account_policy_coverage`), which trusts no selection it cannot read."""
    policies = read_account_policies(logs)
    if not policies:
        return None
    return lambda name: account_policy_coverage(name, policies, settings) is not None


def check_account_region(
    logs: CloudWatchLogsClient,
    result: AccountRegion,
    settings: Settings,
    next_token: str | None,
    out_of_time: Callable[[], bool],
) -> AccountRegion:
    """Judge every log group of one account-region, from `next_token` on, page by page,
    until done or `out_of_time()`."""
    by_policy = account_policy_selection(logs, settings)
    while True:
        arguments: dict[str, Any] = {"limit": PAGE_SIZE}
        if next_token:
            arguments["nextToken"] = next_token
        page = logs.describe_log_groups(**arguments)
        for group in page.get("logGroups", []):
            name = group["logGroupName"]
            log_class = group.get("logGroupClass", STANDARD_CLASS)
            if is_excluded(name, settings.exclude_patterns):
                result.excluded += 1
            elif log_class in CLASSES_WITHOUT_FILTERS:
                result.add_uncovered(name, f"log class {log_class} takes no subscription filter")
            elif by_policy is not None and by_policy(name):
                result.covered += 1
            else:
                _judge_filters(logs, result, settings, name)
        next_token = page.get("nextToken")
        if not next_token:
            result.next_token = None
            return result
        if out_of_time():
            result.next_token = next_token
            return result


def _judge_filters(
    logs: CloudWatchLogsClient, result: AccountRegion, settings: Settings, name: str
) -> None:
    try:
        filters = describe_filters(logs, name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return  # deleted since it was listed
        result.add_uncovered(name, f"its filters could not be read: {_error_text(error)}")
        return
    except BotoCoreError as error:
        result.add_uncovered(name, f"its filters could not be read: {_error_text(error)}")
        return
    if any(_is_as_configured(f, settings) for f in filters):
        result.covered += 1
    elif filters:
        names = ", ".join(repr(f.get("filterName", "")) for f in filters)
        result.add_uncovered(name, f"no filter delivers to the archive as configured ({names})")
    else:
        result.add_uncovered(name, "no subscription filter")


def list_accounts(organizations: OrganizationsClient) -> list[str]:
    """The IDs of the organisation's ACTIVE accounts, sorted (ListAccounts: "This operation
    can be called only from the organization's management account or by a member account
    that is a delegated administrator",
    https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccounts.html)."""
    accounts = []
    for page in organizations.get_paginator("list_accounts").paginate():
        accounts += [a["Id"] for a in page.get("Accounts", []) if a.get("Status") == "ACTIVE"]
    return sorted(accounts)


class Sessions:
    """An assumed-role session per account, made once per invocation, thread-safe."""

    def __init__(
        self,
        base: boto3.session.Session,
        role_name: str,
        partition: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base = base
        # Clients are thread-safe, sessions are not: one STS client for every AssumeRole.
        self._sts = base.client("sts")
        self._role_name = role_name
        self._partition = partition
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._account_locks: dict[str, threading.Lock] = {}
        self._sessions: dict[str, boto3.session.Session | str] = {}

    def session(self, account: str) -> boto3.session.Session | str:
        """The account's session, or why there is none; one AssumeRole per account, while
        other accounts' go on in parallel."""
        with self._lock:
            account_lock = self._account_locks.setdefault(account, threading.Lock())
        with account_lock:
            if account not in self._sessions:
                self._sessions[account] = self._assume(account)
            return self._sessions[account]

    def _assume(self, account: str) -> boto3.session.Session | str:
        role = f"arn:{self._partition}:iam::{account}:role/{self._role_name}"
        try:
            credentials = self._sts.assume_role(
                RoleArn=role, RoleSessionName="central-logging-coverage"
            )["Credentials"]
        except (ClientError, BotoCoreError) as error:
            return f"cannot assume {role}: {_error_text(error)}"
        return boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    def logs_client(self, session: boto3.session.Session, region: str) -> CloudWatchLogsClient:
        # Client creation from a shared session is not thread-safe.
        with self._lock:
            return make_logs_client(
                session,
                region,
                limiters={
                    operation: RateLimiter(rate, clock=self._clock, sleep=self._sleep)
                    for operation, rate in RATES_PER_SECOND.items()
                },
            )


def run(
    event: object,
    context: LambdaContext,
    *,
    settings: CoverageSettings,
    sessions: Sessions,
    organizations: OrganizationsClient,
    s3: S3Client,
    cloudwatch: CloudWatchClient,
    lambda_client: LambdaClient,
    now: datetime,
) -> dict[str, Any]:
    """Check from the cursor on; hand on before the time limit, or finish the run."""
    regions = settings.regions
    cursor = read_cursor(event, regions, now)
    accounts = [a for a in list_accounts(organizations) if a not in settings.exclude_accounts]

    def out_of_time() -> bool:
        return context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS

    def check(account: str, region: str, token: str | None) -> AccountRegion:
        result = AccountRegion(account, region)
        session = sessions.session(account)
        if isinstance(session, str):
            result.unchecked = session
            return result
        try:
            logs = sessions.logs_client(session, region)
            return check_account_region(
                logs, result, settings.subscription(account, region), token, out_of_time
            )
        except (ClientError, BotoCoreError) as error:
            result.unchecked = _error_text(error)
            return result

    # The account-regions left half done come first, then the rest in order. An account
    # that joins or leaves during a run moves the order: the run may check an account-region
    # twice or miss one, and the next day's run sees it.
    order = [(account, region) for account in accounts for region in regions]
    half_done = [(p["account"], p["region"], p["nextToken"]) for p in cursor.pending]
    cursor.pending = []

    def next_item() -> tuple[str, str, str | None] | None:
        if half_done:
            return half_done.pop(0)
        if cursor.position < len(order):
            cursor.position += 1
            return (*order[cursor.position - 1], None)
        return None

    results: list[AccountRegion] = []
    with ThreadPoolExecutor(max_workers=PARALLEL_ACCOUNT_REGIONS) as pool:
        running: set[Future[AccountRegion]] = set()
        while True:
            while len(running) < PARALLEL_ACCOUNT_REGIONS and not out_of_time():
                item = next_item()
                if item is None:
                    break
                running.add(pool.submit(check, *item))
            if not running:
                break
            done, running = wait(running, return_when=FIRST_COMPLETED)
            results += [future.result() for future in done]
    for result in results:
        _count(cursor, result)
    cursor.pending += [{"account": a, "region": r, "nextToken": t} for a, r, t in half_done if t]
    finished = not cursor.pending and cursor.position >= len(order)
    _write(s3, settings, f"{cursor.run_id}/part-{cursor.parts:05d}.json", results)
    cursor.parts += 1
    summary = _summary(cursor, settings, len(accounts), finished, now)
    if finished:
        _publish(cloudwatch, cursor, regions)
        _write_object(s3, settings, f"{cursor.run_id}/report.json", summary)
        _write_object(s3, settings, "latest.json", summary)
        LOGGER.info("coverage checked", extra={"fields": summary})
    else:
        LOGGER.info("coverage check continues", extra={"fields": summary})
        lambda_client.invoke(
            FunctionName=context.invoked_function_arn,
            InvocationType="Event",
            Payload=json.dumps(cursor.as_event()),
        )
    return summary


def _count(cursor: Cursor, result: AccountRegion) -> None:
    if result.unchecked:
        cursor.unchecked[result.region] += 1
        LOGGER.warning("account-region unchecked", extra={"fields": result.as_dict()})
        return
    cursor.covered += result.covered
    cursor.excluded += result.excluded
    cursor.uncovered[result.region] += result.uncovered
    if result.next_token:
        cursor.pending.append(
            {"account": result.account, "region": result.region, "nextToken": result.next_token}
        )


def _summary(
    cursor: Cursor, settings: CoverageSettings, accounts: int, finished: bool, now: datetime
) -> dict[str, Any]:
    return {
        "runId": cursor.run_id,
        "finished": finished,
        "at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "accounts": accounts,
        "regions": settings.regions,
        "coveredLogGroups": cursor.covered,
        "excludedLogGroups": cursor.excluded,
        "uncoveredLogGroups": sum(cursor.uncovered.values()),
        "uncoveredByRegion": {r: cursor.uncovered[r] for r in settings.regions},
        "uncheckedAccountRegions": sum(cursor.unchecked.values()),
        "uncheckedByRegion": {r: cursor.unchecked[r] for r in settings.regions},
        "parts": [
            f"s3://{settings.report_bucket}/{settings.report_prefix}{cursor.run_id}/part-{n:05d}.json"
            for n in range(cursor.parts)
        ],
    }


def _write_object(s3: S3Client, settings: CoverageSettings, key: str, body: Any) -> None:
    s3.put_object(
        Bucket=settings.report_bucket,
        Key=f"{settings.report_prefix}{key}",
        Body=json.dumps(body, indent=1).encode(),
        ContentType="application/json",
    )


def _write(
    s3: S3Client, settings: CoverageSettings, key: str, results: Sequence[AccountRegion]
) -> None:
    _write_object(s3, settings, key, {"accountRegions": [r.as_dict() for r in results]})


def _publish(cloudwatch: CloudWatchClient, cursor: Cursor, regions: Sequence[str]) -> None:
    """One value per region and one in all, once a run: an alarm on the total needs no
    dimension per region."""
    data: list[MetricDatumTypeDef] = [
        {
            "MetricName": UNCOVERED_METRIC,
            "Dimensions": [{"Name": "Region", "Value": region}],
            "Value": cursor.uncovered[region],
            "Unit": "Count",
        }
        for region in regions
    ]
    data.append(
        {"MetricName": UNCOVERED_METRIC, "Value": sum(cursor.uncovered.values()), "Unit": "Count"}
    )
    data.append(
        {"MetricName": UNCHECKED_METRIC, "Value": sum(cursor.unchecked.values()), "Unit": "Count"}
    )
    cloudwatch.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=data)


def handler(event: object, context: LambdaContext) -> dict[str, Any]:
    settings = CoverageSettings.from_env(os.environ)
    region = os.environ.get("AWS_REGION")
    base = boto3.session.Session()
    partition = settings.organization_role_arn.split(":")[1]
    organization = base.client("sts", region_name=region).assume_role(
        RoleArn=settings.organization_role_arn, RoleSessionName="central-logging-coverage"
    )["Credentials"]
    organizations = boto3.session.Session(
        aws_access_key_id=organization["AccessKeyId"],
        aws_secret_access_key=organization["SecretAccessKey"],
        aws_session_token=organization["SessionToken"],
    ).client("organizations", region_name=region)
    return run(
        event,
        context,
        settings=settings,
        sessions=Sessions(base, settings.reader_role_name, partition),
        organizations=organizations,
        s3=base.client("s3", region_name=region),
        cloudwatch=base.client("cloudwatch", region_name=region),
        lambda_client=base.client("lambda", region_name=region),
        now=datetime.fromtimestamp(time.time(), UTC),
    )
