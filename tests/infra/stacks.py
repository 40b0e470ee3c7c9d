"""The stack configurations the infra tests render, in one place: the example stack files
users copy, and one configuration per option combination the other tests exercise. A test
that checks every declared resource (tests/infra/test_aws_models.py) iterates over all of
them; other tests may pick one by name."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.infra.harness import LOGGING_ACCOUNT_ID, ORG_ID, Run, run_program

ROOT = Path(__file__).resolve().parents[2]
MEMBER_ACCOUNT_ID = "111111111111"
LOGGING_STACK = "example-org/central-logging/logging"
LOGGING_REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]
LOGGING_OUTPUTS = {
    LOGGING_STACK: {
        "destinationArns": {
            region: f"arn:aws:logs:{region}:{LOGGING_ACCOUNT_ID}:destination:CentralLogDestination"
            for region in LOGGING_REGIONS
        }
    }
}


@dataclass(frozen=True)
class Stack:
    config: dict[str, Any]
    account_id: str
    region: str = "eu-west-1"
    stack_outputs: dict[str, Any] = field(default_factory=lambda: LOGGING_OUTPUTS)


def example_stack(file_name: str) -> Stack:
    """A Pulumi.<stack>.yaml of the repository, as `pulumi up --stack` would read it."""
    config = yaml.safe_load((ROOT / file_name).read_text())["config"]
    return Stack(
        config={
            k.removeprefix("central-logging:"): v
            for k, v in config.items()
            if k.startswith("central-logging:")
        },
        account_id=config["aws:allowedAccountIds"][0],
        region=config["aws:region"],
    )


STACKS: dict[str, Stack] = {
    "example-logging": example_stack("Pulumi.logging.yaml"),
    "example-member": example_stack("Pulumi.member.yaml"),
    "example-management": example_stack("Pulumi.management.yaml"),
    "logging-organization": Stack(
        {"role": "logging", "organizationId": ORG_ID}, LOGGING_ACCOUNT_ID
    ),
    "logging-kinesis-raw-accounts": Stack(
        {
            "role": "logging",
            "memberAccounts": [MEMBER_ACCOUNT_ID, "222222222222"],
            "transport": "kinesis",
            "archiveFormat": "raw",
            "kinesisStreamMode": "PROVISIONED",
            "kinesisShardCount": 4,
            "kinesisRetentionHours": 168,
            "regions": LOGGING_REGIONS,
            "objectLockMode": "COMPLIANCE",
            "objectLockDays": 2555,
            "transitionDays": 90,
            "expireDays": 2555,
            "alarmEmail": "oncall@example.com",
        },
        LOGGING_ACCOUNT_ID,
    ),
    "logging-json-tuned": Stack(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "memberAccounts": [MEMBER_ACCOUNT_ID],
            "bufferIntervalSeconds": 60,
            "bufferSizeMiB": 128,
            "s3Prefix": "logs/",
            "bucketName": "example-central-logs",
            "objectLockMode": "GOVERNANCE",
            "objectLockDays": 1,
            "expireDays": 400,
            "accessTrail": "cloudtrail",
            "archiveAdminRoleArns": [f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:role/break-glass"],
        },
        LOGGING_ACCOUNT_ID,
    ),
    "logging-existing-bucket-and-key": Stack(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "existingBucketName": "aws-controltower-logs-999999999999-eu-west-1",
            "kmsKeyArn": (
                f"arn:aws:kms:eu-west-1:{LOGGING_ACCOUNT_ID}:key/"
                "1234abcd-12ab-34cd-56ef-1234567890ab"
            ),
            "athena": "false",
            "alarmTopicArn": f"arn:aws:sns:eu-west-1:{LOGGING_ACCOUNT_ID}:oncall",
        },
        LOGGING_ACCOUNT_ID,
    ),
    # Every name and prefix at the longest the configuration accepts, in long-named regions.
    "logging-longest-values": Stack(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "destinationName": ("Central.Log_Destination-" + "x" * 64)[:64],
            "regions": ["ap-southeast-2", "ap-northeast-3"],
            "bucketName": "central-logs-" + "b" * 50,
            # 424: Firehose's 512 evaluated characters less the partitions (88 here).
            "s3Prefix": "p/" * 212,
        },
        LOGGING_ACCOUNT_ID,
        region="ap-southeast-2",
    ),
    "member-lambda": Stack(
        {
            "role": "member",
            "loggingStack": LOGGING_STACK,
            "regions": LOGGING_REGIONS,
            "excludeLogGroups": ["/aws/lambda/noisy-*"],
            "replaceFilterNames": ["CentralLogDestination"],
            "reconcileSchedule": "rate(1 hour)",
            "alarmEmail": "oncall@example.com",
        },
        MEMBER_ACCOUNT_ID,
    ),
    "member-account-policy": Stack(
        {
            "role": "member",
            "loggingStack": LOGGING_STACK,
            "subscriptionMode": "account-policy",
            "filterPattern": "-DEBUG",
            "excludeLogGroups": ["/aws/lambda/noisy"],
        },
        MEMBER_ACCOUNT_ID,
    ),
    "member-in-the-logging-account": Stack(
        {"role": "member", "loggingStack": LOGGING_STACK}, LOGGING_ACCOUNT_ID
    ),
    "example-organization": example_stack("Pulumi.organization.yaml"),
    "organization-account-policy": Stack(
        {
            "role": "organization",
            "loggingStack": LOGGING_STACK,
            "regions": LOGGING_REGIONS,
            "subscriptionMode": "account-policy",
            "organizationalUnitIds": ["ou-ab12-34cd56ef", "ou-ab12-99zz88yy"],
            "excludeAccounts": [MEMBER_ACCOUNT_ID],
            "callAs": "DELEGATED_ADMIN",
            "maxConcurrentPercentage": 100,
            "failureTolerancePercentage": 0,
        },
        "333333333333",
    ),
}


@functools.cache
def render(name: str) -> Run:
    """The resources stack `name` declares (rendered once per test session)."""
    stack = STACKS[name]
    return run_program(
        stack.config,
        region=stack.region,
        account_id=stack.account_id,
        stack_outputs=stack.stack_outputs,
    )
