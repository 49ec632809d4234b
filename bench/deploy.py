"""Row 9 — a redeploy with nothing to change: the post-deploy step, before and after the stack.

- *ours*: ``python -m stax_orchestrator.deploy post-deploy --stage local`` on the deployed
  ``local`` stage with nothing changed: the Lambdas' roles and log groups checked, the
  stage template built and compared with the stack's own template and parameters -- equal,
  so no change set is made at all.
- *before*: the hand-made post-deploy step of :data:`BEFORE` (the last commit before the
  stack; its tree read with ``git archive``) on a stage ``benchold`` pointed at the same
  Lambdas (Chalice's record of ``local`` copied under that stage's name). Its first run
  creates the stage's resources by name and is not timed; the timed runs change nothing.
  The stage is deleted afterwards with that commit's own ``--delete``.

Runs alternate (ours, before, before, ours, ...) so the noise of a shared machine hits both;
medians are reported. Needs the deployed ``local`` stage (``make deploy-local``) and git.
Run alone: ``python -m bench.deploy``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from bench.table import Row, ratio_row

ROOT = Path(__file__).resolve().parent.parent
#: The last commit whose post-deploy step made the stage's resources one boto3 call at a time.
BEFORE = "6ae9b8f"
OLD_STAGE = "benchold"
#: A redeploy with nothing to change costs no more than it did before the stack.
MAX_RATIO = 1.0


def _step(cwd: Path, *args: str) -> float:
    """Seconds one ``python -m stax_orchestrator.deploy`` step took in ``cwd``.

    Raises:
        RuntimeError: the step failed (its output in the message).
    """
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "stax_orchestrator.deploy", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    took = time.monotonic() - started
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} in {cwd} failed:\n{run.stderr[-2000:]}")
    return took


def _old_tree(home: Path) -> Path:
    """The tree of :data:`BEFORE`, with a stage ``benchold`` using the ``local`` Lambdas."""
    archive = home / "before.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), BEFORE],
                   cwd=ROOT, check=True, timeout=120)  # fmt: skip
    tree = home / "before"
    with tarfile.open(archive) as handle:
        handle.extractall(tree, filter="data")
    config = json.loads((tree / ".chalice" / "config.json").read_text())
    settings = json.dumps(config["stages"]["local"]).replace("-local-", f"-{OLD_STAGE}-")
    config["stages"][OLD_STAGE] = json.loads(settings)
    (tree / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))
    deployed = tree / ".chalice" / "deployed"
    deployed.mkdir(parents=True, exist_ok=True)
    record = (ROOT / ".chalice" / "deployed" / "local.json").read_text()
    (deployed / f"{OLD_STAGE}.json").write_text(record)
    return tree


def measure(reps: int = 3) -> dict[str, list[float]]:
    """Seconds of ``reps`` no-change post-deploy runs of each side, alternating."""
    if not (ROOT / ".chalice" / "deployed" / "local.json").exists():
        raise RuntimeError("the local stage is not deployed: run `make deploy-local` first")
    ours: list[float] = []
    before: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as home:
        tree = _old_tree(Path(home))
        _step(tree, "post-deploy", "--stage", OLD_STAGE)  # creates the stage: not timed
        try:
            _step(ROOT, "post-deploy", "--stage", "local")  # the stack as the session left it
            for index in range(reps):
                sides = [("ours", ROOT, "local"), ("before", tree, OLD_STAGE)]
                for name, cwd, stage in sides if index % 2 == 0 else reversed(sides):
                    took = _step(cwd, "post-deploy", "--stage", stage)
                    (ours if name == "ours" else before).append(took)
        finally:
            _step(tree, "delete", "--stage", OLD_STAGE, "--force")
    return {"ours": ours, "before": before}


def rows(result: dict[str, list[float]]) -> list[Row]:
    ours, before = statistics.median(result["ours"]), statistics.median(result["before"])
    return [
        ratio_row(
            "redeploy with no change: post-deploy step (median)",
            ours,
            before,
            MAX_RATIO,
            unit="s",
            baseline_name=f"before the stack ({BEFORE})",
        )
    ]


if __name__ == "__main__":
    measured = measure()
    print(json.dumps(measured, indent=2))
    for row in rows(measured):
        print(row)
