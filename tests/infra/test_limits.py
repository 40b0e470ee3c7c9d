"""Limits AWS enforces only when `pulumi up` calls it, refused at preview in one sentence:
the subscriber's environment (Lambda: 4 KB), the organization templates (CloudFormation:
51,200 bytes), the evaluated Firehose prefixes (512 characters), and filterName (ASCII, as the
delivery metrics' dimension)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from components.config import (
    ConfigError,
    account_policy_selection,
    parse_logging,
    parse_member,
    parse_organization,
)
from components.organization import account_template, fitting_body, regional_template, render
from handlers.core import delivery_log_group_name
from tests.infra.harness import LOGGING_ACCOUNT_ID, ORG_ID, config_error, run_program
from tests.infra.test_organization import MANAGEMENT
from tests.infra.test_organization_templates import resolve
from tests.infra.test_subscriber import MEMBER, STACK

LONGEST_DESTINATION = "D" * 491
FUNCTION = "aws:lambda/function:Function"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
# Globs of 40 characters: about 60 fit in the environment beside the longest ARNs.
GLOBS = [f"/aws/lambda/team-{i:04d}-service-name-*-x" for i in range(200)]
# Exact names of 500 characters: about 50 fit in an account policy's selection criteria.
NAMES = [f"/app/{i:04d}/" + "n" * 490 for i in range(60)]


def most_accepted(
    values: dict[str, str],
    key: str,
    items: list[str],
    parse: Callable[..., object] = parse_member,
) -> int:
    """The largest n such that the config (member, or as `parse` reads it) with items[:n]
    under `key` is accepted."""

    def accepted(count: int) -> bool:
        try:
            parse({**values, key: json.dumps(items[:count])}, "eu-west-1")
        except ConfigError:
            return False
        return True

    fits = max(n for n in range(len(items)) if accepted(n))
    assert 10 < fits < len(items) - 1
    return fits


LONGEST_SETTINGS = {
    "loggingStack": STACK,
    "filterName": "f" * 512,
    "filterPattern": "-DEBUG -TRACE" + " " * 1011,
    "replaceFilterNames": json.dumps(["old-" + "r" * 200]),
}


def environment_size(variables: dict[str, Any]) -> int:
    return len(json.dumps(variables, separators=(",", ":")).encode())


def test_the_most_exclusions_accepted_keep_the_subscriber_environment_under_4_kb() -> None:
    lambda_mode = {"loggingStack": STACK, "subscriptionMode": "lambda"}
    fits = most_accepted(lambda_mode, "excludeLogGroups", GLOBS)
    assert fits >= 60
    # The logging account itself, where the destination is named with the longest name the
    # logging stack accepts and its delivery log group is excluded too.
    arns = {
        "eu-west-1": f"arn:aws:logs:eu-west-1:{MEMBER}:destination:{LONGEST_DESTINATION}",
    }
    run = run_program(
        {"role": "member", "loggingStack": STACK, "excludeLogGroups": GLOBS[:fits]},
        account_id=MEMBER,
        stack_outputs={STACK: {"destinationArns": arns}},
    )
    functions = [f for f in run.of_type(FUNCTION) if "EXCLUDE_PATTERNS" in str(f.inputs)]
    assert functions
    for function in functions:
        variables = function.inputs["environment"]["variables"]
        assert delivery_log_group_name(LONGEST_DESTINATION) in variables["EXCLUDE_PATTERNS"]
        # Lambda: 4 KB for all of a function's environment variables.
        assert environment_size(variables) <= 4096

    too_many = GLOBS[: fits + 1]
    message = config_error(
        {"role": "member", "loggingStack": STACK, "excludeLogGroups": too_many},
        account_id=MEMBER,
    )
    assert re.fullmatch(
        rf"central-logging:excludeLogGroups has {fits + 1} patterns, which with the other "
        r"settings make the subscriber functions' environment up to \d+ bytes; Lambda allows "
        r"4096 for all of a function's variables: exclude log groups with fewer, broader glob "
        r"patterns, or shorten filterPattern or replaceFilterNames\.",
        message,
    ), message


def test_longer_other_settings_leave_room_for_fewer_patterns() -> None:
    plain = most_accepted({"loggingStack": STACK}, "excludeLogGroups", GLOBS)
    assert most_accepted(LONGEST_SETTINGS, "excludeLogGroups", GLOBS) < plain


# 17 regions, as the users' largest organisations cover.
SEVENTEEN = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1",
    "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1", "ap-northeast-1",
    "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "ap-south-1", "sa-east-1",
]  # fmt: skip


def organization_templates(
    values: dict[str, str],
    regions: list[str] = SEVENTEEN,
    destination_name: str = "CentralLogDestination",
) -> list[dict[str, Any]]:
    settings = parse_organization({**values, "regions": json.dumps(regions)}, regions[0])
    destinations = {
        r: f"arn:aws:logs:{r}:{LOGGING_ACCOUNT_ID}:destination:{destination_name}" for r in regions
    }
    buckets = {r: f"central-{r}-artifacts-0123456" for r in regions}
    code_key = f"handlers/{'0' * 64}.zip"
    # S3 version IDs are 32 characters.
    versions = {r: "v" * 32 for r in regions}
    return [
        account_template(settings.member, LOGGING_ACCOUNT_ID),
        regional_template(settings.member, destinations, buckets, code_key, versions),
    ]


MODES = pytest.mark.parametrize(
    ("mode", "items"), [("lambda", GLOBS), ("account-policy", NAMES)], ids=["lambda", "policy"]
)


def largest_settings(mode: str, items: list[str]) -> dict[str, str]:
    values = {**LONGEST_SETTINGS, "subscriptionMode": mode}
    fits = most_accepted(values, "excludeLogGroups", items, parse_organization)
    return {**values, "excludeLogGroups": json.dumps(items[:fits])}


@MODES
def test_17_regions_with_the_largest_accepted_settings_fit_a_template_body(
    mode: str, items: list[str]
) -> None:
    for template in organization_templates(largest_settings(mode, items)):
        # CloudFormation quotas: "Template body size in a request: 51,200 bytes".
        assert len(fitting_body(template, "regional").encode()) <= 51_200


def test_a_template_beyond_the_body_limit_is_refused_at_preview_in_one_sentence() -> None:
    """Every region AWS offers, the logging stack's longest destinationName and the most
    exclusions at once: the program stops before CloudFormation would refuse the StackSet."""
    regions = boto3.session.Session().get_available_regions("logs")
    values = largest_settings("account-policy", NAMES)
    outputs = {
        STACK: {
            "destinationArns": {
                r: f"arn:aws:logs:{r}:{LOGGING_ACCOUNT_ID}:destination:{LONGEST_DESTINATION}"
                for r in regions
            }
        }
    }
    with pytest.raises(ConfigError) as raised:
        run_program(
            {
                "role": "organization",
                **values,
                "regions": regions,
                "excludeLogGroups": json.loads(values["excludeLogGroups"]),
                "replaceFilterNames": json.loads(values["replaceFilterNames"]),
            },
            region=regions[0],
            account_id=MANAGEMENT,
            stack_outputs=outputs,
        )
    assert re.fullmatch(
        r"The regional StackSet's template would be \d+ bytes with these settings, over "
        r"CloudFormation's 51200-byte template body: cover fewer central-logging:regions, "
        r"exclude fewer log groups in central-logging:excludeLogGroups, shorten "
        r"central-logging:filterPattern, or give the logging stack a shorter destinationName\.",
        str(raised.value),
    ), raised.value


def test_the_account_policy_criteria_are_written_once_and_resolve_per_account() -> None:
    values = {
        "loggingStack": STACK,
        "subscriptionMode": "account-policy",
        "excludeLogGroups": json.dumps(["/aws/noisy", "/aws/other"]),
    }
    _, regional = organization_templates(values, destination_name=LONGEST_DESTINATION)
    criteria = regional["Resources"]["AccountPolicy"]["Properties"]["SelectionCriteria"]
    assert render(criteria).count("/aws/noisy") == 1
    delivery = delivery_log_group_name(LONGEST_DESTINATION)
    assert resolve(criteria, regional, "eu-west-1", LOGGING_ACCOUNT_ID) == (
        account_policy_selection(["/aws/noisy", "/aws/other", delivery])
    )
    assert resolve(criteria, regional, "eu-west-1", MEMBER) == (
        account_policy_selection(["/aws/noisy", "/aws/other"])
    )


def evaluated(prefix: str) -> str:
    """A Firehose prefix with its expressions evaluated to their longest values."""
    return (
        prefix.replace("!{partitionKeyFromQuery:owner}", "1" * 12)
        .replace("!{timestamp:yyyy}", "2026")
        .replace("!{timestamp:MM}", "12")
        .replace("!{timestamp:dd}", "31")
        .replace("!{firehose:error-output-type}", "x" * 32)
    )


@pytest.mark.parametrize("archive_format", ["json", "raw"])
def test_the_longest_accepted_s3_prefix_evaluates_to_at_most_512_characters(
    archive_format: str,
) -> None:
    regions = ["eu-west-1", "ap-southeast-2"]
    base = {
        "organizationId": ORG_ID,
        "regions": json.dumps(regions),
        "archiveFormat": archive_format,
    }

    def accepted(length: int) -> bool:
        try:
            parse_logging({**base, "s3Prefix": "p" * (length - 1) + "/"}, "eu-west-1")
        except ConfigError:
            return False
        return True

    longest = max(n for n in range(1, 513) if accepted(n))
    assert 400 < longest < 512
    run = run_program(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "regions": regions,
            "archiveFormat": archive_format,
            "s3Prefix": "p" * (longest - 1) + "/",
        }
    )
    prefixes = [
        evaluated(stream.inputs["extendedS3Configuration"][key])
        for stream in run.of_type(FIREHOSE)
        for key in ("prefix", "errorOutputPrefix")
    ]
    assert max(len(p) for p in prefixes) <= 512

    too_long = "p" * longest + "/"
    assert config_error({"role": "logging", **base, "s3Prefix": too_long}) == (
        f"central-logging:s3Prefix is '{too_long}'; Firehose allows 512 characters of prefix "
        f"after evaluation and the partitions add up to {512 - longest} here, so it must be at "
        f"most {longest} characters."
    )


@pytest.mark.parametrize("name", ["café-logs", "central\tlogging", "日志"])
def test_a_filter_name_outside_printable_ascii_is_refused(name: str) -> None:
    assert config_error({"role": "member", "loggingStack": STACK, "filterName": name}) == (
        f"central-logging:filterName is {name!r}; it must be printable ASCII, since it names "
        "the FilterName dimension of the delivery metrics the alarms watch, which CloudWatch "
        "takes in ASCII only."
    )
