"""Every bad logging-stack value stops the program with one sentence, before any resource."""

from __future__ import annotations

import pytest

from components.config import parse_logging
from tests.infra.harness import ORG_ID, config_error

BASE = {"role": "logging", "organizationId": ORG_ID}

CASES = [
    ({"athena": "yes"}, "central-logging:athena is 'yes'; it must be true or false."),
    (
        {"exemptAccounts": ["111111111111", "1234"]},
        "central-logging:exemptAccounts is '1234'; each entry must be a 12-digit account ID.",
    ),
    (
        {"organizationReaderRoleArn": "arn:aws:iam::222222222222:user/reader"},
        "central-logging:organizationReaderRoleArn is 'arn:aws:iam::222222222222:user/reader'; "
        "it must be an IAM role ARN such as arn:aws:iam::111111111111:role/NAME.",
    ),
    (
        {
            "organizationId": None,
            "memberAccounts": ["111111111111"],
            "organizationReaderRoleArn": "arn:aws:iam::222222222222:role/reader",
        },
        "central-logging:organizationReaderRoleArn is 'arn:aws:iam::222222222222:role/reader'; "
        "it is used only with central-logging:organizationId, which is not set.",
    ),
    (
        {"freshnessMetrics": "per-region"},
        "central-logging:freshnessMetrics is 'per-region'; allowed values are aggregate, "
        "per-account.",
    ),
    (
        {"s3Prefix": "central-logging-freshness/"},
        "central-logging:s3Prefix is 'central-logging-freshness/'; it must not contain the "
        "freshness state, central-logging-freshness/state.json.",
    ),
    ({"role": None}, "central-logging:role is not set; set it to logging, member or organization."),
    (
        {"role": "central"},
        "central-logging:role is 'central'; allowed values are logging, member, organization.",
    ),
    (
        {"regions": ["eu-west-1", "eu-wst-1"]},
        "central-logging:regions is 'eu-wst-1'; each entry must be an AWS region name such as "
        "eu-west-1.",
    ),
    (
        {"regions": "eu-west-1"},
        "central-logging:regions is 'eu-west-1'; it must be a list, each entry an AWS region "
        "name such as eu-west-1.",
    ),
    (
        {"regions": ["eu-west-1", "eu-west-1"]},
        "central-logging:regions is 'eu-west-1'; each entry may appear only once.",
    ),
    (
        {"organizationId": None},
        "Neither central-logging:organizationId nor central-logging:memberAccounts is set; set "
        "at least one of them to say which accounts may send logs.",
    ),
    (
        {"organizationId": "org-123"},
        "central-logging:organizationId is 'org-123'; it must be an AWS Organizations ID such "
        "as o-exampleorgid.",
    ),
    (
        {"organizationId": None, "memberAccounts": ["12345678901"]},
        "central-logging:memberAccounts is '12345678901'; each entry must be a 12-digit "
        "account ID.",
    ),
    (
        {"freshnessAccounts": ["111111111111", "not-an-account"]},
        "central-logging:freshnessAccounts is 'not-an-account'; each entry must be a 12-digit "
        "account ID.",
    ),
    (
        {"memberAccounts": ["111111111111", "111111111111"]},
        "central-logging:memberAccounts is '111111111111'; each entry may appear only once.",
    ),
    (
        {"transport": "kinesis"},
        "central-logging:archiveFormat is 'json' with central-logging:transport 'kinesis'; "
        "Firehose only decompresses records sent directly by CloudWatch Logs, so use transport "
        "firehose or archiveFormat raw.",
    ),
    (
        {"transport": "sqs"},
        "central-logging:transport is 'sqs'; allowed values are firehose, kinesis.",
    ),
    (
        {"archiveFormat": "parquet"},
        "central-logging:archiveFormat is 'parquet'; allowed values are json, raw.",
    ),
    (
        {"transport": "kinesis", "archiveFormat": "raw", "kinesisShardCount": "4"},
        "central-logging:kinesisShardCount is 4; a shard count applies only with "
        "kinesisStreamMode PROVISIONED.",
    ),
    (
        {"kinesisStreamMode": "PROVISIONED", "kinesisShardCount": "-1"},
        "central-logging:kinesisShardCount is '-1'; it must be a whole number from 0 to 10000.",
    ),
    (
        {"kinesisStreamMode": "provisioned"},
        "central-logging:kinesisStreamMode is 'provisioned'; allowed values are ON_DEMAND, "
        "PROVISIONED.",
    ),
    (
        {"kinesisRetentionHours": "12"},
        "central-logging:kinesisRetentionHours is '12'; it must be a whole number from 24 to 8760.",
    ),
    (
        {"kinesisRetentionHours": "9000"},
        "central-logging:kinesisRetentionHours is '9000'; it must be a whole number from 24 to "
        "8760.",
    ),
    (
        {"bufferIntervalSeconds": "901"},
        "central-logging:bufferIntervalSeconds is '901'; it must be a whole number from 0 to 900.",
    ),
    (
        {"bufferSizeMiB": "32"},
        "central-logging:bufferSizeMiB is '32'; it must be a whole number from 64 to 128.",
    ),
    (
        {"archiveFormat": "raw", "bufferSizeMiB": "0"},
        "central-logging:bufferSizeMiB is '0'; it must be a whole number from 1 to 128.",
    ),
    (
        {"bufferSizeMiB": "sixty"},
        "central-logging:bufferSizeMiB is 'sixty'; it must be a whole number from 64 to 128.",
    ),
    (
        {"objectLockMode": "LEGAL_HOLD", "objectLockDays": "30"},
        "central-logging:objectLockMode is 'LEGAL_HOLD'; allowed values are GOVERNANCE, "
        "COMPLIANCE.",
    ),
    (
        {"objectLockMode": "GOVERNANCE"},
        "central-logging:objectLockMode is 'GOVERNANCE' without central-logging:objectLockDays; "
        "set the number of days each object is retained.",
    ),
    (
        {"objectLockDays": "30"},
        "central-logging:objectLockDays is 30; set objectLockMode GOVERNANCE or COMPLIANCE "
        "with it.",
    ),
    (
        {"bucketName": "logs", "existingBucketName": "other-logs"},
        "Both central-logging:bucketName and central-logging:existingBucketName are set; set "
        "bucketName to create a bucket or existingBucketName to use one, not both.",
    ),
    (
        {"bucketName": "Central_Logs"},
        "central-logging:bucketName is 'Central_Logs'; it must be a valid S3 bucket name.",
    ),
    (
        {"bucketName": "central..logs"},
        "central-logging:bucketName is 'central..logs'; it must be a valid S3 bucket name.",
    ),
    (
        {"existingBucketName": "x"},
        "central-logging:existingBucketName is 'x'; it must be a valid S3 bucket name.",
    ),
    (
        {"s3Prefix": "logs"},
        "central-logging:s3Prefix is 'logs'; it must end with / and not start with /.",
    ),
    (
        {"s3Prefix": "p/" * 257},
        f"central-logging:s3Prefix is '{'p/' * 257}'; Firehose allows 512 characters of "
        "prefix after evaluation and the partitions add up to 83 here, so it must be at most "
        "429 characters.",
    ),
    (
        {"destinationName": "central:logs"},
        "central-logging:destinationName is 'central:logs'; it also names the delivery streams "
        "and their error log group, so it must be 1 to 491 characters of letters, digits, _ . "
        "and -.",
    ),
    # A Logs destination may be named so; a Firehose stream or a log group may not.
    (
        {"destinationName": "Central Logs"},
        "central-logging:destinationName is 'Central Logs'; it also names the delivery streams "
        "and their error log group, so it must be 1 to 491 characters of letters, digits, _ . "
        "and -.",
    ),
    (
        {"destinationName": "D" * 492},
        f"central-logging:destinationName is '{'D' * 492}'; it also names the delivery streams "
        "and their error log group, so it must be 1 to 491 characters of letters, digits, _ . "
        "and -.",
    ),
    # Dynamic partitioning (archiveFormat json) has no zero buffering.
    (
        {"bufferIntervalSeconds": "0"},
        "central-logging:bufferIntervalSeconds is 0; archiveFormat json partitions dynamically, "
        "which Firehose offers without zero buffering, so it must be from 60 to 900.",
    ),
    (
        {"bufferIntervalSeconds": "59"},
        "central-logging:bufferIntervalSeconds is 59; archiveFormat json partitions "
        "dynamically, which Firehose offers without zero buffering, so it must be from 60 to "
        "900.",
    ),
    (
        {"kmsKeyArn": "arn:aws:kms:eu-west-1:999999999999:alias/central-logs"},
        "central-logging:kmsKeyArn is 'arn:aws:kms:eu-west-1:999999999999:alias/central-logs'; "
        "an alias ARN in an IAM policy never grants use of the key, so Firehose could not "
        "encrypt with it: give the key's own ARN, arn:aws:kms:REGION:ACCOUNT:key/ID.",
    ),
    (
        {"kmsKeyArn": "alias/logs"},
        "central-logging:kmsKeyArn is 'alias/logs'; it must be the ARN of a KMS key in the "
        "form arn:aws:kms:REGION:ACCOUNT:key/ID.",
    ),
    (
        {"kmsKeyArn": "arn:aws:kms:us-east-1:999999999999:key/abcd"},
        "central-logging:kmsKeyArn is 'arn:aws:kms:us-east-1:999999999999:key/abcd'; the key "
        "must be in the bucket's region eu-west-1.",
    ),
    (
        {"transitionDays": "90", "expireDays": "30"},
        "central-logging:expireDays is 30; it must be greater than transitionDays (90).",
    ),
    (
        {"objectLockMode": "COMPLIANCE", "objectLockDays": "365", "expireDays": "30"},
        "central-logging:expireDays is 30; it must be at least objectLockDays (365).",
    ),
    (
        {"existingBucketName": "lz-logs", "expireDays": "30"},
        "central-logging:transitionDays/central-logging:expireDays are set with "
        "central-logging:existingBucketName; lifecycle is configured only on a bucket this "
        "stack creates.",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), CASES)
def test_bad_value_stops_the_program_before_any_resource(
    overrides: dict[str, object], message: str
) -> None:
    config = {k: v for k, v in {**BASE, **overrides}.items() if v is not None}
    assert config_error(config, region="eu-west-1") == message


def test_defaults_match_the_documented_contract() -> None:
    settings = parse_logging({"organizationId": ORG_ID}, "eu-west-1")
    assert settings.regions == ("eu-west-1",)
    assert settings.destination_name == "CentralLogDestination"
    assert (settings.transport, settings.archive_format) == ("firehose", "json")
    assert (settings.kinesis_stream_mode, settings.kinesis_shard_count) == ("ON_DEMAND", 2)
    assert settings.kinesis_retention_hours == 48
    assert settings.s3_prefix == "CentralizedAccountsLog/"
    assert (settings.buffer_interval_seconds, settings.buffer_size_mib) == (300, 64)
    assert settings.object_lock_mode is None and settings.expire_days is None


def test_pulumi_yaml_defaults_mean_not_set() -> None:
    """Pulumi hands the Pulumi.yaml defaults ("", [], 0) to the program as values."""
    defaults = {
        "organizationId": ORG_ID,
        "memberAccounts": "[]",
        "regions": "[]",
        "bucketName": "",
        "kmsKeyArn": "",
        "objectLockMode": "",
        "objectLockDays": "0",
        "kinesisShardCount": "0",
        "transitionDays": "0",
        "expireDays": "0",
    }
    settings = parse_logging(defaults, "eu-west-1")
    assert settings.regions == ("eu-west-1",)
    assert settings.bucket_name is None and settings.kms_key_arn is None
    assert settings.object_lock_days is None and settings.transition_days is None
    assert settings.kinesis_shard_count == 2


def test_raw_archive_may_buffer_below_a_minute() -> None:
    """Zero buffering is refused only where Firehose partitions dynamically."""
    settings = parse_logging(
        {"organizationId": ORG_ID, "archiveFormat": "raw", "bufferIntervalSeconds": "0"},
        "eu-west-1",
    )
    assert settings.buffer_interval_seconds == 0
    settings = parse_logging({"organizationId": ORG_ID, "bufferIntervalSeconds": "60"}, "eu-west-1")
    assert settings.buffer_interval_seconds == 60
