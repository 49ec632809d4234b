"""Fleets end to end on a Distributed Map: the sliding window, tolerance, results, re-runs.

Real executions on MiniStack (its Distributed Map held to AWS by the launcher: the
threshold stops the run), the deployed Lambdas, the coordination table for the results,
the strict simulator with task lengths drawn between 1 and 6 s.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import fleet
from chalicelib.coordination import CoordinationStore
from chalicelib.stax import is_live
from stax_orchestrator.follow import largest_state_bytes
from tests.e2e.conftest import CATALOGUE_ID, VERSION_1, VERSION_2, run_execution
from tests.e2e.helpers import FLEET_ACCOUNTS, FLEET_REGIONS, TABLE, cli, forty_targets

pytestmark = pytest.mark.e2e
ACCOUNTS, REGIONS = FLEET_ACCOUNTS, FLEET_REGIONS


def fleet_request(name: str, tolerance: Any, targets: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "operation": "create",
        "catalogue_id": CATALOGUE_ID,
        "catalogue_version_id": VERSION_1,
        "name": name,
        "workload_name": "{name}-{account_short}-{region}",
        "workload_tags": {"Fleet": name},
        "targets": targets,
        "max_concurrency": 8,
        "failure_tolerance": tolerance,
    }


def fail_four(sim: Any, name: str) -> None:
    """The tasks of four targets (one account, four regions) end FAILED."""
    short = ACCOUNTS[1].split("-")[0]
    regions = "|".join(REGIONS[1:5])
    sim.fail_next_tasks(None, logs=["AWS::EC2::VPC CREATE_FAILED quota"],
                        name_regex=f"^{name}-{short}-({regions})$")  # fmt: skip


def fleet_workloads(sim: Any, name: str) -> list[dict[str, Any]]:
    return [w for w in sim.state()["workloads"] if w["Name"].startswith(f"{name}-")]


def stored_results(fleet_id: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb")
    return list(fleet.read_results(CoordinationStore(lambda: client, TABLE), fleet_id))


@pytest.fixture()
def varied_tasks(clean_sim: Any) -> Any:
    clean_sim.set_task_durations(total=(1.0, 6.0), seed=40)
    return clean_sim


def test_forty_targets_with_four_failing_succeed_within_ten_percent_and_a_rerun_creates_none(
    sfn: Any, deployed: dict[str, Any], varied_tasks: Any
) -> None:
    name = f"fa{uuid.uuid4().hex[:6]}"
    fail_four(varied_tasks, name)
    request = fleet_request(name, "10%", forty_targets())
    described = run_execution(sfn, deployed["fleet"], request, timeout=900)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    summary = json.loads(described["output"])["summary"]
    assert (summary["succeeded"], summary["failed"], summary["tolerated_failures"]) == (36, 4, 4)
    assert varied_tasks.stats()["max_concurrent_tasks"] <= 8
    rows = stored_results(described["name"])
    assert len(rows) == 40 and {r["status"] for r in rows} == {"SUCCEEDED", "FAILED"}
    for row in (r for r in rows if r["status"] == "FAILED"):
        assert row["error"] == "WorkloadTaskFailed"
        assert any("CREATE_FAILED quota" in line for line in row["cause"]["logs_tail"])
        assert row["task_id"] and row["workload_id"]
    assert all(r["duration_seconds"] > 0 for r in rows)
    assert largest_state_bytes(sfn, described["executionArn"]) < 8 * 1024

    again = run_execution(sfn, deployed["fleet"], request, timeout=900)
    # The 36 done targets are skipped. The four CREATE_FAILED workloads keep their names,
    # so their targets fail again, by name; 10 % of the 4 that ran tolerates none: the
    # first failure stops the Map Run, and the targets still running are aborted (AWS
    # aborts a failed Map Run's running children) -- reported ABORTED, not lost.
    assert again["status"] == "FAILED" and again["error"] == "FleetFailureToleranceExceeded"
    summary = json.loads(again["cause"])["summary"]
    assert (summary["already_done"], summary["succeeded"]) == (36, 0)
    assert summary["failed"] >= 1
    assert summary["failed"] + summary["aborted"] + summary["not_started"] == 4
    rerun_rows = stored_results(again["name"])
    assert {r["status"] for r in rerun_rows} <= {"ALREADY_DONE", "FAILED", "ABORTED", "NOT_STARTED"}
    errors = {r["error"] for r in rerun_rows if r["status"] == "FAILED"}
    assert errors == {"WorkloadAlreadyExists"}
    live = [w["Name"] for w in fleet_workloads(varied_tasks, name) if is_live(w)]
    assert len(live) == 40 == len(set(live)), "a re-run duplicated a workload"


def test_forty_targets_with_four_failing_exceed_five_percent_and_every_result_is_readable(
    sfn: Any, deployed: dict[str, Any], varied_tasks: Any
) -> None:
    name = f"fb{uuid.uuid4().hex[:6]}"
    fail_four(varied_tasks, name)
    described = run_execution(
        sfn, deployed["fleet"], fleet_request(name, "5%", forty_targets()), timeout=900
    )
    assert described["status"] == "FAILED"
    assert described["error"] == "FleetFailureToleranceExceeded"
    cause = json.loads(described["cause"])
    summary = cause["summary"]
    assert summary["tolerated_failures"] == 2 and summary["failed"] >= 3
    ended = ("succeeded", "failed", "not_started", "aborted")
    assert sum(summary[k] for k in ended) == 40
    assert [t["error"] for t in cause["failed_targets"]] == ["WorkloadTaskFailed"] * len(
        cause["failed_targets"]
    )
    rows = stored_results(described["name"])
    assert len(rows) == 40  # every target: succeeded, failed, aborted or never started
    assert {r["status"] for r in rows} <= {"SUCCEEDED", "FAILED", "ABORTED", "NOT_STARTED"}
    assert varied_tasks.stats()["max_concurrent_tasks"] <= 8


def test_failed_targets_past_256_kib_of_records_end_within_tolerance_listed_from_s3(
    sfn: Any, clean_sim: Any, tmp_path: Path
) -> None:
    # 150 targets, 120 failing inside an 85 % tolerance; each target carries a 1.4 KB
    # parameter, so the failed children's records (inputs included) are over 256 KiB:
    # without the Map's ResultWriter the fleet would die of States.DataLimitExceeded. The
    # targets (over 200 KiB) travel as a file, as the CLI sends them.
    name = f"fr{uuid.uuid4().hex[:6]}"
    clean_sim.set_task_durations(started=0.1, pending=0.1, running=0.3)
    clean_sim.fail_next_tasks(None, logs=["AWS::EC2::VPC CREATE_FAILED quota"],
                              name_regex=f"^{name}-([0-9]|[1-9][0-9]|1[01][0-9])$")  # fmt: skip
    targets = [
        {"aws_account_id": ACCOUNTS[i % len(ACCOUNTS)], "aws_region": REGIONS[i % len(REGIONS)],
         "workload_name": f"{name}-{i}", "workload_parameters": {"Notes": "n" * 1_400}}
        for i in range(150)
    ]  # fmt: skip
    request = {k: v for k, v in fleet_request(name, "85%", []).items() if k != "targets"}
    (tmp_path / "request.json").write_text(json.dumps({**request, "max_concurrency": 20}))
    (tmp_path / "targets.jsonl").write_text("".join(json.dumps(t) + "\n" for t in targets))
    run = cli("fleet", "run", str(tmp_path / "request.json"), "--targets",
              str(tmp_path / "targets.jsonl"), "--json", "--interval", "2")  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads(run.stdout)
    summary = result["summary"]
    assert (summary["succeeded"], summary["failed"], summary["tolerated_failures"]) == (
        30,
        120,
        127,
    )
    described = sfn.describe_execution(executionArn=result["execution_arn"])
    assert largest_state_bytes(sfn, described["executionArn"]) < 8 * 1024

    # Step Functions' own record of every target, exported by the Map's ResultWriter.
    bucket, _, manifest_key = summary["execution_records"].removeprefix("s3://").partition("/")
    assert manifest_key.startswith(f"results/{described['name']}/")
    s3 = boto3.client("s3")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    failed, size = [], 0
    for file in manifest["ResultFiles"]["FAILED"]:
        body = s3.get_object(Bucket=bucket, Key=file["Key"])["Body"].read()
        size += len(body)
        failed += [json.loads(record["Input"])["item"] for record in json.loads(body)]
    assert sorted(item["index"] for item in failed) == list(range(120))
    assert {item["target"]["workload_name"] for item in failed} == {
        f"{name}-{i}" for i in range(120)
    }
    assert size > 256 * 1024  # what the Map's result would have held without the export
    stored = {r["index"] for r in stored_results(described["name"]) if r["status"] == "FAILED"}
    assert stored == set(range(120))


def test_the_documented_rerun_finishes_only_the_failed_targets(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    # docs/fleets.md "Running it again": delete what a failed create left, run it again.
    name = f"fd{uuid.uuid4().hex[:6]}"
    clean_sim.set_task_durations(started=0.1, pending=0.1, running=0.3)
    fail_four(clean_sim, name)
    # Three accounts by six regions; four of them (one account, four regions) fail.
    targets = [t for t in forty_targets() if t["aws_region"] in REGIONS[:6]]
    request = fleet_request(name, "50%", targets)
    first = run_execution(sfn, deployed["fleet"], request, timeout=600)
    assert first["status"] == "SUCCEEDED", first.get("cause")
    failed = [r for r in stored_results(first["name"]) if r["status"] == "FAILED"]
    assert len(failed) == 4
    succeeded_ids = {w["Id"] for w in fleet_workloads(clean_sim, name) if w["Status"] == "ACTIVE"}
    assert len(succeeded_ids) == 14
    clean_sim.clear_task_failures()

    delete = {"operation": "delete",
              "workload_ids": [r["workload_id"] for r in failed], "max_concurrency": 4}  # fmt: skip
    assert run_execution(sfn, deployed["fleet"], delete, timeout=600)["status"] == "SUCCEEDED"
    again = run_execution(sfn, deployed["fleet"], request, timeout=600)
    assert again["status"] == "SUCCEEDED", again.get("cause")
    summary = json.loads(again["output"])["summary"]
    assert (summary["already_done"], summary["succeeded"], summary["failed"]) == (14, 4, 0)
    live = [w for w in fleet_workloads(clean_sim, name) if is_live(w)]
    assert len(live) == 18 and succeeded_ids <= {w["Id"] for w in live}  # the 14 untouched


def test_a_fleet_of_only_done_targets_succeeds_without_a_map_run(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    name = f"fd{uuid.uuid4().hex[:6]}"
    request = fleet_request(name, 0, forty_targets()[:2])
    first = run_execution(sfn, deployed["fleet"], request, timeout=600)
    assert first["status"] == "SUCCEEDED", first.get("cause")
    again = run_execution(sfn, deployed["fleet"], request, timeout=600)
    summary = json.loads(again["output"])["summary"]
    assert (summary["already_done"], summary["to_run"]) == (2, 0)
    assert sfn.list_map_runs(executionArn=again["executionArn"])["mapRuns"] == []


def test_rollout_moves_twelve_workloads_in_three_accounts_to_the_new_version(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    prefix = f"ro{uuid.uuid4().hex[:6]}"
    seeded = [
        {"Id": str(uuid.uuid4()), "Name": f"{prefix}-{i}", "AccountId": ACCOUNTS[i % 3],
         "CatalogueId": CATALOGUE_ID, "CatalogueVersionId": VERSION_1, "Region": REGIONS[i % 4],
         "Status": "ACTIVE"}
        for i in range(12)
    ]  # fmt: skip
    clean_sim.seed(workloads=seeded)
    clean_sim.set_task_durations(total=1.5)
    request = {"operation": "rollout", "catalogue_id": CATALOGUE_ID,
               "catalogue_version_id": VERSION_2, "max_concurrency": 4}  # fmt: skip
    described = run_execution(sfn, deployed["fleet"], request, timeout=600)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    summary = json.loads(described["output"])["summary"]
    assert (summary["succeeded"], summary["failed"]) == (12, 0), summary
    state = {w["Id"]: w for w in clean_sim.state()["workloads"]}
    assert all(state[w["Id"]]["CatalogueVersionId"] == VERSION_2 for w in seeded)
    assert clean_sim.stats()["max_concurrent_tasks"] <= 4


def test_an_invalid_fleet_request_fails_by_name_before_anything_runs(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    request = {**fleet_request("x", 0, forty_targets()[:1]), "workload_name": "{nme}",
               "max_concurrency": 5000}  # fmt: skip
    described = run_execution(sfn, deployed["fleet"], request, timeout=120)
    assert described["status"] == "FAILED" and described["error"] == "InvalidFleetRequest"
    errors = json.loads(json.loads(described["cause"])["errorMessage"])["errors"]
    assert {"workload_name", "max_concurrency"} <= set(errors)
    assert [r for r in clean_sim.requests() if r["method"] == "POST"] == []


def test_the_cli_runs_a_fleet_from_a_csv_file_and_lists_its_results(
    deployed: dict[str, Any], clean_sim: Any, tmp_path: Path
) -> None:
    name = f"fc{uuid.uuid4().hex[:6]}"
    clean_sim.set_task_durations(total=1.5)
    request = {k: v for k, v in fleet_request(name, 0, []).items() if k != "targets"}
    request["max_concurrency"] = 2
    (tmp_path / "request.json").write_text(json.dumps(request))
    rows = ["aws_account_id,aws_region,tag:Owner"] + [
        f"{t['aws_account_id']},{t['aws_region']},team-{i}"
        for i, t in enumerate(forty_targets()[:3])
    ]
    (tmp_path / "targets.csv").write_text("\n".join(rows) + "\n")
    run = cli("fleet", "run", str(tmp_path / "request.json"), "--targets",
              str(tmp_path / "targets.csv"), "--json", "--interval", "1")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["status"] == "SUCCEEDED" and result["summary"]["succeeded"] == 3
    listed = cli("fleet", "results", result["execution_arn"], "--csv", timeout=120)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("index,status")
    assert all(",SUCCEEDED," in line for line in lines[1:])
    # Each row's tag:Owner lands on that row's workload, beside the request's tags.
    short = {a: a.split("-", 1)[0].lower() for a in ACCOUNTS}
    owners = {
        w["Name"]: (w["Tags"].get("Owner"), w["Tags"].get("Fleet"))
        for w in fleet_workloads(clean_sim, name)
    }
    assert owners == {
        f"{name}-{short[t['aws_account_id']]}-{t['aws_region']}": (f"team-{i}", name)
        for i, t in enumerate(forty_targets()[:3])
    }
