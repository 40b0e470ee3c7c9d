"""`central-logging --help` starts without the heavy modules (issue 22 item 6): each command
imports what it needs when it runs."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from central_logging import cli

# Modules that cost tens of milliseconds to import each, or start machinery of their own.
HEAVY = ("boto3", "botocore", "duckdb", "concurrent.futures", "multiprocessing")


def _imported_by(argv: list[str]) -> list[str]:
    """The HEAVY modules imported by `central-logging ARGV`, in a fresh interpreter."""
    program = (
        "import json, sys\n"
        "from central_logging.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    return list(json.loads(done.stderr.splitlines()[-1]))


@pytest.mark.parametrize("argv", [["--help"], ["--version"], []])
def test_help_imports_no_heavy_module(argv: list[str]) -> None:
    assert _imported_by(argv) == []


def test_reading_a_local_folder_loads_no_aws_sdk(tmp_path: Path) -> None:
    assert not {"boto3", "botocore"}.intersection(_imported_by(["read", str(tmp_path)]))


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_help_lists_each_command_as_its_own_parser_does(command: str) -> None:
    def listed(parser: argparse.ArgumentParser) -> str | None:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return next(c.help for c in action._choices_actions if c.dest == command)

    assert listed(cli._parser(command)) == listed(cli._parser()) == cli.COMMANDS[command][0]
