"""The session's `local` stage as one CloudFormation stack: no-change runs, previews,
rollback, status and drift, on MiniStack's CloudFormation held to AWS's rules.

The session deployed the stage with ``./deploy.sh --stage local``; these tests run the
post-deploy step again (from the checkout, or from a copy of the project with an edited
state machine) against that stack. Each test first brings the stack back to the
session's flags (other tests deploy it with ``--baselines`` or ``--dashboard``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from stax_orchestrator.local_env import LOCAL_OPERATOR
from tests.e2e.conftest import ROOT, create_payload, post_deploy, run_execution, unique_name
from tests.e2e.helpers import cli, copy_project, run_in

pytestmark = pytest.mark.e2e
STACK = "stax-orchestrator-local"


@pytest.fixture()
def settled(deployed: dict[str, Any]) -> dict[str, Any]:
    """The stage as the session deployed it (no optional flags)."""
    run = post_deploy()
    assert run.returncode == 0, run.stderr[-3000:]
    return deployed


#: The flags the session deployed the stage with (deploy.sh is declarative: a flag left out
#: is a setting removed, as --dashboard or --baselines).
AS_DEPLOYED = ("--bucket-writer", LOCAL_OPERATOR)


def _project(tmp_path: Path) -> Path:
    """A copy of the project holding what Chalice recorded for the `local` stage."""
    project = copy_project(tmp_path / "project", "local")
    (project / ".chalice" / "deployed").mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / ".chalice/deployed/local.json", project / ".chalice/deployed/local.json")
    return project


def _edit_machine(project: Path, kind: str, change: Any) -> None:
    path = project / "statemachines" / f"{kind}.asl.json"
    definition = json.loads(path.read_text())
    change(definition)
    path.write_text(json.dumps(definition, indent=2))


def _definition(kind: str) -> dict[str, Any]:
    arn = f"arn:aws:states:us-east-1:000000000000:stateMachine:{STACK}-{kind}"
    described = boto3.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    return dict(json.loads(described["definition"]))


def _change_sets() -> list[dict[str, Any]]:
    """The stack's change sets (an executed one stays listed, EXECUTE_COMPLETE)."""
    listed = boto3.client("cloudformation").list_change_sets(StackName=STACK)["Summaries"]
    return sorted(listed, key=lambda c: c["ChangeSetId"])


def test_a_deploy_with_nothing_to_change_says_so_and_leaves_no_change_set(
    settled: dict[str, Any],
) -> None:
    cloudformation = boto3.client("cloudformation")
    before = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    change_sets = _change_sets()
    run = post_deploy()
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"stack {STACK}: no changes" in run.stderr
    assert _change_sets() == change_sets  # none created
    assert not [c for c in change_sets if c["ExecutionStatus"] == "AVAILABLE"]  # none waiting
    after = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    assert after.get("LastUpdatedTime") == before.get("LastUpdatedTime")
    assert json.loads(run.stdout)["changed"] is False


def test_diff_after_editing_one_template_lists_exactly_that_machine_and_changes_nothing(
    settled: dict[str, Any], tmp_path: Path
) -> None:
    project = _project(tmp_path)
    _edit_machine(project, "fleet", lambda d: d.update(Comment=d["Comment"] + " (edited)"))
    before, change_sets = _definition("fleet"), _change_sets()
    run = run_in(project, "./deploy.sh", "--stage", "local", "--diff", *AS_DEPLOYED,
                 as_deployer=True)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    [header, *changes] = run.stdout.strip().splitlines()
    assert header.split() == ["action", "resource", "type", "replacement"]
    assert [line.split() for line in changes] == [
        ["Modify", "FleetStateMachine", "AWS::StepFunctions::StateMachine", "no"]
    ]
    assert "1 change(s); nothing was changed" in run.stderr
    assert _definition("fleet") == before
    assert _change_sets() == change_sets  # the preview's change set is gone


def test_a_failed_deploy_rolls_back_and_the_stage_still_runs_a_create(
    settled: dict[str, Any], tmp_path: Path, sfn: Any, clean_sim: Any
) -> None:
    project = _project(tmp_path)
    # Two machines change; one of them names a state that does not exist, which Step
    # Functions refuses (InvalidDefinition): the whole update is rolled back.
    _edit_machine(project, "fleet", lambda d: d.update(Comment="rolled back with the rest"))

    def broken(definition: dict[str, Any]) -> None:
        first = definition["States"][definition["StartAt"]]
        first["Next"] = "No Such State"
        first.pop("End", None)

    _edit_machine(project, "workload", broken)
    fleet_before, workload_before = _definition("fleet"), _definition("workload")
    run = run_in(project, "python", "-m", "stax_orchestrator.deploy", "post-deploy",
                 "--stage", "local", *AS_DEPLOYED, as_deployer=True)  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert "rolled it back (UPDATE_ROLLBACK_COMPLETE)" in run.stderr
    assert "the stage is as it was before this deploy" in run.stderr
    assert "WorkloadStateMachine (AWS::StepFunctions::StateMachine)" in run.stderr
    assert "No Such State" in run.stderr
    stack = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert (_definition("fleet"), _definition("workload")) == (fleet_before, workload_before)
    created = run_execution(sfn, settled["workload"], create_payload(unique_name("rolled")))
    assert created["status"] == "SUCCEEDED", created.get("cause")


def test_stage_status_shows_the_stack_its_outputs_and_a_resource_changed_by_hand(
    settled: dict[str, Any],
) -> None:
    run = cli("stage", "status", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    status = json.loads(run.stdout)
    # Settled: the last change done, or rolled back with the stage as it was (the
    # rollback test may have run first).
    settled_statuses = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
    assert status["stack"] == STACK and status["status"] in settled_statuses
    assert status["outputs"]["WorkloadStateMachineArn"] == settled["workload"]
    assert status["drift"]["status"] == "IN_SYNC" and status["drift"]["drifted"] == []
    logs = boto3.client("logs")
    group = f"/aws/vendedlogs/states/{STACK}-workload"
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)  # by hand
    try:
        run = cli("stage", "status")
        assert run.returncode == 1, run.stdout + run.stderr
        assert "drift: DRIFTED, detection DETECTION_COMPLETE" in run.stdout
        assert "MODIFIED WorkloadStateMachineLogGroup (AWS::Logs::LogGroup)" in " ".join(
            run.stdout.split()
        )
        assert "/RetentionInDays: expected 60, actual 1" in run.stdout
    finally:
        logs.put_retention_policy(logGroupName=group, retentionInDays=60)


def test_the_cli_finds_a_stage_only_by_its_stack(settled: dict[str, Any]) -> None:
    run = cli("list", "--stage", "nostack")
    assert run.returncode == 3, run.stdout + run.stderr
    assert "no CloudFormation stack 'stax-orchestrator-nostack'" in " ".join(
        (run.stdout + run.stderr).split()
    )
