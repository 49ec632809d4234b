"""The Lambda layer is built from a hashed lock of exactly the versions the tests run."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)")


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of requirements.txt."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        found = PIN.match(stripped)
        if found:
            current = normal(found.group(1))
            pins[current] = (found.group(2), 0)
        elif stripped.startswith("--hash=sha256:") and current:
            version, count = pins[current]
            pins[current] = (version, count + 1)
        else:
            raise AssertionError(f"requirements.txt holds an unpinned line: {line!r}")
    return pins


def test_every_requirement_of_the_lock_is_pinned_with_the_hashes_of_its_files() -> None:
    pins = lock()
    assert len(pins) > 10  # the transitive dependencies are in, not only the direct ones
    assert [name for name, (_, hashes) in pins.items() if hashes == 0] == []


def test_the_lock_holds_every_direct_requirement_at_its_version_pyyaml_included() -> None:
    pins = lock()
    direct = {}
    for line in (ROOT / "requirements.in").read_text().splitlines():
        found = PIN.match(line.strip())
        if found:
            direct[normal(found.group(1))] = found.group(2)
    assert "pyyaml" in direct
    assert {name: pins.get(name, ("missing",))[0] for name in direct} == direct


def test_the_tests_run_exactly_the_versions_of_the_lock() -> None:
    drift = {
        name: (version, metadata.version(name))
        for name, (version, _) in lock().items()
        if metadata.version(name) != version
    }
    assert drift == {}, "run `make venv` (or `make lock` after changing requirements*)"


def test_the_clis_dependency_ranges_stop_before_the_next_major_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    unbounded = [d for d in project["dependencies"] if "<" not in d and "~=" not in d]
    assert unbounded == []
