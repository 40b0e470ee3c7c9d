"""One-line config changes that would neuter the archive are refused (issue 19): a filter
pattern typical events do not match, exclusions that leave only the heartbeat, an expiry
shorter than the floor, and destinations outside the pinned logging account."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.config import (
    EXPIRE_DAYS_FLOOR,
    TYPICAL_LOG_GROUPS,
    ConfigError,
    parse_logging,
    parse_member,
)
from components.filter_pattern import (
    TYPICAL_EVENTS,
    FilterPatternError,
    compile_pattern,
)
from tests.infra.harness import LOGGING_ACCOUNT_ID, ORG_ID, ROOT_ID, run_program
from tests.infra.test_organization import MANAGEMENT, run_organization
from tests.infra.test_subscriber import MEMBER as MEMBER_ID
from tests.infra.test_subscriber import REGIONS, STACK, run_member

MEMBER = {"loggingStack": STACK}
PLAIN = TYPICAL_EVENTS[0]
JSON_APP = TYPICAL_EVENTS[3]


def member_error(**values: object) -> str:
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in {**MEMBER, **values}.items()}
    with pytest.raises(ConfigError) as raised:
        parse_member(raw, "eu-west-1")
    return str(raised.value)


# Patterns that keep only a sliver of what accounts log: each is refused with the first typical
# event it would drop.
@pytest.mark.parametrize(
    ("pattern", "dropped"),
    [
        ('"heartbeat"', PLAIN),  # the heartbeat alone: the archive looks alive and holds nothing
        ("ERROR", PLAIN),
        ("?ERROR ?WARN", PLAIN),
        ('{ $.level = "ERROR" }', PLAIN),
        ("{ $.heartbeat IS TRUE }", PLAIN),
        ("[version, account = 999999999999, ...]", PLAIN),
        ("%^ERROR%", PLAIN),
        ("-heartbeat", TYPICAL_EVENTS[-1]),  # drops the proof that the account delivers
        ("-INFO", PLAIN),
        ("-RequestId", TYPICAL_EVENTS[1]),
    ],
)
def test_a_filter_pattern_that_drops_typical_events_is_refused(pattern: str, dropped: str) -> None:
    assert member_error(filterPattern=pattern) == (
        f"central-logging:filterPattern is {pattern!r}; it would not deliver typical events "
        f"such as {dropped!r}; leave it empty to archive every event, or only drop what is "
        "never wanted (e.g. -DEBUG)."
    )


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("{ $.level = }", "the pattern ends early"),
        ("{ $.latency > fast }", "> needs a number, not 'fast'"),
        ("{ $.level = x", "a JSON pattern must end with }"),
        ("[a, ..., b, ...]", "more than one ... in a space-delimited pattern"),
        ("%(%", "not a regular expression (missing ), unterminated subpattern at position 0)"),
        ("{ level = x }", "'level' is not a JSON selector such as $.field"),
    ],
)
def test_a_filter_pattern_the_check_cannot_read_is_refused(pattern: str, reason: str) -> None:
    assert member_error(filterPattern=pattern) == (
        f"central-logging:filterPattern is {pattern!r}; it must be a CloudWatch Logs filter "
        "pattern in the syntax this stack checks (terms, JSON or space-delimited), but "
        f"{reason}."
    )


@pytest.mark.parametrize(
    "pattern", ["", "   ", "-DEBUG", '-"health check"', "-DEBUG -TRACE", "%.%"]
)
def test_patterns_that_only_drop_unwanted_events_pass(pattern: str) -> None:
    assert parse_member({**MEMBER, "filterPattern": pattern}, "eu-west-1").filter_pattern == pattern


# The matcher against CloudWatch's documented semantics.
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters='"\\'), max_size=80)
WORD = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1
)


@given(TEXT)
def test_the_empty_pattern_matches_every_event(message: str) -> None:
    assert compile_pattern("")(message)


@given(TEXT, WORD)
def test_a_term_matches_exactly_the_events_containing_it_and_minus_inverts_it(
    message: str, term: str
) -> None:
    assert compile_pattern(term)(message) is (term in message)
    assert compile_pattern(f"-{term}")(message) is (term not in message)
    assert compile_pattern(f'"{term} x"')(message) is (f"{term} x" in message)


@given(TEXT, WORD, WORD)
def test_terms_are_all_of_and_question_marks_any_of(message: str, first: str, second: str) -> None:
    assert compile_pattern(f"{first} {second}")(message) is (first in message and second in message)
    assert compile_pattern(f"?{first} ?{second}")(message) is (
        first in message or second in message
    )


@given(st.dictionaries(WORD, st.integers(-1000, 1000) | WORD, min_size=1), st.data())
def test_json_comparisons_read_the_field(document: dict[str, object], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(document)))
    value = document[name]
    message = json.dumps(document)
    shown = json.dumps(value)
    assert compile_pattern(f"{{ $.{name} = {shown} }}")(message)
    assert not compile_pattern(f"{{ $.{name} != {shown} }}")(message)
    assert not compile_pattern(f"{{ $.{name} NOT EXISTS }}")(message)
    assert compile_pattern(f"{{ $.{name}_absent NOT EXISTS }}")(message)
    if isinstance(value, int):
        assert compile_pattern(f"{{ $.{name} >= {value} && $.{name} < {value + 1} }}")(message)
        assert not compile_pattern(f"{{ $.{name} > {value} || $.{name} < {value} }}")(message)
    # A JSON pattern never matches text that is not JSON.
    assert not compile_pattern(f"{{ $.{name} = * }}")(f"x {message}")


@pytest.mark.parametrize(
    ("pattern", "message", "matches"),
    [
        ('{ $.eventSource = "s3.*" }', TYPICAL_EVENTS[4], True),
        ("{ $.sourceIPAddress != 192.0.2.* }", TYPICAL_EVENTS[4], False),
        ('{ ($.level = "info") && ($.status = 200) }', JSON_APP, True),
        ('{ $.level = "info" && $.status = 500 || $.latencyMs < 20 }', JSON_APP, True),
        ("{ $.heartbeat IS TRUE }", TYPICAL_EVENTS[-1], True),
        ("{ $.heartbeat IS FALSE }", TYPICAL_EVENTS[-1], False),
        (
            "[v, account, eni, src, dst, sport, dport, proto, pkts, bytes, start, end, "
            "action = ACCEPT, status]",
            TYPICAL_EVENTS[5],
            True,
        ),
        (
            "[v, account, ..., action = REJECT || action = ACCEPT, status = OK]",
            TYPICAL_EVENTS[5],
            True,
        ),
        ("[v, account, ..., bytes > 1000, start, end, action, status]", TYPICAL_EVENTS[5], False),
        ("[v, account]", TYPICAL_EVENTS[5], False),
        ("%Duration: [0-9.]+ ms%", TYPICAL_EVENTS[2], True),
    ],
)
def test_documented_samples(pattern: str, message: str, matches: bool) -> None:
    assert compile_pattern(pattern)(message) is matches


def test_a_pattern_error_is_a_value_error_with_the_reason() -> None:
    with pytest.raises(FilterPatternError, match="IS MAYBE is not IS NULL"):
        compile_pattern("{ $.a IS MAYBE }")


# Exclusions.
@pytest.mark.parametrize(
    "excludes",
    [
        ["/aws/*", "[A-Za-z]*", "/ecs/*"],
        [f"{c}*" for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"] + ["/[!c]*"],
        ["/[!c]*", "[!/]*"],
        list(TYPICAL_LOG_GROUPS),
    ],
    ids=["three-globs", "52-letter-globs", "all-but-heartbeat", "every-typical-name"],
)
def test_exclusions_that_leave_only_the_heartbeat_are_refused(excludes: list[str]) -> None:
    assert member_error(excludeLogGroups=excludes) == (
        "central-logging:excludeLogGroups excludes every typical log group (/aws/lambda/orders-api, "
        "/aws/ecs/containerinsights/prod/performance, /aws/rds/instance/orders-db/postgresql, "
        "...), which leaves only the heartbeat to deliver; exclude the groups you never want "
        "archived, by name or narrow pattern."
    )


def test_narrow_exclusions_pass() -> None:
    excludes = ["/aws/lambda/noisy-*", "/aws/codebuild/*", "RDSOSMetrics"]
    settings = parse_member({**MEMBER, "excludeLogGroups": json.dumps(excludes)}, "eu-west-1")
    assert settings.exclude_log_groups == tuple(excludes)


# Expiry.
def logging_error(**values: object) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_logging(
            {"organizationId": ORG_ID, **{k: str(v) for k, v in values.items()}}, "eu-west-1"
        )
    return str(raised.value)


@pytest.mark.parametrize("days", [1, 30, EXPIRE_DAYS_FLOOR - 1])
def test_an_expiry_under_the_floor_is_refused(days: int) -> None:
    assert logging_error(expireDays=days) == (
        f"central-logging:expireDays is {days}; it must be 0 (never) or at least 90 days, the "
        "event history CloudTrail already keeps without an archive."
    )


def test_an_expiry_under_the_object_lock_is_refused_first() -> None:
    assert logging_error(objectLockMode="GOVERNANCE", objectLockDays=400, expireDays=365) == (
        "central-logging:expireDays is 365; it must be at least objectLockDays (400)."
    )


def test_the_floor_itself_and_never_pass() -> None:
    assert (
        parse_logging(
            {"organizationId": ORG_ID, "expireDays": str(EXPIRE_DAYS_FLOOR)}, "eu-west-1"
        ).expire_days
        == EXPIRE_DAYS_FLOOR
    )
    assert (
        parse_logging({"organizationId": ORG_ID, "expireDays": "0"}, "eu-west-1").expire_days
        is None
    )


# loggingAccountId.
def test_logging_account_id_must_be_an_account_id() -> None:
    assert member_error(loggingAccountId="logging") == (
        "central-logging:loggingAccountId is 'logging'; it must be the logging account's "
        "12-digit ID."
    )


OTHER = "444444444444"


def retargeted(region: str, arn: str) -> dict[str, dict[str, object]]:
    arns = {
        r: f"arn:aws:logs:{r}:{LOGGING_ACCOUNT_ID}:destination:CentralLogDestination"
        for r in REGIONS
    }
    return {STACK: {"destinationArns": {**arns, region: arn}}}


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:logs:us-east-1:{OTHER}:destination:CentralLogDestination",
        f"arn:aws:logs:eu-west-1:{LOGGING_ACCOUNT_ID}:destination:CentralLogDestination",
        f"arn:aws:kinesis:us-east-1:{LOGGING_ACCOUNT_ID}:stream/elsewhere",
    ],
    ids=["other-account", "other-region", "not-a-destination"],
)
@pytest.mark.parametrize(("role", "account"), [("member", MEMBER_ID), ("organization", MANAGEMENT)])
def test_a_destination_outside_the_pinned_logging_account_stops_the_preview(
    arn: str, role: str, account: str
) -> None:
    config = {
        "role": role,
        "loggingStack": STACK,
        "regions": REGIONS,
        "loggingAccountId": LOGGING_ACCOUNT_ID,
    }
    with pytest.raises(ConfigError) as raised:
        run_program(
            config,
            region="eu-west-1",
            account_id=account,
            stack_outputs=retargeted("us-east-1", arn),
            roots=(ROOT_ID,),
        )
    assert str(raised.value) == (
        f"The logging stack {STACK} gives {arn!r} as the destination for us-east-1, which is "
        f"not a CloudWatch Logs destination of central-logging:loggingAccountId "
        f"{LOGGING_ACCOUNT_ID} in us-east-1; check the logging stack, or the key."
    )


def test_without_the_pin_the_logging_stack_is_trusted_as_before() -> None:
    arn = f"arn:aws:logs:us-east-1:{OTHER}:destination:CentralLogDestination"
    run = run_program(
        {"role": "member", "loggingStack": STACK, "regions": REGIONS},
        region="eu-west-1",
        account_id=MEMBER_ID,
        stack_outputs=retargeted("us-east-1", arn),
    )
    assert run.outputs["destinationArns"]["us-east-1"] == arn


def test_pinned_destinations_in_the_logging_account_pass() -> None:
    run = run_member(regions=REGIONS, loggingAccountId=LOGGING_ACCOUNT_ID)
    assert sorted(run.outputs["destinationArns"]) == sorted(REGIONS)
    run = run_organization(loggingAccountId=LOGGING_ACCOUNT_ID)
    assert sorted(run.outputs["destinationArns"]) == sorted(REGIONS)
