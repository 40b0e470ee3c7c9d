"""CentralDestination: the logging account's side of the pipeline.

Per covered region: a CloudWatch Logs destination in that region and the role it delivers
with; in the home region, with the archive bucket and key, that region's stream (Firehose
directly, or a Kinesis stream read by Firehose). AWS documents a destination pointing at a
stream in another region ("the AWS resource that the destination points to can be located
in a different Region", CrossAccountSubscriptions-Firehose.html), and no Firehose delivery
into a bucket of another region.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions
from pulumi_aws.kinesis import (
    FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationProcessorArgs as Processor,
)
from pulumi_aws.kinesis import (
    FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationProcessorParameterArgs as Parameter,
)

from components import policies
from components.access_trail import declare_access_trail
from components.alarms import PERIOD_SECONDS, AlarmNotifier
from components.athena import (
    DATABASE,
    WORKGROUP,
    QueryLayer,
    declare_query_layer,
    declare_results_bucket,
)
from components.buckets import versioned_private_bucket
from components.code_signing import SignedCode
from components.config import LoggingSettings
from components.coverage import REPORT_PREFIX as COVERAGE_REPORT_PREFIX
from components.coverage import ROLE_NAME as COVERAGE_ROLE_NAME
from components.coverage import CoverageCheck
from components.dashboard import declare_dashboard
from components.freshness import FreshnessCheck, state_keys
from components.organization import SENDER_ROLE_NAME
from components.reader import ArchiveReader
from components.redrive import RedriveRole
from handlers.core import delivery_log_group_name
from handlers.heartbeat import partition_key_query

# Colder storage for `transitionDays`: still readable at once, so Athena and `read` work.
TRANSITION_STORAGE_CLASS = "GLACIER_IR"
ERROR_LOG_RETENTION_DAYS = 365
# Firehose DeliveryStreamName: 1-64 of [a-zA-Z0-9_.-] (Kinesis StreamName: 1-128 of the same).
STREAM_NAME_MAX = 64
# How long a partitioned stream retries S3 before it writes a batch under the error prefix:
# at most 7,200 s, 300 s when unset (RetryOptions, Firehose API Reference,
# https://docs.aws.amazon.com/firehose/latest/APIReference/API_RetryOptions.html).
PARTITIONED_RETRY_SECONDS = 7200


def delivery_stream_name(destination_name: str, region: str) -> str:
    """The home-region stream (Firehose, and Kinesis with transport kinesis) that carries one
    covered region's logs: `<destinationName>-<region>`, or past 64 characters the name cut
    short, the region and a hash of both, so that each stays distinct."""
    name = f"{destination_name}-{region}"
    if len(name) <= STREAM_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    keep = STREAM_NAME_MAX - len(region) - len(digest) - 2
    return f"{destination_name[:keep]}-{region}-{digest}"


def archive_prefixes(settings: LoggingSettings, region: str) -> tuple[str, str]:
    """Firehose object prefix and error prefix, in the layout of design.md section 5."""
    base = settings.s3_prefix
    day = "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    errors = f"{base}errors/region={region}/!{{firehose:error-output-type}}/{day}"
    if settings.archive_format == "json":
        return f"{base}account=!{{partitionKeyFromQuery:owner}}/region={region}/{day}", errors
    # raw: the seed's layout; Firehose appends YYYY/MM/DD/HH/ to a prefix without expressions.
    return base, errors


# Warn when a stream's active partitions reach this share of its quota (500 by default, up to
# 5,000 on request); beyond the quota records go to errors/activePartitionExceeded/
# ("Buffer data for dynamic partitioning", https://docs.aws.amazon.com/firehose/latest/dev/buffering.html).
PARTITIONS_WARNING_SHARE = 0.9


def _json_dumps(policy: Output[policies.Policy]) -> Output[str]:
    return policy.apply(lambda document: json.dumps(document, sort_keys=True))


@dataclass
class RegionalPipeline:
    """What one region of the logging account holds."""

    destination: aws.cloudwatch.LogDestination
    delivery_stream: aws.kinesis.FirehoseDeliveryStream
    stream: aws.kinesis.Stream | None
    # The only principal that may write under the archive prefix for this region.
    delivery_role: aws.iam.Role


class CentralDestination(pulumi.ComponentResource):
    """Destinations in every region, delivering into one encrypted, versioned archive."""

    def __init__(
        self, name: str, settings: LoggingSettings, opts: ResourceOptions | None = None
    ) -> None:
        super().__init__("central-logging:destination:CentralDestination", name, None, opts)
        self.settings = settings
        self.name = name
        self.partition = policies.partition_for(settings.home_region)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=invoke)
        self.account_id = caller.account_id
        # Whoever runs `pulumi up` stays exempt from the archive's denies, so that a deploy
        # never locks itself out: as the IAM role behind its session, with the role's path,
        # which is what aws:PrincipalArn holds (an assumed-role ARN drops the path).
        deployer = aws.iam.get_session_context_output(arn=caller.arn, opts=invoke).issuer_arn
        self.archive_admin_arns: Output[list[str]] = deployer.apply(
            lambda arn: sorted({arn, *settings.archive_admin_role_arns})
        )

        self.bucket: aws.s3.Bucket | None = None
        if settings.existing_bucket_name:
            self.bucket_name: Output[str] = Output.from_input(settings.existing_bucket_name)
            self.bucket_arn: Output[str] = Output.from_input(
                f"arn:{self.partition}:s3:::{settings.existing_bucket_name}"
            )
        else:
            self.bucket = self._archive_bucket()
            self.bucket_name = self.bucket.bucket
            self.bucket_arn = self.bucket.arn

        self.athena_results: aws.s3.Bucket | None = (
            declare_results_bucket(self, name, region=settings.home_region)
            if settings.athena
            else None
        )
        self.kms_key: aws.kms.Key | None = None
        if settings.kms_key_arn:
            self.kms_key_arn: Output[str] = Output.from_input(settings.kms_key_arn)
        else:
            self.kms_key = self._archive_key()
            self.kms_key_arn = self.kms_key.arn
        public_access = self._archive_settings(self.bucket) if self.bucket else None

        self.query_layer: QueryLayer | None = None
        if self.athena_results:
            self.query_layer = declare_query_layer(
                self,
                name,
                region=settings.home_region,
                bucket_name=self.bucket_name,
                s3_prefix=settings.s3_prefix,
                kms_key_arn=self.kms_key_arn,
                regions=settings.regions,
                # A whole organisation's accounts are not known in advance.
                accounts=None if settings.organization_id else settings.member_accounts,
                results=self.athena_results,
                results_days=settings.athena_results_days,
            )
        self.alarms = AlarmNotifier(self, name, settings.alarms)
        home = settings.home_region
        self.error_log_group = aws.cloudwatch.LogGroup(
            f"{name}-delivery-errors",
            region=home,
            # A member stack in this account excludes this group (log recursion).
            name=delivery_log_group_name(settings.destination_name),
            retention_in_days=ERROR_LOG_RETENTION_DAYS,
            # Once one group per region; the home region's is kept, the others go.
            opts=ResourceOptions(
                parent=self, aliases=[pulumi.Alias(name=f"{name}-{home}-delivery-errors")]
            ),
        )
        self.regions = {region: self._region(region) for region in settings.regions}
        self.destination_arns = Output.all(
            **{region: p.destination.arn for region, p in self.regions.items()}
        )
        self.delivery_stream_arns = Output.all(
            **{region: p.delivery_stream.arn for region, p in self.regions.items()}
        )
        self.stream_arns = Output.all(
            **{region: p.stream.arn for region, p in self.regions.items() if p.stream}
        )
        # Diverted records exist only with dynamic partitioning (archiveFormat json).
        self.redrive: RedriveRole | None = None
        if settings.archive_format == "json":
            self.redrive = RedriveRole(
                f"{name}-redrive",
                admin_arns=self.archive_admin_arns,
                bucket_arn=self.bucket_arn,
                s3_prefix=settings.s3_prefix,
                kms_key_arn=self.kms_key_arn,
                opts=ResourceOptions(parent=self),
            )
        # The logging stack's functions all run in the home region.
        signed_code = (
            SignedCode(
                f"{name}-{settings.home_region}-code",
                region=settings.home_region,
                opts=ResourceOptions(parent=self),
            ).code
            if settings.code_signing
            else None
        )
        # Before the bucket policy, which names the one role that writes the check's state.
        self.freshness = FreshnessCheck(
            f"{name}-freshness",
            settings=settings,
            bucket_name=self.bucket_name,
            bucket_arn=self.bucket_arn,
            kms_key_arn=self.kms_key_arn,
            account_id=self.account_id,
            delivery_stream_names={
                region: p.delivery_stream.name for region, p in self.regions.items()
            },
            alarms=self.alarms,
            signed_code=signed_code,
            opts=ResourceOptions(parent=self),
        )
        self.history_writer: aws.iam.Role | None = None
        if settings.history_writer_principals:
            self.history_writer = self._history_writer()
        if self.bucket and public_access:
            self._archive_policy(self.bucket, public_access)
        self.access_trail = declare_access_trail(
            self,
            name,
            settings,
            archive=self.bucket,
            archive_arn=self.bucket_arn,
            account_id=self.account_id,
            admin_arns=self.archive_admin_arns,
        )
        self.archive_prefix = Output.concat("s3://", self.bucket_name, "/", settings.s3_prefix)
        if settings.coverage:
            CoverageCheck(
                f"{name}-coverage",
                settings=settings,
                coverage=settings.coverage,
                sender_role_name=SENDER_ROLE_NAME,
                account_id=self.account_id,
                bucket_name=self.bucket_name,
                bucket_arn=self.bucket_arn,
                kms_key_arn=self.kms_key_arn,
                destination_arns=self.destination_arns,
                alarms=self.alarms,
                signed_code=signed_code,
                opts=ResourceOptions(parent=self),
            )
        declare_dashboard(
            self,
            name,
            home=settings.home_region,
            delivery_streams={
                region: delivery_stream_name(settings.destination_name, region)
                for region in settings.regions
            },
            kinesis_streams={
                region: delivery_stream_name(settings.destination_name, region)
                for region in settings.regions
                if settings.transport == "kinesis"
            },
            partitioned=settings.archive_format == "json",
        )
        self.reader: ArchiveReader | None = None
        if settings.reader_principals:
            self.reader = self._reader()
        self.register_outputs(
            {
                "destinationArns": self.destination_arns,
                "deliveryStreamArns": self.delivery_stream_arns,
                "bucketName": self.bucket_name,
                "kmsKeyArn": self.kms_key_arn,
                "accessTrail": self.access_trail,
            }
        )

    def _reader(self) -> ArchiveReader:
        s = self.settings
        layer = self.query_layer
        return ArchiveReader(
            f"{self.name}-reader",
            principals=s.reader_principals,
            region=s.home_region,
            account_id=self.account_id,
            bucket_arn=self.bucket_arn,
            s3_prefix=s.s3_prefix,
            kms_key_arn=self.kms_key_arn,
            athena=(WORKGROUP, DATABASE) if layer else None,
            results_bucket_arn=self.athena_results.arn if self.athena_results else None,
            opts=ResourceOptions(parent=self),
        )

    def _archive_key(self) -> aws.kms.Key:
        home = self.settings.home_region
        return aws.kms.Key(
            f"{self.name}-archive-key",
            region=home,
            description="central-logging archive bucket encryption",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=_json_dumps(
                Output.all(
                    self.account_id,
                    self.bucket_arn,
                    self.archive_admin_arns,
                    self.athena_results.arn if self.athena_results else None,
                ).apply(
                    lambda a: policies.key_policy(
                        self.partition,
                        a[0],
                        bucket_arn=a[1],
                        region=home,
                        admin_arns=a[2],
                        results_bucket_arn=a[3],
                    )
                )
            ),
            # Without its key the archive cannot be read: `pulumi destroy` leaves it.
            opts=ResourceOptions(parent=self, retain_on_delete=True),
        )

    def _archive_bucket(self) -> aws.s3.Bucket:
        s = self.settings
        return aws.s3.Bucket(
            f"{self.name}-archive",
            region=s.home_region,
            bucket=s.bucket_name,
            object_lock_enabled=bool(s.object_lock_mode),
            # The archive outlives the stack: `pulumi destroy` leaves it and its objects.
            opts=ResourceOptions(parent=self, retain_on_delete=True),
        )

    def _archive_settings(self, bucket: aws.s3.Bucket) -> aws.s3.BucketPublicAccessBlock:
        """Everything that protects the archive bucket but its policy (which names the
        delivery roles); returns the public access block the policy must follow."""
        s = self.settings
        home = s.home_region
        name = f"{self.name}-archive"
        # Destroy leaves the bucket's protections with it, not a bare bucket: deleting
        # BucketVersioning would suspend versioning, deleting the policy would allow plain HTTP.
        bucket_opts = ResourceOptions(parent=self, depends_on=[bucket], retain_on_delete=True)
        public_access, versioning = versioned_private_bucket(
            name,
            bucket,
            region=home,
            encryption=aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=self.kms_key_arn
                ),
                bucket_key_enabled=True,
            ),
            opts=bucket_opts,
        )
        if s.object_lock_mode:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock",
                region=home,
                bucket=bucket.id,
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=s.object_lock_mode, days=s.object_lock_days
                    )
                ),
                opts=ResourceOptions(parent=self, depends_on=[versioning], retain_on_delete=True),
            )
        if s.transition_days or s.expire_days:
            self._lifecycle(bucket, versioning)
        return public_access

    def _archive_policy(
        self, bucket: aws.s3.Bucket, public_access: aws.s3.BucketPublicAccessBlock
    ) -> None:
        writers = [p.delivery_role.arn for p in self.regions.values()]
        redrive = [self.redrive.role_arn] if self.redrive else []
        coverage = self.settings.coverage
        history_writer = self.history_writer.arn if self.history_writer else None
        aws.s3.BucketPolicy(
            f"{self.name}-archive-policy",
            region=self.settings.home_region,
            bucket=bucket.id,
            policy=_json_dumps(
                Output.all(
                    bucket.arn,
                    self.archive_admin_arns,
                    Output.all(*writers),
                    Output.all(*redrive),
                    self.freshness.role_arn,
                    self.account_id,
                    history_writer,
                ).apply(
                    lambda a: policies.bucket_policy(
                        a[0],
                        s3_prefix=self.settings.s3_prefix,
                        admin_arns=a[1],
                        writer_arns=a[2],
                        redrive_arns=a[3],
                        extra=[policies.freshness_state_guard(a[0], state_keys(), a[4])],
                        # The coverage report: only the coverage function writes it.
                        report_writers={
                            COVERAGE_REPORT_PREFIX: (
                                f"arn:{self.partition}:iam::{a[5]}:role/{COVERAGE_ROLE_NAME}"
                            )
                        }
                        if coverage
                        else None,
                        history_writer_arn=a[6],
                    )
                )
            ),
            opts=ResourceOptions(parent=self, depends_on=[public_access], retain_on_delete=True),
        )

    def _history_writer(self) -> aws.iam.Role:
        """The role `central-logging history` writes with: new history objects under the
        prefix only (the archive policy denies it anything else), assumable by the operators
        named in historyWriterPrincipals. With existingBucketName, that bucket's own policy
        must let it write (`policies.history_writes` shows how)."""
        s = self.settings
        role = aws.iam.Role(
            f"{self.name}-history-writer",
            description="central-logging history: writes history-*.json.gz objects, new ones only",
            assume_role_policy=json.dumps(
                policies.history_writer_trust(self.partition, s.history_writer_principals),
                sort_keys=True,
            ),
            opts=ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{self.name}-history-writer",
            role=role.id,
            policy=_json_dumps(
                Output.all(self.bucket_arn, self.kms_key_arn).apply(
                    lambda a: policies.history_writer_policy(
                        bucket_arn=a[0],
                        bucket_region=s.home_region,
                        s3_prefix=s.s3_prefix,
                        kms_key_arn=a[1],
                    )
                )
            ),
            opts=ResourceOptions(parent=self),
        )
        return role

    def _lifecycle(self, bucket: aws.s3.Bucket, versioning: aws.s3.BucketVersioning) -> None:
        s = self.settings
        transitions = []
        noncurrent_transitions = []
        if s.transition_days:
            transitions.append(
                aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                    days=s.transition_days, storage_class=TRANSITION_STORAGE_CLASS
                )
            )
            noncurrent_transitions.append(
                aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionTransitionArgs(
                    noncurrent_days=s.transition_days, storage_class=TRANSITION_STORAGE_CLASS
                )
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{self.name}-archive-lifecycle",
            region=s.home_region,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="archive-retention",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=s.s3_prefix),
                    transitions=transitions or None,
                    noncurrent_version_transitions=noncurrent_transitions or None,
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=s.expire_days
                    )
                    if s.expire_days
                    else None,
                    # Versioned: an expired object stays as a noncurrent version until this.
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=s.expire_days
                    )
                    if s.expire_days
                    else None,
                )
            ],
            opts=ResourceOptions(parent=self, depends_on=[versioning], retain_on_delete=True),
        )

    def _region(self, region: str) -> RegionalPipeline:
        """The destination in `region`, and its stream in the home region. The stream
        resources have names of their own (not those of the per-region streams they
        replace), so that `pulumi up --exclude` can keep old streams until they drain."""
        s = self.settings
        home = s.home_region
        prefix = f"{self.name}-{region}"
        partition = policies.partition_for(region)
        stream_name = delivery_stream_name(s.destination_name, region)

        stream: aws.kinesis.Stream | None = None
        if s.transport == "kinesis":
            provisioned = s.kinesis_stream_mode == "PROVISIONED"
            stream = aws.kinesis.Stream(
                f"{prefix}-kinesis",
                region=home,
                name=stream_name,
                retention_period=s.kinesis_retention_hours,
                shard_count=s.kinesis_shard_count if provisioned else None,
                stream_mode_details=aws.kinesis.StreamStreamModeDetailsArgs(
                    stream_mode=s.kinesis_stream_mode
                ),
                encryption_type="KMS",
                # The AWS managed key needs no grants to producers.
                kms_key_id="alias/aws/kinesis",
                opts=ResourceOptions(parent=self),
            )

        error_log_stream = aws.cloudwatch.LogStream(
            f"{prefix}-firehose-errors",
            region=home,
            log_group_name=self.error_log_group.name,
            name=stream_name,
            opts=ResourceOptions(parent=self),
        )
        firehose_role = aws.iam.Role(
            f"{prefix}-firehose-role",
            description=f"Firehose delivery of the logs of {region} into the archive",
            assume_role_policy=_json_dumps(
                self.account_id.apply(
                    lambda account: policies.service_trust(policies.FIREHOSE_SERVICE, account)
                )
            ),
            opts=ResourceOptions(parent=self),
        )
        firehose_policy = aws.iam.RolePolicy(
            f"{prefix}-firehose-role",
            role=firehose_role.id,
            policy=_json_dumps(
                Output.all(
                    self.bucket_arn,
                    self.kms_key_arn,
                    self.error_log_group.arn,
                    stream.arn if stream else None,
                ).apply(
                    lambda a: policies.firehose_delivery_policy(
                        bucket_arn=a[0],
                        bucket_region=home,
                        s3_prefix=s.s3_prefix,
                        kms_key_arn=a[1],
                        error_log_stream_arn=f"{a[2]}:log-stream:{stream_name}",
                        stream_arn=a[3],
                    )
                )
            ),
            opts=ResourceOptions(parent=self),
        )
        delivery_stream = self._delivery_stream(
            region, stream_name, stream, firehose_role, firehose_policy, error_log_stream
        )

        target_arn = stream.arn if stream else delivery_stream.arn
        destination_role = aws.iam.Role(
            f"{prefix}-destination",
            description=f"CloudWatch Logs delivery from {region} into its stream in {home}",
            assume_role_policy=_json_dumps(
                self.account_id.apply(
                    lambda account: policies.logs_sender_trust(
                        region, partition, s.organization_id, s.member_accounts, account
                    )
                )
            ),
            opts=ResourceOptions(parent=self),
        )
        destination_role_policy = aws.iam.RolePolicy(
            f"{prefix}-destination",
            role=destination_role.id,
            policy=_json_dumps(target_arn.apply(policies.destination_delivery_policy)),
            opts=ResourceOptions(parent=self),
        )
        destination = aws.cloudwatch.LogDestination(
            prefix,
            region=region,
            name=s.destination_name,
            role_arn=destination_role.arn,
            target_arn=target_arn,
            # CloudWatch Logs checks the role by sending a test message on creation.
            opts=ResourceOptions(parent=self, depends_on=[destination_role_policy]),
        )
        aws.cloudwatch.LogDestinationPolicy(
            f"{prefix}-access",
            region=region,
            destination_name=destination.name,
            access_policy=_json_dumps(
                destination.arn.apply(
                    lambda arn: policies.destination_access_policy(
                        arn, s.organization_id, s.member_accounts
                    )
                )
            ),
            # PutDestinationPolicy refuses to replace an account list by an organisation
            # without forceUpdate ("Step 2: Update the existing destination access policy",
            # Cross-Account-Log_Subscription-Update-policy.html).
            force_update=True if s.organization_id else None,
            opts=ResourceOptions(parent=self),
        )
        self._delivery_alarms(region, delivery_stream, stream)
        return RegionalPipeline(destination, delivery_stream, stream, firehose_role)

    def _delivery_alarms(
        self,
        region: str,
        delivery_stream: aws.kinesis.FirehoseDeliveryStream,
        stream: aws.kinesis.Stream | None,
    ) -> None:
        # In the home region with the streams, named after the region whose logs they watch.
        home = self.settings.home_region
        source = f"Logs of {region}: "
        firehose = {"DeliveryStreamName": delivery_stream.name}
        self.alarms.alarm(
            "delivery-failing",
            home,
            source
            + "Firehose is failing to write to the archive bucket (it retries for 24 h): check "
            "the delivery-errors log group and the bucket, key and role policies.",
            namespace="AWS/Firehose",
            metric="DeliveryToS3.Success",
            dimensions=firehose,
            statistic="Minimum",
            threshold=1,
            comparison="LessThanThreshold",
            periods=3,
            source_region=region,
        )
        self.alarms.alarm(
            "data-stale",
            home,
            source + "The oldest record waiting in Firehose is older than alarmFreshnessSeconds: "
            "delivery to S3 is slow or stuck.",
            namespace="AWS/Firehose",
            metric="DeliveryToS3.DataFreshness",
            dimensions=firehose,
            statistic="Maximum",
            threshold=self.settings.alarms.freshness_seconds,
            source_region=region,
        )
        self.alarms.alarm(
            "records-throttled",
            home,
            source
            + "Firehose throttled incoming records: the stream's throughput quota is too low "
            "for the organisation's log volume; ask AWS to raise it.",
            namespace="AWS/Firehose",
            metric="ThrottledRecords",
            dimensions=firehose,
            statistic="Sum",
            threshold=0,
            source_region=region,
        )
        if self.settings.archive_format == "json":
            self._partition_alarms(region, delivery_stream)
        if stream is None:
            return
        kinesis = {"StreamName": stream.name}
        self.alarms.alarm(
            "stream-iterator-age",
            home,
            source
            + "Records wait in the Kinesis stream longer than alarmIteratorAgeSeconds: Firehose "
            "is not keeping up, and records expire after kinesisRetentionHours.",
            namespace="AWS/Kinesis",
            metric="GetRecords.IteratorAgeMilliseconds",
            dimensions=kinesis,
            statistic="Maximum",
            threshold=self.settings.alarms.iterator_age_seconds * 1000,
            source_region=region,
        )
        self.alarms.alarm(
            "stream-write-throttled",
            home,
            source
            + "Writes into the Kinesis stream are throttled: add shards (PROVISIONED) or use "
            "ON_DEMAND.",
            namespace="AWS/Kinesis",
            metric="WriteProvisionedThroughputExceeded",
            dimensions=kinesis,
            statistic="Sum",
            threshold=0,
            source_region=region,
        )

    def _partition_alarms(
        self, region: str, delivery_stream: aws.kinesis.FirehoseDeliveryStream
    ) -> None:
        """Active partitions (one per account delivering in a buffer interval) near and over
        the stream's quota. Firehose publishes PartitionCount, PartitionCountExceeded (1 or 0)
        and ActivePartitionsLimit in AWS/Firehose when dynamic partitioning is on
        (https://docs.aws.amazon.com/firehose/latest/dev/monitoring-with-cloudwatch-metrics.html)."""
        home = self.settings.home_region
        source = f"Logs of {region}: "
        firehose = {"DeliveryStreamName": delivery_stream.name}
        self.alarms.alarm(
            "partitions-exceeded",
            home,
            source
            + "More accounts delivered in one buffer interval than the stream's active partition "
            "quota: records go to errors/activePartitionExceeded/. Ask AWS to raise the quota "
            "(up to 5,000 per stream), then run central-logging redrive.",
            namespace="AWS/Firehose",
            metric="PartitionCountExceeded",
            dimensions=firehose,
            statistic="Maximum",
            threshold=0,
            source_region=region,
        )

        def metric(query_id: str, name: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=query_id,
                metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace="AWS/Firehose",
                    metric_name=name,
                    dimensions=firehose,
                    period=PERIOD_SECONDS,
                    stat="Maximum",
                ),
                return_data=False,
            )

        actions = self.alarms.actions(home)
        aws.cloudwatch.MetricAlarm(
            f"{self.name}-{region}-partitions-near-limit",
            region=home,
            alarm_description=source
            + f"Active partitions passed {PARTITIONS_WARNING_SHARE:.0%} of the stream's quota: "
            "ask AWS to raise it (up to 5,000 per stream) before records are diverted.",
            metric_queries=[
                metric("partitions", "PartitionCount"),
                metric("quota", "ActivePartitionsLimit"),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="share", expression="partitions / quota", return_data=True
                ),
            ],
            evaluation_periods=1,
            threshold=PARTITIONS_WARNING_SHARE,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            opts=ResourceOptions(parent=self),
        )

    def _delivery_stream(
        self,
        region: str,
        name: str,
        stream: aws.kinesis.Stream | None,
        role: aws.iam.Role,
        role_policy: aws.iam.RolePolicy,
        error_log_stream: aws.cloudwatch.LogStream,
    ) -> aws.kinesis.FirehoseDeliveryStream:
        """The Firehose stream, in the home region, that writes `region`'s logs."""
        s = self.settings
        prefix, error_prefix = archive_prefixes(s, region)
        partitioned = s.archive_format == "json"
        s3 = aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs(
            bucket_arn=self.bucket_arn,
            role_arn=role.arn,
            prefix=prefix,
            error_output_prefix=error_prefix,
            buffering_interval=s.buffer_interval_seconds,
            buffering_size=s.buffer_size_mib,
            kms_key_arn=self.kms_key_arn,
            cloudwatch_logging_options=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationCloudwatchLoggingOptionsArgs(
                enabled=True,
                log_group_name=self.error_log_group.name,
                log_stream_name=error_log_stream.name,
            ),
            # raw: records stay the gzip members CloudWatch Logs sent.
            compression_format="GZIP" if partitioned else "UNCOMPRESSED",
            file_extension=".json.gz" if partitioned else None,
            dynamic_partitioning_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationDynamicPartitioningConfigurationArgs(
                enabled=True, retry_duration=PARTITIONED_RETRY_SECONDS
            )
            if partitioned
            else None,
            processing_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationArgs(
                enabled=True,
                processors=[
                    Processor(
                        type="Decompression",
                        parameters=[
                            Parameter(parameter_name="CompressionFormat", parameter_value="GZIP")
                        ],
                    ),
                    Processor(
                        type="MetadataExtraction",
                        parameters=[
                            Parameter(
                                parameter_name="MetadataExtractionQuery",
                                parameter_value=partition_key_query(),
                            ),
                            Parameter(parameter_name="JsonParsingEngine", parameter_value="JQ-1.6"),
                        ],
                    ),
                    Processor(type="AppendDelimiterToRecord"),
                ],
            )
            if partitioned
            else None,
        )
        return aws.kinesis.FirehoseDeliveryStream(
            f"{self.name}-{region}-firehose",
            region=s.home_region,
            name=name,
            destination="extended_s3",
            extended_s3_configuration=s3,
            kinesis_source_configuration=aws.kinesis.FirehoseDeliveryStreamKinesisSourceConfigurationArgs(
                kinesis_stream_arn=stream.arn, role_arn=role.arn
            )
            if stream
            else None,
            # Direct PUT is encrypted at rest by Firehose; a Kinesis source is by the stream.
            server_side_encryption=None
            if stream
            else aws.kinesis.FirehoseDeliveryStreamServerSideEncryptionArgs(
                enabled=True, key_type="AWS_OWNED_CMK"
            ),
            opts=ResourceOptions(parent=self, depends_on=[role_policy]),
        )
