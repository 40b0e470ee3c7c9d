"""Ctrl-C on `central-logging backfill`, run as the operator runs it: the console script in a
subprocess, against a moto server in this process (so the test's extensions of moto apply)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from tests.handlers.harness import DESTINATION_ARN, FILTER_NAME, REGION, FakeAws

CLI = str(Path(sys.executable).with_name("central-logging"))
LOG_GROUPS = [f"/app/{index:02}" for index in range(20)]


@pytest.fixture
def endpoint(aws: FakeAws) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def backfill(endpoint: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
    }
    return subprocess.Popen(
        [CLI, "backfill", "--destination-arn", DESTINATION_ARN, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_prints_the_report_so_far_exits_130_and_a_rerun_finishes(
    aws: FakeAws, endpoint: str
) -> None:
    aws.create_log_groups(*LOG_GROUPS)
    first = backfill(endpoint)
    deadline = time.monotonic() + 30
    # At 5 puts a second, 20 log groups take 4 s: interrupt after the first few.
    while len(aws.destinations.put_attempts) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    interrupted_at = time.monotonic()
    out, err = first.communicate(timeout=10)

    assert time.monotonic() - interrupted_at < 2
    assert first.returncode == 130
    report = json.loads(out)
    done = {g["logGroup"] for g in report["logGroups"] if g["outcome"] == "subscribed"}
    assert done and len(done) < len(LOG_GROUPS)
    assert set(report["summary"]) == {"subscribed"}
    assert err.splitlines() == [
        "central-logging: interrupted; the report covers the log groups done so far; run the "
        "same command again to finish."
    ]

    second = backfill(endpoint)
    out, err = second.communicate(timeout=60)

    assert (second.returncode, err) == (0, "")
    outcomes = {g["logGroup"]: g["outcome"] for g in json.loads(out)["logGroups"]}
    assert set(outcomes) == set(LOG_GROUPS)
    assert {g for g, outcome in outcomes.items() if outcome == "already-subscribed"} >= done
    assert all(aws.filters(group) == {FILTER_NAME: DESTINATION_ARN} for group in LOG_GROUPS)
