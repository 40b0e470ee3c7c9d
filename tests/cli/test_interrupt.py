"""Ctrl-C on `central-logging backfill`, run as the operator runs it: the console script in a
subprocess, against a moto server in this process (so the test's extensions of moto apply)."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from tests.cli.conftest import console
from tests.handlers.harness import DESTINATION_ARN, FILTER_NAME, FakeAws

LOG_GROUPS = [f"/app/{index:02}" for index in range(20)]


def backfill(endpoint: str) -> subprocess.Popen[str]:
    return console(endpoint, "backfill", "--destination-arn", DESTINATION_ARN, "--json")


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
