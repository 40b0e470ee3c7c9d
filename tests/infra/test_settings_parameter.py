"""The member stack writes its subscription settings as /central-logging/settings in every
region beside the destination parameter, in the tier its size needs (issue 22 item 3)."""

from __future__ import annotations

import json

from tests.infra.harness import config_error
from tests.infra.test_subscriber import LOGGING_OUTPUTS, MEMBER, STACK, run_member

PARAMETER = "aws:ssm/parameter:Parameter"


def test_every_region_holds_the_stacks_settings_beside_its_destination() -> None:
    regions = ["eu-west-1", "us-east-1"]
    run = run_member(
        regions=regions,
        subscriptionMode="account-policy",
        filterName="org-logs",
        filterPattern="ERROR",
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
        assert parameter.inputs["tier"] == "Standard"
        assert json.loads(parameter.inputs["value"]) == {
            "filterName": "org-logs",
            "filterPattern": "ERROR",
            "excludeLogGroups": ["/aws/lambda/noisy"],
            "replaceFilterNames": ["seed"],
            "subscriptionMode": "account-policy",
        }


def test_long_exclusions_take_the_advanced_tier_only_when_they_need_it() -> None:
    names = [f"/aws/lambda/service-{i:04d}-with-a-longish-name" for i in range(120)]
    run = run_member(subscriptionMode="account-policy", excludeLogGroups=names)
    parameter = run.one(PARAMETER, "central-eu-west-1-settings")
    assert len(parameter.inputs["value"]) > 4096
    assert parameter.inputs["tier"] == "Advanced"


def test_settings_beyond_what_a_parameter_holds_are_refused() -> None:
    names = [f"/aws/lambda/service-{i:04d}-with-a-longish-name" for i in range(250)]
    message = config_error(
        {
            "role": "member",
            "loggingStack": STACK,
            "subscriptionMode": "account-policy",
            "excludeLogGroups": names,
        },
        account_id=MEMBER,
        stack_outputs=LOGGING_OUTPUTS,
    )
    assert message == (
        "central-logging:excludeLogGroups and central-logging:replaceFilterNames make the "
        "settings the CLI reads (SSM parameter /central-logging/settings) 12140 bytes; an SSM "
        "parameter holds at most 8192: use fewer or shorter names, or glob patterns "
        "(subscriptionMode lambda)."
    )
