"""The README's first-deployment guide (issue 22): its stack files are the repository's
example files, set only keys their role declares, pass the program's own checks, and use fake
account IDs; the statements it gives an `existingBucketName` owner are exactly what the
stack's roles do on that bucket and key."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import policies
from components.config import ROLE_KEYS
from tests.infra.harness import LOGGING_ACCOUNT_ID, ORG_ID, Resource, Run, run_program
from tests.infra.stacks import LOGGING_OUTPUTS

ROOT = Path(__file__).resolve().parents[2]
GUIDE_TITLE = "## First deployment in an organisation"
EXAMPLE_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))
NAMESPACE = "central-logging:"
# The provider keys the examples set: the home region, and the account a stack must run in.
AWS_KEYS = {"aws:region", "aws:allowedAccountIds"}
COMMENTED_KEY = re.compile(rf"^\s*#\s*{NAMESPACE}(\w+):", re.MULTILINE)
TWELVE_DIGITS = re.compile(r"(?<!\d)\d{12}(?!\d)")
# Pulumi's autonaming appends a random suffix to a resource's name.
AUTONAME_SUFFIX = "-1a2b3c4"

EXISTING_BUCKET = "aws-controltower-logs-999999999999-eu-west-1"
EXISTING_KEY = (
    f"arn:aws:kms:eu-west-1:{LOGGING_ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)
EXISTING = {
    "role": "logging",
    "organizationId": ORG_ID,
    "regions": ["eu-west-1", "us-east-1"],
    "existingBucketName": EXISTING_BUCKET,
    "kmsKeyArn": EXISTING_KEY,
    "readerPrincipals": ["444444444444"],
    "historyWriterPrincipals": ["111111111111"],
    "organizationReaderRoleArn": "arn:aws:iam::222222222222:role/central-logging-list-accounts",
    "coverageCheck": True,
}
PLACEHOLDERS = {
    "<bucket>": EXISTING_BUCKET,
    "<prefix>": "CentralizedAccountsLog/",
    "<logging-account>": LOGGING_ACCOUNT_ID,
    "<home-region>": "eu-west-1",
}


def guide() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n{GUIDE_TITLE}\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def stack_files() -> dict[str, str]:
    """Every stack file a user may copy: the guide's blocks and the repository's examples."""
    files = {f"README block {n}": block for n, block in enumerate(fenced(guide(), "yaml"))}
    return files | {path.name: path.read_text() for path in EXAMPLE_FILES}


def declared_keys() -> set[str]:
    return set(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"])


def test_the_guide_shows_each_step_s_stack_file_as_the_repository_has_it() -> None:
    blocks = fenced(guide(), "yaml")
    examples = {path.name: path.read_text() for path in EXAMPLE_FILES}
    shown = [name for block in blocks for name, text in examples.items() if text == block]
    assert len(shown) == len(blocks), "a YAML block of the guide is no example file as it is"
    assert shown == ["Pulumi.logging.yaml", "Pulumi.organization.yaml", "Pulumi.management.yaml"]


@pytest.mark.parametrize("name", sorted(stack_files()))
def test_a_stack_file_sets_only_keys_declared_for_its_role(name: str) -> None:
    text = stack_files()[name]
    config = yaml.safe_load(text)["config"]
    role = config[f"{NAMESPACE}role"]
    assert {k for k in config if not k.startswith(NAMESPACE)} == AWS_KEYS
    keys = [k.removeprefix(NAMESPACE) for k in config if k.startswith(NAMESPACE)]
    keys += COMMENTED_KEY.findall(text)  # an option shown commented out is copied too
    allowed = {"role", *ROLE_KEYS[role]}
    assert [k for k in keys if k not in declared_keys() or k not in allowed] == []


@pytest.mark.parametrize("name", [path.name for path in EXAMPLE_FILES])
def test_an_example_stack_file_passes_the_program_s_checks(name: str) -> None:
    config = yaml.safe_load((ROOT / name).read_text())["config"]
    run = run_program(
        {k.removeprefix(NAMESPACE): v for k, v in config.items() if k.startswith(NAMESPACE)},
        region=config["aws:region"],
        account_id=config["aws:allowedAccountIds"][0],
        stack_outputs=LOGGING_OUTPUTS,
    )
    assert run.outputs["destinationArns"]


def test_the_guide_and_the_examples_use_fake_account_ids_only() -> None:
    for name, text in {"README guide": guide(), **stack_files()}.items():
        ids = set(TWELVE_DIGITS.findall(text))
        assert {i for i in ids if len(set(i)) != 1} == set(), name


@cache
def existing_bucket_run() -> Run:
    return run_program(EXISTING, account_id=LOGGING_ACCOUNT_ID)


def guide_statements() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The bucket statements and the key statement the guide gives, placeholders filled."""
    bucket, key = fenced(guide(), "json")
    for placeholder, value in PLACEHOLDERS.items():
        bucket, key = bucket.replace(placeholder, value), key.replace(placeholder, value)
    return json.loads(bucket), json.loads(key)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def grant(statement: dict[str, Any]) -> tuple[frozenset[str], frozenset[str], str]:
    """What a statement allows on the existing bucket: actions, resources, other conditions."""
    condition = {
        operator: {k: v for k, v in keys.items() if k != "aws:PrincipalArn"}
        for operator, keys in statement.get("Condition", {}).items()
    }
    return (
        frozenset(_as_list(statement["Action"])),
        frozenset(r for r in _as_list(statement["Resource"]) if EXISTING_BUCKET in r),
        json.dumps({o: keys for o, keys in condition.items() if keys}, sort_keys=True),
    )


def role_arn(role: Resource) -> str:
    name = role.inputs.get("name") or f"{role.name}{AUTONAME_SUFFIX}"
    return f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:role/{name}"


def bucket_grants_by_role(run: Run) -> dict[str, set[tuple[frozenset[str], frozenset[str], str]]]:
    """Each role's S3 statements on the existing bucket, from the policies the stack renders."""
    grants: dict[str, set[tuple[frozenset[str], frozenset[str], str]]] = {}
    for role in run.of_type("aws:iam/role:Role"):
        for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
            if policy.inputs["role"] != f"{role.name}-id":
                continue
            for statement in policy.policy("policy")["Statement"]:
                on_bucket = grant(statement)
                if on_bucket[1] and all(a.startswith("s3:") for a in on_bucket[0]):
                    grants.setdefault(role_arn(role), set()).add(on_bucket)
    return grants


def test_the_bucket_statements_are_what_the_stack_s_roles_do_on_an_existing_bucket() -> None:
    run = existing_bucket_run()
    expected = bucket_grants_by_role(run)
    # Delivery (one role per covered region), freshness, redrive, reader, history, coverage.
    assert len(expected) == 7
    given: dict[str, set[tuple[frozenset[str], frozenset[str], str]]] = {}
    statements, _ = guide_statements()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{LOGGING_ACCOUNT_ID}:root"}
        pattern = statement["Condition"]["ArnLike"]["aws:PrincipalArn"]
        roles = [arn for arn in expected if fnmatchcase(arn, pattern)]
        assert roles, f"{pattern} names no role of the stack"
        for arn in roles:
            given.setdefault(arn, set()).add(grant(statement))
    assert given == expected


def test_the_stack_writes_nothing_on_an_existing_bucket() -> None:
    run = existing_bucket_run()
    assert [r.name for r in run.resources if r.inputs.get("bucket") == EXISTING_BUCKET] == []


def test_the_key_statement_is_the_key_policy_the_stack_gives_a_key_it_creates() -> None:
    _, statement = guide_statements()
    run = existing_bucket_run()
    # The buckets the stack creates with existingBucketName (Athena's results) use the key.
    created = [
        f"arn:aws:s3:::{r.name}{AUTONAME_SUFFIX}" for r in run.of_type("aws:s3/bucket:Bucket")
    ]
    contexts = statement["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]
    assert created and all(any(fnmatchcase(b, c) for c in contexts) for b in created)
    [results] = [c for c in contexts if not c.endswith("/*") and EXISTING_BUCKET not in c]
    rendered = policies.key_policy(
        "aws",
        LOGGING_ACCOUNT_ID,
        bucket_arn=f"arn:aws:s3:::{EXISTING_BUCKET}",
        region=PLACEHOLDERS["<home-region>"],
        admin_arns=[],
        results_bucket_arn=results,
    )
    [use] = [s for s in rendered["Statement"] if s["Sid"] == "UseThroughS3ForArchive"]
    assert {k: v for k, v in statement.items() if k != "Sid"} == {
        k: v for k, v in use.items() if k != "Sid"
    }
    assert {
        r.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
        for r in run.of_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
    } == {EXISTING_KEY}
