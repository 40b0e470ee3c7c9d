"""The logging stack's dashboard (issue 22 item 7): a line per covered region in every graph,
on the metrics the stack's streams and freshness check publish."""

from __future__ import annotations

import json
from typing import Any

from components.destination import delivery_stream_name
from tests.infra.harness import ORG_ID, run_program

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]


def body(config: dict[str, Any]) -> dict[str, Any]:
    run = run_program({"role": "logging", "organizationId": ORG_ID, "regions": REGIONS, **config})
    dashboard = run.one(DASHBOARD)
    assert dashboard.inputs["region"] == "eu-west-1"  # the home region, with the streams
    assert dashboard.inputs["dashboardName"] == "central-logging"
    document: dict[str, Any] = json.loads(dashboard.inputs["dashboardBody"])
    return document


def graphs(document: dict[str, Any]) -> dict[str, list[list[Any]]]:
    return {
        w["properties"]["title"]: w["properties"]["metrics"]
        for w in document["widgets"]
        if w["type"] == "metric"
    }


def lines(metrics: list[list[Any]], metric: str) -> dict[str, str]:
    """label -> the stream a line of `metric` watches."""
    return {m[-1]["label"]: m[3] for m in metrics if m[1] == metric}


def test_every_graph_has_a_line_per_region_on_its_stream() -> None:
    found = graphs(body({}))
    streams = {r: delivery_stream_name("CentralLogDestination", r) for r in REGIONS}

    success = found["Delivery to S3: success (1 = every attempt succeeded)"]
    assert lines(success, "DeliveryToS3.Success") == streams
    freshness = found["Delivery to S3: age of the oldest record waiting (s)"]
    assert lines(freshness, "DeliveryToS3.DataFreshness") == streams
    partitions = found["Active partitions per stream (records past the limit go to errors/)"]
    assert lines(partitions, "PartitionCount") == streams
    assert lines(partitions, "PartitionCountExceeded") == streams
    assert lines(found["Throttled records"], "ThrottledRecords") == streams
    assert found["Stale account-regions (freshness check)"] == [
        ["CentralLogging", "StaleAccountRegions", {"label": "stale account-regions"}]
    ]
    ages = found["Seconds since the last delivery, worst account per region"]
    assert [a[0]["label"] for a in ages] == sorted(REGIONS)
    assert all(
        f'Region="{a[0]["label"]}"' in a[0]["expression"]
        and 'MetricName="SecondsSinceLastDelivery"' in a[0]["expression"]
        for a in ages
    )
    uncovered = found["Uncovered log groups of this account's own member stack, per region"]
    assert [(m[1], m[-1]["region"]) for m in uncovered] == [
        ("UncoveredLogGroups", r) for r in sorted(REGIONS)
    ]


def test_kinesis_transport_adds_the_streams_write_throttling_and_drops_partitions() -> None:
    found = graphs(body({"transport": "kinesis", "archiveFormat": "raw"}))

    throttled = found["Throttled records"]
    assert sorted(
        m[3] for m in throttled if m[1] == "WriteProvisionedThroughputExceeded"
    ) == sorted(delivery_stream_name("CentralLogDestination", r) for r in REGIONS)
    assert not any("partitions" in title for title in found)


def test_widgets_do_not_overlap() -> None:
    placed = [(w["x"], w["y"], w["width"], w["height"]) for w in body({})["widgets"]]
    cells = [
        (x + dx, y + dy)
        for x, y, width, height in placed
        for dx in range(width)
        for dy in range(height)
    ]
    assert len(cells) == len(set(cells))
