"""Who may write history and who reads it: the logging stack's history writer role and what
the archive policy lets it do, the members' read-only history reader role."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from components import policies
from tests.infra.harness import LOGGING_ACCOUNT_ID, ORG_ID, config_error, run_program
from tests.infra.test_organization import run_organization, template
from tests.infra.test_subscriber import MEMBER, run_member

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
OPERATOR = "arn:aws:iam::222222222222:role/ops"
PARTITION = f"CentralizedAccountsLog/account={MEMBER}/region=eu-west-1/year=2026/month=01/day=02/"
HISTORY_KEY = f"{PARTITION}history-{'0' * 32}-0-1765000000000.json.gz"
LIVE_KEY = f"{PARTITION}CentralLogDestination-eu-west-1-1-2026-01-02-00-00-00-uuid.json.gz"
WITH_WRITERS = {
    "role": "logging",
    "organizationId": ORG_ID,
    "historyWriterPrincipals": ["111111111111", OPERATOR],
}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def denied(policy: dict[str, Any], principal: str, resource: str, *, if_none_match: bool) -> bool:
    """Whether an explicit Deny of the archive policy applies to a TLS PutObject of `resource`
    by the role `principal` (the elements these denies use: Resource or NotResource, and
    ArnEquals, ArnNotEquals and Null conditions)."""
    for statement in policy["Statement"]:
        if statement["Effect"] != "Deny" or "s3:PutObject" not in _items(statement["Action"]):
            continue
        if "Resource" in statement:
            if not any(fnmatch.fnmatchcase(resource, r) for r in _items(statement["Resource"])):
                continue
        elif any(fnmatch.fnmatchcase(resource, r) for r in _items(statement["NotResource"])):
            continue
        condition = statement.get("Condition", {})
        if "Bool" in condition:  # the TLS deny
            continue
        exempt = condition.get("ArnNotEquals", {}).get("aws:PrincipalArn", [])
        if principal in exempt:
            continue
        if "ArnEquals" in condition and principal != condition["ArnEquals"]["aws:PrincipalArn"]:
            continue
        if "Null" in condition and if_none_match:
            continue
        return True
    return False


def test_the_history_writer_may_put_only_new_history_objects_under_the_prefix() -> None:
    run = run_program(WITH_WRITERS)
    writer = run.one(ROLE, "central-history-writer")
    trust = writer.policy("assumeRolePolicy")["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::111111111111:root", OPERATOR]},
            "Action": "sts:AssumeRole",
        }
    ]
    bucket = run.one("aws:s3/bucket:Bucket", "central-archive").state["arn"]
    grants = run.one(ROLE_POLICY, "central-history-writer").policy("policy")["Statement"]
    objects, key = grants
    assert (objects["Action"], objects["Resource"]) == (
        "s3:PutObject",
        f"{bucket}/CentralizedAccountsLog/account=*/history-*.json.gz",
    )
    assert key["Action"] == "kms:GenerateDataKey"
    assert run.outputs["historyWriterRoleArn"] == writer.state["arn"]

    policy = run.one("aws:s3/bucketPolicy:BucketPolicy", "central-archive-policy").policy("policy")
    arn = writer.state["arn"]
    assert not denied(policy, arn, f"{bucket}/{HISTORY_KEY}", if_none_match=True)
    # Not a record that looks live, not an overwrite, not outside the prefix.
    assert denied(policy, arn, f"{bucket}/{LIVE_KEY}", if_none_match=True)
    assert denied(policy, arn, f"{bucket}/{HISTORY_KEY}", if_none_match=False)
    assert denied(policy, arn, f"{bucket}/athena-results/history-x.json.gz", if_none_match=True)
    # Everyone else is still refused under the prefix, history objects included.
    assert denied(policy, OPERATOR, f"{bucket}/{HISTORY_KEY}", if_none_match=True)
    delivery = run.one(ROLE, "central-eu-west-1-firehose-role").state["arn"]
    assert not denied(policy, delivery, f"{bucket}/{LIVE_KEY}", if_none_match=False)


def test_without_history_writers_there_is_no_writer_role_and_no_output() -> None:
    run = run_program({"role": "logging", "organizationId": ORG_ID})
    assert [r.name for r in run.of_type(ROLE) if "history" in r.name] == []
    assert "historyWriterRoleArn" not in run.outputs
    policy = run.one("aws:s3/bucketPolicy:BucketPolicy", "central-archive-policy").policy("policy")
    assert [s["Sid"] for s in policy["Statement"] if "History" in s["Sid"]] == [
        "DenyHistoryRewrites"
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"historyWriterPrincipals": ["ops"]},
            "central-logging:historyWriterPrincipals is 'ops'; each entry must be a 12-digit "
            "account ID or an IAM role ARN such as arn:aws:iam::111111111111:role/NAME.",
        ),
        (
            {"historyWriterPrincipals": [OPERATOR], "archiveFormat": "raw"},
            "central-logging:historyWriterPrincipals is set with central-logging:archiveFormat "
            "raw; history objects are written only into an archive in the json format.",
        ),
    ],
)
def test_bad_history_writer_principals_stop_the_program(
    config: dict[str, Any], message: str
) -> None:
    assert config_error({"role": "logging", "organizationId": ORG_ID, **config}) == message


READS = ["logs:DescribeLogGroups", "logs:DescribeSubscriptionFilters", "logs:FilterLogEvents"]


def test_the_member_history_reader_reads_only_this_accounts_log_groups() -> None:
    run = run_member(regions=["eu-west-1", "us-east-1"])
    reader = run.one(ROLE, "central-history-reader")
    assert reader.inputs["name"] == policies.HISTORY_READER_ROLE_NAME
    assert reader.policy("assumeRolePolicy")["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:root"
    }
    read, settings = run.one(ROLE_POLICY, "central-history-reader").policy("policy")["Statement"]
    assert read["Action"] == READS
    assert read["Resource"] == [
        f"arn:aws:logs:{r}:{MEMBER}:log-group:*" for r in ("eu-west-1", "us-east-1")
    ]
    assert settings["Action"] == "ssm:GetParameter"


def test_the_organization_templates_give_every_account_the_same_reader() -> None:
    run = run_organization()
    role = template(run, "account")["Resources"]["HistoryReaderRole"]["Properties"]
    assert role["RoleName"] == policies.HISTORY_READER_ROLE_NAME
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::999999999999:root"}
    }
    [read] = [p for p in role["Policies"] if p["PolicyName"] == "read-log-groups"]
    assert read["PolicyDocument"]["Statement"][0]["Action"] == READS
