"""The GitHub Actions workflows: valid against GitHub's workflow schema, and shaped as the README
promises (previews with the policy pack commented on pull requests, `make test`, ordered and
protected deployments, OIDC credentials, least permissions)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
PULL_REQUEST = WORKFLOWS / "pull-request.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
MEMBER_MATRIX = "${{ fromJSON(vars.MEMBER_STACKS) }}"
MEMBER_ROLE = "${{ fromJSON(vars.AWS_ROLE_ARNS_MEMBERS)[matrix.stack] }}"
LOGGING_ROLE = "${{ vars.AWS_ROLE_ARN_LOGGING }}"


def load(path: Path) -> dict[str, Any]:
    workflow: dict[Any, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as the boolean true.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    """The job's steps running `action` (owner/name), which must be pinned to a major tag."""
    steps = [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]
    for step in steps:
        assert step["uses"].split("@")[1].startswith("v"), step["uses"]
    return steps


def run_commands(job: dict[str, Any]) -> list[str]:
    return [s["run"] for s in job["steps"] if "run" in s]


PREVIEW_TOKEN = "${{ secrets.PULUMI_PREVIEW_TOKEN }}"
DEPLOY_TOKEN = "${{ secrets.PULUMI_ACCESS_TOKEN }}"


def pulumi_step(job: dict[str, Any], token: str, pack: str) -> dict[str, Any]:
    [step] = uses(job, "pulumi/actions")
    assert step["env"] == {"PULUMI_ACCESS_TOKEN": token}
    assert step["with"]["policyPacks"] == pack
    assert step["with"]["policyPackConfigs"] == f"{pack}/acknowledged.json"
    return step


def assumed_role(job: dict[str, Any]) -> str:
    [step] = uses(job, "aws-actions/configure-aws-credentials")
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(step["with"])
    role: str = step["with"]["role-to-assume"]
    return role


ALL = sorted(WORKFLOWS.glob("*.y*ml"))


def test_the_workflows_exist() -> None:
    assert {p.name for p in ALL} == {PULL_REQUEST.name, DEPLOY.name, "dependencies.yml"}


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_workflow_is_valid_against_the_github_workflow_schema(path: Path) -> None:
    result = check_schema(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_an_invalid_workflow(tmp_path: Path) -> None:
    broken = load(PULL_REQUEST)
    broken["jobs"]["test"]["permissions"]["id-token"] = "admin"
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))
    result = check_schema(path)
    assert result.returncode == 1
    assert "id-token" in result.stdout + result.stderr


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_least_permissions(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        permissions = dict(job["permissions"])
        assert permissions.pop("contents") == "read", name
        # An OIDC token only where AWS credentials are assumed.
        assert (permissions.pop("id-token", None) == "write") == bool(
            uses(job, "aws-actions/configure-aws-credentials")
        ), name
        # A pull-requests: write token only in the job that comments, which runs no code of
        # the repository (it checks nothing out).
        if permissions.pop("pull-requests", None) == "write":
            assert name == "comment" and not uses(job, "actions/checkout"), name
        assert permissions == {}, name
        # No checkout leaves the job's token in .git/config for the code that runs next.
        for step in uses(job, "actions/checkout"):
            assert step["with"]["persist-credentials"] is False, name


PREVIEW_ROLES = {
    "preview-logging": "${{ vars.AWS_PREVIEW_ROLE_ARN_LOGGING }}",
    "preview-members": "${{ fromJSON(vars.AWS_PREVIEW_ROLE_ARNS_MEMBERS)[matrix.stack] }}",
    "preview-organization": "${{ vars.AWS_PREVIEW_ROLE_ARN_ORGANIZATION }}",
}
DEPLOY_ROLES = {
    "up-logging": LOGGING_ROLE,
    "up-members": MEMBER_ROLE,
    "up-organization": "${{ vars.AWS_ROLE_ARN_ORGANIZATION }}",
}
STACKS = {
    "logging": "${{ vars.LOGGING_STACK }}",
    "members": "${{ matrix.stack }}",
    "organization": "${{ vars.ORGANIZATION_STACK }}",
}
SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"


def test_pull_requests_run_the_tests_and_preview_every_stack_with_the_base_branch_pack() -> None:
    workflow = load(PULL_REQUEST)
    assert workflow["on"] == {"pull_request": {"branches": ["main"]}}
    assert workflow["concurrency"] == {
        "group": "pull-request-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }
    jobs = workflow["jobs"]
    assert set(jobs) == {"test", "comment", *PREVIEW_ROLES}
    assert run_commands(jobs["test"]) == ["make test"]
    assert jobs["preview-members"]["strategy"] == {
        "fail-fast": False,
        "matrix": {"stack": MEMBER_MATRIX},
    }
    for name, role in PREVIEW_ROLES.items():
        job = jobs[name]
        step = pulumi_step(job, PREVIEW_TOKEN, "base/policy")
        assert step["with"]["command"] == "preview"
        assert step["with"]["stack-name"] == STACKS[name.removeprefix("preview-")]
        assert assumed_role(job) == role
        # The pack comes from the base commit, installed in its own venv there.
        [_, base] = uses(job, "actions/checkout")
        assert base["with"] == {
            "ref": "${{ github.event.pull_request.base.sha }}",
            "path": "base",
            "sparse-checkout": "policy",
            "persist-credentials": False,
        }
        assert (
            "python -m venv base/policy/venv && base/policy/venv/bin/pip install --quiet -r "
            "base/policy/requirements.txt" in "".join(run_commands(job))
        )
        assert "environment" not in job
        # Fork pull requests get no OIDC token or secrets, so they are not previewed.
        assert job["if"].startswith(SAME_REPOSITORY)
    # The organization stack is optional: previewed wherever the repository names one.
    assert jobs["preview-organization"]["if"] == (
        f"{SAME_REPOSITORY} && vars.ORGANIZATION_STACK != ''"
    )
    comment = jobs["comment"]
    assert comment["needs"] == list(PREVIEW_ROLES)
    assert [s["uses"] for s in comment["steps"] if "uses" in s] == ["actions/download-artifact@v4"]


def test_main_deploys_the_logging_stack_before_the_member_and_organization_stacks() -> None:
    workflow = load(DEPLOY)
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert workflow["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    jobs = workflow["jobs"]
    assert set(jobs) == {"test", *DEPLOY_ROLES}
    assert run_commands(jobs["test"]) == ["make test"]
    assert jobs["up-logging"]["needs"] == "test"
    assert jobs["up-members"]["needs"] == "up-logging"
    assert jobs["up-organization"]["needs"] == "up-logging"
    assert jobs["up-organization"]["if"] == "vars.ORGANIZATION_STACK != ''"
    assert jobs["up-members"]["strategy"]["matrix"] == {"stack": MEMBER_MATRIX}
    for name, role in DEPLOY_ROLES.items():
        job = jobs[name]
        assert job["environment"] == "production"
        step = pulumi_step(job, DEPLOY_TOKEN, "policy")
        assert step["with"]["command"] == "up"
        assert step["with"]["stack-name"] == STACKS[name.removeprefix("up-")]
        assert assumed_role(job) == role


def test_a_weekly_job_runs_the_suite_on_the_newest_versions_and_on_the_floors() -> None:
    path = WORKFLOWS / "dependencies.yml"
    workflow = load(path)
    assert "schedule" in workflow["on"]
    [job] = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["resolution"] == ["highest", "lowest-direct"]
    assert run_commands(job) == ["make test-resolution RESOLUTION=${{ matrix.resolution }}"]
    assert "id-token" not in job["permissions"] and "secrets." not in path.read_text()


# What a pull request's code must never reach: the deploy roles, the write token, a
# pull-requests: write token where its code runs, the production environment, its own pack.
DEPLOY_ROLE_VARIABLES = ("vars.AWS_ROLE_ARN_", "vars.AWS_ROLE_ARNS_")


def reachable_by_pull_requests(workflow: dict[str, Any]) -> list[str]:
    """What a pull-request workflow hands to the jobs that run the pull request's code."""
    found = []
    for name, job in workflow["jobs"].items():
        text = yaml.safe_dump(job)
        found += [f"{name}: deploy role {v}" for v in DEPLOY_ROLE_VARIABLES if v in text]
        secrets = set(re.findall(r"secrets\.(\w+)", text))
        found += [f"{name}: secret {s}" for s in sorted(secrets - {"PULUMI_PREVIEW_TOKEN"})]
        if "environment" in job:
            found.append(f"{name}: environment {job['environment']}")
        runs_code = bool(uses(job, "actions/checkout"))
        if runs_code and job["permissions"].get("pull-requests") == "write":
            found.append(f"{name}: pull-requests write beside the pull request's code")
        if runs_code and any(v != "read" for k, v in job["permissions"].items() if k != "id-token"):
            found.append(f"{name}: write permission beside the pull request's code")
        for step in uses(job, "pulumi/actions"):
            if not step["with"].get("policyPacks", "").startswith("base/"):
                found.append(f"{name}: the pull request's own policy pack")
    return found


def test_no_pull_request_job_reaches_a_deploy_role_or_a_write_token() -> None:
    assert reachable_by_pull_requests(load(PULL_REQUEST)) == []


def set_in(job: str, change: Any) -> Any:
    def mutate(workflow: dict[str, Any]) -> None:
        change(workflow["jobs"][job])

    return mutate


def the_step(action: str) -> Any:
    return lambda job: next(s for s in job["steps"] if s.get("uses", "").startswith(action))


ATTACKS = {
    "deploy-role": (
        set_in(
            "preview-logging",
            lambda job: the_step("aws-actions/")(job)["with"].update(
                {"role-to-assume": LOGGING_ROLE}
            ),
        ),
        "deploy role vars.AWS_ROLE_ARN_",
    ),
    "deploy-token": (
        set_in(
            "preview-members",
            lambda job: the_step("pulumi/")(job).update(
                {"env": {"PULUMI_ACCESS_TOKEN": DEPLOY_TOKEN}}
            ),
        ),
        "secret PULUMI_ACCESS_TOKEN",
    ),
    "production-environment": (
        set_in("preview-organization", lambda job: job.update(environment="production")),
        "environment production",
    ),
    "comment-beside-the-code": (
        set_in(
            "preview-logging", lambda job: job["permissions"].update({"pull-requests": "write"})
        ),
        "pull-requests write",
    ),
    "contents-write": (
        set_in("test", lambda job: job["permissions"].update(contents="write")),
        "write permission",
    ),
    "own-pack": (
        set_in(
            "preview-members",
            lambda job: the_step("pulumi/")(job)["with"].update(policyPacks="policy"),
        ),
        "own policy pack",
    ),
}


@pytest.mark.parametrize(("mutate", "reported"), ATTACKS.values(), ids=ATTACKS)
def test_each_way_to_hand_a_pull_request_write_access_is_caught(mutate: Any, reported: str) -> None:
    workflow = load(PULL_REQUEST)
    mutate(workflow)
    assert [f for f in reachable_by_pull_requests(workflow) if reported in f]


IAM = WORKFLOWS.parents[1] / "deploy" / "iam"
SUBJECT = "token.actions.githubusercontent.com:sub"
AUDIENCE = "token.actions.githubusercontent.com:aud"


def assumable(trust: dict[str, Any], claims: dict[str, str]) -> bool:
    """Whether a web-identity token with these claims may assume a role with this trust."""
    for statement in trust["Statement"]:
        if statement["Effect"] != "Allow" or statement["Action"] != "sts:AssumeRoleWithWebIdentity":
            continue
        conditions = statement.get("Condition", {})
        equal = conditions.get("StringEquals", {})
        like = conditions.get("StringLike", {})
        if all(claims.get(k) == v for k, v in equal.items()) and all(
            fnmatchcase(claims.get(k, ""), v) for k, v in like.items()
        ):
            return True
    return False


REPO = "repo:example-org/central-logging"
PULL_REQUEST_TOKEN = {AUDIENCE: "sts.amazonaws.com", SUBJECT: f"{REPO}:pull_request"}
PRODUCTION_TOKEN = {AUDIENCE: "sts.amazonaws.com", SUBJECT: f"{REPO}:environment:production"}


def test_preview_roles_trust_pull_requests_and_deploy_roles_only_production() -> None:
    preview = json.loads((IAM / "trust-preview.json").read_text())
    deploy = json.loads((IAM / "trust-deploy.json").read_text())
    assert assumable(preview, PULL_REQUEST_TOKEN)
    assert not assumable(preview, PRODUCTION_TOKEN)
    assert assumable(deploy, PRODUCTION_TOKEN)
    # A pull request's OIDC token, a branch's, another repository's: none reaches a deploy role.
    for subject in (
        f"{REPO}:pull_request",
        f"{REPO}:ref:refs/heads/main",
        f"{REPO}:environment:staging",
        "repo:example-org/fork:environment:production",
    ):
        assert not assumable(deploy, {**PRODUCTION_TOKEN, SUBJECT: subject}), subject
    # Exact subjects, no wildcards (a StringLike repo:* trusts every repository on GitHub).
    for trust in (preview, deploy):
        [statement] = trust["Statement"]
        assert set(statement["Condition"]) == {"StringEquals"}


def test_codeowners_guard_what_judges_and_deploys() -> None:
    owners = (WORKFLOWS.parent / "CODEOWNERS").read_text().splitlines()
    patterns = [line.split()[0] for line in owners if line and not line.startswith("#")]

    def owned(path: str) -> bool:
        return any(
            fnmatchcase(f"/{path}", p) or (p.endswith("/") and f"/{path}".startswith(p))
            for p in patterns
        )

    for path in (
        "policy/rules.py",
        "policy/acknowledged.json",
        ".github/workflows/pull-request.yml",
        ".github/CODEOWNERS",
        "deploy/iam/logging.json",
        "Pulumi.member.yaml",
        "Pulumi.prod-eu.yaml",
        "Pulumi.yaml",
    ):
        assert owned(path), path
    assert not owned("components/config.py")
