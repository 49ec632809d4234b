"""Row 8 — the CLI as a user gets it: a fresh virtual environment and ``pip install <checkout>``.

The install takes the project's pins (``requirements*.txt``) as constraints, so it resolves
from the registry to exactly the tested versions. ``tests/e2e/test_installed_cli.py`` installs
the CLI the same way (:func:`install_cli`) and checks what it does; how long the install
takes is measured here, never asserted in a test.

A fresh install on 2 cores resolves and unpacks ~45 wheels and builds the project's own:
about 11 s. Far more means the constraints stopped matching the registry (pip
backtracking) or something pulls in a large dependency.

Run alone: ``python -m bench.install`` (no stack needed; pip needs the package index or
its wheel cache).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.table import Row, limit_row

ROOT = Path(__file__).resolve().parent.parent
#: The goal of the row: a fresh install of the CLI, virtual environment included.
INSTALL_GOAL_SECONDS = 180.0


@dataclass(frozen=True)
class Installed:
    """A virtual environment with the checkout installed, and what it took."""

    venv: Path
    venv_seconds: float
    total_seconds: float

    @property
    def cli(self) -> Path:
        return self.venv / "bin" / "stax-orchestrator"


def constraints(path: Path) -> Path:
    """The pins of requirements*.txt as a constraints file (constraints take no extras and
    no ``-r`` lines)."""
    lines = []
    for name in ("requirements.txt", "requirements-dev.txt"):
        for raw in (ROOT / name).read_text().splitlines():
            # The lock's lines: "name==version \" then "--hash=..." lines (skipped).
            line = raw.split("#", 1)[0].strip().rstrip("\\").strip()
            if line and not line.startswith("-"):
                lines.append(re.sub(r"\[[^\]]*\]", "", line))
    path.write_text("\n".join(lines) + "\n")
    return path


def install_cli(home: Path) -> Installed:
    """``python -m venv home/venv`` and ``pip install`` the checkout into it, pinned.

    Raises:
        RuntimeError: pip failed (its output is in the message).
    """
    venv = home / "venv"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    made = time.monotonic() - started
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "-c", str(constraints(home / "constraints.txt")), str(ROOT)],
        cwd=home, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if pip.returncode != 0:
        raise RuntimeError(f"pip install of the checkout failed:\n{pip.stdout}{pip.stderr}")
    return Installed(venv, made, time.monotonic() - started)


def measure() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-install-") as home:
        installed = install_cli(Path(home))
    return {"venv_seconds": installed.venv_seconds, "total_seconds": installed.total_seconds}


def rows(result: dict[str, float]) -> list[Row]:
    return [
        limit_row(
            "CLI install: fresh venv + pip install of the checkout (pinned)",
            result["total_seconds"],
            INSTALL_GOAL_SECONDS,
            unit="s",
            baseline=f"venv alone {result['venv_seconds']:.1f} s",
            digits=1,
        )
    ]


if __name__ == "__main__":
    measured = measure()
    print(json.dumps(measured, indent=2))
    for row in rows(measured):
        print(row)
