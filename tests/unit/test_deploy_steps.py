"""The deploy steps on moto: preflight, what the post-deploy step does to Chalice's
Lambdas, the stack module's own logic, delete of the Lambdas by name.

moto stands in for AWS here (SSM, KMS, IAM, Lambda, CloudWatch Logs), so these run in
seconds; the stage's stack itself -- change sets, rollback, no-change runs, delete --
is the e2e tier's, on MiniStack's CloudFormation (tests/e2e/test_stage_lifecycle.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from stax_orchestrator import deploy
from stax_orchestrator.deploy import lambdas, preflight, stack, stage, steps, teardown
from stax_orchestrator.deploy.names import CHALICE_DIR
from tests.unit.support import REGION, deployed_function


@pytest.fixture()
def target(aws: Any) -> deploy.Target:
    return preflight.resolve_target("local", aws)


@pytest.fixture()
def chalice_dir(tmp_path: Path) -> Path:
    """A copy of the project's .chalice/config.json, to change and write policies into."""
    folder = tmp_path / ".chalice"
    folder.mkdir()
    shutil.copy(CHALICE_DIR / "config.json", folder / "config.json")
    return folder


def _rename_parameters(chalice_dir: Path, stage_name: str, **env: str) -> None:
    path = chalice_dir / "config.json"
    config = json.loads(path.read_text())
    config["stages"][stage_name]["environment_variables"].update(env)
    path.write_text(json.dumps(config))


def _store_token(aws: Any, names: tuple[str, str], key: str | None = None) -> None:
    ssm = aws.client("ssm")
    for name, value in zip(names, ("access-key-id", "the-secret-1A!"), strict=True):
        extra = {"KeyId": key} if key else {}
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True, **extra)


# -- the stage's configuration ------------------------------------------------------------
def test_a_stage_that_renames_its_parameters_gets_a_policy_for_exactly_those(
    aws: Any, target: deploy.Target, chalice_dir: Path
) -> None:
    _rename_parameters(chalice_dir, "local", STAX_ACCESS_KEY_PARAMETER="/team-a/stax/id",
                       STAX_SECRET_KEY_PARAMETER="/team-a/stax/secret")  # fmt: skip
    config = stage.load_stage("local", chalice_dir)
    assert config.token_parameters == ("/team-a/stax/id", "/team-a/stax/secret")
    assert config.lambda_timeout == 30  # the stage's value over the global 60
    groups = preflight.write_policies(target, config, None, None, chalice_dir)
    assert groups["policy-local-no-token.json"] == ["validate_input"]
    assert groups["policy-local-fleet-record.json"] == ["record_fleet_target"]
    written = json.loads((chalice_dir / "policy-local.json").read_text())
    [read] = [s for s in written["Statement"] if s["Sid"] == "ReadStaxApiToken"]
    assert read["Resource"] == [
        f"arn:aws:ssm:{REGION}:{target.account}:parameter/team-a/stax/id",
        f"arn:aws:ssm:{REGION}:{target.account}:parameter/team-a/stax/secret",
    ]
    no_token = json.loads((chalice_dir / "policy-local-no-token.json").read_text())
    assert "ssm" not in json.dumps(no_token)


def test_an_unknown_stage_is_refused_by_name(chalice_dir: Path) -> None:
    with pytest.raises(stage.StageConfigError, match="'prod' is not in"):
        stage.load_stage("prod", chalice_dir)


# -- preflight -----------------------------------------------------------------------------
def test_preflight_names_missing_parameters_and_the_setup_command(
    aws: Any, target: deploy.Target
) -> None:
    config = stage.load_stage("local")
    with pytest.raises(deploy.DeployError, match=r"stax-orchestrator setup --stage local"):
        preflight.check_token(aws, target, config, None)


def test_a_customer_managed_key_passes_preflight_only_when_the_stage_grants_it(
    aws: Any, target: deploy.Target
) -> None:
    config = stage.load_stage("local")
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    other = kms.create_key()["KeyMetadata"]
    _store_token(aws, config.token_parameters, key["KeyId"])
    with pytest.raises(deploy.DeployError, match="--kms-key-id"):
        preflight.check_token(aws, target, config, None)  # the grant is missing
    with pytest.raises(deploy.DeployError, match="but the stage grants"):
        preflight.check_token(aws, target, config, other["KeyId"])
    assert preflight.check_token(aws, target, config, key["KeyId"]) == key["Arn"]


def test_the_aws_managed_key_needs_no_grant(aws: Any, target: deploy.Target) -> None:
    config = stage.load_stage("local")
    _store_token(aws, config.token_parameters)
    assert preflight.check_token(aws, target, config, None) is None


def test_function_roles_made_by_chalice_are_tightened_to_this_account(
    aws: Any, target: deploy.Target
) -> None:
    iam = aws.client("iam")
    loose = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    iam.create_role(RoleName=target.function_role_name("validate_input"),
                    AssumeRolePolicyDocument=json.dumps(loose))  # fmt: skip
    assert lambdas.tighten_function_roles(iam, target) == [
        target.function_role_name("validate_input")
    ]
    role = iam.get_role(RoleName=target.function_role_name("validate_input"))["Role"]
    condition = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert condition == {"StringEquals": {"aws:SourceAccount": target.account}}


def test_the_recorded_function_arns_are_chalices_and_a_missing_one_is_named(
    tmp_path: Path,
) -> None:
    deployed = tmp_path / "deployed"
    deployed.mkdir()
    with pytest.raises(deploy.DeployError, match="chalice deploy --stage local"):
        lambdas.recorded_function_arns("local", tmp_path)
    records = [{"resource_type": "lambda_function", "name": f, "lambda_arn": f"arn:{f}"}
               for f in deploy.FUNCTIONS if f != "plan_fleet"]  # fmt: skip
    (deployed / "local.json").write_text(json.dumps({"resources": records}))
    with pytest.raises(deploy.DeployError, match="plan_fleet"):
        lambdas.recorded_function_arns("local", tmp_path)


def test_function_log_groups_get_the_retention_and_a_missing_one_is_made(
    aws: Any, target: deploy.Target
) -> None:
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=target.log_group("create_workload"))
    made = lambdas.set_log_retention(logs, target, 30)
    assert target.log_group("create_workload") not in made
    assert len(made) == len(deploy.FUNCTIONS) - 1
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{target.prefix}-")
    assert {g.get("retentionInDays") for g in groups["logGroups"]} == {30}


def test_a_stage_stack_that_is_not_there_is_none_and_a_refusal_goes_up(aws: Any) -> None:
    from botocore.exceptions import ClientError

    cloudformation = aws.client("cloudformation")
    assert stack.describe(cloudformation, "stax-orchestrator-nowhere") is None

    class Refusing:
        def describe_stacks(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "Describe")

    with pytest.raises(ClientError):
        stack.describe(Refusing(), "stax-orchestrator-nowhere")


def test_waiting_polls_faster_first_and_gives_up_with_what_it_waited_for() -> None:
    slept: list[float] = []
    answers = iter(["CREATE_PENDING", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"])
    done = stack.wait(lambda: next(answers), lambda a: a.endswith("COMPLETE"), "change set",
                      sleep=slept.append)  # fmt: skip
    assert done == "CREATE_COMPLETE" and slept == [0.5, 0.75]
    with pytest.raises(deploy.DeployError, match="change set: still not done after 0 s"):
        stack.wait(lambda: "PENDING", lambda a: False, "change set", timeout=0, sleep=slept.append)


def test_delete_removes_the_stage_records_and_keeps_other_stages_records(
    aws: Any, target: deploy.Target, tmp_path: Path
) -> None:
    deployed = tmp_path / "deployed"
    deployed.mkdir()
    names = ("local.json", "local-statemachines.json", "local-2.json", "prod.json")
    for name in names:
        (deployed / name).write_text("{}")
    report = teardown.delete_stage(aws, target, chalice_dir=tmp_path)
    assert sorted(p.name for p in deployed.iterdir()) == ["local-2.json", "prod.json"]
    assert f"stack {target.stack_name}" in report.not_found and not report.left


def test_delete_removes_chalices_lambdas_by_name_and_leaves_another_stage_alone(
    aws: Any, target: deploy.Target, tmp_path: Path
) -> None:
    for function in deploy.FUNCTIONS:
        deployed_function(aws, target, function)
    other = deploy.Target("local-2", target.region, target.account)
    deployed_function(aws, other, "validate_input")  # a stage whose name starts the same
    report = teardown.delete_stage(aws, target, chalice_dir=tmp_path)
    assert {f"function {target.function_name(f)}" for f in deploy.FUNCTIONS} <= set(report.deleted)
    assert f"layer {target.layer_name}" in report.not_found  # never made here: reported
    names = [f["FunctionName"] for f in aws.client("lambda").list_functions()["Functions"]]
    assert names == [other.function_name("validate_input")]
    roles = [r["RoleName"] for r in aws.client("iam").list_roles()["Roles"]]
    assert roles == [other.function_role_name("validate_input")]
    assert report.left == []


# -- the alert topic's key and the dashboard's alarms -----------------------------------
def test_the_alert_topic_is_encrypted_and_lets_only_the_stages_alarms_publish() -> None:
    from stax_orchestrator.deploy.observability import Observability
    from stax_orchestrator.deploy.template import stage_template

    unit = deploy.Target("unit", REGION, "123456789012")
    arns = {f: unit.function_arn(f) for f in deploy.FUNCTIONS}
    groups = {f: unit.log_group(f) for f in deploy.FUNCTIONS}
    template = stage_template("unit", Observability(), arns, groups, watch_timeout=7200)
    resources = template["Resources"]
    assert resources["AlertTopic"]["Properties"]["KmsMasterKeyId"]["Fn::If"][2] == ("alias/aws/sns")
    from stax_orchestrator.deploy.policies import alert_topic_policy

    statements = {s["Sid"]: s for s in alert_topic_policy(unit)["Statement"]}
    alarms = statements["StageAlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Action"] == "SNS:Publish"
    assert alarms["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert alarms["Condition"]["ArnLike"]["aws:SourceArn"] == (
        f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:stax-orchestrator-unit-*"
    )


def test_a_dashboard_needs_a_customer_managed_alert_key_that_lets_cloudwatch_use_it(
    aws: Any,
) -> None:
    with pytest.raises(deploy.DeployError, match="--alert-kms-key-id"):
        steps.check_dashboard_key(True, None)
    steps.check_dashboard_key(False, None)
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(deploy.DeployError, match=r"for cloudwatch\.amazonaws\.com"):
        preflight.check_alarm_key(kms, key)
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    policy["Statement"].append({
        "Sid": "AlarmsPublishToTheAlertTopic", "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
    })  # fmt: skip
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    preflight.check_alarm_key(kms, key)
