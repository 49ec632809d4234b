"""The deploy steps on moto: preflight, post-deploy resources, alerts, delete by name.

moto stands in for AWS here (SSM, KMS, IAM, DynamoDB, Step Functions, SNS, EventBridge,
Lambda, CloudWatch Logs), so the steps run in seconds without the local stack; executions
themselves are the e2e tier's, on MiniStack.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from stax_orchestrator import deploy
from stax_orchestrator.deploy import alerts, preflight, resources, stage, teardown
from stax_orchestrator.deploy.names import CHALICE_DIR
from stax_orchestrator.deploy.policies import states_policy
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


# -- post-deploy resources -----------------------------------------------------------------
def test_the_table_the_role_and_the_state_machines_are_created_once_then_left_alone(
    aws: Any, target: deploy.Target
) -> None:
    dynamodb, iam, sfn = (aws.client(s) for s in ("dynamodb", "iam", "stepfunctions"))
    arns = {f: target.function_arn(f) for f in deploy.FUNCTIONS}
    table = resources.ensure_table(dynamodb, target)
    assert resources.ensure_table(dynamodb, target) == table
    role = resources.ensure_role(iam, target, states_policy(target, arns))
    trust = iam.get_role(RoleName=target.role_name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Condition"]["StringEquals"] == {
        "aws:SourceAccount": target.account
    }
    values = deploy.template_values(arns, target, 7200)
    definition = deploy.render(deploy.load_template("task_watcher"), values)
    arn, first = resources.ensure_state_machine(sfn, target, "task_watcher", definition, role)
    _, second = resources.ensure_state_machine(sfn, target, "task_watcher", definition, role)
    changed = {**definition, "Comment": "changed"}
    again, third = resources.ensure_state_machine(sfn, target, "task_watcher", changed, role)
    assert (first, second, third) == ("created", "unchanged", "updated")
    assert again == arn == target.state_machine_arn("task_watcher")


def test_function_roles_made_by_chalice_are_tightened_to_this_account(
    aws: Any, target: deploy.Target
) -> None:
    iam = aws.client("iam")
    loose = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    iam.create_role(RoleName=target.function_role_name("validate_input"),
                    AssumeRolePolicyDocument=json.dumps(loose))  # fmt: skip
    assert resources.tighten_function_roles(iam, target) == [
        target.function_role_name("validate_input")
    ]
    role = iam.get_role(RoleName=target.function_role_name("validate_input"))["Role"]
    condition = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert condition == {"StringEquals": {"aws:SourceAccount": target.account}}


def test_a_redeploy_with_fewer_alert_flags_removes_the_dropped_subscriptions(
    aws: Any, target: deploy.Target
) -> None:
    arns = {f: target.function_arn(f) for f in deploy.FUNCTIONS}
    arns["publish_alert"] = deployed_function(aws, target, "publish_alert")
    sns = aws.client("sns")
    topic = alerts.ensure_alerts(aws, target, arns, emails=("a@example.com", "b@example.com"),
                                 https=("https://hooks.example.com/x",))  # fmt: skip
    queue = sns.subscribe(TopicArn=topic, Protocol="sqs",
                          Endpoint=f"arn:aws:sqs:{REGION}:{target.account}:mine")  # fmt: skip
    alerts.ensure_alerts(aws, target, arns, emails=("a@example.com",))
    endpoints = {
        (s["Protocol"], s["Endpoint"])
        for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    }
    assert endpoints == {("email", "a@example.com"),
                         ("sqs", f"arn:aws:sqs:{REGION}:{target.account}:mine")}  # fmt: skip
    assert queue["SubscriptionArn"]
    rule = aws.client("events").list_targets_by_rule(Rule=target.alert_rule_name)["Targets"]
    assert [t["Arn"] for t in rule] == [arns["publish_alert"]]


def test_an_alert_key_encrypts_the_topic_and_dropping_it_decrypts_it(
    aws: Any, target: deploy.Target
) -> None:
    arns = {f: target.function_arn(f) for f in deploy.FUNCTIONS}
    arns["publish_alert"] = deployed_function(aws, target, "publish_alert")
    key = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    topic = alerts.ensure_alerts(aws, target, arns, kms_key_arn=key)
    sns = aws.client("sns")
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"] == key
    alerts.ensure_alerts(aws, target, arns)
    assert not sns.get_topic_attributes(TopicArn=topic)["Attributes"].get("KmsMasterKeyId")


# -- delete by name ------------------------------------------------------------------------
def _deploy_everything(aws: Any, target: deploy.Target) -> None:
    arns = {f: deployed_function(aws, target, f) for f in deploy.FUNCTIONS}
    aws.client("logs").create_log_group(logGroupName=target.log_group("create_workload"))
    resources.ensure_table(aws.client("dynamodb"), target)
    role = resources.ensure_role(aws.client("iam"), target, states_policy(target, arns))
    values = deploy.template_values(arns, target, 7200)
    for kind in deploy.STATE_MACHINES:
        definition = deploy.render(deploy.load_template(kind), values)
        resources.ensure_state_machine(aws.client("stepfunctions"), target, kind, definition, role)
    alerts.ensure_alerts(aws, target, arns, emails=("ops@example.com",))


def test_delete_from_a_clone_without_state_files_removes_every_resource_of_the_stage(
    aws: Any, target: deploy.Target, tmp_path: Path
) -> None:
    _deploy_everything(aws, target)
    other = deploy.Target("local-2", target.region, target.account)
    deployed_function(aws, other, "validate_input")  # a stage whose name starts the same
    report = teardown.delete_stage(aws, target, chalice_dir=tmp_path)
    assert {f"function {target.function_name(f)}" for f in deploy.FUNCTIONS} <= set(report.deleted)
    assert f"table {target.table_name}" in report.deleted
    assert f"log group {target.log_group('create_workload')}" in report.deleted
    assert f"layer {target.layer_name}" in report.not_found  # never made here: reported
    lam, sfn, iam = aws.client("lambda"), aws.client("stepfunctions"), aws.client("iam")
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == [other.function_name("validate_input")]
    assert sfn.list_state_machines()["stateMachines"] == []
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert roles == [other.function_role_name("validate_input")]
    assert aws.client("dynamodb").list_tables()["TableNames"] == []
    assert aws.client("sns").list_topics()["Topics"] == []
    assert aws.client("events").list_rules()["Rules"] == []
    again = teardown.delete_stage(aws, target, chalice_dir=tmp_path)
    assert again.deleted == [] and again.not_found


def test_delete_removes_the_stage_records_and_keeps_other_stages_records(
    aws: Any, target: deploy.Target, tmp_path: Path
) -> None:
    deployed = tmp_path / "deployed"
    deployed.mkdir()
    names = ("local.json", "local-statemachines.json", "local-2.json", "prod.json")
    for name in names:
        (deployed / name).write_text("{}")
    teardown.delete_stage(aws, target, chalice_dir=tmp_path)
    assert sorted(p.name for p in deployed.iterdir()) == ["local-2.json", "prod.json"]


def test_delete_refuses_while_an_execution_of_the_stage_runs_unless_forced(
    aws: Any, target: deploy.Target, tmp_path: Path
) -> None:
    _deploy_everything(aws, target)
    sfn = aws.client("stepfunctions")
    sfn.start_execution(stateMachineArn=target.state_machine_arn("workload"), input="{}")
    with pytest.raises(deploy.DeployError, match="running"):
        teardown.delete_stage(aws, target, chalice_dir=tmp_path)
    assert sfn.list_state_machines()["stateMachines"]
    report = teardown.delete_stage(aws, target, force=True, chalice_dir=tmp_path)
    assert f"state machine {target.state_machine_name('workload')}" in report.deleted
