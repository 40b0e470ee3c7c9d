"""The logging stack's CloudWatch dashboard: one page per organisation, a line per covered
region in every graph (stale account-regions, delivery to S3, partitions, throttling,
uncovered log groups).

The body is built by a pure function from names the stack knows in advance (the delivery
streams are named `delivery_stream_name(destinationName, region)`), so it is tested without
Pulumi. At 17 regions a graph holds 17 lines; one dashboard costs $3 a month beyond the
three free ones ("Dashboards", https://aws.amazon.com/cloudwatch/pricing/).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import ResourceOptions

from handlers.freshness import METRIC_NAMESPACE, SECONDS_METRIC, STALE_METRIC

DASHBOARD_NAME = "central-logging"
PERIOD_SECONDS = 300
WIDTH, HEIGHT = 12, 6
# The member stack's own metric (components/subscriber.py): in the logging account it is that
# account's member side only; other accounts' counts stay in those accounts.
UNCOVERED_METRIC = "UncoveredLogGroups"
FIREHOSE = "AWS/Firehose"


def _graph(
    title: str, home: str, metrics: list[list[Any]], stat: str, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": home,
            "view": "timeSeries",
            "stat": stat,
            "period": PERIOD_SECONDS,
            "metrics": metrics,
            **extra,
        },
    }


def _per_stream(metric: str, streams: Mapping[str, str], stat: str) -> list[list[Any]]:
    """One line per covered region: its delivery stream in the home region."""
    return [
        [FIREHOSE, metric, "DeliveryStreamName", stream, {"label": region, "stat": stat}]
        for region, stream in sorted(streams.items())
    ]


def dashboard_body(
    *,
    home: str,
    delivery_streams: Mapping[str, str],
    kinesis_streams: Mapping[str, str],
    partitioned: bool,
) -> dict[str, Any]:
    """The dashboard: `delivery_streams` and `kinesis_streams` map each covered region to the
    name of its stream in the home region (Kinesis only with transport kinesis)."""
    regions = sorted(delivery_streams)
    widgets = [
        _graph(
            "Stale account-regions (freshness check)",
            home,
            [[METRIC_NAMESPACE, STALE_METRIC, {"label": "stale account-regions"}]],
            "Maximum",
        ),
        _graph(
            "Seconds since the last delivery, worst account per region",
            home,
            [
                [
                    {
                        "id": f"age{index}",
                        "label": region,
                        "expression": f"MAX(SEARCH('{{{METRIC_NAMESPACE},Account,Region}} "
                        f'MetricName="{SECONDS_METRIC}" Region="{region}"\', '
                        f"'Maximum', {PERIOD_SECONDS}))",
                    }
                ]
                for index, region in enumerate(regions)
            ],
            "Maximum",
        ),
        _graph(
            "Delivery to S3: success (1 = every attempt succeeded)",
            home,
            _per_stream("DeliveryToS3.Success", delivery_streams, "Minimum"),
            "Minimum",
            yAxis={"left": {"min": 0, "max": 1}},
        ),
        _graph(
            "Delivery to S3: age of the oldest record waiting (s)",
            home,
            _per_stream("DeliveryToS3.DataFreshness", delivery_streams, "Maximum"),
            "Maximum",
        ),
    ]
    if partitioned:
        # Past ActivePartitionsLimit (500 by default) records go to the error prefix
        # activePartitionExceeded ("Dynamic partitioning CloudWatch metrics",
        # https://docs.aws.amazon.com/firehose/latest/dev/monitoring-with-cloudwatch-metrics.html).
        widgets.append(
            _graph(
                "Active partitions per stream (records past the limit go to errors/)",
                home,
                [
                    *_per_stream("PartitionCount", delivery_streams, "Maximum"),
                    *_per_stream("PartitionCountExceeded", delivery_streams, "Maximum"),
                ],
                "Maximum",
            )
        )
    throttled = _per_stream("ThrottledRecords", delivery_streams, "Sum")
    throttled += [
        ["AWS/Kinesis", "WriteProvisionedThroughputExceeded", "StreamName", stream,
         {"label": f"{region} (Kinesis)", "stat": "Sum"}]
        for region, stream in sorted(kinesis_streams.items())
    ]  # fmt: skip
    widgets += [
        _graph("Throttled records", home, throttled, "Sum"),
        _graph(
            "Uncovered log groups of this account's own member stack, per region",
            home,
            [
                [METRIC_NAMESPACE, UNCOVERED_METRIC, {"label": region, "region": region}]
                for region in regions
            ],
            "Maximum",
        ),
        {
            "type": "text",
            "width": 2 * WIDTH,
            "height": 2,
            "properties": {
                "markdown": "Member accounts publish their uncovered log groups in their own "
                "accounts: `central-logging audit --organization --assume-role ROLE "
                "--summary` prints one line per account-region. Stale account-regions are "
                "named by the freshness function's result and its log."
            },
        },
    ]
    for index, widget in enumerate(widgets):
        widget["x"] = (index % 2) * WIDTH
        widget["y"] = (index // 2) * HEIGHT
    return {"widgets": widgets}


def declare_dashboard(
    parent: pulumi.Resource,
    name: str,
    *,
    home: str,
    delivery_streams: Mapping[str, str],
    kinesis_streams: Mapping[str, str],
    partitioned: bool,
) -> aws.cloudwatch.Dashboard:
    body = dashboard_body(
        home=home,
        delivery_streams=delivery_streams,
        kinesis_streams=kinesis_streams,
        partitioned=partitioned,
    )
    return aws.cloudwatch.Dashboard(
        f"{name}-dashboard",
        region=home,
        dashboard_name=DASHBOARD_NAME,
        dashboard_body=json.dumps(body, sort_keys=True),
        opts=ResourceOptions(parent=parent),
    )
