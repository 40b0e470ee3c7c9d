"""The Athena query layer over the json archive, under Pulumi's mock runtime."""

from __future__ import annotations

import base64
import json
from typing import Any

from components.athena import EVENTS_COLUMNS, EVENTS_SQL, PARTITION_KEYS
from tests.infra.harness import ORG_ID, Run, run_program

TABLE = "aws:glue/catalogTable:CatalogTable"


def envelope_table(run: Run) -> dict[str, Any]:
    return run.one(TABLE, "central-athena-table").inputs


def test_table_reads_the_partitioned_archive_with_projection() -> None:
    run = run_program(
        {
            "role": "logging",
            "memberAccounts": ["111111111111", "222222222222"],
            "regions": ["eu-west-1", "us-east-1"],
            "bucketName": "example-central-logs",
        }
    )
    table = envelope_table(run)
    assert run.one("aws:glue/catalogDatabase:CatalogDatabase").inputs["region"] == "eu-west-1"
    location = "s3://example-central-logs/CentralizedAccountsLog/"
    storage = table["storageDescriptor"]
    assert storage["location"] == location
    assert storage["serDeInfo"]["serializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert [c["name"] for c in storage["columns"]] == [
        "messagetype",
        "owner",
        "loggroup",
        "logstream",
        "subscriptionfilters",
        "logevents",
    ]
    assert [k["name"] for k in table["partitionKeys"]] == PARTITION_KEYS
    parameters = table["parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.account.type"] == "enum"
    assert parameters["projection.account.values"] == "111111111111,222222222222"
    assert parameters["projection.region.values"] == "eu-west-1,us-east-1"
    # The same layout Firehose writes (design.md section 5).
    assert parameters["storage.location.template"] == (
        location + "account=${account}/region=${region}/year=${year}/month=${month}/day=${day}/"
    )
    firehose_prefix = run.one(
        "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "central-eu-west-1-firehose"
    ).inputs["extendedS3Configuration"]["prefix"]
    assert firehose_prefix.replace("!{partitionKeyFromQuery:owner}", "${account}").replace(
        "eu-west-1", "${region}"
    ).replace("!{timestamp:yyyy}", "${year}").replace("!{timestamp:MM}", "${month}").replace(
        "!{timestamp:dd}", "${day}"
    ) == parameters["storage.location.template"].removeprefix("s3://example-central-logs/")


def test_organisation_accounts_are_injected() -> None:
    run = run_program({"role": "logging", "organizationId": ORG_ID})
    parameters = envelope_table(run)["parameters"]
    assert parameters["projection.account.type"] == "injected"
    assert "projection.account.values" not in parameters
    for query in run.of_type("aws:athena/namedQuery:NamedQuery"):
        assert "account IN (" in query.inputs["query"]


def test_events_view_has_the_query_commands_columns() -> None:
    run = run_program({"role": "logging", "organizationId": ORG_ID})
    view = run.one(TABLE, "central-athena-events-view").inputs
    assert view["tableType"] == "VIRTUAL_VIEW"
    assert view["name"] == "events"
    encoded = view["viewOriginalText"].removeprefix("/* Presto View: ").removesuffix(" */")
    definition = json.loads(base64.b64decode(encoded))
    assert definition["originalSql"] == EVENTS_SQL
    assert [(c["name"], c["type"]) for c in definition["columns"]] == EVENTS_COLUMNS
    assert [c["name"] for c in view["storageDescriptor"]["columns"]] == [
        name for name, _ in EVENTS_COLUMNS
    ]
    assert "WHERE e.messagetype = 'DATA_MESSAGE'" in EVENTS_SQL


def test_the_view_and_the_query_command_have_the_same_columns() -> None:
    from central_logging.query import EVENTS_COLUMNS as QUERY_COLUMNS

    # Athena keeps names in lower case and matches them case-insensitively.
    assert [name for name, _ in EVENTS_COLUMNS] == [name.lower() for name, _ in QUERY_COLUMNS]
    assert [kind.split("(")[0] for _, kind in EVENTS_COLUMNS] == [
        kind.lower() for _, kind in QUERY_COLUMNS
    ]


def test_workgroup_enforces_encrypted_results_in_their_own_bucket() -> None:
    run = run_program({"role": "logging", "organizationId": ORG_ID, "bucketName": "logs-example"})
    configuration = run.one("aws:athena/workgroup:Workgroup").inputs["configuration"]
    assert configuration["enforceWorkgroupConfiguration"] is True
    results = configuration["resultConfiguration"]
    results_bucket = run.one("aws:s3/bucket:Bucket", "central-athena-results").state["bucket"]
    assert results["outputLocation"] == f"s3://{results_bucket}/"
    assert results["encryptionConfiguration"] == {
        "encryptionOption": "SSE_KMS",
        "kmsKeyArn": run.one("aws:kms/key:Key").state["arn"],
    }
    names = sorted(q.inputs["name"] for q in run.of_type("aws:athena/namedQuery:NamedQuery"))
    assert names == [
        "error-counts-by-account-and-day",
        "recent-events-of-a-log-group",
        "who-did-what",
    ]


def test_no_query_layer_for_raw_or_when_turned_off() -> None:
    raw = run_program({"role": "logging", "organizationId": ORG_ID, "archiveFormat": "raw"})
    off = run_program({"role": "logging", "organizationId": ORG_ID, "athena": "false"})
    for run in (raw, off):
        assert not run.of_type(TABLE)
        assert not run.of_type("aws:athena/workgroup:Workgroup")
