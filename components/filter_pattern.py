"""A small matcher for the common CloudWatch Logs filter pattern syntax, so that the stack
refuses a `filterPattern` under which typical log events would not reach the archive.

Syntax (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html):
- "" matches every event;
- terms: `ERROR Exception` (all, case-sensitive), `?ERROR ?WARN` (any), `-DEBUG` (none),
  quoted terms for anything but letters, digits and `_` (`"Failed to"`);
- JSON: `{ $.level = "ERROR" }`, `{ ($.a = 1) && ($.b != x*) || $.c IS TRUE }`, comparisons
  `= != < > <= >=`, `*` wildcards in strings, `IS NULL`, `IS TRUE`, `IS FALSE`, `NOT EXISTS`
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/matching-terms-json-log-events.html);
- space-delimited: `[ip, user, ..., status = 5* || status = 4*, bytes]`;
- regular expressions between `%` signs.
Anything else raises FilterPatternError: a pattern this check cannot read is refused rather
than assumed harmless. Terms are matched as substrings of the message, as the `%...%` form
does; where CloudWatch matches a term only as a whole word, this check is stricter for an
excluded term (`-Dur` drops "Duration" here) and looser for a required one (which must occur
in every typical event to pass, so it refuses such patterns all the same).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[str], bool]


class FilterPatternError(ValueError):
    """A filter pattern outside the syntax this module reads."""


# Events every account emits in some form: application lines, Lambda's platform lines, JSON
# application and AWS service logs, a VPC flow log record, and this project's own heartbeat.
TYPICAL_EVENTS = (
    "2026-12-06T01:00:00.000Z INFO user login succeeded id=42",
    "START RequestId: 8f5a2b1c-0d9e-4f7a-9b3c-2e1d0f9a8b7c Version: $LATEST",
    "REPORT RequestId: 8f5a2b1c-0d9e-4f7a-9b3c-2e1d0f9a8b7c Duration: 12.34 ms "
    "Billed Duration: 13 ms Memory Size: 128 MB Max Memory Used: 64 MB",
    '{"level":"info","message":"request handled","status":200,"latencyMs":12}',
    '{"eventVersion":"1.09","eventSource":"s3.amazonaws.com","eventName":"GetObject",'
    '"awsRegion":"eu-west-1","sourceIPAddress":"192.0.2.10"}',
    "2 111111111111 eni-0a1b2c3d 10.0.0.1 10.0.1.2 443 49152 6 10 840 1700000000 1700000060 "
    "ACCEPT OK",
    '{"heartbeat": true, "account": "111111111111", "region": "eu-west-1", '
    '"sentAt": "2026-12-06T01:00:00Z"}',
)

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\)|,)
      | (?P<word>[^\s"&|!=<>(),]+)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[str]:
    found, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterPatternError(f"unreadable at {text[position:][:20]!r}")
        found.append(match.group(match.lastgroup or "word"))
        position = match.end()
    return found


def _unquote(token: str) -> str:
    if token.startswith('"'):
        return str(json.loads(token))
    return token


def _wildcard(value: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in value.split("*")), re.DOTALL)


def _compare(actual: Any, operator: str, expected: str) -> bool:
    """One comparison of a field's value, as JSON and space-delimited patterns make it."""
    if actual is None or isinstance(actual, dict | list):
        return False
    try:
        number = float(expected)
    except ValueError:
        number = None
    if operator in ("<", ">", "<=", ">="):
        if number is None:
            raise FilterPatternError(f"{operator} needs a number, not {expected!r}")
        try:
            value = float(actual)
        except (TypeError, ValueError):
            return False
        return {
            "<": value < number,
            ">": value > number,
            "<=": value <= number,
            ">=": value >= number,
        }[operator]
    if isinstance(actual, bool):
        text = "true" if actual else "false"
    elif number is not None and isinstance(actual, int | float | str):
        try:
            equal = float(actual) == number
        except ValueError:
            equal = False
        return equal if operator == "=" else not equal
    else:
        text = str(actual)
    equal = _wildcard(expected).fullmatch(text) is not None
    return equal if operator == "=" else not equal


class _Parser:
    """Recursive descent over `a && b || c`, with `(...)`, for JSON and space-delimited
    conditions; `operand` reads one comparison into a predicate over the event's fields."""

    def __init__(self, tokens: list[str], operand: Callable[[_Parser], Callable[[Any], bool]]):
        self.tokens = tokens
        self.position = 0
        self.operand = operand

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise FilterPatternError("the pattern ends early")
        self.position += 1
        return token

    def expression(self) -> Callable[[Any], bool]:
        alternatives = [self.conjunction()]
        while self.peek() == "||":
            self.take()
            alternatives.append(self.conjunction())
        return lambda fields: any(a(fields) for a in alternatives)

    def conjunction(self) -> Callable[[Any], bool]:
        parts = [self.atom()]
        while self.peek() == "&&":
            self.take()
            parts.append(self.atom())
        return lambda fields: all(p(fields) for p in parts)

    def atom(self) -> Callable[[Any], bool]:
        if self.peek() == "(":
            self.take()
            inner = self.expression()
            if self.take() != ")":
                raise FilterPatternError("a parenthesis is not closed")
            return inner
        return self.operand(self)


_SELECTOR = re.compile(r"\$((?:\.[A-Za-z0-9_@-]+|\[\d+\])*)")
_STEP = re.compile(r"\.([A-Za-z0-9_@-]+)|\[(\d+)\]")
_MISSING = object()


def _select(document: Any, selector: str) -> Any:
    match = _SELECTOR.fullmatch(selector)
    if match is None:
        raise FilterPatternError(f"{selector!r} is not a JSON selector such as $.field")
    value = document
    for name, index in _STEP.findall(match.group(1)):
        if name and isinstance(value, dict) and name in value:
            value = value[name]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return _MISSING
    return value


def _json_operand(parser: _Parser) -> Callable[[Any], bool]:
    selector = parser.take()
    _select({}, selector)  # refuses a malformed selector now, not per event
    operator = parser.take()
    if operator == "IS":
        keyword = parser.take()
        if keyword not in ("NULL", "TRUE", "FALSE"):
            raise FilterPatternError(f"IS {keyword} is not IS NULL, IS TRUE or IS FALSE")
        constant = {"NULL": None, "TRUE": True, "FALSE": False}[keyword]
        return lambda event: (
            (value := _select(event, selector)) is not _MISSING and (value is constant)
        )
    if operator == "NOT":
        if parser.take() != "EXISTS":
            raise FilterPatternError("NOT must be followed by EXISTS")
        return lambda event: _select(event, selector) is _MISSING
    if operator not in ("=", "!=", "<", ">", "<=", ">="):
        raise FilterPatternError(f"{operator!r} is not a comparison")
    expected = _unquote(parser.take())
    _compare("0", operator, expected)  # refuses a non-number for < > <= >= now, not per event

    def compare(event: Any) -> bool:
        value = _select(event, selector)
        return value is not _MISSING and _compare(value, operator, expected)

    return compare


def _json_pattern(body: str) -> Predicate:
    parser = _Parser(_tokens(body), _json_operand)
    condition = parser.expression()
    if parser.peek() is not None:
        raise FilterPatternError(f"unexpected {parser.peek()!r}")

    def matches(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, dict | list) and condition(document)

    return matches


_FIELD = re.compile(r'"[^"]*"|\[[^\]]*\]|\S+')


def _space_delimited_pattern(body: str) -> Predicate:
    entries = [e.strip() for e in _split_top_level(body)]
    names: list[str] = []
    conditions: list[Callable[[Any], bool]] = []
    for entry in entries:
        tokens = _tokens(entry)
        if not tokens:
            raise FilterPatternError("an empty field")
        if tokens == ["..."]:
            names.append("...")
            continue
        names.append(tokens[0])
        if len(tokens) > 1:
            parser = _Parser(tokens, _delimited_operand)
            conditions.append(parser.expression())
            if parser.peek() is not None:
                raise FilterPatternError(f"unexpected {parser.peek()!r}")
    if names.count("...") > 1:
        raise FilterPatternError("more than one ... in a space-delimited pattern")

    def matches(message: str) -> bool:
        fields = [f.strip('"[]') for f in _FIELD.findall(message)]
        if "..." in names:
            cut = names.index("...")
            before, after = names[:cut], names[cut + 1 :]
            if len(fields) < len(before) + len(after):
                return False
            named = dict(zip(before, fields, strict=False))
            named.update(zip(after, fields[len(fields) - len(after) :], strict=False))
        else:
            if len(fields) != len(names):
                return False
            named = dict(zip(names, fields, strict=True))
        return all(c(named) for c in conditions)

    return matches


def _split_top_level(body: str) -> list[str]:
    """Split `a, b = "x,y", c` on the commas outside quotes."""
    parts, current, quoted = [], "", False
    for char in body:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _delimited_operand(parser: _Parser) -> Callable[[Any], bool]:
    name = parser.take()
    operator = parser.take()
    if operator not in ("=", "!=", "<", ">", "<=", ">="):
        raise FilterPatternError(f"{operator!r} is not a comparison")
    expected = _unquote(parser.take())
    _compare("0", operator, expected)
    return lambda fields: name in fields and _compare(fields[name], operator, expected)


def _terms_pattern(pattern: str) -> Predicate:
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    for token in re.findall(r'[?-]?"(?:[^"\\]|\\.)*"|\S+', pattern):
        prefix = token[0] if token[0] in "?-" and len(token) > 1 else ""
        term = _unquote(token[len(prefix) :])
        {"?": optional, "-": excluded, "": required}[prefix].append(term)
    return lambda message: (
        all(t in message for t in required)
        and not any(t in message for t in excluded)
        and (not optional or any(t in message for t in optional))
    )


def compile_pattern(pattern: str) -> Predicate:
    """A predicate over one log event's message: whether CloudWatch would deliver it."""
    stripped = pattern.strip()
    if not stripped:
        return lambda message: True
    if stripped.startswith("{"):
        if not stripped.endswith("}"):
            raise FilterPatternError("a JSON pattern must end with }")
        return _json_pattern(stripped[1:-1])
    if stripped.startswith("["):
        if not stripped.endswith("]"):
            raise FilterPatternError("a space-delimited pattern must end with ]")
        return _space_delimited_pattern(stripped[1:-1])
    if len(stripped) > 1 and stripped.startswith("%") and stripped.endswith("%"):
        try:
            expression = re.compile(stripped[1:-1])
        except re.error as error:
            raise FilterPatternError(f"not a regular expression ({error})") from None
        return lambda message: expression.search(message) is not None
    return _terms_pattern(stripped)


def first_unmatched(pattern: str, events: tuple[str, ...] = TYPICAL_EVENTS) -> str | None:
    """The first of `events` the pattern would not deliver, or None when it delivers all."""
    matches = compile_pattern(pattern)
    return next((event for event in events if not matches(event)), None)
