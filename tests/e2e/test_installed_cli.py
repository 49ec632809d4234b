"""The CLI as someone outside the project gets it: ``pip install <checkout>`` into a fresh
virtual environment, run from a directory that is not the checkout.

The environment lives under pytest's tmp_path, and the install takes the project's pins
(requirements*.txt) as constraints, so it resolves from the registry to exactly the
tested versions. Every command runs the installed console script with cwd = tmp_path:
nothing may come from the checkout (no .chalice/deployed records, no staxsim, no local/).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.install import install_cli
from tests.e2e.conftest import ACCOUNT_ID, CATALOGUE_ID, ROOT, unique_name

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A virtual environment outside the checkout with the checkout pip-installed into it
    (how long that takes is row 8 of ``make bench``)."""
    home = tmp_path_factory.mktemp("installed-cli")
    done = install_cli(home)
    return {"home": home, "venv": done.venv, "bin": done.cli}


def clean_env() -> dict[str, str]:
    """The caller's environment without anything that points into the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    return env


def run(installed: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(installed["bin"]), *args],
        cwd=installed["home"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_installed_cli_is_its_own_and_says_its_version(installed: dict[str, Any]) -> None:
    from stax_orchestrator import __version__

    done = run(installed, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"stax-orchestrator {__version__}"
    python = str(installed["venv"] / "bin" / "python")
    code = "import stax_orchestrator, chalicelib; print(stax_orchestrator.__file__, chalicelib.__file__)"
    where = subprocess.run(
        [python, "-c", code],
        cwd=installed["home"],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    for path in where.stdout.split():
        assert path.startswith(str(installed["venv"])), path
    # Exactly the checkout's modules: setuptools builds in the checkout's build/, which
    # keeps a module deleted since the last build; shipped, it would shadow nothing but
    # still be there to import (remove build/ if this fails).
    site = Path(where.stdout.split()[0]).parents[1]
    for package in ("stax_orchestrator", "chalicelib"):
        shipped = {p.relative_to(site).as_posix() for p in (site / package).rglob("*.py")}
        source = {p.relative_to(ROOT).as_posix() for p in (ROOT / package).rglob("*.py")}
        assert shipped == source, package
    # The simulator and the local-stack scripts stay in the checkout.
    for module in ("staxsim", "local", "app"):
        missing = subprocess.run(
            [python, "-c", f"import {module}"],
            cwd=installed["home"],
            env=clean_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert missing.returncode != 0, module


def test_local_list_works_outside_the_checkout(
    installed: dict[str, Any], deployed: dict[str, Any]
) -> None:
    done = run(installed, "--local", "list", "--limit", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recent workload operations" in done.stdout
    listed = run(installed, "--local", "--json", "list", "--limit", "3")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert isinstance(json.loads(listed.stdout), list)


def test_create_then_delete_through_the_installed_entry_point(
    installed: dict[str, Any], deployed: dict[str, Any], clean_sim: Any
) -> None:
    name = unique_name("installed")
    created = run(
        installed, "--local", "--json", "create", "--account-id", ACCOUNT_ID,
        "--region", "ap-southeast-2", "--catalogue-id", CATALOGUE_ID, "--name", name,
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    workload = json.loads(created.stdout)
    assert (workload["status"], workload["operation"]) == ("SUCCEEDED", "create")
    assert workload["workload_name"] == name
    assert workload["execution_arn"].startswith(deployed["workload"].replace(
        ":stateMachine:", ":execution:"))  # fmt: skip
    deleted = run(
        installed, "--local", "--json", "delete", "--workload-id", workload["workload_id"]
    )
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    result = json.loads(deleted.stdout)
    assert (result["status"], result["operation"]) == ("SUCCEEDED", "delete")
    assert result["workload_id"] == workload["workload_id"]


def test_catalogue_list_shows_no_log_events_unless_verbose(
    installed: dict[str, Any], deployed: dict[str, Any], clean_sim: Any
) -> None:
    """The Stax client is built in-process by chalicelib, which logs JSON events for
    CloudWatch; a person at the terminal sees the table only."""
    quiet = run(installed, "--local", "catalogue", "list")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "workload catalogue" in quiet.stdout and "baseline-vpc" in quiet.stdout
    assert '"event"' not in quiet.stdout + quiet.stderr
    verbose = run(installed, "--local", "--verbose", "catalogue", "list")
    assert verbose.returncode == 0, verbose.stdout + verbose.stderr
    assert '"event": "stax_client_built"' in verbose.stderr
    assert '"event"' not in verbose.stdout
