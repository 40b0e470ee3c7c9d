"""Settings.from_env: the subscriber's environment, and the exact error for each bad value."""

from __future__ import annotations

import pytest

from handlers.core import Settings, SettingsError
from tests.handlers.harness import DESTINATION_ARN, FILTER_NAME, SENDER_ROLE_ARN

REQUIRED = {"DESTINATION_ARN": DESTINATION_ARN, "FILTER_NAME": FILTER_NAME}


def test_a_full_environment_is_read() -> None:
    settings = Settings.from_env(
        {
            **REQUIRED,
            "SENDER_ROLE_ARN": SENDER_ROLE_ARN,
            "FILTER_PATTERN": "ERROR",
            "EXCLUDE_PATTERNS": '["/aws/kinesisfirehose/*", "/aws/lambda/central-*"]',
            "REPLACE_FILTER_NAMES": '["seed-filter"]',
        }
    )

    assert settings == Settings(
        destination_arn=DESTINATION_ARN,
        sender_role_arn=SENDER_ROLE_ARN,
        filter_name=FILTER_NAME,
        filter_pattern="ERROR",
        exclude_patterns=("/aws/kinesisfirehose/*", "/aws/lambda/central-*"),
        replace_filter_names=("seed-filter",),
    )


def test_optional_variables_default_to_nothing() -> None:
    settings = Settings.from_env(
        {**REQUIRED, "SENDER_ROLE_ARN": "", "EXCLUDE_PATTERNS": "", "REPLACE_FILTER_NAMES": ""}
    )

    assert settings == Settings(
        destination_arn=DESTINATION_ARN, sender_role_arn=None, filter_name=FILTER_NAME
    )


def test_partitions_other_than_aws_are_accepted() -> None:
    settings = Settings.from_env(
        {
            "DESTINATION_ARN": "arn:aws-cn:logs:cn-north-1:222222222222:destination:Central",
            "SENDER_ROLE_ARN": "arn:aws-us-gov:iam::123456789012:role/path/sender",
            "FILTER_NAME": FILTER_NAME,
        }
    )

    assert settings.sender_role_arn == "arn:aws-us-gov:iam::123456789012:role/path/sender"


DESTINATION = (
    "DESTINATION_ARN must be the ARN of a CloudWatch Logs destination, "
    "arn:aws:logs:REGION:ACCOUNT:destination:NAME"
)
ROLE = "SENDER_ROLE_ARN must be empty or the ARN of an IAM role, arn:aws:iam::ACCOUNT:role/NAME"
FILTER = "FILTER_NAME must be a subscription filter name of 1 to 512 characters without ':' or '*'"
EXCLUDES = (
    'EXCLUDE_PATTERNS must be a JSON array of non-empty glob patterns, such as ["/aws/lambda/*"]'
)
REPLACES = (
    'REPLACE_FILTER_NAMES must be a JSON array of subscription filter names, such as ["old-filter"]'
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"DESTINATION_ARN": None}, f"{DESTINATION}; it is not set."),
        ({"DESTINATION_ARN": ""}, f"{DESTINATION}; got ''."),
        (
            {"DESTINATION_ARN": "arn:aws:firehose:eu-west-1:222222222222:deliverystream/x"},
            f"{DESTINATION}; got 'arn:aws:firehose:eu-west-1:222222222222:deliverystream/x'.",
        ),
        (
            {"DESTINATION_ARN": "arn:aws:logs:eu-west-1:2222:destination:Central"},
            f"{DESTINATION}; got 'arn:aws:logs:eu-west-1:2222:destination:Central'.",
        ),
        (
            {"SENDER_ROLE_ARN": "central-logging-sender"},
            f"{ROLE}; got 'central-logging-sender'.",
        ),
        (
            {"SENDER_ROLE_ARN": "arn:aws:iam::123456789012:user/sender"},
            f"{ROLE}; got 'arn:aws:iam::123456789012:user/sender'.",
        ),
        ({"FILTER_NAME": None}, f"{FILTER}; it is not set."),
        ({"FILTER_NAME": ""}, f"{FILTER}; got ''."),
        ({"FILTER_NAME": "central:logging"}, f"{FILTER}; got 'central:logging'."),
        ({"FILTER_NAME": "central-*"}, f"{FILTER}; got 'central-*'."),
        ({"FILTER_NAME": "f" * 513}, f"{FILTER}; got '{'f' * 513}'."),
        (
            {"FILTER_PATTERN": "x" * 1025},
            f"FILTER_PATTERN must be a filter pattern of at most 1024 characters; "
            f"got '{'x' * 1025}'.",
        ),
        ({"EXCLUDE_PATTERNS": "/aws/lambda/*"}, f"{EXCLUDES}; got '/aws/lambda/*'."),
        ({"EXCLUDE_PATTERNS": '"/aws/lambda/*"'}, f"""{EXCLUDES}; got '"/aws/lambda/*"'."""),
        ({"EXCLUDE_PATTERNS": '[""]'}, f"""{EXCLUDES}; got '[""]'."""),
        ({"EXCLUDE_PATTERNS": "[1]"}, f"{EXCLUDES}; got '[1]'."),
        ({"REPLACE_FILTER_NAMES": '{"name": "x"}'}, f"""{REPLACES}; got '{{"name": "x"}}'."""),
        ({"REPLACE_FILTER_NAMES": '["a:b"]'}, f"""{REPLACES}; got '["a:b"]'."""),
        ({"REPLACE_FILTER_NAMES": "[null]"}, f"{REPLACES}; got '[null]'."),
    ],
)
def test_a_bad_value_is_refused_in_one_sentence_naming_variable_value_and_rule(
    changes: dict[str, str | None], message: str
) -> None:
    env = {**REQUIRED, **changes}
    present = {variable: value for variable, value in env.items() if value is not None}

    with pytest.raises(SettingsError) as raised:
        Settings.from_env(present)

    assert str(raised.value) == message
