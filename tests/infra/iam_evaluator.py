"""A small IAM policy evaluator for the policies this program renders: same-account requests
against an identity policy, the resource's policy (bucket or key) and explicit denies (a
bucket policy's or a service control policy's: `denies`), with the condition operators our
policies use. Unknown operators fail loudly, never silently allow.

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


def _operator_holds(operator: str, value: str | None, expected: Any) -> bool:
    """IAM User Guide, "IAM JSON policy elements: Condition operators": a negated operator holds
    when the request lacks the key, a positive one fails, `...IfExists` holds when the key is
    absent; ArnEquals matches with wildcards as ArnLike does."""
    patterns = [str(p) for p in listed(expected)]
    base = operator.removesuffix("IfExists")
    if base == "Null":  # "true": the key is absent; "false": it is present
        return all((value is None) == (p.lower() == "true") for p in patterns)
    negated = "Not" in base
    if value is None:
        return operator.endswith("IfExists") or negated
    if base in ("StringEquals", "StringNotEquals"):
        found = value in patterns
    elif base == "Bool":
        found = value.lower() in [p.lower() for p in patterns]
    elif base in (
        "StringLike",
        "StringNotLike",
        "ArnEquals",
        "ArnNotEquals",
        "ArnLike",
        "ArnNotLike",
    ):
        found = any(fnmatchcase(value, p) for p in patterns)
    else:
        raise NotImplementedError(f"condition operator {operator} is not modelled")
    return not found if negated else found


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], request: Request) -> bool:
    return all(
        _operator_holds(operator, request.key(name), expected)
        for operator, keys in condition.items()
        for name, expected in keys.items()
    )


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal is None:  # an identity policy: its holder is the principal
        return True
    if principal == "*":
        return True
    if request.principal_arn.count(":") < 5:
        return False
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


def denies(
    policy: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    """Whether an explicit Deny of `policy` (a bucket policy's, or a service control policy's,
    whose statements name no principal) applies to this request; `context` holds the
    request's keys, `aws:PrincipalArn` among them."""
    request = Request(context.get("aws:PrincipalArn", ""), action, resource, context)
    return _matching(policy, "Deny", request)
