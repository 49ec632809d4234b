"""Chalice builds the Lambda layer from the hashed lock (requirements.txt), and a file whose
hash is not in the lock is refused: the layer cannot be built from anything but what the
tests ran."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e


def package(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "chalice"), "package", "--stage", "local", "out"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def copy(destination: Path) -> Path:
    shutil.copytree(ROOT / "chalicelib", destination / "chalicelib")
    shutil.copytree(ROOT / ".chalice", destination / ".chalice",
                    ignore=shutil.ignore_patterns("deployed", "deployments"))  # fmt: skip
    for name in ("app.py", "requirements.txt"):
        shutil.copy2(ROOT / name, destination / name)
    return destination


def test_the_layer_holds_the_locked_packages_and_a_swapped_file_is_refused(
    deployed: dict[str, Any], tmp_path: Path
) -> None:
    good = copy(tmp_path / "good")
    run = package(good)
    assert run.returncode == 0, run.stderr[-2000:]
    with zipfile.ZipFile(good / "out" / "layer-deployment.zip") as layer:
        listing = "\n".join(layer.namelist())
    assert "site-packages/yaml/__init__.py" in listing
    assert "site-packages/staxapp/__init__.py" in listing

    swapped = copy(tmp_path / "swapped")
    lock = swapped / "requirements.txt"
    lines, inside = [], False
    for line in lock.read_text().splitlines():
        if line and not line.startswith(" "):
            inside = line.lower().startswith("pyyaml==")
        bogus = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, line)
        lines.append(bogus if inside else line)
    lock.write_text("\n".join(lines) + "\n")
    run = package(swapped)
    assert run.returncode != 0
    assert "DO NOT MATCH THE HASHES" in run.stdout + run.stderr
    assert not (swapped / "out").exists()
