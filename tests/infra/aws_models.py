"""AWS's published constraints applied to what our stacks declare.

Each declared resource is turned into the AWS API request(s) that create it (the table
REQUESTS, one small function per Pulumi type, mirroring what the AWS provider sends), and
each request is checked against botocore's service model by walking its input shape:
required members, members the API does not have, types, enums, length and value ranges,
patterns. botocore's own client-side validation checks required members, types and minimum
lengths only, hence the walk. A few limits AWS documents outside the model are in EXTRA.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import botocore.session

from tests.infra.harness import Resource

Request = tuple[str, str, dict[str, Any]]  # service, operation, parameters

# Pulumi names a resource without an explicit name "<logical name>-<7 random hex>"
# (https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming).
AUTONAME_SUFFIX = "-0a1b2c3"


@functools.cache
def _service(name: str) -> Any:
    return botocore.session.get_session().get_service_model(name)


def problems(service: str, operation: str, params: Mapping[str, Any]) -> list[str]:
    """Everything in `params` that `service`'s `operation` would refuse, one line each."""
    shape = _service(service).operation_model(operation).input_shape
    found = list(_walk(shape, params, f"{service}.{operation}"))
    for check in EXTRA.get((service, operation), []):
        found.extend(check(params))
    return found


def _walk(shape: Any, value: Any, path: str) -> Iterator[str]:
    if value is None:
        return
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, Mapping):
            yield f"{path}: {value!r} is not a structure"
            return
        for name in shape.required_members:
            if value.get(name) is None:
                yield f"{path}.{name}: required"
        for name, member in value.items():
            if name not in shape.members:
                yield f"{path}.{name}: {shape.name} has no such member"
            else:
                yield from _walk(shape.members[name], member, f"{path}.{name}")
        return
    if kind in ("list", "map"):
        expected = list if kind == "list" else Mapping
        if not isinstance(value, expected):
            yield f"{path}: {value!r} is not a {kind}"
            return
        yield from _range(path, len(value), meta, "items")
        if kind == "list":
            for i, item in enumerate(value):
                yield from _walk(shape.member, item, f"{path}[{i}]")
        else:
            for k, v in value.items():
                yield from _walk(shape.key, k, f"{path} key {k!r}")
                yield from _walk(shape.value, v, f"{path}[{k!r}]")
        return
    if kind == "string":
        if not isinstance(value, str):
            yield f"{path}: {value!r} is not a string"
            return
        if shape.enum and value not in shape.enum:
            yield f"{path}: {value!r} is not one of {', '.join(shape.enum)}"
        yield from _range(path, len(value), meta, "characters")
        pattern = meta.get("pattern")
        if pattern and not re.fullmatch(_python_regex(pattern), value):
            yield f"{path}: {value!r} does not match {pattern}"
        return
    if kind in ("integer", "long", "float", "double"):
        integral = kind in ("integer", "long")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            yield f"{path}: {value!r} is not a number"
        elif integral and value != int(value):
            yield f"{path}: {value!r} is not an integer"
        else:
            yield from _range(path, value, meta, "")
        return
    if kind == "boolean" and not isinstance(value, bool):
        yield f"{path}: {value!r} is not a boolean"


def _range(path: str, measure: float, meta: Mapping[str, Any], unit: str) -> Iterator[str]:
    low, high = meta.get("min"), meta.get("max")
    if (low is not None and measure < low) or (high is not None and measure > high):
        bounds = f"{low if low is not None else ''}..{high if high is not None else ''}"
        yield f"{path}: {measure:g} {unit} is outside {bounds}".replace("  ", " ")


@functools.cache
def _python_regex(pattern: str) -> str:
    """AWS models write patterns in Java syntax: the few constructs Python lacks, translated
    (a pattern still not understood fails the test). AWS's services match the whole value
    (Java's `matches`): a stream name "a b" is refused though "a" matches [a-zA-Z0-9_.-]+."""
    return (
        # Java spells the supplementary planes as a UTF-16 surrogate range.
        pattern.replace(r"\uD800\uDC00-\uDBFF\uDFFF", r"\U00010000-\U0010FFFF")
        .replace(r"\p{L}", "a-zA-Z\u00c0-\uffff")
        .replace(r"\p{N}", "0-9")
        .replace(r"\p{Z}", " ")
        .replace(r"\p{Alpha}", "a-zA-Z")
        .replace(r"\p{Alnum}", "a-zA-Z0-9")
    )


# --- limits AWS documents outside the service model -------------------------------------


def _log_retention(params: Mapping[str, Any]) -> list[str]:
    # PutRetentionPolicy: "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180,
    # 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, and 3653."
    allowed = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827}
    allowed |= {2192, 2557, 2922, 3288, 3653}
    days = params["retentionInDays"]
    return [] if days in allowed else [f"logs.PutRetentionPolicy: {days} days is not allowed"]


def _queue_attributes(params: Mapping[str, Any]) -> list[str]:
    # CreateQueue: MessageRetentionPeriod "from 60 seconds (1 minute) to 1,209,600 seconds
    # (14 days)"; queue names "up to 80 characters: alphanumeric characters, hyphens (-),
    # and underscores (_)".
    found = []
    # VisibilityTimeout "from 0 to 43,200 seconds (12 hours)".
    visibility = params.get("Attributes", {}).get("VisibilityTimeout")
    if visibility is not None and not 0 <= int(visibility) <= 43_200:
        found.append(f"sqs.CreateQueue: VisibilityTimeout {visibility} is outside 0..43200")
    retention = params.get("Attributes", {}).get("MessageRetentionPeriod")
    if retention is not None and not 60 <= int(retention) <= 1_209_600:
        found.append(f"sqs.CreateQueue: MessageRetentionPeriod {retention} is outside 60..1209600")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", params["QueueName"]):
        found.append(f"sqs.CreateQueue: queue name {params['QueueName']!r} is not allowed")
    return found


def _sqs_event_source(params: Mapping[str, Any]) -> list[str]:
    # CreateEventSourceMapping for SQS: BatchSize up to 10,000 for a standard queue, and over
    # 10 only with MaximumBatchingWindowInSeconds of at least 1; MaximumConcurrency 2..1,000
    # (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html,
    # https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
    found = []
    batch = params.get("BatchSize", 10)
    window = params.get("MaximumBatchingWindowInSeconds", 0)
    if not 1 <= batch <= 10_000 or (batch > 10 and window < 1):
        found.append(f"lambda.CreateEventSourceMapping: BatchSize {batch} with window {window}")
    concurrency = params.get("ScalingConfig", {}).get("MaximumConcurrency")
    if concurrency is not None and not 2 <= concurrency <= 1000:
        found.append(f"lambda.CreateEventSourceMapping: MaximumConcurrency {concurrency}")
    return found


def _function_name(params: Mapping[str, Any]) -> list[str]:
    # CreateFunction: the model allows an ARN (140); a function name alone is "1-64 characters".
    name = params["FunctionName"]
    return [] if len(name) <= 64 else [f"lambda.CreateFunction: {name!r} exceeds 64 characters"]


def _stream_retention(params: Mapping[str, Any]) -> list[str]:
    # IncreaseStreamRetentionPeriod: "up to 8760 hours (365 days)"; the default and minimum
    # are 24 hours.
    hours = params["RetentionPeriodHours"]
    return [] if 24 <= hours <= 8760 else [f"kinesis: retention {hours} h is outside 24..8760"]


def _alarm_period(params: Mapping[str, Any]) -> list[str]:
    # PutMetricAlarm: "Valid values are 10, 20, 30, and any multiple of 60."
    period = params.get("Period")
    if period is None or period in (10, 20, 30) or period % 60 == 0:
        return []
    return [f"cloudwatch.PutMetricAlarm: period {period} is not 10, 20, 30 or a multiple of 60"]


def _dynamic_partitioning_buffer(params: Mapping[str, Any]) -> list[str]:
    # Firehose dynamic partitioning: "the minimum buffer size is 64 MiB" and no zero
    # buffering (dynamic-partitioning.html, "Buffering").
    s3 = params.get("ExtendedS3DestinationConfiguration") or {}
    if not (s3.get("DynamicPartitioningConfiguration") or {}).get("Enabled"):
        return []
    hints = s3.get("BufferingHints") or {}
    found = []
    if hints.get("SizeInMBs", 64) < 64:
        found.append(f"firehose: buffer {hints['SizeInMBs']} MiB is below 64 with partitioning")
    if hints.get("IntervalInSeconds", 300) < 60:
        found.append(
            f"firehose: buffer interval {hints['IntervalInSeconds']} s is below 60 with "
            "partitioning"
        )
    return found


def _account_policy(params: Mapping[str, Any]) -> list[str]:
    # PutAccountPolicy: the name "cannot start with aws/"; "The selectionCriteria string can
    # be up to 25KB in length ... determined by using its UTF-8 bytes."
    found = []
    if params["policyName"].startswith("aws/"):
        found.append(f"logs.PutAccountPolicy: name {params['policyName']!r} starts with aws/")
    size = len(params.get("selectionCriteria", "").encode())
    if size > 25 * 1024:
        found.append(f"logs.PutAccountPolicy: selectionCriteria of {size} bytes exceeds 25 KB")
    return found


def _template_body(params: Mapping[str, Any]) -> list[str]:
    # CloudFormation quotas: "Template body size in a request: 51,200 bytes".
    size = len(params["TemplateBody"].encode())
    return [] if size <= 51_200 else [f"cloudformation: template body of {size} bytes > 51200"]


EXTRA: dict[tuple[str, str], list[Callable[[Mapping[str, Any]], list[str]]]] = {
    ("cloudformation", "CreateStackSet"): [_template_body],
    ("logs", "PutRetentionPolicy"): [_log_retention],
    ("sqs", "CreateQueue"): [_queue_attributes],
    ("lambda", "CreateFunction"): [_function_name],
    ("lambda", "CreateEventSourceMapping"): [_sqs_event_source],
    ("kinesis", "IncreaseStreamRetentionPeriod"): [_stream_retention],
    ("cloudwatch", "PutMetricAlarm"): [_alarm_period],
    ("firehose", "CreateDeliveryStream"): [_dynamic_partitioning_buffer],
    ("logs", "PutAccountPolicy"): [_account_policy],
}


# --- Pulumi inputs -> AWS requests --------------------------------------------------------


def _compact(value: Any) -> Any:
    """Drop unset members, and make whole numbers ints (the mock runtime sends floats)."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _name(r: Resource, key: str = "name") -> str:
    name = r.inputs.get(key)
    return str(name) if name else f"{r.name}{AUTONAME_SUFFIX}"


def _tail(arn_or_name: str) -> str:
    """The name in an ARN (…:rule/NAME, …:role/NAME) or a plain name."""
    return re.split(r"[:/]", arn_or_name)[-1]


def _firehose(r: Resource) -> list[Request]:
    i = r.inputs
    s3 = i["extendedS3Configuration"]
    source = i.get("kinesisSourceConfiguration")
    sse = i.get("serverSideEncryption")
    processing = s3.get("processingConfiguration")
    logging_options = s3.get("cloudwatchLoggingOptions")
    destination = {
        "RoleARN": s3["roleArn"],
        "BucketARN": s3["bucketArn"],
        "Prefix": s3.get("prefix"),
        "ErrorOutputPrefix": s3.get("errorOutputPrefix"),
        "BufferingHints": {
            "SizeInMBs": s3.get("bufferingSize"),
            "IntervalInSeconds": s3.get("bufferingInterval"),
        },
        "CompressionFormat": s3.get("compressionFormat"),
        "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": s3["kmsKeyArn"]}}
        if s3.get("kmsKeyArn")
        else None,
        "CloudWatchLoggingOptions": {
            "Enabled": logging_options.get("enabled"),
            "LogGroupName": logging_options.get("logGroupName"),
            "LogStreamName": logging_options.get("logStreamName"),
        }
        if logging_options
        else None,
        "ProcessingConfiguration": {
            "Enabled": processing.get("enabled"),
            "Processors": [
                {
                    "Type": p["type"],
                    "Parameters": [
                        {"ParameterName": q["parameterName"], "ParameterValue": q["parameterValue"]}
                        for q in p.get("parameters", [])
                    ]
                    or None,
                }
                for p in processing.get("processors", [])
            ],
        }
        if processing
        else None,
        "DynamicPartitioningConfiguration": {
            "Enabled": s3["dynamicPartitioningConfiguration"].get("enabled"),
            "RetryOptions": {
                "DurationInSeconds": s3["dynamicPartitioningConfiguration"].get("retryDuration")
            },
        }
        if s3.get("dynamicPartitioningConfiguration")
        else None,
        "FileExtension": s3.get("fileExtension"),
    }
    request = {
        "DeliveryStreamName": _name(r),
        "DeliveryStreamType": "KinesisStreamAsSource" if source else "DirectPut",
        "KinesisStreamSourceConfiguration": {
            "KinesisStreamARN": source["kinesisStreamArn"],
            "RoleARN": source["roleArn"],
        }
        if source
        else None,
        "DeliveryStreamEncryptionConfigurationInput": {"KeyType": sse.get("keyType")}
        if sse and sse.get("enabled")
        else None,
        "ExtendedS3DestinationConfiguration": destination,
    }
    return [("firehose", "CreateDeliveryStream", request)]


def _kinesis_stream(r: Resource) -> list[Request]:
    i = r.inputs
    name = _name(r)
    requests: list[Request] = [
        (
            "kinesis",
            "CreateStream",
            {
                "StreamName": name,
                "ShardCount": i.get("shardCount"),
                "StreamModeDetails": {"StreamMode": i["streamModeDetails"]["streamMode"]}
                if i.get("streamModeDetails")
                else None,
            },
        )
    ]
    if i.get("encryptionType") == "KMS":
        requests.append(
            (
                "kinesis",
                "StartStreamEncryption",
                {"StreamName": name, "EncryptionType": "KMS", "KeyId": i["kmsKeyId"]},
            )
        )
    if i.get("retentionPeriod"):
        requests.append(
            (
                "kinesis",
                "IncreaseStreamRetentionPeriod",
                {"StreamName": name, "RetentionPeriodHours": i["retentionPeriod"]},
            )
        )
    return requests


def _log_group(r: Resource) -> list[Request]:
    name = _name(r)
    requests: list[Request] = [("logs", "CreateLogGroup", {"logGroupName": name})]
    if r.inputs.get("retentionInDays"):
        requests.append(
            (
                "logs",
                "PutRetentionPolicy",
                {"logGroupName": name, "retentionInDays": r.inputs["retentionInDays"]},
            )
        )
    return requests


def _lambda_function(r: Resource) -> list[Request]:
    i = r.inputs
    return [
        (
            "lambda",
            "CreateFunction",
            {
                "FunctionName": _name(r),
                "Runtime": i.get("runtime"),
                "Role": i["role"],
                "Handler": i.get("handler"),
                # The archive itself is built by Pulumi from the handler files.
                "Code": {"ZipFile": b"PK"},
                "Description": i.get("description"),
                "Timeout": i.get("timeout"),
                "MemorySize": i.get("memorySize"),
                "Architectures": i.get("architectures"),
                "DeadLetterConfig": {"TargetArn": i["deadLetterConfig"]["targetArn"]}
                if i.get("deadLetterConfig")
                else None,
                "Environment": {"Variables": i["environment"]["variables"]}
                if i.get("environment")
                else None,
            },
        )
    ]


def _event_target(r: Resource) -> list[Request]:
    i = r.inputs
    retry = i.get("retryPolicy")
    target = {
        "Id": i.get("targetId") or f"{r.name}{AUTONAME_SUFFIX}",
        "Arn": i["arn"],
        "Input": i.get("input"),
        "RetryPolicy": {
            "MaximumRetryAttempts": retry.get("maximumRetryAttempts"),
            "MaximumEventAgeInSeconds": retry.get("maximumEventAgeInSeconds"),
        }
        if retry
        else None,
        "DeadLetterConfig": {"Arn": i["deadLetterConfig"]["arn"]}
        if i.get("deadLetterConfig")
        else None,
    }
    return [("events", "PutTargets", {"Rule": _tail(i["rule"]), "Targets": [target]})]


def _alarm(r: Resource) -> list[Request]:
    i = r.inputs
    return [
        (
            "cloudwatch",
            "PutMetricAlarm",
            {
                "AlarmName": _name(r),
                "AlarmDescription": i.get("alarmDescription"),
                "AlarmActions": i.get("alarmActions"),
                "OKActions": i.get("okActions"),
                "Namespace": i.get("namespace"),
                "MetricName": i.get("metricName"),
                "Dimensions": [{"Name": k, "Value": v} for k, v in i["dimensions"].items()]
                if i.get("dimensions")
                else None,
                "Statistic": i.get("statistic"),
                "Period": i.get("period"),
                "EvaluationPeriods": i["evaluationPeriods"],
                "Threshold": i.get("threshold"),
                "ComparisonOperator": i["comparisonOperator"],
                "TreatMissingData": i.get("treatMissingData"),
            },
        )
    ]


def _lifecycle(r: Resource) -> list[Request]:
    rules = []
    for rule in r.inputs["rules"]:
        rules.append(
            {
                "ID": rule.get("id"),
                "Status": rule["status"],
                "Filter": {"Prefix": rule["filter"]["prefix"]} if rule.get("filter") else None,
                "Transitions": [
                    {"Days": t.get("days"), "StorageClass": t["storageClass"]}
                    for t in rule.get("transitions", [])
                ]
                or None,
                "NoncurrentVersionTransitions": [
                    {"NoncurrentDays": t.get("noncurrentDays"), "StorageClass": t["storageClass"]}
                    for t in rule.get("noncurrentVersionTransitions", [])
                ]
                or None,
                "Expiration": {"Days": rule["expiration"]["days"]}
                if rule.get("expiration")
                else None,
                "NoncurrentVersionExpiration": {
                    "NoncurrentDays": rule["noncurrentVersionExpiration"]["noncurrentDays"]
                }
                if rule.get("noncurrentVersionExpiration")
                else None,
                "AbortIncompleteMultipartUpload": {
                    "DaysAfterInitiation": rule["abortIncompleteMultipartUpload"][
                        "daysAfterInitiation"
                    ]
                }
                if rule.get("abortIncompleteMultipartUpload")
                else None,
            }
        )
    return [
        (
            "s3",
            "PutBucketLifecycleConfiguration",
            {"Bucket": r.inputs["bucket"], "LifecycleConfiguration": {"Rules": rules}},
        )
    ]


def _trail(r: Resource) -> list[Request]:
    i = r.inputs
    return [
        (
            "cloudtrail",
            "CreateTrail",
            {
                "Name": i["name"],
                "S3BucketName": i["s3BucketName"],
                "S3KeyPrefix": i.get("s3KeyPrefix"),
                "IncludeGlobalServiceEvents": i.get("includeGlobalServiceEvents"),
                "IsMultiRegionTrail": i.get("isMultiRegionTrail"),
                "EnableLogFileValidation": i.get("enableLogFileValidation"),
            },
        ),
        (
            "cloudtrail",
            "PutEventSelectors",
            {
                "TrailName": i["name"],
                "AdvancedEventSelectors": [
                    {
                        "Name": selector.get("name"),
                        "FieldSelectors": [
                            {
                                "Field": f["field"],
                                "Equals": f.get("equals"),
                                "StartsWith": f.get("startsWiths"),
                            }
                            for f in selector["fieldSelectors"]
                        ],
                    }
                    for selector in i["advancedEventSelectors"]
                ],
            },
        ),
    ]


def _object_lock(r: Resource) -> list[Request]:
    retention = r.inputs["rule"]["defaultRetention"]
    return [
        (
            "s3",
            "PutObjectLockConfiguration",
            {
                "Bucket": r.inputs["bucket"],
                "ObjectLockConfiguration": {
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {
                        "DefaultRetention": {
                            "Mode": retention.get("mode"),
                            "Days": retention.get("days"),
                            "Years": retention.get("years"),
                        }
                    },
                },
            },
        )
    ]


def _glue_table(r: Resource) -> list[Request]:
    i = r.inputs
    sd = i.get("storageDescriptor") or {}
    serde = sd.get("serDeInfo")
    table = {
        "Name": i["name"],
        "Description": i.get("description"),
        "TableType": i.get("tableType"),
        "Parameters": i.get("parameters"),
        "ViewOriginalText": i.get("viewOriginalText"),
        "ViewExpandedText": i.get("viewExpandedText"),
        "PartitionKeys": [{"Name": k["name"], "Type": k.get("type")} for k in i["partitionKeys"]]
        if i.get("partitionKeys")
        else None,
        "StorageDescriptor": {
            "Columns": [{"Name": c["name"], "Type": c.get("type")} for c in sd.get("columns", [])],
            "Location": sd.get("location"),
            "InputFormat": sd.get("inputFormat"),
            "OutputFormat": sd.get("outputFormat"),
            "Compressed": sd.get("compressed"),
            "SerdeInfo": {
                "SerializationLibrary": serde.get("serializationLibrary"),
                "Parameters": serde.get("parameters"),
            }
            if serde
            else None,
        },
    }
    return [("glue", "CreateTable", {"DatabaseName": i["databaseName"], "TableInput": table})]


def _workgroup(r: Resource) -> list[Request]:
    i = r.inputs
    c = i.get("configuration") or {}
    result = c.get("resultConfiguration") or {}
    encryption = result.get("encryptionConfiguration")
    configuration = {
        "EnforceWorkGroupConfiguration": c.get("enforceWorkgroupConfiguration"),
        "PublishCloudWatchMetricsEnabled": c.get("publishCloudwatchMetricsEnabled"),
        "EngineVersion": {"SelectedEngineVersion": c["engineVersion"]["selectedEngineVersion"]}
        if c.get("engineVersion")
        else None,
        "ResultConfiguration": {
            "OutputLocation": result.get("outputLocation"),
            "EncryptionConfiguration": {
                "EncryptionOption": encryption.get("encryptionOption"),
                "KmsKey": encryption.get("kmsKeyArn"),
            }
            if encryption
            else None,
        },
    }
    return [
        (
            "athena",
            "CreateWorkGroup",
            {
                "Name": i["name"],
                "Description": i.get("description"),
                "Configuration": configuration,
            },
        )
    ]


def _simple(
    service: str, operation: str, fields: Mapping[str, str | Callable[[Resource], Any]]
) -> Callable[[Resource], list[Request]]:
    """A request whose members are Pulumi inputs by name (or computed from the resource)."""

    def build(r: Resource) -> list[Request]:
        params = {
            member: source(r) if callable(source) else r.inputs.get(source)
            for member, source in fields.items()
        }
        return [(service, operation, params)]

    return build


def _json_text(key: str) -> Callable[[Resource], Any]:
    return lambda r: r.inputs[key] if isinstance(r.inputs[key], str) else json.dumps(r.inputs[key])


REQUESTS: dict[str, Callable[[Resource], list[Request]]] = {
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": _firehose,
    "aws:kinesis/stream:Stream": _kinesis_stream,
    "aws:cloudwatch/logDestination:LogDestination": _simple(
        "logs",
        "PutDestination",
        {"destinationName": _name, "targetArn": "targetArn", "roleArn": "roleArn"},
    ),
    "aws:cloudwatch/logDestinationPolicy:LogDestinationPolicy": _simple(
        "logs",
        "PutDestinationPolicy",
        {
            "destinationName": "destinationName",
            "accessPolicy": "accessPolicy",
            "forceUpdate": "forceUpdate",
        },
    ),
    "aws:cloudwatch/logAccountPolicy:LogAccountPolicy": _simple(
        "logs",
        "PutAccountPolicy",
        {
            "policyName": "policyName",
            "policyDocument": "policyDocument",
            "policyType": "policyType",
            "scope": "scope",
            "selectionCriteria": "selectionCriteria",
        },
    ),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": _simple(
        "logs",
        "PutMetricFilter",
        {
            "logGroupName": "logGroupName",
            "filterName": _name,
            "filterPattern": "pattern",
            "metricTransformations": lambda r: [
                {
                    "metricName": r.inputs["metricTransformation"]["name"],
                    "metricNamespace": r.inputs["metricTransformation"]["namespace"],
                    "metricValue": r.inputs["metricTransformation"]["value"],
                }
            ],
        },
    ),
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/logStream:LogStream": _simple(
        "logs", "CreateLogStream", {"logGroupName": "logGroupName", "logStreamName": _name}
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _simple(
        "cloudwatch",
        "PutDashboard",
        {"DashboardName": "dashboardName", "DashboardBody": "dashboardBody"},
    ),
    "aws:cloudwatch/eventRule:EventRule": _simple(
        "events",
        "PutRule",
        {
            "Name": _name,
            "Description": "description",
            "EventPattern": "eventPattern",
            "ScheduleExpression": "scheduleExpression",
        },
    ),
    "aws:cloudwatch/eventTarget:EventTarget": _event_target,
    "aws:iam/role:Role": _simple(
        "iam",
        "CreateRole",
        {
            "RoleName": _name,
            "Description": "description",
            "AssumeRolePolicyDocument": _json_text("assumeRolePolicy"),
        },
    ),
    "aws:iam/rolePolicy:RolePolicy": _simple(
        "iam",
        "PutRolePolicy",
        {
            "RoleName": lambda r: _tail(r.inputs["role"]),
            "PolicyName": _name,
            "PolicyDocument": _json_text("policy"),
        },
    ),
    "aws:lambda/function:Function": _lambda_function,
    "aws:lambda/permission:Permission": _simple(
        "lambda",
        "AddPermission",
        {
            "FunctionName": "function",
            "StatementId": lambda r: r.inputs.get("statementId") or f"terraform-{r.name}",
            "Action": "action",
            "Principal": "principal",
            "SourceArn": "sourceArn",
        },
    ),
    "aws:lambda/invocation:Invocation": _simple(
        "lambda", "Invoke", {"FunctionName": "functionName", "Payload": "input"}
    ),
    "aws:sqs/queue:Queue": _simple(
        "sqs",
        "CreateQueue",
        {
            "QueueName": _name,
            "Attributes": lambda r: {
                key: str(_compact(r.inputs[pulumi_key])).lower()
                if isinstance(r.inputs[pulumi_key], bool)
                else str(_compact(r.inputs[pulumi_key]))
                for key, pulumi_key in (
                    ("MessageRetentionPeriod", "messageRetentionSeconds"),
                    ("SqsManagedSseEnabled", "sqsManagedSseEnabled"),
                    ("VisibilityTimeout", "visibilityTimeoutSeconds"),
                    ("RedrivePolicy", "redrivePolicy"),
                )
                if pulumi_key in r.inputs
            },
        },
    ),
    "aws:lambda/eventSourceMapping:EventSourceMapping": _simple(
        "lambda",
        "CreateEventSourceMapping",
        {
            "EventSourceArn": "eventSourceArn",
            "FunctionName": "functionName",
            "BatchSize": "batchSize",
            "MaximumBatchingWindowInSeconds": "maximumBatchingWindowInSeconds",
            "FunctionResponseTypes": "functionResponseTypes",
            "ScalingConfig": lambda r: {
                "MaximumConcurrency": (r.inputs.get("scalingConfig") or {}).get(
                    "maximumConcurrency"
                )
            },
        },
    ),
    "aws:s3/bucketNotification:BucketNotification": _simple(
        "s3",
        "PutBucketNotificationConfiguration",
        {
            "Bucket": "bucket",
            "NotificationConfiguration": lambda r: {
                "QueueConfigurations": [
                    {
                        "QueueArn": q["queueArn"],
                        "Events": q["events"],
                        "Filter": {
                            "Key": {"FilterRules": [{"Name": "prefix", "Value": q["filterPrefix"]}]}
                        },
                    }
                    for q in r.inputs["queues"]
                ]
            },
        },
    ),
    "aws:sqs/queuePolicy:QueuePolicy": _simple(
        "sqs",
        "SetQueueAttributes",
        {"QueueUrl": "queueUrl", "Attributes": lambda r: {"Policy": r.inputs["policy"]}},
    ),
    "aws:s3/bucket:Bucket": _simple(
        "s3",
        "CreateBucket",
        {
            "Bucket": lambda r: _name(r, "bucket").lower(),
            "ObjectLockEnabledForBucket": "objectLockEnabled",
        },
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _lifecycle,
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": _object_lock,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _simple(
        "s3",
        "PutBucketOwnershipControls",
        {
            "Bucket": "bucket",
            "OwnershipControls": lambda r: {
                "Rules": [{"ObjectOwnership": r.inputs["rule"]["objectOwnership"]}]
            },
        },
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _simple(
        "s3",
        "PutPublicAccessBlock",
        {
            "Bucket": "bucket",
            "PublicAccessBlockConfiguration": lambda r: {
                "BlockPublicAcls": r.inputs.get("blockPublicAcls"),
                "IgnorePublicAcls": r.inputs.get("ignorePublicAcls"),
                "BlockPublicPolicy": r.inputs.get("blockPublicPolicy"),
                "RestrictPublicBuckets": r.inputs.get("restrictPublicBuckets"),
            },
        },
    ),
    "aws:s3/bucketVersioning:BucketVersioning": _simple(
        "s3",
        "PutBucketVersioning",
        {
            "Bucket": "bucket",
            "VersioningConfiguration": lambda r: {
                "Status": r.inputs["versioningConfiguration"]["status"]
            },
        },
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        _simple(
            "s3",
            "PutBucketEncryption",
            {
                "Bucket": "bucket",
                "ServerSideEncryptionConfiguration": lambda r: {
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": rule["applyServerSideEncryptionByDefault"][
                                    "sseAlgorithm"
                                ],
                                "KMSMasterKeyID": rule["applyServerSideEncryptionByDefault"].get(
                                    "kmsMasterKeyId"
                                ),
                            },
                            "BucketKeyEnabled": rule.get("bucketKeyEnabled"),
                        }
                        for rule in r.inputs["rules"]
                    ]
                },
            },
        )
    ),
    "aws:s3/bucketLogging:BucketLogging": _simple(
        "s3",
        "PutBucketLogging",
        {
            "Bucket": "bucket",
            "BucketLoggingStatus": lambda r: {
                "LoggingEnabled": {
                    "TargetBucket": r.inputs["targetBucket"],
                    "TargetPrefix": r.inputs["targetPrefix"],
                    "TargetObjectKeyFormat": {
                        "PartitionedPrefix": {
                            "PartitionDateSource": r.inputs["targetObjectKeyFormat"][
                                "partitionedPrefix"
                            ]["partitionDateSource"]
                        }
                    }
                    if (r.inputs.get("targetObjectKeyFormat") or {}).get("partitionedPrefix")
                    else None,
                }
            },
        },
    ),
    "aws:cloudtrail/trail:Trail": _trail,
    "aws:s3/bucketPolicy:BucketPolicy": _simple(
        "s3", "PutBucketPolicy", {"Bucket": "bucket", "Policy": _json_text("policy")}
    ),
    "aws:kms/key:Key": _simple(
        "kms",
        "CreateKey",
        {"Description": "description", "Policy": _json_text("policy")},
    ),
    "aws:glue/catalogDatabase:CatalogDatabase": _simple(
        "glue",
        "CreateDatabase",
        {
            "DatabaseInput": lambda r: {
                "Name": r.inputs["name"],
                "Description": r.inputs.get("description"),
            }
        },
    ),
    "aws:glue/catalogTable:CatalogTable": _glue_table,
    "aws:athena/workgroup:Workgroup": _workgroup,
    "aws:athena/namedQuery:NamedQuery": _simple(
        "athena",
        "CreateNamedQuery",
        {
            "Name": "name",
            "Description": "description",
            "Database": "database",
            "QueryString": "query",
            "WorkGroup": "workgroup",
        },
    ),
    "aws:ssm/parameter:Parameter": _simple(
        "ssm",
        "PutParameter",
        {"Name": "name", "Description": "description", "Value": "value", "Type": "type"},
    ),
    "aws:sns/topic:Topic": _simple(
        "sns",
        "CreateTopic",
        {"Name": _name, "Attributes": lambda r: {"DisplayName": r.inputs.get("displayName")}},
    ),
    "aws:sns/topicSubscription:TopicSubscription": _simple(
        "sns",
        "Subscribe",
        {"TopicArn": "topic", "Protocol": "protocol", "Endpoint": "endpoint"},
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2": _simple(
        "s3", "PutObject", {"Bucket": "bucket", "Key": "key"}
    ),
    "aws:cloudformation/stackSet:StackSet": _simple(
        "cloudformation",
        "CreateStackSet",
        {
            "StackSetName": "name",
            "Description": "description",
            "TemplateBody": "templateBody",
            "Capabilities": "capabilities",
            "PermissionModel": "permissionModel",
            "CallAs": "callAs",
            "AutoDeployment": lambda r: {
                "Enabled": r.inputs["autoDeployment"]["enabled"],
                "RetainStacksOnAccountRemoval": r.inputs["autoDeployment"][
                    "retainStacksOnAccountRemoval"
                ],
                "DependsOn": r.inputs["autoDeployment"].get("dependsOnStackSets"),
            },
            "ManagedExecution": lambda r: {"Active": r.inputs["managedExecution"]["active"]},
        },
    ),
    "aws:cloudformation/stackSetInstance:StackSetInstance": _simple(
        "cloudformation",
        "CreateStackInstances",
        {
            "StackSetName": "stackSetName",
            "Regions": lambda r: [r.inputs["stackSetInstanceRegion"]],
            "CallAs": "callAs",
            "DeploymentTargets": lambda r: {
                "OrganizationalUnitIds": r.inputs["deploymentTargets"]["organizationalUnitIds"],
                "Accounts": r.inputs["deploymentTargets"].get("accounts"),
                "AccountFilterType": r.inputs["deploymentTargets"].get("accountFilterType"),
            },
            "OperationPreferences": lambda r: {
                "ConcurrencyMode": r.inputs["operationPreferences"]["concurrencyMode"],
                "MaxConcurrentPercentage": r.inputs["operationPreferences"][
                    "maxConcurrentPercentage"
                ],
                "FailureTolerancePercentage": r.inputs["operationPreferences"][
                    "failureTolerancePercentage"
                ],
                "RegionConcurrencyType": r.inputs["operationPreferences"]["regionConcurrencyType"],
            },
        },
    ),
}

# Types with no AWS API request of their own: checked through their children, or by Pulumi.
NO_REQUEST = {
    "pulumi:pulumi:Stack",  # the stack itself
    "pulumi:pulumi:StackReference",  # reads another stack's outputs, no AWS call
    "pulumi:providers:aws",  # provider configuration
}


def is_component(resource_type: str) -> bool:
    """Our own ComponentResources: groupings, not AWS resources."""
    return resource_type.startswith("central-logging:")


def requests(resource: Resource) -> list[Request]:
    """The requests that create `resource` (KeyError for a type without a mapping)."""
    return [
        (service, operation, _compact(params))
        for service, operation, params in REQUESTS[resource.type](resource)
    ]
