"""RateLimiter and the quota limiters: calls paced under a per-second budget."""

from __future__ import annotations

import bisect
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.core import QUOTAS_PER_SECOND, RateLimiter, quota_limiters
from tests.handlers.harness import FakeTime

# Float rounding may move a call by far less than this across a window's edge.
EDGE = 1e-9


def most_calls_in_one_second(times: list[float]) -> int:
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, t + 1 - EDGE) - i for i, t in enumerate(ordered)), default=0
    )


def acquire_after_pauses(limiter: RateLimiter, fake: FakeTime, pauses: list[float]) -> list[float]:
    """Acquire once after each pause; returns the times the calls went out."""
    times = []
    for pause in pauses:
        fake.sleep(pause)
        limiter.acquire()
        times.append(fake.now)
    return times


@given(
    rate=st.integers(1, 20),
    burst=st.integers(1, 10),
    pauses=st.lists(st.sampled_from([0.0, 0.0, 0.01, 0.1, 0.35, 1.0, 2.5]), max_size=80),
)
def test_no_one_second_window_holds_more_than_the_budget(
    rate: int, burst: int, pauses: list[float]
) -> None:
    fake = FakeTime()
    limiter = RateLimiter(rate, burst, clock=fake.clock, sleep=fake.sleep)

    times = acquire_after_pauses(limiter, fake, pauses)

    assert most_calls_in_one_second(times) <= burst + rate - 1


@given(rate=st.integers(1, 20), burst=st.integers(1, 10), calls=st.integers(1, 100))
def test_calls_in_a_row_go_out_as_fast_as_the_budget_allows(
    rate: int, burst: int, calls: int
) -> None:
    fake = FakeTime()
    limiter = RateLimiter(rate, burst, clock=fake.clock, sleep=fake.sleep)
    start = fake.now

    acquire_after_pauses(limiter, fake, [0.0] * calls)

    assert fake.now - start == pytest.approx(max(0, calls - burst) / rate)


@pytest.mark.parametrize(("operation", "quota"), sorted(QUOTAS_PER_SECOND.items()))
def test_each_quota_limiter_keeps_exactly_to_its_quota(operation: str, quota: int) -> None:
    fake = FakeTime()
    limiter = quota_limiters(clock=fake.clock, sleep=fake.sleep)[operation]

    times = acquire_after_pauses(limiter, fake, [0.0] * 10 * quota)

    assert most_calls_in_one_second(times) == quota
    assert times[-1] - times[0] == pytest.approx((10 * quota - 1) / quota)


def test_threads_share_one_budget() -> None:
    fake = FakeTime()
    clock_lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with clock_lock:
            fake.now += seconds
        time.sleep(0.001)  # hand the interpreter to another thread mid-acquire

    limiter = RateLimiter(5, 1, clock=fake.clock, sleep=sleep)
    times: list[float] = []

    def work() -> None:
        for _ in range(10):
            limiter.acquire()
            times.append(fake.now)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(times) == 40
    assert most_calls_in_one_second(times) <= 5


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (5, 0)])
def test_a_limiter_without_budget_is_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError) as raised:
        RateLimiter(rate, burst)

    assert str(raised.value) == (
        "A rate limiter needs a rate above 0 and a burst of at least 1; "
        f"got rate {rate} and burst {burst}."
    )
