"""Archive benchmark: `read --json` and `query` against `gzip -dc` over the same files.

Generates an archive in the layout Firehose writes (design section 5), then times, each command
run `--rounds` times in turn, best kept: `gzip -dc` over every object and `central-logging read
--json` (output to /dev/null), both pinned to one core; `read --json` on every core; and
`query` for a count by account. Prints throughput in MB/s of decompressed data and the ratios
the issue targets.

    PYTHONPATH=. venv/bin/python bench/archive_bench.py [--size-mb 1024] [--object-kb 65536]
        [--archive-format json|raw] [--rounds 5] [--dir DIR]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from central_logging import archive

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


def generate(
    root: str, size_mb: int, form: str, object_kb: int = OBJECT_MB << 10
) -> tuple[int, int]:
    """Objects of about `object_kb` KiB of text until `size_mb` MiB; returns (bytes, events)."""
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
            while size < min(object_kb << 10, target - total):
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


def _cli(*argv: str) -> list[str]:
    """`central-logging ARGV` with this interpreter (and this checkout's code)."""
    program = "import sys; from central_logging.cli import main; sys.exit(main())"
    return [sys.executable, "-c", program, *argv]


def _best_alternated(commands: dict[str, list[str]], rounds: int) -> dict[str, float]:
    """The best wall time of each command over `rounds` rounds, the commands taking turns, so
    that a noisy neighbour on the machine slows them alike."""
    best = dict.fromkeys(commands, float("inf"))
    with open(os.devnull, "wb") as sink:
        for _ in range(rounds):
            for name, argv in commands.items():
                run = functools.partial(subprocess.run, argv, stdout=sink, check=True)
                best[name] = min(best[name], _timed(run))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="uncompressed MiB (default 1024)")
    parser.add_argument(
        "--object-kb",
        type=int,
        default=OBJECT_MB << 10,
        help=f"uncompressed KiB per object (default {OBJECT_MB << 10}; per-account objects are "
        "hundreds of KiB: try 256)",
    )
    parser.add_argument("--archive-format", choices=["json", "raw"], default="json")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument("--dir", help="where to write the archive (default: a temporary folder)")
    options = parser.parse_args()
    # One core for both, so that the ratio is the work per byte whatever the machine's cores.
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    with tempfile.TemporaryDirectory(dir=options.dir) as root:
        started = time.perf_counter()
        size, events = generate(root, options.size_mb, options.archive_format, options.object_kb)
        files = _files(root)
        compressed = sum(os.path.getsize(path) for path in files)
        print(
            f"archive: {options.archive_format}, {len(files)} objects of about "
            f"{options.object_kb} KiB, {size / 1e6:.0f} MB decompressed ({compressed / 1e6:.0f} "
            f"MB gzip), {events:,} events, generated in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        sql = "SELECT account, count(*) AS n FROM events GROUP BY account"
        best = _best_alternated(
            {
                "gzip": [*pin, "gzip", "-dc", *files],
                "read": [*pin, *_cli("read", root, "--json")],
                "read, all cores": _cli("read", root, "--json"),
                "query": _cli("query", sql, root, "--format", "csv"),
            },
            options.rounds,
        )
    mb = size / 1e6
    where = "one core (taskset -c 0)" if pin else "unpinned: taskset not found"
    print(f"{where}, best of {options.rounds}, runs alternated:")
    print(f"  gzip -dc      {best['gzip']:7.2f} s  {mb / best['gzip']:7.1f} MB/s")
    ratio = best["gzip"] / best["read"]
    print(
        f"  read --json   {best['read']:7.2f} s  {mb / best['read']:7.1f} MB/s  = {ratio:.2f}x "
        "gzip -dc (target >= 0.3x)"
    )
    print(f"all cores ({archive.read_workers()} decoding processes at most):")
    fast = best["read, all cores"]
    print(f"  read --json   {fast:7.2f} s  {mb / fast:7.1f} MB/s")
    print(
        f"  query count   {best['query']:7.2f} s  = {best['query'] / best['gzip']:.2f}x the time "
        "of gzip -dc on one core (target < 10x)"
    )


if __name__ == "__main__":
    main()
