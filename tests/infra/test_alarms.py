"""The alarms of both stacks: metrics, dimensions and where they notify, in every region."""

from __future__ import annotations

from typing import Any

import pytest

from components.subscriber import SWEEP_SUMMARY_PATTERN, UNCOVERED_METRIC
from tests.infra.harness import ORG_ID, Run, config_error, run_program
from tests.infra.test_subscriber import run_member

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"


def alarms(run: Run, region: str) -> dict[str, dict[str, Any]]:
    """Alarm inputs of one region, by the alarm's purpose."""
    prefix = f"central-{region}-"
    return {
        a.name.removeprefix(prefix): a.inputs
        for a in run.of_type(ALARM)
        if a.name.startswith(prefix)
    }


def test_logging_alarms_watch_each_regions_stream_in_the_home_region() -> None:
    regions = ["eu-west-1", "us-east-1"]
    run = run_program(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "regions": regions,
            "alarmEmail": "oncall@example.com",
            "alarmFreshnessSeconds": 1200,
        }
    )
    # Every stream, so every alarm, is in the home region: one topic there.
    [topic] = run.of_type(TOPIC)
    assert (topic.name, topic.inputs["region"]) == ("central-eu-west-1-alarms", "eu-west-1")
    subscription = run.one(
        "aws:sns/topicSubscription:TopicSubscription", "central-eu-west-1-alarms-email"
    )
    assert (subscription.inputs["protocol"], subscription.inputs["endpoint"]) == (
        "email",
        "oncall@example.com",
    )
    for region in regions:
        found = alarms(run, region)
        found.pop("archive-stale", None)  # home region only: see its own test
        found.pop("freshness-dead-letters", None)  # likewise (tests/infra/test_freshness.py)
        near_limit = found.pop("partitions-near-limit")
        assert set(found) == {
            "delivery-failing",
            "data-stale",
            "records-throttled",
            "partitions-exceeded",
        }
        stream_name = run.one(
            "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
            f"central-{region}-firehose",
        ).state["name"]
        for alarm in found.values():
            assert alarm["region"] == "eu-west-1"
            assert alarm["namespace"] == "AWS/Firehose"
            assert alarm["dimensions"] == {"DeliveryStreamName": stream_name}
            assert alarm["alarmActions"] == alarm["okActions"] == [topic.state["arn"]]
        assert (
            found["delivery-failing"]["metricName"],
            found["delivery-failing"]["comparisonOperator"],
        ) == (
            "DeliveryToS3.Success",
            "LessThanThreshold",
        )
        assert found["data-stale"]["metricName"] == "DeliveryToS3.DataFreshness"
        assert found["data-stale"]["threshold"] == 1200
        assert found["records-throttled"]["metricName"] == "ThrottledRecords"
        exceeded = found["partitions-exceeded"]
        assert (exceeded["metricName"], exceeded["statistic"], exceeded["threshold"]) == (
            "PartitionCountExceeded",
            "Maximum",
            0,
        )
        assert "errors/activePartitionExceeded/" in exceeded["alarmDescription"]
        # PartitionCount / ActivePartitionsLimit of this stream: right whatever quota AWS grants.
        queries = {q["id"]: q for q in near_limit["metricQueries"]}
        assert queries["share"] == {
            "id": "share",
            "expression": "partitions / quota",
            "returnData": True,
        }
        for query_id, metric in (
            ("partitions", "PartitionCount"),
            ("quota", "ActivePartitionsLimit"),
        ):
            assert queries[query_id]["metric"]["metricName"] == metric
            assert queries[query_id]["metric"]["dimensions"] == {"DeliveryStreamName": stream_name}
            assert queries[query_id]["metric"]["namespace"] == "AWS/Firehose"
        assert (near_limit["threshold"], near_limit["comparisonOperator"]) == (
            0.9,
            "GreaterThanOrEqualToThreshold",
        )
        assert near_limit["region"] == "eu-west-1"
        assert near_limit["alarmActions"] == near_limit["okActions"] == [topic.state["arn"]]


def test_a_multi_region_logging_stack_notifies_a_topic_in_its_home_region() -> None:
    topic = "arn:aws:sns:eu-west-1:999999999999:ops"
    run = run_program(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "regions": ["eu-west-1", "us-east-1"],
            "alarmTopicArn": topic,
        }
    )
    assert run.of_type(ALARM)
    assert all(a.inputs["alarmActions"] == [topic] for a in run.of_type(ALARM))


def test_a_member_stack_notifies_a_topic_only_in_a_one_region_stack() -> None:
    message = config_error(
        {
            "role": "member",
            "loggingStack": "example-org/central-logging/logging",
            "regions": ["eu-west-1", "us-east-1"],
            "alarmTopicArn": "arn:aws:sns:eu-west-1:999999999999:ops",
        }
    )
    assert message == (
        "central-logging:alarmTopicArn is 'arn:aws:sns:eu-west-1:999999999999:ops'; "
        "CloudWatch alarms notify topics in their own region only, and regions includes "
        "us-east-1: use alarmEmail to have a topic created in each region."
    )


def test_kinesis_transport_adds_stream_alarms_to_an_existing_topic() -> None:
    topic = "arn:aws:sns:eu-west-1:999999999999:ops"
    run = run_program(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "transport": "kinesis",
            "archiveFormat": "raw",
            "alarmTopicArn": topic,
            "alarmIteratorAgeSeconds": 300,
        }
    )
    assert not run.of_type(TOPIC)
    found = alarms(run, "eu-west-1")
    stream = run.one("aws:kinesis/stream:Stream").state["name"]
    assert found["stream-iterator-age"]["metricName"] == "GetRecords.IteratorAgeMilliseconds"
    assert found["stream-iterator-age"]["threshold"] == 300_000
    assert found["stream-write-throttled"]["metricName"] == "WriteProvisionedThroughputExceeded"
    for purpose in ("stream-iterator-age", "stream-write-throttled"):
        assert found[purpose]["dimensions"] == {"StreamName": stream}
        assert found[purpose]["namespace"] == "AWS/Kinesis"
    assert all(a["alarmActions"] == [topic] for a in found.values())


def test_member_alarms_watch_the_functions_the_queue_and_the_gaps() -> None:
    run = run_member(regions=["eu-west-1", "us-east-1"], alarmEmail="oncall@example.com")
    for region in ("eu-west-1", "us-east-1"):
        found = alarms(run, region)
        assert set(found) == {
            "subscriber-errors",
            "reconciler-errors",
            "dead-letters",
            "uncovered-log-groups",
            "heartbeat-missing",
            "delivery-errors",
            "delivery-throttled",
        }
        topic = run.one(TOPIC, f"central-{region}-alarms").state["arn"]
        assert all(a["alarmActions"] == [topic] for a in found.values())
        assert found["subscriber-errors"]["dimensions"] == {
            "FunctionName": "central-logging-subscriber"
        }
        assert found["reconciler-errors"]["metricName"] == "Errors"
        queue = run.one("aws:sqs/queue:Queue", f"central-{region}-dead-letters").state["name"]
        assert found["dead-letters"]["dimensions"] == {"QueueName": queue}
        assert found["dead-letters"]["metricName"] == "ApproximateNumberOfMessagesVisible"
        metric_filter = run.one(
            "aws:cloudwatch/logMetricFilter:LogMetricFilter", f"central-{region}-uncovered"
        )
        assert metric_filter.inputs["logGroupName"] == "/aws/lambda/central-logging-reconciler"
        assert metric_filter.inputs["pattern"] == SWEEP_SUMMARY_PATTERN
        transformation = metric_filter.inputs["metricTransformation"]
        assert transformation["value"] == "$.uncovered"
        assert (
            found["uncovered-log-groups"]["metricName"],
            found["uncovered-log-groups"]["namespace"],
        ) == (
            UNCOVERED_METRIC,
            transformation["namespace"],
        )


@pytest.mark.parametrize("mode", ["lambda", "account-policy"])
def test_member_alarms_watch_the_heartbeat_and_cloudwatch_logs_own_delivery(mode: str) -> None:
    run = run_member(
        regions=["eu-west-1", "us-east-1"],
        alarmEmail="oncall@example.com",
        subscriptionMode=mode,
        filterName="org's-filter",
    )
    for region in ("eu-west-1", "us-east-1"):
        found = alarms(run, region)
        topic = run.one(TOPIC, f"central-{region}-alarms").state["arn"]
        heartbeat_group = run.one(
            "aws:cloudwatch/logGroup:LogGroup", f"central-{region}-heartbeat-log-group"
        )
        assert (heartbeat_group.inputs["name"], heartbeat_group.inputs["region"]) == (
            "/central-logging/heartbeat",
            region,
        )
        beat = found["heartbeat-missing"]
        assert (beat["namespace"], beat["metricName"], beat["statistic"]) == (
            "AWS/Logs",
            "IncomingLogEvents",
            "Sum",
        )
        assert beat["dimensions"] == {"LogGroupName": "/central-logging/heartbeat"}
        assert (beat["comparisonOperator"], beat["threshold"], beat["evaluationPeriods"]) == (
            "LessThanThreshold",
            1,
            3,
        )
        # No heartbeat is exactly what this alarm is for.
        assert beat["treatMissingData"] == "breaching"
        for purpose, metric in (
            ("delivery-errors", "DeliveryErrors"),
            ("delivery-throttled", "DeliveryThrottling"),
        ):
            alarm = found[purpose]
            assert "metricName" not in alarm and "namespace" not in alarm
            [query] = alarm["metricQueries"]
            assert query == {
                "id": "q1",
                "expression": f'SELECT SUM({metric}) FROM "AWS/Logs" '
                "WHERE FilterName = 'org\\'s-filter'",
                "period": 300,
                "returnData": True,
            }
            assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)
            assert alarm["treatMissingData"] == "notBreaching"
        for alarm in found.values():
            assert alarm["region"] == region
            assert alarm["alarmActions"] == alarm["okActions"] == [topic]


def test_the_heartbeat_function_runs_every_five_minutes_in_each_region() -> None:
    run = run_member(regions=["eu-west-1", "us-east-1"])
    for region in ("eu-west-1", "us-east-1"):
        prefix = f"central-{region}-heartbeat-function"
        function = run.one("aws:lambda/function:Function", prefix)
        assert (function.inputs["name"], function.inputs["region"]) == (
            "central-logging-heartbeat",
            region,
        )
        assert function.inputs["handler"] == "handlers.heartbeat.handler"
        schedule = run.one("aws:cloudwatch/eventRule:EventRule", f"{prefix}-schedule")
        assert schedule.inputs["scheduleExpression"] == "rate(5 minutes)"
        target = run.one("aws:cloudwatch/eventTarget:EventTarget", f"{prefix}-schedule")
        assert (target.inputs["rule"], target.inputs["arn"]) == (
            schedule.state["name"],
            function.state["arn"],
        )
        # Its own log group is subscribed too: Lambda's START and REPORT lines for every
        # run would flush an object into the account's partition each time.
        assert function.inputs["loggingConfig"] == {
            "logFormat": "JSON",
            "applicationLogLevel": "WARN",
            "systemLogLevel": "WARN",
        }
        # One component per file: the heartbeat is a child component of the member's.
        assert run.ancestor_types(function)[:2] == [
            "central-logging:heartbeat:Heartbeat",
            "central-logging:subscriber:MemberSubscriber",
        ]


@pytest.mark.parametrize(
    ("minutes", "rate", "periods"), [(1, "rate(1 minute)", 1), (15, "rate(15 minutes)", 9)]
)
def test_heartbeat_minutes_sets_the_schedule_and_the_missing_alarm(
    minutes: int, rate: str, periods: int
) -> None:
    run = run_member(regions=["eu-west-1"], heartbeatMinutes=minutes, alarmEmail="a@example.com")
    schedule = run.one(
        "aws:cloudwatch/eventRule:EventRule", "central-eu-west-1-heartbeat-function-schedule"
    )
    assert schedule.inputs["scheduleExpression"] == rate
    # Three missed heartbeats, in 5-minute periods.
    assert alarms(run, "eu-west-1")["heartbeat-missing"]["evaluationPeriods"] == periods


@pytest.mark.parametrize("config", [{}, {"alarmEmail": "oncall@example.com"}])
def test_archive_stale_watches_the_freshness_count_in_the_home_region(
    config: dict[str, object],
) -> None:
    run = run_program(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "regions": ["us-east-1", "eu-west-1"],
            **config,
        }
    )
    found = {a.name: a.inputs for a in run.of_type(ALARM) if a.name.endswith("archive-stale")}
    [(name, alarm)] = found.items()
    assert name == "central-eu-west-1-archive-stale"  # the home region (aws:region)
    assert (alarm["region"], alarm["namespace"], alarm["metricName"]) == (
        "eu-west-1",
        "CentralLogging",
        "StaleAccountRegions",
    )
    assert alarm.get("dimensions", {}) == {}
    assert (alarm["statistic"], alarm["comparisonOperator"], alarm["threshold"]) == (
        "Maximum",
        "GreaterThanThreshold",
        0,
    )
    # Two runs in a row, a minute apart: one late run is no alarm.
    assert (alarm["evaluationPeriods"], alarm["period"]) == (2, 60)
    # The check publishes every minute: its silence is a failure too.
    assert alarm["treatMissingData"] == "breaching"
    if "alarmEmail" in config:
        topic = run.one(TOPIC, "central-eu-west-1-alarms").state["arn"]
        assert alarm["alarmActions"] == alarm["okActions"] == [topic]
    else:
        assert not alarm.get("alarmActions")
    schedule = run.one("aws:cloudwatch/eventRule:EventRule", "central-freshness-function-schedule")
    assert (schedule.inputs["region"], schedule.inputs["scheduleExpression"]) == (
        "eu-west-1",
        "rate(1 minute)",
    )
    assert run.ancestor_types(schedule)[:2] == [
        "central-logging:freshness:FreshnessCheck",
        "central-logging:destination:CentralDestination",
    ]


def test_without_a_target_alarms_exist_without_actions() -> None:
    run = run_member()
    assert not run.of_type(TOPIC)
    assert all(not a.inputs.get("alarmActions") for a in run.of_type(ALARM))
    assert run.of_type(ALARM)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"alarmTopicArn": "ops-topic"},
            "central-logging:alarmTopicArn is 'ops-topic'; it must be the ARN of an SNS topic, "
            "arn:aws:sns:REGION:ACCOUNT:NAME.",
        ),
        (
            {"alarmEmail": "oncall"},
            "central-logging:alarmEmail is 'oncall'; it must be an email address.",
        ),
        (
            {
                "alarmEmail": "a@example.com",
                "alarmTopicArn": "arn:aws:sns:eu-west-1:999999999999:ops",
            },
            "Both central-logging:alarmTopicArn and central-logging:alarmEmail are set; set "
            "alarmTopicArn to use your topic or alarmEmail to have one created, not both.",
        ),
        (
            {"alarmTopicArn": "arn:aws:sns:us-east-1:999999999999:ops"},
            "central-logging:alarmTopicArn is 'arn:aws:sns:us-east-1:999999999999:ops'; the "
            "logging stack's alarms live in its home region eu-west-1, and CloudWatch alarms "
            "notify topics in their own region only: give a topic there.",
        ),
        (
            {"alarmFreshnessSeconds": "30"},
            "central-logging:alarmFreshnessSeconds is '30'; it must be a whole number from 60 to "
            "86400.",
        ),
        (
            {"alarmIteratorAgeSeconds": "forever"},
            "central-logging:alarmIteratorAgeSeconds is 'forever'; it must be a whole number "
            "from 60 to 86400.",
        ),
    ],
)
def test_bad_alarm_settings(config: dict[str, object], message: str) -> None:
    assert config_error({"role": "logging", "organizationId": ORG_ID, **config}) == message
