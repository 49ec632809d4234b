"""Every shell block the README and the docs mark ``<!-- docs-test: local -->`` runs as
written on the local stack, in the environment ``eval "$(make -s local-env)"`` gives a
user's shell, from the checkout, against the seed ``make local-up`` loads (its workloads
included). The other blocks say why they cannot (``tests/unit/test_docs_commands.py``)."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from stax_orchestrator.local_env import local_env
from tests.docs_blocks import Block, blocks
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

LOCAL_BLOCKS = [block for block in blocks() if block.marker == "local"]
#: What a user's shell would not have: another stage or profile chosen for them.
UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


def shell_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(local_env())
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_there_are_blocks_to_run() -> None:
    assert len(LOCAL_BLOCKS) >= 3, [block.where for block in LOCAL_BLOCKS]


@pytest.mark.parametrize("block", LOCAL_BLOCKS, ids=lambda block: block.where)
def test_a_local_block_of_the_docs_runs_as_written(block: Block, as_shipped: Any) -> None:
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.text],
        cwd=ROOT,
        env=shell_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, f"{block.where} exit {run.returncode}\n{run.stdout}\n{run.stderr}"
    assert "Traceback" not in run.stderr, run.stderr
