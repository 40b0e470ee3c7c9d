"""FreshnessCheck: does every account-region still deliver? (logging stack, home region)

Every minute a function (handlers/freshness.py) judges, per expected account-region, when its
newest archived heartbeat was sent. Members write one every `heartbeatMinutes`, and Firehose
holds it up to 1.5 buffer intervals ("Buffer data for dynamic partitioning",
https://docs.aws.amazon.com/firehose/latest/dev/buffering.html), so an account-region whose
newest heartbeat is older than both together, plus 30 s for the notification to reach the
function, has stopped delivering: at the defaults (5 minutes, 300 s) after 13 minutes,
reported by the next run within 14 (handlers/freshness.py stale_after_seconds). The `archive-stale` alarm fires when two runs in a row
find one stale, or publish nothing.

On a bucket the stack creates, S3 event notifications of every object created in the heartbeat
partition go to an SQS queue that invokes the same function, which reads those objects and
folds their heartbeats into one state object (`events`): the scheduled run then costs a few
S3 requests, whatever the number of account-regions. S3 event notifications rather than
EventBridge: both are documented ways to an SQS queue ("Amazon S3 Event Notifications",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html); the direct one
needs no EventBridge rule in between, and its queue policy can name the bucket as the only
source. The function reads both shapes. With `existingBucketName` the bucket's
notifications are its owner's, so the function lists the archive instead (`listing`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions

from components import policies
from components.alarms import AlarmNotifier, AlarmSpec
from components.config import LoggingSettings
from components.functions import SignedFunctionCode, scheduled_function
from handlers.freshness import (
    CHECK_PERIOD_SECONDS,
    DEFAULT_STATE_KEY,
    METRIC_NAMESPACE,
    STALE_METRIC,
    report_key_for,
    stale_after_seconds,
)
from handlers.heartbeat import HEARTBEAT_PARTITION

FUNCTION_NAME = "central-logging-freshness"
FUNCTION_TIMEOUT_SECONDS = 300
# The state of 34,000 account-regions is about 2 MB of JSON: parsed and written in well under
# a second with this much memory (and the CPU Lambda gives with it).
FUNCTION_MEMORY_MB = 512
# "set the source queue's visibility timeout to at least six times the configuration timeout
# on your function" (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
QUEUE_VISIBILITY_SECONDS = 6 * FUNCTION_TIMEOUT_SECONDS
SCHEDULE = f"rate({CHECK_PERIOD_SECONDS // 60} minute)"
# Up to 1,000 notifications per invocation, gathered for up to 10 s (batches over 10 need a
# batching window): one state read and write per batch. Only the heartbeat partition is
# announced, one object per stream per buffer interval: 17 regions make 17 every 5 minutes.
BATCH_SIZE = 1000
BATCHING_WINDOW_SECONDS = 10

# At most two folds at once (the least Lambda allows, "Configuring maximum concurrency for
# Amazon SQS event sources", https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html):
# fewer lost races on the one state object; conditional writes make the rest safe.
MAX_CONCURRENT_FOLDS = 2
# A message that fails this often (not an S3 event at all) goes to the dead-letter queue
# instead of blocking the others.
MAX_RECEIVES = 5
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
DEAD_LETTERS_ALARM = AlarmSpec(
    "freshness-dead-letters",
    "Queue messages the freshness function could not read are in its dead-letter queue: read "
    f"/aws/lambda/{FUNCTION_NAME} for why; deliveries they announced are missing from the "
    "freshness state until those account-regions deliver again.",
    namespace="AWS/SQS",
    metric="ApproximateNumberOfMessagesVisible",
    statistic="Maximum",
    threshold=0,
)


def freshness_seconds(settings: LoggingSettings) -> int:
    """FRESHNESS_SECONDS: stale_after_seconds for this stack's heartbeat and buffer."""
    return stale_after_seconds(settings.heartbeat_minutes, settings.buffer_interval_seconds)


def notification_prefix(settings: LoggingSettings) -> str:
    """The objects whose creation the queue hears of: the heartbeat partition (json), every
    delivered object (raw, whose layout has no partitions)."""
    if settings.archive_format == "raw":
        return settings.s3_prefix
    return f"{settings.s3_prefix}account={HEARTBEAT_PARTITION}/"


def expected_accounts(settings: LoggingSettings) -> list[str]:
    return list(dict.fromkeys([*settings.member_accounts, *settings.freshness_accounts]))


def uses_events(settings: LoggingSettings) -> bool:
    """Deliveries come as S3 event notifications: only from a bucket the stack creates."""
    return settings.existing_bucket_name is None


def state_keys() -> list[str]:
    """The objects only the freshness function writes: its state and its report."""
    return [DEFAULT_STATE_KEY, report_key_for(DEFAULT_STATE_KEY)]


class FreshnessCheck(pulumi.ComponentResource):
    """The freshness function, its schedule, its queue of deliveries and the `archive-stale`
    alarm."""

    def __init__(
        self,
        name: str,
        *,
        settings: LoggingSettings,
        bucket_name: Output[str],
        bucket_arn: Output[str],
        kms_key_arn: Output[str],
        account_id: Output[str],
        delivery_stream_names: Mapping[str, Output[str]],
        alarms: AlarmNotifier,
        signed_code: SignedFunctionCode | None = None,
        opts: ResourceOptions | None = None,
    ) -> None:
        super().__init__("central-logging:freshness:FreshnessCheck", name, None, opts)
        home = settings.home_region
        child = ResourceOptions(parent=self)
        events = uses_events(settings)
        # Organisation mode: the organisation says which accounts must deliver (raw archives
        # are checked per region: no account to expect).
        from_organizations = bool(settings.organization_id) and settings.archive_format == "json"
        environment: dict[str, pulumi.Input[str]] = {
            "ARCHIVE_BUCKET": bucket_name,
            "ARCHIVE_PREFIX": settings.s3_prefix,
            "REGIONS": json.dumps(list(settings.regions)),
            "EXPECTED_ACCOUNTS": json.dumps(expected_accounts(settings)),
            "FRESHNESS_SECONDS": str(freshness_seconds(settings)),
            "ARCHIVE_FORMAT": settings.archive_format,
            "STATE_KEY": DEFAULT_STATE_KEY,
            "FRESHNESS_SOURCE": "events" if events else "listing",
            "FRESHNESS_METRICS": settings.freshness_metrics,
            "EXPECTED_FROM_ORGANIZATIONS": "true" if from_organizations else "false",
            "EXCLUDED_ACCOUNTS": json.dumps(list(settings.exempt_accounts)),
            "ORGANIZATION_ROLE_ARN": settings.organization_reader_role_arn or "",
        }
        if settings.archive_format == "raw":
            # No account in the raw layout: regions are told apart by their stream's name.
            environment["DELIVERY_STREAMS"] = Output.all(**delivery_stream_names).apply(
                lambda names: json.dumps(names, sort_keys=True)
            )
        dead_letters = queue = None
        if events:
            dead_letters = aws.sqs.Queue(
                f"{name}-dead-letters",
                region=home,
                sqs_managed_sse_enabled=True,
                message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
                opts=child,
            )
            # SSE-SQS, not a KMS key: S3 can publish to it with no key policy of ours.
            queue = aws.sqs.Queue(
                f"{name}-deliveries",
                region=home,
                sqs_managed_sse_enabled=True,
                visibility_timeout_seconds=QUEUE_VISIBILITY_SECONDS,
                redrive_policy=dead_letters.arn.apply(
                    lambda arn: json.dumps(
                        {"deadLetterTargetArn": arn, "maxReceiveCount": MAX_RECEIVES}
                    )
                ),
                opts=child,
            )
        queue_arn = queue.arn if queue else None
        [state_key, report_key] = state_keys()
        self.function = scheduled_function(
            self,
            f"{name}-function",
            region=home,
            function_name=FUNCTION_NAME,
            description="central-logging freshness: has every account-region delivered lately?",
            handler="handlers.freshness.handler",
            schedule=SCHEDULE,
            environment=environment,
            timeout=FUNCTION_TIMEOUT_SECONDS,
            memory=FUNCTION_MEMORY_MB,
            signed_code=signed_code,
            policy=lambda own_logs: Output.all(bucket_arn, own_logs, kms_key_arn, queue_arn).apply(
                lambda a: policies.freshness_function_policy(
                    bucket_arn=a[0],
                    archive_prefix=settings.s3_prefix,
                    function_log_group_arn=a[1],
                    state_key=state_key,
                    report_key=report_key,
                    kms_key_arn=a[2],
                    queue_arn=a[3],
                    organization=from_organizations,
                    organization_role_arn=settings.organization_reader_role_arn,
                    heartbeat_prefix=None
                    if settings.archive_format == "raw"
                    else notification_prefix(settings),
                )
            ),
        )
        # The role the bucket policy lets write the state (Function.role is the role's ARN).
        self.role_arn: Output[str] = self.function.function.role
        if queue and dead_letters:
            self._deliveries(name, settings, queue)
            alarms.watch(DEAD_LETTERS_ALARM, home, {"QueueName": dead_letters.name})
            queue_policy = aws.sqs.QueuePolicy(
                f"{name}-deliveries",
                region=home,
                queue_url=queue.url,
                policy=Output.all(queue.arn, bucket_arn, account_id).apply(
                    lambda a: json.dumps(
                        policies.freshness_queue_policy(a[0], bucket_arn=a[1], account_id=a[2]),
                        sort_keys=True,
                    )
                ),
                opts=child,
            )
            # S3 sends a test message when the notification is put: the queue must admit it.
            aws.s3.BucketNotification(
                f"{name}-deliveries",
                region=home,
                bucket=bucket_name,
                queues=[
                    aws.s3.BucketNotificationQueueArgs(
                        queue_arn=queue.arn,
                        events=["s3:ObjectCreated:*"],
                        filter_prefix=notification_prefix(settings),
                    )
                ],
                opts=ResourceOptions(parent=self, depends_on=[queue_policy]),
            )
        per_region = " (per region: archiveFormat raw has no account partition)"
        # Silence is the failure: the function publishes the count every minute, so no data
        # means the check itself stopped (or cannot read the archive), and breaches. Two runs
        # in a row, so that one late run is no alarm.
        alarms.alarm(
            "archive-stale",
            home,
            "An account-region's newest heartbeat in the archive is older than "
            f"{freshness_seconds(settings)} s"
            f"{per_region if settings.archive_format == 'raw' else ''}: read "
            f"/aws/lambda/{FUNCTION_NAME} or s3://<archive bucket>/{report_key} for which, "
            "then follow the archive-stale runbook.",
            namespace=METRIC_NAMESPACE,
            metric=STALE_METRIC,
            dimensions={},
            statistic="Maximum",
            threshold=0,
            periods=2,
            period=CHECK_PERIOD_SECONDS,
            missing_data="breaching",
        )
        self.register_outputs({})

    def _deliveries(
        self,
        name: str,
        settings: LoggingSettings,
        queue: aws.sqs.Queue,
    ) -> None:
        """The queue invokes the function with batches of notifications; a message the
        function reports as failed is retried, then dead-lettered, never blocking the rest
        (partial batch responses, ReportBatchItemFailures)."""
        aws.lambda_.EventSourceMapping(
            f"{name}-deliveries",
            region=settings.home_region,
            event_source_arn=queue.arn,
            function_name=self.function.function.arn,
            batch_size=BATCH_SIZE,
            maximum_batching_window_in_seconds=BATCHING_WINDOW_SECONDS,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=MAX_CONCURRENT_FOLDS
            ),
            opts=ResourceOptions(parent=self, depends_on=[self.function.role_policy]),
        )
