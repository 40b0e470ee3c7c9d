"""Benchmark of `central-logging history` under the FilterLogEvents quota.

moto serves CloudWatch Logs and S3 on loopback behind a WSGI layer that allows 5
FilterLogEvents calls a second per account-region (one second's worth of burst), answers the
rest with ThrottlingException, and waits `--latency` seconds before every call. Pages are cut
at 1 MB as AWS cuts them (moto only knows the 10,000-event limit). N log groups of E events
each, spread over `--days` days, all ingested before their subscription, are copied into an
archive bucket; the benchmark prints events per second and FilterLogEvents calls per second
against the quota's 5 (goal: at least 0.9), then times a rerun, which must write nothing.

    python bench/history_bench.py [--groups 40] [--events 10000] [--days 7] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.logs.models import LogGroup, LogsBackend, logs_backends

from bench.quota_server import serve
from central_logging import cli, history
from tests.handlers.harness import put_in_slots

ACCOUNT = "123456789012"  # moto's account for the benchmark's credentials
LOGGING_ACCOUNT = "222222222222"
REGION = "eu-west-1"
DESTINATION = f"arn:aws:logs:{REGION}:{LOGGING_ACCOUNT}:destination:central"
BUCKET = "bench-archive"
ARCHIVE = f"s3://{BUCKET}/CentralizedAccountsLog/"
EVENT_BYTES = 200
PAGE_EVENTS = (1 << 20) // EVENT_BYTES
FILTER = "FilterLogEvents"


def one_megabyte_pages() -> None:
    """moto pages FilterLogEvents by 10,000 events only; AWS also stops at 1 MB."""
    serve = LogGroup.filter_log_events

    def paged(
        self: LogGroup, name: str, streams: Any, start: int, end: int, limit: int | None, *rest: Any
    ) -> Any:
        return serve(self, name, streams, start, end, min(limit or 10_000, PAGE_EVENTS), *rest)

    LogGroup.filter_log_events = paged  # type: ignore[method-assign]


def populate(groups: int, events: int, days: int) -> None:
    """N groups of E events each, over `days` days, then each group's subscription."""
    backend: LogsBackend = logs_backends[ACCOUNT][REGION]
    now = datetime.now(UTC)
    step = timedelta(days=days) / events
    for g in range(groups):
        name = f"/app/service-{g}"
        backend.create_log_group(name, {})
        for s in range(2):
            backend.create_log_stream(name, f"stream-{s}")
        for s in range(2):
            batch = [
                {
                    "timestamp": int((now - timedelta(days=days) + i * step).timestamp() * 1000),
                    "message": f"{g} {i} ".ljust(EVENT_BYTES, "x"),
                }
                for i in range(s, events, 2)
            ]
            for start in range(0, len(batch), 10_000):
                backend.put_log_events(name, f"stream-{s}", batch[start : start + 10_000])
    time.sleep(0.01)  # the filters are created after every event's ingestion
    for g in range(groups):
        put_in_slots(
            backend.groups[f"/app/service-{g}"], "central-logging", "", DESTINATION, None, 2
        )


def run_history() -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["history", ARCHIVE, "--destination-arn", DESTINATION, "--json"])
    if code != 0:
        raise SystemExit(f"history exited {code}: {out.getvalue()[:2000]}")
    return time.monotonic() - started, json.loads(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=40, help="log groups")
    parser.add_argument("--events", type=int, default=10_000, help="events per log group")
    parser.add_argument("--days", type=int, default=7, help="days the events span")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per call")
    args = parser.parse_args()

    one_megabyte_pages()
    layer = serve({"FilterLogEvents": history.FILTER_LOG_EVENTS_PER_SECOND}, args.latency, REGION)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key="CentralizedAccountsLog/account=1/live.json.gz", Body=b"")
    populate(args.groups, args.events, args.days)

    wall, report = run_history()
    calls, throttled = layer.count(FILTER, "ok"), layer.count(FILTER, "throttled")
    first, last = layer.first[FILTER], layer.last[FILTER]
    layer.reset()
    rerun_wall, rerun = run_history()

    events = report["totals"]["events"]
    # Calls after the first one, over the time they took: the rate the quota limits.
    rate = (calls - 1) / (last - first)
    print(
        f"log groups: {args.groups} x {args.events} events of {EVENT_BYTES} B over {args.days} days"
    )
    print(f"latency per call: {args.latency * 1000:.0f} ms; pages of at most 1 MB")
    print(f"copied: {events} events in {wall:.1f} s = {events / wall:,.0f} events/s overall")
    print(
        f"FilterLogEvents: {calls} calls in {last - first:.1f} s from the first to the last = "
        f"{rate:.2f}/s = {rate / 5:.2f}x the quota (5/s); {calls / wall:.2f}/s over the whole run"
    )
    print(f"throttled responses: {throttled}")
    print(f"objects written: {report['totals']['objectsWritten']}")
    print(
        f"re-run: {rerun_wall:.1f} s, {rerun['totals']['objectsWritten']} objects written, "
        f"{layer.count(FILTER, 'ok') / rerun_wall:.2f} FilterLogEvents/s"
    )


if __name__ == "__main__":
    main()
