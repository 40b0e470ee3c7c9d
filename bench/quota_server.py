"""moto on loopback behind CloudWatch Logs' per-API quotas, for the benchmarks.

A WSGI layer waits `latency` before every call, keeps a token bucket per access key (one per
account here), region and quota-bound operation, holding one second's worth of calls, and
answers calls beyond it with ThrottlingException, as AWS does.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d+/([^/]+)/")


class QuotaLayer:
    """Counts calls per (operation, "ok" | "throttled" | "error"), and when each operation's
    first and last accepted call came: the window its quota governs."""

    def __init__(self, app: Any, latency: float, quotas: Mapping[str, float]) -> None:
        self.app = app
        self.latency = latency
        self.quotas = dict(quotas)
        self.calls: Counter[tuple[str, str]] = Counter()
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self._buckets: dict[tuple[str, str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _take(self, key: tuple[str, str, str], rate: float) -> bool:
        with self._lock:
            now = time.monotonic()
            tokens, updated = self._buckets.get(key, (rate, now))
            tokens = min(rate, tokens + (now - updated) * rate)
            allowed = tokens >= 1
            self._buckets[key] = (tokens - 1 if allowed else tokens, now)
            return allowed

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        time.sleep(self.latency)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.split(".")[-1] if target.startswith("Logs_") else ""
        credential = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        if operation in self.quotas and credential:
            key = (credential.group(1), credential.group(2), operation)
            if not self._take(key, self.quotas[operation]):
                with self._lock:
                    self.calls[operation, "throttled"] += 1
                start_response(
                    "400 Bad Request",
                    [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", "b")],
                )
                return [b'{"__type":"ThrottlingException","message":"Rate exceeded"}']

        def recording(status: str, headers: Any, *args: Any) -> Any:
            if operation:
                ok = status.startswith("200")
                with self._lock:
                    self.calls[operation, "ok" if ok else "error"] += 1
                    if ok:
                        self.last[operation] = time.monotonic()
                        self.first.setdefault(operation, self.last[operation])
            return start_response(status, headers, *args)

        return self.app(environ, recording)  # type: ignore[no-any-return]

    def count(self, operation: str, kind: str | None = None) -> int:
        with self._lock:
            return sum(
                n for (op, k), n in self.calls.items() if op == operation and kind in (None, k)
            )

    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.first.clear()
            self.last.clear()


def serve(quotas: Mapping[str, float], latency: float, region: str) -> QuotaLayer:
    """Start moto behind a QuotaLayer on loopback, in a daemon thread, and point the AWS
    SDK's environment at it (fake credentials, `region`)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    layer = QuotaLayer(DomainDispatcherApplication(create_backend_app), latency, quotas)
    server = make_server("127.0.0.1", 0, layer, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{server.server_port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
    )
    os.environ.pop("AWS_PROFILE", None)
    return layer
