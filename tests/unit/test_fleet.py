"""Fleet planning and results (chalicelib.fleet) on moto's S3 and DynamoDB.

The plan goes to S3 as JSON Lines (what the Distributed Map reads), the results to the
coordination table; neither grows the fleet execution's state.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import fleet
from chalicelib.coordination import CoordinationStore
from chalicelib.errors import FleetPlanChanged, InvalidFleetRequest
from chalicelib.fleet import results
from chalicelib.validation import validate_fleet_request
from stax_orchestrator.deploy import table_definition
from tests.unit.fleet_support import (
    ACCOUNTS,
    BUCKET,
    CATALOGUE,
    MOTO_ACCOUNT,
    TARGET,
    Access,
    Cloud,
    Stax,
    create_request,
)


@pytest.fixture()
def cloud(aws: Any) -> Cloud:
    return Cloud(aws)


@pytest.mark.parametrize(
    ("tolerance", "runnable", "expected"),
    [(0, 20, 0), (3, 20, 3), ("20%", 20, 4), ("10%", 40, 4), ("5%", 40, 2), ("10%", 9, 0),
     ("29%", 100, 29), ("100%", 7, 7)],
)  # fmt: skip
def test_tolerated_failures_are_a_count_or_an_exact_percentage(
    tolerance: Any, runnable: int, expected: int
) -> None:
    assert fleet.tolerated_failures(tolerance, runnable) == expected


def test_the_plan_goes_to_s3_one_line_per_target_and_the_answer_stays_small(cloud: Cloud) -> None:
    small = fleet.plan(validate_fleet_request(create_request(2)), Access(Stax([])), cloud.store,
                       cloud.write, bucket=BUCKET, fleet_id="fleet-a")  # fmt: skip
    big = fleet.plan(validate_fleet_request(create_request(2000)), Access(Stax([])), cloud.store,
                     cloud.write, bucket=BUCKET, fleet_id="fleet-b")  # fmt: skip
    assert set(big) == set(fleet.PLAN_FIELDS)
    assert len(json.dumps(big)) - len(json.dumps(small)) < 20  # digits of the counts only
    lines = cloud.plan_lines(big)
    assert len(lines) == big["to_run"] == 2000 and big["tolerated_failures"] == 200
    first = lines[0]
    assert first["execution_name"] == "fleet-b-0"
    assert first["request"]["operation"] == "create"
    assert first["request"]["workload_name"] == "baseline-6d2e6c4b-ap-southeast-2-0"
    assert first["target"]["aws_region"] == "ap-southeast-2"


def test_the_plan_names_the_version_it_wrote_and_the_summary_reads_that_version(
    cloud: Cloud,
) -> None:
    plan = fleet.plan(validate_fleet_request(create_request(3)), Access(Stax([])), cloud.store,
                      cloud.write, bucket=BUCKET, fleet_id="pinned")  # fmt: skip
    head = cloud.s3.head_object(Bucket=BUCKET, Key=plan["key"])
    assert plan["version_id"] == head["VersionId"]
    # Someone replaces the plan (one target): the summary still reads the three planned.
    cloud.s3.put_object(Bucket=BUCKET, Key=plan["key"], Body=b'{"index": 9, "target": {}}\n')
    outcome = results.summarise(
        {"plan": plan, "map_failure": {"Error": results.TOLERANCE_ERROR, "Cause": "stopped"}},
        cloud.store,
        cloud.read,
    )
    assert outcome["summary"]["not_started"] == 3


def test_a_bucket_that_keeps_no_versions_cannot_hold_a_plan(aws: Any) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="unversioned-bucket")
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(**table_definition(TARGET.table_name))
    store = CoordinationStore(lambda: dynamodb, TARGET.table_name)
    _read, write = fleet.bucket_io(lambda: s3, MOTO_ACCOUNT)
    with pytest.raises(FleetPlanChanged, match="keeps no object versions"):
        fleet.plan(validate_fleet_request(create_request(2)), Access(Stax([])), store, write,
                   bucket="unversioned-bucket", fleet_id="f")  # fmt: skip


def test_a_rerun_skips_live_workloads_and_records_them_done(cloud: Cloud) -> None:
    request = validate_fleet_request(create_request(3))
    existing = [{"Id": "w-0", "Name": "baseline-6d2e6c4b-ap-southeast-2-0", "AccountId": ACCOUNTS[0],
                 "Region": "ap-southeast-2", "CatalogueId": CATALOGUE, "Status": "ACTIVE"},
                {"Id": "w-1", "Name": "baseline-7e3f7d5c-us-east-1-1", "AccountId": ACCOUNTS[1],
                 "Region": "us-east-1", "CatalogueId": CATALOGUE, "Status": "CREATE_FAILED"}]  # fmt: skip
    plan = fleet.plan(request, Access(Stax(existing)), cloud.store, cloud.write, bucket=BUCKET,
                      fleet_id="rerun")  # fmt: skip
    assert (plan["total"], plan["to_run"], plan["already_done"]) == (3, 2, 1)
    # A failed create still holds its name: its target runs (and the create refuses by name).
    assert [line["index"] for line in cloud.plan_lines(plan)] == [1, 2]
    [done] = fleet.read_results(cloud.store, "rerun")
    assert done["status"] == "ALREADY_DONE" and done["workload_id"] == "w-0"


def test_a_rollout_targets_every_live_workload_not_yet_on_the_version(cloud: Cloud) -> None:
    version = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a02"
    workloads = [
        {"Id": f"00000000-0000-4000-8000-00000000000{i}", "Name": f"w{i}", "AccountId": ACCOUNTS[0],
         "Region": "us-east-1", "CatalogueId": CATALOGUE, "Status": status,
         "CatalogueVersionId": on}
        for i, (status, on) in enumerate([("ACTIVE", version), ("ACTIVE", "old"),
                                          ("UPDATE_FAILED", version), ("DELETED", "old")])
    ]  # fmt: skip
    request = validate_fleet_request({"operation": "rollout", "catalogue_id": CATALOGUE,
                                      "catalogue_version_id": version})  # fmt: skip
    plan = fleet.plan(request, Access(Stax(workloads)), cloud.store, cloud.write, bucket=BUCKET,
                      fleet_id="roll")  # fmt: skip
    assert [line["target"]["workload_name"] for line in cloud.plan_lines(plan)] == ["w1", "w2"]
    assert plan["already_done"] == 1


def test_targets_too_many_for_the_input_are_read_from_s3_and_validated_there(cloud: Cloud) -> None:
    rows = ["aws_account_id,aws_region,param:VpcCidr,tag:Owner"] + [
        f"{ACCOUNTS[i % 2]},{['us-east-1', 'eu-west-1'][i % 2]},10.{i % 250}.0.0/16,team-{i}"
        for i in range(1200)
    ]
    cloud.write(BUCKET, "requests/big.csv", "\n".join(rows).encode())
    request = {k: v for k, v in create_request().items() if k != "targets"}
    request["targets_location"] = f"s3://{BUCKET}/requests/big.csv"
    loaded = fleet.load_targets(validate_fleet_request(request), cloud.read)
    assert len(loaded["targets"]) == 1200
    last = loaded["targets"][-1]["request"]
    assert last["workload_parameters"] == {"VpcCidr": "10.199.0.0/16"}
    assert last["workload_tags"] == {"Owner": "team-1199"}
    cloud.write(BUCKET, "requests/bad.csv", b"aws_account_id,aws_region\nnot-a-uuid,us-east-1\n")
    request["targets_location"] = f"s3://{BUCKET}/requests/bad.csv"
    with pytest.raises(InvalidFleetRequest) as refused:
        fleet.load_targets(validate_fleet_request(request), cloud.read)
    assert "targets[0].aws_account_id" in refused.value.details["errors"]


def _event(status: str, index: int, **extra: Any) -> dict[str, Any]:
    return {"fleet_id": "f", "status": status, "started_at": "2026-12-01T10:00:00.000Z",
            "item": {"index": index, "execution_name": f"f-{index}",
                     "target": {"workload_name": f"w{index}"}}, **extra}  # fmt: skip


def test_a_failed_target_keeps_its_own_error_and_a_short_cause(cloud: Cloud) -> None:
    child_cause = {"message": "The Stax task ended FAILED", "task_id": "t-3", "workload_id": "w-3",
                   "logs_tail": [f"line {i} " + "x" * 900 for i in range(20)]}  # fmt: skip
    described = {
        "Error": "WorkloadTaskFailed",
        "Cause": json.dumps(child_cause),
        "Status": "FAILED",
    }
    failure = {"Error": "States.TaskFailed", "Cause": json.dumps(described)}
    assert results.record_target(_event("FAILED", 3, failure=failure), cloud.store) == {}
    output = {"workload_id": "w-1", "task_id": "t-1", "status": "SUCCEEDED"}
    results.record_target(_event("SUCCEEDED", 1, output=output), cloud.store)
    rows = list(fleet.read_results(cloud.store, "f"))
    assert [r["status"] for r in rows] == ["SUCCEEDED", "FAILED"]
    failed = rows[1]
    assert failed["error"] == "WorkloadTaskFailed" and failed["task_id"] == "t-3"
    assert failed["cause"]["message"] == "The Stax task ended FAILED"
    assert len(json.dumps(failed["cause"]).encode()) <= results.MAX_CAUSE_BYTES
    assert failed["cause"]["logs_tail"][-1].startswith("line 19")
    assert [r["index"] for r in fleet.read_results(cloud.store, "f", failed_only=True)] == [3]


def test_the_summary_counts_results_and_names_targets_the_map_never_ran(cloud: Cloud) -> None:
    plan = fleet.plan(validate_fleet_request(create_request(5)), Access(Stax([])), cloud.store,
                      cloud.write, bucket=BUCKET, fleet_id="f")  # fmt: skip
    failure = {"Error": "WorkloadAlreadyExists", "Cause": json.dumps({"message": "taken"})}
    for index in (0, 1):
        results.record_target(_event("FAILED", index, failure=failure), cloud.store)
    results.record_target(_event("SUCCEEDED", 2, output={"workload_id": "w"}), cloud.store)
    outcome = results.summarise(
        {"plan": plan, "map_failure": {"Error": results.TOLERANCE_ERROR, "Cause": "stopped"}},
        cloud.store,
        cloud.read,
    )
    summary = outcome["summary"]
    assert (summary["succeeded"], summary["failed"], summary["not_started"]) == (1, 2, 2)
    assert outcome["exceeded"] is True and outcome["error"] is None
    cause = json.loads(outcome["cause"])
    assert [t["index"] for t in cause["failed_targets"]] == [0, 1]
    statuses = {r["index"]: r["status"] for r in fleet.read_results(cloud.store, "f")}
    assert statuses == {0: "FAILED", 1: "FAILED", 2: "SUCCEEDED", 3: "NOT_STARTED",
                        4: "NOT_STARTED"}  # fmt: skip


def test_a_stopped_fleet_reports_targets_it_had_started_as_aborted_not_as_never_started(
    cloud: Cloud,
) -> None:
    plan = fleet.plan(validate_fleet_request(create_request(4)), Access(Stax([])), cloud.store,
                      cloud.write, bucket=BUCKET, fleet_id="s")  # fmt: skip
    assert plan["table"] == cloud.store.table_name and int(plan["results_expire_at"]) > 0
    # What the fleet machine's Record Start state writes, for targets 0, 1 and 2.
    for index in (0, 1, 2):
        cloud.store.put_item("fleet#s", f"started#{index}", {"execution_name": f"s-{index}"})
    failure = {"Error": "WorkloadTaskFailed", "Cause": json.dumps({"message": "quota"})}
    results.record_target({**_event("FAILED", 0, failure=failure), "fleet_id": "s"}, cloud.store)
    outcome = results.summarise(
        {"plan": plan, "map_failure": {"Error": results.TOLERANCE_ERROR, "Cause": "stopped"}},
        cloud.store,
        cloud.read,
    )
    summary = outcome["summary"]
    assert (summary["failed"], summary["aborted"], summary["not_started"]) == (1, 2, 1)
    rows = {r["index"]: r for r in fleet.read_results(cloud.store, "s")}
    assert {i: r["status"] for i, r in rows.items()} == {
        0: "FAILED", 1: "ABORTED", 2: "ABORTED", 3: "NOT_STARTED"}  # fmt: skip
    assert rows[1]["error"] == "FleetTargetAborted"
    assert "run the same fleet request again" in rows[1]["cause"]["message"]


def test_a_fleet_within_tolerance_is_not_exceeded(cloud: Cloud) -> None:
    plan = fleet.plan(validate_fleet_request(create_request(3, failure_tolerance=1)),
                      Access(Stax([])), cloud.store, cloud.write, bucket=BUCKET, fleet_id="g")  # fmt: skip
    results.record_target(
        {**_event("FAILED", 0, failure={"Error": "X", "Cause": "y"}), "fleet_id": "g"}, cloud.store
    )
    outcome = results.summarise({"plan": plan, "map_failure": {"Error": None, "Cause": None}},
                                cloud.store, cloud.read)  # fmt: skip
    assert outcome["exceeded"] is False and outcome["error"] is None
    assert outcome["summary"]["results"]["partition"] == "fleet#g"
    # The fields the machines that run fleets read (the contract check relies on them).
    assert tuple(outcome["summary"]) == fleet.SUMMARY_FIELDS
