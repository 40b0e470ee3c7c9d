"""Checks and texts every command shares: region and account arguments, the version."""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import metadata

# An AWS region name, as the stack configuration checks it (components/config.py REGION_RE).
REGION = re.compile(
    r"[a-z]{2}(-gov|-iso[a-z]?)?-(north|south|east|west|central|"
    r"northeast|northwest|southeast|southwest)-[1-9]"
)
ACCOUNT = re.compile(r"\d{12}")
DISTRIBUTION = "central-logging"
# How every line the CLI writes on stderr starts.
PROG = "central-logging"


class OptionError(ValueError):
    """A bad option value: one sentence for stderr."""


def regions(values: Sequence[str]) -> list[str]:
    """--region values, each an AWS region name, duplicates dropped."""
    for value in values:
        if not REGION.fullmatch(value):
            raise OptionError(
                f"--region takes an AWS region name such as eu-west-1; got {value!r}."
            )
    return list(dict.fromkeys(values))


def accounts(values: Sequence[str], flag: str = "--account") -> list[str]:
    """Account ID arguments, each 12 digits, duplicates dropped."""
    for value in values:
        if not ACCOUNT.fullmatch(value):
            raise OptionError(f"{flag} takes 12-digit account IDs; got {value!r}.")
    return list(dict.fromkeys(values))


def version() -> str:
    return f"{DISTRIBUTION} {metadata.version(DISTRIBUTION)}"
