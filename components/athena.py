"""The query layer over the json archive: a Glue table with partition projection, an
`events` view with the same columns as `central-logging query`, an Athena workgroup and
named queries for the common audit questions. The workgroup writes its results into a bucket
of their own: private, encrypted with the archive key, without Object Lock, its objects
expired after `athenaResultsDays`, so results (copies of log data) neither accumulate in the
archive nor fall under its retention.

Declared by CentralDestination (its resources are the component's children); the table,
view and query texts are built by pure functions here so they can be checked on their own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions

from components import policies
from components.buckets import versioned_private_bucket

DATABASE = "central_logging"
TABLE = "cloudwatch_envelopes"
VIEW = "events"
# Records Firehose diverted for want of an active partition, until `central-logging redrive`
# moves them: a table of Firehose's error records, and a view of their events, which `events`
# includes, as `central-logging query` does.
DIVERTED_TABLE = "diverted_records"
DIVERTED_VIEW = "diverted_events"
WORKGROUP = "central-logging"
# An expired result is kept one more day as a noncurrent version, then gone; incomplete
# multipart uploads of results (never read) go after a day too.
RESULTS_NONCURRENT_DAYS = 1
RESULTS_INCOMPLETE_UPLOAD_DAYS = 1

# One line of the json archive: a CloudWatch Logs envelope (design.md section 5).
ENVELOPE_COLUMNS: list[tuple[str, str]] = [
    ("messagetype", "string"),
    ("owner", "string"),
    ("loggroup", "string"),
    ("logstream", "string"),
    ("subscriptionfilters", "array<string>"),
    ("logevents", "array<struct<id:string,timestamp:bigint,message:string>>"),
]
PARTITION_KEYS = ["account", "region", "year", "month", "day"]

# The flattened view: the same columns, in the same order, as `central-logging query` (the
# fields of `read --json`). Athena and Glue keep names in lower case (an unquoted logGroup in
# the SQL is loggroup), and match them case-insensitively, so the same SQL works in both.
EVENTS_COLUMNS: list[tuple[str, str]] = [
    ("account", "varchar"),
    ("region", "varchar"),
    ("loggroup", "varchar"),
    ("logstream", "varchar"),
    ("id", "varchar"),
    ("timestamp", "bigint"),
    ("time", "timestamp(3)"),
    ("message", "varchar"),
]
HIVE_TYPES = {"varchar": "string", "bigint": "bigint", "timestamp(3)": "timestamp"}

# A Firehose error record ("Troubleshoot dynamic partitioning errors",
# https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning-error-handling.html).
DIVERTED_COLUMNS: list[tuple[str, str]] = [
    ("attemptsmade", "bigint"),
    ("arrivaltimestamp", "bigint"),
    ("errorcode", "string"),
    ("errormessage", "string"),
    ("attemptendingtimestamp", "bigint"),
    ("rawdata", "string"),
]
DIVERTED_PARTITION_KEYS = ["region", "year", "month", "day"]

ARCHIVE_SQL = f"""SELECT
  e.account AS account,
  e.region AS region,
  e.loggroup AS logGroup,
  e.logstream AS logStream,
  ev.id AS id,
  ev.timestamp AS "timestamp",
  CAST(from_unixtime(ev.timestamp / 1000e0) AS timestamp(3)) AS "time",
  ev.message AS message
FROM {DATABASE}.{TABLE} e
CROSS JOIN UNNEST(e.logevents) AS t (ev)
WHERE e.messagetype = 'DATA_MESSAGE'"""

# rawData is base64 of one or more envelopes, a line each, as Firehose decompressed them. Had
# it kept CloudWatch's gzip (AWS does not say), SQL cannot inflate it: such lines parse as
# nothing here, and `central-logging read`, `query` and `redrive` decode them.
DIVERTED_SQL = f"""SELECT
  json_extract_scalar(r.envelope, '$.owner') AS account,
  r.region AS region,
  json_extract_scalar(r.envelope, '$.logGroup') AS log_group,
  json_extract_scalar(r.envelope, '$.logStream') AS log_stream,
  ev.id AS id,
  CAST(from_unixtime(ev."timestamp" / 1000e0) AS timestamp(3)) AS ts,
  ev.message AS message
FROM (
  SELECT d.region AS region, try(json_parse(l.line)) AS envelope
  FROM {DATABASE}.{DIVERTED_TABLE} d
  CROSS JOIN UNNEST(split(try(from_utf8(from_base64(d.rawdata))), chr(10))) AS l (line)
  WHERE trim(l.line) <> ''
) r
CROSS JOIN UNNEST(
  CAST(json_extract(r.envelope, '$.logEvents')
    AS array(row(id varchar, "timestamp" bigint, message varchar)))
) AS t (ev)
WHERE json_extract_scalar(r.envelope, '$.messageType') = 'DATA_MESSAGE'"""

# Every event: those in their partitions and those diverted, as `read` and `query` see them.
EVENTS_SQL = f"{ARCHIVE_SQL}\nUNION ALL\n{DIVERTED_SQL}"


def projection_parameters(
    location: str, regions: Sequence[str], accounts: Sequence[str] | None
) -> dict[str, str]:
    """Partition projection: new accounts and days need no crawler and no MSCK REPAIR.

    With a known account list the accounts are enumerated; for a whole organisation they
    cannot be, so they are injected: queries name the account(s) they read."""
    parameters = {
        "classification": "json",
        "compressionType": "gzip",
        "projection.enabled": "true",
        "projection.region.type": "enum",
        "projection.region.values": ",".join(regions),
        "projection.year.type": "integer",
        "projection.year.range": "2024,2124",
        "projection.month.type": "integer",
        "projection.month.range": "1,12",
        "projection.month.digits": "2",
        "projection.day.type": "integer",
        "projection.day.range": "1,31",
        "projection.day.digits": "2",
        "storage.location.template": location
        + "account=${account}/region=${region}/year=${year}/month=${month}/day=${day}/",
    }
    if accounts:
        parameters["projection.account.type"] = "enum"
        parameters["projection.account.values"] = ",".join(accounts)
    else:
        parameters["projection.account.type"] = "injected"
    return parameters


def diverted_projection_parameters(location: str, regions: Sequence[str]) -> dict[str, str]:
    """Partition projection over Firehose's error folder for diverted records."""
    parameters = {
        key: value
        for key, value in projection_parameters(location, regions, None).items()
        # Athena tells gzip objects by their .gz name; AWS does not say Firehose names (or
        # compresses) its error output so.
        if not key.startswith("projection.account.") and key != "compressionType"
    }
    parameters["storage.location.template"] = (
        location + "errors/region=${region}/activePartitionExceeded/"
        "year=${year}/month=${month}/day=${day}/"
    )
    return parameters


def presto_view_text(sql: str, database: str, columns: Sequence[tuple[str, str]]) -> str:
    """A view as Athena stores it in the Glue catalog."""
    definition = {
        "originalSql": sql,
        "catalog": "awsdatacatalog",
        "schema": database,
        "columns": [{"name": name, "type": kind} for name, kind in columns],
    }
    encoded = base64.b64encode(json.dumps(definition).encode()).decode()
    return f"/* Presto View: {encoded} */"


def named_queries(accounts_known: bool) -> dict[str, tuple[str, str]]:
    """The common audit questions: name -> (description, SQL over the `events` view)."""
    # With injected account projection every query must name its accounts.
    accounts = "" if accounts_known else "\n  AND account IN ('111111111111')  -- your accounts"
    return {
        "recent-events-of-a-log-group": (
            "The latest events of one log group",
            f'SELECT "time", account, logStream, message\nFROM {VIEW}\n'
            f"WHERE logGroup = '/aws/lambda/example'{accounts}\n"
            'ORDER BY "time" DESC\nLIMIT 100',
        ),
        "error-counts-by-account-and-day": (
            "Events containing 'error' per account and day",
            f'SELECT account, date("time") AS day, count(*) AS errors\nFROM {VIEW}\n'
            f"WHERE regexp_like(message, '(?i)error'){accounts}\n"
            "GROUP BY 1, 2\nORDER BY 2 DESC, 3 DESC",
        ),
        "who-did-what": (
            "Events mentioning a text (a user, a role, an API call), newest first",
            f'SELECT "time", account, logGroup, logStream, message\nFROM {VIEW}\n'
            f"WHERE strpos(message, 'AssumeRole') > 0{accounts}\n"
            'ORDER BY "time" DESC\nLIMIT 200',
        ),
    }


@dataclass
class QueryLayer:
    database: aws.glue.CatalogDatabase
    table: aws.glue.CatalogTable
    view: aws.glue.CatalogTable
    workgroup: aws.athena.Workgroup


def declare_results_bucket(parent: pulumi.Resource, name: str, *, region: str) -> aws.s3.Bucket:
    """The bucket Athena writes query results into; declared before the archive key, whose
    policy must let S3 use the key for it."""
    # Destroy leaves it, like the archive: results are copies of log data and expire by rule.
    return aws.s3.Bucket(
        f"{name}-athena-results",
        region=region,
        opts=ResourceOptions(parent=parent, retain_on_delete=True),
    )


def _results_bucket_settings(
    parent: pulumi.Resource,
    name: str,
    results: aws.s3.Bucket,
    *,
    region: str,
    kms_key_arn: Output[str],
    days: int,
) -> aws.s3.BucketPolicy:
    """Private, TLS only, encrypted by default with the archive key, every result expired
    after `days`. Versioned like every bucket of the stack (the policy pack requires it), so
    the rule also expires noncurrent versions."""
    settings_name = f"{name}-athena-results"
    opts = ResourceOptions(parent=parent, depends_on=[results], retain_on_delete=True)
    public_access, versioning = versioned_private_bucket(
        settings_name,
        results,
        region=region,
        encryption=aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
            ),
            bucket_key_enabled=True,
        ),
        opts=opts,
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{settings_name}-lifecycle",
        region=region,
        bucket=results.id,
        rules=[
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="athena-results-expiry",
                status="Enabled",
                # The whole bucket.
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=RESULTS_NONCURRENT_DAYS
                ),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=RESULTS_INCOMPLETE_UPLOAD_DAYS
                ),
            )
        ],
        opts=ResourceOptions(parent=parent, depends_on=[versioning], retain_on_delete=True),
    )
    return aws.s3.BucketPolicy(
        f"{settings_name}-policy",
        region=region,
        bucket=results.id,
        policy=results.arn.apply(
            lambda arn: json.dumps(policies.athena_results_bucket_policy(arn), sort_keys=True)
        ),
        opts=ResourceOptions(parent=parent, depends_on=[public_access], retain_on_delete=True),
    )


def declare_query_layer(
    parent: pulumi.Resource,
    name: str,
    *,
    region: str,
    bucket_name: Output[str],
    s3_prefix: str,
    kms_key_arn: Output[str],
    regions: Sequence[str],
    accounts: Sequence[str] | None,
    results: aws.s3.Bucket,
    results_days: int,
) -> QueryLayer:
    child = ResourceOptions(parent=parent)
    _results_bucket_settings(
        parent, name, results, region=region, kms_key_arn=kms_key_arn, days=results_days
    )
    database = aws.glue.CatalogDatabase(
        f"{name}-athena-database",
        region=region,
        name=DATABASE,
        description="central-logging archive",
        opts=child,
    )
    location = Output.concat("s3://", bucket_name, "/", s3_prefix)
    Column = aws.glue.CatalogTableStorageDescriptorColumnArgs
    table = aws.glue.CatalogTable(
        f"{name}-athena-table",
        region=region,
        database_name=database.name,
        name=TABLE,
        description="CloudWatch Logs envelopes as Firehose writes them (one per line)",
        table_type="EXTERNAL_TABLE",
        parameters=location.apply(lambda url: projection_parameters(url, regions, accounts)),
        partition_keys=[
            aws.glue.CatalogTablePartitionKeyArgs(name=key, type="string") for key in PARTITION_KEYS
        ],
        storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
            location=location,
            input_format="org.apache.hadoop.mapred.TextInputFormat",
            output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            compressed=True,
            ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                serialization_library="org.openx.data.jsonserde.JsonSerDe",
                parameters={"ignore.malformed.json": "true"},
            ),
            columns=[Column(name=column, type=kind) for column, kind in ENVELOPE_COLUMNS],
        ),
        opts=child,
    )
    diverted = aws.glue.CatalogTable(
        f"{name}-athena-diverted-table",
        region=region,
        database_name=database.name,
        name=DIVERTED_TABLE,
        description="Firehose error records of records diverted for want of an active "
        "partition, until `central-logging redrive` moves them",
        table_type="EXTERNAL_TABLE",
        parameters=location.apply(lambda url: diverted_projection_parameters(url, regions)),
        partition_keys=[
            aws.glue.CatalogTablePartitionKeyArgs(name=key, type="string")
            for key in DIVERTED_PARTITION_KEYS
        ],
        storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
            location=Output.concat(location, "errors/"),
            input_format="org.apache.hadoop.mapred.TextInputFormat",
            output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                serialization_library="org.openx.data.jsonserde.JsonSerDe",
                parameters={"ignore.malformed.json": "true"},
            ),
            columns=[Column(name=column, type=kind) for column, kind in DIVERTED_COLUMNS],
        ),
        opts=child,
    )
    aws.glue.CatalogTable(
        f"{name}-athena-diverted-view",
        region=region,
        database_name=database.name,
        name=DIVERTED_VIEW,
        description="One row per diverted log event: the columns of `events`",
        table_type="VIRTUAL_VIEW",
        parameters={"presto_view": "true", "comment": "Presto View"},
        view_original_text=presto_view_text(DIVERTED_SQL, DATABASE, EVENTS_COLUMNS),
        view_expanded_text="/* Presto View */",
        storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
            columns=[Column(name=column, type=HIVE_TYPES[kind]) for column, kind in EVENTS_COLUMNS]
        ),
        opts=ResourceOptions(parent=parent, depends_on=[diverted]),
    )
    view = aws.glue.CatalogTable(
        f"{name}-athena-events-view",
        region=region,
        database_name=database.name,
        name=VIEW,
        description="One row per log event: the same columns as `central-logging query`",
        table_type="VIRTUAL_VIEW",
        parameters={"presto_view": "true", "comment": "Presto View"},
        view_original_text=presto_view_text(EVENTS_SQL, DATABASE, EVENTS_COLUMNS),
        view_expanded_text="/* Presto View */",
        storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
            columns=[Column(name=column, type=HIVE_TYPES[kind]) for column, kind in EVENTS_COLUMNS]
        ),
        opts=ResourceOptions(parent=parent, depends_on=[table, diverted]),
    )
    workgroup = aws.athena.Workgroup(
        f"{name}-athena-workgroup",
        region=region,
        name=WORKGROUP,
        description="Queries over the central-logging archive",
        configuration=aws.athena.WorkgroupConfigurationArgs(
            enforce_workgroup_configuration=True,
            publish_cloudwatch_metrics_enabled=True,
            engine_version=aws.athena.WorkgroupConfigurationEngineVersionArgs(
                selected_engine_version="Athena engine version 3"
            ),
            result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                output_location=Output.concat("s3://", results.bucket, "/"),
                encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                    encryption_option="SSE_KMS", kms_key_arn=kms_key_arn
                ),
            ),
        ),
        opts=child,
    )
    for query_name, (description, sql) in named_queries(bool(accounts)).items():
        aws.athena.NamedQuery(
            f"{name}-athena-{query_name}",
            region=region,
            name=query_name,
            description=description,
            database=database.name,
            workgroup=workgroup.name,
            query=sql,
            opts=child,
        )
    return QueryLayer(database, table, view, workgroup)
