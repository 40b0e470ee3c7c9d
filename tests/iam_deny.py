"""IAM's evaluation of explicit denies, for the elements the project's bucket policies and
service control policies use: Action/NotAction, Resource/NotResource, and conditions with the
string, ARN, Null and Bool operators (IAM User Guide, "IAM JSON policy elements: Condition
operators"). A negated operator holds when the request lacks the key; a positive one fails;
`...IfExists` holds when the key is absent. ARN operators match each ARN with wildcards, as
ArnLike does (ArnEquals and ArnLike behave the same)."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

Context = Mapping[str, str]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(patterns: list[str], value: str, *, case: bool = True) -> bool:
    if case:
        return any(fnmatchcase(value, p) for p in patterns)
    return any(fnmatchcase(value.lower(), p.lower()) for p in patterns)


def _operator_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    patterns = [str(p) for p in _as_list(expected)]
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    value = context.get(key)
    if base == "Null":
        return (value is None) == (patterns[0] == "true")
    negated = "Not" in base
    if value is None:
        return True if if_exists else negated
    if base in ("StringEquals", "StringNotEquals", "Bool"):
        found = value in patterns
    elif base in (
        "StringLike",
        "StringNotLike",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
    ):
        found = _matches(patterns, value)
    else:
        raise NotImplementedError(f"condition operator {operator} is not modelled")
    return not found if negated else found


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Context) -> bool:
    if "Action" in statement:
        if not _matches(_as_list(statement["Action"]), action, case=False):
            return False
    elif _matches(_as_list(statement["NotAction"]), action, case=False):
        return False
    if "Resource" in statement:
        if not _matches(_as_list(statement["Resource"]), resource):
            return False
    elif "NotResource" in statement and _matches(_as_list(statement["NotResource"]), resource):
        return False
    return all(
        _operator_holds(operator, key, expected, context)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def denies(policy: Mapping[str, Any], action: str, resource: str, context: Context) -> bool:
    """Whether an explicit Deny of `policy` (a bucket policy's for every principal, or an SCP's)
    applies to this request."""
    return any(
        statement["Effect"] == "Deny"
        and statement.get("Principal", "*") == "*"
        and _applies(statement, action, resource, context)
        for statement in _as_list(policy["Statement"])
    )
