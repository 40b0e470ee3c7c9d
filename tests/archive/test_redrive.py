"""`central-logging redrive`: diverted records into their partitions, once; nothing lost when it
fails half way (issue 18 item 3)."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from central_logging import redrive
from central_logging.cli import main
from tests.archive.conftest import (
    ACCOUNT_A,
    ACCOUNT_B,
    BUCKET,
    DAY_1,
    PREFIX,
    S3,
    Archive,
    envelope,
    millis,
    run,
)
from tests.archive.diverted import diverted_key, diverted_object, error_record
from tests.archive.test_diverted import _diverted

URL = f"s3://{BUCKET}/{PREFIX}"


def _versioned(s3: S3) -> None:
    s3.client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


def _add(archive: Archive, name: str, gzip_raw: bool = True) -> str:
    envelopes = [*_diverted(ACCOUNT_A, name), *_diverted(ACCOUNT_B, name + "b")]
    records = [error_record(envelopes[:3], gzip_raw), error_record(envelopes[3:], gzip_raw)]
    key = diverted_key("eu-west-1", DAY_1, name)
    archive.add(key, diverted_object(records, gzip_object=True), envelopes, "eu-west-1")
    return PREFIX + key


def _keys(s3: S3) -> list[str]:
    pages = s3.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="")
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _versions(s3: S3) -> int:
    response = s3.client.list_object_versions(Bucket=BUCKET)
    return len(response.get("Versions", [])) + len(response.get("DeleteMarkers", []))


def _read_ids(capsys: pytest.CaptureFixture[str]) -> list[str]:
    outcome = run("read", URL, "--json")
    assert (outcome.code, outcome.stderr) == (0, "")
    return sorted(d["id"] for d in outcome.documents())


def _redrive(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(["redrive", URL, "--json", *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_redrive_moves_diverted_records_into_their_partitions_once(
    s3: S3, json_archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    _versioned(s3)
    first, second = _add(json_archive, "d1"), _add(json_archive, "d2", gzip_raw=False)
    json_archive.upload(s3.client)
    before = _read_ids(capsys)

    code, report, err = _redrive(capsys)

    assert (code, err) == (0, "")
    assert report["summary"] == {"redriven": 2}
    keys = _keys(s3)
    assert first not in keys and second not in keys
    written = [k for k in keys if "/redrive-" in k]
    assert len(written) == 4  # two diverted objects, two accounts each
    for account in (ACCOUNT_A, ACCOUNT_B):
        folder = f"{PREFIX}account={account}/region=eu-west-1/year=2026/month=01/day=10/"
        assert sum(k.startswith(folder) for k in written) == 2
    # Same events, now in their partitions; the diverted versions stay behind delete markers.
    assert _read_ids(capsys) == before
    head = s3.client.head_object(Bucket=BUCKET, Key=written[0])
    assert head["Metadata"]["redriven-from"] in (first, second)
    source = s3.client.list_object_versions(Bucket=BUCKET, Prefix=first)
    assert len(source["Versions"]) == 1 and len(source["DeleteMarkers"]) == 1

    versions = _versions(s3)
    assert _redrive(capsys)[:2] == (0, {"summary": {}, "objects": []})
    assert _versions(s3) == versions


def test_redriven_objects_are_the_json_archive_format(
    s3: S3, json_archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    _add(json_archive, "d1")
    json_archive.upload(s3.client)
    assert _redrive(capsys)[0] == 0
    [key] = [k for k in _keys(s3) if f"account={ACCOUNT_A}" in k and "/redrive-" in k]
    body = s3.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    lines = gzip.decompress(body).decode().splitlines()
    # Data envelopes only, one a line, as Firehose writes json; control messages dropped.
    assert [json.loads(line)["logStream"] for line in lines] == ["s-d1", "s-d1"]
    assert all(json.loads(line)["messageType"] == "DATA_MESSAGE" for line in lines)


def test_a_redrive_failing_half_way_leaves_the_diverted_object(
    s3: S3,
    json_archive: Archive,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _versioned(s3)
    key = _add(json_archive, "d1")
    json_archive.upload(s3.client)
    before = _read_ids(capsys)
    real_put = s3.client.put_object
    puts: list[str] = []

    def fail_second(**kwargs: Any) -> Any:
        puts.append(kwargs["Key"])
        if len(puts) == 2:
            raise s3.client.exceptions.ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "denied"}}, "PutObject"
            )
        return real_put(**kwargs)

    monkeypatch.setattr(s3.client, "put_object", fail_second)
    code, report, err = _redrive(capsys)

    assert code == 1
    assert report["summary"] == {"left-in-place": 1}
    assert key in _keys(s3)
    assert "stays until a run succeeds" in err
    # Nothing lost: every event is still read (the one written partition holds copies).
    assert set(_read_ids(capsys)) == set(before)

    monkeypatch.setattr(s3.client, "put_object", real_put)
    code, report, _ = _redrive(capsys)
    assert (code, report["summary"]) == (0, {"redriven": 1})
    assert key not in _keys(s3)
    assert _read_ids(capsys) == before
    # The partition written by the failed run was kept, not written again.
    written = [k for k in _keys(s3) if "/redrive-" in k]
    assert len(written) == 2
    for target in written:
        assert len(s3.client.list_object_versions(Bucket=BUCKET, Prefix=target)["Versions"]) == 1


@pytest.mark.parametrize(
    ("records", "detail"),
    [
        (
            [{"rawData": "%%%"}],
            "holds an error record whose rawData is not base64",
        ),
        (
            [
                error_record(
                    [{"messageType": "DATA_MESSAGE", "owner": "../../x", "logEvents": []}], False
                )
            ],
            "holds an envelope whose owner '../../x' is no account ID",
        ),
    ],
)
def test_a_hostile_diverted_object_stays_where_it_is(
    s3: S3,
    json_archive: Archive,
    capsys: pytest.CaptureFixture[str],
    records: list[dict[str, Any]],
    detail: str,
) -> None:
    good = _add(json_archive, "good")
    json_archive.upload(s3.client)
    hostile = PREFIX + diverted_key("eu-west-1", DAY_1, "hostile")
    s3.client.put_object(Bucket=BUCKET, Key=hostile, Body=diverted_object(records, False))

    code, report, err = _redrive(capsys)

    assert code == 1
    assert report["summary"] == {"left-in-place": 1, "redriven": 1}
    assert hostile in _keys(s3) and good not in _keys(s3)
    assert err.splitlines() == [f"central-logging: {hostile[len(PREFIX) :]} {detail}."]
    assert not any("x/redrive-" in k for k in _keys(s3))


def test_an_error_folder_without_region_or_day_is_left(
    s3: S3, capsys: pytest.CaptureFixture[str]
) -> None:
    key = f"{PREFIX}errors/activePartitionExceeded/2026/01/10/x"
    s3.client.put_object(Bucket=BUCKET, Key=key, Body=b"")
    code, report, err = _redrive(capsys)
    assert code == 1
    detail = f"{key[len(PREFIX) :]} has no region=R folder, so its partition is unknown"
    assert report["objects"][0]["detail"] == detail
    assert err == f"central-logging: {detail}.\n"


def test_dry_run_writes_and_deletes_nothing(
    s3: S3, json_archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _add(json_archive, "d1")
    json_archive.upload(s3.client)
    keys = _keys(s3)

    code, report, _ = _redrive(capsys, "--dry-run")

    assert code == 0
    assert report["summary"] == {"would-redrive": 1}
    assert len(report["objects"][0]["written"]) == 2
    assert _keys(s3) == keys and key in keys


def test_redrive_names_are_deterministic() -> None:
    name = redrive.redrive_name("p/errors/x", '"etag"')
    assert name == redrive.redrive_name("p/errors/x", '"etag"')
    assert name != redrive.redrive_name("p/errors/y", '"etag"')
    assert name.startswith("redrive-") and name.endswith(".json.gz")


def test_a_local_folder_is_bad_usage(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    assert main(["redrive", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"central-logging: The archive {str(tmp_path)!r} is not an s3:// URL; redrive writes "
        "into the archive bucket.\n"
    )


def test_ctrl_c_reports_what_is_done_and_exits_130(
    s3: S3,
    json_archive: Archive,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = _add(json_archive, "d1"), _add(json_archive, "d2")
    json_archive.upload(s3.client)
    real = redrive.redrive_object

    def interrupt_second(client: Any, bucket: str, prefix: str, key: str, dry: bool) -> Any:
        if key == second:
            raise KeyboardInterrupt
        return real(client, bucket, prefix, key, dry)

    monkeypatch.setattr(redrive, "redrive_object", interrupt_second)
    code, report, err = _redrive(capsys)

    assert code == 130
    assert [o["key"] for o in report["objects"]] == [first]
    assert "interrupted; the report covers the objects done so far" in err
    assert second in _keys(s3)


def test_role_arn_is_assumed_for_the_moves(
    s3: S3,
    json_archive: Archive,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = _add(json_archive, "d1")
    json_archive.upload(s3.client)
    assumed: list[str] = []
    real = redrive._client

    def spy(args: Any) -> Any:
        assumed.append(args.role_arn)
        return real(args)

    monkeypatch.setattr(redrive, "_client", spy)
    # moto's own account, where the fixture's bucket lives.
    role = "arn:aws:iam::123456789012:role/central-redrive"
    code, report, _ = _redrive(capsys, "--role-arn", role)

    assert (code, report["summary"], assumed) == (0, {"redriven": 1}, [role])
    assert key not in _keys(s3)


def test_a_diverted_heartbeat_goes_to_the_heartbeat_partition(
    s3: S3, json_archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where Firehose would have put it (handlers/heartbeat.py partition_of), not into the
    account's own partition."""
    moment = millis(DAY_1)
    envelopes = [
        envelope(ACCOUNT_A, "/central-logging/heartbeat", "heartbeat", [("h-1", moment, "{}")]),
        envelope(ACCOUNT_A, "/app/diverted", "s-1", [("a-1", moment, "app")]),
    ]
    key = diverted_key("eu-west-1", DAY_1, "hb")
    records = [error_record(envelopes, gzip_raw=True)]
    json_archive.add(key, diverted_object(records, gzip_object=True), envelopes, "eu-west-1")
    json_archive.upload(s3.client)

    assert _redrive(capsys)[0] == 0

    written = sorted(k for k in _keys(s3) if "/redrive-" in k)
    assert [k.split("/region=")[0].removeprefix(PREFIX) for k in written] == [
        f"account={ACCOUNT_A}",
        "account=heartbeat",
    ]
