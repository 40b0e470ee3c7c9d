"""`central-logging backfill` and `central-logging audit` (design section 4).

Both sweep every log group of each account-region through the shared core in
`handlers.core`, so they decide exactly as the subscriber Lambda does. Within one
account-region, DescribeLogGroups lists, a describe pipeline reads the filters of each log group
once, and a write pipeline puts the filters that are needed, each paced under its own per-second
quota by the core's rate limiters, so both 5/s budgets are busy at once. Account-regions run in
parallel.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NoReturn, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from central_logging.archive import NO_CREDENTIALS, PROG, add_read_parser, run_read
from central_logging.query import add_query_parser, run_query
from handlers.core import (
    CLASSES_WITHOUT_FILTERS,
    DESTINATION_PARAMETER,
    FAILED,
    LIMIT_EXCEEDED,
    NOT_SUBSCRIBED,
    STANDARD_CLASS,
    UNSUPPORTED_CLASS,
    Decision,
    Result,
    Settings,
    SettingsError,
    apply,
    decide,
    describe_filters,
    error_result,
    is_excluded,
    make_logs_client,
    quota_limiters,
    unsupported_class,
)

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import SubscriptionFilterTypeDef

ARCHIVE_COMMANDS = {"read": run_read, "query": run_query}
DEFAULT_FILTER_NAME = "central-logging"
# Audit cannot try a put to learn whether a log group has a free filter slot, so it infers full
# slots from the limit AWS documents today (design section 6). Only audit uses this number:
# backfill and --dry-run leave the limit to AWS, and the audit detail says what it assumed.
DOCUMENTED_FILTER_SLOTS = 2
# Threads per pipeline and account-region: the rate limiters set the pace; more than one thread
# keeps a pipeline at its quota when a call takes longer than the 200 ms between two calls.
PIPELINE_THREADS = 4
MAX_PARALLEL_ACCOUNT_REGIONS = 64
# Outcomes that leave a log group without delivery: the run exits 1 while any remain.
GAPS = frozenset({NOT_SUBSCRIBED, LIMIT_EXCEEDED, FAILED})
# Log groups the report names one by one: the gaps, and those of a class that takes no
# subscription filters (not centralised, but nothing this tool can fix).
LISTED = GAPS | {UNSUPPORTED_CLASS}
# Settings variables of the core, named as the CLI flags that set them.
_FLAG_OF_VARIABLE = {
    "DESTINATION_ARN": "--destination-arn",
    "SENDER_ROLE_ARN": "--role-arn",
    "FILTER_NAME": "--filter-name",
    "FILTER_PATTERN": "--filter-pattern",
    "EXCLUDE_PATTERNS": "--exclude",
    "REPLACE_FILTER_NAMES": "--replace-filter",
}


class UsageError(Exception):
    """Bad usage or configuration: exit 2 with this one sentence on stderr."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message[:1].upper() + message[1:] + ".")


@dataclass(frozen=True)
class Entry:
    """One line of the report."""

    account: str
    region: str
    result: Result

    def as_dict(self) -> dict[str, str | None]:
        return {"account": self.account, "region": self.region, **self.result.as_dict()}


@dataclass(frozen=True)
class Target:
    """One account-region to sweep."""

    account: str
    region: str
    settings: Settings


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Subscribe or audit every existing log group; read or query the archive.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_read_parser(commands)
    add_query_parser(commands)
    for name, text in (
        ("backfill", "subscribe every eligible existing log group"),
        ("audit", "report which log groups are covered, which are not, and why; read-only"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument(
            "--destination-arn",
            action="append",
            default=[],
            metavar="ARN",
            help="destination for the region named in it (repeatable); default: the SSM "
            f"parameter {DESTINATION_PARAMETER} of each --region",
        )
        command.add_argument(
            "--role-arn",
            help="role CloudWatch Logs assumes to deliver; with --accounts or --organization, "
            "the role of the same name in each account",
        )
        command.add_argument("--filter-name", default=DEFAULT_FILTER_NAME)
        command.add_argument("--filter-pattern", default="")
        command.add_argument("--exclude", action="append", default=[], metavar="GLOB")
        command.add_argument("--replace-filter", action="append", default=[], metavar="NAME")
        if name == "backfill":
            command.add_argument("--dry-run", action="store_true", help="write nothing")
        command.add_argument("--json", action="store_true", help="print one JSON report")
        command.add_argument(
            "--region", action="append", default=[], help="repeatable; default: configured"
        )
        command.add_argument("--profile")
        accounts = command.add_mutually_exclusive_group()
        accounts.add_argument("--accounts", nargs="+", default=[], metavar="ID")
        accounts.add_argument("--organization", action="store_true")
        command.add_argument("--assume-role", metavar="NAME", help="role assumed in each account")
    return parser


def _settings(args: argparse.Namespace, destination_arn: str) -> Settings:
    """The core's settings, validated by the core; its errors name the CLI flags."""
    env = {
        "DESTINATION_ARN": destination_arn,
        "SENDER_ROLE_ARN": args.role_arn or "",
        "FILTER_NAME": args.filter_name,
        "FILTER_PATTERN": args.filter_pattern,
        "EXCLUDE_PATTERNS": json.dumps(args.exclude),
        "REPLACE_FILTER_NAMES": json.dumps(args.replace_filter),
    }
    try:
        return Settings.from_env(env)
    except SettingsError as error:
        message = str(error)
        variable = message.split(" ", 1)[0]
        raise UsageError(_FLAG_OF_VARIABLE[variable] + message[len(variable) :]) from error


def _region_of(destination_arn: str) -> str:
    return destination_arn.split(":")[3]


def _destinations(args: argparse.Namespace, session: boto3.session.Session) -> dict[str, Settings]:
    """Settings per region to sweep."""
    given: dict[str, Settings] = {}
    for arn in args.destination_arn:
        settings = _settings(args, arn)
        region = _region_of(arn)
        if region in given:
            raise UsageError(f"Two --destination-arn values name region {region}; give one.")
        given[region] = settings
    regions: list[str] = list(dict.fromkeys(args.region))
    if not regions:
        regions = list(given) or ([session.region_name] if session.region_name else [])
    if not regions:
        raise UsageError("No region is configured; pass --region or set AWS_REGION.")
    if given:
        missing = [r for r in regions if r not in given]
        if missing:
            raise UsageError(f"No --destination-arn covers region {', '.join(missing)}.")
        return {r: given[r] for r in regions}
    return {r: _settings(args, _parameter(session, r)) for r in regions}


def _parameter(session: boto3.session.Session, region: str) -> str:
    try:
        return session.client("ssm", region_name=region).get_parameter(Name=DESTINATION_PARAMETER)[
            "Parameter"
        ]["Value"]
    except (ClientError, BotoCoreError) as error:
        if error_result("", error).detail.startswith("ParameterNotFound:"):
            raise UsageError(
                f"Region {region} has no destination: SSM parameter {DESTINATION_PARAMETER} is "
                "missing there; pass --destination-arn."
            ) from error
        raise UsageError(
            f"Could not read SSM parameter {DESTINATION_PARAMETER} in {region}: {error}"
        ) from error


def _accounts(args: argparse.Namespace, session: boto3.session.Session) -> list[str]:
    if args.accounts:
        bad = [a for a in args.accounts if not (len(a) == 12 and a.isdigit())]
        if bad:
            raise UsageError(f"--accounts takes 12-digit account IDs; got {bad[0]!r}.")
        return list(dict.fromkeys(args.accounts))
    try:
        pages = session.client("organizations").get_paginator("list_accounts").paginate()
        return [a["Id"] for page in pages for a in page["Accounts"] if a["Status"] == "ACTIVE"]
    except (ClientError, BotoCoreError) as error:
        raise UsageError(f"Could not list the organization's accounts: {error}") from error


def _for_account(settings: Settings, account: str) -> Settings:
    """The settings for `account`: the sender role of the same name in that account."""
    if settings.sender_role_arn is None:
        return settings
    parts = settings.sender_role_arn.split(":")
    parts[4] = account
    return replace(settings, sender_role_arn=":".join(parts))


class Progress:
    """Progress per account-region and in total, on a terminal only."""

    INTERVAL = 0.5

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self._started = time.monotonic()
        self._shown = 0.0
        self._lock = threading.Lock()
        self._listed: Counter[str] = Counter()
        self._done: Counter[str] = Counter()

    def listed(self, key: str, count: int) -> None:
        with self._lock:
            self._listed[key] += count
        self._show()

    def done(self, key: str) -> None:
        with self._lock:
            self._done[key] += 1
        self._show()

    def _show(self, final: bool = False) -> None:
        if self._stream is None:
            return
        with self._lock:
            now = time.monotonic()
            if not final and now - self._shown < self.INTERVAL:
                return
            self._shown = now
            done, listed = sum(self._done.values()), sum(self._listed.values())
            rate = done / max(now - self._started, 1e-9)
            eta = f"{(listed - done) / rate:.0f}s" if rate else "?"
            parts = [f"{done}/{listed} log groups, {rate:.1f}/s, ETA {eta}"]
            parts += [f"{key} {self._done[key]}/{self._listed[key]}" for key in self._listed]
            end = "\n" if final else ""
            self._stream.write("\r\x1b[K" + " | ".join(parts) + end)
            self._stream.flush()

    def finish(self) -> None:
        self._show(final=True)


class Sweep:
    """One account-region: list, describe ahead, write behind."""

    def __init__(
        self,
        target: Target,
        client: CloudWatchLogsClient,
        *,
        audit: bool,
        dry_run: bool,
        progress: Progress,
    ) -> None:
        self.target = target
        self.client = client
        self.audit = audit
        self.dry_run = dry_run
        self.progress = progress
        self.key = f"{target.account}/{target.region}"
        self.results: list[Result] = []
        self._writes: list[Future[None]] = []
        self._lock = threading.Lock()

    def run(self) -> list[Result]:
        describes_done: list[Future[None]] = []
        with (
            ThreadPoolExecutor(PIPELINE_THREADS) as writes,
            ThreadPoolExecutor(PIPELINE_THREADS) as describes,
        ):
            # `describes` closes first, so every write it hands on is queued before `writes`.
            try:
                paginator = self.client.get_paginator("describe_log_groups")
                for page in paginator.paginate(PaginationConfig={"PageSize": 50}):
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
        return sorted(self.results, key=lambda r: r.log_group or "")

    def _record(self, result: Result) -> None:
        with self._lock:
            self.results.append(result)
        self.progress.done(self.key)

    def _describe(self, log_group: str, log_class: str, writes: ThreadPoolExecutor) -> None:
        settings = self.target.settings
        if log_class in CLASSES_WITHOUT_FILTERS:
            self._record(unsupported_class(log_group, log_class))
            return
        filters: list[SubscriptionFilterTypeDef] = []
        # An excluded log group is never read nor written.
        if not is_excluded(log_group, settings.exclude_patterns):
            try:
                filters = describe_filters(self.client, log_group)
            except (ClientError, BotoCoreError) as error:
                self._record(error_result(log_group, error, log_class))
                return
        decision = decide(log_group, filters, settings)
        if self.audit:
            self._record(self._audited(decision, filters))
        elif decision.needs_write and not self.dry_run:
            future = writes.submit(self._write, decision)
            with self._lock:
                self._writes.append(future)
        else:
            self._record(apply(self.client, decision, settings, dry_run=self.dry_run))

    def _write(self, decision: Decision) -> None:
        self._record(apply(self.client, decision, self.target.settings))

    def _audited(self, decision: Decision, filters: Sequence[SubscriptionFilterTypeDef]) -> Result:
        settings = self.target.settings
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
        return apply(self.client, decision, settings, dry_run=True)


def _session(
    profile: str | None, account: str, region: str, assume_role: str | None
) -> boto3.session.Session:
    """A session for `account`: the caller's own, or the role `assume_role` assumed there."""
    session = boto3.session.Session(profile_name=profile)
    if assume_role is None:
        return session
    partition = session.get_partition_for_region(region)
    credentials = session.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:{partition}:iam::{account}:role/{assume_role}",
        RoleSessionName=PROG,
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _sweep_target(
    target: Target,
    args: argparse.Namespace,
    progress: Progress,
) -> list[Entry]:
    try:
        # Sessions are not thread-safe: each account-region builds its own.
        session = _session(args.profile, target.account, target.region, args.assume_role)
    except (ClientError, BotoCoreError) as error:
        detail = f"could not assume role {args.assume_role!r}: {error_result('', error).detail}"
        progress.done(f"{target.account}/{target.region}")
        return [Entry(target.account, target.region, Result(None, FAILED, detail))]
    client = make_logs_client(session, target.region, limiters=quota_limiters())
    sweep = Sweep(
        target,
        client,
        audit=args.command == "audit",
        dry_run=getattr(args, "dry_run", False),
        progress=progress,
    )
    return [Entry(target.account, target.region, r) for r in sweep.run()]


def _targets(args: argparse.Namespace) -> list[Target]:
    try:
        session = boto3.session.Session(profile_name=args.profile)
    except ProfileNotFound as error:
        raise UsageError(f"The AWS profile {args.profile!r} does not exist.") from error
    fan_out = bool(args.accounts or args.organization)
    if fan_out != (args.assume_role is not None):
        raise UsageError("--assume-role goes with --accounts or --organization, and they with it.")
    for arn in args.destination_arn:
        _settings(args, arn)  # a malformed ARN is a usage error before any AWS call
    try:
        caller = session.client("sts", region_name=session.region_name or "us-east-1")
        own_account = caller.get_caller_identity()["Account"]
    except NoCredentialsError as error:
        raise UsageError(NO_CREDENTIALS) from error
    except ClientError as error:
        raise UsageError(f"The AWS credentials were refused: {error}") from error
    except BotoCoreError as error:
        raise UsageError(f"Could not reach AWS: {error}") from error
    by_region = _destinations(args, session)
    accounts = _accounts(args, session) if fan_out else [own_account]
    return [
        Target(account, region, _for_account(settings, account) if fan_out else settings)
        for account in accounts
        for region, settings in by_region.items()
    ]


def _report(entries: Sequence[Entry], as_json: bool, out: TextIO) -> None:
    summary = Counter(e.result.outcome for e in entries)
    if as_json:
        document = {"summary": dict(summary), "logGroups": [e.as_dict() for e in entries]}
        out.write(json.dumps(document, indent=2) + "\n")
        return
    for e in entries:
        if e.result.outcome in LISTED:
            group = e.result.log_group or "(account-region)"
            out.write(f"{e.account} {e.region} {group}: {e.result.outcome}: {e.result.detail}\n")
    counts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(summary.items()))
    regions = len({(e.account, e.region) for e in entries})
    out.write(f"Summary: {counts or 'no log groups'} in {regions} account-region(s).\n")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command in ARCHIVE_COMMANDS:
            return ARCHIVE_COMMANDS[args.command](args)
        targets = _targets(args)
    except UsageError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    tty = not args.json and sys.stderr.isatty()
    progress = Progress(sys.stderr if tty else None)
    workers = min(len(targets), MAX_PARALLEL_ACCOUNT_REGIONS)
    with ThreadPoolExecutor(workers) as pool:
        runs = [pool.submit(_sweep_target, t, args, progress) for t in targets]
        entries = [entry for run in runs for entry in run.result()]
    progress.finish()
    _report(entries, args.json, sys.stdout)
    return 1 if any(e.result.outcome in GAPS for e in entries) else 0
