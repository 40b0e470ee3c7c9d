"""The freshness check fed by S3 event notifications: folding batches into one state object,
racing folds, poison messages, organisation mode, and the budget of a scheduled run at
2,000 accounts x 17 regions; in moto, under the IAM policy the logging stack renders."""

from __future__ import annotations

import functools
import json
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError

from handlers import freshness
from handlers.freshness import FreshnessSettings
from tests.handlers.harness import MEMBER_ACCOUNT, REGION, FakeAws, without_action
from tests.handlers.test_freshness import (
    BUCKET,
    FRESH,
    MISSING,
    NOW,
    OTHER_REGION,
    PREFIX,
    STALE,
    STATE_KEY,
    Archive,
    freshness_environment,
    freshness_policy,
    heartbeat_envelopes,
    heartbeat_key,
    published,
    sqs_event,
)
from tests.infra.harness import Run, run_program

ORGANIZATION_ID = "o-a1b2c3d4e5"
LEFT_THE_ORGANIZATION = "888888888888"


def key(account: str, region: str, at: datetime, name: str | None = None) -> str:
    folder = f"{PREFIX}account={account}/region={region}/year={at:%Y}/month={at:%m}/day={at:%d}/"
    return folder + (name or f"CentralLogDestination-{region}-1-{at:%Y-%m-%d-%H-%M-%S}-a1b2")


def beat(archive: Archive, account: str, region: str, at: datetime) -> str:
    """The key of a new object of the heartbeat partition holding one heartbeat."""
    archive.deliver(account, region, at)
    return heartbeat_key(region, at, account)


def notification(
    object_key: str, at: datetime, *, bucket: str = BUCKET, name: str = "Put"
) -> dict[str, Any]:
    """An S3 event notification as S3 sends it to SQS (keys URL-encoded)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": at.isoformat().replace("+00:00", "Z"),
                "eventName": f"ObjectCreated:{name}"
                if name != "Delete"
                else "ObjectRemoved:Delete",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(object_key), "size": 100},
                },
            }
        ]
    }


def eventbridge(object_key: str, at: datetime) -> dict[str, Any]:
    """An EventBridge "Object Created" event (keys as they are)."""
    return {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": MEMBER_ACCOUNT,
        "time": at.isoformat().replace("+00:00", "Z"),
        "region": REGION,
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": object_key, "size": 100}},
    }


def state(archive: Archive) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        archive.s3.get_object(Bucket=BUCKET, Key=STATE_KEY)["Body"].read()
    )
    return document


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@pytest.fixture
def archive(aws: FakeAws) -> Archive:
    return Archive()


@pytest.fixture
def session(aws: FakeAws) -> boto3.session.Session:
    """The freshness function's role, holding the policy the logging stack renders."""
    return aws.function_session(freshness_policy())


@pytest.fixture
def s3(session: boto3.session.Session) -> Any:
    return session.client("s3", region_name=REGION)


def settings(**changes: str) -> FreshnessSettings:
    return FreshnessSettings.from_env({**freshness_environment(), **changes})


def test_a_batch_keeps_the_newest_delivery_of_each_account_region_and_nothing_else(
    aws: FakeAws, archive: Archive, s3: Any
) -> None:
    fresh_at, older, stale_at = (
        NOW - timedelta(minutes=2),
        NOW - timedelta(minutes=9),
        NOW - timedelta(hours=1),
    )
    control = heartbeat_key(REGION, NOW, "control")
    archive.put(control, NOW, b'{"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs"}\n')
    uncovered = beat(archive, MISSING, "ap-south-1", NOW)
    event = sqs_event(
        notification(beat(archive, FRESH, REGION, fresh_at), fresh_at),
        notification(beat(archive, FRESH, REGION, older), older),  # late: changes nothing
        eventbridge(beat(archive, STALE, OTHER_REGION, stale_at), stale_at),
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET},
        # No heartbeats: the error prefix, an account's logs, objects of the partition not
        # named as Firehose names them (redriven), another bucket, a region the stack does
        # not cover, a removal, CloudWatch Logs' control messages.
        notification(f"{PREFIX}errors/region={REGION}/processing-failed/x", NOW),
        notification(key(MISSING, REGION, NOW), NOW),
        notification(heartbeat_key(REGION, NOW).rsplit("/", 1)[0] + "/redrive-0a.json.gz", NOW),
        notification(heartbeat_key(REGION, NOW), NOW, bucket="someone-elses-bucket"),
        notification(uncovered, NOW),
        notification(heartbeat_key(REGION, NOW), NOW, name="Delete"),
        notification(control, NOW),
    )

    with aws.iam.enforced():
        result = freshness.fold(s3, settings(), event, NOW)

    assert result == {"batchItemFailures": []}
    assert state(archive)["deliveries"] == {
        f"{FRESH}/{REGION}": iso(fresh_at),
        f"{STALE}/{OTHER_REGION}": iso(stale_at),
    }
    assert sorted(set(aws.iam.actions)) == ["s3:GetObject", "s3:PutObject"]


def test_one_object_holds_the_heartbeats_of_many_accounts(
    aws: FakeAws, archive: Archive, s3: Any
) -> None:
    """The shared partition: one object per stream per buffer interval, whatever the
    number of accounts; each account's newest heartbeat counts."""
    written = NOW - timedelta(minutes=1)
    body = heartbeat_envelopes(
        (FRESH, written - timedelta(minutes=5)),
        (STALE, written - timedelta(seconds=30)),
        (FRESH, written - timedelta(seconds=10)),
    )
    archive.put(heartbeat_key(REGION, written), written, body)

    with aws.iam.enforced():
        freshness.fold(
            s3, settings(), sqs_event(notification(heartbeat_key(REGION, written), written)), NOW
        )

    assert state(archive)["deliveries"] == {
        f"{FRESH}/{REGION}": iso(written - timedelta(seconds=10)),
        f"{STALE}/{REGION}": iso(written - timedelta(seconds=30)),
    }


def test_a_heartbeat_is_its_records_owners_whatever_its_message_says(
    aws: FakeAws, archive: Archive, s3: Any
) -> None:
    """A member administrator writes into its own heartbeat group a message naming another
    account and dated ahead, and the notification is dated later than S3 wrote the object:
    the heartbeat is the owner's, as of S3's time."""
    written = NOW - timedelta(minutes=3)
    # Dated ahead by the sender too: only S3's own time of the object bounds it.
    envelope = json.loads(heartbeat_envelopes((FRESH, written + timedelta(hours=2))))
    envelope["logEvents"][0]["message"] = json.dumps({"heartbeat": True, "account": STALE})
    key = heartbeat_key(REGION, written, "claims")
    archive.put(key, written, json.dumps(envelope).encode() + b"\n")

    with aws.iam.enforced():
        freshness.fold(s3, settings(), sqs_event(notification(key, NOW + timedelta(hours=1))), NOW)

    assert state(archive)["deliveries"] == {f"{FRESH}/{REGION}": iso(written)}


def test_a_message_that_is_no_event_is_left_for_the_dead_letter_queue_alone(
    aws: FakeAws, archive: Archive, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    at = NOW - timedelta(minutes=1)
    event = sqs_event(
        "not json {",
        {"Records": [{"eventSource": "aws:s3", "s3": None}]},
        {"Records": [1]},
        [],
        notification(beat(archive, FRESH, REGION, at), at),
    )

    with aws.iam.enforced():
        result = freshness.fold(s3, settings(), event, NOW)

    assert result == {"batchItemFailures": [{"itemIdentifier": f"message-{n}"} for n in range(4)]}
    assert state(archive)["deliveries"] == {f"{FRESH}/{REGION}": iso(at)}
    assert capsys.readouterr().out.count("left for the dead-letter queue") == 4


def test_an_object_that_cannot_be_read_is_retried_alone(
    aws: FakeAws, archive: Archive, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    at = NOW - timedelta(minutes=1)
    broken = heartbeat_key(REGION, at, "broken")
    archive.s3.put_object(Bucket=BUCKET, Key=broken, Body=b"not gzip")
    event = sqs_event(
        notification(heartbeat_key(REGION, at, "gone"), at),  # no such object
        notification(broken, at),
        notification(beat(archive, FRESH, REGION, at), at),
    )

    with aws.iam.enforced():
        result = freshness.fold(s3, settings(), event, NOW)

    assert result == {"batchItemFailures": [{"itemIdentifier": f"message-{n}"} for n in range(2)]}
    assert state(archive)["deliveries"] == {f"{FRESH}/{REGION}": iso(at)}
    assert capsys.readouterr().out.count("the message is retried") == 2


def test_two_folds_at_once_lose_no_delivery(
    aws: FakeAws, archive: Archive, session: boto3.session.Session, s3: Any
) -> None:
    first, second = NOW - timedelta(minutes=3), NOW - timedelta(minutes=1)
    early, late = beat(archive, FRESH, REGION, first), beat(archive, STALE, REGION, second)
    other = session.client("s3", region_name=REGION)
    puts: list[dict[str, Any]] = []

    def meanwhile(params: dict[str, Any], **_: Any) -> None:
        puts.append({k: v for k, v in params.items() if k.startswith("If")})
        if len(puts) == 1:  # between this fold's read and its write, another fold writes
            freshness.fold(other, settings(), sqs_event(notification(late, second)), NOW)

    s3.meta.events.register("provide-client-params.s3.PutObject", meanwhile)

    with aws.iam.enforced():
        freshness.fold(s3, settings(), sqs_event(notification(early, first)), NOW)

    assert state(archive)["deliveries"] == {
        f"{FRESH}/{REGION}": iso(first),
        f"{STALE}/{REGION}": iso(second),
    }
    # Created only if absent; the loser of the race read again and wrote on the winner's ETag.
    assert puts[0] == {"IfNoneMatch": "*"}
    assert list(puts[1]) == ["IfMatch"]


def test_a_state_that_keeps_changing_fails_the_batch_for_sqs_to_retry(
    aws: FakeAws,
    archive: Archive,
    session: boto3.session.Session,
    s3: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(freshness, "STATE_WRITE_ATTEMPTS", 2)
    other = session.client("s3", region_name=REGION)

    writes: list[int] = []

    def always_lost(params: dict[str, Any], **_: Any) -> None:
        writes.append(len(writes))  # another fold's write, different every time
        other.put_object(Bucket=BUCKET, Key=STATE_KEY, Body=json.dumps({"n": writes}).encode())

    s3.meta.events.register("provide-client-params.s3.PutObject", always_lost)
    event = sqs_event(notification(beat(archive, FRESH, REGION, NOW), NOW))

    with aws.iam.enforced(), pytest.raises(RuntimeError, match="kept changing during 2 attempts"):
        freshness.fold(s3, settings(), event, NOW)


@functools.cache
def organization_stack() -> Run:
    return run_program(
        {"role": "logging", "organizationId": ORGANIZATION_ID, "regions": [REGION, OTHER_REGION]},
        region=REGION,
        account_id=MEMBER_ACCOUNT,
    )


def organization_policy() -> dict[str, Any]:
    policy: dict[str, Any] = (
        organization_stack()
        .one("aws:iam/rolePolicy:RolePolicy", "central-freshness-function")
        .policy("policy")
    )
    return policy


def organization_settings(*excluded: str) -> FreshnessSettings:
    function = organization_stack().one(
        "aws:lambda/function:Function", "central-freshness-function"
    )
    variables = function.inputs["environment"]["variables"]
    return FreshnessSettings.from_env({**variables, "EXCLUDED_ACCOUNTS": json.dumps(excluded)})


def test_in_organisation_mode_a_dark_account_stays_stale_and_every_region_is_expected(
    aws: FakeAws, archive: Archive
) -> None:
    organizations = boto3.client("organizations", region_name=REGION)
    organizations.create_organization(FeatureSet="ALL")
    dark = organizations.create_account(Email="dark@example.com", AccountName="dark")[
        "CreateAccountStatus"
    ]["AccountId"]
    # Not covered on purpose (exemptAccounts): never expected.
    uncovered = organizations.create_account(Email="lab@example.com", AccountName="lab")[
        "CreateAccountStatus"
    ]["AccountId"]
    # MEMBER_ACCOUNT (moto's management account) delivered from one region only; the dark
    # account last delivered 10 days ago; an account outside the organisation delivers still.
    deliveries = {
        f"{MEMBER_ACCOUNT}/{REGION}": iso(NOW - timedelta(minutes=2)),
        f"{dark}/{REGION}": iso(NOW - timedelta(days=10)),
        f"{LEFT_THE_ORGANIZATION}/{REGION}": iso(NOW - timedelta(minutes=1)),
    }
    archive.s3.put_object(
        Bucket=BUCKET, Key=STATE_KEY, Body=json.dumps({"deliveries": deliveries}).encode()
    )
    session = aws.function_session(organization_policy())
    s3, cloudwatch = (
        session.client("s3", region_name=REGION),
        session.client("cloudwatch", region_name=REGION),
    )
    client = session.client("organizations", region_name=REGION)

    def orgs() -> Any:
        return client

    with aws.iam.enforced():
        result = freshness.check(s3, cloudwatch, organization_settings(uncovered), NOW, orgs)
        again = freshness.check(
            s3, cloudwatch, organization_settings(uncovered), NOW + timedelta(minutes=5), orgs
        )

    assert sorted(result["stale"], key=lambda s: (s["account"], s["region"])) == sorted(
        [
            {"account": MEMBER_ACCOUNT, "region": OTHER_REGION, "lastDelivery": None},
            {"account": dark, "region": REGION, "lastDelivery": iso(NOW - timedelta(days=10))},
            {"account": dark, "region": OTHER_REGION, "lastDelivery": None},
        ],
        key=lambda s: (s["account"], s["region"]),
    )
    assert result["fresh"] == 1
    assert again == result
    # Read once, then kept in the state for an hour.
    assert aws.iam.actions.count("organizations:ListAccounts") == 1
    assert sorted(state(archive)["organizationAccounts"]["accounts"]) == sorted(
        [MEMBER_ACCOUNT, dark, uncovered]
    )


def test_without_the_organisations_list_the_run_fails_and_publishes_nothing(
    aws: FakeAws, archive: Archive
) -> None:
    boto3.client("organizations", region_name=REGION).create_organization(FeatureSet="ALL")
    session = aws.function_session(
        without_action(organization_policy(), "organizations:ListAccounts")
    )

    with aws.iam.enforced(), pytest.raises(ClientError, match="AccessDenied"):
        freshness.check(
            session.client("s3", region_name=REGION),
            session.client("cloudwatch", region_name=REGION),
            organization_settings(),
            NOW,
            lambda: session.client("organizations", region_name=REGION),
        )

    # No count published: archive-stale treats the silence as breaching.
    assert published() == []


ACCOUNTS = [f"{100000000000 + n:012d}" for n in range(2000)]
REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1",
    "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1",
    "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "sa-east-1",
]  # fmt: skip


def test_a_scheduled_run_at_2000_accounts_x_17_regions_keeps_to_its_budget(
    aws: FakeAws, archive: Archive, session: boto3.session.Session, s3: Any
) -> None:
    deliveries = {
        f"{account}/{region}": iso(NOW - timedelta(minutes=2 if n % 100 else 60))
        for n, account in enumerate(ACCOUNTS)
        for region in REGIONS
    }
    archive.s3.put_object(
        Bucket=BUCKET, Key=STATE_KEY, Body=json.dumps({"deliveries": deliveries}).encode()
    )
    environment = {
        **freshness_environment(),
        "REGIONS": json.dumps(REGIONS),
        "EXPECTED_ACCOUNTS": json.dumps(ACCOUNTS),
    }
    cloudwatch = session.client("cloudwatch", region_name=REGION)
    requests: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **_: requests.append(model.name))

    started = time.monotonic()
    with aws.iam.enforced():
        result = freshness.check(s3, cloudwatch, FreshnessSettings.from_env(environment), NOW)
    elapsed = time.monotonic() - started

    assert len(result["stale"]) == 20 * 17 and result["fresh"] == 34_000 - 340
    assert requests == ["GetObject", "PutObject"]  # the state, the report
    metrics = {(name, tuple(sorted(dims.items()))) for name, dims, _ in published()}
    assert len(metrics) == 1 + 2 * 17
    assert ("StaleAccountRegions", (("Region", "eu-west-1"),)) in metrics
    assert elapsed < 20


def test_a_report_the_bucket_refuses_is_logged_and_the_metrics_still_published(
    aws: FakeAws, archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    at = iso(NOW - timedelta(minutes=1))
    archive.s3.put_object(
        Bucket=BUCKET,
        Key=STATE_KEY,
        Body=json.dumps({"deliveries": {f"{FRESH}/{REGION}": at}}).encode(),
    )
    # As an existing bucket's own policy might: no PutObject for this role.
    session = aws.function_session(without_action(freshness_policy(), "s3:PutObject"))

    with aws.iam.enforced():
        result = freshness.check(
            session.client("s3", region_name=REGION),
            session.client("cloudwatch", region_name=REGION),
            settings(),
            NOW,
        )

    assert result["fresh"] == 1
    assert ("StaleAccountRegions", {}, 5.0) in published()
    assert "report not written to s3://central-archive/central-logging-freshness/report.json" in (
        capsys.readouterr().out
    )


def test_through_a_management_account_role_the_check_assumes_it_to_list_accounts(
    aws: FakeAws,
) -> None:
    reader = "arn:aws:iam::222222222222:role/central-logging-organization-reader"
    run = run_program(
        {
            "role": "logging",
            "organizationId": ORGANIZATION_ID,
            "regions": [REGION],
            "organizationReaderRoleArn": reader,
        },
        region=REGION,
        account_id=MEMBER_ACCOUNT,
    )
    policy = run.one("aws:iam/rolePolicy:RolePolicy", "central-freshness-function").policy("policy")
    variables = run.one("aws:lambda/function:Function", "central-freshness-function").inputs[
        "environment"
    ]["variables"]
    assert variables["ORGANIZATION_ROLE_ARN"] == reader
    sids = {s.get("Sid") for s in policy["Statement"]}
    assert "AssumeOrganizationReader" in sids and "ReadOrganizationAccounts" not in sids
    session = aws.function_session(policy)

    with aws.iam.enforced():
        client = freshness.organizations_client(session, FreshnessSettings.from_env(variables))

    assert aws.iam.actions == ["sts:AssumeRole"]
    own = session.get_credentials()
    assert own is not None
    assert client._request_signer._credentials.access_key != own.access_key
