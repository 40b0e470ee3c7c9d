"""A small IAM policy evaluator for the policies this program renders: same-account requests
against an identity policy, the resource's policy (bucket or key) and explicit denies, with
the condition operators our policies use. Unknown operators fail loudly, never silently allow.

IAM's logic as the IAM User Guide gives it ("Policy evaluation logic"): an explicit Deny in any
policy wins; otherwise an Allow in the identity policy or the resource policy grants, except
for a KMS key, whose key policy must allow (here: the account, which delegates to IAM) and
the identity policy too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Request:
    principal_arn: str
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)

    def key(self, name: str) -> str | None:
        return {"aws:PrincipalArn": self.principal_arn, **self.context}.get(name)


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], request: Request) -> bool:
    for operator, keys in condition.items():
        for name, expected in keys.items():
            value = request.key(name)
            patterns = [str(p) for p in listed(expected)]
            if operator in ("StringEquals", "ArnEquals"):
                holds = value is not None and value in patterns
            elif operator in ("StringLike", "ArnLike"):
                holds = value is not None and any(fnmatchcase(value, p) for p in patterns)
            elif operator in ("StringNotEquals", "ArnNotEquals"):
                holds = value is None or value not in patterns
            elif operator in ("StringNotLike", "ArnNotLike"):
                holds = value is None or not any(fnmatchcase(value, p) for p in patterns)
            elif operator == "Null":  # "true": the key is absent; "false": it is present
                holds = all((value is None) == (p.lower() == "true") for p in patterns)
            elif operator == "Bool":
                holds = value is not None and value.lower() in [p.lower() for p in patterns]
            else:
                raise NotImplementedError(f"condition operator {operator} is not modelled")
            if not holds:
                return False
    return True


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal is None:  # an identity policy: its holder is the principal
        return True
    if principal == "*":
        return True
    account = request.principal_arn.split(":")[4]
    for arn in listed(principal.get("AWS", [])):
        if arn == "*" or arn == request.principal_arn or arn.endswith(f"::{account}:root"):
            return True
    return False


def _matching(policy: Mapping[str, Any], effect: str, request: Request) -> bool:
    for statement in listed(policy["Statement"]):
        if statement["Effect"] != effect:
            continue
        if not _principal_matches(statement.get("Principal"), request):
            continue
        actions = listed(statement.get("Action", statement.get("NotAction")))
        action_listed = any(fnmatchcase(request.action.lower(), a.lower()) for a in actions)
        if action_listed != ("Action" in statement):  # NotAction: every action but those
            continue
        resources = listed(statement.get("Resource", statement.get("NotResource")))
        resource_listed = any(fnmatchcase(request.resource, r) for r in resources)
        if resource_listed != ("Resource" in statement):  # NotResource: all but those
            continue
        if _condition_holds(statement.get("Condition", {}), request):
            return True
    return False


def allowed(
    request: Request,
    identity: Sequence[Mapping[str, Any]],
    resource_policy: Mapping[str, Any] | None = None,
    *,
    key_policy: bool = False,
) -> bool:
    every = [*identity, *([resource_policy] if resource_policy else [])]
    if any(_matching(p, "Deny", request) for p in every):
        return False
    by_identity = any(_matching(p, "Allow", request) for p in identity)
    if key_policy:
        assert resource_policy is not None
        return by_identity and _matching(resource_policy, "Allow", request)
    by_resource = resource_policy is not None and _matching(resource_policy, "Allow", request)
    return by_identity or by_resource


def may_assume(trust: Mapping[str, Any], principal_arn: str) -> bool:
    """Whether the trust policy admits a principal (its own account's IAM allowing it)."""
    request = Request(principal_arn, "sts:AssumeRole", "*")
    return not _matching(trust, "Deny", request) and any(
        statement["Effect"] == "Allow"
        and "sts:AssumeRole" in listed(statement["Action"])
        and any(
            arn == f"arn:aws:iam::{principal_arn.split(':')[4]}:root"
            for arn in listed(statement["Principal"].get("AWS", []))
        )
        and _condition_holds(statement.get("Condition", {}), request)
        for statement in listed(trust["Statement"])
    )
