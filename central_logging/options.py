"""Checks and texts every command shares: region and account arguments, the version, the
progress line."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from importlib import metadata
from typing import TextIO

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


class Progress:
    """A long run's progress on one terminal line, at most twice a second; nothing when
    `stream` is None (not a terminal). Subclasses say what the line holds (`line`), given the
    seconds since the start; callers change their counts under `lock`."""

    INTERVAL = 0.5

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self._started = time.monotonic()
        self._shown = 0.0
        self.lock = threading.RLock()

    def line(self, elapsed: float) -> str:
        raise NotImplementedError

    def show(self, final: bool = False) -> None:
        if self._stream is None:
            return
        with self.lock:
            now = time.monotonic()
            if not final and now - self._shown < self.INTERVAL:
                return
            self._shown = now
            text = self.line(max(now - self._started, 1e-9))
            self._stream.write("\r\x1b[K" + text + ("\n" if final else ""))
            self._stream.flush()

    def clear(self) -> None:
        """Before another line on the terminal: the progress line goes, to be shown again."""
        if self._stream is not None:
            with self.lock:
                self._stream.write("\r\x1b[K")
                self._shown = 0.0

    def finish(self) -> None:
        self.show(final=True)
