"""`central-logging read`: the events of an archive, in either format of design section 5.

Both formats are one decoder: a stream of gzip members (one member for a `json` object, one per
record for `raw`) whose text is a sequence of JSON envelopes, separated by newlines (`json`) or
not at all (`raw`). Objects are streamed chunk by chunk through `zlib`, so memory stays bounded
whatever the object size: at most one envelope of text plus one sorted run of events.

Order: within each object, events are printed stream by stream (streams in name order), each
stream's events in timestamp order (ties in the order held). An object with more than about
`RUN_BYTES` of events is sorted in runs of that size. Objects are read in key order, which is
their arrival order as Firehose names them; a stream whose events arrive out of order across
objects (or runs) is printed in arrival order there.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import codecs
import contextlib
import functools
import itertools
import json
import operator
import os
import re
import sys
import tempfile
import zlib
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from central_logging import options

if TYPE_CHECKING:
    from concurrent.futures import Future

    from mypy_boto3_s3 import S3Client

CHUNK_BYTES = 1 << 20
# The first input window of each gzip member (see `_texts`).
FIRST_WINDOW_BYTES = 1 << 8
# Events sorted together, in bytes of message and bookkeeping; bounds memory on any object.
RUN_BYTES = 8 << 20
EVENT_OVERHEAD_BYTES = 500
# An envelope is at most a few MiB (CloudWatch Logs batches are 1 MiB); more text without a
# complete JSON value means the object is not an archive.
MAX_ENVELOPE_CHARS = 16 << 20
TOO_LONG = (
    f"holds a line longer than {MAX_ENVELOPE_CHARS >> 20} MiB of text, more than any CloudWatch "
    "Logs envelope"
)
# Text per byte of gzip: CloudWatch Logs envelopes compress about 20 to 1 (their ids and
# timestamps differ from event to event); a gzip of newlines or of one repeated line, about
# 1,000 to 1. Past this ratio (and the first INFLATION_SLACK_BYTES) an object is refused, so
# that decoding costs at most a bounded amount of work per byte of the object.
MAX_INFLATION = 100
INFLATION_SLACK_BYTES = 16 << 20
TOO_INFLATED = (
    f"decompresses to more than {MAX_INFLATION} times its size, far more than CloudWatch Logs "
    "data does"
)
TOO_DEEP = "holds JSON nested too deeply to parse, unlike any CloudWatch Logs envelope"
# Event times `read` and `query` accept: whole milliseconds from 1970 (CloudWatch Logs takes no
# earlier event: "Valid Range: Minimum value of 0", InputLogEvent in the CloudWatch Logs API
# Reference, https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_InputLogEvent.html)
# to the end of 9999 (the last year ISO 8601 writes with four digits).
MAX_MILLIS = 253_402_300_800_000
BAD_TIMESTAMP = "timestamp is not whole milliseconds from 1970 to 9999"
# gzip bytes of local objects a decoding process is handed at once (one object if larger).
TASK_BYTES = 1 << 20
# Processes `read` decodes local objects in, at most: each holds up to RUN_BYTES of events and
# the output of one object at a time; past a few, the writer of stdout is the limit anyway.
MAX_READ_WORKERS = 8
# Firehose writes the error records of the delivery stream under this folder of the prefix.
ERRORS_FOLDER = "errors"
# Records Firehose could not give a partition of their own, beyond the stream's quota of active
# partitions, in the folder of this error output type ("Buffer data for dynamic partitioning",
# https://docs.aws.amazon.com/firehose/latest/dev/buffering.html). They are log data: readers
# include them until `central-logging redrive` moves them into their partitions.
PARTITION_EXCEEDED = "activePartitionExceeded"
GZIP_MAGIC = b"\x1f\x8b"
# Partition folders hold the arrival time, not the event time: CloudWatch Logs accepts events
# stamped up to 2 hours ahead and 14 days behind, and Firehose retries delivery for a day.
ARRIVAL_BEFORE_EVENT = timedelta(hours=2)
ARRIVAL_AFTER_EVENT = timedelta(days=15)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A JSON string literal, as json.dumps(..., ensure_ascii=False) writes it (the C encoder).
_string: Callable[[str], str] = json.encoder.encode_basestring
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_GZIP = 16 + zlib.MAX_WBITS
_SPACE = re.compile(r"[ \t\r\n]*")
# Bytes that were not UTF-8, as `surrogateescape` decodes them (valid UTF-8 holds no surrogates).
_SURROGATE = re.compile("[\udc80-\udcff]")
# In place of a JSON value whose text is not UTF-8.
NOT_UTF8 = object()
# What a terminal must not be sent from an archive: control characters (C0, DEL and C1; tab is
# harmless), which can move the cursor or rewrite the screen, and lone surrogates, which no
# encoding can write.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")
_ESCAPES = {"\n": "\\n", "\r": "\\r"}
# What JSON output escapes beyond what json.dumps does: DEL, C1 and lone surrogates.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\ud800-\udfff]")
_TIMESTAMP = operator.itemgetter("timestamp")
_MESSAGE = operator.itemgetter("message")
NOT_AN_ENVELOPE = "holds JSON that is not a CloudWatch Logs envelope"
NOT_AN_ERROR_RECORD = "holds JSON that is not a Firehose error record with rawData"
NO_CREDENTIALS = (
    "No AWS credentials found; configure the standard credential chain or pass --profile."
)


class UsageError(Exception):
    """Bad usage: exit 2 with this one sentence on stderr."""


class CorruptObject(Exception):
    """An object that is not a readable archive object; the sentence says why."""


class LostEnvelopes(CorruptObject):
    """An object read except for some envelopes or events; the sentence says which."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Events of one stream: CloudWatch event dicts with a str `id`, an int `timestamp` (ms since
    the epoch) and a str `message`, passed through as decoded to keep `read` fast; `region` is
    the object's (`object_region`), None where its key does not say."""

    account: str
    log_group: str
    log_stream: str
    events: list[dict[str, Any]]
    region: str | None = None


@dataclass(frozen=True)
class Filters:
    """What `read` keeps: every field left None keeps everything. since <= timestamp < until."""

    accounts: frozenset[str] | None = None
    log_group: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    grep: str | None = None
    regions: frozenset[str] | None = None


# An AWS region name (central_logging/options.py), as a segment of a key.
_REGION = r"[a-z]{2}(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9]"
_REGION_FOLDER = re.compile(rf"(?:^|/)region=({_REGION})/")
# A raw object's name: Firehose names objects DeliveryStreamName-DeliveryStreamVersion-
# YYYY-MM-DD-HH-MM-SS-RandomString ("Configure Amazon S3 object name format",
# https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html), and the stack names
# each stream <destinationName>-<region>, or past 64 characters <cut>-<region>-<8 hex>
# (components/destination.py delivery_stream_name).
_STREAM_REGION = re.compile(
    rf"-({_REGION})(?:-[0-9a-f]{{8}})?-\d+-\d{{4}}-\d{{2}}-\d{{2}}-\d{{2}}-\d{{2}}-\d{{2}}-[^/]*$"
)


def object_region(key: str) -> str | None:
    """The region whose logs an object holds: its `region=` partition (json layout and error
    records), else the delivery stream named in a raw object's name; None if neither says."""
    folder = _REGION_FOLDER.search(key)
    if folder:
        return folder.group(1)
    stream = _STREAM_REGION.search(key.rsplit("/", 1)[-1])
    return stream.group(1) if stream else None


# --- time -------------------------------------------------------------------------------------


def parse_time(text: str, now: datetime) -> datetime:
    """ISO 8601 (UTC when no offset is given) or a duration back from `now` (`15m`, `2h`, `7d`)."""
    duration = _DURATION.fullmatch(text.strip())
    if duration:
        amount, unit = duration.groups()
        try:
            return now - timedelta(**{_UNITS[unit]: int(amount)})
        except OverflowError:
            raise ValueError(f"The duration {text!r} reaches back before year 1.") from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO 8601 time nor a duration such as 15m, 2h or 7d."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def to_millis(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.")


_MILLIS = [f"{millis:03d}" for millis in range(1000)]


def format_millis(millis: int) -> str:
    """An event time as `read` prints it: ISO 8601 UTC to the millisecond."""
    seconds, rest = divmod(millis, 1000)
    return f"{_second(seconds)}{rest:03d}Z"


def valid_millis(stamps: list[Any]) -> bool:
    """Whether every one of `stamps` is a time `read` accepts (see MAX_MILLIS); C loops only,
    as it runs for every event."""
    return set(map(type, stamps)) == {int} and min(stamps) >= 0 and max(stamps) < MAX_MILLIS


# --- decoding ---------------------------------------------------------------------------------


def _texts(chunks: Iterable[bytes]) -> Iterator[tuple[str, bool]]:
    """The decompressed text of a stream of gzip members, with True after each member's end.

    Bytes that are not UTF-8 come out as lone surrogates (`surrogateescape`), so that only the
    envelope holding them is lost (see `_values`). zlib copies the input left after a member's
    end, so input is fed in a window that starts small at each member and doubles while the
    member lasts: many tiny members cost time linear in the object's size. More text than
    MAX_INFLATION times the bytes read is refused (a gzip bomb).
    """
    inflate = zlib.decompressobj(_GZIP)
    utf8 = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    window = FIRST_WINDOW_BYTES
    seen = False
    started = False
    compressed = inflated = 0
    try:
        for chunk in chunks:
            seen = seen or bool(chunk)
            compressed += len(chunk)
            data = memoryview(chunk)
            while data:
                started = True
                piece = data[:window]
                # Bounded output: a small chunk can inflate to gigabytes.
                out = inflate.decompress(piece, CHUNK_BYTES)
                inflated += len(out)
                if inflated > MAX_INFLATION * compressed + INFLATION_SLACK_BYTES:
                    raise CorruptObject(TOO_INFLATED)
                text = utf8.decode(out)
                if inflate.eof:
                    data = data[len(piece) - len(inflate.unused_data) :]
                    yield text, True
                    inflate = zlib.decompressobj(_GZIP)
                    window = FIRST_WINDOW_BYTES
                    started = False
                    continue
                data = data[len(piece) - len(inflate.unconsumed_tail) :]
                if not inflate.unconsumed_tail:
                    window = min(2 * window, CHUNK_BYTES)
                yield text, False
        if started:
            # Output zlib may still hold back once the input is all consumed.
            text = utf8.decode(inflate.flush(), final=True)
            if not inflate.eof:
                raise CorruptObject("is truncated (its last gzip member is incomplete)")
            yield text, True
    except zlib.error as error:
        raise CorruptObject(f"is not a valid gzip stream ({error})") from None
    if not seen:
        raise CorruptObject("is empty")


def _plain_texts(chunks: Iterable[bytes]) -> Iterator[tuple[str, bool]]:
    """The text of uncompressed bytes, as `_texts` yields it (one member: the whole)."""
    utf8 = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    seen = False
    for chunk in chunks:
        seen = seen or bool(chunk)
        yield utf8.decode(chunk), False
    if not seen:
        raise CorruptObject("is empty")
    yield utf8.decode(b"", final=True), True


def _sniffed_texts(chunks: Iterable[bytes]) -> Iterator[tuple[str, bool]]:
    """`_texts` of gzip bytes, `_plain_texts` of others: whether Firehose compresses its error
    output, and whether a diverted record's `rawData` is still CloudWatch's gzip, AWS does not
    say (https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning-error-handling.html)."""
    chunks = iter(chunks)
    first = b""
    for first in chunks:
        if first:
            break
    rest = itertools.chain([first], chunks)
    return _texts(rest) if first[:2] == GZIP_MAGIC else _plain_texts(rest)


def iter_values(chunks: Iterable[bytes], sniff: bool = False) -> Iterator[Any]:
    """Every JSON value of a gzip stream (or, with `sniff`, of uncompressed text), whether
    values are separated by newlines or not; `NOT_UTF8` in place of each value (or line) whose
    text is not UTF-8.

    Text is parsed up to the last newline of each piece of text, and at member ends; a value
    may span member ends (a line split across gzip members) but, as JSON written by CloudWatch
    and Firehose, no newline. A member end that leaves an incomplete value is parsed again only
    once the text after the last value has doubled, so that a line cut into many members is
    parsed in linear time; blank lines cost no more than gzip does.
    """
    decoder = json.JSONDecoder()
    pending: list[str] = []
    size = 0
    tried = 0
    for text, member_end in _sniffed_texts(chunks) if sniff else _texts(chunks):
        end = text.rfind("\n")
        if end >= 0:
            pending.append(text[:end])
            yield from _lines(decoder, "".join(pending))
            rest = text[end + 1 :]
            pending, size, tried = [rest], len(rest), 0
        else:
            pending.append(text)
            size += len(text)
        if size > MAX_ENVELOPE_CHARS:
            raise CorruptObject(TOO_LONG)
        if member_end and size >= 2 * tried and size:
            left = yield from _values(decoder, "".join(pending), complete=False)
            pending, size, tried = [left], len(left), len(left)
    if size:
        left = yield from _values(decoder, "".join(pending), complete=False)
        if left.strip():
            raise CorruptObject("ends in the middle of a JSON value")


def _lines(decoder: json.JSONDecoder, text: str) -> Iterator[Any]:
    """The JSON values of complete lines of text, each value within its line."""
    if not text.isascii() and _SURROGATE.search(text) is not None:
        # Some line is not UTF-8: line by line, so that only those lines are lost.
        for line in text.split("\n"):
            if len(line) > MAX_ENVELOPE_CHARS:
                raise CorruptObject(TOO_LONG)
            yield from _values(decoder, line, complete=True)
        return
    position = _SPACE.match(text).end()  # type: ignore[union-attr]
    line_end = -1
    while position < len(text):
        if position > line_end:
            line_end = text.find("\n", position)
            line_end = len(text) if line_end < 0 else line_end
            if line_end - position > MAX_ENVELOPE_CHARS:
                raise CorruptObject(TOO_LONG)
        value, position = _decode(decoder, text, position)
        if position > line_end:
            raise CorruptObject("holds text that is not JSON (a value continues on the next line)")
        yield value
        position = _SPACE.match(text, position).end()  # type: ignore[union-attr]


def _decode(decoder: json.JSONDecoder, text: str, position: int) -> tuple[Any, int]:
    """One JSON value of `text` at `position`, and where it ends."""
    try:
        return decoder.raw_decode(text, position)
    except json.JSONDecodeError as error:
        raise CorruptObject(f"holds text that is not JSON ({error.msg})") from None
    except RecursionError:
        raise CorruptObject(TOO_DEEP) from None


def _values(decoder: json.JSONDecoder, text: str, complete: bool) -> Generator[Any, None, str]:
    """The JSON values of `text`; returns the text left over, an incomplete value unless
    `complete` (then it is an error). A complete text that is not UTF-8 is one `NOT_UTF8`."""
    dirty = not text.isascii() and _SURROGATE.search(text) is not None
    if dirty and complete:
        yield NOT_UTF8
        return ""
    position = _SPACE.match(text).end()  # type: ignore[union-attr]
    while position < len(text):
        start = position
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            if complete:
                raise CorruptObject(f"holds text that is not JSON ({error.msg})") from None
            break
        except RecursionError:
            raise CorruptObject(TOO_DEEP) from None
        yield NOT_UTF8 if dirty and _SURROGATE.search(text, start, position) else value
        position = _SPACE.match(text, position).end()  # type: ignore[union-attr]
    return text[position:]


def is_diverted(key: str) -> bool:
    """Whether the object `key` (below the archive prefix) holds records Firehose diverted
    for want of an active partition."""
    parts = key.split("/")
    return parts[0] == ERRORS_FOLDER and PARTITION_EXCEEDED in parts[1:-1]


def diverted_envelopes(record: Any) -> Iterator[Any]:
    """The envelopes of one Firehose error record: its base64 `rawData`, decompressed if it is
    still gzip, holds one or more CloudWatch Logs envelopes."""
    if record is NOT_UTF8:
        yield NOT_UTF8
        return
    raw = record.get("rawData") if isinstance(record, dict) else None
    if not isinstance(raw, str):
        raise CorruptObject(NOT_AN_ERROR_RECORD)
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise CorruptObject("holds an error record whose rawData is not base64") from None
    yield from iter_values([data], sniff=True)


def iter_object_batches(
    chunks: Iterable[bytes],
    filters: Filters,
    diverted: bool = False,
    region: str | None = None,
) -> Iterator[Batch]:
    """The data events of one object that pass `filters`, a batch per envelope, as held;
    LostEnvelopes at the end if some envelopes were not UTF-8 or some events' times are not
    times (`valid_millis`): those are left out. A `diverted` object holds Firehose error
    records (`is_diverted`), each with envelopes in its `rawData`.

    The fields of events are checked where they are used (filters, sorting, rendering): a
    KeyError, TypeError or ValueError there means the object is not an archive object.
    """
    since = None if filters.since is None else to_millis(filters.since)
    until = None if filters.until is None else to_millis(filters.until)
    grep = filters.grep
    not_utf8 = bad_times = 0
    values = iter_values(chunks, sniff=diverted)
    envelopes = (
        itertools.chain.from_iterable(map(diverted_envelopes, values)) if diverted else values
    )
    for envelope in envelopes:
        if envelope is NOT_UTF8:
            not_utf8 += 1
            continue
        try:
            if envelope["messageType"] == "CONTROL_MESSAGE":
                continue
            names = (envelope["owner"], envelope["logGroup"], envelope["logStream"])
            events = envelope["logEvents"]
        except (KeyError, TypeError):
            raise CorruptObject(NOT_AN_ENVELOPE) from None
        if not all(type(name) is str for name in names) or type(events) is not list:
            raise CorruptObject(NOT_AN_ENVELOPE)
        if filters.accounts is not None and names[0] not in filters.accounts:
            continue
        if filters.log_group is not None and names[1] != filters.log_group:
            continue
        if events and not valid_millis(list(map(_TIMESTAMP, events))):
            kept = [e for e in events if valid_millis([e["timestamp"]])]
            bad_times += len(events) - len(kept)
            events = kept
        if since is not None or until is not None or grep is not None:
            events = [
                event
                for event in events
                if (since is None or event["timestamp"] >= since)
                and (until is None or event["timestamp"] < until)
                and (grep is None or grep in event["message"])
            ]
        if events:
            yield Batch(*names, events, region)
    lost = [f"{not_utf8} envelope(s) whose text is not UTF-8"] if not_utf8 else []
    lost += [f"{bad_times} event(s) whose {BAD_TIMESTAMP}"] if bad_times else []
    if lost:
        raise LostEnvelopes(f"holds {' and '.join(lost)}; skipped those")


def sorted_runs(batches: Iterable[Batch]) -> Iterator[Batch]:
    """One batch per stream and run, streams in name order, events in timestamp order.

    A run ends after about `RUN_BYTES` of events. The run in progress is still yielded when
    `batches` raises; the error follows.
    """
    run: dict[tuple[str, str, str], Batch] = {}
    size = 0

    def flush() -> Iterator[Batch]:
        for key in sorted(run):
            run[key].events.sort(key=_TIMESTAMP)
            yield run[key]
        run.clear()

    try:
        for batch in batches:
            key = (batch.account, batch.log_group, batch.log_stream)
            if key in run:
                run[key].events.extend(batch.events)
            else:
                run[key] = batch
            size += sum(map(len, map(_MESSAGE, batch.events)))
            size += EVENT_OVERHEAD_BYTES * len(batch.events)
            if size >= RUN_BYTES:
                yield from flush()
                size = 0
    except Exception:
        yield from flush()
        raise
    yield from flush()


# --- sources ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveObject:
    """One object of a source: `name` is how the user knows it, `key` its path below the source
    (`/`-separated), `open` streams its bytes."""

    name: str
    key: str
    open: Callable[[], Iterator[bytes]]
    # Set for a local file: such objects can be decoded in other processes.
    path: str | None = None

    @property
    def region(self) -> str | None:
        return object_region(self.key)


def _in_regions(item: ArchiveObject, filters: Filters) -> bool:
    """An object whose region is unknown is not in any region asked for."""
    return filters.regions is None or item.region in filters.regions


def _date_window(filters: Filters, now: datetime) -> tuple[date, date] | None:
    """The arrival days whose partitions can hold events the time filters keep."""
    if filters.since is None and filters.until is None:
        return None
    first = date.min if filters.since is None else (filters.since - ARRIVAL_BEFORE_EVENT).date()
    last = now if filters.until is None else min(now, filters.until + ARRIVAL_AFTER_EVENT)
    return first, last.date()


def _partition_matches(
    path: list[str], folder: str, filters: Filters, window: tuple[date, date] | None
) -> bool:
    """Whether `folder`, below the folders `path`, can hold events that `filters` keep.

    json layout: `account=/region=/year=/month=/day=`; raw layout: `YYYY/MM/DD/HH`. Other
    folders are walked; below Firehose's error folder only those that can lead to diverted
    records (`errors/region=R/activePartitionExceeded/year=/month=/day=`).
    """
    if path and path[0] == ERRORS_FOLDER and PARTITION_EXCEEDED not in path:
        if folder.startswith("region="):
            return filters.regions is None or folder.removeprefix("region=") in filters.regions
        return folder == PARTITION_EXCEEDED
    if folder.startswith("account="):
        return filters.accounts is None or folder.removeprefix("account=") in filters.accounts
    if folder.startswith("region="):
        return filters.regions is None or folder.removeprefix("region=") in filters.regions
    numbers = [_date_number(part) for part in [*path, folder]]
    date_parts = [number for number in numbers if number is not None]
    if window is None or numbers[-1] is None or len(date_parts) > 3:
        return True
    try:
        first, last = _day_range(date_parts)
    except ValueError:
        return True
    return first <= window[1] and last >= window[0]


def _date_number(folder: str) -> int | None:
    """The number of a year, month, day or hour folder of either layout."""
    key, _, value = folder.rpartition("=")
    if value.isdigit() and key in ("", "year", "month", "day"):
        return int(value)
    return None


def _day_range(parts: list[int]) -> tuple[date, date]:
    """The first and last day of a year, [year, month] or [year, month, day]."""
    if len(parts) == 1:
        return date(parts[0], 1, 1), date(parts[0], 12, 31)
    first = date(parts[0], parts[1], parts[2] if len(parts) == 3 else 1)
    if len(parts) == 3:
        return first, first
    return first, (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)


def _listed_file(parts: list[str]) -> bool:
    """Whether a file is read: below Firehose's error folder, only diverted records."""
    return parts[0] != ERRORS_FOLDER or is_diverted("/".join(parts))


def list_local(root: str, filters: Filters, now: datetime) -> Iterator[ArchiveObject]:
    """The files below `root` in key order, walking only the partitions `filters` can match.

    Folders reached through a symbolic link are not walked: a link back up the tree would
    repeat events forever, and one to a sibling would repeat them once.
    """
    window = _date_window(filters, now)

    def walk(folder: str, path: list[str]) -> Iterator[ArchiveObject]:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if _partition_matches(path, entry.name, filters, window):
                    yield from walk(entry.path, [*path, entry.name])
            elif entry.is_file() and _listed_file([*path, entry.name]):
                item = ArchiveObject(
                    entry.path,
                    "/".join([*path, entry.name]),
                    _file_reader(entry.path),
                    entry.path,
                )
                if _in_regions(item, filters):
                    yield item

    yield from walk(root, [])


def _file_reader(path: str) -> Callable[[], Iterator[bytes]]:
    def read() -> Iterator[bytes]:
        with open(path, "rb") as file:
            while chunk := file.read(CHUNK_BYTES):
                yield chunk

    return read


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` as (bucket, prefix), the prefix ending in `/` unless empty."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise UsageError(f"The source {url!r} names no bucket; use s3://bucket/prefix.")
    return bucket, (prefix if not prefix or prefix.endswith("/") else prefix + "/")


def list_s3(client: S3Client, url: str, filters: Filters, now: datetime) -> Iterator[ArchiveObject]:
    """The objects under `url` in key order, listing only the partitions `filters` can match."""
    bucket, prefix = parse_s3_url(url)
    window = _date_window(filters, now)

    def walk(folder: str, path: list[str]) -> Iterator[ArchiveObject]:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=folder, Delimiter="/"
        )
        children: list[str] = []
        for page in pages:
            for listed in page.get("Contents", []):
                key = listed["Key"]
                if not _listed_file(key[len(prefix) :].split("/")):
                    continue
                item = ArchiveObject(
                    f"s3://{bucket}/{key}", key[len(prefix) :], _s3_reader(client, bucket, key)
                )
                if _in_regions(item, filters):
                    yield item
            children.extend(common["Prefix"] for common in page.get("CommonPrefixes", []))
        for child in children:
            name = child[len(folder) :].rstrip("/")
            if _partition_matches(path, name, filters, window):
                yield from walk(child, [*path, name])

    yield from walk(prefix, [])


def _s3_reader(client: S3Client, bucket: str, key: str) -> Callable[[], Iterator[bytes]]:
    def read() -> Iterator[bytes]:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            yield from body.iter_chunks(CHUNK_BYTES)
        finally:
            body.close()

    return read


def aws_errors() -> tuple[type[Exception], ...]:
    """What reading S3 raises: imported when an exception is being handled (an `except`
    evaluates its classes only then), so that local reads never load botocore."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


def s3_client(profile: str | None) -> S3Client:
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.session.Session(profile_name=profile).client("s3")
    except ProfileNotFound:
        raise UsageError(f"The AWS profile {profile!r} does not exist.") from None


def list_source(
    source: str, filters: Filters, now: datetime, profile: str | None
) -> Iterator[ArchiveObject]:
    """The objects of a local folder or `s3://bucket/prefix`; UsageError for a bad source."""
    if source.startswith("s3://"):
        return list_s3(s3_client(profile), source, filters, now)
    if not os.path.isdir(source):
        raise UsageError(f"The source {source!r} is neither an s3:// URL nor a local folder.")
    return list_local(source, filters, now)


def read_objects(
    objects: Iterable[ArchiveObject],
    filters: Filters,
    render: Callable[[Batch], str],
    on_error: Callable[[str], None],
) -> Generator[str, None, None]:
    """The events of every object, rendered a batch at a time by `render` (`human_lines` or
    `json_lines`); an unreadable object goes to `on_error` and is skipped. The events an object
    holds before its damage are still yielded."""
    for item in objects:
        try:
            batches = iter_object_batches(item.open(), filters, is_diverted(item.key), item.region)
            for batch in sorted_runs(batches):
                yield render(batch)
        except LostEnvelopes as error:
            on_error(f"{printable(item.name)} {error}.")
        except CorruptObject as error:
            on_error(f"{printable(item.name)} {error}; skipped.")
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            on_error(f"{printable(item.name)} {NOT_AN_ENVELOPE}; skipped.")
        except aws_errors() as error:
            on_error(f"{printable(item.name)} could not be read ({error}); skipped.")


def _render_to_file(
    files: list[tuple[str, str, str]], filters: Filters, as_json: bool, out_path: str
) -> list[str]:
    """In a worker process: the events of local objects (name, key, path) rendered into
    `out_path`; returns the sentences naming those that were unreadable."""
    render = json_lines if as_json else human_lines
    errors: list[str] = []
    items = [ArchiveObject(name, key, _file_reader(path), path) for name, key, path in files]
    with open(out_path, "w", encoding="utf-8") as out:
        for text in read_objects(items, filters, render, errors.append):
            out.write(text)
    return errors


def _tasks(objects: Iterable[ArchiveObject]) -> Iterator[list[tuple[str, str, str]]]:
    """Local objects as (name, key, path), in order, grouped until TASK_BYTES of gzip: one
    task per object would cost more than a small object's decoding."""
    task: list[tuple[str, str, str]] = []
    size = 0
    for item in objects:
        if item.path is None:
            raise ValueError(f"{item.name} is not a local file")
        task.append((item.name, item.key, item.path))
        size += os.path.getsize(item.path)
        if size >= TASK_BYTES:
            yield task
            task, size = [], 0
    if task:
        yield task


def read_local_in_parallel(
    objects: Iterable[ArchiveObject],
    filters: Filters,
    as_json: bool,
    on_error: Callable[[str], None],
    workers: int,
) -> Generator[str, None, None]:
    """`read_objects` for local files, decoded by `workers` processes at once (decoding is
    CPU-bound Python); output in the same order, through temporary files so that memory
    stays bounded."""
    from concurrent.futures import ProcessPoolExecutor

    with tempfile.TemporaryDirectory(prefix="central-logging-read-") as folder:
        # Closed early (the reader of stdout went away), it waits only for running decodes.
        pool = ProcessPoolExecutor(workers)
        pending: deque[tuple[str, Future[list[str]]]] = deque()

        def drain() -> Iterator[str]:
            out_path, done = pending.popleft()
            errors = done.result()
            with open(out_path, encoding="utf-8") as rendered:
                while text := rendered.read(CHUNK_BYTES):
                    yield text
            os.remove(out_path)
            for error in errors:
                on_error(error)

        try:
            for index, files in enumerate(_tasks(objects)):
                out_path = os.path.join(folder, f"{index}.out")
                task = (files, filters, as_json, out_path)
                pending.append((out_path, pool.submit(_render_to_file, *task)))
                if len(pending) > 2 * workers:
                    yield from drain()
            while pending:
                yield from drain()
        finally:
            pool.shutdown(cancel_futures=True)


# --- messages ---------------------------------------------------------------------------------

PROG = options.PROG


def source_errors() -> tuple[type[Exception], ...]:
    """What can stop `read` or `query` before or while it lists the source; see
    `source_failure`."""
    return (UsageError, OSError, *aws_errors())


def say(err: TextIO, sentence: str) -> None:
    """One line on stderr, named like every line the CLI writes there."""
    print(f"{PROG}: {sentence}", file=err, flush=True)


def source_failure(error: Exception, source: str) -> tuple[int, str]:
    """The exit code and sentence of one of `source_errors`."""
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(error, UsageError):
        return 2, str(error)
    if isinstance(error, NoCredentialsError):
        return 2, NO_CREDENTIALS
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            return 2, f"The bucket of {source} does not exist."
        return 1, f"Could not read {source} ({code or error})."
    return 1, f"Could not read {source} ({error})."


def no_objects(source: str, filters: Filters) -> str:
    """The notice for a source (or the partitions of it that `filters` select) without objects."""
    if (filters.accounts, filters.regions, filters.since, filters.until) == (None,) * 4:
        return f"{source} holds no objects."
    return (
        f"{source} holds no objects in the partitions --account, --region, --since and --until "
        "select."
    )


class Counted(Iterator[ArchiveObject]):
    """The objects of a listing, counted as they pass."""

    def __init__(self, objects: Iterator[ArchiveObject]) -> None:
        self._objects = objects
        self.count = 0

    def __next__(self) -> ArchiveObject:
        item = next(self._objects)
        self.count += 1
        return item


def stop_output(out: TextIO) -> None:
    """After the reader of `out` went away (`| head`): what is left in its buffer goes to
    /dev/null, so that Python's flush at exit raises no second error."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


# --- the command ------------------------------------------------------------------------------


def add_read_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `read` on an argparse subparsers object; returns its parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "read",
        help="print the events of an archive",
        description="Print the events of an archive (either format), in timestamp order per "
        "stream within each object (each 8 MiB of a larger one); objects in key (arrival) "
        "order. T is ISO 8601 (UTC unless it has an offset) or a duration "
        "back from now such as 15m, 2h, 7d; --since is inclusive, --until exclusive. Human "
        "output escapes newlines as \\n and other control characters as \\xHH, so that a "
        "logged escape sequence cannot act on the terminal; --json writes the C1 controls and "
        "DEL as JSON escapes (\\u0080), which JSON readers turn back into the same text. "
        "In a local folder, folders reached through symbolic links are not read.",
    )
    parser.add_argument("source", metavar="SOURCE", help="s3://bucket/prefix or a local folder")
    add_selection_arguments(parser)
    parser.add_argument(
        "--log-group", metavar="NAME", help="only this log group (exact name); default: every one"
    )
    parser.add_argument(
        "--grep", metavar="TEXT", help="only messages containing TEXT; default: every message"
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per line (default: text)"
    )
    parser.add_argument(
        "--profile", help="AWS profile for an s3:// source; default: the standard chain"
    )
    return parser


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """--account, --region, --since and --until, as `read` and `query` share them."""
    parser.add_argument(
        "--account",
        action="append",
        metavar="ID",
        help="only this account (repeatable); default: every account",
    )
    parser.add_argument(
        "--region",
        action="append",
        metavar="REGION",
        help="only this region (repeatable); default: every region",
    )
    parser.add_argument(
        "--since", metavar="T", help="only events at or after T; default: the earliest"
    )
    parser.add_argument("--until", metavar="T", help="only events before T; default: now")


def filters_from_args(args: argparse.Namespace, now: datetime) -> Filters:
    """The filters of `read` or `query` arguments; UsageError for a bad time."""
    try:
        since = None if args.since is None else parse_time(args.since, now)
        until = None if args.until is None else parse_time(args.until, now)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if since is not None and until is not None and since >= until:
        raise UsageError(
            f"--since {args.since} ({since.isoformat()}) is not before --until {args.until} "
            f"({until.isoformat()}); no event can match."
        )
    try:
        accounts = None if args.account is None else frozenset(options.accounts(args.account))
        regions = None if args.region is None else frozenset(options.regions(args.region))
    except options.OptionError as error:
        raise UsageError(str(error)) from None
    # `query` has no --log-group nor --grep.
    log_group, grep = getattr(args, "log_group", None), getattr(args, "grep", None)
    return Filters(accounts, log_group, since, until, grep, regions)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str) -> str:
    """`text` safe for a terminal: newline as \\n, carriage return as \\r, other control
    characters and lone surrogates as \\xHH or \\uHHHH escapes; tab and the rest as they are."""
    return _UNPRINTABLE.sub(_escape, text)


def human_lines(batch: Batch) -> str:
    """`time account region logGroup logStream message` per event (region `-` when unknown),
    every field `printable`."""
    region = batch.region or "-"
    stream = printable(f" {batch.account} {region} {batch.log_group} {batch.log_stream} ")
    lines = []
    for event in batch.events:
        message = printable(event["message"].rstrip("\n"))
        stamp = event["timestamp"]  # valid (`iter_object_batches`)
        lines.append(f"{_second(stamp // 1000)}{_MILLIS[stamp % 1000]}Z{stream}{message}\n")
    return "".join(lines)


def json_lines(batch: Batch) -> str:
    """One JSON object per event: account, region (null when unknown), logGroup, logStream, id,
    timestamp (ms), time (ISO 8601 UTC, Z) and message: the fields of `query --format json`."""
    region = "null" if batch.region is None else _string(batch.region)
    stream = (
        f'{{"account": {_string(batch.account)}, "region": {region}, '
        f'"logGroup": {_string(batch.log_group)}, "logStream": {_string(batch.log_stream)}, '
        '"id": '
    )
    # Timestamps are valid ints (`iter_object_batches`). This runs for every event: the time is
    # written inline, without format specifications (each costs a call).
    text = "".join(
        [
            f'{stream}{_string(event["id"])}, "timestamp": {stamp}, '
            f'"time": "{_second(stamp // 1000)}{_MILLIS[stamp % 1000]}Z", '
            f'"message": {_string(event["message"])}}}\n'
            for event in batch.events
            for stamp in (event["timestamp"],)
        ]
    )
    return json_safe(text)


def json_safe(text: str) -> str:
    """JSON text with C1 controls and DEL (which a terminal acts on; JSON need not escape
    them), and lone surrogates (which no UTF-8 output can hold), written as JSON escapes."""
    return text if text.isascii() else _JSON_UNSAFE.sub(_json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def read_workers() -> int:
    """Processes `read` decodes local objects in: the CPUs this process may run on (as
    `taskset` or a container limits them), at most MAX_READ_WORKERS."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_READ_WORKERS, usable or 1))


def run_read(
    args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """`read`: 0 when every object was read, 1 when some were not, 2 for bad usage."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    now = datetime.now(UTC)
    unreadable: list[str] = []

    def report(sentence: str) -> None:
        unreadable.append(sentence)
        say(err, sentence)

    try:
        filters = filters_from_args(args, now)
        objects = Counted(list_source(args.source, filters, now, args.profile))
        render = json_lines if args.json else human_lines
        workers = read_workers()
        texts = (
            read_local_in_parallel(objects, filters, args.json, report, workers)
            if workers > 1 and not args.source.startswith("s3://")
            else read_objects(objects, filters, render, report)
        )
        with contextlib.closing(texts):
            for text in texts:
                out.write(text)
            out.flush()
    except BrokenPipeError:
        stop_output(out)
        return 1 if unreadable else 0
    except source_errors() as error:
        code, sentence = source_failure(error, args.source)
        say(err, sentence)
        return code
    if not objects.count:
        say(err, no_objects(args.source, filters))
    return 1 if unreadable else 0
