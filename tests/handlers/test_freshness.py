"""The freshness check on a moto archive, under the IAM policy the logging stack renders."""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.cloudwatch.models import cloudwatch_backends
from moto.s3.models import s3_backends

from handlers import freshness
from handlers.freshness import FreshnessSettings, FreshnessSettingsError
from tests.handlers.harness import MEMBER_ACCOUNT, REGION, FakeAws, without_action
from tests.handlers.test_function_policy import resources_by_action
from tests.infra.harness import Run, run_program

BUCKET = "central-archive"  # as the logging stack names it under the mock runtime
PREFIX = "CentralizedAccountsLog/"
OTHER_REGION = "us-east-1"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
FRESH, STALE, MISSING = "111111111111", "444444444444", "555555555555"
SEEN_LATELY, SEEN_LONG_AGO = "666666666666", "777777777777"
STATE_KEY = "central-logging-freshness/state.json"
REPORT_KEY = "central-logging-freshness/report.json"


@functools.cache
def rendered_logging_stack(archive_format: str = "json") -> Run:
    config: dict[str, Any] = {
        "role": "logging",
        "memberAccounts": [FRESH, STALE],
        "freshnessAccounts": [MISSING],
        "regions": [REGION, OTHER_REGION],
        "archiveFormat": archive_format,
    }
    if archive_format == "raw":
        config["transport"] = "firehose"
    return run_program(config, region=REGION, account_id=MEMBER_ACCOUNT)


def freshness_policy(archive_format: str = "json") -> dict[str, Any]:
    policy: dict[str, Any] = (
        rendered_logging_stack(archive_format)
        .one("aws:iam/rolePolicy:RolePolicy", "central-freshness-function")
        .policy("policy")
    )
    return policy


def listing_environment(archive_format: str = "json", **changes: str) -> dict[str, str]:
    """The environment of a stack on an existing bucket: it lists the archive."""
    return {**freshness_environment(archive_format), "FRESHNESS_SOURCE": "listing", **changes}


def freshness_environment(archive_format: str = "json") -> dict[str, str]:
    function = rendered_logging_stack(archive_format).one(
        "aws:lambda/function:Function", "central-freshness-function"
    )
    variables: dict[str, str] = function.inputs["environment"]["variables"]
    return variables


class Archive:
    """The archive bucket in moto, with objects whose LastModified the test chooses."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )

    def put(self, key: str, modified: datetime, body: bytes = b"{}\n") -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(body))
        s3_backends[MEMBER_ACCOUNT]["aws"].buckets[BUCKET].keys[key].last_modified = modified

    def deliver(self, account: str, region: str, at: datetime) -> None:
        """A heartbeat of `account` in `region` sent at `at`, in an object of the heartbeat
        partition written at `at`, as Firehose names it."""
        self.put(heartbeat_key(region, at, account), at, heartbeat_envelopes((account, at)))

    def log_object(self, account: str, region: str, at: datetime, name: str = "") -> None:
        """An object of logs (no heartbeat) in the account's own partition."""
        folder = (
            f"{PREFIX}account={account}/region={region}/year={at:%Y}/month={at:%m}/day={at:%d}/"
        )
        self.put(
            folder + (name or f"CentralLogDestination-1-{at:%Y-%m-%d-%H-%M-%S}-abc.json.gz"), at
        )


def heartbeat_key(region: str, at: datetime, tag: str = "abc") -> str:
    folder = f"{PREFIX}account=heartbeat/region={region}/year={at:%Y}/month={at:%m}/day={at:%d}/"
    return f"{folder}CentralLogDestination-1-{at:%Y-%m-%d-%H-%M-%S}-{tag}.json.gz"


def heartbeat_envelopes(*beats: tuple[str, datetime]) -> bytes:
    """Newline-delimited envelopes as Firehose writes them, one heartbeat each."""
    return b"".join(
        json.dumps(
            {
                "messageType": "DATA_MESSAGE",
                "owner": account,
                "logGroup": "/central-logging/heartbeat",
                "logStream": "heartbeat",
                "subscriptionFilters": ["central-logging"],
                "logEvents": [
                    {
                        "id": "1",
                        "timestamp": int(sent.timestamp() * 1000),
                        "message": json.dumps({"heartbeat": True, "account": account}),
                    }
                ],
            }
        ).encode()
        + b"\n"
        for account, sent in beats
    )


@pytest.fixture
def archive(aws: FakeAws) -> Archive:
    return Archive()


@pytest.fixture
def listings() -> Iterator[list[tuple[str, str | None]]]:
    """(Prefix, Delimiter) of every ListObjectsV2 call the check makes."""
    calls: list[tuple[str, str | None]] = []
    yield calls


def clients(
    aws: FakeAws, policy: dict[str, Any], listings: list[tuple[str, str | None]]
) -> tuple[Any, Any]:
    session = aws.function_session(policy)
    s3 = session.client("s3", region_name=REGION)
    s3.meta.events.register(
        "provide-client-params.s3.ListObjectsV2",
        lambda params, **_: listings.append((params["Prefix"], params.get("Delimiter"))),
    )
    return s3, session.client("cloudwatch", region_name=REGION)


def sqs_event(*bodies: str | dict[str, Any] | list[Any]) -> dict[str, Any]:
    """An SQS batch as Lambda's event source mapping passes it (Lambda developer guide,
    "Using Lambda with Amazon SQS": example standard queue message event)."""
    return {
        "Records": [
            {
                "messageId": f"message-{number}",
                "receiptHandle": f"handle-{number}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{MEMBER_ACCOUNT}:deliveries",
                "awsRegion": REGION,
            }
            for number, body in enumerate(bodies)
        ]
    }


Datum = tuple[str, dict[str, str], float]


def in_order(data: list[Datum]) -> list[Datum]:
    return sorted(data, key=lambda d: (d[0], sorted(d[1].items())))


def published() -> list[Datum]:
    """(name, dimensions, value) of every datum published into CentralLogging."""
    backend = cloudwatch_backends[MEMBER_ACCOUNT][REGION]
    return in_order(
        [
            (d.name, {x.name: x.value for x in d.dimensions}, float(d.value))
            for d in backend.metric_data
            if d.namespace == "CentralLogging"
        ]
    )


def test_the_policy_keeps_the_state_lists_the_prefix_and_publishes_its_namespace_only() -> None:
    policy = freshness_policy()
    run = rendered_logging_stack()
    queue = run.one("aws:sqs/queue:Queue", "central-freshness-deliveries").state["arn"]
    key = run.one("aws:kms/key:Key", "central-archive-key").state["arn"]
    own_streams = (
        f"arn:aws:logs:{REGION}:{MEMBER_ACCOUNT}:log-group:/aws/lambda/central-logging-freshness"
        ":log-stream:*"
    )
    state = {f"arn:aws:s3:::{BUCKET}/{STATE_KEY}", f"arn:aws:s3:::{BUCKET}/{REPORT_KEY}"}
    assert resources_by_action(policy) == {
        "s3:ListBucket": {f"arn:aws:s3:::{BUCKET}"},
        "s3:GetObject": {
            f"arn:aws:s3:::{BUCKET}/{STATE_KEY}",
            f"arn:aws:s3:::{BUCKET}/{PREFIX}account=heartbeat/*",
        },
        "s3:PutObject": state,
        "kms:Decrypt": {key},
        "kms:GenerateDataKey": {key},
        "sqs:ReceiveMessage": {queue},
        "sqs:DeleteMessage": {queue},
        "sqs:GetQueueAttributes": {queue},
        "cloudwatch:PutMetricData": {"*"},
        "logs:CreateLogStream": {own_streams},
        "logs:PutLogEvents": {own_streams},
    }
    conditions = {s["Sid"]: s.get("Condition") for s in policy["Statement"]}
    assert conditions["ListArchive"] == {"StringLike": {"s3:prefix": [f"{PREFIX}*", STATE_KEY]}}
    assert conditions["PublishFreshness"] == {
        "StringEquals": {"cloudwatch:namespace": "CentralLogging"}
    }


def test_in_organisation_mode_the_role_may_list_the_organisations_accounts() -> None:
    run = run_program(
        {"role": "logging", "organizationId": "o-a1b2c3d4e5", "regions": [REGION]},
        region=REGION,
        account_id=MEMBER_ACCOUNT,
    )
    function = run.one("aws:lambda/function:Function", "central-freshness-function")
    policy = run.one("aws:iam/rolePolicy:RolePolicy", "central-freshness-function").policy("policy")
    assert function.inputs["environment"]["variables"]["EXPECTED_FROM_ORGANIZATIONS"] == "true"
    assert resources_by_action(policy)["organizations:ListAccounts"] == {"*"}


def test_the_stack_gives_the_function_the_documented_environment() -> None:
    assert freshness_environment() == {
        "ARCHIVE_BUCKET": BUCKET,
        "ARCHIVE_PREFIX": PREFIX,
        "REGIONS": json.dumps([REGION, OTHER_REGION]),
        "EXPECTED_ACCOUNTS": json.dumps([FRESH, STALE, MISSING]),
        # a heartbeat (5 min) + 1.5 x bufferIntervalSeconds 300 + 30 s for the notice
        "FRESHNESS_SECONDS": "780",
        "ARCHIVE_FORMAT": "json",
        "STATE_KEY": STATE_KEY,
        # The stack's own bucket tells the function what arrives.
        "FRESHNESS_SOURCE": "events",
        "FRESHNESS_METRICS": "aggregate",
        "EXPECTED_FROM_ORGANIZATIONS": "false",
        "EXCLUDED_ACCOUNTS": "[]",
        "ORGANIZATION_ROLE_ARN": "",
    }


def test_fresh_stale_and_missing_account_regions_are_reported_and_published(
    aws: FakeAws, archive: Archive, listings: list[tuple[str, str | None]]
) -> None:
    """Listing (an existing bucket): each run reads the heartbeat objects of the last ten
    minutes into the state, and judges from the state."""
    earlier = {
        f"{STALE}/{REGION}": "2026-11-27T12:00:00Z",
        f"{FRESH}/{OTHER_REGION}": "2026-11-29T11:40:00Z",
        f"{SEEN_LONG_AGO}/{REGION}": "2026-11-20T12:00:00Z",
    }
    archive.s3.put_object(
        Bucket=BUCKET, Key=STATE_KEY, Body=json.dumps({"deliveries": earlier}).encode()
    )
    archive.deliver(FRESH, REGION, NOW - timedelta(minutes=2))
    archive.deliver(SEEN_LATELY, REGION, NOW - timedelta(minutes=8))
    archive.deliver(STALE, OTHER_REGION, NOW - timedelta(hours=1))  # read by runs long ago
    for day in range(1, 40):  # a long history of logs that is never listed
        archive.log_object(FRESH, REGION, NOW - timedelta(days=day))
    archive.deliver(FRESH, "ap-south-1", NOW)  # a region the stack does not cover
    archive.put(f"{PREFIX}errors/region={REGION}/processing-failed/x", NOW)
    settings = FreshnessSettings.from_env(listing_environment(FRESHNESS_METRICS="per-account"))
    s3, cloudwatch = clients(aws, freshness_policy(), listings)

    with aws.iam.enforced():
        result = freshness.check(s3, cloudwatch, settings, NOW)

    def stale(account: str, region: str, last: str | None) -> dict[str, str | None]:
        return {"account": account, "region": region, "lastDelivery": last}

    assert result == {
        "stale": [
            stale(FRESH, OTHER_REGION, "2026-11-29T11:40:00Z"),
            stale(STALE, REGION, "2026-11-27T12:00:00Z"),
            stale(STALE, OTHER_REGION, None),
            stale(MISSING, REGION, None),
            stale(MISSING, OTHER_REGION, None),
        ],
        "fresh": 2,
    }
    assert published() == in_order(
        [
            ("SecondsSinceLastDelivery", {"Account": FRESH, "Region": OTHER_REGION}, 1200.0),
            ("SecondsSinceLastDelivery", {"Account": FRESH, "Region": REGION}, 120.0),
            ("SecondsSinceLastDelivery", {"Account": SEEN_LATELY, "Region": REGION}, 480.0),
            ("SecondsSinceLastDelivery", {"Account": STALE, "Region": REGION}, 172800.0),
            ("SecondsSinceLastDelivery", {"Region": REGION}, 172800.0),
            ("SecondsSinceLastDelivery", {"Region": OTHER_REGION}, 1200.0),
            ("StaleAccountRegions", {}, 5.0),
            ("StaleAccountRegions", {"Region": REGION}, 2.0),
            ("StaleAccountRegions", {"Region": OTHER_REGION}, 3.0),
        ]
    )
    # Today's heartbeat folder of each region, nothing else: no account's own partition.
    today = "year=2026/month=11/day=29/"
    assert sorted(listings) == [
        (f"{PREFIX}account=heartbeat/region={region}/{today}", None)
        for region in sorted((REGION, OTHER_REGION))
    ]
    # Remembered for the next runs; an undeclared account silent for 7 days forgotten.
    remembered = json.loads(archive.s3.get_object(Bucket=BUCKET, Key=STATE_KEY)["Body"].read())
    assert sorted(remembered["deliveries"]) == sorted(
        [
            f"{STALE}/{REGION}",
            f"{FRESH}/{OTHER_REGION}",
            f"{FRESH}/{REGION}",
            f"{SEEN_LATELY}/{REGION}",
        ]
    )


def test_a_bucket_that_refuses_the_state_is_judged_from_the_listing_alone(
    aws: FakeAws, archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    archive.deliver(FRESH, REGION, NOW - timedelta(minutes=2))
    settings = FreshnessSettings.from_env(listing_environment())
    # As an existing bucket's own policy might: nothing but the archive to read.
    policy = without_action(
        without_action(freshness_policy(), "s3:PutObject"), "kms:GenerateDataKey"
    )
    session = aws.function_session(policy)

    with aws.iam.enforced():
        result = freshness.check(
            session.client("s3", region_name=REGION),
            session.client("cloudwatch", region_name=REGION),
            settings,
            NOW,
        )

    assert result["fresh"] == 1 and len(result["stale"]) == 5
    assert "cannot be kept" in capsys.readouterr().out


def test_a_heartbeat_dated_later_than_its_object_counts_as_written(
    aws: FakeAws, archive: Archive
) -> None:
    """A member administrator can date a heartbeat event hours ahead; the object's time,
    which S3 sets, bounds it, so the account still goes stale when it goes dark."""
    written = NOW - timedelta(minutes=5)
    archive.put(
        heartbeat_key(REGION, written),
        written,
        heartbeat_envelopes((STALE, written + timedelta(hours=2))),
    )
    settings = FreshnessSettings.from_env(listing_environment())

    state = freshness.fold_listed(archive.s3, settings, NOW)

    assert state.last(STALE, REGION) == written


def test_only_heartbeat_envelopes_of_real_accounts_count(archive: Archive) -> None:
    """Control messages share the partition; a line too long to be a heartbeat, or one that
    is no JSON, is skipped without costing the others."""
    written = NOW - timedelta(minutes=1)
    control = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logEvents": []}
    other_group = json.loads(heartbeat_envelopes((MISSING, written)))
    other_group["logGroup"] = "/aws/lambda/app"
    body = b"".join(
        [
            json.dumps(control).encode() + b"\n",
            b"[" * (freshness.MAX_HEARTBEAT_LINE + 1) + b"\n",
            b"not json\n",
            json.dumps(other_group).encode() + b"\n",
            heartbeat_envelopes((FRESH, written)),
        ]
    )
    archive.put(heartbeat_key(REGION, written), written, body)

    beats = freshness.read_heartbeats(archive.s3, BUCKET, heartbeat_key(REGION, written), written)

    assert beats == [(FRESH, written)]


def test_logs_and_history_in_an_accounts_partition_are_no_heartbeat(
    aws: FakeAws, archive: Archive
) -> None:
    folder = f"{PREFIX}account={STALE}/region={REGION}/year=2026/month=11/day=29/"
    archive.put(f"{folder}history-{'0' * 32}-0-1764417600000.json.gz", NOW)
    archive.log_object(STALE, REGION, NOW - timedelta(minutes=1))
    settings = FreshnessSettings.from_env(listing_environment())

    assert freshness.fold_listed(archive.s3, settings, NOW).deliveries == {}


def test_a_delivery_just_before_midnight_is_found_in_yesterdays_folder(
    aws: FakeAws, archive: Archive, listings: list[tuple[str, str | None]]
) -> None:
    just_after_midnight = datetime(2026, 11, 29, 0, 3, tzinfo=UTC)
    for account in (FRESH, STALE, MISSING):
        for region in (REGION, OTHER_REGION):
            archive.deliver(account, region, just_after_midnight - timedelta(minutes=5))
    settings = FreshnessSettings.from_env(listing_environment())
    s3, cloudwatch = clients(aws, freshness_policy(), listings)

    with aws.iam.enforced():
        result = freshness.check(s3, cloudwatch, settings, just_after_midnight)

    assert result == {"stale": [], "fresh": 6}
    assert ("StaleAccountRegions", {}, 0.0) in published()


def test_the_raw_stack_names_each_regions_delivery_stream() -> None:
    run = rendered_logging_stack("raw")
    streams = {
        region: run.one(
            "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
            f"central-{region}-firehose",
        ).state["name"]
        for region in (REGION, OTHER_REGION)
    }

    assert json.loads(freshness_environment("raw")["DELIVERY_STREAMS"]) == streams
    assert freshness_environment("raw")["ARCHIVE_FORMAT"] == "raw"


def test_raw_archives_are_checked_per_region_and_say_so(
    aws: FakeAws,
    archive: Archive,
    listings: list[tuple[str, str | None]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    streams = {REGION: f"Central-{REGION}", OTHER_REGION: f"Central-{OTHER_REGION}"}
    environment = listing_environment("raw", DELIVERY_STREAMS=json.dumps(streams))
    at = NOW - timedelta(minutes=4)
    archive.put(f"{PREFIX}{at:%Y/%m/%d/%H}/{streams[REGION]}-1-{at:%Y-%m-%d-%H-%M-%S}-f00", at)
    # Another stream whose name starts like ours is not ours.
    archive.put(
        f"{PREFIX}{at:%Y/%m/%d/%H}/{streams[OTHER_REGION]}-2-1-{at:%Y-%m-%d-%H-%M-%S}-x", at
    )
    settings = FreshnessSettings.from_env(environment)
    s3, cloudwatch = clients(aws, freshness_policy("raw"), listings)

    with aws.iam.enforced():
        result = freshness.check(s3, cloudwatch, settings, NOW)

    assert result == {
        "stale": [{"account": None, "region": OTHER_REGION, "lastDelivery": None}],
        "fresh": 1,
    }
    assert "checking per region" in capsys.readouterr().out
    assert published() == in_order(
        [
            ("SecondsSinceLastDelivery", {"Region": REGION}, 240.0),
            ("StaleAccountRegions", {}, 1.0),
            ("StaleAccountRegions", {"Region": REGION}, 0.0),
            ("StaleAccountRegions", {"Region": OTHER_REGION}, 1.0),
        ]
    )
    # Today's folder and the 7 days before it, for the silent region; nothing older.
    assert listings == [(f"{PREFIX}{NOW - timedelta(days=n):%Y/%m/%d}/", None) for n in range(8)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ARCHIVE_BUCKET": ""}, "ARCHIVE_BUCKET must be the archive bucket's name; got ''."),
        ({"ARCHIVE_PREFIX": "logs"}, "ARCHIVE_PREFIX must be empty or a key prefix ending with /"),
        ({"REGIONS": "[]"}, "REGIONS must be a JSON array of AWS region names; got '[]'."),
        ({"REGIONS": '["eu-west-1", "Mars"]'}, "REGIONS must be a JSON array of AWS region names"),
        ({"EXPECTED_ACCOUNTS": '["12345"]'}, "EXPECTED_ACCOUNTS must be a JSON array of account"),
        ({"EXPECTED_ACCOUNTS": "{}"}, "EXPECTED_ACCOUNTS must be a JSON array of account IDs"),
        ({"FRESHNESS_SECONDS": "-5"}, "FRESHNESS_SECONDS must be a number >= 60; got '-5'."),
        ({"FRESHNESS_SECONDS": "30"}, "FRESHNESS_SECONDS must be a number >= 60; got '30'."),
        ({"ARCHIVE_FORMAT": "parquet"}, "ARCHIVE_FORMAT must be json or raw; got 'parquet'."),
        ({"EXCLUDED_ACCOUNTS": '["all"]'}, "EXCLUDED_ACCOUNTS must be a JSON array of account IDs"),
        (
            {"ORGANIZATION_ROLE_ARN": "arn:aws:iam::111111111111:user/me"},
            "ORGANIZATION_ROLE_ARN must be empty or an IAM role ARN; got "
            "'arn:aws:iam::111111111111:user/me'.",
        ),
        ({"FRESHNESS_SOURCE": "poll"}, "FRESHNESS_SOURCE must be listing or events; got 'poll'."),
        (
            {"FRESHNESS_METRICS": "all"},
            "FRESHNESS_METRICS must be aggregate or per-account; got 'all'.",
        ),
        (
            {"EXPECTED_FROM_ORGANIZATIONS": "yes"},
            "EXPECTED_FROM_ORGANIZATIONS must be false or true; got 'yes'.",
        ),
        (
            {"STATE_KEY": f"{PREFIX}state.json"},
            "STATE_KEY must be an object key outside ARCHIVE_PREFIX ('CentralizedAccountsLog/'); "
            "got 'CentralizedAccountsLog/state.json'.",
        ),
        (
            {"STATE_KEY": "central-logging-freshness/"},
            "STATE_KEY must be an object key outside ARCHIVE_PREFIX",
        ),
        (
            {"ARCHIVE_FORMAT": "raw", "DELIVERY_STREAMS": '{"eu-west-1": "a"}'},
            "DELIVERY_STREAMS must be a JSON object naming the delivery stream of every region",
        ),
    ],
)
def test_bad_environment_is_refused_with_one_sentence(
    changes: dict[str, str], message: str
) -> None:
    environment = {**freshness_environment(), **changes}

    with pytest.raises(FreshnessSettingsError) as raised:
        FreshnessSettings.from_env(environment)

    assert str(raised.value).startswith(message)


def test_the_handler_folds_real_notifications_and_judges_as_its_role(
    aws: FakeAws, archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end through moto: the bucket notifies a queue as the stack configures it, the
    handler folds what the queue holds, then the scheduled run judges from the state."""
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="deliveries")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    [notification] = rendered_logging_stack().of_type(
        "aws:s3/bucketNotification:BucketNotification"
    )
    [queue] = notification.inputs["queues"]
    archive.s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": queue["events"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": queue["filterPrefix"]}]}
                    },
                }
            ]
        },
    )
    credentials = aws.function_session(freshness_policy()).get_credentials()
    assert credentials is not None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token or "")
    for variable, value in freshness_environment().items():
        monkeypatch.setenv(variable, value)
    archive.deliver(FRESH, REGION, datetime.now(UTC))
    # Neither logs nor errors are announced: only the heartbeat partition is.
    archive.log_object(FRESH, OTHER_REGION, datetime.now(UTC))
    archive.put(f"{PREFIX}errors/region={REGION}/processing-failed/x", datetime.now(UTC))
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 2  # S3's test event, and the heartbeat object

    with aws.iam.enforced():
        folded = freshness.handler(sqs_event(*[m["Body"] for m in messages]), None)
        result = freshness.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)

    assert folded == {"batchItemFailures": []}
    assert result["fresh"] == 1
    assert {(s["account"], s["region"]) for s in result["stale"]} == {
        (FRESH, OTHER_REGION),
        (STALE, REGION),
        (STALE, OTHER_REGION),
        (MISSING, REGION),
        (MISSING, OTHER_REGION),
    }
    assert sorted(set(aws.iam.actions)) == [
        "cloudwatch:PutMetricData",
        "s3:GetObject",
        "s3:PutObject",
    ]
    report = json.loads(archive.s3.get_object(Bucket=BUCKET, Key=REPORT_KEY)["Body"].read())
    assert report["stale"] == result["stale"] and report["fresh"] == 1
