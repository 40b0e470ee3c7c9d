"""`read` and `query` through the `central-logging` entry point."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from central_logging.cli import main

ACCOUNT = "111111111111"


def write_json_archive(root: Path, events: int) -> None:
    """One object in the layout Firehose writes for archiveFormat json."""
    folder = root / f"account={ACCOUNT}/region=eu-west-1/year=2026/month=01/day=10"
    folder.mkdir(parents=True)
    envelope = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": "/app/orders",
        "logStream": "web-1",
        "subscriptionFilters": ["central-logging"],
        "logEvents": [
            {"id": str(i), "timestamp": 1_768_000_000_000 + i, "message": f"event {i}"}
            for i in range(events)
        ],
    }
    with gzip.open(folder / "CentralLogDestination-1.json.gz", "wt") as out:
        out.write(json.dumps(envelope) + "\n")


def test_read_and_query_are_commands_of_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_json_archive(tmp_path, 3)

    assert main(["read", str(tmp_path), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["account"], e["logGroup"], e["message"]) for e in lines] == [
        (ACCOUNT, "/app/orders", f"event {i}") for i in range(3)
    ]

    sql = "SELECT account, count(*) AS events FROM events GROUP BY account"
    assert main(["query", sql, str(tmp_path), "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [{"account": ACCOUNT, "events": 3}]


def _central_logging() -> str:
    """The console script installed beside this interpreter, as a user runs it."""
    return os.path.join(os.path.dirname(sys.executable), "central-logging")


@pytest.mark.parametrize(
    "argv",
    [
        ["read"],
        ["read", "--json"],
        ["query", "SELECT * FROM events"],
        ["query", "SELECT * FROM events", "--format", "csv"],
    ],
)
def test_a_reader_that_stops_early_ends_the_command_quietly(
    argv: list[str], tmp_path: Path
) -> None:
    write_json_archive(tmp_path, 20_000)  # far more output than a pipe holds
    command, *options = argv
    source = [command, *options[:1], str(tmp_path), *options[1:]]

    # As `central-logging read ... | head -1`: read one line, then close the pipe.
    process = subprocess.Popen(
        [_central_logging(), *source], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read()
    code = process.wait(timeout=120)

    assert first
    assert (code, stderr.decode()) == (0, "")


def test_every_error_line_names_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    empty = tmp_path / "archive"
    empty.mkdir()
    runs = [
        ["read", str(tmp_path / "missing")],
        ["read", str(empty), "--since", "soon"],
        ["read", str(empty), "--bogus"],
        ["query", "SELECT nope", str(empty)],
        ["query", "SELECT 1", "s3://bucket/p/", "--cache-dir", str(tmp_path / "file")],
        ["read", str(empty)],
    ]

    codes = [main(argv) for argv in runs]
    lines = capsys.readouterr().err.splitlines()

    assert codes == [2, 2, 2, 2, 2, 0]
    assert len(lines) == len(runs) + 1  # the query names the empty folder, then the SQL
    assert all(line.startswith("central-logging: ") for line in lines), lines
