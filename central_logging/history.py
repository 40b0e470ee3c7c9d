"""`central-logging history ARCHIVE`: copy what log groups held before their subscription.

A subscription filter delivers "a real-time stream of log events ingested" after it exists
(CloudWatch Logs API Reference, PutSubscriptionFilter:
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutSubscriptionFilter.html).
For a subscribed log group the boundary is the `creationTime` of the earliest filter that
delivers to the archive, as `handlers.core.decide` judges a filter; events whose
`ingestionTime` is before it are history. A group with no such filter is copied up to a
watermark (now, less `SETTLE`) and reported `not-subscribed`.

Events are read with FilterLogEvents, which returns `eventId` and `ingestionTime` and sorts
events "by event timestamp, the timestamp when the event was ingested by CloudWatch Logs, and
the ID of the PutLogEvents request" (FilteredLogEvent and FilterLogEvents, CloudWatch Logs API
Reference: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html).

Exactly once. A chunk is the events of one (account, region, log group, UTC day of the event
timestamp). Each object holds the chunk's events whose ingestion time is in [lo, hi), and is
named `history-<sha256 of the chunk>-<lo>-<hi>.json.gz` in the chunk's day partition: its name
says exactly which events it holds. Before a chunk is written, the history objects of its day
are listed: `lo` is the largest `hi` already there (0 if none), so windows of one chunk never
overlap, and a chunk already written up to `hi` writes nothing. Objects are written with
`If-None-Match: *` (S3 User Guide, "How to prevent object overwrites with conditional writes":
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html), so an object
is never replaced, and a PutObject is whole or absent: a run killed half way leaves complete
objects only, and the rerun writes the rest. `--since` is taken back to the start of its UTC
day, so that a chunk is either wholly in the run or not at all.

Pace: FilterLogEvents is limited to 5 transactions per second per account and region, not
adjustable (AWS re:Post, "How do I determine throttling in my CloudWatch logs?":
https://repost.aws/knowledge-center/cloudwatch-logs-throttling; CloudWatch Logs quotas:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits.html). Each
account-region has its own limiter at that rate, shared by `GROUP_THREADS` log groups read at
once; ThrottlingException is retried with backoff by the core's client (`make_logs_client`).
At 10,000 events or 1 MB a page, one account-region copies at most 50,000 events or 5 MB a
second; account-regions run in parallel, each under its own quota.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import re
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from central_logging import options
from central_logging.archive import (
    EPOCH,
    PROG,
    CorruptObject,
    Filters,
    UsageError,
    format_millis,
    iter_object_batches,
    parse_s3_url,
    parse_time,
    to_millis,
)
from handlers.core import (
    ALREADY_SUBSCRIBED,
    CLASSES_WITHOUT_FILTERS,
    EXCLUDED,
    FAILED,
    MAX_ATTEMPTS,
    NOT_SUBSCRIBED,
    STANDARD_CLASS,
    RateLimiter,
    Settings,
    decide,
    describe_filters,
    error_result,
    is_excluded,
    make_logs_client,
    quota_limiters,
)

if TYPE_CHECKING:
    from botocore.credentials import Credentials
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import FilteredLogEventTypeDef, SubscriptionFilterTypeDef
    from mypy_boto3_s3 import S3Client

    from central_logging.sweep import Plan, Target

# Outcomes of `history` besides the shared ones (NOT_SUBSCRIBED, EXCLUDED, FAILED).
COPIED = "copied"  # subscribed; history copied up to the boundary
VERIFIED = "verified"  # --verify: the archive holds each event of the source once
MISMATCH = "mismatch"  # --verify: events missing, duplicated or unknown to the source
PROBLEMS = frozenset({FAILED, MISMATCH})

# The `subscriptionFilters` of history envelopes: not a filter name AWS would deliver.
HISTORY_FILTER = "history"
OBJECT_PREFIX = "history-"
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_OBJECT_NAME = re.compile(r"history-([0-9a-f]{32})-(\d+)-(\d+)\.json\.gz")
FILTER_LOG_EVENTS_PER_SECOND = 5
# FilterLogEvents returns up to 10,000 events or 1 MB a page (API reference above).
PAGE_EVENTS = 10_000
PAGE_BYTES = 1 << 20
# PutLogEvents rejects "events more than 2 hours in the future" (CloudWatch Logs API Reference,
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html):
# no event ingested before the boundary is stamped later than this after it.
FUTURE_MILLIS = 2 * 3600 * 1000
# How far behind now a not-subscribed group is copied: the newest events may not be searchable
# yet, and an event copied later must not fall into a window already written.
SETTLE = timedelta(minutes=15)
# Envelopes as CloudWatch Logs batches them: at most 10,000 events, about 1 MiB.
ENVELOPE_EVENTS = 10_000
ENVELOPE_BYTES = 1 << 20
# zlib's default speed/size trade-off; gzip's own default (9) costs about twice the CPU.
GZIP_LEVEL = 6
# An object's body stays in memory up to this size, then spools to a temporary file.
SPOOL_BYTES = 64 << 20
# Bytes of bookkeeping per event in an envelope (id, timestamp, JSON punctuation).
EVENT_OVERHEAD_BYTES = 80
# --dry-run: storedBytes ("The number of bytes stored", LogGroup in the CloudWatch Logs API
# Reference) counts what came live too, so the estimate is an upper bound; events are assumed
# to be about this size, as a typical application log line is.
ESTIMATED_EVENT_BYTES = 200
GROUP_THREADS = 8
WRITE_THREADS = 16
MAX_PARALLEL_ACCOUNT_REGIONS = 64
INTERRUPTED = 130
DAY_MILLIS = 86_400_000


# --- naming and encoding (pure) --------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """The events of one log group on one UTC day (of their timestamps): one object per
    ingestion window, whatever the number of streams (a Lambda function's group has thousands
    of streams a day; an object per stream would cost a PUT each)."""

    account: str
    region: str
    log_group: str
    day: date

    @property
    def digest(self) -> str:
        text = "\n".join([self.account, self.region, self.log_group, self.day.isoformat()])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def partition(self, prefix: str) -> str:
        d = self.day
        return (
            f"{prefix}account={self.account}/region={self.region}/"
            f"year={d:%Y}/month={d:%m}/day={d:%d}/"
        )

    def key(self, prefix: str, lo: int, hi: int) -> str:
        """The object holding this chunk's events ingested in [lo, hi)."""
        return f"{self.partition(prefix)}{OBJECT_PREFIX}{self.digest}-{lo}-{hi}.json.gz"


def day_of(millis: int) -> date:
    return (EPOCH + timedelta(milliseconds=millis)).date()


class ChunkWriter:
    """One object's body, written as events come: gzip NDJSON, one envelope a line, as
    Firehose writes the `json` archive. Each stream's events wait in an envelope of their own
    until it holds ENVELOPE_EVENTS or ENVELOPE_BYTES (as CloudWatch Logs batches them); the rest
    go out at the end, streams in name order. The same events in the same order give the same
    bytes (no time nor name in the gzip header); the body spools to disk past SPOOL_BYTES."""

    def __init__(self, chunk: Chunk) -> None:
        self.chunk = chunk
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", fileobj=self.file, mtime=0, compresslevel=GZIP_LEVEL
        )
        # Per stream: the events of its envelope in progress, and their size in bytes.
        self._pending: dict[str, list[Any]] = {}
        self.events = 0
        self.bytes = 0
        self.first: int | None = None
        self.last: int | None = None

    def add(self, event: FilteredLogEventTypeDef) -> None:
        """Add the next event; events come in timestamp order (FilterLogEvents' order)."""
        stream = event.get("logStreamName", "")
        message = event["message"]
        size = len(message.encode())
        pending = self._pending.get(stream)
        if pending is None:
            pending = self._pending[stream] = [[], 0]
        elif len(pending[0]) >= ENVELOPE_EVENTS or pending[1] + size > ENVELOPE_BYTES:
            self._write(stream, pending[0])
            pending[0], pending[1] = [], 0
        timestamp = event["timestamp"]
        pending[0].append({"id": event["eventId"], "timestamp": timestamp, "message": message})
        pending[1] += size + EVENT_OVERHEAD_BYTES
        self.events += 1
        self.bytes += size
        if self.first is None:
            self.first = timestamp
        self.last = timestamp

    def _write(self, stream: str, batch: list[dict[str, Any]]) -> None:
        envelope = {
            "messageType": "DATA_MESSAGE",
            "owner": self.chunk.account,
            "logGroup": self.chunk.log_group,
            "logStream": stream,
            "subscriptionFilters": [HISTORY_FILTER],
            "logEvents": batch,
        }
        self._gzip.write((json.dumps(envelope, separators=(",", ":")) + "\n").encode())

    def finish(self) -> IO[bytes]:
        """The body, from its start."""
        for stream in sorted(self._pending):
            self._write(stream, self._pending[stream][0])
        self._pending.clear()
        self._gzip.close()
        self.file.seek(0)
        return self.file


def encode(chunk: Chunk, events: Iterable[FilteredLogEventTypeDef]) -> bytes:
    """The body of an object holding `events`."""
    writer = ChunkWriter(chunk)
    for event in events:
        writer.add(event)
    with writer.finish() as body:
        return body.read()


def boundary(
    log_group: str, filters: Sequence[SubscriptionFilterTypeDef], settings: Settings
) -> tuple[int, str] | None:
    """The creationTime and name of the earliest filter that delivers to the archive, as the
    core decides it for that filter alone; None when no filter does."""
    delivering = [
        (f.get("creationTime", 0), f.get("filterName", ""))
        for f in filters
        if decide(log_group, [f], settings).outcome == ALREADY_SUBSCRIBED
    ]
    return min(delivering) if delivering else None


# --- the archive ------------------------------------------------------------------------------


class Archive:
    """The history objects of an archive: listed with the caller's rights, written through
    the writer (the history writer role), never replaced."""

    def __init__(self, reader: S3Client, writer: S3Client, bucket: str, prefix: str) -> None:
        self.reader = reader
        self.writer = writer
        self.bucket = bucket
        self.prefix = prefix

    def windows(self, chunk: Chunk) -> list[tuple[int, int, str]]:
        """(lo, hi, key) of every history object of the chunk, in order. One LIST per chunk
        (as many as its PUTs): listing a day once for all groups would hold every group's
        names in memory, millions in a large account-region."""
        found = []
        pages = self.reader.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket,
            Prefix=f"{chunk.partition(self.prefix)}{OBJECT_PREFIX}{chunk.digest}-",
        )
        for page in pages:
            for item in page.get("Contents", []):
                match = _OBJECT_NAME.fullmatch(item["Key"].rsplit("/", 1)[-1])
                if match and match.group(1) == chunk.digest:
                    found.append((int(match.group(2)), int(match.group(3)), item["Key"]))
        return sorted(found)

    def put(self, key: str, body: bytes | IO[bytes]) -> bool:
        """Write a new object; False if one of that name is there already."""
        try:
            self.writer.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            # 412: the object exists; 409: a concurrent conditional write of it won.
            if status in (409, 412):
                return False
            raise
        return True

    def event_ids(self, key: str) -> list[str]:
        body = self.reader.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            batches = iter_object_batches(body.iter_chunks(PAGE_BYTES), Filters())
            return [event["id"] for batch in batches for event in batch.events]
        finally:
            body.close()


def check_archive(reader: S3Client, url: str) -> tuple[str, str]:
    """(bucket, prefix) of an archive in the `json` format; UsageError for anything else."""
    bucket, prefix = parse_s3_url(url)
    folders: list[str] = []
    try:
        pages = reader.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, Delimiter="/"
        )
        for page in pages:
            folders += [c["Prefix"][len(prefix) :] for c in page.get("CommonPrefixes", [])]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            raise UsageError(f"The bucket of {url} does not exist.") from None
        raise UsageError(f"Could not list {url} ({code or error}).") from None
    if any(f.startswith("account=") for f in folders):
        return bucket, prefix
    if any(re.fullmatch(r"\d{4}/", f) for f in folders):
        raise UsageError(
            f"{url} holds the raw format (YYYY/MM/DD/HH folders); history is written only "
            "into an archive in the json format."
        )
    raise UsageError(
        f"{url} holds no account= partitions, so it is not a central-logging archive in the "
        "json format (or nothing was delivered to it yet)."
    )


# --- one log group ----------------------------------------------------------------------------


@dataclass
class GroupReport:
    account: str
    region: str
    log_group: str
    outcome: str = FAILED
    detail: str = ""
    boundary: int | None = None  # the delivering filter's creationTime
    watermark: int | None = None  # events ingested before this are history
    events: int = 0
    bytes: int = 0
    objects_written: int = 0
    objects_present: int = 0
    first: int | None = None
    last: int | None = None

    def as_dict(self) -> dict[str, Any]:
        def when(millis: int | None) -> str | None:
            return None if millis is None else format_millis(millis)

        return {
            "account": self.account,
            "region": self.region,
            "logGroup": self.log_group,
            "outcome": self.outcome,
            "detail": self.detail,
            "boundary": when(self.boundary),
            "watermark": when(self.watermark),
            "events": self.events,
            "bytes": self.bytes,
            "objectsWritten": self.objects_written,
            "objectsAlreadyThere": self.objects_present,
            "firstTimestamp": when(self.first),
            "lastTimestamp": when(self.last),
        }

    def line(self) -> str:
        d = self.as_dict()
        parts = [f"{self.account} {self.region} {self.log_group}: {self.outcome}"]
        if self.boundary is not None:
            parts.append(f"boundary {d['boundary']}")
        elif self.watermark is not None:
            parts.append(f"watermark {d['watermark']}")
        parts.append(f"{self.events} events")
        if self.first is not None:
            parts.append(f"{d['firstTimestamp']} .. {d['lastTimestamp']}")
        if self.objects_written or self.objects_present:
            parts.append(
                f"{self.objects_written} objects written, {self.objects_present} already there"
            )
        if self.detail:
            parts.append(self.detail)
        return ", ".join(parts)


class OutOfOrder(Exception):
    """FilterLogEvents returned an event of an earlier day after a later one."""


@dataclass
class Job:
    """What every log group of a run shares."""

    archive: Archive | None  # None for --dry-run
    since: int  # ms, the start of a UTC day
    watermark: int  # ms, for groups not subscribed
    verify: bool
    progress: Progress
    stop: threading.Event


def _events(
    client: CloudWatchLogsClient, log_group: str, start: int, end: int, stop: threading.Event
) -> Iterator[FilteredLogEventTypeDef]:
    """The events stamped in [start, end], in FilterLogEvents' order."""
    token: str | None = None
    while not stop.is_set():
        arguments: dict[str, Any] = {
            "logGroupName": log_group,
            "startTime": start,
            "endTime": end,
            # AWS always interleaves since 2019 and ignores this; moto sorts only with it.
            "interleaved": True,
        }
        if token:
            arguments["nextToken"] = token
        page = client.filter_log_events(**arguments)
        yield from page.get("events", [])
        token = page.get("nextToken")
        if not token:
            return


def _days(
    events: Iterable[FilteredLogEventTypeDef], hi: int
) -> Iterator[tuple[date, FilteredLogEventTypeDef]]:
    """The events ingested before `hi`, with their day; OutOfOrder if a day comes back."""
    current = -1
    day = EPOCH.date()
    for event in events:
        if event.get("ingestionTime", hi) >= hi:
            continue
        index = event["timestamp"] // DAY_MILLIS
        if index != current:
            if index < current:
                raise OutOfOrder(
                    f"FilterLogEvents returned an event of {day_of(event['timestamp'])} after "
                    f"one of {day}"
                )
            current, day = index, day_of(event["timestamp"])
        yield day, event


def copy_group(
    client: CloudWatchLogsClient,
    report: GroupReport,
    settings: Settings,
    job: Job,
    writes: Writes | None = None,
    log_class: str = STANDARD_CLASS,
) -> GroupReport:
    """Copy (or, with --verify, check) one log group's history; never raises for AWS."""
    filters: list[SubscriptionFilterTypeDef] = []
    # A class that takes no subscription filters has none to describe: nothing delivers it
    # live, so history (up to the watermark) is its only way into the archive.
    if log_class not in CLASSES_WITHOUT_FILTERS:
        try:
            filters = describe_filters(client, report.log_group)
        except (ClientError, BotoCoreError) as error:
            result = error_result(report.log_group, error, log_class)
            return replace(report, outcome=result.outcome, detail=result.detail)
    found = boundary(report.log_group, filters, settings)
    if found is None:
        report.outcome, report.watermark = NOT_SUBSCRIBED, job.watermark
        report.detail = "no filter delivers to the archive; copied up to the watermark"
    else:
        report.boundary, report.watermark = found[0], found[0]
        report.outcome = COPIED
        report.detail = f"filter {found[1]!r} delivers since the boundary"
    if job.archive is None:
        return report
    hi = report.watermark
    events = _events(client, report.log_group, job.since, hi + FUTURE_MILLIS, job.stop)
    try:
        if job.verify:
            _verify(job.archive, report, events, hi, to_watermark=found is None)
        else:
            _copy(job, job.archive, report, events, hi, writes or Writes(1))
    except (ClientError, BotoCoreError) as error:
        report.outcome, report.detail = FAILED, error_result(report.log_group, error).detail
    except (OutOfOrder, CorruptObject) as error:
        report.outcome, report.detail = FAILED, str(error)
    return report


class Writes:
    """PutObject calls of one account-region, beside its reads, at most `threads` at once
    and as many waiting (each waiting one holds a spooled body)."""

    def __init__(self, threads: int) -> None:
        self.pool = ThreadPoolExecutor(threads)
        self.room = threading.BoundedSemaphore(2 * threads)

    def submit(self, put: Callable[[], bool]) -> Future[bool]:
        self.room.acquire()

        def run() -> bool:
            try:
                return put()
            finally:
                self.room.release()

        return self.pool.submit(run)


def _copy(
    job: Job,
    archive: Archive,
    report: GroupReport,
    events: Iterable[FilteredLogEventTypeDef],
    hi: int,
    writes: Writes,
) -> None:
    """Each day's events not yet in the archive into one new object, written behind."""
    puts: list[tuple[ChunkWriter, Future[bool]]] = []
    writer: ChunkWriter | None = None
    lo = 0
    current: date | None = None

    def finish() -> None:
        if writer is None or not writer.events:
            return
        body = writer.finish()
        key = writer.chunk.key(archive.prefix, lo, hi)

        def put() -> bool:
            with body:
                return archive.put(key, body)

        puts.append((writer, writes.submit(put)))

    try:
        for day, event in _days(events, hi):
            if day != current:
                finish()
                current, writer = day, None
                chunk = Chunk(report.account, report.region, report.log_group, day)
                windows = archive.windows(chunk)
                lo = max((window[1] for window in windows), default=0)
                report.objects_present += len(windows)
                if lo < hi:
                    writer = ChunkWriter(chunk)
            if writer is not None and event.get("ingestionTime", 0) >= lo:
                writer.add(event)
        finish()
    finally:
        # Every put of this group ends before its report does; the first error is its.
        for done, future in puts:
            if not future.result():
                report.objects_present += 1  # a concurrent run wrote this very window
                continue
            report.objects_written += 1
            report.events += done.events
            report.bytes += done.bytes
            assert done.first is not None and done.last is not None
            report.first = done.first if report.first is None else min(report.first, done.first)
            report.last = done.last if report.last is None else max(report.last, done.last)
            job.progress.add(done.events, done.bytes)


def _verify(
    archive: Archive,
    report: GroupReport,
    events: Iterable[FilteredLogEventTypeDef],
    hi: int,
    *,
    to_watermark: bool,
) -> None:
    """Compare the group's source events with the ids its history objects hold, a day at a
    time. For a group not subscribed, the watermark is the newest `hi` its objects reached;
    source events after it are not expected in the archive."""
    source = 0
    duplicated = 0
    unknown = 0
    unmatched: list[int] = []  # ingestion times of source events not in the archive
    reached = 0

    def compare(day: date, ids: dict[str, int]) -> None:
        nonlocal duplicated, unknown, reached
        windows = archive.windows(Chunk(report.account, report.region, report.log_group, day))
        reached = max([reached, *(window[1] for window in windows)])
        held: Counter[str] = Counter()
        for _, _, key in windows:
            held.update(archive.event_ids(key))
        report.objects_present += len(windows)
        report.events += sum(held.values())
        duplicated += sum(count - 1 for count in held.values() if count > 1)
        unknown += sum(1 for event_id in held if event_id not in ids)
        unmatched.extend(ingested for event_id, ingested in ids.items() if event_id not in held)

    current: date | None = None
    ids: dict[str, int] = {}
    for day, event in _days(events, hi):
        if day != current:
            if current is not None:
                compare(current, ids)
            current, ids = day, {}
        ids[event["eventId"]] = event.get("ingestionTime", 0)
        source += 1
        report.first = event["timestamp"] if report.first is None else report.first
        report.last = event["timestamp"]
    if current is not None:
        compare(current, ids)
    if to_watermark:
        report.watermark = reached
        source -= sum(1 for ingested in unmatched if ingested >= reached)
    missing = sum(1 for ingested in unmatched if ingested < (report.watermark or 0))
    if missing or duplicated or unknown:
        report.outcome = MISMATCH
        report.detail = (
            f"{source} events in the source, {report.events} in the archive: "
            f"{missing} missing, {duplicated} duplicated, {unknown} not in the source"
        )
    else:
        report.outcome = VERIFIED
        report.detail = f"each of the {source} events is in the archive once"


# --- progress ---------------------------------------------------------------------------------


class Progress(options.Progress):
    """Events and bytes copied, and an ETA from the groups' storedBytes."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream)
        self.events = 0
        self.bytes = 0
        self.expected_bytes = 0
        self.groups_done = 0
        self.groups = 0

    def listed(self, groups: int, stored_bytes: int) -> None:
        with self.lock:
            self.groups += groups
            self.expected_bytes += stored_bytes
        self.show()

    def add(self, events: int, size: int) -> None:
        with self.lock:
            self.events += events
            self.bytes += size
        self.show()

    def group_done(self) -> None:
        with self.lock:
            self.groups_done += 1
        self.show()

    def line(self, elapsed: float) -> str:
        rate = self.bytes / elapsed
        left = max(self.expected_bytes - self.bytes, 0)
        eta = f"{left / rate:.0f}s" if rate else "?"
        return (
            f"{self.groups_done}/{self.groups} log groups, {self.events} events, "
            f"{self.bytes / 1e6:.1f} MB, {rate / 1e6:.2f} MB/s, ETA {eta} (at most)"
        )


# --- one account-region -----------------------------------------------------------------------


def limiters() -> dict[str, RateLimiter]:
    """The core's quota limiters and one for FilterLogEvents, per account-region."""
    return {
        **quota_limiters(),
        "FilterLogEvents": RateLimiter(FILTER_LOG_EVENTS_PER_SECOND),
    }


def estimate(report: GroupReport, stored_bytes: int) -> GroupReport:
    """--dry-run: events and bytes from storedBytes (an upper bound)."""
    report.bytes = stored_bytes
    report.events = stored_bytes // ESTIMATED_EVENT_BYTES
    report.detail += f"; would copy at most about {report.events} events, {stored_bytes} bytes"
    return report


def calls_for(stored_bytes: int) -> int:
    """FilterLogEvents pages to read `stored_bytes`: 1 MB or 10,000 events a page."""
    events = stored_bytes // ESTIMATED_EVENT_BYTES
    return max(1, math.ceil(stored_bytes / PAGE_BYTES), math.ceil(events / PAGE_EVENTS))


def copy_account_region(
    session: boto3.session.Session,
    account: str,
    region: str,
    settings: Settings,
    job: Job,
    record: Callable[[GroupReport], None],
) -> int:
    """Every log group of one account-region; returns the FilterLogEvents calls a dry run
    estimates (0 otherwise)."""
    client = make_logs_client(session, region, limiters=limiters())
    calls = 0
    try:
        groups: list[tuple[str, int, str]] = []
        for page in client.get_paginator("describe_log_groups").paginate(
            PaginationConfig={"PageSize": 50}
        ):
            groups += [
                (g["logGroupName"], g.get("storedBytes", 0), g.get("logGroupClass", STANDARD_CLASS))
                for g in page["logGroups"]
            ]
    except (ClientError, BotoCoreError) as error:
        detail = f"could not list log groups: {error_result('', error).detail}"
        record(GroupReport(account, region, "", FAILED, detail))
        return 0
    job.progress.listed(len(groups), sum(size for _, size, _ in groups))

    def one(name: str, stored_bytes: int, log_class: str) -> None:
        if job.stop.is_set():
            return
        report = GroupReport(account, region, name)
        if is_excluded(name, settings.exclude_patterns):
            report.outcome, report.detail = EXCLUDED, "matches an exclude pattern"
        else:
            report = copy_group(client, report, settings, job, writes, log_class)
            if job.archive is None and report.outcome != FAILED:
                report = estimate(report, stored_bytes)
        if not job.stop.is_set():
            record(report)
            job.progress.group_done()

    writes = Writes(WRITE_THREADS)
    try:
        with ThreadPoolExecutor(GROUP_THREADS) as pool:
            for future in [pool.submit(one, *group) for group in groups]:
                future.result()
    finally:
        writes.pool.shutdown(wait=not job.stop.is_set(), cancel_futures=job.stop.is_set())
    if job.archive is None:
        calls = sum(calls_for(size) for _, size, _ in groups)
    return calls


# --- the command ------------------------------------------------------------------------------


def add_history_arguments(command: argparse.ArgumentParser) -> None:
    """`history`'s own arguments, beside the selection and fan-out flags it shares."""
    command.add_argument(
        "archive", metavar="ARCHIVE", help="s3://bucket/prefix of the archive (json format)"
    )
    command.add_argument(
        "--since",
        metavar="T",
        help="only events stamped on or after the UTC day of T; default: the earliest",
    )
    command.add_argument(
        "--verify",
        action="store_true",
        help="write nothing; compare the event ids of the history objects with the source "
        "(default: off)",
    )
    command.add_argument(
        "--writer-role-arn",
        metavar="ARN",
        help="the logging stack's historyWriterRoleArn, assumed to write; default: the "
        "caller's own credentials",
    )


def known_regions() -> set[str]:
    session = boto3.session.Session()
    return {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("logs", partition_name=partition)
    }


def check_usage(args: argparse.Namespace, now: datetime) -> int:
    """Usage errors found before any AWS call; returns --since in ms (0: from the start)."""
    if not args.archive.startswith("s3://"):
        raise UsageError(f"ARCHIVE must be s3://bucket/prefix; got {args.archive!r}.")
    parse_s3_url(args.archive)
    unknown = sorted(set(args.region) - known_regions())
    if unknown:
        raise UsageError(f"--region {unknown[0]} is not an AWS region CloudWatch Logs serves.")
    if args.writer_role_arn is not None and not _ROLE_ARN.fullmatch(args.writer_role_arn):
        raise UsageError(
            "--writer-role-arn must be an IAM role ARN such as "
            f"arn:aws:iam::111111111111:role/NAME; got {args.writer_role_arn!r}."
        )
    if args.dry_run and args.verify:
        raise UsageError("--dry-run and --verify exclude each other; give one.")
    if args.since is None:
        return 0
    try:
        since = parse_time(args.since, now)
    except ValueError as error:
        raise UsageError(f"--since: {error}") from None
    if since > now:
        raise UsageError(f"--since {args.since} is in the future; history ends now.")
    return to_millis(datetime.combine(since.astimezone(UTC).date(), datetime.min.time(), UTC))


@dataclass
class Run:
    """The reports so far, filled by every thread."""

    reports: list[GroupReport] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, report: GroupReport) -> None:
        with self.lock:
            self.reports.append(report)

    def sorted(self) -> list[GroupReport]:
        with self.lock:
            return sorted(self.reports, key=lambda r: (r.account, r.region, r.log_group))


def print_report(run: Run, args: argparse.Namespace, out: TextIO) -> None:
    reports = run.sorted()
    summary = Counter(r.outcome for r in reports)
    totals = {
        "events": sum(r.events for r in reports),
        "bytes": sum(r.bytes for r in reports),
        "objectsWritten": sum(r.objects_written for r in reports),
    }
    if args.dry_run:
        # Account-regions run in parallel, each at its own quota: the slowest sets the time.
        slowest = max(run.calls.values(), default=0)
        totals["estimatedSeconds"] = math.ceil(slowest / FILTER_LOG_EVENTS_PER_SECOND)
    if args.json:
        document = {
            "summary": dict(summary),
            "totals": totals,
            "logGroups": [r.as_dict() for r in reports],
        }
        out.write(json.dumps(document, indent=2) + "\n")
        return
    for report in reports:
        out.write(report.line() + "\n")
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(summary.items())) or "none"
    words = ", ".join(f"{value} {name}" for name, value in totals.items())
    out.write(f"Summary: {counts} log groups; {words}.\n")


@dataclass(frozen=True)
class Access:
    """How the CLI reaches AWS: a session for an account-region's credentials (None: the
    caller's own), an account reached through --assume-role (its targets, or reports saying why
    it cannot be read), and a session of the history writer role."""

    session: Callable[[Credentials | None], boto3.session.Session]
    reach: Callable[[str], tuple[list[Target], list[GroupReport]]]
    writer: Callable[[str], boto3.session.Session]


def run_history(
    args: argparse.Namespace, plan: Plan, since: int, now: datetime, access: Access
) -> int:
    """Copy, verify or estimate every account-region of the plan; the exit status."""
    # Every account-region's writes share these clients (boto3 clients are thread-safe).
    s3_config = Config(
        max_pool_connections=MAX_PARALLEL_ACCOUNT_REGIONS,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )
    reader = access.session(None).client("s3", config=s3_config)
    try:
        bucket, prefix = check_archive(reader, args.archive)
        writer = (
            access.writer(args.writer_role_arn).client("s3") if args.writer_role_arn else reader
        )
    except UsageError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"{PROG}: Could not assume {args.writer_role_arn}: {error}", file=sys.stderr)
        return 2
    run = Run()
    stop = threading.Event()
    progress = Progress(sys.stderr if sys.stderr.isatty() else None)
    job = Job(
        archive=None if args.dry_run else Archive(reader, writer, bucket, prefix),
        since=since,
        watermark=to_millis(now - SETTLE),
        verify=args.verify,
        progress=progress,
        stop=stop,
    )

    def one(target: Target) -> None:
        assert target.settings is not None  # history always has a destination
        session = access.session(target.credentials)
        calls = copy_account_region(
            session, target.account, target.region, target.settings, job, run.add
        )
        with run.lock:
            run.calls[f"{target.account}/{target.region}"] += calls

    # Not a `with` block: after Ctrl-C, leaving must not wait for the calls in flight.
    pool = ThreadPoolExecutor(MAX_PARALLEL_ACCOUNT_REGIONS)
    try:
        from central_logging.sweep import Target  # imported by the sweep, which calls this

        targets: list[Target] = []
        for item in plan.targets:
            if isinstance(item, Target):
                targets.append(item)
            else:  # a finding that stops an account-region from being read
                finding = item.result
                run.add(GroupReport(item.account, item.region, "", finding.outcome, finding.detail))
        for reached in [pool.submit(access.reach, a) for a in plan.fan_out_accounts]:
            more, unreachable = reached.result()
            targets += more
            for report in unreachable:
                run.add(report)
        for future in [pool.submit(one, target) for target in targets]:
            future.result()
    except KeyboardInterrupt:
        stop.set()
        progress.finish()
        print_report(run, args, sys.stdout)
        print(
            f"{PROG}: interrupted; the report covers the log groups done so far; every object "
            "written is whole; run the same command again to finish.",
            file=sys.stderr,
        )
        sys.stdout.flush()
        sys.stderr.flush()
        # Calls in flight are abandoned: a PutObject is whole or absent, and the rerun lists.
        os._exit(INTERRUPTED)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    progress.finish()
    print_report(run, args, sys.stdout)
    return 1 if any(r.outcome in PROBLEMS for r in run.reports) else 0
