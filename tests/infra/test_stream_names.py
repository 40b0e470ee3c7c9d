"""Stream names derived from destinationName: valid as AWS's API models define them, and
distinct for every region and every destination name."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
from hypothesis import given
from hypothesis import strategies as st

from components.config import DESTINATION_NAME_RE
from components.destination import delivery_stream_name
from tests.infra.harness import ORG_ID, run_program

# Every region shape the configuration accepts, the longest ones included.
REGIONS = [
    "eu-west-1",
    "us-east-1",
    "ap-southeast-2",
    "us-gov-west-1",
    "il-central-1",
    "us-isob-east-1",
    "ap-southeast-5",
    "ca-central-1",
    "us-isof-southeast-1",
]
NAME_ALPHABET = "abcXYZ019_.-"


def _shape(service: str, name: str) -> dict[str, Any]:
    model = botocore.session.get_session().get_service_model(service)
    return dict(model.shape_for(name).metadata)


FIREHOSE_NAME = _shape("firehose", "DeliveryStreamName")
KINESIS_NAME = _shape("kinesis", "StreamName")
DESTINATION_NAME = _shape("logs", "DestinationName")
LOG_GROUP_NAME = _shape("logs", "LogGroupName")


def valid(name: str, shape: dict[str, Any]) -> bool:
    return (
        shape["min"] <= len(name) <= shape["max"]
        and re.fullmatch(shape["pattern"], name) is not None
    )


destination_names = st.text(NAME_ALPHABET, min_size=1, max_size=491)


@given(destination_names, st.sampled_from(REGIONS))
def test_every_accepted_destination_name_gives_valid_stream_names(name: str, region: str) -> None:
    assert DESTINATION_NAME_RE.fullmatch(name)
    stream = delivery_stream_name(name, region)
    assert valid(stream, FIREHOSE_NAME) and valid(stream, KINESIS_NAME), stream
    assert stream == delivery_stream_name(name, region)
    # The names the destination name itself gives stay valid too.
    assert valid(name, DESTINATION_NAME)
    assert valid(f"/aws/kinesisfirehose/{name}", LOG_GROUP_NAME)


@given(st.lists(st.tuples(destination_names, st.sampled_from(REGIONS)), unique=True, max_size=30))
def test_stream_names_never_collide(pairs: list[tuple[str, str]]) -> None:
    names = [delivery_stream_name(name, region) for name, region in pairs]
    assert len(set(names)) == len(names)


def test_short_names_stay_readable_and_long_ones_keep_the_region() -> None:
    assert delivery_stream_name("CentralLogDestination", "eu-west-1") == (
        "CentralLogDestination-eu-west-1"
    )
    long_name = "Organisation.Wide_Central-Log-Destination-For-Every-Account"
    shortened = delivery_stream_name(long_name, "ap-southeast-2")
    assert len(shortened) == 64
    assert shortened.startswith("Organisation.Wide_Central-Log-Destin")
    assert re.search(r"-ap-southeast-2-[0-9a-f]{8}$", shortened)
    # Two names alike in their first 40 characters still differ.
    assert shortened != delivery_stream_name(long_name + "2", "ap-southeast-2")


def test_a_long_destination_name_deploys_valid_distinct_streams() -> None:
    name = "D" * 491
    run = run_program(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "destinationName": name,
            "transport": "kinesis",
            "archiveFormat": "raw",
            "regions": ["eu-west-1", "us-east-1", "ap-southeast-2"],
        }
    )
    firehoses = [
        r.inputs["name"]
        for r in run.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    ]
    streams = [r.inputs["name"] for r in run.of_type("aws:kinesis/stream:Stream")]
    assert len(set(firehoses)) == len(set(streams)) == 3
    assert all(valid(n, FIREHOSE_NAME) for n in firehoses)
    assert all(valid(n, KINESIS_NAME) for n in streams)
    for destination in run.of_type("aws:cloudwatch/logDestination:LogDestination"):
        assert destination.inputs["name"] == name
