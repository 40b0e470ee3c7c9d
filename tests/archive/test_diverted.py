"""Records Firehose diverted to `errors/.../activePartitionExceeded/` are log data: `read` and
`query` include them, whatever shape AWS gives them (issue 18 item 3)."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central_logging import archive
from tests.archive.conftest import (
    ACCOUNT_A,
    ACCOUNT_B,
    BUCKET,
    DAY_1,
    PREFIX,
    S3,
    Archive,
    control,
    envelope,
    millis,
    run,
    truth_of,
)
from tests.archive.diverted import diverted_key, diverted_object, error_record

SHAPES = [(False, False), (False, True), (True, False), (True, True)]


def _diverted(account: str, tag: str) -> list[dict[str, Any]]:
    moment = millis(DAY_1) + 3_600_000
    return [
        control(DAY_1),
        envelope(account, "/app/diverted", f"s-{tag}", [(f"{tag}-1", moment, "lost? no: é 🚀")]),
        envelope(account, "/app/diverted", f"s-{tag}", [(f"{tag}-2", moment + 1, "line\nnext")]),
    ]


def add_diverted(result: Archive, gzip_raw: bool, gzip_object: bool, tag: str) -> None:
    envelopes = [*_diverted(ACCOUNT_A, tag), *_diverted(ACCOUNT_B, tag + "b")]
    records = [error_record(envelopes[:3], gzip_raw), error_record(envelopes[3:], gzip_raw)]
    result.add(
        diverted_key("eu-west-1", DAY_1, f"diverted-{tag}"),
        diverted_object(records, gzip_object),
        envelopes,
        "eu-west-1",
    )


def _ids(documents: list[dict[str, Any]]) -> list[str]:
    return sorted(document["id"] for document in documents)


@pytest.mark.parametrize(("gzip_raw", "gzip_object"), SHAPES)
def test_read_includes_diverted_records_in_every_shape(
    json_archive: Archive, tmp_path: Path, gzip_raw: bool, gzip_object: bool
) -> None:
    add_diverted(json_archive, gzip_raw, gzip_object, "d")
    root = json_archive.write(tmp_path)

    outcome = run("read", str(root), "--json")

    assert (outcome.code, outcome.stderr) == (0, "")
    assert _ids(outcome.documents()) == _ids(json_archive.events)
    assert {"d-1", "d-2", "db-1", "db-2"} <= {d["id"] for d in outcome.documents()}


def test_account_filter_applies_to_diverted_records(json_archive: Archive, tmp_path: Path) -> None:
    add_diverted(json_archive, True, True, "d")
    root = json_archive.write(tmp_path)

    outcome = run("read", str(root), "--json", "--account", ACCOUNT_B)

    assert outcome.code == 0
    assert {d["account"] for d in outcome.documents()} == {ACCOUNT_B}
    assert {"db-1", "db-2"} <= {d["id"] for d in outcome.documents()}


def test_other_error_output_is_still_not_read(json_archive: Archive, tmp_path: Path) -> None:
    root = json_archive.write(tmp_path)
    failed = root / "errors/region=eu-west-1/processing-failed/year=2026/month=01/day=10"
    failed.mkdir(parents=True)
    (failed / "failed").write_bytes(b"not even json")
    (root / "errors/region=eu-west-1/stray").write_bytes(b"damaged")

    outcome = run("read", str(root), "--json")

    assert (outcome.code, outcome.stderr) == (0, "")
    assert _ids(outcome.documents()) == _ids(json_archive.events)


def test_read_from_s3_lists_only_the_diverted_branch_of_errors(
    s3: S3, json_archive: Archive
) -> None:
    add_diverted(json_archive, False, True, "d")
    json_archive.upload(s3.client)
    failed = f"{PREFIX}errors/region=eu-west-1/processing-failed/year=2026/month=01/day=10/x"
    s3.client.put_object(Bucket=BUCKET, Key=failed, Body=b"damaged")

    outcome = run("read", f"s3://{BUCKET}/{PREFIX}", "--json")

    assert (outcome.code, outcome.stderr) == (0, "")
    assert _ids(outcome.documents()) == _ids(json_archive.events)
    assert not any("processing-failed" in prefix for prefix in s3.listed)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("line", "sentence"),
    [
        (b'{"rawData": "not base64!"}', "holds an error record whose rawData is not base64"),
        (b'{"errorCode": "x"}', archive.NOT_AN_ERROR_RECORD),
        (b"[1, 2]", archive.NOT_AN_ERROR_RECORD),
        (
            json.dumps({"rawData": _b64(gzip.compress(b'{"a": 1}')[:-6])}).encode(),
            "is truncated (its last gzip member is incomplete)",
        ),
        (json.dumps({"rawData": _b64(b'{"owner": 1}')}).encode(), archive.NOT_AN_ENVELOPE),
        (json.dumps({"rawData": ""}).encode(), "is empty"),
        (b"{not json", "holds text that is not JSON (Expecting property name enclosed"),
    ],
)
def test_a_hostile_diverted_object_is_named_and_skipped(
    json_archive: Archive, tmp_path: Path, line: bytes, sentence: str
) -> None:
    root = json_archive.write(tmp_path)
    key = diverted_key("eu-west-1", DAY_1, "hostile")
    path = root.joinpath(*key.split("/"))
    path.parent.mkdir(parents=True)
    path.write_bytes(line + b"\n")

    outcome = run("read", str(root), "--json")

    assert outcome.code == 1
    assert _ids(outcome.documents()) == _ids(json_archive.events)
    assert outcome.stderr.startswith(f"central-logging: {path} {sentence}")
    assert outcome.stderr.count("\n") == 1


def test_query_sees_diverted_events(json_archive: Archive, tmp_path: Path) -> None:
    add_diverted(json_archive, True, False, "d")
    root = json_archive.write(tmp_path)

    outcome = run(
        "query",
        "SELECT id, account, region FROM events WHERE logGroup = '/app/diverted' ORDER BY id",
        str(root),
        "--format",
        "json",
    )

    assert (outcome.code, outcome.stderr) == (0, "")
    assert [(d["id"], d["account"], d["region"]) for d in outcome.documents()] == [
        ("d-1", ACCOUNT_A, "eu-west-1"),
        ("d-2", ACCOUNT_A, "eu-west-1"),
        ("db-1", ACCOUNT_B, "eu-west-1"),
        ("db-2", ACCOUNT_B, "eu-west-1"),
    ]


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_events = st.lists(
    st.tuples(_text, st.integers(0, archive.MAX_MILLIS - 1), _text).map(
        lambda e: (f"i{e[0]}", e[1], e[2])
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(_events, min_size=1, max_size=3),
    gzip_raw=st.booleans(),
    gzip_object=st.booleans(),
    per_record=st.integers(1, 3),
)
def test_decoding_diverted_records_returns_every_event(
    batches: list[list[tuple[str, int, str]]], gzip_raw: bool, gzip_object: bool, per_record: int
) -> None:
    envelopes = [envelope(ACCOUNT_A, "/g", f"s{k}", events) for k, events in enumerate(batches)]
    records = [
        error_record(envelopes[k : k + per_record], gzip_raw)
        for k in range(0, len(envelopes), per_record)
    ]
    data = diverted_object(records, gzip_object)
    chunks = [data[k : k + 7] for k in range(0, len(data), 7)]

    batches_read = archive.iter_object_batches(chunks, archive.Filters(), diverted=True)
    decoded = [
        json.loads(line) for b in batches_read for line in archive.json_lines(b).split("\n") if line
    ]

    assert decoded == truth_of(envelopes)
