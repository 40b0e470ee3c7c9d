"""Is every account-region still delivering? Finds the newest archived object of each.

Runs every 5 minutes in the logging account's home region. Every member writes a heartbeat
every 5 minutes (handlers/heartbeat.py), so an account-region with nothing archived for
FRESHNESS_SECONDS has stopped delivering, whatever the reason.

Expected account-regions: EXPECTED_ACCOUNTS x REGIONS, plus every account-region of REGIONS
that delivered in the last 7 days (in organisation mode the logging account cannot list the
member accounts). Only day folders are listed, newest first, never the whole archive: the
account and region levels are read with a delimiter (folder names only), then at most
LOOKBACK_DAYS + 1 day folders per account-region, stopping at the first that holds objects.

With ARCHIVE_FORMAT raw there is no account in the layout (`{prefix}YYYY/MM/DD/HH/`): the
check works per region, by the delivery stream name Firehose puts at the start of each
object name (DELIVERY_STREAMS: region -> stream name), and says so.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3

from handlers.core import json_logger

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef
    from mypy_boto3_s3 import S3Client

LOGGER = json_logger("central_logging.freshness")

METRIC_NAMESPACE = "CentralLogging"
SECONDS_METRIC = "SecondsSinceLastDelivery"
STALE_METRIC = "StaleAccountRegions"
# "seen in the last 7 days": today's folder and the 7 before it.
LOOKBACK_DAYS = 7
# PutMetricData takes up to 1000 metrics per request (CloudWatch API reference, PutMetricData).
METRICS_PER_REQUEST = 1000
# raw: the account dimension of a per-region measurement.
ALL_ACCOUNTS = "all"

_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
# Firehose names objects DeliveryStreamName-DeliveryStreamVersion-YYYY-MM-DD-HH-MM-SS-RandomString
# (Amazon Data Firehose developer guide, "Amazon S3 object name format").
_OBJECT_NAME = re.compile(r"(?P<stream>.+)-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[^/]+")


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
        return cls(bucket, prefix, regions, accounts, int(seconds), archive_format, streams)


def _error(variable: str, value: str | None, allowed: str) -> FreshnessSettingsError:
    found = "it is not set" if value is None else f"got {value!r}"
    return FreshnessSettingsError(f"{variable} must be {allowed}; {found}.")


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
        return {
            "account": self.account,
            "region": self.region,
            "lastDelivery": last.isoformat().replace("+00:00", "Z") if last else None,
        }


def _days_back(now: datetime) -> list[datetime]:
    return [now - timedelta(days=n) for n in range(LOOKBACK_DAYS + 1)]


def _folders(s3: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    """The folder names directly under `prefix` (ListObjectsV2 with a delimiter: no keys)."""
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    ):
        for common in page.get("CommonPrefixes", []):
            yield common["Prefix"][len(prefix) : -1]


def _objects(s3: S3Client, bucket: str, prefix: str) -> Iterator[tuple[str, datetime]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"], item["LastModified"]


def _newest_json(
    s3: S3Client, settings: FreshnessSettings, folder: str, now: datetime
) -> datetime | None:
    for day in _days_back(now):
        day_folder = f"{folder}year={day:%Y}/month={day:%m}/day={day:%d}/"
        # `central-logging history` objects are copies made by an operator, not deliveries.
        times = [
            modified
            for key, modified in _objects(s3, settings.bucket, day_folder)
            if not key.rsplit("/", 1)[-1].startswith("history-")
        ]
        if times:
            return max(times)
    return None


def check_json(s3: S3Client, settings: FreshnessSettings, now: datetime) -> list[AccountRegion]:
    """Every expected account-region of the partitioned archive, with its newest delivery."""
    prefix = settings.prefix
    present: dict[str, set[str]] = {}
    for folder in _folders(s3, settings.bucket, prefix):
        account = folder.removeprefix("account=")
        if folder.startswith("account=") and _ACCOUNT.fullmatch(account):
            regions = _folders(s3, settings.bucket, f"{prefix}account={account}/")
            present[account] = {r.removeprefix("region=") for r in regions} & set(settings.regions)
    results = []
    for account in sorted(set(settings.expected_accounts) | set(present)):
        for region in settings.regions:
            last = None
            if region in present.get(account, ()):
                folder = f"{prefix}account={account}/region={region}/"
                last = _newest_json(s3, settings, folder, now)
            if last is not None or account in settings.expected_accounts:
                results.append(AccountRegion(account, region, last))
    return results


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


def _metrics(
    results: Iterable[AccountRegion], stale: int, now: datetime
) -> list[MetricDatumTypeDef]:
    data: list[MetricDatumTypeDef] = [
        {"MetricName": STALE_METRIC, "Value": stale, "Unit": "Count", "Timestamp": now}
    ]
    for result in results:
        age = result.age(now)
        if age is None:
            continue  # nothing in the last 7 days: no age to publish, the count says it
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
    s3: S3Client, cloudwatch: CloudWatchClient, settings: FreshnessSettings, now: datetime
) -> dict[str, Any]:
    """Find, log and publish which account-regions are stale; the design's return value."""
    if settings.archive_format == "raw":
        LOGGER.info(
            "archiveFormat raw has no account in its layout: checking per region, all "
            "accounts together"
        )
        results = check_raw(s3, settings, now)
    else:
        results = check_json(s3, settings, now)
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
    publish(cloudwatch, _metrics(results, len(stale), now))
    return {"stale": [r.as_dict() for r in stale], "fresh": len(results) - len(stale)}


def handler(event: object, context: object) -> dict[str, Any]:
    settings = FreshnessSettings.from_env(os.environ)
    session = boto3.session.Session()
    return check(session.client("s3"), session.client("cloudwatch"), settings, datetime.now(UTC))
