"""Stack configuration: every `central-logging:` key, validated before any resource exists.

Parsing is pure (a mapping of raw strings in, frozen settings out) so every rule is
tested without Pulumi; `read_stack_config` is the only place that touches `pulumi.Config`.
A bad value raises `ConfigError` with one sentence: the key, the value, what is allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, TypeVar

import pulumi

from components.filter_pattern import FilterPatternError, first_unmatched
from components.policies import partition_for
from handlers.core import SETTINGS_PARAMETER, delivery_log_group_name
from handlers.freshness import DEFAULT_STATE_KEY as FRESHNESS_STATE_KEY
from handlers.heartbeat import DEFAULT_HEARTBEAT_MINUTES, HEARTBEAT_LOG_GROUP

NAMESPACE = "central-logging"

REGION_RE = re.compile(
    r"^[a-z]{2}(-gov|-iso[a-z]?)?-(north|south|east|west|central|"
    r"northeast|northwest|southeast|southwest)-[1-9]$"
)
ACCOUNT_RE = re.compile(r"^\d{12}$")
ORGANIZATION_RE = re.compile(r"^o-[a-z0-9]{10,32}$")
# CloudWatch Logs destination and filter names: 1..512 characters, no ':' or '*'.
LOGS_NAME_RE = re.compile(r"^[^:*]{1,512}$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# The destination name also names the delivery streams (Firehose: 1-64 of [a-zA-Z0-9_.-],
# shortened to fit) and their error log group /aws/kinesisfirehose/<name> (at most 512).
DESTINATION_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,491}$")
KMS_KEY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
KMS_ALIAS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:alias/[A-Za-z0-9/_-]+$")
# Firehose buffering: 0-900 s, but dynamic partitioning (archiveFormat json) has no zero
# buffering, i.e. none of the sub-minute intervals it brought ("Buffering hints",
# https://docs.aws.amazon.com/firehose/latest/dev/buffering-hints.html).
PARTITIONED_BUFFER_INTERVAL_MIN = 60
STACK_RE = re.compile(r"^[^/\s]+/[^/\s]+/[^/\s]+$")
LOG_GROUP_GLOB_RE = re.compile(r"^[A-Za-z0-9_./#*?\[\]!-]{1,512}$")
GLOB_CHARS = re.compile(r"[*?\[\]]")
SCHEDULE_RE = re.compile(
    r"^(rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)"
    r"|cron\(\S+( \S+){5}\))$"
)
# A role ARN, as aws:PrincipalArn holds it for every session of the role (path included).
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
# IAM Identity Center creates a permission set's role as AWSReservedSSO_<set>_<suffix> under the
# path aws-reserved/sso.amazonaws.com/ (then, in most regions, the region): aws:PrincipalArn
# holds that path, so an ARN written without it matches no one ("Referencing permission sets in
# resource policies", https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html).
IDENTITY_CENTER_ROLE_PREFIX = "AWSReservedSSO_"
IDENTITY_CENTER_ROLE_PATH = "aws-reserved/sso.amazonaws.com/"
TRAIL_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:trail/[A-Za-z0-9._-]{3,128}$"
)
# accessTrail: what records access to the archive (components/access_trail.py).
SERVER_ACCESS_LOGS = "server-access-logs"
CLOUDTRAIL = "cloudtrail"
SNS_TOPIC_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# An organisation's root (r-) or an organizational unit (ou-), as AWS Organizations spells them.
ORGANIZATIONAL_UNIT_RE = re.compile(r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$")
FILTER_PATTERN_MAX = 1024
# PutAccountPolicy: "The selectionCriteria string can be up to 25KB in length", counted in
# UTF-8 bytes (CloudWatch Logs API Reference). In the logging account the policy also leaves
# out the delivery path's log group: room is kept for one name of the longest length.
SELECTION_CRITERIA_MAX_BYTES = 25 * 1024
# `, "<name>"` for a log group name of at most 512 characters.
SELECTION_CRITERIA_LIMIT = SELECTION_CRITERIA_MAX_BYTES - (512 + 4)
# Firehose allows 512 characters of prefix after evaluating its expressions ("Custom
# Prefixes for Amazon S3 Objects", https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html).
FIREHOSE_EVALUATED_PREFIX_MAX = 512
# What destination.archive_prefixes adds to s3Prefix, evaluated: the day partition, the
# account (12 digits, json) and the region; the error prefix's !{firehose:error-output-type}
# is given 32 characters (processing-failed, format-conversion-failed, ...).
DAY_PARTITION = "year=2026/month=12/day=31/"
ERROR_OUTPUT_TYPE_ROOM = 32
# Lambda: "4 KB, for all environment variables associated with the function, in aggregate"
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), counted here
# as the variables' JSON, the larger measure.
LAMBDA_ENVIRONMENT_MAX_BYTES = 4096
# The longest values a subscriber function's environment can get from outside the member
# config: a destination named with the longest destinationName the logging stack accepts,
# and a sender role with the longest role name IAM accepts (64).
LONGEST_DESTINATION_NAME = "D" * 491
LONGEST_ROLE_NAME = "R" * 64
# The shortest expiry an archive may have: CloudTrail's event history already keeps 90 days
# of every account's management events ("Working with CloudTrail event history",
# https://docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events.html), so
# a shorter archive is never one. policy/rules.py holds the same floor for lifecycle rules.
EXPIRE_DAYS_FLOOR = 90
# Log group names every account has some of (AWS services' own, Lambda's, applications'):
# exclusions that leave out all of them leave nothing but the heartbeat to deliver.
TYPICAL_LOG_GROUPS = (
    "/aws/lambda/orders-api",
    "/aws/ecs/containerinsights/prod/performance",
    "/aws/rds/instance/orders-db/postgresql",
    "/aws/apigateway/welcome",
    "/aws/eks/prod/cluster",
    "/aws/codebuild/release",
    "/aws/vendedlogs/states/checkout",
    "API-Gateway-Execution-Logs_a1b2c3d4e5/prod",
    "RDSOSMetrics",
    "aws-cloudtrail-logs-111111111111-a1b2c3d4",
    "/ecs/web",
    "application",
)
# A standard SSM parameter's value holds at most 4 KB; an advanced one 8 KB for $0.05 a month
# each, $1,700 a month over 34,000 account-regions ("Managing parameter tiers",
# https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html).
# Long exclusion lists continue in further standard parameters instead.
PARAMETER_MAX_BYTES = 4096
DEFAULT_SHARD_COUNT = 2

# Whether the logging stack's destinations admit a whole organisation (senders pass a role of
# their own, roleArn) or list accounts (no roleArn): the `destinationScope` output.
ORGANIZATION_SCOPE = "organization"
ACCOUNTS_SCOPE = "accounts"

T = TypeVar("T")


class ConfigError(pulumi.RunError):
    """A stack configuration value that is not allowed; stops the run without a traceback."""


def key(name: str) -> str:
    return f"{NAMESPACE}:{name}"


def _bad(name: str, value: object, allowed: str) -> ConfigError:
    shown = json.dumps(value) if not isinstance(value, str) else repr(value)
    return ConfigError(f"{key(name)} is {shown}; {allowed}.")


class Raw:
    """Raw config strings of one stack, with typed getters that fail with clear errors."""

    def __init__(self, values: Mapping[str, str | None]) -> None:
        self.values = values

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        return default if value is None or value == "" else value

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name, default)
        assert value is not None
        if value not in allowed:
            raise _bad(name, value, f"allowed values are {', '.join(allowed)}")
        return value

    def integer(self, name: str, low: int, high: int, default: int | None) -> int | None:
        value = self.text(name)
        if value is None:
            return default
        allowed = f"it must be a whole number from {low} to {high}"
        try:
            number = int(value)
        except ValueError:
            raise _bad(name, value, allowed) from None
        if not low <= number <= high:
            raise _bad(name, value, allowed)
        return number

    def optional_count(self, name: str, high: int) -> int | None:
        """A whole number from 1 to `high`, or None when unset or 0 (the Pulumi.yaml default)."""
        number = self.integer(name, 0, high, None)
        return number or None

    def boolean(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() not in ("true", "false"):
            raise _bad(name, value, "it must be true or false")
        return value.lower() == "true"

    def strings(self, name: str, check: Callable[[str], bool], entry: str) -> tuple[str, ...]:
        """A JSON array of distinct strings, each passing `check` (described by `entry`)."""
        value = self.text(name)
        if value is None:
            return ()
        try:
            items: Any = json.loads(value)
        except json.JSONDecodeError:
            raise _bad(name, value, f"it must be a list, each entry {entry}") from None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise _bad(name, value, f"it must be a list, each entry {entry}")
        for index, item in enumerate(items):
            if not check(item):
                raise _bad(name, item, f"each entry must be {entry}")
            if item in items[:index]:
                raise _bad(name, item, "each entry may appear only once")
        return tuple(items)


def _account_ids_quoted(raw: Raw, name: str) -> None:
    """An account ID written without quotes in the stack YAML arrives as a number, without
    the leading zeros an ID may have: say so rather than "not a 12-digit account ID"."""
    try:
        items: Any = json.loads(raw.text(name) or "[]")
    except json.JSONDecodeError:
        return
    numbers = [i for i in items if type(i) is int] if isinstance(items, list) else []
    if numbers:
        raise _bad(
            name,
            numbers[0],
            'write each account ID in quotes, such as "012345678901", since YAML reads an '
            "unquoted one as a number and drops its leading zeros",
        )


def _account_ids(raw: Raw, name: str) -> tuple[str, ...]:
    _account_ids_quoted(raw, name)
    return raw.strings(name, _matches(ACCOUNT_RE), "a 12-digit account ID")


def _identity_center_path(name: str, role_arn: str) -> None:
    path_and_name = role_arn.split(":", 5)[5].removeprefix("role/")
    role_name = path_and_name.rsplit("/", 1)[-1]
    if role_name.startswith(IDENTITY_CENTER_ROLE_PREFIX) and not path_and_name.startswith(
        IDENTITY_CENTER_ROLE_PATH
    ):
        raise _bad(
            name,
            role_arn,
            "an IAM Identity Center role is matched by its full ARN, path included: write it "
            f"as IAM lists it, role/{IDENTITY_CENTER_ROLE_PATH}REGION/{role_name} (no REGION/ "
            "for roles created in us-east-1)",
        )


def _role_arns(raw: Raw, name: str) -> tuple[str, ...]:
    arns = raw.strings(
        name,
        _matches(ROLE_ARN_RE),
        "an IAM role ARN such as arn:aws:iam::111111111111:role/NAME (not an assumed-role "
        "session ARN)",
    )
    for arn in arns:
        _identity_center_path(name, arn)
    return arns


def _principals(raw: Raw, name: str) -> tuple[str, ...]:
    """Accounts (every principal its administrators allow) or IAM role ARNs."""
    _account_ids_quoted(raw, name)
    principals = raw.strings(
        name,
        lambda p: ACCOUNT_RE.fullmatch(p) is not None or ROLE_ARN_RE.fullmatch(p) is not None,
        "a 12-digit account ID or an IAM role ARN such as arn:aws:iam::111111111111:role/NAME",
    )
    for principal in principals:
        if principal.startswith("arn:"):
            _identity_center_path(name, principal)
    return principals


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: pattern.fullmatch(value) is not None


def _one_of(name: str, value: str | None, pattern: re.Pattern[str], allowed: str) -> str | None:
    if value is not None and not pattern.fullmatch(value):
        raise _bad(name, value, allowed)
    return value


def _regions(raw: Raw, home_region: str | None) -> tuple[str, ...]:
    regions = raw.strings("regions", _matches(REGION_RE), "an AWS region name such as eu-west-1")
    if regions:
        return regions
    if not home_region:
        raise ConfigError(
            f"{key('regions')} is not set and neither is aws:region; set one of them to the "
            "AWS region names to cover."
        )
    if not REGION_RE.fullmatch(home_region):
        raise ConfigError(f"aws:region is {home_region!r}; it must be an AWS region name.")
    return (home_region,)


@dataclass(frozen=True)
class AlarmSettings:
    """Where alarms notify: an existing topic, or an email address for topics the stack
    creates; neither means alarms without notification."""

    topic_arn: str | None
    email: str | None
    freshness_seconds: int = 900
    iterator_age_seconds: int = 600


def _alarms(raw: Raw, regions: tuple[str, ...], logging_home: str | None) -> AlarmSettings:
    """Alarm settings; `logging_home` is the logging stack's home region, where all of its
    alarms live (they watch the delivery streams there)."""
    topic_arn = _one_of(
        "alarmTopicArn",
        raw.text("alarmTopicArn"),
        SNS_TOPIC_ARN_RE,
        "it must be the ARN of an SNS topic, arn:aws:sns:REGION:ACCOUNT:NAME",
    )
    email = _one_of("alarmEmail", raw.text("alarmEmail"), EMAIL_RE, "it must be an email address")
    if topic_arn and email:
        raise ConfigError(
            f"Both {key('alarmTopicArn')} and {key('alarmEmail')} are set; set alarmTopicArn to "
            "use your topic or alarmEmail to have one created, not both."
        )
    if topic_arn and logging_home and topic_arn.split(":")[3] != logging_home:
        raise _bad(
            "alarmTopicArn",
            topic_arn,
            f"the logging stack's alarms live in its home region {logging_home}, and CloudWatch "
            "alarms notify topics in their own region only: give a topic there",
        )
    if topic_arn and not logging_home:
        topic_region = topic_arn.split(":")[3]
        for region in regions:
            if region != topic_region:
                raise _bad(
                    "alarmTopicArn",
                    topic_arn,
                    f"CloudWatch alarms notify topics in their own region only, and regions "
                    f"includes {region}: use alarmEmail to have a topic created in each region",
                )
    if not logging_home:
        return AlarmSettings(topic_arn, email)
    return AlarmSettings(
        topic_arn,
        email,
        freshness_seconds=_require(raw.integer("alarmFreshnessSeconds", 60, 86400, 900)),
        iterator_age_seconds=_require(raw.integer("alarmIteratorAgeSeconds", 60, 86400, 600)),
    )


@dataclass(frozen=True)
class CoverageConfig:
    """The central coverage check (components/coverage.py), which `coverageCheck` turns on:
    the role that lists the organisation's accounts, and the members' settings it judges
    their filters by."""

    organization_role_arn: str
    filter_pattern: str = ""
    exclude_log_groups: tuple[str, ...] = ()


# Where the coverage check writes its report in the archive bucket (outside s3Prefix).
COVERAGE_REPORT_PREFIX = "coverage/"
COVERAGE_KEYS = ("coverageCheck", "coverageFilterPattern", "coverageExcludeLogGroups")
# Keys of earlier versions, which stack files still hold: each is refused naming what took
# its place, rather than ignored.
RETIRED_KEYS = {
    "freshnessExcludeAccounts": "exemptAccounts",
    "coverageExcludeAccounts": "exemptAccounts",
    "coverageOrganizationRoleArn": "organizationReaderRoleArn with coverageCheck true",
}


def _coverage(
    raw: Raw, organization_id: str | None, reader_role_arn: str | None, s3_prefix: str
) -> CoverageConfig | None:
    enabled = raw.boolean("coverageCheck", False)
    filter_pattern = raw.values.get("coverageFilterPattern") or ""
    if len(filter_pattern) > FILTER_PATTERN_MAX:
        raise _bad(
            "coverageFilterPattern",
            filter_pattern[:40] + "...",
            f"it must be at most {FILTER_PATTERN_MAX} characters",
        )
    excludes = raw.strings(
        "coverageExcludeLogGroups", _matches(LOG_GROUP_GLOB_RE), "a log group name or glob pattern"
    )
    if not enabled:
        for name, value in zip(COVERAGE_KEYS[1:], (filter_pattern, excludes), strict=True):
            if value:
                raise _bad(
                    name,
                    value if isinstance(value, str) else list(value),
                    "it only applies to the coverage check, which coverageCheck true turns on: "
                    "set that too, or leave this unset",
                )
        return None
    if not organization_id:
        raise _bad(
            "coverageCheck",
            True,
            "the coverage check covers the accounts of an organisation: set organizationId too",
        )
    if reader_role_arn is None:
        raise _bad(
            "coverageCheck",
            True,
            "the coverage check lists the organisation's accounts through "
            "organizationReaderRoleArn: set it to a role in the management account or a "
            "delegated administrator",
        )
    if s3_prefix.startswith(COVERAGE_REPORT_PREFIX):
        raise _bad(
            "s3Prefix",
            s3_prefix,
            f"the coverage check writes its report under {COVERAGE_REPORT_PREFIX}, so the "
            "archive prefix must not start with it",
        )
    return CoverageConfig(reader_role_arn, filter_pattern, excludes)


@dataclass(frozen=True)
class LoggingSettings:
    """The logging account: destinations, transport and archive."""

    regions: tuple[str, ...]
    home_region: str
    organization_id: str | None
    member_accounts: tuple[str, ...]
    destination_name: str
    transport: str
    archive_format: str
    kinesis_stream_mode: str
    kinesis_shard_count: int
    kinesis_retention_hours: int
    bucket_name: str | None
    existing_bucket_name: str | None
    s3_prefix: str
    buffer_interval_seconds: int
    buffer_size_mib: int
    kms_key_arn: str | None
    object_lock_mode: str | None
    object_lock_days: int | None
    transition_days: int | None
    expire_days: int | None
    athena: bool
    alarms: AlarmSettings
    athena_results_days: int = 30
    archive_admin_role_arns: tuple[str, ...] = ()
    access_trail: str = SERVER_ACCESS_LOGS
    freshness_accounts: tuple[str, ...] = ()
    freshness_metrics: str = "aggregate"
    # Accounts of the organisation neither check expects (freshness, coverage).
    exempt_accounts: tuple[str, ...] = ()
    organization_reader_role_arn: str | None = None
    coverage: CoverageConfig | None = None
    # Accounts or role ARNs that may assume the history writer role (`central-logging history`).
    history_writer_principals: tuple[str, ...] = ()
    # Accounts or role ARNs that may assume the archive reader role (components/reader.py).
    reader_principals: tuple[str, ...] = ()
    # The members' heartbeat interval, which the freshness check's threshold allows for.
    heartbeat_minutes: int = DEFAULT_HEARTBEAT_MINUTES
    # Functions deployed only as code AWS Signer signed (components/code_signing.py).
    code_signing: bool = False

    @property
    def destination_scope(self) -> str:
        """`organization` when the destinations admit the organisation (aws:PrincipalOrgID),
        whose senders must pass roleArn; `accounts` when they list accounts only."""
        return ORGANIZATION_SCOPE if self.organization_id else ACCOUNTS_SCOPE


@dataclass(frozen=True)
class MemberSettings:
    """One member account: where its logs go and how its log groups are subscribed."""

    regions: tuple[str, ...]
    home_region: str
    logging_stack: str
    subscription_mode: str
    filter_name: str
    filter_pattern: str
    exclude_log_groups: tuple[str, ...]
    replace_filter_names: tuple[str, ...]
    reconcile_schedule: str | None
    alarms: AlarmSettings
    logging_account_id: str | None = None
    heartbeat_minutes: int = DEFAULT_HEARTBEAT_MINUTES
    # Functions deployed only as code AWS Signer signed (components/code_signing.py).
    code_signing: bool = False


@dataclass(frozen=True)
class OrganizationSettings:
    """The organization stack: the member side, as `member` describes it, in every account of
    the chosen OUs through service-managed StackSets."""

    member: MemberSettings
    organizational_unit_ids: tuple[str, ...]
    exclude_accounts: tuple[str, ...]
    call_as: str
    max_concurrent_percentage: int
    failure_tolerance_percentage: int
    # Member accounts' CloudWatch alarms: off by default, as nobody there is notified.
    member_alarms: bool = False


def _require(value: T | None) -> T:
    assert value is not None
    return value


def parse_logging(values: Mapping[str, str | None], home_region: str | None) -> LoggingSettings:
    raw = Raw(values)
    regions = _regions(raw, home_region)
    home = home_region or regions[0]
    organization_id = _one_of(
        "organizationId",
        raw.text("organizationId"),
        ORGANIZATION_RE,
        "it must be an AWS Organizations ID such as o-exampleorgid",
    )
    member_accounts = _account_ids(raw, "memberAccounts")
    freshness_accounts = _account_ids(raw, "freshnessAccounts")
    if not organization_id and not member_accounts:
        raise ConfigError(
            f"Neither {key('organizationId')} nor {key('memberAccounts')} is set; set at least "
            "one of them to say which accounts may send logs."
        )
    destination_name = _require(raw.text("destinationName", "CentralLogDestination"))
    if not DESTINATION_NAME_RE.fullmatch(destination_name):
        raise _bad(
            "destinationName",
            destination_name,
            "it also names the delivery streams and their error log group, so it must be 1 to "
            "491 characters of letters, digits, _ . and -",
        )
    transport = raw.choice("transport", ("firehose", "kinesis"), "firehose")
    archive_format = raw.choice("archiveFormat", ("json", "raw"), "json")
    if archive_format == "json" and transport == "kinesis":
        raise ConfigError(
            f"{key('archiveFormat')} is 'json' with {key('transport')} 'kinesis'; Firehose only "
            "decompresses records sent directly by CloudWatch Logs, so use transport firehose "
            "or archiveFormat raw."
        )
    stream_mode = raw.choice("kinesisStreamMode", ("ON_DEMAND", "PROVISIONED"), "ON_DEMAND")
    shard_count = raw.optional_count("kinesisShardCount", 10000)
    if stream_mode == "ON_DEMAND" and shard_count is not None:
        raise _bad(
            "kinesisShardCount",
            shard_count,
            "a shard count applies only with kinesisStreamMode PROVISIONED",
        )
    retention = _require(raw.integer("kinesisRetentionHours", 24, 8760, 48))

    bucket_name = _one_of(
        "bucketName", raw.text("bucketName"), BUCKET_RE, "it must be a valid S3 bucket name"
    )
    existing_bucket = _one_of(
        "existingBucketName",
        raw.text("existingBucketName"),
        BUCKET_RE,
        "it must be a valid S3 bucket name",
    )
    for name, value in (("bucketName", bucket_name), ("existingBucketName", existing_bucket)):
        if value and (".." in value or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value)):
            raise _bad(name, value, "it must be a valid S3 bucket name")
    if bucket_name and existing_bucket:
        raise ConfigError(
            f"Both {key('bucketName')} and {key('existingBucketName')} are set; set "
            "bucketName to create a bucket or existingBucketName to use one, not both."
        )
    s3_prefix = _require(raw.text("s3Prefix", "CentralizedAccountsLog/"))
    if s3_prefix.startswith("/") or not s3_prefix.endswith("/") or "!{" in s3_prefix:
        raise _bad("s3Prefix", s3_prefix, "it must end with / and not start with /")
    room = max(partition_room(region, archive_format) for region in regions)
    if len(s3_prefix) > FIREHOSE_EVALUATED_PREFIX_MAX - room:
        raise _bad(
            "s3Prefix",
            s3_prefix,
            f"Firehose allows {FIREHOSE_EVALUATED_PREFIX_MAX} characters of prefix after "
            f"evaluation and the partitions add up to {room} here, so it must be at most "
            f"{FIREHOSE_EVALUATED_PREFIX_MAX - room} characters",
        )
    if FRESHNESS_STATE_KEY.startswith(s3_prefix):
        # Only the delivery roles write under the prefix; the freshness state lives outside it.
        raise _bad(
            "s3Prefix", s3_prefix, f"it must not contain the freshness state, {FRESHNESS_STATE_KEY}"
        )

    partitioned = archive_format == "json"
    buffer_interval = _require(raw.integer("bufferIntervalSeconds", 0, 900, 300))
    if partitioned and buffer_interval < PARTITIONED_BUFFER_INTERVAL_MIN:
        raise _bad(
            "bufferIntervalSeconds",
            buffer_interval,
            "archiveFormat json partitions dynamically, which Firehose offers without zero "
            f"buffering, so it must be from {PARTITIONED_BUFFER_INTERVAL_MIN} to 900",
        )
    size_low = 64 if partitioned else 1
    buffer_size = _require(raw.integer("bufferSizeMiB", size_low, 128, 64))

    kms_key_arn = raw.text("kmsKeyArn")
    if kms_key_arn and KMS_ALIAS_ARN_RE.fullmatch(kms_key_arn):
        raise _bad(
            "kmsKeyArn",
            kms_key_arn,
            "an alias ARN in an IAM policy never grants use of the key, so Firehose could not "
            "encrypt with it: give the key's own ARN, arn:aws:kms:REGION:ACCOUNT:key/ID",
        )
    _one_of(
        "kmsKeyArn",
        kms_key_arn,
        KMS_KEY_ARN_RE,
        "it must be the ARN of a KMS key in the form arn:aws:kms:REGION:ACCOUNT:key/ID",
    )
    if kms_key_arn and kms_key_arn.split(":")[3] != home:
        raise _bad("kmsKeyArn", kms_key_arn, f"the key must be in the bucket's region {home}")

    lock_mode = raw.text("objectLockMode")
    if lock_mode is not None and lock_mode not in ("GOVERNANCE", "COMPLIANCE"):
        raise _bad("objectLockMode", lock_mode, "allowed values are GOVERNANCE, COMPLIANCE")
    lock_days = raw.optional_count("objectLockDays", 36500)
    if lock_mode and lock_days is None:
        raise ConfigError(
            f"{key('objectLockMode')} is {lock_mode!r} without {key('objectLockDays')}; set the "
            "number of days each object is retained."
        )
    if lock_days is not None and not lock_mode:
        raise _bad(
            "objectLockDays", lock_days, "set objectLockMode GOVERNANCE or COMPLIANCE with it"
        )
    if (lock_mode or lock_days) and existing_bucket:
        raise ConfigError(
            f"{key('objectLockMode')} is set with {key('existingBucketName')}; Object Lock is "
            "configured only on a bucket this stack creates."
        )
    transition_days = raw.optional_count("transitionDays", 36500)
    expire_days = raw.optional_count("expireDays", 36500)
    if (transition_days or expire_days) and existing_bucket:
        raise ConfigError(
            f"{key('transitionDays')}/{key('expireDays')} are set with "
            f"{key('existingBucketName')}; lifecycle is configured only on a bucket this stack "
            "creates."
        )
    if transition_days and expire_days and expire_days <= transition_days:
        raise _bad(
            "expireDays", expire_days, f"it must be greater than transitionDays ({transition_days})"
        )
    if lock_days and expire_days and expire_days < lock_days:
        raise _bad("expireDays", expire_days, f"it must be at least objectLockDays ({lock_days})")
    if expire_days is not None and expire_days < EXPIRE_DAYS_FLOOR:
        raise _bad(
            "expireDays",
            expire_days,
            f"it must be 0 (never) or at least {EXPIRE_DAYS_FLOOR} days, the event history "
            "CloudTrail already keeps without an archive",
        )
    access_trail = _require(raw.text("accessTrail", SERVER_ACCESS_LOGS))
    if access_trail not in (SERVER_ACCESS_LOGS, CLOUDTRAIL) and not TRAIL_ARN_RE.fullmatch(
        access_trail
    ):
        raise _bad(
            "accessTrail",
            access_trail,
            f"it must be {SERVER_ACCESS_LOGS}, {CLOUDTRAIL}, or the ARN of an existing trail "
            "that records the archive's data events, arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME",
        )

    organization_reader = _organization_reader(raw, organization_id)
    return LoggingSettings(
        regions=regions,
        home_region=home,
        organization_id=organization_id,
        member_accounts=member_accounts,
        destination_name=destination_name,
        transport=transport,
        archive_format=archive_format,
        kinesis_stream_mode=stream_mode,
        kinesis_shard_count=shard_count or DEFAULT_SHARD_COUNT,
        kinesis_retention_hours=retention,
        bucket_name=bucket_name,
        existing_bucket_name=existing_bucket,
        s3_prefix=s3_prefix,
        buffer_interval_seconds=buffer_interval,
        buffer_size_mib=buffer_size,
        kms_key_arn=kms_key_arn,
        object_lock_mode=lock_mode,
        object_lock_days=lock_days,
        transition_days=transition_days,
        expire_days=expire_days,
        # The query layer reads the json layout; the raw one is not partitioned by account.
        athena=raw.boolean("athena", True) and archive_format == "json",
        athena_results_days=_require(raw.integer("athenaResultsDays", 1, 36500, 30)),
        alarms=_alarms(raw, regions, logging_home=home),
        archive_admin_role_arns=_role_arns(raw, "archiveAdminRoleArns"),
        access_trail=access_trail,
        freshness_accounts=freshness_accounts,
        freshness_metrics=raw.choice("freshnessMetrics", ("aggregate", "per-account"), "aggregate"),
        exempt_accounts=_account_ids(raw, "exemptAccounts"),
        organization_reader_role_arn=organization_reader,
        coverage=_coverage(raw, organization_id, organization_reader, s3_prefix),
        history_writer_principals=_history_writer_principals(raw, archive_format),
        reader_principals=_principals(raw, "readerPrincipals"),
        heartbeat_minutes=heartbeat_minutes(raw),
        code_signing=raw.boolean("codeSigning", False),
    )


def _organization_reader(raw: Raw, organization_id: str | None) -> str | None:
    """The role in the management account (or a delegated administrator) through which the
    freshness and coverage checks list the organisation's accounts; unset, the freshness check
    lists them as the logging account, and there is no coverage check."""
    name = "organizationReaderRoleArn"
    role_arn = _one_of(
        name,
        raw.text(name),
        ROLE_ARN_RE,
        "it must be an IAM role ARN such as arn:aws:iam::111111111111:role/NAME",
    )
    if role_arn and not organization_id:
        raise _bad(
            name, role_arn, f"it is used only with {key('organizationId')}, which is not set"
        )
    return role_arn


def _history_writer_principals(raw: Raw, archive_format: str) -> tuple[str, ...]:
    principals = raw.strings(
        "historyWriterPrincipals",
        lambda p: bool(ACCOUNT_RE.fullmatch(p) or ROLE_ARN_RE.fullmatch(p)),
        "a 12-digit account ID or an IAM role ARN such as arn:aws:iam::111111111111:role/NAME",
    )
    if principals and archive_format == "raw":
        raise ConfigError(
            f"{key('historyWriterPrincipals')} is set with {key('archiveFormat')} raw; history "
            "objects are written only into an archive in the json format."
        )
    return principals


def account_policy_selection(excluded: Sequence[str]) -> str | None:
    """The selection criteria of an account-level subscription filter policy that leave out
    `excluded` (exact names), or None for none."""
    return f"LogGroupName NOT IN {json.dumps(list(excluded))}" if excluded else None


def parse_member(values: Mapping[str, str | None], home_region: str | None) -> MemberSettings:
    raw = Raw(values)
    regions = _regions(raw, home_region)
    logging_stack = raw.text("loggingStack")
    if logging_stack is None:
        raise ConfigError(
            f"{key('loggingStack')} is not set; set it to the logging stack as org/project/stack."
        )
    if not STACK_RE.fullmatch(logging_stack):
        raise _bad("loggingStack", logging_stack, "it must be a stack name as org/project/stack")
    mode = raw.choice("subscriptionMode", ("lambda", "account-policy"), "lambda")
    filter_name = _require(raw.text("filterName", "central-logging"))
    if not LOGS_NAME_RE.fullmatch(filter_name):
        raise _bad("filterName", filter_name, "it must be 1 to 512 characters without : or *")
    if not (filter_name.isascii() and filter_name.isprintable()):
        # It is the FilterName dimension of AWS/Logs DeliveryErrors, which the delivery
        # alarms watch; "Dimension values must contain only ASCII characters"
        # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html).
        raise _bad(
            "filterName",
            filter_name,
            "it must be printable ASCII, since it names the FilterName dimension of the "
            "delivery metrics the alarms watch, which CloudWatch takes in ASCII only",
        )
    if mode == "account-policy" and filter_name.startswith("aws/"):
        # It names the account policy, which "cannot start with aws/" (PutAccountPolicy).
        raise _bad("filterName", filter_name, "an account policy name cannot start with aws/")
    filter_pattern = raw.values.get("filterPattern") or ""
    if len(filter_pattern) > FILTER_PATTERN_MAX:
        raise _bad(
            "filterPattern",
            filter_pattern[:40] + "...",
            f"it must be at most {FILTER_PATTERN_MAX} characters",
        )
    _check_filter_pattern(filter_pattern)
    excludes = raw.strings(
        "excludeLogGroups", _matches(LOG_GROUP_GLOB_RE), "a log group name or glob pattern"
    )
    _check_exclusions_leave_logs(excludes)
    for pattern in excludes:
        if fnmatchcase(HEARTBEAT_LOG_GROUP, pattern):
            raise _bad(
                "excludeLogGroups",
                pattern,
                f"it matches {HEARTBEAT_LOG_GROUP}, whose heartbeats prove that this account "
                "delivers; that group is never excluded",
            )
    if mode == "account-policy":
        for pattern in excludes:
            if GLOB_CHARS.search(pattern):
                raise _bad(
                    "excludeLogGroups",
                    pattern,
                    "subscriptionMode account-policy takes exact log group names only, "
                    "no glob patterns",
                )
        size = len((account_policy_selection(excludes) or "").encode())
        if size > SELECTION_CRITERIA_LIMIT:
            raise ConfigError(
                f"{key('excludeLogGroups')} has {len(excludes)} names, which make the account "
                f"policy's selection criteria {size} bytes; at most {SELECTION_CRITERIA_LIMIT} "
                f"fit (AWS allows {SELECTION_CRITERIA_MAX_BYTES}, less room for the logging "
                "account's delivery log group): exclude fewer log groups, or use "
                "subscriptionMode lambda, which takes glob patterns."
            )
    replace_names = raw.strings(
        "replaceFilterNames",
        _matches(LOGS_NAME_RE),
        "a filter name of 1 to 512 characters without : or *",
    )
    if filter_name in replace_names:
        raise _bad("replaceFilterNames", filter_name, "it must not contain filterName itself")
    if mode == "lambda":
        size = subscriber_environment_bytes(
            regions, filter_name, filter_pattern, excludes, replace_names
        )
        if size > LAMBDA_ENVIRONMENT_MAX_BYTES:
            raise ConfigError(
                f"{key('excludeLogGroups')} has {len(excludes)} patterns, which with the other "
                f"settings make the subscriber functions' environment up to {size} bytes; Lambda "
                f"allows {LAMBDA_ENVIRONMENT_MAX_BYTES} for all of a function's variables: "
                "exclude log groups with fewer, broader glob patterns, or shorten filterPattern "
                "or replaceFilterNames."
            )
    # Drift is repaired on CloudTrail's record within seconds; the sweep is the safety net.
    schedule = raw.text("reconcileSchedule", "rate(1 day)")
    assert schedule is not None
    if schedule != "off" and not SCHEDULE_RE.fullmatch(schedule):
        raise _bad(
            "reconcileSchedule",
            schedule,
            "it must be an EventBridge schedule such as rate(6 hours) or cron(0 3 * * ? *), or off",
        )
    member = MemberSettings(
        regions=regions,
        home_region=home_region or regions[0],
        logging_stack=logging_stack,
        subscription_mode=mode,
        filter_name=filter_name,
        filter_pattern=filter_pattern,
        exclude_log_groups=excludes,
        replace_filter_names=replace_names,
        reconcile_schedule=None if schedule == "off" else schedule,
        alarms=_alarms(raw, regions, logging_home=None),
        heartbeat_minutes=heartbeat_minutes(raw),
        logging_account_id=_one_of(
            "loggingAccountId",
            raw.text("loggingAccountId"),
            ACCOUNT_RE,
            "it must be the logging account's 12-digit ID",
        ),
        code_signing=raw.boolean("codeSigning", False),
    )
    cli_settings(member)  # they fit
    return member


def cli_settings(member: MemberSettings) -> list[tuple[str, str]]:
    """What the member side writes in every covered region, as (SSM parameter name, value): the
    subscription settings the CLI uses unless told otherwise (design.md section 3), in
    /central-logging/settings. Exclusions that do not fit there continue in the parameter its
    `excludeLogGroupsContinuedIn` names, which may name another, and so on."""
    first: dict[str, Any] = {
        "filterName": member.filter_name,
        "filterPattern": member.filter_pattern,
        "excludeLogGroups": [],
        "replaceFilterNames": list(member.replace_filter_names),
        "subscriptionMode": member.subscription_mode,
    }
    if not _fits(first):
        raise _bad(
            "replaceFilterNames",
            f"{len(member.replace_filter_names)} names",
            f"with filterName and filterPattern they must fit the {PARAMETER_MAX_BYTES} bytes "
            f"of SSM parameter {SETTINGS_PARAMETER}, which the CLI reads",
        )
    documents = [first]
    for pattern in member.exclude_log_groups:
        current = documents[-1]
        if not _fits({**current, "excludeLogGroups": [*current["excludeLogGroups"], pattern]}):
            documents.append({"excludeLogGroups": []})
        documents[-1]["excludeLogGroups"].append(pattern)
    names = [SETTINGS_PARAMETER] + [
        f"{SETTINGS_PARAMETER}-{number}" for number in range(2, len(documents) + 1)
    ]
    for document, following in zip(documents, names[1:], strict=False):
        document["excludeLogGroupsContinuedIn"] = following
    return [(n, json.dumps(d, sort_keys=True)) for n, d in zip(names, documents, strict=True)]


# Room kept in each settings parameter for the name of the one it continues in.
_CONTINUATION_ROOM = len(f', "excludeLogGroupsContinuedIn": "{SETTINGS_PARAMETER}-99999"')


def _fits(document: Mapping[str, Any]) -> bool:
    size = len(json.dumps(document, sort_keys=True).encode())
    return size + _CONTINUATION_ROOM <= PARAMETER_MAX_BYTES


def partition_room(region: str, archive_format: str) -> int:
    """How many characters Firehose's evaluated prefixes add to s3Prefix in `region`: the
    error prefix's (errors/region=R/TYPE/day) or, json, the data prefix's
    (account=ID/region=R/day). The raw data prefix has no expressions."""
    errors = len(f"errors/region={region}/") + ERROR_OUTPUT_TYPE_ROOM + 1 + len(DAY_PARTITION)
    data = len(f"account={'0' * 12}/region={region}/{DAY_PARTITION}")
    return max(errors, data) if archive_format == "json" else errors


def subscriber_environment_bytes(
    regions: Sequence[str],
    filter_name: str,
    filter_pattern: str,
    excludes: Sequence[str],
    replace_names: Sequence[str],
) -> int:
    """The largest environment (components/subscriber.function_environment) the subscriber
    functions can get with these settings: the longest destination and sender role ARNs of
    these regions' partitions, and, in the logging account, the delivery log group excluded
    besides `excludes`."""
    partition = max((partition_for(region) for region in regions), key=len, default="aws-us-gov")
    region = max(regions, key=len, default="")
    environment = {
        "DESTINATION_ARN": (
            f"arn:{partition}:logs:{region}:{'0' * 12}:destination:{LONGEST_DESTINATION_NAME}"
        ),
        "SENDER_ROLE_ARN": f"arn:{partition}:iam::{'0' * 12}:role/{LONGEST_ROLE_NAME}",
        "FILTER_NAME": filter_name,
        "FILTER_PATTERN": filter_pattern,
        "EXCLUDE_PATTERNS": json.dumps(
            [*excludes, delivery_log_group_name(LONGEST_DESTINATION_NAME)]
        ),
        "REPLACE_FILTER_NAMES": json.dumps(list(replace_names)),
    }
    return len(json.dumps(environment, separators=(",", ":")).encode())


def _check_filter_pattern(pattern: str) -> None:
    """Refuse a pattern under which typical events (components/filter_pattern.py) would not
    be delivered: such an archive would look alive while holding almost nothing."""
    shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
    try:
        unmatched = first_unmatched(pattern)
    except FilterPatternError as error:
        raise _bad(
            "filterPattern",
            shown,
            f"it must be a CloudWatch Logs filter pattern in the syntax this stack checks "
            f"(terms, JSON or space-delimited), but {error}",
        ) from None
    if unmatched is not None:
        raise _bad(
            "filterPattern",
            shown,
            f"it would not deliver typical events such as {unmatched!r}; leave it empty to "
            "archive every event, or only drop what is never wanted (e.g. -DEBUG)",
        )


def _check_exclusions_leave_logs(excludes: Sequence[str]) -> None:
    if excludes and all(
        any(fnmatchcase(group, pattern) for pattern in excludes) for group in TYPICAL_LOG_GROUPS
    ):
        raise ConfigError(
            f"{key('excludeLogGroups')} excludes every typical log group "
            f"({', '.join(TYPICAL_LOG_GROUPS[:3])}, ...), which leaves only the heartbeat to "
            "deliver; exclude the groups you never want archived, by name or narrow pattern."
        )


# EventBridge's rate() takes whole minutes; beyond an hour silence would go unnoticed too long.
HEARTBEAT_MINUTES_RANGE = (1, 60)


def heartbeat_minutes(raw: Raw) -> int:
    """`heartbeatMinutes`: how often members write a heartbeat (both sides read it)."""
    return _require(
        raw.integer("heartbeatMinutes", *HEARTBEAT_MINUTES_RANGE, DEFAULT_HEARTBEAT_MINUTES)
    )


# In account-policy mode the organization's regional template holds the exclusions twice: in
# the account policy's selection criteria and in the /central-logging/settings parameters the
# CLI reads. Both must fit CloudFormation's 51,200-byte template body with the rest of the
# template for 17 regions (tests/infra/test_limits.py), which leaves 12 KiB for each copy.
ORGANIZATION_SELECTION_LIMIT = 12 * 1024


def parse_organization(
    values: Mapping[str, str | None], home_region: str | None
) -> OrganizationSettings:
    raw = Raw(values)
    for name in ("alarmTopicArn", "alarmEmail"):
        if raw.text(name) is not None:
            raise _bad(
                name,
                raw.text(name),
                "the organization role's alarms live in each member account, where no topic of "
                "this stack can be notified, so leave it unset",
            )
    member = parse_member(values, home_region)
    if member.subscription_mode == "account-policy":
        size = len((account_policy_selection(member.exclude_log_groups) or "").encode())
        if size > ORGANIZATION_SELECTION_LIMIT:
            raise ConfigError(
                f"{key('excludeLogGroups')} has {len(member.exclude_log_groups)} names, which "
                f"make the account policy's selection criteria {size} bytes; an organization "
                f"stack fits at most {ORGANIZATION_SELECTION_LIMIT} in its StackSet template "
                "(the names are written there twice): exclude fewer log groups, or use "
                "subscriptionMode lambda."
            )
    return OrganizationSettings(
        member=member,
        organizational_unit_ids=raw.strings(
            "organizationalUnitIds",
            _matches(ORGANIZATIONAL_UNIT_RE),
            "an organizational unit ID (ou-...) or the root ID (r-...)",
        ),
        exclude_accounts=_account_ids(raw, "excludeAccounts"),
        call_as=raw.choice("callAs", ("SELF", "DELEGATED_ADMIN"), "SELF"),
        max_concurrent_percentage=_require(raw.integer("maxConcurrentPercentage", 1, 100, 25)),
        failure_tolerance_percentage=_require(
            raw.integer("failureTolerancePercentage", 0, 100, 10)
        ),
        member_alarms=raw.boolean("memberAlarms", False),
    )


LOGGING_KEYS = [
    "regions",
    "organizationId",
    "memberAccounts",
    "freshnessAccounts",
    "freshnessMetrics",
    "exemptAccounts",
    "organizationReaderRoleArn",
    "destinationName",
    "transport",
    "archiveFormat",
    "kinesisStreamMode",
    "kinesisShardCount",
    "kinesisRetentionHours",
    "bucketName",
    "existingBucketName",
    "s3Prefix",
    "bufferIntervalSeconds",
    "bufferSizeMiB",
    "kmsKeyArn",
    "objectLockMode",
    "objectLockDays",
    "transitionDays",
    "expireDays",
    "alarmTopicArn",
    "alarmEmail",
    "alarmFreshnessSeconds",
    "alarmIteratorAgeSeconds",
    "heartbeatMinutes",
    "athena",
    "athenaResultsDays",
    "archiveAdminRoleArns",
    "accessTrail",
    *COVERAGE_KEYS,
    "historyWriterPrincipals",
    "readerPrincipals",
    "codeSigning",
]
MEMBER_KEYS = [
    "regions",
    "loggingStack",
    "subscriptionMode",
    "filterName",
    "filterPattern",
    "excludeLogGroups",
    "replaceFilterNames",
    "reconcileSchedule",
    "alarmTopicArn",
    "alarmEmail",
    "loggingAccountId",
    "heartbeatMinutes",
    "codeSigning",
]

ORGANIZATION_KEYS = [
    *MEMBER_KEYS,
    "organizationalUnitIds",
    "excludeAccounts",
    "callAs",
    "maxConcurrentPercentage",
    "failureTolerancePercentage",
    "memberAlarms",
]


ROLE_KEYS = {
    "logging": LOGGING_KEYS,
    "member": MEMBER_KEYS,
    "organization": ORGANIZATION_KEYS,
}
# Pulumi hands every stack the Pulumi.yaml default of each declared key; a key of another role
# counts as set only when it differs from its default. "" / [] / 0 mean "not set"; the other
# defaults are these (tests/infra/test_config_messages.py keeps them equal to Pulumi.yaml's).
UNSET_VALUES = ("", "[]", "0")
DECLARED_DEFAULTS = {
    "freshnessMetrics": "aggregate",
    "destinationName": "CentralLogDestination",
    "transport": "firehose",
    "archiveFormat": "json",
    "kinesisStreamMode": "ON_DEMAND",
    "kinesisRetentionHours": "48",
    "s3Prefix": "CentralizedAccountsLog/",
    "bufferIntervalSeconds": "300",
    "bufferSizeMiB": "64",
    "athena": "true",
    "athenaResultsDays": "30",
    "accessTrail": SERVER_ACCESS_LOGS,
    "alarmFreshnessSeconds": "900",
    "alarmIteratorAgeSeconds": "600",
    "subscriptionMode": "lambda",
    "filterName": "central-logging",
    "reconcileSchedule": "rate(1 day)",
    "callAs": "SELF",
    "maxConcurrentPercentage": "25",
    "failureTolerancePercentage": "10",
    "memberAlarms": "false",
    "heartbeatMinutes": str(DEFAULT_HEARTBEAT_MINUTES),
    "coverageCheck": "false",
    "codeSigning": "false",
}


def refuse_keys_of_other_roles(role: str, values: Mapping[str, str | None]) -> None:
    """A key set in a stack whose role does not read it would be ignored without a word: name
    the role it belongs to instead. `values` holds the keys of the other roles."""
    for name, value in values.items():
        if name in ROLE_KEYS[role] or value is None:
            continue
        if value in UNSET_VALUES or value == DECLARED_DEFAULTS.get(name):
            continue
        owners = [other for other, keys in ROLE_KEYS.items() if name in keys]
        raise _bad(
            name,
            value,
            f"it is a key of the {' and '.join(owners)} role{'s' if len(owners) > 1 else ''}, "
            f"and this stack's role is {role}: remove it here, or set it in that stack",
        )


def read_stack_config() -> LoggingSettings | MemberSettings | OrganizationSettings:
    """Read and validate this stack's configuration: the settings of its role."""
    config = pulumi.Config(NAMESPACE)
    home_region = pulumi.Config("aws").get("region")
    for retired, successor in RETIRED_KEYS.items():
        if config.get(retired) is not None:
            raise ConfigError(
                f"{key(retired)} is set, but it was replaced by {successor}: move its value "
                "there and remove this key."
            )
    role = config.get("role")
    if role in ROLE_KEYS:
        every_key = dict.fromkeys(k for keys in ROLE_KEYS.values() for k in keys)
        refuse_keys_of_other_roles(role, {k: config.get(k) for k in every_key})
    if role == "logging":
        return parse_logging({k: config.get(k) for k in LOGGING_KEYS}, home_region)
    if role == "member":
        return parse_member({k: config.get(k) for k in MEMBER_KEYS}, home_region)
    if role == "organization":
        return parse_organization({k: config.get(k) for k in ORGANIZATION_KEYS}, home_region)
    if role is None:
        raise ConfigError(f"{key('role')} is not set; set it to logging, member or organization.")
    raise _bad("role", role, "allowed values are logging, member, organization")
