"""Every file of ``examples/`` runs as shipped against the local stack (its ids are those of
``local/seed.json``), with the commands ``examples/README.md`` gives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.stax import is_live
from tests.e2e.conftest import ROOT
from tests.e2e.helpers import cli

pytestmark = pytest.mark.e2e

EXAMPLES = ROOT / "examples"


def live_names(sim: Any) -> set[str]:
    return {w["Name"] for w in sim.state()["workloads"] if is_live(w)}


def test_the_baselines_example_plans_against_the_seed_as_shipped(
    clean_sim: Any, deployed: dict[str, Any]
) -> None:
    run = cli("plan", str(EXAMPLES / "baselines.yaml"), "--json", "--detailed-exitcode")
    assert run.returncode == 2, run.stdout + run.stderr  # changes: the seed has no workload
    plan = json.loads(run.stdout)
    assert plan["totals"]["create"] > 0 and not plan["over_deletion_budget"]


def test_the_fleet_examples_preview_and_run_as_shipped(
    clean_sim: Any, deployed: dict[str, Any]
) -> None:
    request = str(EXAMPLES / "fleet-create.json")
    preview = cli("fleet", "run", request, "--targets", str(EXAMPLES / "targets.csv"),
                  "--dry-run", "--json")  # fmt: skip
    assert preview.returncode == 0, preview.stdout + preview.stderr
    body = json.loads(preview.stdout)
    assert len(body["to_run"]) == 3 and body["started"] is False
    assert live_names(clean_sim) == set()

    run = cli("fleet", "run", request, "--targets", str(EXAMPLES / "targets.jsonl"),
              "--interval", "1")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    names = live_names(clean_sim)
    assert len(names) == 3 and all(n.startswith("example-") for n in names), names
    # The inventory of fleets: the newest is this one, its counters from its Map Run.
    listed = cli("fleet", "list", "--limit", "1", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    [newest] = json.loads(listed.stdout)
    assert (newest["operation"], newest["status"]) == ("create", "SUCCEEDED"), newest
    assert (newest["total"], newest["succeeded"], newest["failed"]) == (3, 3, 0), newest

    rollout = cli("fleet", "run", str(EXAMPLES / "fleet-rollout.json"), "--dry-run", "--json")
    assert rollout.returncode == 0, rollout.stdout + rollout.stderr
    # The JSONL made one ap-southeast-2 workload; the rollout would move it to 1.1.0.
    assert [t["target"]["aws_region"] for t in json.loads(rollout.stdout)["to_run"]] == [
        "ap-southeast-2"
    ]


def test_the_create_payload_of_events_runs_as_shipped(
    clean_sim: Any, deployed: dict[str, Any]
) -> None:
    run = cli("run", "events/create_workload.json", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["status"] == "SUCCEEDED"
    assert "orchestrator-stax-demo-vpc" in live_names(clean_sim)
