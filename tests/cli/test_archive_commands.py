"""`read` and `query` through the `central-logging` entry point."""

from __future__ import annotations

import gzip
import json
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
