"""The preview roles (deploy/iam/<stack>-preview.json) can run `pulumi preview` of every stack
and write nothing: a pull request's code runs under them (issue 19)."""

from __future__ import annotations

import json
from typing import Any

import parliament
import pytest

from tests.infra.test_deploy_permissions import (
    ACTIONS,
    CONFIGS,
    IAM_DIR,
    action_patterns,
    allowed,
    declared,
    policy,
)

# The provider's Configure validates its credentials with sts:GetCallerIdentity
# (hashicorp/aws-sdk-go-base, GetAwsAccountIDAndPartition); preview calls no Read, only the
# program's functions (invokes), since it neither refreshes nor creates.
CONFIGURE = ["sts:GetCallerIdentity"]
READ_VERBS = ("Get", "List", "Describe")


def preview_policy(stack: str) -> dict[str, Any]:
    return json.loads((IAM_DIR / f"{stack}-preview.json").read_text())  # type: ignore[no-any-return]


def functions(stack: str, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The provider functions (invokes) a stack of this role calls."""
    return {t for t in declared(stack, monkeypatch) if t.rsplit(":", 1)[1].startswith("get")}


@pytest.mark.parametrize("stack", sorted(CONFIGS))
def test_the_preview_policy_covers_the_functions_and_nothing_more(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = preview_policy(stack)
    needed = CONFIGURE + [a for t in sorted(functions(stack, monkeypatch)) for a in ACTIONS[t]]
    assert [a for a in needed if not allowed(document, a)] == []
    assert sorted(p.lower() for p in action_patterns(document)) == sorted(
        {a.lower() for a in needed}
    )


@pytest.mark.parametrize("stack", sorted(CONFIGS))
def test_the_preview_policy_only_reads(stack: str) -> None:
    actions = action_patterns(preview_policy(stack))
    writes = [a for a in actions if not a.split(":")[1].startswith(READ_VERBS) or "*" in a]
    assert writes == []
    assert parliament.analyze_policy_string(json.dumps(preview_policy(stack))).findings == []


@pytest.mark.parametrize("stack", sorted(CONFIGS))
def test_no_deploy_action_that_writes_is_in_the_preview_policy(stack: str) -> None:
    preview = preview_policy(stack)
    writes = [
        a for a in action_patterns(policy(stack)) if not a.split(":")[1].startswith(READ_VERBS)
    ]
    assert writes
    assert [a for a in writes if allowed(preview, a.replace("*", "X"))] == []
