"""The lock files: what a fresh clone installs is what passed here, for tests, for Pulumi's
venv/ and for the policy pack alike."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)")


def pins(path: Path) -> dict[str, str]:
    """Package -> version of a lock file, after checking every pin carries its hashes."""
    found: dict[str, str] = {}
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        match = PIN.match(line)
        if not match:
            continue
        assert line.endswith("\\") and "--hash=sha256:" in lines[index + 1], (
            f"{path.name}: {match[1]} is pinned without a hash"
        )
        found[canonicalize_name(match[1])] = match[2]
    return found


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        listed += extra
    return [Requirement(r) for r in listed if not r.startswith("central-logging")]


def test_the_dev_lock_pins_every_pyproject_dependency_within_its_range() -> None:
    locked = pins(ROOT / "requirements-dev.lock")
    for requirement in pyproject_requirements():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is in pyproject.toml but not locked: run make lock"
        assert requirement.specifier.contains(locked[name]), (
            f"{name}=={locked[name]} is outside pyproject.toml's {requirement.specifier}: "
            "run make lock"
        )


def test_pulumis_venv_and_the_policy_pack_install_the_versions_the_tests_ran() -> None:
    locked = pins(ROOT / "requirements-dev.lock")
    for path in (ROOT / "requirements.txt", ROOT / "policy" / "requirements.txt"):
        used = pins(path)
        assert {"pulumi"} <= used.keys()
        for name, version in used.items():
            assert locked.get(name) == version, (
                f"{path.relative_to(ROOT)} pins {name}=={version}, the tests ran "
                f"{locked.get(name)}: run make lock"
            )
    assert "pulumi-aws" in pins(ROOT / "requirements.txt")
