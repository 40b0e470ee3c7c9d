"""Decoding objects of both formats: every data event exactly once, damage named, bounded memory."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central_logging import archive
from tests.archive.conftest import (
    ACCOUNT_A,
    DAY_1,
    control,
    envelope,
    json_object,
    millis,
    raw_object,
    run,
    truth_of,
)

_text = st.text(st.characters(codec="utf-8"), max_size=40)
_events = st.lists(
    st.tuples(
        st.text(max_size=8, alphabet="0123456789"), st.integers(0, archive.MAX_MILLIS - 1), _text
    ),
    max_size=5,
)
_data = st.builds(
    envelope, st.sampled_from(["011111111111", "222222222222"]), _text, _text, _events
)
_controls = st.builds(control, st.just(DAY_1))
_envelopes = st.lists(st.one_of(_data, _controls), max_size=12)


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _documents(batches: Iterable[archive.Batch]) -> list[dict[str, Any]]:
    """The `read --json` documents of `batches`."""
    return [
        json.loads(line) for batch in batches for line in archive.json_lines(batch).split("\n")[:-1]
    ]


def _key(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(
    envelopes=_envelopes,
    form=st.sampled_from(["json", "raw"]),
    members=st.integers(1, 4),
    chunk=st.integers(1, 300),
)
def test_every_data_event_exactly_once_in_either_format(
    envelopes: list[dict[str, Any]], form: str, members: int, chunk: int
) -> None:
    data = json_object(envelopes, members) if form == "json" else raw_object(envelopes)
    if not data:
        data = gzip.compress(b"")

    batches = archive.iter_object_batches(_chunks(data, chunk), archive.Filters())

    assert sorted(_key(document) for document in _documents(batches)) == sorted(
        _key(document) for document in truth_of(envelopes)
    )


def test_json_values_without_newlines_in_one_member_are_all_read() -> None:
    first = envelope(ACCOUNT_A, "/g", "s", [("1", 5, "a")])
    second = envelope(ACCOUNT_A, "/g", "s", [("2", 6, "b")])
    data = gzip.compress((json.dumps(first) + json.dumps(second) + " ").encode())

    documents = _documents(archive.iter_object_batches([data], archive.Filters()))

    assert [document["id"] for document in documents] == ["1", "2"]


_ENVELOPE = json.dumps(envelope(ACCOUNT_A, "/g", "s", [("1", 5, "a")])).encode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "is empty"),
        (gzip.compress(_ENVELOPE + b"\n")[:-12], "is truncated"),
        (b"plain text, not gzip", "is not a valid gzip stream"),
        (gzip.compress(b"\xff\xfe not utf-8\n"), "holds 1 envelope(s) whose text is not UTF-8"),
        (gzip.compress(b"hello world\n"), "holds text that is not JSON"),
        (gzip.compress(_ENVELOPE[:-1]), "ends in the middle of a JSON value"),
        (gzip.compress(b"[1, 2]\n"), "holds JSON that is not a CloudWatch Logs envelope"),
        (gzip.compress(b'{"messageType": "DATA_MESSAGE"}'), "not a CloudWatch Logs envelope"),
        (
            gzip.compress(_ENVELOPE.replace(b'"timestamp": 5', b'"timestamp": "5"')),
            f"holds 1 event(s) whose {archive.BAD_TIMESTAMP}",
        ),
        (
            gzip.compress(_ENVELOPE.replace(b'"owner": "0', b'"owner": 0, "x": "0')),
            "not a CloudWatch",
        ),
        (gzip.compress(_ENVELOPE.replace(b'"message": "a"', b'"message": 1')), "not a CloudWatch"),
        (gzip.compress(_ENVELOPE.replace(b'"id": "1"', b'"id": 1')), "not a CloudWatch"),
        (gzip.compress(_ENVELOPE.replace(b'"id": "1", ', b"")), "not a CloudWatch"),
        (gzip.compress(_ENVELOPE.replace(b'"logEvents": [', b'"logEvents": 1, "x": [')), "not a"),
    ],
)
def test_a_damaged_object_says_what_is_wrong(data: bytes, reason: str) -> None:
    reports: list[str] = []
    item = archive.ArchiveObject("damaged.gz", "damaged.gz", lambda: iter([data]))

    texts = list(
        archive.read_objects([item], archive.Filters(), archive.json_lines, reports.append)
    )

    assert texts == []
    assert len(reports) == 1 and reports[0].startswith("damaged.gz ")
    assert reason in reports[0]


def test_events_before_the_damage_are_printed_and_the_object_named(tmp_path: Any) -> None:
    intact = envelope(ACCOUNT_A, "/g", "s", [("1", 5, "before")])
    lost = envelope(ACCOUNT_A, "/g", "s", [("2", 6, "x" * 2000)])
    damaged = gzip.compress(json.dumps(intact).encode() + b"\n")
    damaged += gzip.compress(json.dumps(lost).encode() + b"\n")[:40]
    (tmp_path / "damaged.json.gz").write_bytes(damaged)

    outcome = run("read", str(tmp_path), "--json")

    assert outcome.code == 1
    assert [document["message"] for document in outcome.documents()] == ["before"]
    assert (
        outcome.stderr
        == f"central-logging: {tmp_path / 'damaged.json.gz'} is truncated (its last gzip member is incomplete); skipped.\n"
    )


def _large_object(path: Any, megabytes: int) -> int:
    """A json object of `megabytes` MiB of text, written member by member; returns events."""
    count = 0
    with gzip.open(path, "wb") as file:
        while file.tell() < megabytes << 20:
            events = [
                (str(count + k), millis(DAY_1) + count + k, f"line {count + k} " + "z" * 300)
                for k in range(100)
            ]
            count += len(events)
            file.write(json.dumps(envelope(ACCOUNT_A, "/big", "s", events)).encode() + b"\n")
    return count


def test_memory_stays_bounded_whatever_the_object_size(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.json.gz"
    count = _large_object(path, 24)
    monkeypatch.setattr(archive, "RUN_BYTES", 1 << 20)
    objects = archive.list_local(str(tmp_path), archive.Filters(), DAY_1)

    tracemalloc.start()
    try:
        texts = archive.read_objects(objects, archive.Filters(), archive.json_lines, print)
        seen = sum(text.count("\n") for text in texts)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert seen == count
    assert peak < 12 << 20, f"peak {peak / 2**20:.1f} MiB while reading a 24 MiB object"


def test_text_that_never_completes_a_value_is_refused_without_buffering_it_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(archive, "MAX_ENVELOPE_CHARS", 1000)
    endless = gzip.compress(b'{"messageType": "' + b"x" * 5000)
    reports: list[str] = []
    item = archive.ArchiveObject("endless.gz", "endless.gz", lambda: _chunks(endless, 100))

    list(archive.read_objects([item], archive.Filters(), archive.json_lines, reports.append))

    assert reports == [f"endless.gz {archive.TOO_LONG}; skipped."]
