"""Every file of ``examples/`` runs as shipped against the local stack (its ids are those of
``local/seed.json``), with the commands ``examples/README.md`` gives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.stax import is_live
from tests.e2e.conftest import ROOT, SEED_FILE
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
    clean_sim: Any, no_name_claims: None
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
    # The inventory lists them as the orchestrator's, each with the execution that made it.
    listed = cli("workloads", "--catalogue", "baseline-vpc", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = json.loads(listed.stdout)
    assert {r["workload_name"] for r in rows} == names
    assert all(r["managed"] and r["created_by"] and r["baseline"] is None for r in rows), rows
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


def test_the_update_and_delete_payloads_and_the_fleet_delete_run_on_the_seeds_workloads(
    as_shipped: Any,
) -> None:
    clean_sim = as_shipped  # the seed's workloads: those the payloads and the fleet name
    by_id = {w["Id"]: w for w in SEED_FILE["workloads"]}

    update = cli("run", "events/update_workload.json", "--json")
    assert update.returncode == 0, update.stdout + update.stderr
    assert json.loads(update.stdout)["status"] == "SUCCEEDED"
    payload = json.loads((ROOT / "events" / "update_workload.json").read_text())
    [updated] = [w for w in clean_sim.state()["workloads"] if w["Id"] == payload["workload_id"]]
    assert updated["Parameters"]["AzCount"] == "3" and updated["Protection"] is True, updated

    delete = cli("run", "events/delete_workload.json", "--json")
    assert delete.returncode == 0, delete.stdout + delete.stderr
    deleted = json.loads((ROOT / "events" / "delete_workload.json").read_text())["workload_id"]
    assert by_id[deleted]["Name"] not in live_names(clean_sim)

    request = json.loads((EXAMPLES / "fleet-delete.json").read_text())
    fleet = cli("fleet", "run", str(EXAMPLES / "fleet-delete.json"), "--interval", "1")
    assert fleet.returncode == 0, fleet.stdout + fleet.stderr
    retired = {by_id[i]["Name"] for i in request["workload_ids"]}
    assert len(retired) == 2 and not retired & live_names(clean_sim)
    # The workload the update protected is still there: nothing else was deleted.
    assert by_id[payload["workload_id"]]["Name"] in live_names(clean_sim)


def test_the_create_payload_of_events_runs_as_shipped(as_shipped: Any) -> None:
    clean_sim = as_shipped
    run = cli("run", "events/create_workload.json", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["status"] == "SUCCEEDED"
    assert "orchestrator-stax-demo-vpc" in live_names(clean_sim)
