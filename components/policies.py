"""IAM, resource and key policy documents, built as plain dicts.

Pure functions: no Pulumi, no AWS calls, so every policy can be tested and linted on its
own. Components resolve ARNs first (``Output.apply``) and pass plain strings in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Policy = dict[str, Any]
Statement = dict[str, Any]

LOGS_SERVICE = "logs.amazonaws.com"
FIREHOSE_SERVICE = "firehose.amazonaws.com"
LAMBDA_SERVICE = "lambda.amazonaws.com"
EVENTS_SERVICE = "events.amazonaws.com"

# The actions a member account needs on a destination: a filter per log group, or one
# account-level subscription filter policy.
DESTINATION_ACTIONS = ["logs:PutSubscriptionFilter", "logs:PutAccountPolicy"]


def document(*statements: Statement) -> Policy:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def partition_for(region: str) -> str:
    """The ARN partition of a region."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def arn_account(arn: str) -> str:
    """The account ID field of an ARN."""
    return arn.split(":")[4]


def arn_region(arn: str) -> str:
    return arn.split(":")[3]


def arn_partition(arn: str) -> str:
    return arn.split(":")[1]


def logs_sender_trust(
    region: str,
    partition: str,
    organization_id: str | None,
    account_ids: Sequence[str],
    logging_account_id: str,
) -> Policy:
    """Trust for the role a destination uses: CloudWatch Logs of the destination's region.

    As AWS's "Step 2: Create a destination" (CreateFirehoseStreamDestination-Account.html)
    shows, the confused-deputy condition is aws:SourceArn of the logs of every sender
    account and of the recipient (logging) account itself: CloudWatch Logs sends a test
    message on the recipient's behalf when the destination is created. No AWS page shows
    CloudWatch Logs sending aws:SourceOrgID here, so an organisation admits CloudWatch Logs
    of the region for any account; the destination access policy (aws:PrincipalOrgID) is
    what keeps other organisations from subscribing."""
    if organization_id:
        source_arns = [f"arn:{partition}:logs:{region}:*:*"]
    else:
        accounts = dict.fromkeys([logging_account_id, *account_ids])
        source_arns = [f"arn:{partition}:logs:{region}:{account}:*" for account in accounts]
    return document(
        {
            "Sid": "CloudWatchLogs",
            "Effect": "Allow",
            "Principal": {"Service": LOGS_SERVICE},
            "Action": "sts:AssumeRole",
            "Condition": {"StringLike": {"aws:SourceArn": source_arns}},
        }
    )


def destination_access_policy(
    destination_arn: str, organization_id: str | None, account_ids: Sequence[str]
) -> Policy:
    """Who may subscribe to a destination: the organisation, and/or listed accounts."""
    statements: list[Statement] = []
    if organization_id:
        statements.append(
            {
                "Sid": "Organization",
                "Effect": "Allow",
                "Principal": "*",
                "Action": DESTINATION_ACTIONS,
                "Resource": destination_arn,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
            }
        )
    if account_ids:
        statements.append(
            {
                "Sid": "Accounts",
                "Effect": "Allow",
                "Principal": {"AWS": list(account_ids)},
                "Action": DESTINATION_ACTIONS,
                "Resource": destination_arn,
            }
        )
    return document(*statements)


def destination_delivery_policy(target_arn: str) -> Policy:
    """What the destination role may do: put records into its own stream, nothing else."""
    if target_arn.split(":")[2] == "firehose":
        actions = ["firehose:PutRecord", "firehose:PutRecordBatch"]
    else:
        actions = ["kinesis:PutRecord", "kinesis:PutRecords"]
    return document(
        {"Sid": "PutRecords", "Effect": "Allow", "Action": actions, "Resource": target_arn}
    )


def service_trust(service: str, account_id: str) -> Policy:
    """Trust for a service acting for this account only (confused-deputy protection)."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def firehose_delivery_policy(
    *,
    bucket_arn: str,
    bucket_region: str,
    kms_key_arn: str,
    error_log_group_arn: str,
    stream_arn: str | None,
) -> Policy:
    """What a delivery stream may do: write into its bucket (the bucket ARN followed by
    ``/``, never ``bucketArn*``, which matches other buckets too), use the key only
    through S3 for that bucket, log its errors, and read its Kinesis stream if any."""
    statements: list[Statement] = [
        {
            "Sid": "Bucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            "Resource": bucket_arn,
        },
        {
            "Sid": "Objects",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            "Resource": f"{bucket_arn}/*",
        },
        {
            "Sid": "KeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": kms_key_arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": f"s3.{bucket_region}.amazonaws.com"},
                # With an S3 Bucket Key the context is the bucket's ARN, else the object's.
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]},
            },
        },
        {
            "Sid": "ErrorLogs",
            "Effect": "Allow",
            "Action": ["logs:PutLogEvents"],
            "Resource": f"{error_log_group_arn}:log-stream:*",
        },
    ]
    if stream_arn:
        statements.append(
            {
                "Sid": "ReadStream",
                "Effect": "Allow",
                "Action": [
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                ],
                "Resource": stream_arn,
            }
        )
    return document(*statements)


def bucket_policy(bucket_arn: str) -> Policy:
    """Deny every request that does not use TLS."""
    return document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def key_policy(partition: str, account_id: str) -> Policy:
    """The archive key: administered through this account's IAM, nothing granted to `*`.

    Delivery roles get the key through their identity policies, scoped to S3."""
    return document(
        {
            "Sid": "AccountIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )


def lambda_trust() -> Policy:
    """Trust for a function's execution role. Lambda assumes it only for functions this
    account created with the role (iam:PassRole), so no source condition is needed."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": LAMBDA_SERVICE},
            "Action": "sts:AssumeRole",
        }
    )


def sender_role_trust(partition: str, regions: Sequence[str], account_id: str) -> Policy:
    """Trust for the member's sender role: CloudWatch Logs, for this account's regions."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": LOGS_SERVICE},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringLike": {
                    "aws:SourceArn": [
                        f"arn:{partition}:logs:{region}:{account_id}:*" for region in regions
                    ]
                }
            },
        }
    )


def sender_role_policy(destination_arns: Sequence[str]) -> Policy:
    """What CloudWatch Logs may do with the sender role: deliver to each destination's
    account in that destination's region."""
    resources = sorted(
        {
            f"arn:{arn_partition(arn)}:logs:{arn_region(arn)}:{arn_account(arn)}:*"
            for arn in destination_arns
        }
    )
    return document(
        {
            "Sid": "DeliverToDestinations",
            "Effect": "Allow",
            "Action": "logs:PutLogEvents",
            "Resource": resources,
        }
    )


def dead_letter_queue_policy(queue_arn: str, rule_arn: str) -> Policy:
    """Only the subscriber's EventBridge rule may park undeliverable events in the queue."""
    return document(
        {
            "Sid": "EventBridgeDeadLetters",
            "Effect": "Allow",
            "Principal": {"Service": EVENTS_SERVICE},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        }
    )


def subscriber_function_policy(
    *,
    partition: str,
    region: str,
    account_id: str,
    destination_arn: str,
    sender_role_arn: str,
    function_log_group_arn: str,
    function_arn: str | None = None,
    dead_letter_queue_arn: str | None = None,
) -> Policy:
    """Least privilege for a subscriber function of one account and region.

    `function_arn` is given for the sweep, which continues itself; `dead_letter_queue_arn`
    where failed asynchronous invocations are parked."""
    log_groups = f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
    statements: list[Statement] = [
        {
            "Sid": "ManageFilters",
            "Effect": "Allow",
            "Action": [
                "logs:DeleteSubscriptionFilter",
                "logs:DescribeSubscriptionFilters",
                "logs:PutSubscriptionFilter",
            ],
            "Resource": log_groups,
        },
        {
            # PutSubscriptionFilter is authorised on the log group and on the destination.
            "Sid": "UseDestination",
            "Effect": "Allow",
            "Action": "logs:PutSubscriptionFilter",
            "Resource": destination_arn,
        },
        {
            "Sid": "PassSenderRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": sender_role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": LOGS_SERVICE}},
        },
        {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{function_log_group_arn}:log-stream:*",
        },
    ]
    if function_arn:
        statements += [
            {
                "Sid": "ListLogGroups",
                "Effect": "Allow",
                "Action": "logs:DescribeLogGroups",
                "Resource": log_groups,
            },
            {
                # The sweep continues itself before the Lambda time limit.
                "Sid": "ContinueSweep",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": function_arn,
            },
        ]
    if dead_letter_queue_arn:
        statements.append(
            {
                "Sid": "DeadLetters",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": dead_letter_queue_arn,
            }
        )
    return document(*statements)


def artifact_bucket_policy(bucket_arn: str, organization_id: str) -> Policy:
    """The organization stack's code bucket: every account of the organisation may read the
    functions' code (CloudFormation creates them there with its own credentials), nobody
    outside it, and only over TLS."""
    return document(
        {
            "Sid": "OrganizationReadsCode",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
