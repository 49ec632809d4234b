"""``deploy.sh --baselines`` on moto: the stored file, the rule on the Stax bus, the
events role, the drift schedule; moved, removed and deleted with the stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.baselines.automatic import STORED_KEY
from stax_orchestrator.deploy import baselining, preflight, resources, teardown
from stax_orchestrator.deploy.names import FUNCTIONS, Target
from stax_orchestrator.deploy.templates import DeployError
from tests.unit.support import deployed_function

FILE = """\
baselines:
  guard:
    catalogue: budget-guard
    version: latest
    workload_name: "{baseline}-{account}-{region}"
    targets:
      account_types: [sandbox]
      regions: [ap-southeast-2]
"""


@pytest.fixture()
def target(aws: Any) -> Target:
    found = preflight.resolve_target("local", aws)
    resources.ensure_bucket(aws.client("s3"), found)
    return found


@pytest.fixture()
def baselines_file(tmp_path: Path) -> Path:
    path = tmp_path / "baselines.yaml"
    path.write_text(FILE)
    return path


def arns(target: Target) -> dict[str, str]:
    return {f: target.function_arn(f) for f in FUNCTIONS}


def rules_on(events: Any, bus: str) -> dict[str, dict[str, Any]]:
    return {r["Name"]: r for r in events.list_rules(EventBusName=bus)["Rules"]}


def test_the_flags_come_together_and_the_file_is_validated_before_anything(
    baselines_file: Path,
) -> None:
    assert baselining.parse_options(None, None, None, None) is None
    with pytest.raises(DeployError, match="--stax-event-bus needs --baselines"):
        baselining.parse_options(None, "stax", None, None)
    with pytest.raises(DeployError, match="needs --stax-event-bus"):
        baselining.parse_options(str(baselines_file), None, None, None)
    with pytest.raises(DeployError, match="rate\\(1 day\\)"):
        baselining.parse_options(str(baselines_file), "stax", None, "every day")
    baselines_file.write_text(FILE.replace("regions: [ap-southeast-2]", "regions: 3"))
    with pytest.raises(DeployError, match=r"line 8: baselines\.guard\.targets\.regions"):
        baselining.parse_options(str(baselines_file), "stax", None, None)


def test_a_bus_that_is_not_there_is_refused_by_name(aws: Any) -> None:
    with pytest.raises(DeployError, match="event bus 'stax-missing' does not exist"):
        baselining.check_bus(aws.client("events"), "stax-missing")


def test_baselining_stores_the_file_versioned_and_routes_account_events_to_the_machine(
    aws: Any, target: Target, baselines_file: Path
) -> None:
    events, s3 = aws.client("events"), aws.client("s3")
    events.create_event_bus(Name="stax")
    deployed_function(aws, target, "check_baseline_drift")
    options = baselining.parse_options(str(baselines_file), "stax", None, "rate(1 day)")
    baselining.ensure_baselining(aws, target, options, arns(target))
    baselines_file.write_text(FILE.replace("latest", "1.0.0"))
    baselining.ensure_baselining(aws, target, options, arns(target))
    versions = s3.list_object_versions(Bucket=target.fleet_bucket, Prefix=STORED_KEY)
    assert len(versions["Versions"]) == 2  # the history stays
    stored = s3.get_object(Bucket=target.fleet_bucket, Key=STORED_KEY)["Body"].read()
    assert b"1.0.0" in stored
    rule = rules_on(events, "stax")[target.account_events_rule_name]
    assert json.loads(rule["EventPattern"]) == {
        "source": [{"prefix": "aws.partner/stax.io"}],
        "detail-type": ["AccountManagement: AccountCreateEvent",
                        "AccountManagement: AccountUpdateEvent"],
        "detail": {"status": ["SUCCESS"]},
    }  # fmt: skip
    (machine,) = events.list_targets_by_rule(
        Rule=target.account_events_rule_name, EventBusName="stax"
    )["Targets"]
    assert machine["Arn"] == target.state_machine_arn("account_baseline")
    role = aws.client("iam").get_role(RoleName=target.events_role_name)["Role"]
    assert machine["RoleArn"] == role["Arn"]
    (drift,) = events.list_targets_by_rule(Rule=target.drift_rule_name)["Targets"]
    assert drift["Arn"] == target.function_arn("check_baseline_drift")
    assert json.loads(drift["Input"]) == {"bucket": target.fleet_bucket}
    without_schedule = baselining.parse_options(str(baselines_file), "stax", None, None)
    lines = baselining.ensure_baselining(aws, target, without_schedule, arns(target))
    assert f"removed rule {target.drift_rule_name}" in lines


def test_another_bus_moves_the_rule_and_no_flag_removes_it(
    aws: Any, target: Target, baselines_file: Path
) -> None:
    events = aws.client("events")
    for bus in ("stax-old", "stax-new"):
        events.create_event_bus(Name=bus)
    for bus in ("stax-old", "stax-new"):
        options = baselining.parse_options(str(baselines_file), bus, "stax.simulator", None)
        baselining.ensure_baselining(aws, target, options, arns(target))
    assert target.account_events_rule_name not in rules_on(events, "stax-old")
    rule = rules_on(events, "stax-new")[target.account_events_rule_name]
    assert json.loads(rule["EventPattern"])["source"] == [{"prefix": "stax.simulator"}]
    lines = baselining.ensure_baselining(aws, target, None, arns(target))
    assert f"removed rule {target.account_events_rule_name} on bus stax-new" in lines
    assert rules_on(events, "stax-new") == {}
    with pytest.raises(aws.client("iam").exceptions.NoSuchEntityException):
        aws.client("iam").get_role(RoleName=target.events_role_name)


def test_deleting_the_stage_removes_the_rule_on_the_stax_bus_and_every_file_version(
    aws: Any, target: Target, baselines_file: Path, tmp_path: Path
) -> None:
    events = aws.client("events")
    events.create_event_bus(Name="stax")
    deployed_function(aws, target, "check_baseline_drift")
    options = baselining.parse_options(str(baselines_file), "stax", None, "rate(1 day)")
    baselining.ensure_baselining(aws, target, options, arns(target))
    baselining.ensure_baselining(aws, target, options, arns(target))
    report = teardown.delete_stage(aws, target, force=True, chalice_dir=tmp_path)
    assert f"rule {target.account_events_rule_name} on bus stax" in report.deleted
    assert f"bucket {target.fleet_bucket}" in report.deleted
    assert f"rule {target.drift_rule_name}" in report.deleted
    assert rules_on(events, "stax") == {} and rules_on(events, "default") == {}
