"""`read` and `query` speak one language (issue 22 item 4): the region of every event, from
the partition or, in a raw archive, from the delivery stream named in the object's name;
--region on both; --account repeatable and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from central_logging.archive import object_region
from tests.archive.conftest import ACCOUNT_A, ACCOUNT_B, Archive, run


@pytest.mark.parametrize(
    ("key", "region"),
    [
        ("account=011111111111/region=eu-west-1/year=2026/month=01/day=10/x.json.gz", "eu-west-1"),
        ("errors/region=ap-southeast-2/processing-failed/year=2026/x", "ap-southeast-2"),
        (
            "2026/01/10/05/CentralLogDestination-us-gov-west-1-1-2026-01-10-05-00-00-"
            "5f0c9a2e-1b2c-4d5e-8f90-123456789abc",
            "us-gov-west-1",
        ),
        (
            "2026/01/10/05/Central-Log-Destination-of-a-very-long-name-f-us-east-1-4b4b9be2-3-"
            "2026-01-10-05-00-00-5f0c9a2e-1b2c-4d5e-8f90-123456789abc",
            "us-east-1",
        ),
        # A destination name that itself ends like a region: the stream's own region wins.
        (
            "2026/01/10/05/logs-eu-west-1-copy-eu-central-1-12-2026-01-10-05-00-00-abc",
            "eu-central-1",
        ),
        ("2026/01/10/05/renamed-by-hand", None),
        ("local/object.json.gz", None),
    ],
)
def test_the_region_of_an_object(key: str, region: str | None) -> None:
    assert object_region(key) == region


@pytest.mark.parametrize("fixture", ["json_archive", "raw_archive"])
def test_read_and_query_keep_only_the_regions_asked_for(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    archive: Archive = request.getfixturevalue(fixture)
    root = str(archive.write(tmp_path))

    read = run("read", root, "--json", "--region", "us-east-1")
    query = run("query", "SELECT * FROM events", root, "--format", "json", "--region", "us-east-1")

    kept = sorted((e for e in archive.events if e["region"] == "us-east-1"), key=lambda e: e["id"])
    assert kept
    assert (read.code, read.stderr, query.code, query.stderr) == (0, "", 0, "")
    assert sorted(read.documents(), key=lambda e: e["id"]) == kept
    assert sorted(query.documents(), key=lambda e: e["id"]) == kept


def test_account_is_repeatable(json_archive: Archive, tmp_path: Path) -> None:
    root = str(json_archive.write(tmp_path))

    both = run("read", root, "--json", "--account", ACCOUNT_A, "--account", ACCOUNT_B)
    one = run("read", root, "--json", "--account", ACCOUNT_B)

    assert len(both.documents()) == len(json_archive.events)
    assert {d["account"] for d in one.documents()} == {ACCOUNT_B}


def test_the_human_line_names_the_region(raw_archive: Archive, tmp_path: Path) -> None:
    lines = run("read", str(raw_archive.write(tmp_path))).stdout.splitlines()

    assert {line.split(" ")[1:3][1] for line in lines} == {"eu-west-1", "us-east-1"}
    assert all(line.split(" ")[0].endswith("Z") for line in lines)


@pytest.mark.parametrize("command", ["read", "query"])
@pytest.mark.parametrize(
    ("flag", "value", "sentence"),
    [
        ("--account", "11111111111", "--account takes 12-digit account IDs; got '11111111111'."),
        ("--account", "o-abcdef1234", "--account takes 12-digit account IDs; got 'o-abcdef1234'."),
        (
            "--region",
            "eu-west",
            "--region takes an AWS region name such as eu-west-1; got 'eu-west'.",
        ),
    ],
)
def test_a_malformed_account_or_region_is_bad_usage(
    tmp_path: Path, command: str, flag: str, value: str, sentence: str
) -> None:
    sql = ["SELECT 1"] if command == "query" else []

    outcome = run(command, *sql, str(tmp_path), flag, value)

    assert (outcome.code, outcome.stdout) == (2, "")
    assert outcome.stderr == f"central-logging: {sentence}\n"
