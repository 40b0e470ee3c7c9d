"""The folder `query` copies s3:// sources into: marked as a cache, kept under a size limit,
and emptied by `central-logging cache clear`.

The folder is marked with a CACHEDIR.TAG ("Cache Directory Tagging Specification",
https://bford.info/cachedir/), which backup tools honour; only a folder so marked is ever
trimmed or cleared, so a --cache-dir pointing at someone's own files loses none of them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import Any, TextIO

TAG = "CACHEDIR.TAG"
TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This folder is the central-logging query cache; `central-logging cache clear` empties it.\n"
)
DEFAULT_LIMIT_GB = 10.0
_GB = 1e9


class CacheError(Exception):
    """A cache folder that cannot be used or cleared: one sentence."""


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "central-logging")


def is_cache(folder: str) -> bool:
    try:
        with open(os.path.join(folder, TAG), encoding="utf-8") as tag:
            return tag.read(len(TAG_TEXT.splitlines()[0])) == TAG_TEXT.splitlines()[0]
    except OSError:
        return False


def prepare(folder: str, *, default: bool) -> str:
    """The cache folder, created and marked if need be. A folder given with --cache-dir that
    holds other files and no mark is refused: trimming it could delete them."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise CacheError(f"The cache folder {folder!r} is a file; give --cache-dir a folder.")
    try:
        os.makedirs(folder, exist_ok=True)
        if not is_cache(folder):
            if os.listdir(folder) and not default:
                raise CacheError(
                    f"The cache folder {folder!r} holds other files and is not a "
                    "central-logging cache; give --cache-dir a new or empty folder."
                )
            with open(os.path.join(folder, TAG), "w", encoding="utf-8") as tag:
                tag.write(TAG_TEXT)
    except OSError as error:
        raise CacheError(
            f"The cache folder {folder!r} cannot be created ({error.strerror}); give --cache-dir "
            "a folder you can write."
        ) from None
    return folder


def _objects(folder: str) -> list[tuple[float, int, str]]:
    """Every cached file as (last use, size, path); the mark excepted."""
    found = []
    for parent, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            if parent == folder and name == TAG:
                continue
            info = os.stat(path, follow_symlinks=False)
            found.append((info.st_mtime, info.st_size, path))
    return found


def trim(folder: str, limit_bytes: int) -> int:
    """Delete the least recently used objects until the cache holds at most `limit_bytes`;
    returns the bytes freed. `query` marks each object it uses as used now."""
    if not is_cache(folder):
        return 0
    objects = sorted(_objects(folder))
    total = sum(size for _, size, _ in objects)
    freed = 0
    for _, size, path in objects:
        if total - freed <= limit_bytes:
            break
        os.remove(path)
        freed += size
    return freed


def clear(folder: str) -> tuple[int, int]:
    """Empty the cache: (objects, bytes) removed; the mark stays."""
    if not os.path.isdir(folder):
        return 0, 0
    if not is_cache(folder):
        raise CacheError(
            f"The folder {folder!r} is not a central-logging cache (it has no {TAG}); nothing "
            "was removed."
        )
    objects = _objects(folder)
    for entry in os.scandir(folder):
        if entry.name == TAG:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.remove(entry.path)
    return len(objects), sum(size for _, size, _ in objects)


def limit_gb(text: str) -> float:
    """--cache-limit: a size in GB, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a size in GB such as 10; got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"takes a size in GB such as 10; got {text!r}")
    return value


def limit_bytes(gb: float) -> int:
    return int(gb * _GB)


def add_cache_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `cache clear` on an argparse subparsers object; returns its parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "cache",
        help="manage the folder query copies s3:// sources into",
        description="Manage the folder query copies s3:// sources into.",
    )
    actions = parser.add_subparsers(dest="cache_action", required=True)
    clear_parser = actions.add_parser("clear", help="remove every cached object")
    clear_parser.add_argument(
        "--cache-dir", metavar="DIR", help=f"the cache; default: {default_cache_dir()}"
    )
    return parser


def run_cache(
    args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """`cache clear`: 0 done, 2 when the folder is not a cache."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    folder = args.cache_dir or default_cache_dir()
    try:
        objects, size = clear(folder)
    except CacheError as error:
        print(f"central-logging: {error}", file=err)
        return 2
    print(f"Removed {objects} object(s), {size / 1e6:.1f} MB, from {folder}.", file=out)
    return 0
