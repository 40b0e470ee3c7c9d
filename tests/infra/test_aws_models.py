"""Every resource of every stack configuration the tests render meets AWS's published model
(botocore's service models, walked shape by shape, and the limits AWS documents beside
them): what the mocks accept, `pulumi up` may still be refused."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.infra import aws_models
from tests.infra.harness import Resource, Run
from tests.infra.stacks import STACKS, render


def check(run: Run) -> tuple[list[str], list[str]]:
    """(types without a mapping to their AWS request, problems of the mapped requests)."""
    unmapped, problems = [], []
    for resource in run.resources:
        if aws_models.is_component(resource.type) or resource.type in aws_models.NO_REQUEST:
            continue
        if resource.type not in aws_models.REQUESTS:
            unmapped.append(resource.type)
            continue
        for service, operation, params in aws_models.requests(resource):
            problems += [
                f"{resource.name}: {p}" for p in aws_models.problems(service, operation, params)
            ]
    return sorted(set(unmapped)), problems


@pytest.mark.parametrize("stack", STACKS)
def test_every_declared_resource_meets_the_aws_model(stack: str) -> None:
    unmapped, problems = check(render(stack))
    assert unmapped == [], "map these types to their AWS request in tests/infra/aws_models.py"
    assert problems == []


def test_the_stacks_declare_every_mapped_type() -> None:
    """No mapping is dead: each is exercised by some stack configuration."""
    declared = {r.type for name in STACKS for r in render(name).resources}
    assert set(aws_models.REQUESTS) - declared == set()


def test_an_unmapped_type_fails_loudly() -> None:
    run = Run([Resource("", "aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"}, {})])
    assert check(run) == (["aws:ec2/vpc:Vpc"], [])


def one(stack: str, resource_type: str) -> Resource:
    found = render(stack).of_type(resource_type)
    assert found, f"{stack} declares no {resource_type}"
    return found[0]


def problems_after(
    stack: str, resource_type: str, change: Callable[[dict[str, Any]], None]
) -> list[str]:
    """The problems of one of our resources with one input changed."""
    resource = copy.deepcopy(one(stack, resource_type))
    assert check(Run([resource])) == ([], []), "unchanged, the resource meets the model"
    change(resource.inputs)
    unmapped, problems = check(Run([resource]))
    assert unmapped == []
    return problems


FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
STREAM = "aws:kinesis/stream:Stream"


def s3_setting(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs["extendedS3Configuration"].__setitem__(key, value)


def setting(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs.__setitem__(key, value)


BAD_VALUES = {
    "enum": (
        "logging-organization",
        FIREHOSE,
        s3_setting("compressionFormat", "BZIP2"),
        "ExtendedS3DestinationConfiguration.CompressionFormat: 'BZIP2' is not one of",
    ),
    "range": (
        "logging-organization",
        FIREHOSE,
        s3_setting("bufferingInterval", 901.0),
        "BufferingHints.IntervalInSeconds: 901 is outside 0..900",
    ),
    "length": (
        "logging-organization",
        FIREHOSE,
        setting("name", "d" * 65),
        "DeliveryStreamName: 65 characters is outside 1..64",
    ),
    "pattern": (
        "logging-kinesis-raw-accounts",
        STREAM,
        setting("name", "Central Log Destination"),
        "StreamName: 'Central Log Destination' does not match",
    ),
    "required": (
        "member-account-policy",
        "aws:cloudwatch/logAccountPolicy:LogAccountPolicy",
        setting("policyType", None),
        "logs.PutAccountPolicy.policyType: required",
    ),
    "documented-outside-the-model": (
        "member-lambda",
        "aws:cloudwatch/logGroup:LogGroup",
        setting("retentionInDays", 42.0),
        "logs.PutRetentionPolicy: 42 days is not allowed",
    ),
    "account-policy-name": (
        "member-account-policy",
        "aws:cloudwatch/logAccountPolicy:LogAccountPolicy",
        setting("policyName", "aws/central-logging"),
        "name 'aws/central-logging' starts with aws/",
    ),
    "account-policy-selection": (
        "member-account-policy",
        "aws:cloudwatch/logAccountPolicy:LogAccountPolicy",
        setting("selectionCriteria", "LogGroupName NOT IN " + str(["/aws/lambda/x" * 40] * 60)),
        "exceeds 25 KB",
    ),
    "partitioned-buffer": (
        "logging-organization",
        FIREHOSE,
        s3_setting("bufferingSize", 32.0),
        "firehose: buffer 32 MiB is below 64 with partitioning",
    ),
    "alarm-period": (
        "logging-organization",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        setting("period", 45.0),
        "period 45 is not 10, 20, 30 or a multiple of 60",
    ),
}


@pytest.mark.parametrize("kind", BAD_VALUES)
def test_a_bad_value_of_each_kind_is_found(kind: str) -> None:
    stack, resource_type, change, expected = BAD_VALUES[kind]
    problems = problems_after(stack, resource_type, change)
    assert any(expected in p for p in problems), problems


def test_the_walk_is_stricter_than_botocores_own_validation() -> None:
    """botocore's client-side validator lets an out-of-enum value and a pattern mismatch
    through; the walk does not."""
    from botocore.validate import ParamValidator

    model = aws_models._service("kinesis").operation_model("CreateStream").input_shape
    params = {"StreamName": "bad name", "StreamModeDetails": {"StreamMode": "SOMETIMES"}}
    assert not ParamValidator().validate(params, model).has_errors()
    assert len(aws_models.problems("kinesis", "CreateStream", params)) == 2
