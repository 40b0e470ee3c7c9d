"""Is every account-region still delivering? Judged from when its last heartbeat was sent.

Runs in the logging account's home region. Every member region writes a heartbeat every
`heartbeatMinutes` (handlers/heartbeat.py) into a log group subscribed like any other, and
Firehose writes every region's heartbeats into one shared partition, `account=heartbeat/`. An
account-region whose newest archived heartbeat was sent more than FRESHNESS_SECONDS ago has
stopped delivering, whatever the reason. Who sent a heartbeat is the record's `owner`, which
CloudWatch Logs sets; when is the event's timestamp, never later than the object holding it
(a sender cannot date a heartbeat into the future to look fresh after going dark).

Where heartbeats come from (FRESHNESS_SOURCE):
- `events` (a bucket the stack creates): S3 sends an event notification for every object
  created in the heartbeat partition to an SQS queue, which invokes this function with batches
  of them. The function reads those objects (one per stream per buffer interval, however many
  accounts) and folds the heartbeats into one JSON state object, STATE_KEY (outside the
  prefix, written by this function only), with a conditional PutObject (If-Match on the ETag
  read, or If-None-Match for the first write), so two invocations never lose each other's
  updates. The scheduled run reads that one object: a few S3 requests, however many
  account-regions.
- `listing` (an existing bucket, where no notification is ours to configure): the heartbeat
  objects of the last 2 x FRESHNESS_SECONDS are listed and read, and the account folders are
  listed, in parallel and bounded, to learn which accounts delivered in the last 7 days.

Expected account-regions: EXPECTED_ACCOUNTS x REGIONS; with EXPECTED_FROM_ORGANIZATIONS every
ACTIVE account of the organisation (AWS Organizations ListAccounts, through this function's
role: the logging account must be a delegated administrator of the organisation), never
what delivered lately: an account that goes dark stays stale until it leaves the organisation.
Without it, also every account-region of REGIONS that delivered in the last 7 days.

With ARCHIVE_FORMAT raw there is no account in the layout (`{prefix}YYYY/MM/DD/HH/`): the
check works per region, by the delivery stream name Firehose puts at the start of each
object name (DELIVERY_STREAMS: region -> stream name), from any object, and says so.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
import posixpath
import random
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from handlers.core import json_logger
from handlers.heartbeat import HEARTBEAT_LOG_GROUP, HEARTBEAT_PARTITION

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_s3 import S3Client

LOGGER = json_logger("central_logging.freshness")

METRIC_NAMESPACE = "CentralLogging"
SECONDS_METRIC = "SecondsSinceLastDelivery"
STALE_METRIC = "StaleAccountRegions"
# "seen in the last 7 days": today's folder and the 7 before it.
LOOKBACK_DAYS = 7
# The check runs every minute (components/freshness.py).
CHECK_PERIOD_SECONDS = 60
# From a heartbeat object's creation to its heartbeats in the state: S3's notification, the
# queue's batching window (10 s) and the fold.
NOTICE_SECONDS = 30
# Listing: the heartbeat objects each run reads. Runs are a minute apart, so each object is
# read by several; the state remembers what they found.
LISTING_WINDOW = timedelta(minutes=10)
# PutMetricData takes up to 1000 metrics per request (CloudWatch API reference, PutMetricData).
METRICS_PER_REQUEST = 1000
# raw: the account dimension of a per-region measurement.
ALL_ACCOUNTS = "all"
DEFAULT_STATE_KEY = "central-logging-freshness/state.json"
REPORT_NAME = "report.json"
# Listing runs this many requests at once: botocore's default connection pool size.
LIST_THREADS = 10
# Conditional writes that lost a race are retried from a fresh read, this many times.
STATE_WRITE_ATTEMPTS = 8
# The organisation's accounts are read again after this long (ListAccounts returns at most 20
# a page: 100 calls at 2,000 accounts, too many for every 5-minute run).
ORGANIZATION_REFRESH = timedelta(hours=1)
# An account is expected while ACTIVE (Organizations API reference, Account: State).
ACTIVE = "ACTIVE"
# The session name the management account's CloudTrail shows for the check's ListAccounts.
FUNCTION_SESSION_NAME = "central-logging-freshness"

_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
# Firehose names objects DeliveryStreamName-DeliveryStreamVersion-YYYY-MM-DD-HH-MM-SS-RandomString
# (Amazon Data Firehose developer guide, "Amazon S3 object name format").
_OBJECT_NAME = re.compile(r"(?P<stream>.+)-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[^/]+")
_HEARTBEAT_KEY = re.compile(
    rf"account={HEARTBEAT_PARTITION}/region=(?P<region>[a-z0-9-]+)/"
    r"year=\d{4}/month=\d{2}/day=\d{2}/(?P<name>[^/]+)"
)
# A heartbeat envelope is a few hundred bytes; longer lines (someone writing bulk into a
# heartbeat group) are skipped unparsed, so one sender cannot make the fold slow or large.
MAX_HEARTBEAT_LINE = 64 * 1024
_RAW_KEY = re.compile(r"\d{4}/\d{2}/\d{2}/\d{2}/(?P<name>[^/]+)")
# S3's conditional-write refusals: 412 when the ETag no longer matches (or the object now
# exists), 409 when another write to the key won meanwhile ("How to prevent object overwrites
# with conditional writes", https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
_LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict"}


class FreshnessSettingsError(ValueError):
    """An environment variable of the freshness function has a value that is not allowed."""


@dataclass(frozen=True)
class FreshnessSettings:
    bucket: str
    prefix: str
    regions: tuple[str, ...]
    expected_accounts: tuple[str, ...]
    freshness_seconds: int
    archive_format: str = "json"
    delivery_streams: Mapping[str, str] | None = None
    state_key: str = DEFAULT_STATE_KEY
    source: str = "listing"
    metrics: str = "aggregate"
    from_organizations: bool = False
    excluded_accounts: tuple[str, ...] = ()
    organization_role_arn: str | None = None

    @property
    def report_key(self) -> str:
        return report_key_for(self.state_key)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FreshnessSettings:
        bucket = env.get("ARCHIVE_BUCKET", "")
        if not bucket:
            raise _error("ARCHIVE_BUCKET", env.get("ARCHIVE_BUCKET"), "the archive bucket's name")
        prefix = env.get("ARCHIVE_PREFIX", "")
        if prefix and not prefix.endswith("/"):
            raise _error("ARCHIVE_PREFIX", prefix, "empty or a key prefix ending with /")
        regions = _strings(env, "REGIONS", _REGION, "a JSON array of AWS region names")
        if not regions:
            raise _error("REGIONS", env.get("REGIONS"), "a JSON array of AWS region names")
        accounts = _strings(env, "EXPECTED_ACCOUNTS", _ACCOUNT, "a JSON array of account IDs")
        seconds = env.get("FRESHNESS_SECONDS", "")
        if not seconds.isdigit() or int(seconds) < 60:
            raise _error("FRESHNESS_SECONDS", env.get("FRESHNESS_SECONDS"), "a number >= 60")
        archive_format = env.get("ARCHIVE_FORMAT") or "json"
        if archive_format not in ("json", "raw"):
            raise _error("ARCHIVE_FORMAT", archive_format, "json or raw")
        streams = None
        if archive_format == "raw":
            streams = _stream_names(env.get("DELIVERY_STREAMS", ""), regions)
        state_key = env.get("STATE_KEY") or DEFAULT_STATE_KEY
        if (prefix and state_key.startswith(prefix)) or state_key.endswith(("/", REPORT_NAME)):
            raise _error(
                "STATE_KEY", state_key, f"an object key outside ARCHIVE_PREFIX ({prefix!r})"
            )
        return cls(
            bucket,
            prefix,
            regions,
            accounts,
            int(seconds),
            archive_format,
            streams,
            state_key=state_key,
            source=_choice(env, "FRESHNESS_SOURCE", ("listing", "events")),
            metrics=_choice(env, "FRESHNESS_METRICS", ("aggregate", "per-account")),
            from_organizations=_choice(env, "EXPECTED_FROM_ORGANIZATIONS", ("false", "true"))
            == "true",
            excluded_accounts=_strings(
                env, "EXCLUDED_ACCOUNTS", _ACCOUNT, "a JSON array of account IDs"
            ),
            organization_role_arn=_role_arn(env, "ORGANIZATION_ROLE_ARN"),
        )


def stale_after_seconds(heartbeat_minutes: int, buffer_seconds: int) -> int:
    """How long after its newest heartbeat was sent an account-region is stale: the next
    heartbeat is due `heartbeat_minutes` later, Firehose may hold it 1.5 buffer intervals
    ("Buffer data for dynamic partitioning",
    https://docs.aws.amazon.com/firehose/latest/dev/buffering.html), and its notification
    takes up to NOTICE_SECONDS to reach the state."""
    return heartbeat_minutes * 60 + math.ceil(1.5 * buffer_seconds) + NOTICE_SECONDS


def silence_noticed_seconds(heartbeat_minutes: int, buffer_seconds: int) -> int:
    """The longest a silent account-region goes unreported: its last heartbeat may have left
    just before the silence began, then the threshold passes, then the next run reports it."""
    return stale_after_seconds(heartbeat_minutes, buffer_seconds) + CHECK_PERIOD_SECONDS


def report_key_for(state_key: str) -> str:
    """Where the report an operator opens is written: beside the state."""
    return posixpath.join(posixpath.dirname(state_key), REPORT_NAME)


def _error(variable: str, value: str | None, allowed: str) -> FreshnessSettingsError:
    found = "it is not set" if value is None else f"got {value!r}"
    return FreshnessSettingsError(f"{variable} must be {allowed}; {found}.")


def _role_arn(env: Mapping[str, str], variable: str) -> str | None:
    value = env.get(variable) or None
    if value is not None and not _ROLE_ARN.fullmatch(value):
        raise _error(variable, value, "empty or an IAM role ARN")
    return value


def _choice(env: Mapping[str, str], variable: str, allowed: tuple[str, ...]) -> str:
    """One of `allowed`; the first when unset."""
    value = env.get(variable) or allowed[0]
    if value not in allowed:
        raise _error(variable, value, " or ".join(allowed))
    return value


def _strings(
    env: Mapping[str, str], variable: str, pattern: re.Pattern[str], allowed: str
) -> tuple[str, ...]:
    raw = env.get(variable, "")
    try:
        value: Any = json.loads(raw) if raw else []
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(
        isinstance(v, str) and pattern.fullmatch(v) for v in value
    ):
        raise _error(variable, raw, allowed)
    return tuple(dict.fromkeys(value))


def _stream_names(raw: str, regions: tuple[str, ...]) -> dict[str, str]:
    allowed = "a JSON object naming the delivery stream of every region in REGIONS"
    try:
        value: Any = json.loads(raw) if raw else None
    except ValueError:
        value = None
    if not isinstance(value, dict) or any(
        not isinstance(value.get(region), str) or not value[region] for region in regions
    ):
        raise _error("DELIVERY_STREAMS", raw or None, allowed)
    return {region: value[region] for region in regions}


@dataclass(frozen=True)
class AccountRegion:
    account: str | None  # None: raw archive, all accounts of the region together
    region: str
    last_delivery: datetime | None

    def age(self, now: datetime) -> float | None:
        return None if self.last_delivery is None else (now - self.last_delivery).total_seconds()

    def as_dict(self) -> dict[str, str | None]:
        last = self.last_delivery
        return {"account": self.account, "region": self.region, "lastDelivery": _iso(last)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- the state: last delivery per account-region ---------------------------------------


@dataclass
class State:
    """What the state object holds: "account/region" -> last delivery (ISO 8601), and the
    organisation's accounts as last read, with when."""

    deliveries: dict[str, str] = field(default_factory=dict)
    organization_accounts: list[str] | None = None
    organization_read_at: str | None = None

    @classmethod
    def from_json(cls, text: bytes) -> State:
        document = json.loads(text)
        organization = document.get("organizationAccounts") or {}
        return cls(
            dict(document.get("deliveries", {})),
            organization.get("accounts"),
            organization.get("readAt"),
        )

    def to_json(self) -> bytes:
        document: dict[str, Any] = {
            "version": 1,
            "deliveries": dict(sorted(self.deliveries.items())),
        }
        if self.organization_accounts is not None:
            document["organizationAccounts"] = {
                "readAt": self.organization_read_at,
                "accounts": self.organization_accounts,
            }
        return json.dumps(document, separators=(",", ":")).encode()

    def record(self, account: str, region: str, at: datetime) -> None:
        key = f"{account}/{region}"
        known = self.deliveries.get(key)
        if known is None or _parse_time(known) < at:
            self.deliveries[key] = _iso(at) or ""

    def last(self, account: str, region: str) -> datetime | None:
        known = self.deliveries.get(f"{account}/{region}")
        return _parse_time(known) if known else None

    def forget_unexpected(self, expected: Iterable[str], now: datetime) -> None:
        """Drop account-regions of accounts no longer expected, silent for LOOKBACK_DAYS: an
        account that left the organisation does not grow the state forever."""
        keep = set(expected) | {ALL_ACCOUNTS}
        horizon = now - timedelta(days=LOOKBACK_DAYS)
        self.deliveries = {
            key: at
            for key, at in self.deliveries.items()
            if key.split("/", 1)[0] in keep or _parse_time(at) >= horizon
        }


def load_state(s3: S3Client, settings: FreshnessSettings) -> tuple[State, str | None]:
    """The state and its ETag (None: there is none yet)."""
    try:
        response = s3.get_object(Bucket=settings.bucket, Key=settings.state_key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return State(), None
        raise
    return State.from_json(response["Body"].read()), response["ETag"]


def update_state(
    s3: S3Client,
    settings: FreshnessSettings,
    change: Callable[[State], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> State:
    """Read the state, apply `change`, write it back only if nobody wrote it meanwhile;
    otherwise start over from what they wrote. `change` must be safe to apply again."""
    for attempt in range(STATE_WRITE_ATTEMPTS):
        state, etag = load_state(s3, settings)
        change(state)
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            s3.put_object(
                Bucket=settings.bucket,
                Key=settings.state_key,
                Body=state.to_json(),
                ContentType="application/json",
                **condition,  # type: ignore[arg-type]  # one of the two conditions
            )
            return state
        except ClientError as error:
            if error.response["Error"]["Code"] not in _LOST_RACE:
                raise
            LOGGER.info("the state changed while folding: reading it again")
            sleep(random.uniform(0, 0.1 * 2**attempt))
    raise RuntimeError(
        f"s3://{settings.bucket}/{settings.state_key} kept changing during "
        f"{STATE_WRITE_ATTEMPTS} attempts to update it"
    )


# --- folding deliveries from the queue -------------------------------------------------


class NotAnEvent(ValueError):
    """A queue message that is neither an S3 event notification nor an EventBridge event."""


def _objects_created(body: str) -> list[tuple[str, str, datetime]]:
    """(bucket, key, time) of every object an SQS message body says was created: an S3 event
    notification ("Event message structure", keys URL-encoded:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html)
    or an EventBridge "Object Created" event ("EventBridge event message structure", keys as
    they are: https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)."""
    try:
        message = json.loads(body)
        if not isinstance(message, dict):
            raise NotAnEvent(body[:200])
        if message.get("Event") == "s3:TestEvent":
            return []  # S3 checks the queue when the notification is configured
        if message.get("detail-type") == "Object Created" and message.get("source") == "aws.s3":
            detail = message["detail"]
            return [
                (detail["bucket"]["name"], detail["object"]["key"], _parse_time(message["time"]))
            ]
        records = message.get("Records")
        if isinstance(records, list) and all(r.get("eventSource") == "aws:s3" for r in records):
            return [
                (
                    record["s3"]["bucket"]["name"],
                    unquote_plus(record["s3"]["object"]["key"]),
                    _parse_time(record["eventTime"]),
                )
                for record in records
                if str(record["eventName"]).startswith("ObjectCreated:")
            ]
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise NotAnEvent(body[:200]) from error
    raise NotAnEvent(body[:200])


def region_of(settings: FreshnessSettings, bucket: str, key: str) -> str | None:
    """The region of an object Firehose delivered that tells about freshness: json, an object
    of the heartbeat partition (its heartbeats are read: heartbeats_in); raw, any object of
    a stream. None for anything else: another bucket, an account's partition, the error
    prefix, redriven objects (not named as Firehose names them), a region not covered."""
    if bucket != settings.bucket or not key.startswith(settings.prefix):
        return None
    rest = key[len(settings.prefix) :]
    if settings.archive_format == "raw":
        raw = _RAW_KEY.fullmatch(rest)
        name = _OBJECT_NAME.fullmatch(raw["name"]) if raw else None
        streams = settings.delivery_streams or {}
        regions = [r for r, stream in streams.items() if name and stream == name["stream"]]
        return regions[0] if regions else None
    found = _HEARTBEAT_KEY.fullmatch(rest)
    if not found or not _OBJECT_NAME.fullmatch(found["name"]):
        return None
    return found["region"] if found["region"] in settings.regions else None


def _lines(stream: Any) -> Iterator[bytes]:
    """The lines of a gzip stream (anything with `read`; concatenated members too), each at
    most MAX_HEARTBEAT_LINE bytes: longer ones are read past, never held whole."""
    with gzip.GzipFile(fileobj=stream) as text:
        while line := text.readline(MAX_HEARTBEAT_LINE + 1):
            if len(line) <= MAX_HEARTBEAT_LINE:
                yield line
                continue
            while line and not line.endswith(b"\n"):
                line = text.readline(MAX_HEARTBEAT_LINE + 1)


def heartbeats_in(lines: Iterable[bytes], written: datetime) -> Iterator[tuple[str, datetime]]:
    """(account, when sent) of every heartbeat in an object of the heartbeat partition that
    S3 says was written at `written`. The account is the record's owner (CloudWatch Logs sets
    it); the time is the newest event's timestamp, but never later than `written`."""
    for line in lines:
        try:
            envelope = json.loads(line)
        except ValueError:
            continue
        if not isinstance(envelope, dict) or envelope.get("logGroup") != HEARTBEAT_LOG_GROUP:
            continue  # CloudWatch Logs' control messages share the partition
        owner = envelope.get("owner")
        events = envelope.get("logEvents")
        if not isinstance(owner, str) or not _ACCOUNT.fullmatch(owner):
            continue
        stamps = [
            e["timestamp"]
            for e in (events if isinstance(events, list) else [])
            if isinstance(e, dict) and type(e.get("timestamp")) is int
        ]
        sent = written
        if stamps:
            with contextlib.suppress(OverflowError, OSError, ValueError):
                sent = min(written, datetime.fromtimestamp(max(stamps) / 1000, UTC))
        yield owner, sent


def read_heartbeats(
    s3: S3Client, bucket: str, key: str, written: datetime
) -> list[tuple[str, datetime]]:
    """The heartbeats of one object of the heartbeat partition: the newest per account, none
    later than the object's time as S3 keeps it (whatever a queue message says)."""
    response = s3.get_object(Bucket=bucket, Key=key)
    written = min(written, response["LastModified"])
    body = response["Body"]
    newest: dict[str, datetime] = {}
    try:
        for owner, sent in heartbeats_in(_lines(body), written):
            if owner not in newest or sent > newest[owner]:
                newest[owner] = sent
    finally:
        body.close()
    return sorted(newest.items())


def recording(
    deliveries: Sequence[tuple[str, str, datetime]], settings: FreshnessSettings, now: datetime
) -> Callable[[State], None]:
    """The change to the state that records `deliveries` (account, region, when)."""

    def change(state: State) -> None:
        for account, region, at in deliveries:
            state.record(account, region, at)
        if settings.from_organizations and state.organization_accounts is None:
            return  # the organisation's accounts are not read yet: none is unexpected
        expected = [*settings.expected_accounts, *(state.organization_accounts or [])]
        state.forget_unexpected(expected, now)

    return change


def fold(
    s3: S3Client, settings: FreshnessSettings, event: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Record the heartbeats of the objects an SQS batch announces in the state. A message
    that is no event, or whose object cannot be read, is reported as a batch item failure:
    SQS retries it, then moves it to the dead-letter queue, and it never holds up the others."""
    failures = []
    deliveries: list[tuple[str, str, datetime]] = []
    for record in event["Records"]:
        try:
            created = _objects_created(record.get("body", ""))
        except NotAnEvent as error:
            LOGGER.error(
                "not an S3 object-created event: left for the dead-letter queue",
                extra={"fields": {"messageId": record.get("messageId"), "body": str(error)}},
            )
            failures.append({"itemIdentifier": record.get("messageId")})
            continue
        found = []
        try:
            for bucket, key, at in created:
                region = region_of(settings, bucket, key)
                if region is None:
                    continue
                if settings.archive_format == "raw":
                    found.append((ALL_ACCOUNTS, region, at))
                else:
                    heartbeats = read_heartbeats(s3, bucket, key, at)
                    found += [(owner, region, sent) for owner, sent in heartbeats]
        except (ClientError, OSError, EOFError, zlib.error) as error:
            LOGGER.error(
                "could not read the heartbeats of an object: the message is retried",
                extra={"fields": {"messageId": record.get("messageId"), "error": str(error)}},
            )
            failures.append({"itemIdentifier": record.get("messageId")})
            continue
        deliveries += found
    if deliveries:
        update_state(s3, settings, recording(deliveries, settings, now))
    LOGGER.info(
        "folded deliveries",
        extra={"fields": {"messages": len(event["Records"]), "deliveries": len(deliveries)}},
    )
    return {"batchItemFailures": failures}


# --- which accounts are expected --------------------------------------------------------


def organization_accounts(organizations: OrganizationsClient) -> list[str]:
    """Every ACTIVE account of the organisation."""
    accounts = []
    for page in organizations.get_paginator("list_accounts").paginate():
        for account in page["Accounts"]:
            # State replaces the older Status field; either says ACTIVE.
            status = account.get("State") or account.get("Status")
            if status == ACTIVE:
                accounts.append(account["Id"])
    return sorted(accounts)


def _with_organization(
    s3: S3Client,
    organizations: Callable[[], OrganizationsClient],
    settings: FreshnessSettings,
    state: State,
    now: datetime,
) -> list[str]:
    """The organisation's accounts, read again (and kept in the state) once an hour."""
    read_at = state.organization_read_at
    fresh = read_at is not None and now - _parse_time(read_at) < ORGANIZATION_REFRESH
    if state.organization_accounts is not None and fresh:
        return state.organization_accounts
    accounts = organization_accounts(organizations())

    def change(latest: State) -> None:
        latest.organization_accounts = accounts
        latest.organization_read_at = _iso(now)

    try:
        update_state(s3, settings, change)
    except ClientError as error:
        # Listing on a bucket that refuses the state: fold_listed said so already.
        if settings.source == "events" or error.response["Error"]["Code"] != "AccessDenied":
            raise
    return accounts


# --- judging ----------------------------------------------------------------------------


def _days_back(now: datetime) -> list[datetime]:
    return [now - timedelta(days=n) for n in range(LOOKBACK_DAYS + 1)]


def _objects(s3: S3Client, bucket: str, prefix: str) -> Iterator[tuple[str, datetime]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"], item["LastModified"]


def listed_heartbeats(
    s3: S3Client, settings: FreshnessSettings, now: datetime
) -> list[tuple[str, str, datetime]]:
    """Listing: (account, region, when sent) of the heartbeats in the heartbeat partition's
    objects written in the last LISTING_WINDOW, LIST_THREADS requests at a time: one or two
    day folders per region, and an object per stream per buffer interval."""
    since = now - LISTING_WINDOW
    days = sorted({f"year={d:%Y}/month={d:%m}/day={d:%d}/" for d in (since, now)})
    folders = [
        (region, f"{settings.prefix}account={HEARTBEAT_PARTITION}/region={region}/{day}")
        for region in settings.regions
        for day in days
    ]
    with ThreadPoolExecutor(max_workers=LIST_THREADS) as pool:
        listed = pool.map(lambda f: list(_objects(s3, settings.bucket, f[1])), folders)
        objects = [
            (region, key, modified)
            for (region, _), found in zip(folders, listed, strict=True)
            for key, modified in found
            if modified >= since and region_of(settings, settings.bucket, key)
        ]
        read = pool.map(lambda o: read_heartbeats(s3, settings.bucket, o[1], o[2]), objects)
        return [
            (owner, region, sent)
            for (region, _, _), heartbeats in zip(objects, read, strict=True)
            for owner, sent in heartbeats
        ]


def fold_listed(s3: S3Client, settings: FreshnessSettings, now: datetime) -> State:
    """Listing: this run's heartbeats folded into the state, as the queue's batches are with
    events. Where the bucket's owner does not let the function keep its state, the run judges
    from its own listing, and says so."""
    change = recording(listed_heartbeats(s3, settings, now), settings, now)
    try:
        return update_state(s3, settings, change)
    except ClientError as error:
        if error.response["Error"]["Code"] != "AccessDenied":
            raise
        LOGGER.error(
            f"the state s3://{settings.bucket}/{settings.state_key} cannot be kept ({error}): "
            f"judging from the heartbeats of the last {LISTING_WINDOW} only; the bucket's "
            "policy must let this function read and write it"
        )
        state = State()
        change(state)
        return state


def check_raw(s3: S3Client, settings: FreshnessSettings, now: datetime) -> list[AccountRegion]:
    """Every region of the raw archive, with its stream's newest delivery."""
    streams = settings.delivery_streams or {}
    region_of_stream: dict[str, list[str]] = {}
    for region, stream in streams.items():
        region_of_stream.setdefault(stream, []).append(region)
    newest: dict[str, datetime] = {}
    for day in _days_back(now):
        found: dict[str, datetime] = {}
        for key, modified in _objects(s3, settings.bucket, f"{settings.prefix}{day:%Y/%m/%d}/"):
            name = _OBJECT_NAME.fullmatch(key.rsplit("/", 1)[-1])
            for region in region_of_stream.get(name["stream"], []) if name else []:
                if region not in found or modified > found[region]:
                    found[region] = modified
        for region, modified in found.items():
            newest.setdefault(region, modified)
        if len(newest) == len(settings.regions):
            break
    return [AccountRegion(None, region, newest.get(region)) for region in settings.regions]


def check_state(
    state: State, settings: FreshnessSettings, now: datetime, expected: Sequence[str]
) -> list[AccountRegion]:
    """Every expected account-region with its last delivery as the state holds it."""
    if settings.archive_format == "raw":
        return [
            AccountRegion(None, region, state.last(ALL_ACCOUNTS, region))
            for region in settings.regions
        ]
    lately = set()
    if not settings.from_organizations:
        horizon = now - timedelta(days=LOOKBACK_DAYS)
        lately = {
            key.split("/", 1)[0]
            for key, at in state.deliveries.items()
            if key.split("/", 1)[1] in settings.regions and _parse_time(at) >= horizon
        } - {ALL_ACCOUNTS, *settings.excluded_accounts}
    results = []
    for account in sorted(set(expected) | lately):
        for region in settings.regions:
            last = state.last(account, region)
            recent = last is not None and now - last <= timedelta(days=LOOKBACK_DAYS)
            if account in expected or recent:
                results.append(AccountRegion(account, region, last))
    return results


def _metrics(
    results: Sequence[AccountRegion],
    stale: Sequence[AccountRegion],
    settings: FreshnessSettings,
    now: datetime,
) -> list[MetricDatumTypeDef]:
    """StaleAccountRegions in all; per region, its stale count and its largest
    SecondsSinceLastDelivery (1 + 2 x regions metrics); per account-region ages only with
    FRESHNESS_METRICS per-account (a custom metric each: costly at scale)."""
    data: list[MetricDatumTypeDef] = [
        {"MetricName": STALE_METRIC, "Value": len(stale), "Unit": "Count", "Timestamp": now}
    ]
    for region in settings.regions:
        dimensions = [{"Name": "Region", "Value": region}]
        count = sum(1 for r in stale if r.region == region)
        data.append(
            {
                "MetricName": STALE_METRIC,
                "Dimensions": dimensions,  # type: ignore[typeddict-item]
                "Value": count,
                "Unit": "Count",
                "Timestamp": now,
            }
        )
        ages = [age for r in results if r.region == region and (age := r.age(now)) is not None]
        if ages:  # nothing ever delivered there: no age to publish, the count says it
            data.append(
                {
                    "MetricName": SECONDS_METRIC,
                    "Dimensions": dimensions,  # type: ignore[typeddict-item]
                    "Value": max(max(ages), 0.0),
                    "Unit": "Seconds",
                    "Timestamp": now,
                }
            )
    if settings.metrics != "per-account":
        return data
    for result in results:
        age = result.age(now)
        if age is None:
            continue
        data.append(
            {
                "MetricName": SECONDS_METRIC,
                "Dimensions": [
                    {"Name": "Account", "Value": result.account or ALL_ACCOUNTS},
                    {"Name": "Region", "Value": result.region},
                ],
                "Value": max(age, 0.0),
                "Unit": "Seconds",
                "Timestamp": now,
            }
        )
    return data


def publish(cloudwatch: CloudWatchClient, data: list[MetricDatumTypeDef]) -> None:
    for start in range(0, len(data), METRICS_PER_REQUEST):
        cloudwatch.put_metric_data(
            Namespace=METRIC_NAMESPACE, MetricData=data[start : start + METRICS_PER_REQUEST]
        )


def check(
    s3: S3Client,
    cloudwatch: CloudWatchClient,
    settings: FreshnessSettings,
    now: datetime,
    organizations: Callable[[], OrganizationsClient] | None = None,
) -> dict[str, Any]:
    """Find, log, report and publish which account-regions are stale; the design's return
    value."""
    state = State()
    if settings.source == "events":
        state, _ = load_state(s3, settings)
    elif settings.archive_format == "json":
        state = fold_listed(s3, settings, now)
    expected = list(settings.expected_accounts)
    if settings.from_organizations:
        if organizations is None:
            raise ValueError("EXPECTED_FROM_ORGANIZATIONS needs an Organizations client")
        expected += _with_organization(s3, organizations, settings, state, now)
    expected = sorted(set(expected) - set(settings.excluded_accounts))
    if settings.archive_format == "raw":
        LOGGER.info(
            "archiveFormat raw has no account in its layout: checking per region, all "
            "accounts together"
        )
    if settings.source == "listing" and settings.archive_format == "raw":
        results = check_raw(s3, settings, now)
    else:
        results = check_state(state, settings, now, expected)
    stale = [r for r in results if (age := r.age(now)) is None or age > settings.freshness_seconds]
    for result in stale:
        where = (
            f"account {result.account} in {result.region}"
            if result.account
            else (f"region {result.region}")
        )
        LOGGER.warning(
            f"stale: {where} delivered nothing for over {settings.freshness_seconds} s",
            extra={"fields": result.as_dict()},
        )
    outcome = {"stale": [r.as_dict() for r in stale], "fresh": len(results) - len(stale)}
    report = {
        "checkedAt": _iso(now),
        "freshnessSeconds": settings.freshness_seconds,
        "expectedAccounts": "organizations" if settings.from_organizations else "configured",
        **outcome,
    }
    # The metrics first: they are what archive-stale watches, the report is for reading.
    publish(cloudwatch, _metrics(results, stale, settings, now))
    where = f"s3://{settings.bucket}/{settings.report_key}"
    try:
        s3.put_object(
            Bucket=settings.bucket,
            Key=settings.report_key,
            Body=json.dumps(report, indent=1).encode(),
            ContentType="application/json",
        )
    except ClientError as error:
        # An existing bucket's own policy may refuse it; the log lines above still say which.
        LOGGER.error(f"report not written to {where}: {error}")
    else:
        LOGGER.info(f"{len(stale)} stale of {len(results)}: report at {where}")
    return outcome


def _is_queue_batch(event: object) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return bool(records) and all(
        isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records or []
    )


def handler(event: object, context: object) -> dict[str, Any]:
    settings = FreshnessSettings.from_env(os.environ)
    session = boto3.session.Session()
    s3 = session.client("s3", config=Config(max_pool_connections=LIST_THREADS))
    if _is_queue_batch(event):
        assert isinstance(event, dict)
        return fold(s3, settings, event, datetime.now(UTC))
    return check(
        s3,
        session.client("cloudwatch"),
        settings,
        datetime.now(UTC),
        lambda: organizations_client(session, settings),
    )


def organizations_client(
    session: boto3.session.Session, settings: FreshnessSettings
) -> OrganizationsClient:
    """AWS Organizations as this function's role, or through ORGANIZATION_ROLE_ARN (a role in
    the management account) when set."""
    if not settings.organization_role_arn:
        return session.client("organizations")
    credentials = session.client("sts").assume_role(
        RoleArn=settings.organization_role_arn, RoleSessionName=FUNCTION_SESSION_NAME
    )["Credentials"]
    return session.client(
        "organizations",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
