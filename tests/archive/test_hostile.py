"""An archive written by an attacker (anyone who can write to the bucket chooses object keys and
log messages) cannot reach the operator's machine through `read` or `query`."""

from __future__ import annotations

import concurrent.futures
import gzip
import json
import os
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from central_logging import archive, query
from tests.archive.conftest import (
    ACCOUNT_A,
    BUCKET,
    DAY_1,
    PREFIX,
    S3,
    control,
    envelope,
    json_object,
    millis,
    raw_object,
    run,
)

# Control characters a terminal acts on: C0 but tab, DEL, C1; and lone surrogates.
_UNSAFE = {chr(c) for c in [*range(0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0)]}
_UNSAFE |= {chr(c) for c in range(0xD800, 0xE000)}
# A window title, a screen clear and a C1 CSI (0x9b) colour change, as an attacker would log.
HOSTILE_MESSAGE = "\x1b]0;owned\x07\x1b[2J\x9b31mred\rover\x00"
ESCAPED_MESSAGE = "\\x1b]0;owned\\x07\\x1b[2J\\x9b31mred\\rover\\x00"
_FOLDER = f"account={ACCOUNT_A}/region=eu-west-1/year=2026/month=01/day=10/"


def _files(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


def test_query_writes_nothing_outside_its_cache_folder(s3: S3, tmp_path: Path) -> None:
    cache = tmp_path / "home/user/cache"
    data = json_object([envelope(ACCOUNT_A, "/g", "s", [("1", millis(DAY_1), "ok")])])
    hostile = [
        f"{PREFIX}../../../../x/.bashrc",
        f"{PREFIX}{_FOLDER}../../../../../../../.profile",
        f"{PREFIX}/root.json.gz",
        f"{PREFIX}{_FOLDER}",
        f"{PREFIX}{_FOLDER}./dot.json.gz",
    ]
    # A key that is also the folder of another key: one of the two cannot be a file.
    clash = f"{PREFIX}{_FOLDER}good.json.gz/inner.json.gz"
    for key in [*hostile, PREFIX + _FOLDER + "good.json.gz", clash]:
        s3.client.put_object(Bucket=BUCKET, Key=key, Body=data)

    outcome = run(
        "query",
        "SELECT count(*) AS n FROM events",
        f"s3://{BUCKET}/{PREFIX}",
        "--cache-dir",
        str(cache),
        "--format",
        "csv",
    )

    assert _files(tmp_path) == {
        cache / BUCKET / PREFIX / _FOLDER / "good.json.gz",
        cache / "CACHEDIR.TAG",  # marks the folder as the cache
    }
    assert outcome.stdout == "n\n1\n"
    assert outcome.code == 1
    assert sorted(outcome.stderr.splitlines()) == sorted(
        [
            *(
                f"central-logging: s3://{BUCKET}/{key} was not copied: its key could lead "
                "outside the cache folder or names a folder."
                for key in hostile
            ),
            f"central-logging: s3://{BUCKET}/{clash} was not copied (File exists).",
        ]
    )


@given(st.text(alphabet=st.sampled_from("/.a\x00"), max_size=12) | st.text(max_size=12))
def test_a_cache_path_is_inside_the_cache_or_none(key: str) -> None:
    root = os.path.join(os.sep, "cache", "bucket", "prefix")

    path = query.cache_path(root, key)

    if path is not None:
        assert os.path.commonpath([root, os.path.normpath(path)]) == root
        assert os.path.normpath(path) != root
        assert path == os.path.join(root, key)


@given(st.lists(st.text(st.characters(blacklist_characters="/\x00"), min_size=1), min_size=1))
def test_a_plain_key_is_kept_where_its_segments_say(segments: list[str]) -> None:
    root = os.path.join(os.sep, "cache")
    key = "/".join(segments)

    path = query.cache_path(root, key)

    assert (path is None) == any(segment in (".", "..") for segment in segments)


@given(st.text())
def test_printable_text_holds_nothing_a_terminal_acts_on(text: str) -> None:
    shown = archive.printable(text)

    assert not _UNSAFE.intersection(shown)
    if not _UNSAFE.intersection(text):
        assert shown == text
    assert shown.count("\t") == text.count("\t")


@given(st.text(st.characters(codec="utf-8", blacklist_characters="\\")))
def test_printable_text_can_be_read_back(text: str) -> None:
    shown = archive.printable(text)

    back = shown.encode("ascii", "backslashreplace").decode("unicode_escape")
    assert back == text


def test_read_escapes_control_characters_in_every_field(tmp_path: Path) -> None:
    hostile = envelope(ACCOUNT_A, "/g\x1b[8m", "s\x9b", [("1", millis(DAY_1), HOSTILE_MESSAGE)])
    (tmp_path / "object.json.gz").write_bytes(json_object([hostile]))

    human = run("read", str(tmp_path))
    as_json = run("read", str(tmp_path), "--json")

    assert human.stdout == (
        f"2026-01-10T00:00:00.000Z {ACCOUNT_A} - /g\\x1b[8m s\\x9b {ESCAPED_MESSAGE}\n"
    )
    assert [document["message"] for document in as_json.documents()] == [HOSTILE_MESSAGE]
    assert [document["logStream"] for document in as_json.documents()] == ["s\x9b"]
    # JSON need not escape C1 controls, and json.dumps leaves them raw: a terminal acts on them.
    assert not _UNSAFE.intersection(as_json.stdout.replace("\n", ""))


@pytest.mark.parametrize("form", ["table", "csv"])
def test_query_tables_and_csv_escape_control_characters(form: str, tmp_path: Path) -> None:
    hostile = envelope(ACCOUNT_A, "/g", "s", [("1", millis(DAY_1), HOSTILE_MESSAGE)])
    (tmp_path / _FOLDER).mkdir(parents=True)
    (tmp_path / _FOLDER / "object.json.gz").write_bytes(json_object([hostile]))

    outcome = run("query", "SELECT message FROM events", str(tmp_path), "--format", form)
    as_json = run("query", "SELECT message FROM events", str(tmp_path), "--format", "json")

    assert outcome.stdout.splitlines()[-1] == ESCAPED_MESSAGE
    assert not _UNSAFE.intersection(outcome.stdout.replace("\n", ""))
    assert as_json.documents() == [{"message": HOSTILE_MESSAGE}]
    assert not _UNSAFE.intersection(as_json.stdout.replace("\n", ""))


def test_a_lone_surrogate_in_a_message_can_still_be_written(tmp_path: Path) -> None:
    # JSON may spell a lone surrogate as an escape; no UTF-8 output can hold it as it is.
    text = json.dumps(envelope(ACCOUNT_A, "/g", "s", [("1", millis(DAY_1), "a\ud800b")]))
    (tmp_path / "object.json.gz").write_bytes(gzip.compress(text.encode() + b"\n"))

    human = run("read", str(tmp_path))
    as_json = run("read", str(tmp_path), "--json")

    assert human.stdout.encode().endswith(b" a\\ud800b\n")
    assert json.loads(as_json.stdout.encode())["message"] == "a\ud800b"


def test_a_symlink_loop_neither_repeats_events_nor_crashes(tmp_path: Path) -> None:
    events = [("1", millis(DAY_1), "once")]
    folder = tmp_path / _FOLDER
    folder.mkdir(parents=True)
    (folder / "object.json.gz").write_bytes(json_object([envelope(ACCOUNT_A, "/g", "s", events)]))
    (folder / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "account=999999999999").symlink_to(tmp_path / f"account={ACCOUNT_A}")

    read = run("read", str(tmp_path), "--json")
    counted = run("query", "SELECT count(*) AS n FROM events", str(tmp_path), "--format", "csv")

    assert (read.code, read.stderr, [d["message"] for d in read.documents()]) == (0, "", ["once"])
    assert (counted.code, counted.stderr, counted.stdout) == (0, "", "n\n1\n")


@pytest.mark.parametrize("form", ["json", "raw"])
def test_invalid_utf8_loses_that_envelope_only(form: str, tmp_path: Path) -> None:
    envelopes = [
        envelope(ACCOUNT_A, "/g", "s", [(str(k), millis(DAY_1) + k, f"event-{k} é")])
        for k in range(3)
    ]
    texts = [json.dumps(item, ensure_ascii=False).encode() for item in envelopes]
    texts[1] = texts[1].replace("é".encode(), b"\xff")
    if form == "json":
        data = gzip.compress(b"".join(text + b"\n" for text in texts))
    else:
        data = b"".join(gzip.compress(text) for text in texts)
    (tmp_path / "object.gz").write_bytes(data)

    outcome = run("read", str(tmp_path), "--json")

    assert [d["message"] for d in outcome.documents()] == ["event-0 é", "event-2 é"]
    assert outcome.stderr == (
        f"central-logging: {tmp_path / 'object.gz'} holds 1 envelope(s) whose text is not UTF-8; "
        "skipped those.\n"
    )
    assert outcome.code == 1


class _CountingInflate:
    """A zlib decompressor that counts the input bytes it is handed (zlib copies what it
    leaves unused, so this is the copying work too)."""

    handed = 0
    new = zlib.decompressobj

    def __init__(self, wbits: int) -> None:
        self._inflate = _CountingInflate.new(wbits)

    def decompress(self, data: Any, max_length: int = 0) -> bytes:
        _CountingInflate.handed += len(data)
        return self._inflate.decompress(data, max_length)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inflate, name)


def _decoding_work(data: bytes, monkeypatch: pytest.MonkeyPatch) -> int:
    """Input bytes handed to zlib plus characters handed to the JSON parser, to read `data`."""
    parsed = 0
    values = archive._values

    def counting_values(decoder: json.JSONDecoder, text: str, complete: bool) -> Any:
        nonlocal parsed
        parsed += len(text)
        return values(decoder, text, complete)

    _CountingInflate.handed = 0
    with monkeypatch.context() as patch:
        patch.setattr(archive, "_values", counting_values)
        patch.setattr(archive.zlib, "decompressobj", _CountingInflate)
        for _ in archive.iter_values([data]):
            pass
    return _CountingInflate.handed + parsed


def _tiny_members(size: int, form: str) -> bytes:
    """About `size` bytes of gzip members of about 100 bytes each: raw records, or one long
    json line cut into members."""
    if form == "raw":
        member = gzip.compress(json.dumps(envelope(ACCOUNT_A, "/g", "s", [])).encode())
        return member * (size // len(member))
    events = [(str(k), k, "m") for k in range(size // 30)]
    text = (json.dumps(envelope(ACCOUNT_A, "/g", "s", events)) + "\n").encode()
    members = [gzip.compress(text[start : start + 80]) for start in range(0, len(text), 80)]
    return b"".join(members)


@pytest.mark.parametrize("form", ["json", "raw"])
def test_decoding_tiny_members_is_linear_in_the_object_size(
    form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, large = _tiny_members(250_000, form), _tiny_members(1_000_000, form)

    work_small = _decoding_work(small, monkeypatch)
    work_large = _decoding_work(large, monkeypatch)

    assert work_large < 8 * len(large)
    assert work_large / work_small < 1.5 * len(large) / len(small)


@pytest.mark.parametrize("as_json", [[], ["--json"]])
def test_an_event_of_another_shape_names_the_object(as_json: list[str], tmp_path: Path) -> None:
    odd = envelope(ACCOUNT_A, "/g", "s", [("1", millis(DAY_1), "x")])
    odd["logEvents"][0]["message"] = ["not", "text"]
    (tmp_path / "object.json.gz").write_bytes(json_object([odd]))

    outcome = run("read", str(tmp_path), *as_json)

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        1,
        "",
        f"central-logging: {tmp_path / 'object.json.gz'} {archive.NOT_AN_ENVELOPE}; skipped.\n",
    )


def _hostile_object(kind: str, form: str) -> bytes:
    """One object of `form` whose only envelope is hostile: nested 100,000 deep, or with an
    event time that is not a time."""
    if kind == "nested":
        text = b"[" * 100_000
        return gzip.compress(text + b"\n") if form == "json" else gzip.compress(text)
    stamp = {"huge": 10**20, "negative": -1, "float": 1.5, "string": "1768003200000"}[kind]
    hostile = envelope(ACCOUNT_A, "/g", "s", [("2", 0, "hostile")])
    hostile["logEvents"][0]["timestamp"] = stamp
    return json_object([hostile]) if form == "json" else raw_object([hostile])


@pytest.mark.parametrize("kind", ["nested", "huge", "negative", "float", "string"])
@pytest.mark.parametrize("form", ["json", "raw"])
@pytest.mark.parametrize(
    "command",
    [
        ["read", "{root}"],
        ["read", "{root}", "--json"],
        ["query", "SELECT message FROM events ORDER BY message", "{root}", "--format", "json"],
        ["query", "SELECT count(*) AS n FROM events", "{root}", "--format", "csv"],
    ],
)
def test_a_hostile_object_costs_that_object_only(
    kind: str, form: str, command: list[str], tmp_path: Path
) -> None:
    # json objects in the Firehose layout (DuckDB reads them itself), raw ones decoded by read.
    folder = tmp_path / _FOLDER if form == "json" else tmp_path / "2026/01/10/00"
    folder.mkdir(parents=True)
    encode = json_object if form == "json" else raw_object
    for name, message in [("a", "before"), ("c", "after")]:
        good = envelope(ACCOUNT_A, "/g", "s", [("1", millis(DAY_1), message)])
        (folder / f"{name}.json.gz").write_bytes(encode([good]))
    (folder / "b.json.gz").write_bytes(_hostile_object(kind, form))

    outcome = run(*[part.format(root=tmp_path) for part in command])

    assert outcome.code == 1
    assert outcome.stderr.count("\n") == 1
    assert outcome.stderr.startswith(f"central-logging: {folder / 'b.json.gz'} ")
    if "count(*)" in command[1]:
        assert outcome.stdout == "n\n2\n"
    else:
        assert sorted(re.findall("before|after|hostile", outcome.stdout)) == ["after", "before"]


def test_a_key_with_a_segment_longer_than_a_file_name_is_reported_and_skipped(
    s3: S3, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    data = json_object([envelope(ACCOUNT_A, "/g", "s", [("1", millis(DAY_1), "ok")])])
    too_long = f"{PREFIX}{_FOLDER}{'é' * 124}.json.gz"  # 256 bytes of UTF-8
    longest = f"{PREFIX}{_FOLDER}{'a' * 247}.json.gz"  # 255 bytes: a file name still
    for key in (too_long, longest):
        s3.client.put_object(Bucket=BUCKET, Key=key, Body=data)

    outcome = run(
        "query",
        "SELECT count(*) AS n FROM events",
        f"s3://{BUCKET}/{PREFIX}",
        "--cache-dir",
        str(cache),
        "--format",
        "csv",
    )

    assert (outcome.code, outcome.stdout) == (1, "n\n1\n")
    assert outcome.stderr == (
        f"central-logging: s3://{BUCKET}/{too_long} was not copied: a segment of its key is "
        "longer than 255 bytes, more than a file name can be.\n"
    )


def _pulled(data: bytes, consumed: list[int]) -> Any:
    """`data` in chunks of 4 KiB, counting in `consumed` the bytes taken."""
    for start in range(0, len(data), 4096):
        consumed.append(len(data[start : start + 4096]))
        yield data[start : start + 4096]


@pytest.mark.parametrize("line", ["", json.dumps(control(DAY_1))])
def test_a_gzip_bomb_is_refused_after_a_bounded_amount_of_work(
    line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "INFLATION_SLACK_BYTES", 1 << 20)
    text = (line + "\n").encode()
    bomb = gzip.compress(text * ((256 << 20) // len(text)))  # 256 MiB of one line repeated
    consumed: list[int] = []
    item = archive.ArchiveObject("bomb.json.gz", "bomb.json.gz", lambda: _pulled(bomb, consumed))
    reports: list[str] = []

    texts = list(
        archive.read_objects([item], archive.Filters(), archive.json_lines, reports.append)
    )

    assert (texts, reports) == ([], [f"bomb.json.gz {archive.TOO_INFLATED}; skipped."])
    # Refused once the text passes 100 times the bytes read (plus the slack), not at the end.
    assert sum(consumed) < len(bomb)


def test_blank_lines_cost_no_more_than_decompressing_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = envelope(ACCOUNT_A, "/g", "s", [("1", millis(DAY_1), "ok")])
    data = gzip.compress((json.dumps(lines) + "\n" * (16 << 20)).encode())
    monkeypatch.setattr(archive, "MAX_INFLATION", 10_000)
    decoded = []
    values = archive._values

    def counting_values(decoder: json.JSONDecoder, text: str, complete: bool) -> Any:
        decoded.append(text)
        return values(decoder, text, complete)

    monkeypatch.setattr(archive, "_values", counting_values)

    assert len(list(archive.iter_values([data]))) == 1
    # No work per blank line: the parser is never handed one line at a time.
    assert len(decoded) < 100


def test_read_starts_a_bounded_number_of_processes(
    json_archive: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    json_archive.write(tmp_path)
    started: list[int] = []
    pool = concurrent.futures.ProcessPoolExecutor

    def counted(workers: int) -> Any:
        started.append(workers)
        return pool(2)

    monkeypatch.setattr(os, "cpu_count", lambda: 192)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(192)), raising=False)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", counted)

    outcome = run("read", str(tmp_path), "--json")

    assert (outcome.code, len(outcome.documents())) == (0, len(json_archive.events))
    assert started == [archive.MAX_READ_WORKERS]


def test_read_uses_the_cpus_it_may_run_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)

    assert archive.read_workers() == 1
