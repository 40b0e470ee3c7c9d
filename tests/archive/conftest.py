"""Archives written exactly as Firehose writes them (design section 5), with their truth."""

from __future__ import annotations

import argparse
import gzip
import io
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from central_logging import archive, query
from tests.aws_env import fake_credentials

ACCOUNT_A = "011111111111"
ACCOUNT_B = "222222222222"
REGIONS = ("eu-west-1", "us-east-1")
# Every event of the static archives lies in these days (UTC), well in the past.
DAY_1 = datetime(2026, 1, 10, tzinfo=UTC)
DAY_2 = datetime(2026, 1, 11, tzinfo=UTC)
BUCKET = "central-logs"
PREFIX = "CentralizedAccountsLog/"


def millis(moment: datetime) -> int:
    return archive.to_millis(moment)


def envelope(
    account: str, group: str, stream: str, events: Sequence[tuple[str, int, str]]
) -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": account,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": ["central-logging"],
        "logEvents": [{"id": i, "timestamp": t, "message": m} for i, t, m in events],
    }


def control(moment: datetime) -> dict[str, Any]:
    return {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": millis(moment),
                "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
            }
        ],
    }


def json_object(envelopes: Sequence[dict[str, Any]], members: int = 1) -> bytes:
    """Firehose `json`: each envelope then a newline, gzip; `members` > 1 cuts the text into
    that many gzip members at arbitrary byte offsets (a line may span members)."""
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in envelopes).encode()
    cuts = [len(text) * k // members for k in range(members + 1)]
    return b"".join(gzip.compress(text[a:b]) for a, b in itertools.pairwise(cuts))


def raw_object(envelopes: Sequence[dict[str, Any]]) -> bytes:
    """Firehose `raw`: one gzip member per CloudWatch record, concatenated, no delimiter."""
    return b"".join(
        gzip.compress(json.dumps(item, ensure_ascii=False).encode()) for item in envelopes
    )


def iso_time(timestamp: int) -> str | None:
    """ISO 8601 UTC to the millisecond with Z; None past the year 9999."""
    try:
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=timestamp)
    except OverflowError:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def truth_of(
    envelopes: Sequence[dict[str, Any]], region: str | None = None
) -> list[dict[str, Any]]:
    """The `read --json` documents of the data events of `envelopes`, in an object of `region`."""
    return [
        {
            "account": item["owner"],
            "region": region,
            "logGroup": item["logGroup"],
            "logStream": item["logStream"],
            "id": event["id"],
            "timestamp": event["timestamp"],
            "time": iso_time(event["timestamp"]),
            "message": event["message"],
        }
        for item in envelopes
        if item["messageType"] == "DATA_MESSAGE"
        for event in item["logEvents"]
    ]


@dataclass
class Archive:
    """Objects by key below the archive prefix, and the data events they hold."""

    objects: dict[str, bytes] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, key: str, data: bytes, envelopes: Sequence[dict[str, Any]], region: str) -> None:
        self.objects[key] = data
        self.events.extend(truth_of(envelopes, region))

    def write(self, root: Path) -> Path:
        for key, data in self.objects.items():
            path = root.joinpath(*key.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return root

    def upload(self, client: Any, bucket: str = BUCKET, prefix: str = PREFIX) -> None:
        for key, data in self.objects.items():
            client.put_object(Bucket=bucket, Key=prefix + key, Body=data)


def _day_folder(account: str, region: str, moment: datetime) -> str:
    return f"account={account}/region={region}/year={moment:%Y}/month={moment:%m}/day={moment:%d}/"


def _events_of(
    account: str, region: str, moment: datetime, count: int
) -> list[tuple[str, int, str]]:
    """Events out of timestamp order, unicode and multi-line messages among them."""
    base = millis(moment)
    messages = [
        "GET /health 200",
        "ERROR payment failed\n  at charge()\n  at main()",
        "utilisateur créé: Zoë 🚀",
        'quote " backslash \\ tab \t end',
    ]
    return [
        (
            f"{account}{region}{base}{k:04d}",
            base + (count - 1 - k) * 1000,
            messages[k % len(messages)],
        )
        for k in range(count)
    ]


def build_json_archive() -> Archive:
    """Two accounts, two regions, two days; control messages; multi-member objects. A stream
    belongs to one region, as in CloudWatch Logs."""
    result = Archive()
    for account in (ACCOUNT_A, ACCOUNT_B):
        for region in REGIONS:
            for day in (DAY_1, DAY_2):
                moment = day + timedelta(hours=3)
                envelopes = [
                    control(moment),
                    envelope(
                        account,
                        "/aws/lambda/api",
                        f"{region}/[$LATEST]a",
                        _events_of(account, region, moment, 6),
                    ),
                    envelope(
                        account,
                        "/app/web",
                        f"web-{region}",
                        _events_of(account, region, moment + timedelta(hours=1), 5),
                    ),
                ]
                folder = _day_folder(account, region, moment)
                name = f"central-logging-1-{moment:%Y-%m-%d-%H-%M-%S}-0001.json.gz"
                members = 3 if account == ACCOUNT_B else 1
                result.add(folder + name, json_object(envelopes, members), envelopes, region)
    return result


# The delivery stream of each region as the logging stack names it, in raw object names; the
# last one, of a destinationName past Firehose's 64 characters, cut short with a hash.
RAW_STREAMS = {
    "eu-west-1": "CentralLogDestination-eu-west-1",
    "us-east-1": "Central-Log-Destination-of-a-very-long-name-f-us-east-1-4b4b9be2",
}


def build_raw_archive() -> Archive:
    """The seed's layout: YYYY/MM/DD/HH/ folders, gzip members concatenated, no extension,
    named as Firehose names objects: stream, version, time, random."""
    result = Archive()
    for day in (DAY_1, DAY_2):
        for account, region in zip((ACCOUNT_A, ACCOUNT_B), RAW_STREAMS, strict=True):
            moment = day + timedelta(hours=5 if account == ACCOUNT_A else 6)
            envelopes = [
                envelope(
                    account, "/aws/lambda/api", "stream-1", _events_of(account, "raw", moment, 4)
                ),
                control(moment),
                envelope(account, "/app/web", "web-1", _events_of(account, "raw2", moment, 3)),
            ]
            name = f"{RAW_STREAMS[region]}-1-{moment:%Y-%m-%d-%H-%M-%S}-5f0c9a2e-{account}"
            result.add(f"{moment:%Y/%m/%d/%H}/{name}", raw_object(envelopes), envelopes, region)
    return result


@pytest.fixture
def json_archive() -> Archive:
    return build_json_archive()


@pytest.fixture
def raw_archive() -> Archive:
    return build_raw_archive()


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def documents(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.split("\n")[:-1]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="central-logging")
    commands = parser.add_subparsers(dest="command", required=True)
    archive.add_read_parser(commands)
    query.add_query_parser(commands)
    return parser


class Terminal(io.StringIO):
    """Captured output that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run(*argv: str, terminal: bool = False) -> Outcome:
    """`central-logging read|query ...` as the CLI runs it, with its output captured; stderr
    says it is a terminal if `terminal`."""
    args = _parser().parse_args(list(argv))
    stdout, stderr = io.StringIO(), Terminal() if terminal else io.StringIO()
    command = archive.run_read if args.command == "read" else query.run_query
    code = command(args, stdout, stderr)
    return Outcome(code, stdout.getvalue(), stderr.getvalue())


@dataclass
class S3:
    """The moto client; the prefixes listed and the keys read through it."""

    client: Any
    listed: list[str]
    got: list[str]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    """moto S3 with the archive bucket; every ListObjectsV2 prefix is recorded in `listed`,
    every GetObject key in `got`."""
    fake_credentials(monkeypatch, "eu-west-1")
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        listed: list[str] = []
        got: list[str] = []

        def record(params: dict[str, Any], **_: Any) -> None:
            listed.append(params["Prefix"])

        client.meta.events.register("before-parameter-build.s3.ListObjectsV2", record)
        client.meta.events.register(
            "before-parameter-build.s3.GetObject", lambda params, **_: got.append(params["Key"])
        )
        monkeypatch.setattr(archive, "s3_client", lambda profile: client)
        yield S3(client, listed, got)
