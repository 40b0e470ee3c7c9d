"""CentralDestination under Pulumi's mock runtime: what an auditor of the logging account sees."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
from typing import Any

import pytest

from handlers.heartbeat import partition_key_query, partition_of
from tests.infra.harness import LOGGING_ACCOUNT_ID, ORG_ID, Run, run_program

BUCKET = "aws:s3/bucket:Bucket"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DESTINATION = "aws:cloudwatch/logDestination:LogDestination"
DESTINATION_POLICY = "aws:cloudwatch/logDestinationPolicy:LogDestinationPolicy"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
STREAM = "aws:kinesis/stream:Stream"
KEY = "aws:kms/key:Key"


def role_policy(run: Run, role_name: str) -> dict[str, Any]:
    return run.one(ROLE_POLICY, role_name).policy("policy")


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    assert policy["Version"] == "2012-10-17"
    return list(policy["Statement"])


def test_organization_mode_one_region(org_config: dict[str, object]) -> None:
    run = run_program(org_config, region="eu-west-1")

    destination = run.one(DESTINATION)
    assert destination.inputs["name"] == "CentralLogDestination"
    assert destination.inputs["region"] == "eu-west-1"
    firehose = run.one(FIREHOSE)
    assert destination.inputs["targetArn"] == firehose.state["arn"]

    [grant] = statements(run.one(DESTINATION_POLICY).policy("accessPolicy"))
    assert grant["Principal"] == "*"
    assert grant["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}
    assert sorted(grant["Action"]) == ["logs:PutAccountPolicy", "logs:PutSubscriptionFilter"]
    assert grant["Resource"] == destination.state["arn"]

    # The role the destination uses: CloudWatch Logs of this region, for any account (the
    # access policy above keeps other organisations out).
    [trust] = statements(run.one(ROLE, "central-eu-west-1-destination").policy("assumeRolePolicy"))
    assert trust["Principal"] == {"Service": "logs.amazonaws.com"}
    assert trust["Condition"] == {"StringLike": {"aws:SourceArn": ["arn:aws:logs:eu-west-1:*:*"]}}
    [put] = statements(role_policy(run, "central-eu-west-1-destination"))
    assert put["Action"] == ["firehose:PutRecord", "firehose:PutRecordBatch"]
    assert put["Resource"] == firehose.state["arn"]

    assert run.outputs["destinationArns"] == {"eu-west-1": destination.state["arn"]}
    assert run.outputs["destinationArn"] == destination.state["arn"]
    assert run.outputs["deliveryStreamArns"] == {"eu-west-1": firehose.state["arn"]}
    assert "streamArns" not in run.outputs
    bucket = run.one(BUCKET, "central-archive")
    assert run.outputs["bucketName"] == bucket.state["bucket"]
    assert run.outputs["bucketArn"] == bucket.state["arn"]
    assert run.outputs["kmsKeyArn"] == run.one(KEY).state["arn"]
    assert run.outputs["archivePrefix"] == f"s3://{bucket.state['bucket']}/CentralizedAccountsLog/"


def test_every_resource_is_parented_under_the_component(org_config: dict[str, object]) -> None:
    run = run_program({**org_config, "regions": ["eu-west-1", "us-east-1"]})
    children = [
        r for r in run.resources if r.type != "central-logging:destination:CentralDestination"
    ]
    assert len(children) > 20
    for resource in children:
        assert "central-logging:destination:CentralDestination" in run.ancestor_types(resource), (
            resource.name
        )
        assert resource.name.startswith("central-"), resource.name


def test_account_list_over_three_regions() -> None:
    accounts = ["111111111111", "222222222222"]
    regions = ["eu-west-1", "us-east-1", "ap-southeast-2"]
    run = run_program({"role": "logging", "memberAccounts": accounts, "regions": regions})

    destinations = run.of_type(DESTINATION)
    assert sorted(d.inputs["region"] for d in destinations) == sorted(regions)
    assert set(run.outputs["destinationArns"]) == set(regions)
    for region in regions:
        arn = run.outputs["destinationArns"][region]
        assert (
            arn == f"arn:aws:logs:{region}:{LOGGING_ACCOUNT_ID}:destination:CentralLogDestination"
        )
        # Each region delivers into its own Firehose, in the home region with the bucket.
        firehose = run.one(FIREHOSE, f"central-{region}-firehose")
        assert firehose.inputs["region"] == "eu-west-1"
        assert firehose.inputs["name"] == f"CentralLogDestination-{region}"
        [trust] = statements(
            run.one(ROLE, f"central-{region}-destination").policy("assumeRolePolicy")
        )
        assert trust["Condition"] == {
            "StringLike": {
                "aws:SourceArn": [
                    f"arn:aws:logs:{region}:{a}:*" for a in [LOGGING_ACCOUNT_ID, *accounts]
                ]
            }
        }
    for policy in run.of_type(DESTINATION_POLICY):
        [grant] = statements(policy.policy("accessPolicy"))
        assert grant["Principal"] == {"AWS": accounts}
        assert "Condition" not in grant
    # One bucket and one key, in the home region, for every region.
    assert run.one(BUCKET, "central-archive").inputs["region"] == "eu-west-1"
    assert run.one(KEY).inputs["region"] == "eu-west-1"


def test_organization_and_accounts_together() -> None:
    run = run_program(
        {"role": "logging", "organizationId": ORG_ID, "memberAccounts": ["333333333333"]}
    )
    grants = statements(run.one(DESTINATION_POLICY).policy("accessPolicy"))
    assert [g["Principal"] for g in grants] == ["*", {"AWS": ["333333333333"]}]
    assert grants[0]["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == ORG_ID


def test_json_archive_is_decompressed_partitioned_and_gzipped(
    org_config: dict[str, object],
) -> None:
    run = run_program({**org_config, "bufferIntervalSeconds": 60, "bufferSizeMiB": 128})
    s3 = run.one(FIREHOSE).inputs["extendedS3Configuration"]
    assert s3["prefix"] == (
        "CentralizedAccountsLog/account=!{partitionKeyFromQuery:owner}/region=eu-west-1/"
        "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    )
    assert "!{firehose:error-output-type}" in s3["errorOutputPrefix"]
    assert s3["errorOutputPrefix"].startswith("CentralizedAccountsLog/errors/")
    assert s3["compressionFormat"] == "GZIP"
    assert s3["fileExtension"] == ".json.gz"
    # The longest retry Firehose offers before a batch goes to the error prefix.
    assert s3["dynamicPartitioningConfiguration"] == {"enabled": True, "retryDuration": 7200}
    assert (s3["bufferingInterval"], s3["bufferingSize"]) == (60, 128)
    processors = s3["processingConfiguration"]["processors"]
    assert [p["type"] for p in processors] == [
        "Decompression",
        "MetadataExtraction",
        "AppendDelimiterToRecord",
    ]
    query = {p["parameterName"]: p["parameterValue"] for p in processors[1]["parameters"]}
    assert query["MetadataExtractionQuery"] == partition_key_query()
    assert s3["cloudwatchLoggingOptions"]["enabled"] is True
    assert s3["kmsKeyArn"] == run.one(KEY).state["arn"]
    assert run.one(FIREHOSE).inputs["serverSideEncryption"]["enabled"] is True


def test_raw_format_keeps_records_and_the_seed_layout(org_config: dict[str, object]) -> None:
    run = run_program({**org_config, "archiveFormat": "raw", "s3Prefix": "logs/"})
    s3 = run.one(FIREHOSE).inputs["extendedS3Configuration"]
    assert s3["prefix"] == "logs/"  # Firehose appends YYYY/MM/DD/HH/
    assert s3["compressionFormat"] == "UNCOMPRESSED"
    assert "processingConfiguration" not in s3
    assert "dynamicPartitioningConfiguration" not in s3
    assert "fileExtension" not in s3


@pytest.mark.parametrize("mode", ["ON_DEMAND", "PROVISIONED"])
def test_kinesis_transport(mode: str) -> None:
    config: dict[str, object] = {
        "role": "logging",
        "organizationId": ORG_ID,
        "transport": "kinesis",
        "archiveFormat": "raw",
        "kinesisStreamMode": mode,
        "kinesisRetentionHours": 72,
        "regions": ["eu-west-1", "eu-central-1"],
    }
    if mode == "PROVISIONED":
        config["kinesisShardCount"] = 4
    run = run_program(config)
    for region in ("eu-west-1", "eu-central-1"):
        stream = run.one(STREAM, f"central-{region}-kinesis")
        assert stream.inputs["region"] == "eu-west-1"
        assert stream.inputs["name"] == f"CentralLogDestination-{region}"
        assert stream.inputs["streamModeDetails"] == {"streamMode": mode}
        assert stream.inputs.get("shardCount") == (4 if mode == "PROVISIONED" else None)
        assert stream.inputs["retentionPeriod"] == 72
        assert stream.inputs["encryptionType"] == "KMS"
        assert stream.inputs["kmsKeyId"] == "alias/aws/kinesis"
        # The destination targets the stream; Firehose reads it.
        assert run.one(DESTINATION, f"central-{region}").inputs["targetArn"] == stream.state["arn"]
        firehose = run.one(FIREHOSE, f"central-{region}-firehose")
        assert firehose.inputs["region"] == "eu-west-1"
        assert (
            firehose.inputs["kinesisSourceConfiguration"]["kinesisStreamArn"] == stream.state["arn"]
        )
        [put] = statements(role_policy(run, f"central-{region}-destination"))
        assert put["Action"] == ["kinesis:PutRecord", "kinesis:PutRecords"]
        assert put["Resource"] == stream.state["arn"]
        read = next(
            s
            for s in statements(role_policy(run, f"central-{region}-firehose-role"))
            if s["Sid"] == "ReadStream"
        )
        assert read["Resource"] == stream.state["arn"]
    assert set(run.outputs["streamArns"]) == {"eu-west-1", "eu-central-1"}


def test_bucket_is_private_encrypted_versioned_and_tls_only(org_config: dict[str, object]) -> None:
    run = run_program(org_config)
    bucket = run.one(BUCKET, "central-archive")
    key = run.one(KEY)
    assert key.inputs["enableKeyRotation"] is True
    access = run.one(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "central-archive-public-access"
    ).inputs
    assert all(
        access[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    ownership = run.one(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "central-archive-ownership"
    ).inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    versioning = run.one(
        "aws:s3/bucketVersioning:BucketVersioning", "central-archive-versioning"
    ).inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    [rule] = run.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "central-archive-encryption",
    ).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key.state["arn"],
    }
    assert rule["bucketKeyEnabled"] is True
    deny = statements(
        run.one("aws:s3/bucketPolicy:BucketPolicy", "central-archive-policy").policy("policy")
    )[0]
    assert deny["Sid"] == "DenyInsecureTransport"
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [bucket.state["arn"], bucket.state["arn"] + "/*"]
    # No lock or lifecycle unless configured.
    assert not run.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert [
        r.name
        for r in run.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    ] == ["central-athena-results-lifecycle", "central-access-logs-lifecycle"]


def test_key_policy_grants_nothing_to_anyone_without_a_condition(
    org_config: dict[str, object],
) -> None:
    run = run_program(org_config)
    for statement in statements(run.one(KEY).policy("policy")):
        if statement["Effect"] == "Allow":
            assert statement["Principal"] == {"AWS": f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:root"}


def test_firehose_role_reaches_only_its_bucket(org_config: dict[str, object]) -> None:
    run = run_program(org_config)
    bucket_arn = run.one(BUCKET, "central-archive").state["arn"]
    [trust] = statements(
        run.one(ROLE, "central-eu-west-1-firehose-role").policy("assumeRolePolicy")
    )
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": LOGGING_ACCOUNT_ID}}
    policy = statements(role_policy(run, "central-eu-west-1-firehose-role"))
    s3_resources = [s["Resource"] for s in policy if any(a.startswith("s3:") for a in s["Action"])]
    # The blog's template granted `bucketArn*`, which matches other buckets too.
    objects = f"{bucket_arn}/CentralizedAccountsLog/*"
    assert s3_resources == [bucket_arn, objects]
    key_use = next(s for s in policy if s["Sid"] == "KeyThroughS3")
    assert key_use["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, objects]},
    }
    assert all("*" not in str(s["Action"]) for s in policy)


def test_existing_bucket_and_key() -> None:
    key_arn = "arn:aws:kms:eu-west-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    run = run_program(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "existingBucketName": "lz-log-archive",
            "kmsKeyArn": key_arn,
        }
    )
    # Only Athena's results bucket, encrypted with the given key.
    assert [b.name for b in run.of_type(BUCKET)] == ["central-athena-results"]
    assert not run.of_type(KEY)
    assert [p.name for p in run.of_type("aws:s3/bucketPolicy:BucketPolicy")] == [
        "central-athena-results-policy"
    ]
    s3 = run.one(FIREHOSE).inputs["extendedS3Configuration"]
    assert s3["bucketArn"] == "arn:aws:s3:::lz-log-archive"
    assert s3["kmsKeyArn"] == key_arn
    assert run.outputs["bucketName"] == "lz-log-archive"
    assert run.outputs["bucketArn"] == "arn:aws:s3:::lz-log-archive"
    assert run.outputs["kmsKeyArn"] == key_arn
    policy = statements(role_policy(run, "central-eu-west-1-firehose-role"))
    assert next(s for s in policy if s["Sid"] == "KeyThroughS3")["Resource"] == key_arn


def test_object_lock_with_lifecycle(org_config: dict[str, object]) -> None:
    run = run_program(
        {
            **org_config,
            "bucketName": "example-central-logs",
            "objectLockMode": "COMPLIANCE",
            "objectLockDays": 365,
            "transitionDays": 90,
            "expireDays": 400,
        }
    )
    bucket = run.one(BUCKET, "central-archive")
    assert bucket.inputs["bucket"] == "example-central-logs"
    assert bucket.inputs["objectLockEnabled"] is True
    lock = run.one(
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "central-archive-object-lock",
    ).inputs
    assert lock["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 365}
    [rule] = run.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "central-archive-lifecycle",
    ).inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": "CentralizedAccountsLog/"}
    assert rule["transitions"] == [{"days": 90, "storageClass": "GLACIER_IR"}]
    assert rule["expiration"] == {"days": 400}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 400}


def _written_keys(prefix_template: str) -> str:
    """An object key as Firehose writes it under a prefix template."""
    return (
        prefix_template.replace("!{partitionKeyFromQuery:owner}", "111111111111")
        .replace("!{timestamp:yyyy}", "2026")
        .replace("!{timestamp:MM}", "11")
        .replace("!{timestamp:dd}", "29")
        .replace("!{firehose:error-output-type}", "processing-failed")
        + "2026/11/29/10/delivery-1-2026-11-29-10-00-00-abc.gz"
    )


@pytest.mark.parametrize("archive_format", ["json", "raw"])
def test_firehose_role_writes_only_under_the_prefix_of_a_shared_bucket(
    archive_format: str,
) -> None:
    """With existingBucketName the bucket may be a Landing Zone's whole log bucket: the
    Firehose role reaches the archive and error objects under s3Prefix, nothing else."""
    run = run_program(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "existingBucketName": "lz-log-archive",
            "s3Prefix": "central/logs/",
            "archiveFormat": archive_format,
            "regions": ["eu-west-1", "us-east-1"],
        }
    )
    for region in ("eu-west-1", "us-east-1"):
        s3 = run.one(FIREHOSE, f"central-{region}-firehose").inputs["extendedS3Configuration"]
        policy = statements(role_policy(run, f"central-{region}-firehose-role"))
        writes = [
            s for s in policy if any(a in s["Action"] for a in ("s3:PutObject", "s3:GetObject"))
        ]
        assert [s["Resource"] for s in writes] == ["arn:aws:s3:::lz-log-archive/central/logs/*"]
        [objects] = writes
        for template in (s3["prefix"], s3["errorOutputPrefix"]):
            key = "arn:aws:s3:::lz-log-archive/" + _written_keys(template)
            assert fnmatch.fnmatchcase(key, objects["Resource"]), key
        for foreign in ("AWSLogs/111111111111/CloudTrail/x.json.gz", "central/x", "central"):
            assert not fnmatch.fnmatchcase(
                f"arn:aws:s3:::lz-log-archive/{foreign}", objects["Resource"]
            )
        # Bucket-level calls stay on the bucket itself; none writes.
        bucket = next(s for s in policy if s["Sid"] == "Bucket")
        assert bucket["Resource"] == "arn:aws:s3:::lz-log-archive"
        assert all(a.startswith(("s3:Get", "s3:List")) for a in bucket["Action"])


LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LOG_STREAM = "aws:cloudwatch/logStream:LogStream"
THREE_REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]


@pytest.mark.parametrize("transport", ["firehose", "kinesis"])
def test_every_stream_lives_in_the_home_region_one_per_covered_region(transport: str) -> None:
    """AWS documents a destination targeting a stream in another region, and no Firehose
    delivery into a bucket of another region: each region's destination stays there and
    targets its own stream in the home region, where `region=` stays a constant."""
    run = run_program(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "regions": THREE_REGIONS,
            "transport": transport,
            "archiveFormat": "json" if transport == "firehose" else "raw",
        },
        region="us-east-1",
    )
    home = "us-east-1"
    firehoses = run.of_type(FIREHOSE)
    streams = run.of_type(STREAM)
    assert len(firehoses) == 3
    assert len(streams) == (3 if transport == "kinesis" else 0)
    assert {r.inputs["region"] for r in [*firehoses, *streams]} == {home}
    error_group = run.one(LOG_GROUP, "central-delivery-errors")
    assert error_group.inputs["region"] == home
    assert error_group.inputs["name"] == "/aws/kinesisfirehose/CentralLogDestination"
    for region in THREE_REGIONS:
        name = f"CentralLogDestination-{region}"
        firehose = run.one(FIREHOSE, f"central-{region}-firehose")
        assert firehose.inputs["name"] == name
        s3 = firehose.inputs["extendedS3Configuration"]
        assert f"region={region}/" in s3["prefix"] or transport == "kinesis"
        assert f"region={region}/" in s3["errorOutputPrefix"]
        target = firehose
        if transport == "kinesis":
            target = run.one(STREAM, f"central-{region}-kinesis")
            assert target.inputs["name"] == name
            source = firehose.inputs["kinesisSourceConfiguration"]["kinesisStreamArn"]
            assert source == target.state["arn"]
        assert f":{home}:" in target.state["arn"]
        destination = run.one(DESTINATION, f"central-{region}")
        assert destination.inputs["region"] == region
        assert destination.inputs["targetArn"] == target.state["arn"]
        [put] = statements(role_policy(run, f"central-{region}-destination"))
        assert put["Resource"] == target.state["arn"]
        # Delivery errors: the one group in the home region, a log stream per stream.
        log_stream = run.one(LOG_STREAM, f"central-{region}-firehose-errors")
        assert log_stream.inputs["region"] == home
        assert log_stream.inputs["name"] == name
        logging = s3["cloudwatchLoggingOptions"]
        assert (logging["logGroupName"], logging["logStreamName"]) == (
            error_group.inputs["name"],
            name,
        )
        errors = next(
            s
            for s in statements(role_policy(run, f"central-{region}-firehose-role"))
            if s["Sid"] == "ErrorLogs"
        )
        assert errors["Resource"] == f"{error_group.state['arn']}:log-stream:{name}"
    # Outputs keep their meaning: keyed by the region whose logs each stream carries.
    assert run.outputs["deliveryStreamArns"] == {
        region: run.one(FIREHOSE, f"central-{region}-firehose").state["arn"]
        for region in THREE_REGIONS
    }
    if transport == "kinesis":
        assert run.outputs["streamArns"] == {
            region: run.one(STREAM, f"central-{region}-kinesis").state["arn"]
            for region in THREE_REGIONS
        }


def test_no_two_resources_share_a_name(org_config: dict[str, object]) -> None:
    """Neither Pulumi's names nor AWS's names of one kind collide, with every region's
    stream now in one region."""
    for transport, archive in (("firehose", "json"), ("kinesis", "raw")):
        run = run_program(
            {
                **org_config,
                "regions": THREE_REGIONS,
                "transport": transport,
                "archiveFormat": archive,
                "alarmEmail": "oncall@example.com",
            }
        )
        logical = [(r.type, r.name) for r in run.resources]
        assert len(logical) == len(set(logical))
        physical = [
            (r.type, r.inputs.get("region"), r.inputs["name"])
            for r in run.resources
            if "name" in r.inputs and r.type not in (ROLE_POLICY, LOG_STREAM)
        ]
        assert len(physical) == len(set(physical))


def test_the_home_error_log_group_keeps_its_state_from_per_region_groups(
    org_config: dict[str, object],
) -> None:
    """The home region's group of the per-region layout is the same group: an alias, so
    `pulumi up` neither replaces it nor creates a second one under the same name."""
    run = run_program({**org_config, "regions": ["eu-west-1", "us-east-1"]})
    group = run.one(LOG_GROUP, "central-delivery-errors")
    assert group.name == "central-delivery-errors"
    assert group.aliases == ["central-eu-west-1-delivery-errors"]


def test_stream_alarms_live_with_the_streams(org_config: dict[str, object]) -> None:
    run = run_program(
        {
            **org_config,
            "regions": THREE_REGIONS,
            "transport": "kinesis",
            "archiveFormat": "raw",
            "alarmEmail": "oncall@example.com",
        }
    )
    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert {a.inputs["region"] for a in alarms} == {"eu-west-1"}
    for region in THREE_REGIONS:
        name = f"CentralLogDestination-{region}"
        for purpose in ("delivery-failing", "data-stale", "records-throttled"):
            alarm = next(a for a in alarms if a.name == f"central-{region}-{purpose}")
            assert alarm.inputs["dimensions"] == {"DeliveryStreamName": name}
            assert alarm.inputs["alarmDescription"].startswith(f"Logs of {region}: ")
        for purpose in ("stream-iterator-age", "stream-write-throttled"):
            alarm = next(a for a in alarms if a.name == f"central-{region}-{purpose}")
            assert alarm.inputs["dimensions"] == {"StreamName": name}
    # One topic, where the alarms are.
    [topic] = run.of_type("aws:sns/topic:Topic")
    assert topic.inputs["region"] == "eu-west-1"


def jq(query: str, record: dict[str, Any]) -> Any:
    """`query` run by jq, as Firehose's MetadataExtraction runs it (JQ-1.6)."""
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    out = subprocess.run(
        ["jq", "-c", query], input=json.dumps(record), capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_heartbeats_and_control_messages_share_one_partition_others_keep_their_owner() -> None:
    """Every account's heartbeat in its own partition would keep all of them active, each
    flushing an object per buffer interval; CloudWatch Logs' control messages have no
    account. Both go to the heartbeat partition, as partition_of (redrive) says too."""
    query = partition_key_query()
    data = {"messageType": "DATA_MESSAGE", "owner": "111111111111", "logGroup": "/app"}
    heartbeat = {**data, "logGroup": "/central-logging/heartbeat"}
    # As CloudWatch Logs sends it to check a destination: no account of its own.
    control = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logEvents": []}
    forged = {"messageType": "DATA_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "/app"}
    # Only fields CloudWatch Logs sets decide: a message text changes nothing.
    lookalike = {**data, "logEvents": [{"message": '{"heartbeat": true}'}]}

    expected = [
        (data, "111111111111"),
        (heartbeat, "heartbeat"),
        (control, "heartbeat"),
        (forged, "CloudwatchLogs"),
        (lookalike, "111111111111"),
    ]
    assert [partition_of(record) for record, _ in expected] == [p for _, p in expected]
    # As Firehose runs it (skipped where no jq 1.6 binary is installed).
    assert [jq(query, record) for record, _ in expected] == [{"owner": p} for _, p in expected]
