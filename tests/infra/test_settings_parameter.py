"""The member stack writes its subscription settings as /central-logging/settings in every
region beside the destination parameter (issue 22 item 3); long exclusion lists continue in
further standard (free, 4 KB) parameters rather than advanced ones ($0.05 a month each). Lists
that long exist only in account-policy mode: a subscriber function's environment (4 KB) could
not hold them (issue 17)."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.harness import config_error
from tests.infra.test_organization import run_organization, template
from tests.infra.test_subscriber import LOGGING_OUTPUTS, MEMBER, STACK, run_member

PARAMETER = "aws:ssm/parameter:Parameter"
MANY = [
    f"/aws/lambda/service-{i:05d}-with-a-longish-name" for i in range(450)
]  # within the account policy's selection criteria
FEWER = MANY[:150]  # still more than one parameter holds


def test_every_region_holds_the_stacks_settings_beside_its_destination() -> None:
    regions = ["eu-west-1", "us-east-1"]
    run = run_member(
        regions=regions,
        subscriptionMode="account-policy",
        filterName="org-logs",
        filterPattern="-DEBUG",
        excludeLogGroups=["/aws/lambda/noisy"],
        replaceFilterNames=["seed"],
    )
    for region in regions:
        parameter = run.one(PARAMETER, f"central-{region}-settings")
        assert parameter.inputs["region"] == region
        assert (parameter.inputs["name"], parameter.inputs["type"]) == (
            "/central-logging/settings",
            "String",
        )
        assert "tier" not in parameter.inputs  # standard
        assert json.loads(parameter.inputs["value"]) == {
            "filterName": "org-logs",
            "filterPattern": "-DEBUG",
            "excludeLogGroups": ["/aws/lambda/noisy"],
            "replaceFilterNames": ["seed"],
            "subscriptionMode": "account-policy",
        }


def followed(parameters: dict[str, str]) -> list[str]:
    """The exclusions as the CLI reads them: from the first parameter along the chain."""
    excluded: list[str] = []
    name: str | None = "/central-logging/settings"
    while name:
        document: dict[str, Any] = json.loads(parameters.pop(name))
        excluded += document["excludeLogGroups"]
        name = document.get("excludeLogGroupsContinuedIn")
    assert parameters == {}  # no parameter left out of the chain
    return excluded


def test_long_exclusions_continue_in_further_standard_parameters() -> None:
    run = run_member(subscriptionMode="account-policy", excludeLogGroups=MANY)
    written = [
        p
        for p in run.of_type(PARAMETER)
        if p.inputs["name"].startswith("/central-logging/settings")
    ]
    assert len(written) > 1
    assert all(len(p.inputs["value"].encode()) <= 4096 and "tier" not in p.inputs for p in written)
    assert followed({p.inputs["name"]: p.inputs["value"] for p in written}) == MANY


def test_the_organization_template_writes_the_same_parameters() -> None:
    # account-policy: no subscriber function, whose 4 KB environment could not hold MANY.
    mode = "account-policy"
    # Fewer: the regional template holds them twice, within CloudFormation's 51,200 bytes.
    member = run_member(regions=["eu-west-1"], subscriptionMode=mode, excludeLogGroups=FEWER)
    organization = run_organization(subscriptionMode=mode, excludeLogGroups=FEWER)
    regional = template(organization, "regional")["Resources"]
    in_template = {
        r["Properties"]["Name"]: r["Properties"]["Value"]
        for r in regional.values()
        if r["Type"] == "AWS::SSM::Parameter"
        and r["Properties"]["Name"].startswith("/central-logging/settings")
    }
    in_member = {
        p.inputs["name"]: p.inputs["value"]
        for p in member.of_type(PARAMETER)
        if p.inputs["name"].startswith("/central-logging/settings")
    }
    assert in_template == in_member
    assert followed(in_template) == FEWER


def test_replace_names_that_cannot_fit_one_parameter_are_refused() -> None:
    names = [f"old-filter-{i:04d}-with-a-long-name" for i in range(150)]
    message = config_error(
        {
            "role": "member",
            "loggingStack": STACK,
            "subscriptionMode": "account-policy",
            "replaceFilterNames": names,
        },
        account_id=MEMBER,
        stack_outputs=LOGGING_OUTPUTS,
    )
    assert message == (
        "central-logging:replaceFilterNames is '150 names'; with filterName and filterPattern "
        "they must fit the 4096 bytes of SSM parameter /central-logging/settings, which the "
        "CLI reads."
    )
