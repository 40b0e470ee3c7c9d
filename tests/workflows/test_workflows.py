"""The GitHub Actions workflows: valid against GitHub's workflow schema, and shaped as the README
promises (previews with the policy pack commented on pull requests, `make test`, ordered and
protected deployments, OIDC credentials, least permissions)."""

from __future__ import annotations

import subprocess
import sys
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


def pulumi_step(job: dict[str, Any]) -> dict[str, Any]:
    [step] = uses(job, "pulumi/actions")
    assert step["env"] == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}
    assert step["with"]["policyPacks"] == "policy"
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
        permissions = job["permissions"]
        assert permissions.pop("contents") == "read", name
        # An OIDC token only where AWS credentials are assumed; PR write only where commenting.
        assert (permissions.pop("id-token", None) == "write") == bool(
            uses(job, "aws-actions/configure-aws-credentials")
        ), name
        commenting = [
            s for s in uses(job, "pulumi/actions") if s["with"].get("comment-on-pr") is True
        ]
        assert (permissions.pop("pull-requests", None) == "write") == bool(commenting), name
        assert permissions == {}, name


def test_pull_requests_run_the_tests_and_preview_every_stack_with_the_policy_pack() -> None:
    workflow = load(PULL_REQUEST)
    assert workflow["on"] == {"pull_request": {"branches": ["main"]}}
    assert workflow["concurrency"] == {
        "group": "pull-request-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }
    jobs = workflow["jobs"]
    assert set(jobs) == {"test", "preview-logging", "preview-members"}
    assert run_commands(jobs["test"]) == ["make test"]

    logging, members = jobs["preview-logging"], jobs["preview-members"]
    assert members["strategy"]["matrix"] == {"stack": MEMBER_MATRIX}
    assert members["strategy"]["fail-fast"] is False
    for job, stack, role in (
        (logging, "${{ vars.LOGGING_STACK }}", LOGGING_ROLE),
        (members, "${{ matrix.stack }}", MEMBER_ROLE),
    ):
        step = pulumi_step(job)
        assert step["with"]["command"] == "preview"
        assert step["with"]["stack-name"] == stack
        assert step["with"]["comment-on-pr"] is True
        assert assumed_role(job) == role
        assert "policy/venv/bin/pip install --quiet -r policy/requirements.txt" in "".join(
            run_commands(job)
        )
        assert "environment" not in job
        # Fork pull requests get no OIDC token or secrets, so they are not previewed.
        assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


def test_main_deploys_the_logging_stack_before_the_member_stacks_behind_an_environment() -> None:
    workflow = load(DEPLOY)
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert workflow["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    jobs = workflow["jobs"]
    assert set(jobs) == {"test", "up-logging", "up-members"}
    assert run_commands(jobs["test"]) == ["make test"]

    logging, members = jobs["up-logging"], jobs["up-members"]
    assert logging["needs"] == "test"
    assert members["needs"] == "up-logging"
    assert members["strategy"]["matrix"] == {"stack": MEMBER_MATRIX}
    for job, stack, role in (
        (logging, "${{ vars.LOGGING_STACK }}", LOGGING_ROLE),
        (members, "${{ matrix.stack }}", MEMBER_ROLE),
    ):
        assert job["environment"] == "production"
        step = pulumi_step(job)
        assert step["with"]["command"] == "up"
        assert step["with"]["stack-name"] == stack
        assert assumed_role(job) == role


def test_a_weekly_job_runs_the_suite_on_the_newest_versions_and_on_the_floors() -> None:
    path = WORKFLOWS / "dependencies.yml"
    workflow = load(path)
    assert "schedule" in workflow["on"]
    [job] = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["resolution"] == ["highest", "lowest-direct"]
    assert run_commands(job) == ["make test-resolution RESOLUTION=${{ matrix.resolution }}"]
    assert "id-token" not in job["permissions"] and "secrets." not in path.read_text()
