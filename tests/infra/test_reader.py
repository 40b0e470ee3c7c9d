"""The archive reader role (readerPrincipals, readerRoleArn): a reader lists, gets, decrypts
through S3 and queries; it cannot write, delete or change anything. Judged by an IAM
evaluator over the identity, bucket and key policies the program renders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import parliament
import pytest

from components import policies
from components.athena import DATABASE, WORKGROUP
from tests.infra.harness import LOGGING_ACCOUNT_ID, ORG_ID, Run, config_error, run_program
from tests.infra.iam_evaluator import Request, allowed, listed, may_assume

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
REGION = "eu-west-1"
TOOLING_ACCOUNT = "444444444444"
SIEM_ROLE = "arn:aws:iam::555555555555:role/siem/reader"
CONFIG = {
    "role": "logging",
    "organizationId": ORG_ID,
    "readerPrincipals": [TOOLING_ACCOUNT, SIEM_ROLE],
}
PREFIX = "CentralizedAccountsLog/"
READER_JSON = Path(__file__).resolve().parents[2] / "deploy" / "iam" / "reader.json"


class Reader:
    """The rendered reader role and the archive's policies, and the requests it makes."""

    def __init__(self, run: Run) -> None:
        self.role = run.one(ROLE, "central-reader")
        self.arn = self.role.state["arn"]
        self.trust = self.role.policy("assumeRolePolicy")
        self.policy = run.one(ROLE_POLICY, "central-reader").policy("policy")
        self.bucket = run.one("aws:s3/bucket:Bucket", "central-archive").state["arn"]
        self.bucket_policy = run.one(
            "aws:s3/bucketPolicy:BucketPolicy", "central-archive-policy"
        ).policy("policy")
        # Athena's results have a bucket of their own (athenaResultsDays, issue 17).
        self.results = run.one("aws:s3/bucket:Bucket", "central-athena-results").state["arn"]
        self.results_policy = run.one(
            "aws:s3/bucketPolicy:BucketPolicy", "central-athena-results-policy"
        ).policy("policy")
        key = run.one("aws:kms/key:Key")
        self.key_arn = key.state["arn"]
        self.key_policy = key.policy("policy")

    def may(self, action: str, resource: str, **context: str) -> bool:
        request = Request(self.arn, action, resource, context)
        if action.startswith("kms:"):
            return allowed(request, [self.policy], self.key_policy, key_policy=True)
        if action.startswith("s3:") and resource.startswith(self.results):
            return allowed(request, [self.policy], self.results_policy)
        if action.startswith("s3:") and resource.startswith(self.bucket):
            return allowed(request, [self.policy], self.bucket_policy)
        return allowed(request, [self.policy])

    def decrypt_via_s3(self, action: str, object_key: str, bucket: str | None = None) -> bool:
        bucket = bucket or self.bucket
        return self.may(
            action,
            self.key_arn,
            **{
                "kms:ViaService": f"s3.{REGION}.amazonaws.com",
                "kms:EncryptionContext:aws:s3:arn": bucket,  # an S3 Bucket Key
            },
        ) and self.may(
            action,
            self.key_arn,
            **{
                "kms:ViaService": f"s3.{REGION}.amazonaws.com",
                "kms:EncryptionContext:aws:s3:arn": f"{bucket}/{object_key}",
            },
        )


@pytest.fixture(scope="module")
def run() -> Run:
    return run_program(CONFIG, region=REGION)


@pytest.fixture(scope="module")
def reader(run: Run) -> Reader:
    return Reader(run)


def test_the_stack_exports_the_reader_role(run: Run, reader: Reader) -> None:
    assert run.outputs["readerRoleArn"] == reader.arn
    assert reader.arn.startswith(f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:role/")


def test_only_the_named_accounts_and_roles_may_assume_it(reader: Reader) -> None:
    assert may_assume(reader.trust, f"arn:aws:iam::{TOOLING_ACCOUNT}:role/any-analyst")
    assert may_assume(reader.trust, SIEM_ROLE)
    assert not may_assume(reader.trust, "arn:aws:iam::555555555555:role/other")
    assert not may_assume(reader.trust, "arn:aws:iam::555555555555:role/siem/reader-2")
    assert not may_assume(reader.trust, "arn:aws:iam::666666666666:role/siem/reader")
    assert not may_assume(reader.trust, f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:role/admin")


def test_a_reader_lists_gets_and_decrypts_the_archive_through_s3(reader: Reader) -> None:
    obj = f"{PREFIX}account=111111111111/region=eu-west-1/year=2026/month=01/day=02/a.json.gz"
    assert reader.may("s3:ListBucket", reader.bucket)
    assert reader.may("s3:GetObject", f"{reader.bucket}/{obj}")
    assert reader.may("s3:GetObjectVersion", f"{reader.bucket}/{obj}")
    assert reader.decrypt_via_s3("kms:Decrypt", obj)


def test_a_reader_runs_the_workgroup_and_reads_its_results(reader: Reader) -> None:
    workgroup = f"arn:aws:athena:{REGION}:{LOGGING_ACCOUNT_ID}:workgroup/{WORKGROUP}"
    glue = f"arn:aws:glue:{REGION}:{LOGGING_ACCOUNT_ID}"
    for action in ("StartQueryExecution", "GetQueryExecution", "GetQueryResults"):
        assert reader.may(f"athena:{action}", workgroup)
    for resource in ("catalog", f"database/{DATABASE}", f"table/{DATABASE}/events"):
        assert reader.may("glue:GetTable", f"{glue}:{resource}")
    result = "abc-123.csv"
    assert reader.may("s3:ListBucket", reader.results)
    assert reader.may("s3:PutObject", f"{reader.results}/{result}")
    assert reader.may("s3:GetObject", f"{reader.results}/{result}")
    assert reader.decrypt_via_s3("kms:GenerateDataKey", result, reader.results)
    # Results go to their bucket only, never into the archive.
    assert not reader.may("s3:PutObject", f"{reader.bucket}/athena-results/{result}")
    other = f"arn:aws:athena:{REGION}:{LOGGING_ACCOUNT_ID}:workgroup/primary"
    assert not reader.may("athena:StartQueryExecution", other)


@pytest.mark.parametrize(
    ("action", "where"),
    [
        ("s3:PutObject", "archive object"),
        ("s3:DeleteObject", "archive object"),
        ("s3:DeleteObjectVersion", "archive object"),
        ("s3:PutObjectRetention", "archive object"),
        ("s3:PutObjectLegalHold", "archive object"),
        ("s3:PutObjectAcl", "archive object"),
        ("s3:PutObjectTagging", "archive object"),
        ("s3:DeleteObject", "query result"),
        ("s3:PutBucketPolicy", "bucket"),
        ("s3:DeleteBucket", "bucket"),
        ("s3:PutLifecycleConfiguration", "bucket"),
        ("s3:PutBucketVersioning", "bucket"),
        ("s3:GetObject", "other bucket"),
        ("kms:Decrypt", "key, directly"),
        ("kms:Encrypt", "key"),
        ("kms:ScheduleKeyDeletion", "key"),
        ("kms:PutKeyPolicy", "key"),
        ("kms:DisableKey", "key"),
        ("athena:UpdateWorkGroup", "workgroup"),
        ("athena:DeleteWorkGroup", "workgroup"),
        ("athena:CreateNamedQuery", "workgroup"),
        ("athena:DeleteNamedQuery", "workgroup"),
        ("athena:TagResource", "workgroup"),
        ("glue:UpdateTable", "table"),
        ("glue:DeleteTable", "table"),
        ("glue:CreateTable", "database"),
        ("glue:BatchCreatePartition", "table"),
        ("iam:PutRolePolicy", "own role"),
        ("iam:UpdateAssumeRolePolicy", "own role"),
    ],
)
def test_a_reader_cannot_write_delete_or_change_anything(
    reader: Reader, action: str, where: str
) -> None:
    glue = f"arn:aws:glue:{REGION}:{LOGGING_ACCOUNT_ID}"
    resource = {
        "archive object": f"{reader.bucket}/{PREFIX}account=111111111111/x.json.gz",
        "query result": f"{reader.results}/abc-123.csv",
        "bucket": reader.bucket,
        "other bucket": "arn:aws:s3:::someone-elses-bucket/secret",
        "key, directly": reader.key_arn,
        "key": reader.key_arn,
        "workgroup": f"arn:aws:athena:{REGION}:{LOGGING_ACCOUNT_ID}:workgroup/{WORKGROUP}",
        "table": f"{glue}:table/{DATABASE}/events",
        "database": f"{glue}:database/{DATABASE}",
        "own role": reader.arn,
    }[where]
    assert not reader.may(action, resource)
    # Not even with S3 as the caller of the key: only decrypting and data keys go through.
    if action.startswith("kms:"):
        assert not reader.may(action, resource, **{"kms:ViaService": f"s3.{REGION}.amazonaws.com"})


def test_the_reader_policy_grants_no_write_but_query_results() -> None:
    """Every action it allows reads, or runs a query (whose results are the one write)."""
    policy = policies.archive_reader_policy(
        partition="aws",
        region=REGION,
        account_id=LOGGING_ACCOUNT_ID,
        bucket_arn="arn:aws:s3:::archive",
        s3_prefix=PREFIX,
        kms_key_arn=f"arn:aws:kms:{REGION}:{LOGGING_ACCOUNT_ID}:key/k",
        athena=(WORKGROUP, DATABASE, "arn:aws:s3:::results"),
    )
    reads = ("Get", "List", "BatchGet", "Decrypt")
    writes = {
        action: statement["Resource"]
        for statement in policy["Statement"]
        for action in listed(statement["Action"])
        if not action.split(":")[1].startswith(reads)
    }
    assert writes == {
        "athena:StartQueryExecution": f"arn:aws:athena:{REGION}:{LOGGING_ACCOUNT_ID}:workgroup/{WORKGROUP}",
        "athena:StopQueryExecution": f"arn:aws:athena:{REGION}:{LOGGING_ACCOUNT_ID}:workgroup/{WORKGROUP}",
        "s3:AbortMultipartUpload": "arn:aws:s3:::results/*",
        "s3:PutObject": "arn:aws:s3:::results/*",
        "kms:GenerateDataKey": f"arn:aws:kms:{REGION}:{LOGGING_ACCOUNT_ID}:key/k",
    }
    assert all("*" not in listed(s["Resource"]) for s in policy["Statement"])


def test_without_athena_the_reader_only_reads_objects() -> None:
    run = run_program({**CONFIG, "archiveFormat": "raw", "transport": "kinesis"}, region=REGION)
    policy = run.one(ROLE_POLICY, "central-reader").policy("policy")
    actions = sorted(a for s in policy["Statement"] for a in listed(s["Action"]))
    assert actions == [
        "kms:Decrypt",
        "s3:GetBucketLocation",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
    ]


def test_no_reader_principals_no_reader_role() -> None:
    run = run_program({"role": "logging", "organizationId": ORG_ID}, region=REGION)
    assert [r.name for r in run.of_type(ROLE) if "reader" in r.name] == []
    assert "readerRoleArn" not in run.outputs


def reader_json_example() -> dict[str, Any]:
    """deploy/iam/reader.json as the program renders it, for the example placeholders."""
    return policies.archive_reader_policy(
        partition="aws",
        region="eu-west-1",
        account_id="111111111111",
        bucket_arn="arn:aws:s3:::ARCHIVE_BUCKET",
        s3_prefix=PREFIX,
        kms_key_arn="arn:aws:kms:eu-west-1:111111111111:key/ARCHIVE_KEY_ID",
        athena=(WORKGROUP, DATABASE, "arn:aws:s3:::ATHENA_RESULTS_BUCKET"),
    )


def test_deploy_iam_reader_json_is_the_rendered_reader_policy() -> None:
    """Same-account analysts attach the file; it never drifts from the role's policy."""
    assert json.loads(READER_JSON.read_text()) == reader_json_example()


def test_the_reader_policies_pass_parliament(reader: Reader) -> None:
    for document in (reader.policy, reader_json_example()):
        findings = parliament.analyze_policy_string(json.dumps(document)).findings
        assert [(f.issue, f.detail) for f in findings] == []


@pytest.mark.parametrize(
    ("principals", "message"),
    [
        (
            ["not-a-principal"],
            "central-logging:readerPrincipals is 'not-a-principal'; each entry must be a "
            "12-digit account ID or an IAM role ARN such as "
            "arn:aws:iam::111111111111:role/NAME.",
        ),
        (
            ["arn:aws:sts::444444444444:assumed-role/analyst/jane"],
            "central-logging:readerPrincipals is "
            "'arn:aws:sts::444444444444:assumed-role/analyst/jane'; each entry must be a "
            "12-digit account ID or an IAM role ARN such as "
            "arn:aws:iam::111111111111:role/NAME.",
        ),
    ],
)
def test_reader_principals_are_accounts_or_role_arns(principals: list[str], message: str) -> None:
    assert config_error({**CONFIG, "readerPrincipals": principals}, region=REGION) == message
