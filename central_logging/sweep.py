"""`central-logging subscribe` (formerly `backfill`, still an alias), `audit` and `unsubscribe`
(design section 4), and how `history` reaches AWS; `central_logging/cli.py` dispatches here.

Unless told otherwise by flags, each account-region is swept with the settings its member stack
wrote there (SSM /central-logging/settings, central_logging/stack_settings.py), so that the
CLI's defaults never fight the stack's.

All three sweep every log group of each account-region through the shared core in
`handlers.core`, so they decide exactly as the subscriber Lambda does. Within one
account-region, DescribeLogGroups lists, a describe pipeline reads the filters of each log group
once, and a write pipeline puts (or deletes) the filters that need it, each paced under its own
per-second quota by the core's rate limiters, so both 5/s budgets are busy at once.
Account-regions run in parallel. Ctrl-C stops the sweep, prints the report so far and exits 130;
a rerun finishes the job, as every step is decided afresh from what AWS holds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import boto3
import botocore.session
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    RefreshableCredentials,
)
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from central_logging import options
from central_logging.archive import NO_CREDENTIALS
from central_logging.archive import UsageError as ArchiveUsageError
from central_logging.cli import INTERRUPTED
from central_logging.history import (
    Access,
    GroupReport,
    add_history_arguments,
    check_usage,
    run_history,
)
from central_logging.options import PROG
from central_logging.stack_settings import StackSettings, StackSettingsError, read_stack_settings
from handlers.core import (
    ALREADY_SUBSCRIBED,
    CLASSES_WITHOUT_FILTERS,
    DESTINATION_PARAMETER,
    DRIFT_RULE_DESCRIPTION,
    FAILED,
    FUNCTION_NAMES,
    LIMIT_EXCEEDED,
    NO_SENDER_ROLE,
    NOT_SUBSCRIBED,
    SENDER_ROLE_PARAMETER,
    SETTINGS_PARAMETER,
    STANDARD_CLASS,
    SUBSCRIBED,
    UNSUPPORTED_CLASS,
    UPDATED,
    Decision,
    Result,
    Settings,
    SettingsError,
    account_policy_coverage,
    apply,
    decide,
    delivery_log_groups,
    describe_filters,
    error_result,
    is_excluded,
    make_logs_client,
    quota_limiters,
    read_account_policies,
    unsubscribe,
    unsupported_class,
)
from handlers.trails import management_trail

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import SubscriptionFilterTypeDef

T = TypeVar("T")
DEFAULT_FILTER_NAME = "central-logging"
# Audit and dry runs cannot try a put to learn whether a log group has a free filter slot, so
# they infer full slots from the limit AWS documents today (design section 6). A real backfill
# leaves the limit to AWS; the read-only detail says what it assumed.
DOCUMENTED_FILTER_SLOTS = 2
# Threads per pipeline and account-region: the rate limiters set the pace; more than one thread
# keeps a pipeline at its quota when a call takes longer than the 200 ms between two calls.
PIPELINE_THREADS = 4
MAX_PARALLEL_ACCOUNT_REGIONS = 64
# Outcomes that leave a log group without delivery: backfill and audit exit 1 while any remain.
GAPS = frozenset({NOT_SUBSCRIBED, LIMIT_EXCEEDED, FAILED})
# A log class as DescribeLogGroups names it (STANDARD, INFREQUENT_ACCESS, DELIVERY, ...).
_LOG_CLASS = re.compile(r"[A-Z][A-Z_]{0,63}")
# Settings variables of the core, named as the CLI flags that set them.
_FLAG_OF_VARIABLE = {
    "DESTINATION_ARN": "--destination-arn",
    "SENDER_ROLE_ARN": "--role-arn",
    "FILTER_NAME": "--filter-name",
    "FILTER_PATTERN": "--filter-pattern",
    "EXCLUDE_PATTERNS": "--exclude",
    "REPLACE_FILTER_NAMES": "--replace-filter",
}
# Where a command's outcome leaves the log group delivering to the archive (for --summary).
COVERED = frozenset({SUBSCRIBED, UPDATED, ALREADY_SUBSCRIBED})


class UsageError(Exception):
    """Bad usage or configuration: exit 2 with this one sentence on stderr."""


@dataclass(frozen=True)
class Entry:
    """One line of the report."""

    account: str
    region: str
    result: Result
    log_class: str = STANDARD_CLASS

    def as_dict(self) -> dict[str, str | None]:
        return {"account": self.account, "region": self.region, **self.result.as_dict()}

    @property
    def order(self) -> tuple[str, str, str]:
        return (self.account, self.region, self.result.log_group or "")


@dataclass(frozen=True)
class Target:
    """One account-region to sweep."""

    account: str
    region: str
    # What to subscribe; None for `unsubscribe`, which needs only the filter names.
    settings: Settings | None
    # The role assumed in the account, refreshed as it expires; None: the caller's own.
    credentials: Credentials | None
    # The filters this project owns there (what `unsubscribe` removes).
    owned_filter_names: frozenset[str] = frozenset()


STACK_DEFAULT = f"default: the stack's (SSM parameter {SETTINGS_PARAMETER} of each account-region)"


def add_sweep_parser(
    commands: Any, name: str, text: str, aliases: Sequence[str] = ()
) -> argparse.ArgumentParser:
    """Register `name` (subscribe, audit, unsubscribe or history) on an argparse subparsers
    object, `text` its help; returns its parser."""
    command: argparse.ArgumentParser = commands.add_parser(
        name, aliases=aliases, help=text, description=text
    )
    if name == "history":
        add_history_arguments(command)
    if name != "unsubscribe":
        command.add_argument(
            "--destination-arn",
            action="append",
            default=[],
            metavar="ARN",
            help="destination for the region named in it (repeatable); default: the SSM "
            f"parameter {DESTINATION_PARAMETER} of each --region",
        )
        command.add_argument(
            "--logging-outputs",
            metavar="FILE|JSON",
            help="the logging stack's outputs (`pulumi stack output --json`, a file or the "
            "JSON itself): the destination of each region from its destinationArns; default: none",
        )
        command.add_argument(
            "--logging-account",
            metavar="ID",
            help="the logging account: every destination must be in it; with neither "
            "--destination-arn nor --logging-outputs, an SSM parameter naming another "
            "account is reported as a finding; default: none",
        )
        command.add_argument(
            "--allow-class",
            action="append",
            default=[],
            metavar="CLASS",
            help="a log class whose log groups may stay uncovered (repeatable), such as "
            f"{' or '.join(sorted(CLASSES_WITHOUT_FILTERS))}; default: none",
        )
        command.add_argument(
            "--role-arn",
            help="role CloudWatch Logs assumes to deliver; with --accounts or "
            "--organization, the role of the same name in each account; default: the SSM "
            f"parameter {SENDER_ROLE_PARAMETER} of each account-region, else none",
        )
    command.add_argument(
        "--filter-name",
        metavar="NAME",
        help=f"the filter this project owns; {STACK_DEFAULT}, else {DEFAULT_FILTER_NAME}",
    )
    if name != "unsubscribe":
        command.add_argument(
            "--filter-pattern",
            metavar="PATTERN",
            help=f"CloudWatch Logs filter pattern; {STACK_DEFAULT}, else all events",
        )
        command.add_argument(
            "--exclude",
            action="append",
            metavar="GLOB",
            help="log groups never subscribed (repeatable; replaces the stack's list); "
            f"{STACK_DEFAULT}, else none",
        )
    command.add_argument(
        "--replace-filter",
        action="append",
        metavar="NAME",
        help="an earlier filter this project may replace (repeatable; replaces the stack's "
        f"list); {STACK_DEFAULT}, else none",
    )
    if name != "audit":
        command.add_argument(
            "--dry-run", action="store_true", help="write nothing, say what (default: off)"
        )
    command.add_argument(
        "--json", action="store_true", help="print one JSON report (default: text)"
    )
    command.add_argument(
        "--summary",
        action="store_true",
        help="one line per account-region: covered, and uncovered by reason "
        "(default: every problem log group)",
    )
    command.add_argument(
        "--region",
        action="append",
        default=[],
        help="AWS region (repeatable); default: the configured region, or those of "
        "--destination-arn",
    )
    command.add_argument("--profile", help="AWS profile; default: the standard chain")
    accounts = command.add_mutually_exclusive_group()
    accounts.add_argument(
        "--accounts",
        nargs="+",
        default=[],
        metavar="ID",
        help="sweep these accounts through --assume-role; default: the caller's own",
    )
    accounts.add_argument(
        "--organization",
        action="store_true",
        help="sweep every active account of the organization (default: off)",
    )
    command.add_argument(
        "--assume-role",
        metavar="NAME",
        help="role assumed in each account; default: none (needed with --accounts or "
        "--organization)",
    )
    # What a command has no flag for is not used by it.
    command.set_defaults(
        destination_arn=[],
        role_arn=None,
        filter_pattern=None,
        exclude=None,
        dry_run=False,
        logging_outputs=None,
        logging_account=None,
        allow_class=[],
    )
    return command


def _chosen(given: T | None, from_stack: T | None, default: T) -> T:
    """A flag as given, else the stack's value, else the CLI's own default."""
    if given is not None:
        return given
    return default if from_stack is None else from_stack


def _settings(
    args: argparse.Namespace,
    destination_arn: str,
    role_arn: str | None,
    delivery_groups: Sequence[str] = (),
    stack: StackSettings | None = None,
) -> Settings:
    """The core's settings, validated by the core; its errors name the CLI flags, or the
    stack's parameter where a value came from there."""
    excludes = _chosen(args.exclude, stack and list(stack.exclude_log_groups), [])
    replace = _chosen(args.replace_filter, stack and list(stack.replace_filter_names), [])
    env = {
        "DESTINATION_ARN": destination_arn,
        "SENDER_ROLE_ARN": role_arn or "",
        "FILTER_NAME": _chosen(args.filter_name, stack and stack.filter_name, DEFAULT_FILTER_NAME),
        "FILTER_PATTERN": _chosen(args.filter_pattern, stack and stack.filter_pattern, ""),
        "EXCLUDE_PATTERNS": json.dumps([*excludes, *delivery_groups]),
        "REPLACE_FILTER_NAMES": json.dumps(replace),
    }
    try:
        return Settings.from_env(env)
    except SettingsError as error:
        message = str(error)
        variable = message.split(" ", 1)[0]
        source = (
            _FLAG_OF_VARIABLE[variable] if stack is None else f"{variable} of the stack's settings"
        )
        raise UsageError(source + message[len(variable) :]) from error


def _owned_filter_names(
    args: argparse.Namespace, stack: StackSettings | None = None
) -> frozenset[str]:
    # The core validates filter names; any destination ARN does for that.
    placeholder = "arn:aws:logs:us-east-1:000000000000:destination:unused"
    return _settings(args, placeholder, None, stack=stack).owned_filter_names


def _stack_settings(
    session: boto3.session.Session, account: str, region: str
) -> StackSettings | None:
    """What the member stack wrote in this account-region, or None if nothing."""
    try:
        return read_stack_settings(lambda name: _parameter(session, region, name))
    except StackSettingsError as error:
        raise UsageError(f"Account {account} region {region}: {error}") from error


def _region_of(destination_arn: str) -> str:
    return destination_arn.split(":")[3]


def _account_of(arn: str) -> str:
    return arn.split(":")[4]


def _output_destinations(args: argparse.Namespace) -> list[str]:
    """The destination ARNs of --logging-outputs: its `destinationArns`, region -> ARN."""
    raw: str = args.logging_outputs
    if not raw.lstrip().startswith("{"):
        try:
            with open(raw, encoding="utf-8") as file:
                raw = file.read()
        except OSError as error:
            raise UsageError(f"--logging-outputs could not be read: {error.strerror}.") from error
    try:
        outputs = json.loads(raw)
    except ValueError:
        outputs = None
    arns = outputs.get("destinationArns") if isinstance(outputs, dict) else None
    if not isinstance(arns, dict) or not arns or not all(isinstance(a, str) for a in arns.values()):
        raise UsageError(
            "--logging-outputs must be the logging stack's outputs as JSON (pulumi stack output "
            "--json) with destinationArns, an object of region to destination ARN."
        )
    return list(arns.values())


def _given_destinations(args: argparse.Namespace) -> dict[str, str]:
    """--destination-arn (or --logging-outputs) by region, each validated: a usage error before
    any AWS call."""
    if args.logging_account is not None and not (
        len(args.logging_account) == 12 and args.logging_account.isdigit()
    ):
        raise UsageError(
            f"--logging-account takes a 12-digit account ID; got {args.logging_account!r}."
        )
    if args.logging_outputs is not None and args.destination_arn:
        raise UsageError("Give --destination-arn or --logging-outputs, not both.")
    arns = _output_destinations(args) if args.logging_outputs is not None else args.destination_arn
    given: dict[str, str] = {}
    for arn in arns:
        _settings(args, arn, args.role_arn)
        region = _region_of(arn)
        if region in given:
            raise UsageError(f"Two --destination-arn values name region {region}; give one.")
        given[region] = arn
    accounts = sorted({_account_of(arn) for arn in given.values()})
    expected = args.logging_account or (accounts[0] if accounts else None)
    strays = [a for a in accounts if a != expected]
    if strays:
        raise UsageError(
            f"Destination account {strays[0]} is not the logging account {expected}: every "
            "destination must be in the one logging account."
        )
    if args.command == "audit" and not given and args.logging_account is None:
        raise UsageError(
            "Audit trusts only the logging side: pass --destination-arn, --logging-outputs or "
            "--logging-account (the audited account's own SSM parameter cannot vouch for itself)."
        )
    return given


def _regions(args: argparse.Namespace, session: boto3.session.Session) -> list[str]:
    given = _given_destinations(args)
    regions: list[str] = list(dict.fromkeys(args.region))
    if not regions:
        regions = list(given) or ([session.region_name] if session.region_name else [])
    if not regions:
        raise UsageError("No region is configured; pass --region or set AWS_REGION.")
    missing = [r for r in regions if given and r not in given]
    if missing:
        raise UsageError(f"No --destination-arn covers region {', '.join(missing)}.")
    return regions


def _parameter(session: boto3.session.Session, region: str, name: str) -> str | None:
    """The value of an SSM parameter the member stack writes; None if it is not there."""
    try:
        response = session.client("ssm", region_name=region).get_parameter(Name=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise UsageError(f"Could not read SSM parameter {name} in {region}: {error}") from error
    except BotoCoreError as error:
        raise UsageError(f"Could not read SSM parameter {name} in {region}: {error}") from error
    return response["Parameter"]["Value"]


def _account_targets(
    args: argparse.Namespace,
    session: boto3.session.Session,
    account: str,
    regions: Sequence[str],
    credentials: Credentials | None,
) -> list[Target | Entry]:
    """The account-regions of one account to sweep, each with the settings its member stack
    wrote there unless flags say otherwise, or the finding that stops a region being swept."""
    stacks = {region: _stack_settings(session, account, region) for region in regions}
    if args.command == "unsubscribe":
        return [
            Target(account, r, None, credentials, _owned_filter_names(args, stacks[r]))
            for r in regions
        ]
    for region, stack in stacks.items():
        if args.command == "subscribe" and stack and stack.subscription_mode == "account-policy":
            raise UsageError(
                f"Account {account} region {region} is covered by an account-level subscription "
                f"filter policy (subscriptionMode account-policy in SSM parameter "
                f"{SETTINGS_PARAMETER}); per-log-group filters would deliver its events twice, "
                "so subscribe leaves it alone."
            )
    by_region = _account_settings(args, session, account, regions, credentials is not None, stacks)
    return [
        Entry(account, r, found)
        if isinstance(found, Result)
        else Target(account, r, found, credentials, found.owned_filter_names)
        for r, found in by_region.items()
    ]


def _account_settings(
    args: argparse.Namespace,
    session: boto3.session.Session,
    account: str,
    regions: Sequence[str],
    fan_out: bool,
    stacks: dict[str, StackSettings | None],
) -> dict[str, Settings | Result]:
    """Settings per region of one account: the destination and sender role the member stack
    wrote there unless given, and the exclusions of the stack (the delivery path's own log
    groups, when this account owns a destination). A region whose SSM parameter names a
    destination outside --logging-account gets the finding instead."""
    given = _given_destinations(args)
    chosen: dict[str, tuple[str, str | None]] = {}
    findings: dict[str, Settings | Result] = {}
    for region in regions:
        destination = given.get(region) or _parameter(session, region, DESTINATION_PARAMETER)
        if destination is None:
            raise UsageError(
                f"Region {region} has no destination: SSM parameter {DESTINATION_PARAMETER} is "
                "missing there; pass --destination-arn."
            )
        owner = destination.split(":")[4] if destination.count(":") >= 5 else None
        if region not in given and args.logging_account not in (None, owner):
            findings[region] = Result(
                None,
                FAILED,
                f"SSM parameter {DESTINATION_PARAMETER} names {destination}, not a destination "
                f"of the logging account {args.logging_account}: not audited against it",
            )
            continue
        if args.role_arn is None:
            role = _parameter(session, region, SENDER_ROLE_PARAMETER)
            # The member stack writes this where its destinations list accounts.
            role = None if role == NO_SENDER_ROLE else role
        elif fan_out:  # the sender role of the same name in each account
            parts = args.role_arn.split(":")
            role = ":".join([*parts[:4], account, *parts[5:]])
        else:
            role = args.role_arn
        chosen[region] = (destination, role)
    # Every destination's delivery groups, excluded in every region: the delivery path may
    # write them in another region than the destination's.
    delivery = dict.fromkeys(
        group for arn, _ in chosen.values() for group in delivery_log_groups(arn, account)
    )
    return findings | {
        region: _settings(args, destination, role, list(delivery), stacks[region])
        for region, (destination, role) in chosen.items()
    }


def _accounts(args: argparse.Namespace, session: boto3.session.Session) -> list[str]:
    if args.accounts:
        bad = [a for a in args.accounts if not (len(a) == 12 and a.isdigit())]
        if bad:
            raise UsageError(f"--accounts takes 12-digit account IDs; got {bad[0]!r}.")
        return list(dict.fromkeys(args.accounts))
    try:
        pages = session.client("organizations").get_paginator("list_accounts").paginate()
        accounts = [a["Id"] for page in pages for a in page["Accounts"] if a["Status"] == "ACTIVE"]
    except (ClientError, BotoCoreError) as error:
        raise UsageError(f"Could not list the organization's accounts: {error}") from error
    if not accounts:
        raise UsageError("--organization found no active account in the organization.")
    return accounts


class _Fixed(CredentialProvider):
    """A credential provider that hands out one (refreshable) credentials object."""

    METHOD = "assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def _assume_role(
    profile: str | None, account: str, region: str, role_name: str
) -> RefreshableCredentials:
    """Credentials of `role_name` in `account`, assumed now and again before they expire, so a
    sweep longer than the role's session keeps working. Raises the ClientError of a refusal."""
    source = boto3.session.Session(profile_name=profile)  # used by this account's refreshes only
    partition = source.get_partition_for_region(region)
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=lambda service, **kwargs: source.client(
            service, region_name=region, **kwargs
        ),
        source_credentials=source.get_credentials(),
        role_arn=f"arn:{partition}:iam::{account}:role/{role_name}",
        extra_args={"RoleSessionName": PROG},
    )
    return RefreshableCredentials.create_from_metadata(
        metadata=fetcher.fetch_credentials(),
        refresh_using=fetcher.fetch_credentials,
        method=_Fixed.METHOD,
    )


def _session(profile: str | None, credentials: Credentials | None) -> boto3.session.Session:
    """A new session (sessions are not thread-safe): the caller's own, or with `credentials`."""
    if credentials is None:
        return boto3.session.Session(profile_name=profile)
    core = botocore.session.Session()
    core.register_component("credential_provider", CredentialResolver([_Fixed(credentials)]))
    return boto3.session.Session(botocore_session=core)


class Progress(options.Progress):
    """Log groups done per account-region and in total."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream)
        self._listed: Counter[str] = Counter()
        self._done: Counter[str] = Counter()

    def listed(self, key: str, count: int) -> None:
        with self.lock:
            self._listed[key] += count
        self.show()

    def done(self, key: str) -> None:
        with self.lock:
            self._done[key] += 1
        self.show()

    def line(self, elapsed: float) -> str:
        done, listed = sum(self._done.values()), sum(self._listed.values())
        rate = done / elapsed
        eta = f"{(listed - done) / rate:.0f}s" if rate else "?"
        parts = [f"{done}/{listed} log groups, {rate:.1f}/s, ETA {eta}"]
        parts += [f"{key} {self._done[key]}/{self._listed[key]}" for key in self._listed]
        return " | ".join(parts)


class Sweep:
    """One account-region: list, describe ahead, write behind; stops taking work on `stop`."""

    def __init__(
        self,
        target: Target,
        client: CloudWatchLogsClient,
        args: argparse.Namespace,
        *,
        progress: Progress,
        record: Callable[[Entry], None],
        stop: threading.Event,
    ) -> None:
        self.target = target
        self.client = client
        self.command = args.command
        self.dry_run: bool = args.dry_run
        self.owned = target.owned_filter_names
        self.progress = progress
        self.stop = stop
        self.key = f"{target.account}/{target.region}"
        self._record_entry = record
        self._writes: list[Future[None]] = []
        self._lock = threading.Lock()
        self.account_policies: list[Any] = []

    def _read_account_policies(self) -> bool:
        """The account-level subscription filter policy of the account-region (one at most,
        design section 6), so that a log group it covers is reported as such and gets no second
        filter (every event twice); False, with the failure recorded, if it cannot be read."""
        try:
            self.account_policies = list(read_account_policies(self.client))
        except (ClientError, BotoCoreError) as error:
            detail = error_result("", error).detail
            self._record(Result(None, FAILED, f"could not read account policies: {detail}"))
            return False
        return True

    def run(self) -> None:
        if self.target.settings is not None and not self._read_account_policies():
            return
        describes_done: list[Future[None]] = []
        with (
            ThreadPoolExecutor(PIPELINE_THREADS) as writes,
            ThreadPoolExecutor(PIPELINE_THREADS) as describes,
        ):
            # `describes` closes first, so every write it hands on is queued before `writes`.
            try:
                paginator = self.client.get_paginator("describe_log_groups")
                for page in paginator.paginate(PaginationConfig={"PageSize": 50}):
                    if self.stop.is_set():
                        break
                    groups = [
                        (g["logGroupName"], g.get("logGroupClass", STANDARD_CLASS))
                        for g in page.get("logGroups", [])
                    ]
                    self.progress.listed(self.key, len(groups))
                    describes_done += [
                        describes.submit(self._describe, name, log_class, writes)
                        for name, log_class in groups
                    ]
            except (ClientError, BotoCoreError) as error:
                failed = error_result("", error)
                self._record(Result(None, FAILED, f"could not list log groups: {failed.detail}"))
        for future in [*describes_done, *self._writes]:
            future.result()  # re-raises a bug in a pipeline rather than losing a log group

    def _record(self, result: Result, log_class: str = STANDARD_CLASS) -> None:
        self._record_entry(Entry(self.target.account, self.target.region, result, log_class))
        self.progress.done(self.key)

    def _later(self, writes: ThreadPoolExecutor, write: Callable[[], Result]) -> None:
        def run() -> None:
            if not self.stop.is_set():
                self._record(write())

        future = writes.submit(run)
        with self._lock:
            self._writes.append(future)

    def _describe(self, log_group: str, log_class: str, writes: ThreadPoolExecutor) -> None:
        if self.stop.is_set():
            return
        settings = self.target.settings
        if log_class in CLASSES_WITHOUT_FILTERS:
            self._record(unsupported_class(log_group, log_class), log_class)
            return
        filters: list[SubscriptionFilterTypeDef] = []
        # An excluded log group is never read nor written.
        if settings is None or not is_excluded(log_group, settings.exclude_patterns):
            covered = settings and account_policy_coverage(
                log_group, self.account_policies, settings
            )
            if covered:
                self._record(covered)
                return
            try:
                filters = describe_filters(self.client, log_group)
            except (ClientError, BotoCoreError) as error:
                self._record(error_result(log_group, error, log_class), log_class)
                return
        if settings is None:
            if self.dry_run or not any(f.get("filterName") in self.owned for f in filters):
                self._record(unsubscribe(self.client, log_group, filters, self.owned, dry_run=True))
            else:
                self._later(
                    writes, lambda: unsubscribe(self.client, log_group, filters, self.owned)
                )
            return
        decision = decide(log_group, filters, settings)
        if self.command == "audit" or self.dry_run:
            self._record(self._read_only(decision, filters, settings))
        elif decision.needs_write:
            self._later(writes, lambda: apply(self.client, decision, settings))
        else:
            self._record(apply(self.client, decision, settings))

    def _read_only(
        self,
        decision: Decision,
        filters: Sequence[SubscriptionFilterTypeDef],
        settings: Settings,
    ) -> Result:
        """What audit and a dry run report: the same for both."""
        ours = any(f.get("filterName") == settings.filter_name for f in filters)
        foreign = decision.foreign_filter_names
        if decision.needs_write and not ours and len(foreign) >= DOCUMENTED_FILTER_SLOTS:
            return Result(
                decision.log_group,
                LIMIT_EXCEEDED,
                f"the {len(foreign)} filters of other owners hold every filter slot "
                f"({DOCUMENTED_FILTER_SLOTS} per log group as AWS documents it): "
                + ", ".join(map(repr, foreign)),
            )
        result = apply(self.client, decision, settings, dry_run=True)
        if decision.put_filter_name is None and not (ours and result.outcome == ALREADY_SUBSCRIBED):
            return result
        # Our filter is the subject: name the role it passes (or would pass).
        role = settings.sender_role_arn
        named = f"sender role {role}" if role else "no sender role"
        return Result(result.log_group, result.outcome, f"{result.detail} ({named})")


def _trail_finding(session: boto3.session.Session, region: str) -> Result | None:
    """Drift repair and subscribing new log groups need a trail of management events (issue
    17): its absence is a finding of `audit`."""
    try:
        trail = management_trail(session.client("cloudtrail", region_name=region), region)
    except (ClientError, BotoCoreError) as error:
        detail = error_result("", error).detail
        return Result(None, FAILED, f"could not read the CloudTrail trails: {detail}")
    if trail is not None:
        return None
    return Result(
        None,
        FAILED,
        "no CloudTrail trail records this region's CloudWatch Logs management events: new log "
        "groups wait for the scheduled sweep, and filters deleted or changed are not put back "
        "until then",
    )


def _sweep_target(
    target: Target,
    args: argparse.Namespace,
    progress: Progress,
    record: Callable[[Entry], None],
    stop: threading.Event,
) -> None:
    session = _session(args.profile, target.credentials)
    if args.command == "audit":
        finding = _trail_finding(session, target.region)
        if finding is not None:
            record(Entry(target.account, target.region, finding))
    client = make_logs_client(session, target.region, limiters=quota_limiters())
    Sweep(target, client, args, progress=progress, record=record, stop=stop).run()


def _fan_out_account(
    args: argparse.Namespace, account: str, regions: Sequence[str]
) -> list[Target | Entry]:
    """The targets of one account reached through --assume-role, or why it cannot be swept."""
    try:
        credentials = _assume_role(args.profile, account, regions[0], args.assume_role)
    except (ClientError, BotoCoreError) as error:
        detail = f"could not assume role {args.assume_role!r}: {error_result('', error).detail}"
        return [Entry(account, region, Result(None, FAILED, detail)) for region in regions]
    try:
        return _account_targets(args, _session(None, credentials), account, regions, credentials)
    except UsageError as error:
        return [Entry(account, region, Result(None, FAILED, str(error))) for region in regions]


@dataclass(frozen=True)
class Plan:
    """What to sweep: targets ready now, and accounts still to reach with --assume-role."""

    targets: list[Target | Entry]
    fan_out_accounts: list[str]
    regions: list[str]


def _plan(args: argparse.Namespace) -> Plan:
    try:
        session = boto3.session.Session(profile_name=args.profile)
    except ProfileNotFound as error:
        raise UsageError(f"The AWS profile {args.profile!r} does not exist.") from error
    fan_out = bool(args.accounts or args.organization)
    try:
        args.region = options.regions(args.region)
    except options.OptionError as error:
        raise UsageError(str(error)) from None
    if fan_out != (args.assume_role is not None):
        raise UsageError("--assume-role goes with --accounts or --organization, and they with it.")
    _owned_filter_names(args)  # malformed flags are usage errors before any AWS call
    _given_destinations(args)
    bad_classes = [c for c in args.allow_class if not _LOG_CLASS.fullmatch(c)]
    if bad_classes:
        raise UsageError(
            f"--allow-class takes a log class name such as INFREQUENT_ACCESS; got {bad_classes[0]!r}."
        )
    try:
        caller = session.client("sts", region_name=session.region_name or "us-east-1")
        own_account = caller.get_caller_identity()["Account"]
    except NoCredentialsError as error:
        raise UsageError(NO_CREDENTIALS) from error
    except ClientError as error:
        raise UsageError(f"The AWS credentials were refused: {error}") from error
    except BotoCoreError as error:
        raise UsageError(f"Could not reach AWS: {error}") from error
    regions = _regions(args, session)
    if fan_out:
        return Plan([], _accounts(args, session), regions)
    return Plan(_account_targets(args, session, own_account, regions, None), [], regions)


def _account_regions(entries: Sequence[Entry]) -> dict[tuple[str, str], Counter[str]]:
    """Outcome counts per account-region, in report order."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    for e in entries:
        counts.setdefault((e.account, e.region), Counter())[e.result.outcome] += 1
    return counts


def _summary_line(account: str, region: str, counts: Counter[str]) -> str:
    """`ACCOUNT REGION: N covered, M uncovered (K reason, ...)`."""
    covered = sum(n for outcome, n in counts.items() if outcome in COVERED)
    reasons = sorted((o, n) for o, n in counts.items() if o not in COVERED)
    uncovered = sum(n for _, n in reasons)
    why = f" ({', '.join(f'{n} {o}' for o, n in reasons)})" if reasons else ""
    return f"{account} {region}: {covered} covered, {uncovered} uncovered{why}\n"


def _report(entries: Sequence[Entry], args: argparse.Namespace, out: TextIO) -> None:
    summary = Counter(e.result.outcome for e in entries)
    if args.summary:
        per_region = _account_regions(entries)
        if args.json:
            rows = [
                {"account": a, "region": r, "outcomes": dict(c)} for (a, r), c in per_region.items()
            ]
            out.write(json.dumps({"summary": dict(summary), "accountRegions": rows}, indent=2))
            out.write("\n")
            return
        for (account, region), outcomes in per_region.items():
            out.write(_summary_line(account, region, outcomes))
        return
    if args.json:
        document = {"summary": dict(summary), "logGroups": [e.as_dict() for e in entries]}
        out.write(json.dumps(document, indent=2) + "\n")
        return
    for e in entries:
        if e.result.outcome in _listed(args):
            group = e.result.log_group or "(account-region)"
            out.write(f"{e.account} {e.region} {group}: {e.result.outcome}: {e.result.detail}\n")
    by_class = Counter(e.log_class for e in entries if e.result.outcome == UNSUPPORTED_CLASS)
    if by_class and args.command != "unsubscribe":
        allowed = set(args.allow_class)
        out.write(
            "Not covered by log class: "
            + ", ".join(
                f"{log_class} {count}" + (" (allowed)" if log_class in allowed else "")
                for log_class, count in sorted(by_class.items())
            )
            + ".\n"
        )
    counts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(summary.items()))
    regions = len({(e.account, e.region) for e in entries})
    out.write(f"Summary: {counts or 'no log groups'} in {regions} account-region(s).\n")


def _is_problem(entry: Entry, args: argparse.Namespace) -> bool:
    """Whether an entry makes the run exit 1: a log group of a class that takes no filters is
    not covered either, unless its class is accepted with --allow-class."""
    if entry.result.outcome == UNSUPPORTED_CLASS and args.command != "unsubscribe":
        return entry.log_class not in args.allow_class
    return entry.result.outcome in _problems(args)


def _problems(args: argparse.Namespace) -> frozenset[str]:
    """Outcomes that make the run exit 1."""
    return frozenset({FAILED}) if args.command == "unsubscribe" else GAPS


def _listed(args: argparse.Namespace) -> frozenset[str]:
    """Outcomes the report names one by one: the problems, and log groups of a class that
    takes no subscription filters (not centralised, but nothing this tool can fix); for
    `unsubscribe --dry-run`, every log group with a filter it would delete."""
    would_delete = {ALREADY_SUBSCRIBED} if args.command == "unsubscribe" and args.dry_run else set()
    return _problems(args) | {UNSUPPORTED_CLASS} | would_delete


class _Entries:
    """The report so far, filled by every pipeline thread."""

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._lock = threading.Lock()

    def add(self, entry: Entry) -> None:
        with self._lock:
            self._entries.append(entry)

    def sorted(self) -> list[Entry]:
        with self._lock:
            return sorted(self._entries, key=lambda e: e.order)


def _still_running(target: Target, profile: str | None) -> str | None:
    """What of this project still runs in an account-region and would put a deleted filter
    back (the subscriber on the drift rule's events, the sweep on its schedule), or None.
    Raises UsageError if that cannot be read: unsubscribing blind could be undone unseen."""
    session = _session(profile, target.credentials)
    where = f"account {target.account} in {target.region}"
    try:
        functions = session.client("lambda", region_name=target.region)
        for name in FUNCTION_NAMES:
            try:
                functions.get_function(FunctionName=name)
            except functions.exceptions.ResourceNotFoundException:
                continue
            return f"{where} still runs this project's function {name}"
        pages = session.client("events", region_name=target.region).get_paginator("list_rules")
        for page in pages.paginate():
            for rule in page.get("Rules", []):
                if rule.get("Description") == DRIFT_RULE_DESCRIPTION:
                    return f"{where} still has this project's drift rule {rule.get('Name')}"
    except (ClientError, BotoCoreError) as error:
        raise UsageError(
            f"Could not check that this project's functions and drift rule are gone from "
            f"{where} (unsubscribe needs lambda:GetFunction and events:ListRules): {error}"
        ) from error
    return None


def _refuse_while_running(
    targets: Sequence[Target], profile: str | None, pool: ThreadPoolExecutor
) -> None:
    """Unsubscribing where the project still runs is undone within seconds (drift repair) or
    at the next sweep: refused, before any filter is deleted anywhere."""
    found = [r for r in pool.map(lambda t: _still_running(t, profile), targets) if r]
    if found:
        more = f" (and {len(found) - 1} more account-regions)" if len(found) > 1 else ""
        raise UsageError(
            f"Not unsubscribing: {found[0]}{more}, which would put every filter back; "
            "destroy the member stack (or its stack instances) first, then unsubscribe."
        )


def _sweep(args: argparse.Namespace, plan: Plan, entries: _Entries, stop: threading.Event) -> None:
    progress = Progress(sys.stderr if sys.stderr.isatty() else None)
    # Not a `with` block: after Ctrl-C, leaving must not wait for the calls in flight.
    pool = ThreadPoolExecutor(MAX_PARALLEL_ACCOUNT_REGIONS)
    try:
        targets: list[Target] = []
        reached = [
            pool.submit(_fan_out_account, args, account, plan.regions)
            for account in plan.fan_out_accounts
        ]
        for items in [plan.targets, *(future.result() for future in reached)]:
            for item in items:
                if isinstance(item, Entry):
                    entries.add(item)
                    progress.done(f"{item.account}/{item.region}")
                else:
                    targets.append(item)
        if args.command == "unsubscribe":
            _refuse_while_running(targets, args.profile, pool)
        runs = [pool.submit(_sweep_target, t, args, progress, entries.add, stop) for t in targets]
        for run in runs:
            run.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        progress.finish()


def _history_access(args: argparse.Namespace, plan: Plan) -> Access:
    """How `history` reaches AWS: as the other commands do, and through the writer role."""

    def reach(account: str) -> tuple[list[Target], list[GroupReport]]:
        reached = _fan_out_account(args, account, plan.regions)
        failed = [
            GroupReport(e.account, e.region, "", e.result.outcome, e.result.detail)
            for e in reached
            if isinstance(e, Entry)
        ]
        return [t for t in reached if isinstance(t, Target)], failed

    def writer(role_arn: str) -> boto3.session.Session:
        account, name = role_arn.split(":")[4], role_arn.split(":role/", 1)[-1]
        return _session(None, _assume_role(args.profile, account, plan.regions[0], name))

    return Access(lambda credentials: _session(args.profile, credentials), reach, writer)


def run(args: argparse.Namespace) -> int:
    """`subscribe`, `audit`, `unsubscribe` or `history`: the exit code of design section 4."""
    entries = _Entries()
    stop = threading.Event()
    try:
        now = datetime.now(UTC)
        since = check_usage(args, now) if args.command == "history" else 0
        plan = _plan(args)
        if args.command == "history":
            return run_history(args, plan, since, now, _history_access(args, plan))
    except (UsageError, ArchiveUsageError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted before any log group was read.", file=sys.stderr)
        return INTERRUPTED
    try:
        _sweep(args, plan, entries, stop)
    except UsageError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        stop.set()
        _report(entries.sorted(), args, sys.stdout)
        print(
            f"{PROG}: interrupted; the report covers the log groups done so far; run the same "
            "command again to finish.",
            file=sys.stderr,
        )
        sys.stdout.flush()
        sys.stderr.flush()
        # Calls in flight (a throttled one may wait 20 s between retries) are abandoned rather
        # than awaited; each is whole or not done at AWS, and the rerun decides afresh.
        os._exit(INTERRUPTED)
    done = entries.sorted()
    _report(done, args, sys.stdout)
    return 1 if any(_is_problem(e, args) for e in done) else 0
