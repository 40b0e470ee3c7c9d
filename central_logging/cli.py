"""The `central-logging` console script: finds the command, then imports the module that
parses and runs it (`sweep`, `archive`, `query`, `plan`, `redrive`, `cache`).

Only the chosen command's module is imported, so that `central-logging --help` starts without
boto3, botocore, DuckDB or a thread pool (issue 22 item 6); the list of commands and their
one-line help live here for that reason.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from central_logging import options
from central_logging.options import PROG

SUBSCRIBE = "subscribe"
# `subscribe` was `backfill` until `history` came to copy events; the old name still works.
ALIASES = {"backfill": SUBSCRIBE}
# Exit status after Ctrl-C, as shells report a process ended by SIGINT.
INTERRUPTED = 130


class UsageError(Exception):
    """Bad usage: exit 2 with this one sentence on stderr."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message[:1].upper() + message[1:] + ".")


@dataclass(frozen=True)
class Command:
    """What a command's module provides: `add` registers its parser on an argparse subparsers
    object (under the given name, help and aliases), `run` runs it and returns the exit code."""

    add: Callable[[Any, str, str, Sequence[str]], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], int]


def _sweep() -> Command:
    from central_logging import sweep

    return Command(sweep.add_sweep_parser, sweep.run)


def _read() -> Command:
    from central_logging import archive

    return Command(lambda commands, *_: archive.add_read_parser(commands), archive.run_read)


def _query() -> Command:
    from central_logging import query

    return Command(lambda commands, *_: query.add_query_parser(commands), query.run_query)


def _plan() -> Command:
    from central_logging import plan

    return Command(lambda commands, *_: plan.add_plan_parser(commands), plan.run_plan)


def _redrive() -> Command:
    from central_logging import redrive

    return Command(lambda commands, *_: redrive.add_redrive_parser(commands), redrive.run_redrive)


def _cache() -> Command:
    from central_logging import cache

    return Command(lambda commands, *_: cache.add_cache_parser(commands), cache.run_cache)


# Every command, in the order `--help` lists them: its one-line help and its module.
COMMANDS: dict[str, tuple[str, Callable[[], Command]]] = {
    "read": ("print the events of an archive", _read),
    "query": ("SQL over an archive with DuckDB", _query),
    "plan": ("quotas to request and the monthly overhead", _plan),
    "redrive": (
        "move records Firehose diverted for want of a partition into their partitions",
        _redrive,
    ),
    "cache": ("manage the folder query copies s3:// sources into", _cache),
    SUBSCRIBE: ("subscribe every eligible existing log group (alias: backfill)", _sweep),
    "audit": ("report which log groups are covered, which are not, and why; read-only", _sweep),
    "unsubscribe": ("remove this project's own filters (exact names) from every log group", _sweep),
    "history": (
        "copy the events each log group held before its subscription into the archive",
        _sweep,
    ),
}


def command_of(argv: Sequence[str]) -> str | None:
    """The command `argv` names: its first word that is not an option (the top level takes no
    option with a value), aliases resolved; None if there is none."""
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    return ALIASES.get(word, word) if word is not None else None


def _parser(command: str | None = None) -> _Parser:
    """The parser of every command, with the arguments of `command` only (its module imported);
    the others are listed with their help."""
    parser = _Parser(
        prog=PROG,
        description="Subscribe, audit or unsubscribe every existing log group; read, query or "
        "redrive the archive; plan quotas and cost.",
    )
    parser.add_argument("--version", action="version", version=options.version())
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (text, load) in COMMANDS.items():
        aliases = [alias for alias, target in ALIASES.items() if target == name]
        if name == command:
            load().add(commands, name, text, aliases)
        else:
            commands.add_parser(name, aliases=aliases, help=text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = command_of(arguments)
    try:
        args = _parser(command).parse_args(arguments)
        args.command = ALIASES.get(args.command, args.command)
        return COMMANDS[args.command][1]().run(args)
    except UsageError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted before any log group was read.", file=sys.stderr)
        return INTERRUPTED
