"""The query cache (issue 22 item 4): marked with CACHEDIR.TAG, kept under --cache-limit
(least recently used objects go first), emptied by `central-logging cache clear`, and never
a folder of someone else's files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from central_logging import cli
from tests.archive.conftest import BUCKET, PREFIX, S3, Archive, run


def cached(folder: Path) -> set[str]:
    return {
        str(path.relative_to(folder / BUCKET / PREFIX))
        for path in (folder / BUCKET / PREFIX).rglob("*")
        if path.is_file()
    }


def query(cache: Path, *flags: str) -> tuple[int, str, str]:
    outcome = run(
        "query", "SELECT count(*) AS n FROM events", f"s3://{BUCKET}/{PREFIX}",
        "--cache-dir", str(cache), "--format", "csv", *flags,
    )  # fmt: skip
    return outcome.code, outcome.stdout, outcome.stderr


def test_the_cache_keeps_to_its_limit_least_recently_used_first(
    s3: S3, json_archive: Archive, tmp_path: Path
) -> None:
    json_archive.upload(s3.client)
    cache = tmp_path / "cache"
    sizes = {key: len(data) for key, data in json_archive.objects.items()}
    assert query(cache)[0] == 0
    assert cached(cache) == set(sizes)
    # Every object used long ago but the first, used again by a query just now.
    keys = sorted(sizes)
    for key in keys:
        os.utime(cache / BUCKET / PREFIX / key, (1_000_000, 1_000_000))
    code, _, _ = query(cache, "--account", keys[0].split("/")[0].removeprefix("account="))
    assert code == 0
    limit = sum(sizes.values()) - 1  # one byte too many: the oldest object goes

    code, _, err = query(cache, "--cache-limit", str(limit / 1e9), "--account", "999999999999")

    assert (code, err) == (
        0,
        f"central-logging: s3://{BUCKET}/{PREFIX} holds no objects in "
        "the partitions --account, --region, --since and --until select.\n",
    )
    left = cached(cache)
    assert len(left) == len(sizes) - 1
    assert keys[0] in left  # used most recently
    assert (cache / "CACHEDIR.TAG").is_file()


def test_cache_clear_empties_the_cache_and_keeps_its_mark(
    s3: S3, json_archive: Archive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    json_archive.upload(s3.client)
    cache = tmp_path / "cache"
    query(cache)
    size = sum(len(data) for data in json_archive.objects.values())

    code = cli.main(["cache", "clear", "--cache-dir", str(cache)])

    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == (
        f"Removed {len(json_archive.objects)} object(s), {size / 1e6:.1f} MB, from {cache}.\n"
    )
    assert [path.name for path in cache.iterdir()] == ["CACHEDIR.TAG"]
    assert query(cache)[1] == f"n\n{len(json_archive.events)}\n"  # copied again


def test_cache_clear_refuses_a_folder_that_is_not_a_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    code = cli.main(["cache", "clear", "--cache-dir", str(tmp_path)])

    assert code == 2
    assert capsys.readouterr().err == (
        f"central-logging: The folder {str(tmp_path)!r} is not a central-logging cache (it has "
        "no CACHEDIR.TAG); nothing was removed.\n"
    )
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_query_refuses_a_cache_dir_of_other_files(s3: S3, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    code, out, err = query(tmp_path)

    assert (code, out) == (2, "")
    assert err == (
        f"central-logging: The cache folder {str(tmp_path)!r} holds other files and is not a "
        "central-logging cache; give --cache-dir a new or empty folder.\n"
    )
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("limit", ["-1", "ten", "inf", "nan"])
def test_a_bad_cache_limit_is_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    code = cli.main(["query", "SELECT 1", str(tmp_path), f"--cache-limit={limit}"])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (
        f"central-logging: Argument --cache-limit: takes a size in GB such as 10; got {limit!r}.\n"
    )
