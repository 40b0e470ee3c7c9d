"""The redrive role: the one principal besides the delivery roles that writes under the archive
prefix, and only new `redrive-*.json.gz` objects (issue 18 item 3)."""

from __future__ import annotations

from components import policies
from tests.infra.harness import ORG_ID, run_program
from tests.infra.test_archive_protection import (
    ADMIN,
    BUCKET_POLICY,
    DEPLOYER,
    MEMBER_ROLE,
    ROLE,
    archive_policies,
    denied,
)

POLICY = "aws:iam/rolePolicy:RolePolicy"
CONFIG = {"role": "logging", "organizationId": ORG_ID, "archiveAdminRoleArns": [ADMIN]}
PARTITION = "CentralizedAccountsLog/account=222222222222/region=eu-west-1/year=2026/month=01/day=10"


def test_the_admins_assume_the_redrive_role_which_the_stack_exports() -> None:
    run, _, _, bucket = archive_policies(CONFIG)
    role = run.one(ROLE, "central-redrive-role")
    assert "central-logging:redrive:RedriveRole" in run.ancestor_types(role)
    assert run.outputs["redriveRoleArn"] == role.state["arn"]
    [trust] = role.policy("assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"AWS": sorted([ADMIN, DEPLOYER])}
    key = run.outputs["kmsKeyArn"]
    assert run.one(POLICY, "central-redrive-role").policy("policy") == policies.redrive_role_policy(
        bucket_arn=bucket, s3_prefix="CentralizedAccountsLog/", kms_key_arn=key
    )


def test_the_redrive_role_writes_only_new_redriven_objects() -> None:
    run, policy, _, bucket = archive_policies(CONFIG)
    redrive = run.outputs["redriveRoleArn"]
    redriven = f"{bucket}/{PARTITION}/redrive-0123abcd.json.gz"
    assert not denied(policy, redrive, "s3:PutObject", redriven, if_none_match=True)
    # Never over an object already there, nor any other key of the bucket.
    assert denied(policy, redrive, "s3:PutObject", redriven)
    for other in (
        f"{bucket}/{PARTITION}/central-logging-1-2026.json.gz",
        f"{bucket}/CentralizedAccountsLog/errors/region=eu-west-1/x",
        f"{bucket}/athena-results/q.csv",
    ):
        assert denied(policy, redrive, "s3:PutObject", other, if_none_match=True), other
    # Everyone else still writes nothing under the prefix, redriven names included.
    for principal in (DEPLOYER, ADMIN, MEMBER_ROLE, None):
        assert denied(policy, principal, "s3:PutObject", redriven, if_none_match=True)
    delivery = run.one(ROLE, "central-eu-west-1-firehose-role").state["arn"]
    assert not denied(policy, delivery, "s3:PutObject", f"{bucket}/{PARTITION}/x.json.gz")


def test_the_raw_format_has_no_redrive_role() -> None:
    run = run_program({**CONFIG, "archiveFormat": "raw"})
    assert "redriveRoleArn" not in run.outputs
    assert not [r for r in run.of_type(ROLE) if "redrive" in r.name]
    statements = run.one(BUCKET_POLICY, "central-archive-policy").policy("policy")["Statement"]
    assert not [s for s in statements if "Redrive" in s["Sid"]]
