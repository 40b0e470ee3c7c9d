"""The query layer over the json archive: a Glue table with partition projection, an
`events` view with the same columns as `central-logging query`, an Athena workgroup and
named queries for the common audit questions.

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

DATABASE = "central_logging"
TABLE = "cloudwatch_envelopes"
VIEW = "events"
WORKGROUP = "central-logging"
RESULTS_PREFIX = "athena-results/"

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

EVENTS_SQL = f"""SELECT
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
) -> QueryLayer:
    child = ResourceOptions(parent=parent)
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
        opts=ResourceOptions(parent=parent, depends_on=[table]),
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
                output_location=Output.concat("s3://", bucket_name, "/", RESULTS_PREFIX),
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
