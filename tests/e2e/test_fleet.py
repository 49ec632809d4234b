"""Fleet operations end to end: waves, failure tolerance, re-runs, rollouts, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from chalicelib.stax import is_live
from tests.e2e.conftest import CATALOGUE_ID, ROOT, SEED, VERSION_1, VERSION_2, run_execution

pytestmark = pytest.mark.e2e
ACCOUNTS = [a["Id"] for a in SEED["accounts"]]
REGIONS = [
    "ap-southeast-2",
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ca-central-1",
    "ap-northeast-1",
]
#: The three targets whose Stax task fails: early in the list, so a breach stops the fleet early.
FAILING_REGIONS = ("us-east-1", "eu-west-1", "ca-central-1")
CLI = str(Path(sys.executable).with_name("stax-orchestrator"))


def twenty_targets() -> list[dict[str, str]]:
    targets = [{"aws_account_id": a, "aws_region": r} for a in ACCOUNTS for r in REGIONS]
    return targets[:20]


def fleet_request(name: str, tolerance: Any) -> dict[str, Any]:
    return {
        "operation": "create",
        "catalogue_id": CATALOGUE_ID,
        "catalogue_version_id": VERSION_1,
        "name": name,
        "workload_name": "{name}-{account_short}-{region}",
        "workload_tags": {"Fleet": name},
        "targets": twenty_targets(),
        "max_concurrency": 5,
        "failure_tolerance": tolerance,
    }


def fail_three(sim: Any, name: str) -> None:
    account_short = ACCOUNTS[0].split("-")[0]
    regex = f"^{name}-{account_short}-({'|'.join(FAILING_REGIONS)})$"
    sim.fail_next_tasks(None, logs=["AWS::EC2::VPC CREATE_FAILED quota"], name_regex=regex)


def fleet_workloads(sim: Any, name: str) -> list[dict[str, Any]]:
    return [w for w in sim.state()["workloads"] if w["Name"].startswith(f"{name}-")]


def _output(described: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(described.get("output") or "{}"))


@pytest.fixture()
def quick_tasks(clean_sim: Any) -> Any:
    clean_sim.set_task_durations(started=0.2, pending=0.3, running=1.5)
    return clean_sim


def test_twenty_targets_with_tolerance_20_percent_succeed_with_three_failed(
    sfn: Any, deployed: dict[str, Any], quick_tasks: Any
) -> None:
    name = f"fa{uuid.uuid4().hex[:6]}"
    fail_three(quick_tasks, name)
    described = run_execution(sfn, deployed["fleet"], fleet_request(name, "20%"), timeout=600)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = _output(described)
    summary = output["summary"]
    assert (summary["succeeded"], summary["failed"], summary["tolerated_failures"]) == (17, 3, 4)
    failed = [r for r in output["results"] if r["status"] == "FAILED"]
    assert sorted(r["target"]["aws_region"] for r in failed) == sorted(FAILING_REGIONS)
    for result in failed:
        assert result["error"] == "WorkloadTaskFailed"
        assert any("CREATE_FAILED quota" in line for line in result["cause"]["logs_tail"])
        assert result["cause"]["task_id"]
    for result in output["results"]:
        assert result["duration_seconds"] and result["duration_seconds"] > 0
        assert result["workload_id"] or result["status"] == "FAILED"
    assert len(fleet_workloads(quick_tasks, name)) == 20
    assert quick_tasks.stats()["max_concurrent_tasks"] <= 5


def test_tolerance_10_percent_fails_the_fleet_and_a_rerun_after_cleanup_creates_no_duplicates(
    sfn: Any, deployed: dict[str, Any], quick_tasks: Any
) -> None:
    name = f"fb{uuid.uuid4().hex[:6]}"
    fail_three(quick_tasks, name)
    request = fleet_request(name, "10%")
    run = subprocess.run(
        [CLI, "fleet", "run", "-", "--local", "--json", "--interval", "1"], cwd=ROOT,
        input=json.dumps(request), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["status"] == "FAILED"
    assert result["error"] == "FleetFailureToleranceExceeded"
    summary = result["summary"]
    assert summary["failed"] == 3 and summary["tolerated_failures"] == 2
    assert summary["not_started"] > 0
    statuses = [r["status"] for r in result["results"]]
    assert statuses.count("NOT_STARTED") == summary["not_started"]
    assert statuses.count("FAILED") == 3 and "pending" not in statuses
    started = fleet_workloads(quick_tasks, name)
    assert len(started) < 20
    assert quick_tasks.stats()["max_concurrent_tasks"] <= 5

    quick_tasks.clear_task_failures()
    # A CREATE_FAILED workload keeps its name (its resources may be deployed): the user
    # deletes the failed ones, then runs the same request again.
    failed_ids = [w["Id"] for w in started if w["Status"] == "CREATE_FAILED"]
    assert len(failed_ids) == 3
    cleanup = run_execution(
        sfn, deployed["fleet"], {"operation": "delete", "workload_ids": failed_ids}, timeout=600
    )
    assert cleanup["status"] == "SUCCEEDED", cleanup.get("cause")
    again = run_execution(sfn, deployed["fleet"], request, timeout=600)
    assert again["status"] == "SUCCEEDED", again.get("cause")
    summary = _output(again)["summary"]
    succeeded_before = len([w for w in started if w["Status"] == "ACTIVE"])
    assert summary["already_done"] == succeeded_before
    assert summary["succeeded"] == 20 - succeeded_before
    live_names = [w["Name"] for w in fleet_workloads(quick_tasks, name) if is_live(w)]
    assert len(live_names) == 20 == len(set(live_names)), "a re-run duplicated a workload"


def test_rollout_moves_twelve_workloads_in_three_accounts_to_the_new_version(
    deployed: dict[str, Any], quick_tasks: Any
) -> None:
    prefix = f"ro{uuid.uuid4().hex[:6]}"
    seeded = [
        {
            "Id": str(uuid.uuid4()),
            "Name": f"{prefix}-{i}",
            "AccountId": ACCOUNTS[i % 3],
            "CatalogueId": CATALOGUE_ID,
            "CatalogueVersionId": VERSION_1,
            "Region": REGIONS[i % 4],
            "Status": "ACTIVE",
        }
        for i in range(12)
    ]
    quick_tasks.seed(workloads=seeded)
    run = subprocess.run(
        [CLI, "fleet", "rollout", "--catalogue-id", CATALOGUE_ID, "--catalogue-version-id",
         VERSION_2, "--max-concurrency", "4", "--local", "--json", "--interval", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["status"] == "SUCCEEDED"
    assert result["summary"]["succeeded"] == 12
    state = {w["Id"]: w for w in quick_tasks.state()["workloads"]}
    assert all(state[w["Id"]]["CatalogueVersionId"] == VERSION_2 for w in seeded)
    assert quick_tasks.stats()["max_concurrent_tasks"] <= 4


def test_cli_fleet_run_shows_targets_and_refuses_a_bad_request(
    sfn: Any, deployed: dict[str, Any], quick_tasks: Any, tmp_path: Path
) -> None:
    before = len(
        sfn.list_executions(stateMachineArn=deployed["fleet"], maxResults=1000)["executions"]
    )
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({**fleet_request("x", 0), "workload_name": "{nme}", "max_concurrency": 99})
    )
    refused = subprocess.run(
        [CLI, "fleet", "run", str(bad), "--local"], cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "max_concurrency" in refused.stdout and "unknown placeholder" in refused.stdout
    assert "Nothing was started." in refused.stdout
    after = len(
        sfn.list_executions(stateMachineArn=deployed["fleet"], maxResults=1000)["executions"]
    )
    assert after == before

    good = tmp_path / "good.json"
    name = f"fc{uuid.uuid4().hex[:6]}"
    request = {**fleet_request(name, 0), "targets": twenty_targets()[:4], "max_concurrency": 2}
    good.write_text(json.dumps(request))
    run = subprocess.run(
        [CLI, "fleet", "run", str(good), "--local", "--interval", "1"], cwd=ROOT,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "running" in run.stdout and "succeeded" in run.stdout
    assert "✔ fleet succeeded" in run.stdout
    assert f"{name}-{ACCOUNTS[0].split('-')[0]}-ap-southeast-2" in run.stdout
