"""IAM, resource and key policy documents, built as plain dicts.

Pure functions: no Pulumi, no AWS calls, so every policy can be tested and linted on its
own. Components resolve ARNs first (``Output.apply``) and pass plain strings in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from handlers.freshness import METRIC_NAMESPACE as FRESHNESS_NAMESPACE
from handlers.heartbeat import HEARTBEAT_LOG_GROUP

Policy = dict[str, Any]
Statement = dict[str, Any]

LOGS_SERVICE = "logs.amazonaws.com"
FIREHOSE_SERVICE = "firehose.amazonaws.com"
LAMBDA_SERVICE = "lambda.amazonaws.com"
EVENTS_SERVICE = "events.amazonaws.com"
S3_SERVICE = "s3.amazonaws.com"

# The actions a member account needs on a destination: a filter per log group, or one
# account-level subscription filter policy.
DESTINATION_ACTIONS = ["logs:PutSubscriptionFilter", "logs:PutAccountPolicy"]


def document(*statements: Statement) -> Policy:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def key_through_s3(
    kms_key_arn: str,
    region: str,
    bucket_arn: str,
    objects: str,
    actions: Sequence[str] = ("kms:Decrypt", "kms:GenerateDataKey"),
) -> Statement:
    """The archive key, for `objects` of `bucket_arn` through S3 only (kms:ViaService). With an
    S3 Bucket Key the encryption context is the bucket's ARN, else the object's ("Encryption
    context", https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html)."""
    return {
        "Sid": "KeyThroughS3",
        "Effect": "Allow",
        "Action": list(actions) if len(actions) > 1 else actions[0],
        "Resource": kms_key_arn,
        "Condition": {
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, objects]},
        },
    }


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
    s3_prefix: str,
    kms_key_arn: str,
    error_log_stream_arn: str,
    stream_arn: str | None,
) -> Policy:
    """What a delivery stream may do: write objects under the archive prefix only (archive
    and error objects both live there; with existingBucketName the bucket may hold a whole
    Landing Zone's logs), use the key only through S3 for that bucket, write its own error
    log stream, and read its Kinesis stream if any.

    The actions are those of AWS's "Grant Firehose access to an Amazon S3 destination"
    (firehose/latest/dev/controlling-access.html). Its bucket-level ones (location, listings)
    stay on the bucket ARN, never ``bucketArn*``, which matches other buckets too: they
    write nothing, and AWS documents no prefix Firehose would list with."""
    objects = f"{bucket_arn}/{s3_prefix}*"
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
            "Resource": objects,
        },
        key_through_s3(kms_key_arn, bucket_region, bucket_arn, objects),
        {
            "Sid": "ErrorLogs",
            "Effect": "Allow",
            "Action": ["logs:PutLogEvents"],
            "Resource": error_log_stream_arn,
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


# Bucket actions that change what protects the archive (the IAM action of each Delete*
# configuration call is its Put* action, e.g. DeleteBucketEncryption -> PutEncryptionConfiguration;
# Amazon S3 API Reference, "Required permissions for Amazon S3 API operations").
PROTECTION_ACTIONS = [
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketLogging",
    "s3:PutBucketNotification",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutInventoryConfiguration",
    "s3:PutLifecycleConfiguration",
    # Also DeleteBucketReplication's action (Amazon S3 API Reference, DeleteBucketReplication:
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketReplication.html).
    "s3:PutReplicationConfiguration",
]
# Object actions that destroy history: a version, or a GOVERNANCE retention.
HISTORY_ACTIONS = ["s3:BypassGovernanceRetention", "s3:DeleteObjectVersion"]
# Key actions that would make the archive unreadable or lift this policy.
KEY_DESTRUCTION_ACTIONS = [
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
]
# What the account's IAM may grant on the key besides use through S3: administration only.
KEY_ADMINISTRATION_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]


def _unless_principal(arns: Sequence[str]) -> dict[str, Any]:
    """A deny's exception for these principals. aws:PrincipalArn is the IAM role's ARN (with
    its path) for every session of that role, not the assumed-role session ARN (IAM User
    Guide, "AWS global condition context keys"); it is compared as a string, so a role deleted
    and created again with the same ARN is exempt again."""
    return {"ArnNotEquals": {"aws:PrincipalArn": sorted(set(arns))}}


def _deny_insecure_transport(bucket_arn: str) -> Statement:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _deny_rewrites(bucket_arn: str, admin_arns: Sequence[str]) -> list[Statement]:
    """Only `admin_arns` may change the bucket's protections, destroy history, or reach the
    bucket through an access point."""
    return [
        {
            "Sid": "DenyProtectionChanges",
            "Effect": "Deny",
            "Principal": "*",
            "Action": PROTECTION_ACTIONS,
            "Resource": bucket_arn,
            "Condition": _unless_principal(admin_arns),
        },
        {
            "Sid": "DenyHistoryRewrites",
            "Effect": "Deny",
            "Principal": "*",
            "Action": HISTORY_ACTIONS,
            "Resource": f"{bucket_arn}/*",
            "Condition": _unless_principal(admin_arns),
        },
        {
            # CreateAccessPoint is authorised on the access point, not on the bucket, so no
            # bucket policy refuses it; instead nothing reaches the bucket through one. A
            # request through an access point carries s3:DataAccessPointArn (Service
            # Authorization Reference, Amazon S3 condition keys:
            # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
            "Sid": "DenyAccessPoints",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {
                "Null": {"s3:DataAccessPointArn": "false"},
                **_unless_principal(admin_arns),
            },
        },
    ]


def _deny_deletes(objects_arns: str | list[str], admin_arns: Sequence[str]) -> Statement:
    """On a versioned bucket DeleteObject leaves the data as a noncurrent version but puts a
    delete marker over it, which hides it from every reader that lists current objects
    (`read`, Athena); only `admin_arns` may (Amazon S3 User Guide, "Deleting object versions
    from a versioning-enabled bucket":
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html).
    DeleteObjects is authorised as s3:DeleteObject for every key it names."""
    return {
        "Sid": "DenyDeletes",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteObject",
        "Resource": objects_arns,
        "Condition": _unless_principal(admin_arns),
    }


def bucket_policy(
    bucket_arn: str,
    *,
    s3_prefix: str,
    admin_arns: Sequence[str],
    writer_arns: Sequence[str],
    redrive_arns: Sequence[str] = (),
    extra: Sequence[Statement] = (),
    report_writers: Mapping[str, str] | None = None,
    history_writer_arn: str | None = None,
) -> Policy:
    """The archive bucket: TLS only; only `admin_arns` may change its protections, destroy
    history or delete under the archive prefix; only `writer_arns` (the delivery roles) may
    write under the prefix, so only what Firehose delivers lands in an account's partition
    (who may put records into Firehose is the logging account's IAM, or deploy/scp/);
    `redrive_arns` only new `redrive-*.json.gz` objects, and delete only the diverted records
    they moved (see `redrive_bucket_statements`). `report_writers` (key prefix -> role ARN)
    reserves a prefix for the reports of one function, which only admins delete. The history
    writer role, if any, puts only new `history-*` objects (`history_writes`)."""
    history = [history_writer_arn] if history_writer_arn else []
    reports = dict(report_writers or {})
    statements = [
        {
            "Sid": f"DenyForgedReports{number}",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{prefix}*",
            "Condition": _unless_principal([writer]),
        }
        for number, (prefix, writer) in enumerate(sorted(reports.items()))
    ]
    return document(
        _deny_insecure_transport(bucket_arn),
        *_deny_rewrites(bucket_arn, admin_arns),
        _deny_deletes(
            [f"{bucket_arn}/{prefix}*" for prefix in [s3_prefix, *sorted(reports)]]
            if reports
            else f"{bucket_arn}/{s3_prefix}*",
            [*admin_arns, *redrive_arns],
        ),
        {
            "Sid": "DenyForgedRecords",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{s3_prefix}*",
            "Condition": _unless_principal([*writer_arns, *redrive_arns, *history]),
        },
        *redrive_bucket_statements(bucket_arn, s3_prefix, redrive_arns),
        *extra,
        *statements,
        *(history_writes(bucket_arn, s3_prefix, history_writer_arn) if history_writer_arn else []),
    )


def history_objects(bucket_arn: str, s3_prefix: str) -> str:
    """The objects `central-logging history` writes: `history-*.json.gz` in the partitions."""
    return f"{bucket_arn}/{s3_prefix}account=*/history-*.json.gz"


def history_writes(bucket_arn: str, s3_prefix: str, history_writer_arn: str) -> list[Statement]:
    """The history writer may put nothing but history objects, and only new ones: a put must
    carry If-None-Match, which S3 refuses when the key exists (S3 User Guide, "Enforce
    conditional writes on Amazon S3 buckets",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html)."""
    writer = {"ArnEquals": {"aws:PrincipalArn": history_writer_arn}}
    return [
        {
            "Sid": "DenyHistoryWriterElsewhere",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "NotResource": history_objects(bucket_arn, s3_prefix),
            "Condition": writer,
        },
        {
            "Sid": "DenyHistoryOverwrites",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": history_objects(bucket_arn, s3_prefix),
            "Condition": {**writer, "Null": {"s3:if-none-match": "true"}},
        },
    ]


def history_writer_trust(partition: str, principals: Sequence[str]) -> Policy:
    """Trust for the history writer role: the operators named in historyWriterPrincipals
    (an account ID stands for that account's IAM, which decides who of it may)."""
    arns = [p if p.startswith("arn:") else f"arn:{partition}:iam::{p}:root" for p in principals]
    return document(
        {"Effect": "Allow", "Principal": {"AWS": sorted(arns)}, "Action": "sts:AssumeRole"}
    )


def history_writer_policy(
    *, bucket_arn: str, bucket_region: str, s3_prefix: str, kms_key_arn: str
) -> Policy:
    """What the history writer may do: put history objects under the archive prefix, with the
    archive key through S3 (SSE-KMS puts need kms:GenerateDataKey). It lists and reads
    nothing: the operator's own rights (or the reader role) do that."""
    objects = history_objects(bucket_arn, s3_prefix)
    return document(
        {"Sid": "HistoryObjects", "Effect": "Allow", "Action": "s3:PutObject", "Resource": objects},
        key_through_s3(
            kms_key_arn, bucket_region, bucket_arn, objects, actions=["kms:GenerateDataKey"]
        ),
    )


# The member role `central-logging history --assume-role` reads through: the same name in
# every account (member stack and organization templates), so one flag reaches them all.
HISTORY_READER_ROLE_NAME = "central-logging-history-reader"


def history_reader_policy(partition: str, regions: Sequence[str], account_id: str) -> Policy:
    """What the member's history reader may do, read-only: list this account's log groups,
    describe their filters, read their events (FilterLogEvents), in the covered regions;
    and read the CLI's SSM parameters there."""
    groups = [f"arn:{partition}:logs:{r}:{account_id}:log-group:*" for r in regions]
    parameters = [
        f"arn:{partition}:ssm:{r}:{account_id}:parameter/central-logging/*" for r in regions
    ]
    return document(
        {
            "Sid": "ReadLogGroups",
            "Effect": "Allow",
            "Action": [
                "logs:DescribeLogGroups",
                "logs:DescribeSubscriptionFilters",
                "logs:FilterLogEvents",
            ],
            "Resource": groups,
        },
        {
            "Sid": "ReadSettings",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": parameters,
        },
    )


def history_reader_trust(partition: str, logging_account_id: str) -> Policy:
    """Trust for the member's history reader: the logging account, whose IAM decides which
    operator may run `central-logging history --assume-role` from there."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{logging_account_id}:root"},
            "Action": "sts:AssumeRole",
        }
    )


def server_access_log_delivery(
    log_bucket_arn: str, *, prefix: str, source_bucket_arn: str, account_id: str
) -> list[Statement]:
    """S3's logging service may deliver the source bucket's access logs, as AWS documents the
    grant (Amazon S3 User Guide, "Enabling Amazon S3 server access logging")."""
    return [
        {
            "Sid": "S3ServerAccessLogsPolicy",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{log_bucket_arn}/{prefix}*",
            "Condition": {
                "ArnLike": {"aws:SourceArn": source_bucket_arn},
                "StringEquals": {"aws:SourceAccount": account_id},
            },
        }
    ]


def cloudtrail_delivery(
    log_bucket_arn: str, *, prefix: str, trail_arn: str, account_id: str
) -> list[Statement]:
    """CloudTrail may deliver one trail's log files, as AWS documents the grant (AWS
    CloudTrail User Guide, "Amazon S3 bucket policy for CloudTrail")."""
    source = {"aws:SourceArn": trail_arn}
    principal = {"Service": "cloudtrail.amazonaws.com"}
    return [
        {
            "Sid": "AWSCloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:GetBucketAcl",
            "Resource": log_bucket_arn,
            "Condition": {"StringEquals": source},
        },
        {
            "Sid": "AWSCloudTrailWrite",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:PutObject",
            "Resource": f"{log_bucket_arn}/{prefix}/AWSLogs/{account_id}/*",
            "Condition": {"StringEquals": {**source, "s3:x-amz-acl": "bucket-owner-full-control"}},
        },
    ]


def log_bucket_policy(
    log_bucket_arn: str, *, admin_arns: Sequence[str], delivery: Sequence[Statement]
) -> Policy:
    """The access trail's bucket: TLS only, written by its log service (`delivery`) alone,
    and protected like the archive: no entry is forged or deleted but by `admin_arns`."""
    return document(
        _deny_insecure_transport(log_bucket_arn),
        *delivery,
        *_deny_rewrites(log_bucket_arn, admin_arns),
        _deny_deletes(f"{log_bucket_arn}/*", admin_arns),
        _deny_forged_entries(log_bucket_arn, delivery),
    )


def _deny_forged_entries(log_bucket_arn: str, delivery: Sequence[Statement]) -> Statement:
    """Only the log service writes: a request it makes for the source it serves carries that
    source as aws:SourceArn, which no IAM principal's request carries (IAM User Guide, "AWS
    global condition context keys", aws:SourceArn:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html);
    a negated operator holds when the key is absent, so every other writer is denied."""
    sources = sorted(
        {
            arn
            for statement in delivery
            if statement["Action"] == "s3:PutObject"
            for condition in statement["Condition"].values()
            for key, arn in condition.items()
            if key == "aws:SourceArn"
        }
    )
    return {
        "Sid": "DenyForgedEntries",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"{log_bucket_arn}/*",
        "Condition": {"ArnNotEquals": {"aws:SourceArn": sources}},
    }


def key_policy(
    partition: str,
    account_id: str,
    *,
    bucket_arn: str,
    region: str,
    admin_arns: Sequence[str],
    results_bucket_arn: str | None = None,
) -> Policy:
    """The archive key: the account's IAM may administer it, and may use it only through S3
    for the archive bucket (and Athena's results bucket); only `admin_arns` may disable it,
    schedule its deletion or change this policy. Nothing is granted to `*`."""
    account = {"AWS": f"arn:{partition}:iam::{account_id}:root"}
    buckets = [bucket_arn, *([results_bucket_arn] if results_bucket_arn else [])]
    return document(
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": account,
            "Action": KEY_ADMINISTRATION_ACTIONS,
            "Resource": "*",
        },
        {
            # Readers (and the delivery roles) decrypt through S3, for this bucket only.
            # With an S3 Bucket Key the context is the bucket's ARN, else the object's.
            "Sid": "UseThroughS3ForArchive",
            "Effect": "Allow",
            "Principal": account,
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                "StringLike": {
                    "kms:EncryptionContext:aws:s3:arn": [
                        arn for bucket in buckets for arn in (bucket, f"{bucket}/*")
                    ]
                },
            },
        },
        {
            "Sid": "DenyKeyDestruction",
            "Effect": "Deny",
            "Principal": "*",
            "Action": KEY_DESTRUCTION_ACTIONS,
            "Resource": "*",
            "Condition": _unless_principal(admin_arns),
        },
    )


def athena_results_bucket_policy(bucket_arn: str) -> Policy:
    """Athena's results bucket: TLS only; reading and writing results stays with IAM."""
    return document(_deny_insecure_transport(bucket_arn))


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


def sender_role_policy(partition: str, regions: Sequence[str], account_id: str) -> Policy:
    """What CloudWatch Logs may do with the sender role (the `roleArn` of a subscription to an
    organisation-wide destination): put the events of this account's log groups in the
    covered regions, as AWS documents it (CloudWatch Logs User Guide, "Step 2: (Only if using
    an organization) Create an IAM role", CreateSubscriptionFilter-IAMrole.html)."""
    return document(
        {
            "Sid": "DeliverOwnLogGroups",
            "Effect": "Allow",
            "Action": "logs:PutLogEvents",
            "Resource": [
                f"arn:{partition}:logs:{region}:{account_id}:log-group:*" for region in regions
            ],
        }
    )


def dead_letter_queue_policy(queue_arn: str, rule_arns: Sequence[str]) -> Policy:
    """Only the subscriber's EventBridge rules may park undeliverable events in the queue."""
    return document(
        {
            "Sid": "EventBridgeDeadLetters",
            "Effect": "Allow",
            "Principal": {"Service": EVENTS_SERVICE},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
        }
    )


def subscriber_function_policy(
    *,
    partition: str,
    region: str,
    account_id: str,
    destination_arn: str,
    sender_role_arn: str | None,
    function_log_group_arn: str,
    function_arn: str | None = None,
    dead_letter_queue_arn: str | None = None,
) -> Policy:
    """Least privilege for a subscriber function of one account and region.

    `sender_role_arn` is the role its filters pass (none for destinations that list
    accounts); `function_arn` is given for the sweep, which continues itself;
    `dead_letter_queue_arn` where failed asynchronous invocations are parked."""
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
            # A log group the account-level subscription filter policy delivers gets no
            # filter (every event twice). DescribeAccountPolicies has no resource type
            # (Service Authorization Reference, Amazon CloudWatch Logs).
            "Sid": "ReadAccountPolicies",
            "Effect": "Allow",
            "Action": "logs:DescribeAccountPolicies",
            "Resource": "*",
        },
        {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{function_log_group_arn}:log-stream:*",
        },
    ]
    if sender_role_arn:
        statements.append(
            {
                "Sid": "PassSenderRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": sender_role_arn,
                "Condition": {"StringEquals": {"iam:PassedToService": LOGS_SERVICE}},
            }
        )
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


def heartbeat_function_policy(
    *, partition: str, region: str, account_id: str, function_log_group_arn: str
) -> Policy:
    """The heartbeat function writes into the heartbeat log group (creating its stream when
    missing) and its own logs; nothing else."""
    heartbeat = f"arn:{partition}:logs:{region}:{account_id}:log-group:{HEARTBEAT_LOG_GROUP}"
    return document(
        {
            "Sid": "WriteHeartbeats",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{heartbeat}:log-stream:*", f"{function_log_group_arn}:log-stream:*"],
        }
    )


def freshness_function_policy(
    *,
    bucket_arn: str,
    archive_prefix: str,
    function_log_group_arn: str,
    state_key: str,
    report_key: str,
    kms_key_arn: str,
    queue_arn: str | None,
    organization: bool,
    organization_role_arn: str | None = None,
    heartbeat_prefix: str | None = None,
) -> Policy:
    """The freshness check reads and writes its state and writes its report, reads the
    objects of the heartbeat partition (`heartbeat_prefix`, json archives; no other archived
    object), lists the archive's folders under its prefix, consumes its queue of
    object-created events (`queue_arn`, when the stack's own bucket sends them), reads the
    organisation's accounts (`organization`), and publishes its metrics into its own
    namespace only."""
    statements: list[Statement] = [
        {
            "Sid": "ListArchive",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            # The state's own key too: GetObject of a missing key answers 404 rather than
            # 403 only with ListBucket (Amazon S3 API Reference, GetObject, "Permissions").
            "Condition": {"StringLike": {"s3:prefix": [f"{archive_prefix}*", state_key]}},
        },
        {
            "Sid": "ReadState",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [f"{bucket_arn}/{state_key}"]
            + ([f"{bucket_arn}/{heartbeat_prefix}*"] if heartbeat_prefix else []),
        },
        {
            "Sid": "WriteStateAndReport",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": [f"{bucket_arn}/{state_key}", f"{bucket_arn}/{report_key}"],
        },
        {
            # Through S3, for this bucket only, as the key policy allows (key_policy).
            "Sid": "EncryptState",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": kms_key_arn,
            "Condition": {
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]}
            },
        },
    ]
    if queue_arn:
        statements.append(
            {
                # What Lambda's event source mapping calls with the function's role
                # (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
                "Sid": "ConsumeDeliveries",
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": queue_arn,
            }
        )
    if organization and organization_role_arn:
        statements.append(
            {
                # The management account's role lists the accounts (its own policy says so).
                "Sid": "AssumeOrganizationReader",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": organization_role_arn,
            }
        )
    elif organization:
        statements.append(
            {
                # ListAccounts has no resource type (Service Authorization Reference, AWS
                # Organizations).
                "Sid": "ReadOrganizationAccounts",
                "Effect": "Allow",
                "Action": "organizations:ListAccounts",
                "Resource": "*",
            }
        )
    return document(
        *statements,
        {
            # PutMetricData has no resource type; the namespace is its condition key.
            "Sid": "PublishFreshness",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": FRESHNESS_NAMESPACE}},
        },
        {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{function_log_group_arn}:log-stream:*",
        },
    )


def freshness_state_guard(bucket_arn: str, keys: Sequence[str], writer_arn: str) -> Statement:
    """Only the freshness function writes (or deletes) its state and report: a signal the
    check trusts is not one anyone with broad S3 rights can set. Old versions stay the archive
    admins' to delete (DenyHistoryRewrites), not this role's."""
    return {
        "Sid": "OnlyFreshnessWritesItsState",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["s3:PutObject", "s3:DeleteObject"],
        "Resource": [f"{bucket_arn}/{key}" for key in keys],
        "Condition": _unless_principal([writer_arn]),
    }


def freshness_queue_policy(queue_arn: str, *, bucket_arn: str, account_id: str) -> Policy:
    """The archive bucket's S3 event notifications may enter the queue, as AWS documents the
    grant ("Granting permissions to publish event notification messages to a destination",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html);
    nothing else may, not even an IAM principal of this account allowed sqs:SendMessage: a
    forged "object created" would make a silent account look fresh. The deny's ArnNotEquals
    holds when the request carries no aws:SourceArn at all, as no IAM principal's does
    (IAM User Guide, "Condition operators": a negated operator matches a missing key)."""
    return document(
        {
            "Sid": "ArchiveNotifications",
            "Effect": "Allow",
            "Principal": {"Service": S3_SERVICE},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {
                "ArnEquals": {"aws:SourceArn": bucket_arn},
                "StringEquals": {"aws:SourceAccount": account_id},
            },
        },
        {
            "Sid": "DenyForgedDeliveries",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnNotEquals": {"aws:SourceArn": bucket_arn}},
        },
    )


def artifact_bucket_policy(
    bucket_arn: str, organization_id: str | None, writer_arns: Sequence[str]
) -> Policy:
    """A code bucket: with `organization_id` (the organization stack's), every account of the
    organisation may read the functions' code, any version of it (CloudFormation creates them
    there with its own credentials, from the version the template pins), nobody outside it;
    without (a member or logging stack's signed code), only the account's own principals.
    Only over TLS; only `writer_arns` (the deploying role) may write, delete or change the
    bucket, so the code every account runs is the code the stack uploaded."""
    organization_reads: list[Statement] = []
    if organization_id:
        organization_reads.append(
            {
                "Sid": "OrganizationReadsCode",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": f"{bucket_arn}/*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
            }
        )
    return document(
        *organization_reads,
        _deny_insecure_transport(bucket_arn),
        *_deny_rewrites(bucket_arn, writer_arns),
        {
            "Sid": "DenyCodeChanges",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:DeleteObject", "s3:PutObject"],
            "Resource": f"{bucket_arn}/*",
            "Condition": _unless_principal(writer_arns),
        },
    )


def coverage_reader_trust(
    partition: str, logging_account_id: str, coverage_role_name: str
) -> Policy:
    """Trust for the coverage check's roles in other accounts (the read-only role in every
    member account, the listing role in the management account): the logging account's
    coverage function role only. The account is the principal and aws:PrincipalArn names the role, so
    the trust holds whether or not that role exists yet (a role ARN as Principal must exist
    when the policy is saved; IAM User Guide, "AWS JSON policy elements: Principal")."""
    return document(
        {
            "Sid": "CoverageCheck",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{logging_account_id}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "ArnEquals": {
                    "aws:PrincipalArn": (
                        f"arn:{partition}:iam::{logging_account_id}:role/{coverage_role_name}"
                    )
                }
            },
        }
    )


def coverage_reader_policy(partition: str, account_id: str) -> Policy:
    """What the coverage check may read in a member account: its log groups, their
    subscription filters and its account policies; nothing else (no log events)."""
    return document(
        {
            "Sid": "DescribeSubscriptions",
            "Effect": "Allow",
            "Action": ["logs:DescribeLogGroups", "logs:DescribeSubscriptionFilters"],
            "Resource": f"arn:{partition}:logs:*:{account_id}:log-group:*",
        },
        {
            # DescribeAccountPolicies has no resource type (Service Authorization Reference,
            # Amazon CloudWatch Logs).
            "Sid": "DescribeAccountPolicies",
            "Effect": "Allow",
            "Action": "logs:DescribeAccountPolicies",
            "Resource": "*",
        },
    )


def coverage_organization_policy() -> Policy:
    """What the coverage check may do in the management account: list the accounts."""
    return document(
        {
            # ListAccounts has no resource type (Service Authorization Reference, AWS
            # Organizations).
            "Sid": "ListAccounts",
            "Effect": "Allow",
            "Action": "organizations:ListAccounts",
            "Resource": "*",
        }
    )


def coverage_function_policy(
    *,
    partition: str,
    organization_role_arn: str,
    reader_role_name: str,
    bucket_arn: str,
    bucket_region: str,
    report_prefix: str,
    kms_key_arn: str,
    function_arn: str,
    function_log_group_arn: str,
) -> Policy:
    """The coverage function: assume the organisation's listing role and the reader role of
    any account, write its report under `report_prefix` (through S3 with the archive key),
    publish into its own namespace, continue itself, and write its own logs."""
    reports = f"{bucket_arn}/{report_prefix}*"
    return document(
        {
            "Sid": "AssumeReaders",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": [organization_role_arn, f"arn:{partition}:iam::*:role/{reader_role_name}"],
        },
        {
            "Sid": "WriteReport",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": reports,
        },
        key_through_s3(kms_key_arn, bucket_region, bucket_arn, reports),
        {
            "Sid": "PublishCoverage",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": FRESHNESS_NAMESPACE}},
        },
        {
            "Sid": "ContinueCheck",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": function_arn,
        },
        {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{function_log_group_arn}:log-stream:*",
        },
    )


# The only objects the redrive role writes: `central-logging redrive` names them after the
# diverted object they come from (central_logging/redrive.py).
REDRIVE_OBJECTS = "account=*/region=*/year=*/month=*/day=*/redrive-*.json.gz"


def redrive_bucket_statements(
    bucket_arn: str, s3_prefix: str, redrive_arns: Sequence[str]
) -> list[Statement]:
    """Whatever its IAM policy says, the redrive role writes nothing but new redriven objects:
    no other key of the bucket, and never over an existing object (S3 evaluates
    s3:if-none-match on PutObject: "Enforce conditional writes on Amazon S3 buckets",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html)."""
    if not redrive_arns:
        return []
    redrive = {"ArnEquals": {"aws:PrincipalArn": sorted(set(redrive_arns))}}
    return [
        {
            "Sid": "DenyRedriveBesideRedrivenObjects",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "NotResource": f"{bucket_arn}/{s3_prefix}{REDRIVE_OBJECTS}",
            "Condition": redrive,
        },
        {
            "Sid": "DenyRedriveOverwrites",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{s3_prefix}*",
            "Condition": {**redrive, "Null": {"s3:if-none-match": "true"}},
        },
        {
            # DenyDeletes lets redrive remove what it moved, and nothing else.
            "Sid": "DenyRedriveDeletesBesideDiverted",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:DeleteObject",
            "NotResource": f"{bucket_arn}/{s3_prefix}errors/*",
            "Condition": redrive,
        },
    ]


def redrive_role_trust(admin_arns: Sequence[str]) -> Policy:
    """Only the archive admin roles (the deployer among them) may assume the redrive role."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": sorted(set(admin_arns))},
            "Action": "sts:AssumeRole",
        }
    )


def redrive_role_policy(*, bucket_arn: str, s3_prefix: str, kms_key_arn: str) -> Policy:
    """`central-logging redrive`: list and read the diverted objects, write redriven objects
    (If-None-Match needs s3:PutObject only), then delete the diverted ones (a delete marker:
    their versions stay), through the archive key."""
    errors = f"{s3_prefix}errors/"
    return document(
        {
            "Sid": "ListDiverted",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{errors}*"]}},
        },
        {
            "Sid": "MoveDiverted",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:GetObject"],
            "Resource": f"{bucket_arn}/{errors}*",
        },
        {
            "Sid": "WriteRedriven",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{s3_prefix}{REDRIVE_OBJECTS}",
        },
        {
            "Sid": "UseArchiveKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": kms_key_arn,
        },
    )


def reader_trust(partition: str, principals: Sequence[str]) -> Policy:
    """Who may assume the archive reader role: whole accounts (whichever of their principals
    their administrators allow), and single roles. A role is named by aws:PrincipalArn behind
    its account's root, not as the Principal itself: IAM refuses a trust policy naming a role
    that does not exist yet, and one naming a role later recreated silently stops matching
    (IAM User Guide, "AWS JSON policy elements: Principal", "IAM role principals")."""
    accounts = sorted(p for p in principals if not p.startswith("arn:"))
    roles = sorted(p for p in principals if p.startswith("arn:"))
    statements: list[Statement] = []
    if accounts:
        statements.append(
            {
                "Sid": "ReaderAccounts",
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:{partition}:iam::{a}:root" for a in accounts]},
                "Action": "sts:AssumeRole",
            }
        )
    if roles:
        statements.append(
            {
                "Sid": "ReaderRoles",
                "Effect": "Allow",
                "Principal": {
                    "AWS": sorted({f"arn:{partition}:iam::{arn_account(r)}:root" for r in roles})
                },
                "Action": "sts:AssumeRole",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": roles}},
            }
        )
    return document(*statements)


# Running queries in the workgroup, as AWS's example workgroup policy lists the actions
# ("Example workgroup policies", https://docs.aws.amazon.com/athena/latest/ug/example-policies-workgroup.html);
# none of them changes the workgroup or its saved queries.
ATHENA_QUERY_ACTIONS = [
    "athena:BatchGetNamedQuery",
    "athena:BatchGetQueryExecution",
    "athena:GetNamedQuery",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:GetQueryResultsStream",
    "athena:GetWorkGroup",
    "athena:ListNamedQueries",
    "athena:ListQueryExecutions",
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
]
# What Athena reads from the Glue Data Catalog to plan a query over the table and view
# ("Configure access to databases and tables in the AWS Glue Data Catalog",
# https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html).
GLUE_READ_ACTIONS = [
    "glue:BatchGetPartition",
    "glue:GetDatabase",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:GetTable",
    "glue:GetTables",
]


def archive_reader_policy(
    *,
    partition: str,
    region: str,
    account_id: str,
    bucket_arn: str,
    s3_prefix: str,
    kms_key_arn: str,
    athena: tuple[str, str, str] | None,
) -> Policy:
    """The archive reader: lists and gets the archive's objects (all versions) and decrypts
    them through S3 only (kms:ViaService), so the key serves no other use. With `athena`
    (workgroup name, Glue database, ARN of the bucket the workgroup writes its results into)
    it runs that workgroup's queries: Athena reads the table and writes the results as the
    caller, who needs the results location and the key "to encrypt and decrypt" it ("Work with
    query results and recent queries", https://docs.aws.amazon.com/athena/latest/ug/querying.html),
    so the results bucket is the one place it may write. It changes, tags or deletes nothing."""
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}
    readable = [f"{bucket_arn}/{s3_prefix}*"]
    statements: list[Statement] = [
        {
            "Sid": "ListArchive",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
            "Resource": bucket_arn,
        }
    ]
    key_actions = ["kms:Decrypt"]
    if athena:
        workgroup, database, results_arn = athena
        readable.append(f"{results_arn}/*")
        key_actions.append("kms:GenerateDataKey")
        glue = f"arn:{partition}:glue:{region}:{account_id}"
        statements += [
            {
                "Sid": "ListQueryResults",
                "Effect": "Allow",
                "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
                "Resource": results_arn,
            },
            {
                "Sid": "RunQueries",
                "Effect": "Allow",
                "Action": ATHENA_QUERY_ACTIONS,
                "Resource": f"arn:{partition}:athena:{region}:{account_id}:workgroup/{workgroup}",
            },
            {
                "Sid": "ReadCatalog",
                "Effect": "Allow",
                "Action": GLUE_READ_ACTIONS,
                "Resource": [
                    f"{glue}:catalog",
                    f"{glue}:database/{database}",
                    f"{glue}:table/{database}/*",
                ],
            },
            {
                "Sid": "WriteQueryResults",
                "Effect": "Allow",
                "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
                "Resource": f"{results_arn}/*",
            },
        ]
    statements += [
        {
            "Sid": "ReadArchive",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": readable,
        },
        {
            "Sid": "DecryptThroughS3",
            "Effect": "Allow",
            "Action": key_actions,
            "Resource": kms_key_arn,
            "Condition": via_s3,
        },
    ]
    return document(*statements)
