"""Canary stages on the deployed fleet machine: a fleet that halts itself, and resumes.

40 create targets in stages 1 / 25% / 100% on MiniStack's Step Functions, the workload
machine against the strict simulator: a first stage whose only task fails halts the fleet
with exactly one workload written; an alarm set to ALARM (CloudWatch ``SetAlarmState``)
while the first stage runs halts it before the second; once the alarm is OK again,
``stax-orchestrator fleet resume`` finishes only what was left; an alarm raised while a
stage runs keeps that stage's next targets from starting.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest

from chalicelib.stax import is_live
from tests.e2e.conftest import CATALOGUE_ID, VERSION_1, run_execution
from tests.e2e.helpers import FLEET_ACCOUNTS, FLEET_REGIONS, cli, forty_targets

pytestmark = pytest.mark.e2e
STAGES = [1, "25%", "100%"]


def staged_request(name: str, **extra: Any) -> dict[str, Any]:
    targets = forty_targets()
    return {
        "operation": "create",
        "catalogue_id": CATALOGUE_ID,
        "catalogue_version_id": VERSION_1,
        "name": name,
        "workload_name": "{name}-{account_short}-{region}",
        "targets": targets,
        "max_concurrency": 8,
        "failure_tolerance": "10%",
        "stages": STAGES,
        **extra,
    }


def first_target(name: str) -> str:
    return f"{name}-{FLEET_ACCOUNTS[0].split('-')[0]}-{FLEET_REGIONS[0]}"


def written(sim: Any, name: str) -> list[str]:
    """The fleet's workloads Stax holds (one POST each: creates are exactly-once)."""
    return [w["Name"] for w in sim.state()["workloads"] if w["Name"].startswith(f"{name}-")]


def test_a_first_stage_whose_task_fails_halts_the_fleet_with_one_target_written(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    name = f"cs{uuid.uuid4().hex[:6]}"
    clean_sim.fail_next_tasks(None, logs=["AWS::EC2::VPC CREATE_FAILED quota"],
                              name_regex=f"^{first_target(name)}$")  # fmt: skip
    described = run_execution(sfn, deployed["fleet"], staged_request(name), timeout=300)
    assert (described["status"], described["error"]) == ("FAILED", "FleetHalted")
    cause = json.loads(described["cause"])
    assert cause["message"].startswith("halted before stage 2 of 3: stage 1 crossed")
    assert cause["halt"]["untouched_targets"] == 39
    assert "stax-orchestrator fleet resume" in cause["hint"]
    summary = cause["summary"]
    assert (summary["failed"], summary["succeeded"], summary["not_started"]) == (1, 0, 39)
    assert written(clean_sim, name) == [first_target(name)]


def quiet_alarm(name: str) -> Any:
    """A metric alarm ``name`` in state OK on MiniStack's CloudWatch; the client."""
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name, MetricName="Errors", Namespace="E2E", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="e2e")
    return cloudwatch


def wait_for_stage_one(sfn: Any, execution_arn: str, timeout: float = 120.0) -> None:
    """Until the fleet's first Map Run has started (the first stage runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        if any(e["type"] in ("MapStateEntered", "MapRunStarted") for e in events):
            return
        time.sleep(0.25)
    raise AssertionError("the first stage never started")


def test_an_alarm_halts_the_fleet_before_stage_two_and_resume_finishes_only_what_was_left(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    name = f"ca{uuid.uuid4().hex[:6]}"
    alarm = f"e2e-halt-{name}"
    cloudwatch = quiet_alarm(alarm)
    try:
        # The first stage's one task lasts 8 s: time to raise the alarm while it runs.
        clean_sim.set_task_durations(total=8.0)
        started = sfn.start_execution(
            stateMachineArn=deployed["fleet"],
            input=json.dumps(staged_request(name, halt_on_alarms=[alarm])),
        )
        arn = started["executionArn"]
        wait_for_stage_one(sfn, arn)
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="e2e")
        clean_sim.set_task_durations(started=0.3, pending=0.3, running=1.0)
        described = _wait(sfn, arn)
        assert (described["status"], described["error"]) == ("FAILED", "FleetHalted")
        cause = json.loads(described["cause"])
        assert cause["halt"]["before_stage"] == 2 and cause["halt"]["alarms"] == [alarm]
        assert written(clean_sim, name) == [first_target(name)]

        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="e2e")
        resumed = cli("fleet", "resume", arn, "--output", "json", timeout=600)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        executions = sfn.list_executions(stateMachineArn=deployed["fleet"])["executions"]
        [again] = [
            e for e in executions if e["name"].startswith(f"{arn.rsplit(':', 1)[-1]}-resume-")
        ]
        summary = json.loads(sfn.describe_execution(executionArn=again["executionArn"])["output"])[
            "summary"
        ]
        assert (summary["already_done"], summary["succeeded"], summary["failed"]) == (1, 39, 0)
        live = [w["Name"] for w in clean_sim.state()["workloads"]
                if w["Name"].startswith(f"{name}-") and is_live(w)]  # fmt: skip
        assert len(live) == 40 == len(set(live))
    finally:
        cloudwatch.delete_alarms(AlarmNames=[alarm])


def test_an_alarm_raised_during_a_stage_keeps_its_next_targets_from_starting(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    name = f"cd{uuid.uuid4().hex[:6]}"
    alarm = f"e2e-during-{name}"
    cloudwatch = quiet_alarm(alarm)
    request = staged_request(name, halt_on_alarms=[alarm], max_concurrency=1, stages=[2, "100%"])
    request["targets"] = request["targets"][:3]
    try:
        clean_sim.set_task_durations(total=8.0)  # one target at a time, each 8 s
        arn = sfn.start_execution(stateMachineArn=deployed["fleet"],
                                  input=json.dumps(request))["executionArn"]  # fmt: skip
        deadline = time.monotonic() + 120
        while not written(clean_sim, name) and time.monotonic() < deadline:
            time.sleep(0.25)
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="e2e")
        described = _wait(sfn, arn)
        assert (described["status"], described["error"]) == ("FAILED", "FleetHalted")
        cause = json.loads(described["cause"])
        assert "was in ALARM during stage 1: 1 of its targets not started" in cause["message"]
        assert cause["halt"]["untouched_targets"] == 2
        assert written(clean_sim, name) == [first_target(name)]
    finally:
        clean_sim.set_task_durations(started=0.3, pending=0.3, running=1.0)
        cloudwatch.delete_alarms(AlarmNames=[alarm])


def _wait(sfn: Any, arn: str, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.5)
    raise AssertionError(f"{arn} still RUNNING after {timeout} s")
