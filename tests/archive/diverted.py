"""Objects of records Firehose diverted to `errors/.../activePartitionExceeded/` for want of an
active partition, written in each shape AWS leaves open (issue 18 item 3)."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

DIVERTED_FOLDER = (
    "errors/region={region}/activePartitionExceeded/year={day:%Y}/month={day:%m}/day={day:%d}/"
)


def diverted_key(region: str, day: datetime, name: str = "central-logging-1-diverted") -> str:
    return DIVERTED_FOLDER.format(region=region, day=day) + name


def error_record(envelopes: Sequence[dict[str, Any]], gzip_raw: bool) -> dict[str, Any]:
    """One Firehose error record: its rawData is the record as CloudWatch Logs sent it (gzip) or
    as Firehose decompressed it (the envelope and the newline Firehose appends)."""
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in envelopes).encode()
    data = (
        b"".join(gzip.compress(json.dumps(item).encode()) for item in envelopes)
        if gzip_raw
        else text
    )
    return {
        "attemptsMade": 1,
        "arrivalTimestamp": 1_768_000_000_000,
        "errorCode": "DynamicPartitioning.ActivePartitionsLimitExceeded",
        "errorMessage": "The number of active partitions exceeds the quota.",
        "attemptEndingTimestamp": 1_768_000_001_000,
        "rawData": base64.b64encode(data).decode(),
    }


def diverted_object(records: Sequence[dict[str, Any]], gzip_object: bool) -> bytes:
    """Error records one per line, the object gzip (as Firehose compresses its output) or not."""
    text = "".join(json.dumps(record) + "\n" for record in records).encode()
    return gzip.compress(text) if gzip_object else text
