"""`--since` / `--until` values: ISO 8601 or a duration back from now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from central_logging.archive import format_millis, parse_time, to_millis

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
_UNIT = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(amount=st.integers(0, 100_000), unit=st.sampled_from(sorted(_UNIT)))
def test_a_duration_reaches_back_from_now(amount: int, unit: str) -> None:
    assert parse_time(f"{amount}{unit}", NOW) == NOW - amount * _UNIT[unit]


@given(moment=st.datetimes(min_value=datetime(1971, 1, 1), timezones=_offsets))
def test_an_iso_time_with_an_offset_is_that_moment(moment: datetime) -> None:
    assert parse_time(moment.isoformat(), NOW) == moment


@given(moment=st.datetimes(min_value=datetime(1971, 1, 1)))
def test_an_iso_time_without_an_offset_is_utc(moment: datetime) -> None:
    assert parse_time(moment.isoformat(), NOW) == moment.replace(tzinfo=UTC)


def test_z_and_plain_dates_are_accepted() -> None:
    assert parse_time("2026-01-10T03:00:00Z", NOW) == datetime(2026, 1, 10, 3, tzinfo=UTC)
    assert parse_time("2026-01-10", NOW) == datetime(2026, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("text", ["yesterday", "15x", "", "2h ago", "-2h", "2026-13-01"])
def test_anything_else_is_refused_with_one_sentence(text: str) -> None:
    with pytest.raises(
        ValueError, match=r"^.* is neither an ISO 8601 time nor a duration such as 15m, 2h or 7d\.$"
    ):
        parse_time(text, NOW)


def test_a_duration_before_year_one_is_refused() -> None:
    with pytest.raises(ValueError, match="reaches back before year 1"):
        parse_time("99999999d", NOW)


@given(millis=st.integers(0, 253402300799999))
def test_event_times_print_as_iso_utc_to_the_millisecond(millis: int) -> None:
    text = format_millis(millis)
    assert text.endswith("Z") and len(text) == 24
    assert to_millis(parse_time(text, NOW)) == millis
