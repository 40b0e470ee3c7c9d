"""Parsing the subscriber's event: any JSON in, a log group or an `ignored` result out."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from handlers import subscribe
from handlers.core import IGNORED, Result
from tests.handlers.harness import create_log_group_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
log_group_names = st.text(min_size=1, max_size=512)


@given(
    event=json_values
    | st.builds(
        lambda detail: {"detail": detail},
        st.dictionaries(
            st.sampled_from(["eventSource", "eventName", "requestParameters", "errorCode"]),
            json_values,
        ),
    )
)
def test_parsing_any_json_event_never_raises(event: Any) -> None:
    parsed = subscribe.parse_event(event)

    assert isinstance(parsed, tuple) or parsed.outcome == IGNORED


@given(name=log_group_names)
def test_a_successful_create_log_group_call_yields_its_log_group_of_class_standard(
    name: str,
) -> None:
    assert subscribe.parse_event(create_log_group_event(name)) == (name, "STANDARD")


@given(name=log_group_names, log_class=json_values)
def test_the_log_class_of_the_call_is_passed_on_and_standard_unless_it_is_a_name(
    name: str, log_class: Any
) -> None:
    event = create_log_group_event(
        name, requestParameters={"logGroupName": name, "logGroupClass": log_class}
    )

    expected = log_class if isinstance(log_class, str) and log_class else "STANDARD"
    assert subscribe.parse_event(event) == (name, expected)


@given(name=log_group_names, error_code=json_values)
def test_a_failed_create_log_group_call_is_ignored(name: str, error_code: Any) -> None:
    parsed = subscribe.parse_event(create_log_group_event(name, errorCode=error_code))

    assert isinstance(parsed, Result)
    assert (parsed.log_group, parsed.outcome) == (name, IGNORED)
