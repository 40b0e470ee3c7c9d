"""Who may use a destination, against AWS's own documented examples of both policies.

AWS's examples are kept verbatim (placeholders filled in per test) with the page each comes
from; our rendered policies must admit every request an example admits, and refuse the
requests that would let a foreign account or organisation in.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from tests.infra.harness import LOGGING_ACCOUNT_ID, ORG_ID, Run, run_program

ROLE = "aws:iam/role:Role"
DESTINATION_POLICY = "aws:cloudwatch/logDestinationPolicy:LogDestinationPolicy"
FOREIGN_ACCOUNT = "444444444444"
FOREIGN_ORG = "o-foreignorg01"

# CloudWatch Logs User Guide, "Step 2: Create a destination" (account-level subscriptions
# with Firehose), https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/
# CreateFirehoseStreamDestination-Account.html: the trust policy of the destination role.
# The same shape is on CreateDestination.html (Kinesis Data Streams).
AWS_DESTINATION_ROLE_TRUST = """
{
    "Statement": {
        "Effect": "Allow",
        "Principal": {
            "Service": "logs.amazonaws.com"
        },
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringLike": {
                "aws:SourceArn": [
                    "arn:aws:logs:region:sourceAccountId:*",
                    "arn:aws:logs:region:recipientAccountId:*"
                ]
            }
        }
    }
}
"""

# CloudWatch Logs User Guide, "Step 1: Create a destination" (cross-account subscriptions
# with Kinesis Data Streams), https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/
# CreateDestination.html: the destination access policy for an organisation, and for one
# account. The account-level pages (e.g. CreateFirehoseStreamDestination-Account.html) add
# logs:PutAccountPolicy to the actions.
AWS_ORGANIZATION_ACCESS_POLICY = """
{
    "Version" : "2012-10-17",
    "Statement" : [
        {
            "Sid" : "",
            "Effect" : "Allow",
            "Principal" : "*",
            "Action" : "logs:PutSubscriptionFilter",
            "Resource" : "arn:aws:logs:region:999999999999:destination:testDestination",
            "Condition": {
               "StringEquals" : {
                   "aws:PrincipalOrgID" : ["o-1234567890"]
                }
            }
        }
    ]
}
"""
AWS_ACCOUNT_ACCESS_POLICY = """
{
  "Version" : "2012-10-17",
  "Statement" : [
    {
      "Sid" : "",
      "Effect" : "Allow",
      "Principal" : {
        "AWS" : "111111111111"
      },
      "Action" : "logs:PutSubscriptionFilter",
      "Resource" : "arn:aws:logs:region:999999999999:destination:testDestination"
    }
  ]
}
"""


def instantiate(example: str, **placeholders: str) -> dict[str, Any]:
    for placeholder, value in placeholders.items():
        example = example.replace(placeholder, value)
    return dict(json.loads(example))


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, caller: dict[str, str]) -> bool:
    if principal == "*":
        return True
    if "Service" in caller:
        return caller["Service"] in _values(principal.get("Service", []))
    account = caller["AWS"]
    return any(
        entry in (account, f"arn:aws:iam::{account}:root")
        for entry in _values(principal.get("AWS", []))
    )


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, allowed in tests.items():
            if key not in context:
                return False
            value = context[key]
            if operator == "StringEquals":
                matched = value in _values(allowed)
            elif operator == "StringLike":
                matched = any(fnmatch.fnmatchcase(value, p) for p in _values(allowed))
            else:
                raise AssertionError(f"no evaluation for {operator} in this test")
            if not matched:
                return False
    return True


def admits(
    policy: dict[str, Any],
    caller: dict[str, str],
    action: str,
    context: dict[str, str],
    resource: str | None = None,
) -> bool:
    """Whether an Allow statement (and no Deny) of a resource, trust or identity policy
    matches; an identity policy (no Principal) applies to whoever holds it."""
    allowed = False
    for statement in _values(policy["Statement"]):
        if "Principal" in statement and not _principal_matches(statement["Principal"], caller):
            continue
        if not any(fnmatch.fnmatchcase(action, a) for a in _values(statement["Action"])):
            continue
        resources = _values(statement.get("Resource", "*"))
        if resource and not any(fnmatch.fnmatchcase(resource, r) for r in resources):
            continue
        if not _condition_holds(statement.get("Condition", {}), context):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def trust(run: Run, region: str) -> dict[str, Any]:
    return dict(run.one(ROLE, f"central-{region}-destination").policy("assumeRolePolicy"))


def access_policy(run: Run, region: str) -> dict[str, Any]:
    return dict(run.one(DESTINATION_POLICY, f"central-{region}-access").policy("accessPolicy"))


def assume_by_logs(source_arn: str) -> tuple[dict[str, str], str, dict[str, str]]:
    return {"Service": "logs.amazonaws.com"}, "sts:AssumeRole", {"aws:SourceArn": source_arn}


# What CloudWatch Logs may name as the source: a sender's log group (deliveries, on the
# sender's behalf) or the recipient's destination (the test message at creation).
def source_arns(region: str, account: str) -> list[str]:
    return [
        f"arn:aws:logs:{region}:{account}:log-group:/app/orders:*",
        f"arn:aws:logs:{region}:{account}:destination:CentralLogDestination",
    ]


REGIONS = ["eu-west-1", "us-east-1"]
MEMBERS = ["111111111111", "222222222222"]


def test_account_list_trust_admits_what_awss_example_admits() -> None:
    run = run_program({"role": "logging", "memberAccounts": MEMBERS, "regions": REGIONS})
    for region in REGIONS:
        ours = trust(run, region)
        for sender in MEMBERS:
            example = instantiate(
                AWS_DESTINATION_ROLE_TRUST,
                region=region,
                sourceAccountId=sender,
                recipientAccountId=LOGGING_ACCOUNT_ID,
            )
            for account in (sender, LOGGING_ACCOUNT_ID):
                for arn in source_arns(region, account):
                    assert admits(example, *assume_by_logs(arn))
                    assert admits(ours, *assume_by_logs(arn)), arn
        # Not a foreign account, not another region's logs, not without a source.
        for arn in [*source_arns(region, FOREIGN_ACCOUNT), *source_arns("ap-south-1", MEMBERS[0])]:
            assert not admits(ours, *assume_by_logs(arn)), arn
        assert not admits(ours, {"Service": "logs.amazonaws.com"}, "sts:AssumeRole", {})
        member_logs = {"aws:SourceArn": source_arns(region, MEMBERS[0])[0]}
        assert not admits(
            ours, {"Service": "firehose.amazonaws.com"}, "sts:AssumeRole", member_logs
        )


def test_a_member_list_naming_the_logging_account_lists_it_once() -> None:
    run = run_program({"role": "logging", "memberAccounts": [LOGGING_ACCOUNT_ID, MEMBERS[0]]})
    [statement] = trust(run, "eu-west-1")["Statement"]
    assert statement["Condition"] == {
        "StringLike": {
            "aws:SourceArn": [
                f"arn:aws:logs:eu-west-1:{LOGGING_ACCOUNT_ID}:*",
                f"arn:aws:logs:eu-west-1:{MEMBERS[0]}:*",
            ]
        }
    }


@pytest.mark.parametrize("members", [[], MEMBERS], ids=["organization", "organization+accounts"])
def test_organization_trust_does_not_depend_on_source_org_id(members: list[str]) -> None:
    run = run_program(
        {"role": "logging", "organizationId": ORG_ID, "memberAccounts": members, "regions": REGIONS}
    )
    for region in REGIONS:
        ours = trust(run, region)
        assert "aws:SourceOrgID" not in json.dumps(ours)
        # Any account of the organisation, whose ID the logging stack cannot know, and the
        # logging account itself; the access policy below is what keeps others out.
        for account in ("123456789012", LOGGING_ACCOUNT_ID, *MEMBERS):
            for arn in source_arns(region, account):
                assert admits(ours, *assume_by_logs(arn)), arn
        other_region = next(r for r in REGIONS if r != region)
        for arn in source_arns(other_region, "123456789012"):
            assert not admits(ours, *assume_by_logs(arn)), arn


def test_organization_access_policy_admits_the_organisation_only() -> None:
    run = run_program({"role": "logging", "organizationId": ORG_ID, "regions": REGIONS})
    for region in REGIONS:
        ours = access_policy(run, region)
        destination = (
            f"arn:aws:logs:{region}:{LOGGING_ACCOUNT_ID}:destination:CentralLogDestination"
        )
        example = instantiate(
            AWS_ORGANIZATION_ACCESS_POLICY,
            **{
                "o-1234567890": ORG_ID,
                "arn:aws:logs:region:999999999999:destination:testDestination": destination,
            },
        )
        member = {"AWS": "123456789012"}
        in_org = {"aws:PrincipalOrgID": ORG_ID}
        assert admits(example, member, "logs:PutSubscriptionFilter", in_org, destination)
        for action in ("logs:PutSubscriptionFilter", "logs:PutAccountPolicy"):
            assert admits(ours, member, action, in_org, destination)
            assert not admits(
                ours, member, action, {"aws:PrincipalOrgID": FOREIGN_ORG}, destination
            )
            assert not admits(ours, member, action, {}, destination)
        assert not admits(ours, member, "logs:DeleteDestination", in_org, destination)


def test_account_access_policy_admits_the_listed_accounts_only() -> None:
    run = run_program({"role": "logging", "memberAccounts": MEMBERS})
    ours = access_policy(run, "eu-west-1")
    destination = f"arn:aws:logs:eu-west-1:{LOGGING_ACCOUNT_ID}:destination:CentralLogDestination"
    for member in MEMBERS:
        example = instantiate(
            AWS_ACCOUNT_ACCESS_POLICY,
            **{
                "111111111111": member,
                "arn:aws:logs:region:999999999999:destination:testDestination": destination,
            },
        )
        assert admits(example, {"AWS": member}, "logs:PutSubscriptionFilter", {}, destination)
        for action in ("logs:PutSubscriptionFilter", "logs:PutAccountPolicy"):
            assert admits(ours, {"AWS": member}, action, {}, destination)
    assert not admits(ours, {"AWS": FOREIGN_ACCOUNT}, "logs:PutSubscriptionFilter", {}, destination)


@pytest.mark.parametrize(
    ("config", "forced"),
    [
        ({"organizationId": ORG_ID}, True),
        ({"organizationId": ORG_ID, "memberAccounts": MEMBERS}, True),
        ({"memberAccounts": MEMBERS}, None),
    ],
)
def test_an_organisation_policy_is_put_with_force_update(
    config: dict[str, object], forced: bool | None
) -> None:
    """PutDestinationPolicy refuses to move a destination from an account list to an
    organisation without forceUpdate; a stack that adds organizationId later needs it."""
    run = run_program({"role": "logging", **config, "regions": REGIONS})
    for policy in run.of_type(DESTINATION_POLICY):
        assert policy.inputs.get("forceUpdate") is forced
