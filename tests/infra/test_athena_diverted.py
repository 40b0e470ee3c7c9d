"""Athena sees the records Firehose diverted for want of an active partition (issue 18 item 3).
The SQL itself runs only in Athena; here its wiring and layout are checked."""

from __future__ import annotations

import base64
import json
from typing import Any

from components.athena import (
    ARCHIVE_SQL,
    DIVERTED_SQL,
    DIVERTED_TABLE,
    EVENTS_COLUMNS,
    EVENTS_SQL,
)
from tests.infra.harness import run_program

TABLE = "aws:glue/catalogTable:CatalogTable"
CONFIG = {
    "role": "logging",
    "memberAccounts": ["111111111111"],
    "regions": ["eu-west-1", "us-east-1"],
    "bucketName": "example-central-logs",
}


def _definition(view: dict[str, Any]) -> dict[str, Any]:
    encoded = view["viewOriginalText"].removeprefix("/* Presto View: ").removesuffix(" */")
    definition: dict[str, Any] = json.loads(base64.b64decode(encoded))
    return definition


def test_the_diverted_table_reads_the_error_folder_firehose_writes() -> None:
    run = run_program(CONFIG)
    table = run.one(TABLE, "central-athena-diverted-table").inputs
    assert table["name"] == DIVERTED_TABLE
    location = "s3://example-central-logs/CentralizedAccountsLog/"
    assert table["storageDescriptor"]["location"] == location + "errors/"
    # The fields of Firehose's error records, as the JSON SerDe matches them (any case).
    assert [c["name"] for c in table["storageDescriptor"]["columns"]] == [
        "attemptsmade",
        "arrivaltimestamp",
        "errorcode",
        "errormessage",
        "attemptendingtimestamp",
        "rawdata",
    ]
    parameters = table["parameters"]
    assert parameters["projection.region.values"] == "eu-west-1,us-east-1"
    assert not any(key.startswith("projection.account") for key in parameters)
    error_prefix = run.one(
        "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "central-eu-west-1-firehose"
    ).inputs["extendedS3Configuration"]["errorOutputPrefix"]
    # Firehose's error prefix with the error type of diverted records, as projected.
    assert error_prefix.replace("!{firehose:error-output-type}", "activePartitionExceeded").replace(
        "eu-west-1", "${region}"
    ).replace("!{timestamp:yyyy}", "${year}").replace("!{timestamp:MM}", "${month}").replace(
        "!{timestamp:dd}", "${day}"
    ) == parameters["storage.location.template"].removeprefix("s3://example-central-logs/")


def test_events_include_the_diverted_events_with_the_same_columns() -> None:
    run = run_program(CONFIG)
    diverted = run.one(TABLE, "central-athena-diverted-view").inputs
    assert (diverted["name"], diverted["tableType"]) == ("diverted_events", "VIRTUAL_VIEW")
    definition = _definition(diverted)
    assert definition["originalSql"] == DIVERTED_SQL
    assert [(c["name"], c["type"]) for c in definition["columns"]] == EVENTS_COLUMNS
    events = _definition(run.one(TABLE, "central-athena-events-view").inputs)
    assert events["originalSql"] == EVENTS_SQL == f"{ARCHIVE_SQL}\nUNION ALL\n{DIVERTED_SQL}"
    # Control messages stay out, as in the archive's branch; rawData is decoded from base64.
    assert "json_extract_scalar(r.envelope, '$.messageType') = 'DATA_MESSAGE'" in DIVERTED_SQL
    assert "from_base64(d.rawdata)" in DIVERTED_SQL
