"""The sender role as AWS documents it: a filter passes `roleArn` only to a destination that
admits a whole organisation; one that lists accounts takes none. The logging stack says which
(`destinationScope`), and the member stack, its functions, its account policy and the
organization stack's templates follow it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import ConfigError
from tests.infra.harness import ORG_ID, Run, run_program
from tests.infra.test_organization import MANAGEMENT
from tests.infra.test_subscriber import LOGGING_OUTPUTS, MEMBER, STACK

FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PARAMETER = "aws:ssm/parameter:Parameter"
ACCOUNT_POLICY = "aws:cloudwatch/logAccountPolicy:LogAccountPolicy"
SUBSCRIBERS = ("central-eu-west-1-subscriber", "central-eu-west-1-reconciler")


def outputs(scope: str | None) -> dict[str, Any]:
    logging = dict(LOGGING_OUTPUTS[STACK])
    if scope is not None:
        logging["destinationScope"] = scope
    return {STACK: logging}


def run_member(scope: str | None, **config: object) -> Run:
    return run_program(
        {"role": "member", "loggingStack": STACK, **config},
        account_id=MEMBER,
        stack_outputs=outputs(scope),
    )


@pytest.mark.parametrize(
    ("config", "scope"),
    [
        ({"organizationId": ORG_ID}, "organization"),
        ({"memberAccounts": [MEMBER]}, "accounts"),
        ({"organizationId": ORG_ID, "memberAccounts": [MEMBER]}, "organization"),
    ],
)
def test_the_logging_stack_exports_whether_its_destinations_admit_an_organisation(
    config: dict[str, object], scope: str
) -> None:
    run = run_program({"role": "logging", **config})
    assert run.outputs["destinationScope"] == scope


def passes_sender_role(run: Run) -> list[bool]:
    sids = [
        {s["Sid"] for s in run.one(ROLE_POLICY, name).policy("policy")["Statement"]}
        for name in SUBSCRIBERS
    ]
    return ["PassSenderRole" in s for s in sids]


def test_functions_pass_no_role_to_destinations_that_list_accounts() -> None:
    run = run_member("accounts")
    for name in SUBSCRIBERS:
        variables = run.one(FUNCTION, name).inputs["environment"]["variables"]
        assert "SENDER_ROLE_ARN" not in variables
        assert variables["DESTINATION_ARN"].endswith(":destination:CentralLogDestination")
    assert passes_sender_role(run) == [False, False]
    parameter = run.one(PARAMETER, "central-eu-west-1-sender-role-arn").inputs
    assert parameter["value"] == "none"
    assert run.outputs["senderRoleArn"] is None


@pytest.mark.parametrize("scope", ["organization", None], ids=["organization", "older-stack"])
def test_functions_pass_the_sender_role_to_an_organisation_wide_destination(
    scope: str | None,
) -> None:
    """A logging stack from before destinationScope admitted senders with their role."""
    run = run_member(scope)
    sender = run.one("aws:iam/role:Role", "central-sender").state["arn"]
    for name in SUBSCRIBERS:
        variables = run.one(FUNCTION, name).inputs["environment"]["variables"]
        assert variables["SENDER_ROLE_ARN"] == sender
    assert passes_sender_role(run) == [True, True]
    assert run.one(PARAMETER, "central-eu-west-1-sender-role-arn").inputs["value"] == sender
    assert run.outputs["senderRoleArn"] == sender


@pytest.mark.parametrize(("scope", "role"), [("accounts", False), ("organization", True)])
def test_the_account_policy_names_the_role_only_for_an_organisation(scope: str, role: bool) -> None:
    run = run_member(scope, subscriptionMode="account-policy")
    document = json.loads(run.one(ACCOUNT_POLICY).inputs["policyDocument"])
    assert ("RoleArn" in document) is role
    assert document["Distribution"] == "Random"


def test_an_unknown_scope_from_the_logging_stack_is_named() -> None:
    with pytest.raises(ConfigError) as raised:
        run_member("everyone")
    assert str(raised.value) == (
        f"The logging stack {STACK} exports destinationScope 'everyone'; it must be "
        "organization or accounts: update the logging stack."
    )


def regional(scope: str, mode: str) -> dict[str, Any]:
    run = run_program(
        {
            "role": "organization",
            "loggingStack": STACK,
            "regions": ["eu-west-1"],
            "subscriptionMode": mode,
        },
        account_id=MANAGEMENT,
        stack_outputs=outputs(scope),
    )
    stack_set = run.one("aws:cloudformation/stackSet:StackSet", "central-regional")
    template: dict[str, Any] = json.loads(stack_set.inputs["templateBody"])
    return template


@pytest.mark.parametrize(("scope", "role"), [("accounts", False), ("organization", True)])
def test_organization_templates_follow_the_scope(scope: str, role: bool) -> None:
    functions = regional(scope, "lambda")["Resources"]
    for name in ("Subscriber", "Reconciler"):
        variables = functions[name]["Properties"]["Environment"]["Variables"]
        assert ("SENDER_ROLE_ARN" in variables) is role
        policy = functions[f"{name}Role"]["Properties"]["Policies"][0]["PolicyDocument"]
        assert ("PassSenderRole" in {s["Sid"] for s in policy["Statement"]}) is role
    parameter = functions["SenderRoleParameter"]["Properties"]["Value"]
    assert (parameter != "none") is role

    policy = regional(scope, "account-policy")["Resources"]["AccountPolicy"]["Properties"]
    document = json.dumps(policy["PolicyDocument"])
    assert ("RoleArn" in document) is role


def test_a_change_of_scope_sweeps_again() -> None:
    """Existing filters are put again, with or without roleArn, when the scope changes."""

    def triggers(scope: str) -> dict[str, str]:
        run = run_member(scope)
        return run.one("aws:lambda/invocation:Invocation").inputs["triggers"]  # type: ignore[no-any-return]

    assert triggers("accounts") != triggers("organization")
    assert triggers("accounts")["senderRole"] == "none"
