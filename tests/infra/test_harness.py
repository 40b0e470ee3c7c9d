"""The mock-runtime harness leaves nothing behind. A configuration error found in an apply
(here: a region the logging stack does not cover) fails every Output derived from it; the
run stops at the first. The rest must neither stay pending nor log their copy of the error
when collected (that was thousands of "Task exception was never retrieved" tracebacks after
the test summary), while any other lost asyncio error still reaches the log. And every event
loop a run opens is closed by the time it returns or raises: a loop left to the garbage
collector may find its sockets finalized first, and fail in `BaseEventLoop.__del__`."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from components.config import ConfigError
from tests.infra.harness import ORG_ID, config_error, run_program

STACK = "example-org/central-logging/logging"
DESTINATIONS = {STACK: {"destinationArns": {"eu-west-1": "arn:aws:logs:eu-west-1:9:destination:d"}}}


def fail_in_apply() -> ConfigError:
    with pytest.raises(ConfigError, match="has no destination there") as raised:
        run_program(
            {"role": "member", "loggingStack": STACK, "regions": ["eu-west-1", "eu-north-1"]},
            account_id="111111111111",
            stack_outputs=DESTINATIONS,
        )
    return raised.value


def finalize_futures_holding(error: BaseException) -> int:
    """Finalize, as the garbage collector eventually will, every future left holding
    `error` unretrieved; how many there were. (Reading `exception()` would count as
    retrieving it, hence asyncio's private fields.)"""
    left = [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, asyncio.Future) and obj._log_traceback and obj._exception is error
    ]
    for future in left:
        future.__del__()
    return len(left)


def asyncio_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().splitlines()[0] for r in caplog.records if r.name == "asyncio"]


def test_a_config_error_in_an_apply_leaves_nothing_to_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="asyncio")
    for _ in range(2):
        error = fail_in_apply()
        loop = asyncio.get_event_loop_policy().get_event_loop()
        assert loop.is_closed()
        assert asyncio.all_tasks(loop) == set()
        assert finalize_futures_holding(error) > 0
    assert asyncio_records(caplog) == []


def test_another_lost_error_still_reaches_the_asyncio_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="asyncio")
    fail_in_apply()
    loop = asyncio.new_event_loop()
    try:
        lost = loop.create_future()
        lost.set_exception(RuntimeError("not the run's error"))
        del lost
        gc.collect()
    finally:
        loop.close()
    assert asyncio_records(caplog) == ["Future exception was never retrieved"]


def test_every_event_loop_a_run_opens_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = asyncio.get_event_loop_policy()
    opened: list[asyncio.AbstractEventLoop] = []
    new_event_loop = policy.new_event_loop

    def recording_new_event_loop() -> asyncio.AbstractEventLoop:
        loop = new_event_loop()
        opened.append(loop)
        return loop

    # asyncio.new_event_loop() asks the policy, in every thread: for the run's own loop, and
    # for one in each thread the mock monitor runs in.
    monkeypatch.setattr(policy, "new_event_loop", recording_new_event_loop)
    run_program({"role": "logging", "organizationId": ORG_ID})
    fail_in_apply()
    config_error({"role": "logging"})
    # One loop per run, and those of the executor's threads.
    assert len(opened) > 3
    assert [loop for loop in opened if not loop.is_closed()] == []
