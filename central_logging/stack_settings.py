"""The member stack's subscription settings as the CLI reads them: SSM parameter
/central-logging/settings in each account-region (components/config.py cli_settings writes
it), exclusions continued in the parameters `excludeLogGroupsContinuedIn` names.

The account's administrators can change these parameters, so the reader trusts nothing in
them beyond their shape: a bad document is an error naming the parameter, a chain that loops
or runs past MAX_PARAMETERS stops.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers.core import SETTINGS_PARAMETER

# 25 KB of account-policy exclusions fill 7; a lambda-mode list of 2,000 long names about 250.
MAX_PARAMETERS = 1000
MODES = ("lambda", "account-policy")


class StackSettingsError(ValueError):
    """The settings parameters are not what a stack writes: one sentence."""


@dataclass(frozen=True)
class StackSettings:
    filter_name: str
    filter_pattern: str
    exclude_log_groups: tuple[str, ...]
    replace_filter_names: tuple[str, ...]
    subscription_mode: str


def _strings(document: dict[str, Any], field: str, name: str) -> tuple[str, ...]:
    value = document.get(field, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StackSettingsError(f"SSM parameter {name}: {field} is not a list of strings.")
    return tuple(value)


def _document(text: str, name: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise StackSettingsError(f"SSM parameter {name} is not a JSON object.")
    return document


def read_stack_settings(get: Callable[[str], str | None]) -> StackSettings | None:
    """The settings, or None when the account-region has no settings parameter; `get`
    returns a parameter's value or None when it does not exist."""
    text = get(SETTINGS_PARAMETER)
    if text is None:
        return None
    first = _document(text, SETTINGS_PARAMETER)
    strings = {}
    for field in ("filterName", "filterPattern", "subscriptionMode"):
        value = first.get(field)
        if not isinstance(value, str):
            raise StackSettingsError(
                f"SSM parameter {SETTINGS_PARAMETER}: {field} is missing or not a string."
            )
        strings[field] = value
    if strings["subscriptionMode"] not in MODES:
        raise StackSettingsError(
            f"SSM parameter {SETTINGS_PARAMETER}: subscriptionMode is "
            f"{strings['subscriptionMode']!r}, not one of {', '.join(MODES)}."
        )
    excludes = list(_strings(first, "excludeLogGroups", SETTINGS_PARAMETER))
    seen = {SETTINGS_PARAMETER}
    document, name = first, SETTINGS_PARAMETER
    while (following := document.get("excludeLogGroupsContinuedIn")) is not None:
        if not isinstance(following, str) or not following.startswith(f"{SETTINGS_PARAMETER}-"):
            raise StackSettingsError(
                f"SSM parameter {name}: excludeLogGroupsContinuedIn is not a "
                f"{SETTINGS_PARAMETER}-N parameter."
            )
        if following in seen or len(seen) >= MAX_PARAMETERS:
            raise StackSettingsError(
                f"SSM parameter {name}: excludeLogGroupsContinuedIn leads back or past "
                f"{MAX_PARAMETERS} parameters."
            )
        seen.add(following)
        text = get(following)
        if text is None:
            raise StackSettingsError(f"SSM parameter {following}, which {name} names, is missing.")
        document, name = _document(text, following), following
        excludes += _strings(document, "excludeLogGroups", name)
    return StackSettings(
        filter_name=strings["filterName"],
        filter_pattern=strings["filterPattern"],
        exclude_log_groups=tuple(excludes),
        replace_filter_names=_strings(first, "replaceFilterNames", SETTINGS_PARAMETER),
        subscription_mode=strings["subscriptionMode"],
    )
