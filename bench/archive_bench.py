"""Archive benchmark: `read --json` and `query` against `gzip -dc` over the same files.

Generates an archive in the layout Firehose writes (design section 5), then times, in one run:
`gzip -dc` over every object, `read --json` (output to /dev/null), and `query` for a count by
account. Prints throughput in MB/s of decompressed data and the ratios the issue targets.

    PYTHONPATH=. venv/bin/python bench/archive_bench.py [--size-mb 1024]
        [--archive-format json|raw] [--dir DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from central_logging import archive, query

ACCOUNTS = [f"{100000000000 + k * 111111111:012d}" for k in range(8)]
REGIONS = ["eu-west-1", "us-east-1"]
OBJECT_MB = 64
ENVELOPE_EVENTS = 50
START = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = [
    "GET",
    "POST",
    "/api/orders",
    "200",
    "404",
    "500",
    "ERROR",
    "WARN",
    "INFO",
    "user=alice",
    "latency_ms=12",
    "trace=ab12",
]


def _envelope(rng: random.Random, account: str, moment: datetime, serial: int) -> dict[str, object]:
    base = archive.to_millis(moment)
    return {
        "messageType": "DATA_MESSAGE",
        "owner": account,
        "logGroup": f"/aws/lambda/service-{serial % 20}",
        "logStream": f"2026/01/01/[$LATEST]{serial % 50:032x}",
        "subscriptionFilters": ["central-logging"],
        "logEvents": [
            {
                "id": f"{base + k:056d}",
                "timestamp": base + k,
                "message": " ".join(rng.choices(WORDS, k=rng.randint(8, 30))),
            }
            for k in range(ENVELOPE_EVENTS)
        ],
    }


def generate(root: str, size_mb: int, form: str) -> tuple[int, int]:
    """Objects of about OBJECT_MB MiB of text until `size_mb` MiB; returns (bytes, events)."""
    rng = random.Random(5)
    total = events = serial = 0
    target = size_mb << 20
    index = 0
    while total < target:
        account = ACCOUNTS[index % len(ACCOUNTS)]
        region = REGIONS[index // len(ACCOUNTS) % len(REGIONS)]
        moment = START + timedelta(hours=index)
        if form == "json":
            folder = f"account={account}/region={region}/{moment:year=%Y/month=%m/day=%d}"
            name = f"central-logging-1-{moment:%Y-%m-%d-%H-%M-%S}-{index:04d}.json.gz"
        else:
            folder, name = (
                f"{moment:%Y/%m/%d/%H}",
                f"central-logging-1-{moment:%Y-%m-%d-%H-%M-%S}-{index}",
            )
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        size = 0
        with open(os.path.join(root, folder, name), "wb") as file:
            json_stream = gzip.GzipFile(fileobj=file, mode="wb") if form == "json" else None
            while size < min(OBJECT_MB << 20, target - total):
                text = json.dumps(_envelope(rng, account, moment, serial)).encode()
                serial += 1
                events += ENVELOPE_EVENTS
                if json_stream is not None:
                    json_stream.write(text + b"\n")
                    size += len(text) + 1
                else:
                    file.write(gzip.compress(text))
                    size += len(text)
            if json_stream is not None:
                json_stream.close()
        total += size
        index += 1
    return total, events


def _files(root: str) -> list[str]:
    return [os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names]


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="uncompressed MiB (default 1024)")
    parser.add_argument("--archive-format", choices=["json", "raw"], default="json")
    parser.add_argument("--dir", help="where to write the archive (default: a temporary folder)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=options.dir) as root:
        started = time.perf_counter()
        size, events = generate(root, options.size_mb, options.archive_format)
        files = _files(root)
        compressed = sum(os.path.getsize(path) for path in files)
        print(
            f"archive: {options.archive_format}, {len(files)} objects, {size / 1e6:.0f} MB "
            f"decompressed ({compressed / 1e6:.0f} MB gzip), {events:,} events, "
            f"generated in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        with open(os.devnull, "w") as sink:
            gzip_s = _timed(
                lambda: subprocess.run(["gzip", "-dc", *files], stdout=sink, check=True)
            )
            read_args = argparse.Namespace(
                source=root,
                account=None,
                region=None,
                log_group=None,
                since=None,
                until=None,
                grep=None,
                json=True,
                profile=None,
            )
            read_s = _timed(lambda: archive.run_read(read_args, sink, sys.stderr))
            query_args = argparse.Namespace(
                sql="SELECT account, count(*) AS n FROM events GROUP BY account",
                source=root,
                format="csv",
                account=None,
                region=None,
                since=None,
                until=None,
                cache_dir=None,
                profile=None,
            )
            query_s = _timed(lambda: query.run_query(query_args, sink, sys.stderr))
    mb = size / 1e6
    print(f"gzip -dc      {gzip_s:7.2f} s  {mb / gzip_s:7.1f} MB/s")
    print(
        f"read --json   {read_s:7.2f} s  {mb / read_s:7.1f} MB/s  = {gzip_s / read_s:.2f}x gzip -dc (target >= 0.3x)"
    )
    print(f"query count   {query_s:7.2f} s  = {query_s / gzip_s:.2f}x gzip -dc time (target < 10x)")


if __name__ == "__main__":
    main()
