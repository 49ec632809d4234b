"""Canary stages: a fleet's targets cut into stages, and a fleet that halts itself.

Planning and the stage decisions (``chalicelib.fleet.stages``) on moto's S3, DynamoDB and
CloudWatch; the fleet machine's own loop runs in the e2e tier.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import fleet
from chalicelib.errors import InvalidFleetRequest
from chalicelib.fleet import results
from chalicelib.fleet.stages import BEFORE_FIRST, first_stage, next_stage
from chalicelib.validation import validate_fleet_request
from chalicelib.validation.stages import stage_ends
from tests.unit.fleet_support import (
    ACCOUNTS,
    BUCKET,
    CATALOGUE,
    Access,
    Cloud,
    Stax,
    create_request,
)

NO_FAILURE = {"Error": None, "Cause": None}
NO_RESULT = {"MapRunArn": None, "ResultWriterDetails": None}
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:stax-orchestrator-unit-fleet:f"


@pytest.fixture()
def cloud(aws: Any) -> Cloud:
    return Cloud(aws)


@pytest.fixture()
def cloudwatch(aws: Any) -> Any:
    client = aws.client("cloudwatch")
    for name in ("errors-high", "latency-high"):
        client.put_metric_alarm(
            AlarmName=name, MetricName="Errors", Namespace="App", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    return client


def planned(cloud: Cloud, count: int, fleet_id: str = "f", **overrides: Any) -> dict[str, Any]:
    request = validate_fleet_request(create_request(count, **overrides))
    return fleet.plan(request, Access(Stax([])), cloud.store, cloud.write, bucket=BUCKET,
                      fleet_id=fleet_id)  # fmt: skip


def step(plan: dict[str, Any], stage: dict[str, Any], cloud: Cloud, cloudwatch: Any,
         failure: dict[str, Any] = NO_FAILURE) -> dict[str, Any]:  # fmt: skip
    event = {"plan": plan, "stage": stage, "map_failure": failure, "map_result": NO_RESULT,
             "execution_arn": EXECUTION}  # fmt: skip
    return next_stage(event, cloud.store, lambda: cloudwatch)


@pytest.mark.parametrize(
    ("stages", "runnable", "ends"),
    [([1, "25%", "100%"], 40, [1, 10, 40]), (["100%"], 7, [7]), ([1, "5%", "100%"], 10, [1, 10]),
     ([5, "100%"], 3, [3]), ([1, 2, "50%", "100%"], 0, []), (["12.5%", "100%"], 8, [1, 8])],
)  # fmt: skip
def test_stages_are_cumulative_and_a_stage_that_adds_nothing_is_left_out(
    stages: list[Any], runnable: int, ends: list[int]
) -> None:
    assert stage_ends(stages, runnable) == ends


@pytest.mark.parametrize(
    ("stages", "field", "words"),
    [([1, "25%"], "stages[1]", 'the last stage must be "100%"'),
     (["25%", 1, "100%"], "stages[1]", "numbers first"),
     ([5, 5, "100%"], "stages[1]", "bigger than the stage before"),
     (["50%", "20%", "100%"], "stages[1]", "bigger than the stage before"),
     ([0, "100%"], "stages[0]", "1 to 10000"),
     (["0%", "100%"], "stages[0]", "more than 0%"),
     ([True, "100%"], "stages[0]", "a number of targets or a percentage"),
     ("100%", "stages", "a list of 1 to 10"),
     ([1] * 11, "stages", "a list of 1 to 10")],
)  # fmt: skip
def test_bad_stages_are_refused_by_name_saying_what_to_write(
    stages: Any, field: str, words: str
) -> None:
    with pytest.raises(InvalidFleetRequest) as refused:
        validate_fleet_request(create_request(3, stages=stages))
    assert any(words in m for m in refused.value.details["errors"][field])


def test_bad_alarm_names_are_refused() -> None:
    for names, field in ((["a\nb"], "halt_on_alarms[0]"), (["x" * 256], "halt_on_alarms[0]"),
                         (["a", "a"], "halt_on_alarms"), ("a", "halt_on_alarms")):  # fmt: skip
        with pytest.raises(InvalidFleetRequest) as refused:
            validate_fleet_request(create_request(3, halt_on_alarms=names))
        assert field in refused.value.details["errors"]


def test_each_stage_is_its_own_pinned_plan_object_in_plan_order(cloud: Cloud) -> None:
    plan = planned(cloud, 40, stages=[1, "25%", "100%"], failure_tolerance="10%")
    assert [s["count"] for s in plan["stages"]] == [1, 9, 30]
    indexes = []
    for stage in plan["stages"]:
        text = cloud.read(BUCKET, stage["key"], stage["version_id"])
        indexes += [json.loads(line)["index"] for line in text.splitlines() if line]
        assert stage["results_prefix"].endswith(f"/stage-{stage['index'] + 1}")
    assert indexes == list(range(40))  # every target once, in plan order
    assert len(json.dumps(plan)) < 3000  # the state holds stages, never targets


def test_one_stage_is_the_plan_itself(cloud: Cloud) -> None:
    plan = planned(cloud, 5)
    [stage] = plan["stages"]
    assert (stage["key"], stage["version_id"], stage["count"]) == (
        plan["key"], plan["version_id"], 5)  # fmt: skip


def test_stages_run_in_turn_each_with_its_own_share_of_the_tolerance(
    cloud: Cloud, cloudwatch: Any
) -> None:
    plan = planned(cloud, 40, stages=[1, "25%", "100%"], failure_tolerance="10%")
    first = step(plan, BEFORE_FIRST, cloud, cloudwatch)
    assert (first["next"], first["index"], first["tolerated_failures"]) == ("run", 0, 0)
    second = step(plan, first, cloud, cloudwatch)
    assert (second["index"], second["count"], second["tolerated_failures"]) == (1, 9, 0)
    third = step(plan, second, cloud, cloudwatch)
    assert (third["index"], third["tolerated_failures"]) == (2, 3)
    assert step(plan, third, cloud, cloudwatch)["next"] == "end"


def test_a_count_tolerance_is_shared_by_all_stages(cloud: Cloud, cloudwatch: Any) -> None:
    plan = planned(cloud, 40, stages=[10, "100%"], failure_tolerance=3)
    first = step(plan, BEFORE_FIRST, cloud, cloudwatch)
    assert first["tolerated_failures"] == 3
    for index in (0, 1):
        results.record_target(
            {"fleet_id": "f", "item": {"index": index, "target": {}}, "status": "FAILED",
             "failure": {"Error": "X", "Cause": "y"}}, cloud.store,
        )  # fmt: skip
    assert step(plan, first, cloud, cloudwatch)["tolerated_failures"] == 1


def test_a_stage_over_its_tolerance_halts_the_fleet_before_the_next(
    cloud: Cloud, cloudwatch: Any
) -> None:
    plan = planned(cloud, 40, stages=[1, "25%", "100%"], failure_tolerance="10%")
    first = step(plan, BEFORE_FIRST, cloud, cloudwatch)
    crossed = {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "..."}
    halted = step(plan, first, cloud, cloudwatch, crossed)
    assert halted["next"] == "end"
    halt = halted["halt"]
    assert (halt["before_stage"], halt["of"], halt["untouched_targets"]) == (2, 3, 39)
    assert "stage 1 crossed its failure tolerance" in halt["reason"]
    assert halt["resume"] == f"stax-orchestrator fleet resume {EXECUTION}"


def test_the_last_stage_failing_ends_the_fleet_as_a_tolerance_failure_not_a_halt(
    cloud: Cloud, cloudwatch: Any
) -> None:
    plan = planned(cloud, 4, stages=[1, "100%"])
    last = step(plan, step(plan, BEFORE_FIRST, cloud, cloudwatch), cloud, cloudwatch)
    crossed = {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "..."}
    ended = step(plan, last, cloud, cloudwatch, crossed)
    assert (ended["next"], ended["halt"]) == ("end", None)


def test_an_alarm_in_alarm_halts_before_the_next_stage_and_its_clearing_lets_it_go(
    cloud: Cloud, cloudwatch: Any
) -> None:
    plan = planned(cloud, 40, stages=[1, "100%"], halt_on_alarms=["errors-high", "latency-high"])
    first = step(plan, BEFORE_FIRST, cloud, cloudwatch)
    assert first["next"] == "run"
    cloudwatch.set_alarm_state(AlarmName="latency-high", StateValue="ALARM", StateReason="test")
    halted = step(plan, first, cloud, cloudwatch)
    assert halted["halt"]["alarms"] == ["latency-high"]
    assert halted["halt"]["reason"] == "alarm 'latency-high' in ALARM"
    cloudwatch.set_alarm_state(AlarmName="latency-high", StateValue="OK", StateReason="test")
    assert step(plan, first, cloud, cloudwatch)["next"] == "run"


def test_an_alarm_that_cannot_be_read_is_a_brake_that_stops_the_fleet(
    cloud: Cloud, cloudwatch: Any
) -> None:
    plan = planned(cloud, 4, stages=[1, "100%"], halt_on_alarms=["no-such-alarm"])
    halted = step(plan, BEFORE_FIRST, cloud, cloudwatch)
    assert halted["halt"]["before_stage"] == 1 and halted["halt"]["untouched_targets"] == 4
    assert "no CloudWatch alarm named 'no-such-alarm'" in halted["halt"]["reason"]


def test_a_halted_fleet_summary_names_the_stage_why_and_how_to_resume(
    cloud: Cloud, cloudwatch: Any
) -> None:
    plan = planned(cloud, 40, stages=[1, "25%", "100%"], failure_tolerance="10%")
    first = step(plan, BEFORE_FIRST, cloud, cloudwatch)
    results.record_target(
        {"fleet_id": "f", "item": {"index": 0, "target": {}}, "status": "FAILED",
         "failure": {"Error": "X", "Cause": "y"}}, cloud.store,
    )  # fmt: skip
    crossed = {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "..."}
    halted = step(plan, first, cloud, cloudwatch, crossed)
    outcome = results.summarise(
        {"plan": plan, "stage": halted, "map_failure": crossed, "map_result": NO_RESULT},
        cloud.store, cloud.read,
    )  # fmt: skip
    assert (outcome["error"], outcome["exceeded"]) == ("FleetHalted", False)
    summary = outcome["summary"]
    assert (summary["failed"], summary["not_started"]) == (1, 39)
    cause = json.loads(outcome["cause"])
    assert cause["message"].startswith("halted before stage 2 of 3: stage 1 crossed")
    assert "fleet resume" in cause["hint"]


def test_targets_a_stage_did_not_start_for_an_alarm_halt_the_fleet_even_after_its_last_stage(
    cloud: Cloud, cloudwatch: Any
) -> None:
    plan = planned(cloud, 4, stages=[2, "100%"], halt_on_alarms=["errors-high"])
    first = step(plan, BEFORE_FIRST, cloud, cloudwatch)
    # As the fleet machine's Skip Target records a target an alarm kept from starting.
    results.record_target(
        {"fleet_id": "f", "item": {"index": 1, "target": {}}, "status": "NOT_STARTED",
         "failure": {"Error": "FleetHalted", "Cause": "an alarm"}}, cloud.store,
    )  # fmt: skip
    halted = step(plan, first, cloud, cloudwatch)  # the alarm is OK again by now
    assert halted["halt"]["reason"].startswith(
        "an alarm of halt_on_alarms was in ALARM during stage 1"
    )
    assert halted["halt"]["untouched_targets"] == 3  # the one skipped and stage 2's two
    last = {**first, "index": 1, "count": 2}
    assert step(plan, last, cloud, cloudwatch)["halt"]["before_stage"] == 3


def test_a_fleet_without_alarms_starts_at_its_first_stage_with_no_stage_decision(
    cloud: Cloud, cloudwatch: Any
) -> None:
    plan = planned(cloud, 40, stages=[1, "25%", "100%"], failure_tolerance="10%")
    # What Next Stage would decide before the first stage, already in the plan.
    decided = step(plan, BEFORE_FIRST, cloud, cloudwatch)
    assert plan["first_stage"] == decided
    assert (decided["next"], decided["index"], decided["last"]) == ("run", 0, False)
    single = planned(cloud, 5, fleet_id="g")
    assert (single["first_stage"]["key"], single["first_stage"]["last"]) == (single["key"], True)


def test_a_fleet_with_alarms_reads_them_before_its_first_stage(cloud: Cloud) -> None:
    plan = planned(cloud, 4, halt_on_alarms=["errors-high"])
    assert plan["first_stage"] == first_stage(plan) == BEFORE_FIRST
    assert plan["first_stage"]["next"] == "check"  # Stage Ready? goes to Next Stage


def _manifest(prefix: str, run: str) -> dict[str, Any]:
    return {"MapRunArn": f"arn:map:{run}",
            "ResultWriterDetails": {"Bucket": BUCKET, "Key": f"{prefix}/{run}/manifest.json"}}  # fmt: skip


def _two_stages_to_the_last(cloud: Cloud, cloudwatch: Any) -> tuple[Any, Any, Any, Any]:
    """A fleet of two stages, its first run (its Map's result) and its last decided."""
    plan = planned(cloud, 4, stages=[1, "100%"])
    first = plan["first_stage"]
    ran_first = _manifest(first["results_prefix"], "one")
    last = next_stage({"plan": plan, "stage": first, "map_failure": NO_FAILURE,
                       "map_result": ran_first}, cloud.store, lambda: cloudwatch)  # fmt: skip
    return plan, first, ran_first, last


def test_a_last_stage_that_went_straight_to_the_summary_is_counted_with_its_manifest(
    cloud: Cloud, cloudwatch: Any
) -> None:
    plan, first, _, last = _two_stages_to_the_last(cloud, cloudwatch)
    assert last["last"] is True
    ran_last = _manifest(last["results_prefix"], "two")
    summary = results.summarise(
        {"plan": plan, "stage": last, "map_failure": NO_FAILURE, "map_result": ran_last},
        cloud.store, cloud.read,
    )["summary"]  # fmt: skip
    assert summary["stages"]["run"] == 2
    assert summary["stages"]["execution_records"] == [
        f"s3://{BUCKET}/{first['results_prefix']}/one/manifest.json",
        f"s3://{BUCKET}/{last['results_prefix']}/two/manifest.json",
    ]


def test_a_failed_stage_does_not_take_the_manifest_of_the_stage_before(
    cloud: Cloud, cloudwatch: Any
) -> None:
    plan, first, ran_first, last = _two_stages_to_the_last(cloud, cloudwatch)
    crossed = {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "..."}
    # The Map's Catch leaves the state's map_result as the stage before left it.
    summary = results.summarise(
        {"plan": plan, "stage": last, "map_failure": crossed, "map_result": ran_first},
        cloud.store, cloud.read,
    )["summary"]  # fmt: skip
    assert summary["stages"]["execution_records"] == [
        f"s3://{BUCKET}/{first['results_prefix']}/one/manifest.json"
    ]
    assert summary["execution_records"] is None  # not the stage before's
    assert summary["stages"]["run"] == 2


def test_a_fleet_with_nothing_to_run_ran_no_stage(cloud: Cloud) -> None:
    version = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a02"
    on_it = {"Id": "w-0", "Name": "w0", "AccountId": ACCOUNTS[0], "Region": "us-east-1",
             "CatalogueId": CATALOGUE, "Status": "ACTIVE", "CatalogueVersionId": version}  # fmt: skip
    request = validate_fleet_request({"operation": "rollout", "catalogue_id": CATALOGUE,
                                      "catalogue_version_id": version})  # fmt: skip
    plan = fleet.plan(request, Access(Stax([on_it])), cloud.store, cloud.write, bucket=BUCKET,
                      fleet_id="done")  # fmt: skip
    assert plan["to_run"] == 0  # the machine goes from Anything To Run? to the summary
    summary = results.summarise(
        {"plan": plan, "stage": plan["first_stage"], "map_failure": NO_FAILURE,
         "map_result": NO_RESULT}, cloud.store, cloud.read,
    )["summary"]  # fmt: skip
    assert (summary["stages"]["run"], summary["stages"]["execution_records"]) == (0, [])
    assert summary["already_done"] == 1
