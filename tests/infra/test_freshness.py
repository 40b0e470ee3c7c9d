"""FreshnessCheck under Pulumi's mock runtime: how deliveries reach the function, who may
write its state, and what an existing bucket changes."""

from __future__ import annotations

from typing import Any

from tests.infra.harness import LOGGING_ACCOUNT_ID, ORG_ID, Run, run_program

QUEUE = "aws:sqs/queue:Queue"
STATE_KEYS = ["central-logging-freshness/state.json", "central-logging-freshness/report.json"]


def run_logging(**config: object) -> Run:
    return run_program({"role": "logging", "organizationId": ORG_ID, **config})


def statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    [found] = [s for s in policy["Statement"] if s.get("Sid") == sid]
    return found


def function_variables(run: Run) -> dict[str, str]:
    function = run.one("aws:lambda/function:Function", "central-freshness-function")
    variables: dict[str, str] = function.inputs["environment"]["variables"]
    return variables


def test_objects_created_under_the_prefix_reach_the_function_through_a_queue() -> None:
    run = run_logging()
    bucket = run.one("aws:s3/bucket:Bucket", "central-archive").state
    queue = run.one(QUEUE, "central-freshness-deliveries")
    dead_letters = run.one(QUEUE, "central-freshness-dead-letters")
    function = run.one("aws:lambda/function:Function", "central-freshness-function")

    notification = run.one("aws:s3/bucketNotification:BucketNotification").inputs
    assert notification["bucket"] == bucket["bucket"]
    assert notification["queues"] == [
        {
            "queueArn": queue.state["arn"],
            "events": ["s3:ObjectCreated:*"],
            # Only the heartbeat partition: announcements in proportion to streams, not to
            # what every account delivers.
            "filterPrefix": "CentralizedAccountsLog/account=heartbeat/",
        }
    ]
    mapping = run.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    assert mapping["eventSourceArn"] == queue.state["arn"]
    assert mapping["functionName"] == function.state["arn"]
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (mapping["batchSize"], mapping["maximumBatchingWindowInSeconds"]) == (1000, 10)
    assert mapping["scalingConfig"] == {"maximumConcurrency": 2}
    # Six times the function's timeout (Lambda developer guide), and poison to the DLQ.
    assert queue.inputs["visibilityTimeoutSeconds"] == 6 * function.inputs["timeout"]
    assert queue.inputs["redrivePolicy"] == (
        f'{{"deadLetterTargetArn": "{dead_letters.state["arn"]}", "maxReceiveCount": 5}}'
    )
    assert queue.inputs["sqsManagedSseEnabled"] is True
    alarm = run.one(
        "aws:cloudwatch/metricAlarm:MetricAlarm", "central-eu-west-1-freshness-dead-letters"
    )
    assert alarm.inputs["dimensions"] == {"QueueName": dead_letters.state["name"]}
    assert function_variables(run)["FRESHNESS_SOURCE"] == "events"


def test_only_the_archive_buckets_notifications_enter_the_queue() -> None:
    run = run_logging()
    bucket_arn = run.one("aws:s3/bucket:Bucket", "central-archive").state["arn"]
    queue_arn = run.one(QUEUE, "central-freshness-deliveries").state["arn"]
    policy = run.one("aws:sqs/queuePolicy:QueuePolicy").policy("policy")

    assert statement(policy, "ArchiveNotifications") == {
        "Sid": "ArchiveNotifications",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {
            "ArnEquals": {"aws:SourceArn": bucket_arn},
            "StringEquals": {"aws:SourceAccount": LOGGING_ACCOUNT_ID},
        },
    }
    # Anyone else, an IAM principal of the logging account included, is denied: a forged
    # "object created" would make a silent account look fresh.
    assert statement(policy, "DenyForgedDeliveries") == {
        "Sid": "DenyForgedDeliveries",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnNotEquals": {"aws:SourceArn": bucket_arn}},
    }


def test_only_the_freshness_role_writes_its_state_and_report() -> None:
    run = run_logging(archiveAdminRoleArns=["arn:aws:iam::999999999999:role/archive-admin"])
    bucket_arn = run.one("aws:s3/bucket:Bucket", "central-archive").state["arn"]
    role_arn = run.one("aws:iam/role:Role", "central-freshness-function").state["arn"]
    policy = run.one("aws:s3/bucketPolicy:BucketPolicy", "central-archive-policy").policy("policy")

    guard = statement(policy, "OnlyFreshnessWritesItsState")
    assert guard["Effect"] == "Deny" and guard["Principal"] == "*"
    assert guard["Action"] == ["s3:PutObject", "s3:DeleteObject"]
    assert guard["Resource"] == [f"{bucket_arn}/{key}" for key in STATE_KEYS]
    # Not even the archive's admins: only the function's own role.
    assert guard["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [role_arn]}}
    # And the state is outside the prefix only the delivery roles write.
    forged = statement(policy, "DenyForgedRecords")
    assert not any(key.startswith("CentralizedAccountsLog/") for key in STATE_KEYS)
    assert forged["Resource"] == f"{bucket_arn}/CentralizedAccountsLog/*"


def test_an_existing_bucket_is_listed_with_no_queue_or_notification_of_ours() -> None:
    run = run_logging(
        existingBucketName="lz-logs",
        freshnessMetrics="per-account",
        exemptAccounts=["111111111111"],
    )

    assert run.of_type(QUEUE) == []
    assert run.of_type("aws:s3/bucketNotification:BucketNotification") == []
    assert run.of_type("aws:lambda/eventSourceMapping:EventSourceMapping") == []
    variables = function_variables(run)
    assert variables["FRESHNESS_SOURCE"] == "listing"
    assert variables["FRESHNESS_METRICS"] == "per-account"
    assert variables["EXPECTED_FROM_ORGANIZATIONS"] == "true"
    assert variables["EXCLUDED_ACCOUNTS"] == '["111111111111"]'


def test_a_raw_archive_is_checked_per_region_without_reading_the_organisation() -> None:
    run = run_logging(archiveFormat="raw")
    policy = run.one("aws:iam/rolePolicy:RolePolicy", "central-freshness-function").policy("policy")

    assert function_variables(run)["EXPECTED_FROM_ORGANIZATIONS"] == "false"
    assert "ReadOrganizationAccounts" not in {s.get("Sid") for s in policy["Statement"]}


def test_the_threshold_allows_for_the_heartbeat_and_the_buffer() -> None:
    """Stale once the newest heartbeat is older than the heartbeat interval, 1.5 buffer
    intervals (Firehose's delivery) and 30 s for the notice: 13 minutes at the defaults,
    reported by the next run, a minute later at most."""
    assert function_variables(run_logging())["FRESHNESS_SECONDS"] == "780"
    slower = run_logging(heartbeatMinutes=10, bufferIntervalSeconds=600)
    assert function_variables(slower)["FRESHNESS_SECONDS"] == str(600 + 900 + 30)


def test_a_raw_archive_announces_every_object_and_reads_none() -> None:
    run = run_logging(archiveFormat="raw")
    [notification] = run.of_type("aws:s3/bucketNotification:BucketNotification")
    assert notification.inputs["queues"][0]["filterPrefix"] == "CentralizedAccountsLog/"
    policy = run.one("aws:iam/rolePolicy:RolePolicy", "central-freshness-function").policy("policy")
    assert statement(policy, "ReadState")["Resource"] == [
        f"arn:aws:s3:::central-archive/{STATE_KEYS[0]}"
    ]
