"""Config messages for the common slips (issue 22): a key of another role, an account ID
written as a YAML number, an IAM Identity Center role ARN without its path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.config import DECLARED_DEFAULTS, ROLE_KEYS, UNSET_VALUES
from tests.infra.harness import ORG_ID, config_error, run_program
from tests.infra.test_subscriber import LOGGING_OUTPUTS, MEMBER, STACK

LOGGING = {"role": "logging", "organizationId": ORG_ID}
MEMBER_STACK = {"role": "member", "loggingStack": STACK}
ORGANIZATION = {"role": "organization", "loggingStack": STACK}
SSO_ROLE = "AWSReservedSSO_SecurityAudit_0123456789abcdef"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {**MEMBER_STACK, "organizationId": ORG_ID},
            f"central-logging:organizationId is '{ORG_ID}'; it is a key of the logging role, "
            "and this stack's role is member: remove it here, or set it in that stack.",
        ),
        (
            {**LOGGING, "filterPattern": "ERROR"},
            "central-logging:filterPattern is 'ERROR'; it is a key of the member and "
            "organization roles, and this stack's role is logging: remove it here, or set it "
            "in that stack.",
        ),
        (
            {**MEMBER_STACK, "organizationalUnitIds": ["ou-ab12-abcdefgh"]},
            "central-logging:organizationalUnitIds is '[\"ou-ab12-abcdefgh\"]'; it is a key of "
            "the organization role, and this stack's role is member: remove it here, or set it "
            "in that stack.",
        ),
        (
            {**ORGANIZATION, "transport": "kinesis"},
            "central-logging:transport is 'kinesis'; it is a key of the logging role, and this "
            "stack's role is organization: remove it here, or set it in that stack.",
        ),
    ],
)
def test_a_key_of_another_role_names_the_role_it_belongs_to(
    config: dict[str, object], message: str
) -> None:
    assert config_error(config, account_id=MEMBER, stack_outputs=LOGGING_OUTPUTS) == message


def test_keys_of_other_roles_left_at_their_pulumi_yaml_defaults_pass() -> None:
    """Pulumi hands every stack each declared key's default; those are not "set"."""
    declared = yaml.safe_load((Path(__file__).resolve().parents[2] / "Pulumi.yaml").read_text())
    defaults = {
        name: spec["default"]
        for name, spec in declared["config"].items()
        if name in ROLE_KEYS["logging"] and "default" in spec
    }
    run = run_program(
        {**MEMBER_STACK, **defaults}, account_id=MEMBER, stack_outputs=LOGGING_OUTPUTS
    )
    assert run.outputs["subscriptionMode"] == "lambda"


def test_declared_defaults_are_the_pulumi_yaml_defaults() -> None:
    declared = yaml.safe_load((Path(__file__).resolve().parents[2] / "Pulumi.yaml").read_text())
    non_empty = {
        name: str(spec["default"]).lower()
        if isinstance(spec["default"], bool)
        else str(spec["default"])
        for name, spec in declared["config"].items()
        if "default" in spec
        and str(spec["default"]) not in (*UNSET_VALUES, "[]")
        and spec["default"] != []
    }
    assert non_empty == DECLARED_DEFAULTS


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"role": "logging", "memberAccounts": [12345678901]},
            "central-logging:memberAccounts is 12345678901; write each account ID in quotes, "
            'such as "012345678901", since YAML reads an unquoted one as a number and drops '
            "its leading zeros.",
        ),
        (
            {**LOGGING, "freshnessAccounts": ["111111111111", 222222222222]},
            "central-logging:freshnessAccounts is 222222222222; write each account ID in "
            'quotes, such as "012345678901", since YAML reads an unquoted one as a number and '
            "drops its leading zeros.",
        ),
        (
            {**LOGGING, "readerPrincipals": [444444444444]},
            "central-logging:readerPrincipals is 444444444444; write each account ID in "
            'quotes, such as "012345678901", since YAML reads an unquoted one as a number and '
            "drops its leading zeros.",
        ),
        (
            {**ORGANIZATION, "excludeAccounts": [1234567890]},
            "central-logging:excludeAccounts is 1234567890; write each account ID in quotes, "
            'such as "012345678901", since YAML reads an unquoted one as a number and drops '
            "its leading zeros.",
        ),
    ],
)
def test_an_account_id_written_as_a_number_is_told_to_quote_it(
    config: dict[str, object], message: str
) -> None:
    assert config_error(config, account_id=MEMBER, stack_outputs=LOGGING_OUTPUTS) == message


@pytest.mark.parametrize("key", ["archiveAdminRoleArns", "readerPrincipals"])
def test_an_identity_center_role_without_its_path_is_refused_with_the_path(key: str) -> None:
    arn = f"arn:aws:iam::111111111111:role/{SSO_ROLE}"
    assert config_error({**LOGGING, key: [arn]}) == (
        f"central-logging:{key} is '{arn}'; an IAM Identity Center role is matched by its full "
        "ARN, path included: write it as IAM lists it, "
        f"role/aws-reserved/sso.amazonaws.com/REGION/{SSO_ROLE} (no REGION/ for roles created "
        "in us-east-1)."
    )


@pytest.mark.parametrize(
    "path", ["aws-reserved/sso.amazonaws.com/", "aws-reserved/sso.amazonaws.com/eu-west-2/"]
)
def test_an_identity_center_role_with_its_path_is_accepted(path: str) -> None:
    arn = f"arn:aws:iam::111111111111:role/{path}{SSO_ROLE}"
    run = run_program({**LOGGING, "archiveAdminRoleArns": [arn], "readerPrincipals": [arn]})
    trust = run.one("aws:iam/role:Role", "central-reader").policy("assumeRolePolicy")
    assert trust["Statement"][0]["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [arn]}}
