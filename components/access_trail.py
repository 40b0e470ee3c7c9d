"""The archive's access trail: who read, wrote or deleted what, kept apart from the archive.

`accessTrail` chooses the record (Amazon S3 User Guide, "Logging options for Amazon S3"):
- `server-access-logs`: S3 server access logs of the archive bucket, delivered into a log
  bucket this stack creates. No charge but the log objects' storage; delivery is best effort
  and can take hours.
- `cloudtrail`: a trail this stack creates that records the archive's object-level data
  events (no management events, so no charge for a second copy of them), with log file
  validation, into the same kind of log bucket. Data events are charged per event.
- the ARN of an existing trail: that trail already records the archive's data events; the
  stack creates nothing and names it in its outputs.

Declared by CentralDestination; its resources are the component's children and, like the
archive, outlive `pulumi destroy`.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions

from components import policies
from components.buckets import versioned_private_bucket
from components.config import CLOUDTRAIL, SERVER_ACCESS_LOGS, LoggingSettings

# Where the log bucket keeps each kind of record.
ACCESS_LOG_PREFIX = "s3-access-logs/"
TRAIL_PREFIX = "cloudtrail"
TRAIL_NAME = "central-logging-archive-access"
INCOMPLETE_UPLOAD_DAYS = 7


def declare_access_trail(
    parent: pulumi.Resource,
    name: str,
    settings: LoggingSettings,
    *,
    archive: aws.s3.Bucket | None,
    archive_arn: Output[str],
    account_id: Output[str],
    admin_arns: Output[list[str]],
) -> Output[dict[str, Any]]:
    """Declare the trail `settings.access_trail` names; return what the `accessTrail` output
    says about it."""
    choice = settings.access_trail
    if choice not in (SERVER_ACCESS_LOGS, CLOUDTRAIL):
        return Output.from_input({"kind": CLOUDTRAIL, "trailArn": choice, "managedBy": "you"})
    if choice == SERVER_ACCESS_LOGS and archive is None:
        # An existing bucket's logging belongs to its owner (e.g. a Landing Zone's).
        return Output.from_input({"kind": "none", "reason": "existingBucketName"})

    home = settings.home_region
    partition = policies.partition_for(home)
    retained = ResourceOptions(parent=parent, retain_on_delete=True)
    log_bucket = aws.s3.Bucket(f"{name}-access-logs", region=home, opts=retained)
    settled = ResourceOptions(parent=parent, depends_on=[log_bucket], retain_on_delete=True)
    public_access, versioning = versioned_private_bucket(
        f"{name}-access-logs",
        log_bucket,
        region=home,
        encryption=aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            # Server access logs can only be delivered into an SSE-S3 bucket (Amazon S3
            # User Guide, "Enabling Amazon S3 server access logging").
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256"
            ),
        ),
        opts=settled,
    )
    _lifecycle(parent, name, settings, log_bucket, versioning)

    trail_arn = account_id.apply(
        lambda account: f"arn:{partition}:cloudtrail:{home}:{account}:trail/{TRAIL_NAME}"
    )
    delivery = Output.all(log_bucket.arn, archive_arn, account_id, trail_arn).apply(
        lambda a: (
            policies.server_access_log_delivery(
                a[0], prefix=ACCESS_LOG_PREFIX, source_bucket_arn=a[1], account_id=a[2]
            )
            if choice == SERVER_ACCESS_LOGS
            else policies.cloudtrail_delivery(
                a[0], prefix=TRAIL_PREFIX, trail_arn=a[3], account_id=a[2]
            )
        )
    )
    log_policy = aws.s3.BucketPolicy(
        f"{name}-access-logs-policy",
        region=home,
        bucket=log_bucket.id,
        policy=Output.all(log_bucket.arn, admin_arns, delivery).apply(
            lambda a: json.dumps(
                policies.log_bucket_policy(a[0], admin_arns=a[1], delivery=a[2]), sort_keys=True
            )
        ),
        opts=ResourceOptions(parent=parent, depends_on=[public_access], retain_on_delete=True),
    )
    if choice == SERVER_ACCESS_LOGS:
        assert archive is not None
        aws.s3.BucketLogging(
            f"{name}-archive-logging",
            region=home,
            bucket=archive.id,
            target_bucket=log_bucket.id,
            target_prefix=ACCESS_LOG_PREFIX,
            # Date-partitioned keys, so a day's records are one prefix to read.
            target_object_key_format=aws.s3.BucketLoggingTargetObjectKeyFormatArgs(
                partitioned_prefix=aws.s3.BucketLoggingTargetObjectKeyFormatPartitionedPrefixArgs(
                    partition_date_source="EventTime"
                )
            ),
            opts=ResourceOptions(parent=parent, depends_on=[log_policy], retain_on_delete=True),
        )
        return Output.all(log_bucket.bucket).apply(
            lambda a: {"kind": SERVER_ACCESS_LOGS, "bucketName": a[0], "prefix": ACCESS_LOG_PREFIX}
        )

    trail = aws.cloudtrail.Trail(
        f"{name}-archive-trail",
        region=home,
        name=TRAIL_NAME,
        s3_bucket_name=log_bucket.id,
        s3_key_prefix=TRAIL_PREFIX,
        enable_log_file_validation=True,
        is_multi_region_trail=False,
        include_global_service_events=False,
        advanced_event_selectors=[
            aws.cloudtrail.TrailAdvancedEventSelectorArgs(
                name="Archive object reads, writes and deletions",
                field_selectors=[
                    aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                        field="eventCategory", equals=["Data"]
                    ),
                    aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                        field="resources.type", equals=["AWS::S3::Object"]
                    ),
                    aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                        field="resources.ARN", starts_withs=[archive_arn.apply(lambda a: f"{a}/")]
                    ),
                ],
            )
        ],
        # CloudTrail checks the bucket policy when the trail is created.
        opts=ResourceOptions(parent=parent, depends_on=[log_policy], retain_on_delete=True),
    )
    return Output.all(trail.arn, log_bucket.bucket).apply(
        lambda a: {"kind": CLOUDTRAIL, "trailArn": a[0], "bucketName": a[1], "prefix": TRAIL_PREFIX}
    )


def _lifecycle(
    parent: pulumi.Resource,
    name: str,
    settings: LoggingSettings,
    log_bucket: aws.s3.Bucket,
    versioning: aws.s3.BucketVersioning,
) -> None:
    """The access records live as long as the archive they describe (`expireDays`, current
    and noncurrent versions); incomplete uploads go after a week."""
    expire = settings.expire_days
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-access-logs-lifecycle",
        region=settings.home_region,
        bucket=log_bucket.id,
        rules=[
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="access-log-retention",
                status="Enabled",
                # The whole bucket.
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=INCOMPLETE_UPLOAD_DAYS
                ),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=expire)
                if expire
                else None,
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=expire
                )
                if expire
                else None,
            )
        ],
        opts=ResourceOptions(parent=parent, depends_on=[versioning], retain_on_delete=True),
    )
