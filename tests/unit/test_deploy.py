"""The deploy tooling: names, rendering, and the exact IAM documents of a stage."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from stax_orchestrator import deploy
from stax_orchestrator.deploy import policies, templates
from stax_orchestrator.deploy.alerts import alert_event_pattern

TARGET = deploy.Target("local", "us-east-1", "000000000000")
ARNS = {name: TARGET.function_arn(name) for name in deploy.FUNCTIONS}
PARAMETERS = ("/orchestrator/stax/access/key", "/orchestrator/stax/access/key/secret")
KEY = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _logs(*functions: str) -> dict[str, Any]:
    groups = [
        f"arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/stax-orchestrator-local-{f}"
        for f in functions
    ]
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [r for g in groups for r in (g, f"{g}:log-stream:*")],
    }


def test_placeholder_stem_is_the_function_name() -> None:
    assert deploy.placeholder("validate_input") == "ValidateInputArn"
    assert deploy.placeholder("get_task_status") == "GetTaskStatusArn"


def test_every_template_placeholder_is_filled_with_typed_values() -> None:
    values = deploy.template_values(ARNS, TARGET, 600)
    watcher = deploy.render(deploy.load_template("task_watcher"), values)
    workload = deploy.render(deploy.load_template("workload"), values)
    fleet = deploy.render(deploy.load_template("fleet"), values)
    assert "${" not in json.dumps([watcher, workload, fleet])
    # A backstop above the longest watch a request may ask for (a day).
    assert watcher["TimeoutSeconds"] == 86_400 + 900
    assert watcher["States"]["Use Default Timeout"]["Result"] == 600
    assert workload["States"]["Create Workload"]["Resource"] == ARNS["create_workload"]
    assert workload["States"]["Watch Task"]["Parameters"]["StateMachineArn"] == (
        "arn:aws:states:us-east-1:000000000000:stateMachine:stax-orchestrator-local-task-watcher"
    )


def test_missing_placeholder_value_is_a_deploy_error() -> None:
    with pytest.raises(deploy.DeployError, match="ValidateInputArn"):
        deploy.render({"Resource": "${ValidateInputArn}"}, {})


@pytest.mark.parametrize(
    ("text", "seconds"), [("7200", 7200), ("0600", 600), ("10", 10), (" 86400 ", 86400)]
)
def test_watch_timeout_is_read_as_decimal_seconds(text: str, seconds: int) -> None:
    assert templates.parse_watch_timeout(text) == seconds


@pytest.mark.parametrize("text", ["0100000", "9", "86401", "1e3", "-5", "0x10", ""])
def test_a_watch_timeout_out_of_range_or_not_decimal_is_refused(text: str) -> None:
    with pytest.raises(deploy.DeployError, match="--watch-timeout"):
        templates.parse_watch_timeout(text)


def test_a_token_function_reads_exactly_its_parameters_and_uses_the_table() -> None:
    assert policies.lambda_policy(TARGET, ["create_workload"], PARAMETERS) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadStaxApiToken",
                "Effect": "Allow",
                "Action": "ssm:GetParameters",
                "Resource": [
                    "arn:aws:ssm:us-east-1:000000000000:parameter/orchestrator/stax/access/key",
                    "arn:aws:ssm:us-east-1:000000000000:parameter/orchestrator/stax/access/key/secret",
                ],
            },
            {
                "Sid": "UseCoordinationTable",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                           "dynamodb:DeleteItem"],
                "Resource": "arn:aws:dynamodb:us-east-1:000000000000:table/stax-orchestrator-local-coordination",
            },
            {
                # Workload parameter values the stage keeps in SSM, its folder only.
                "Sid": "ReadWorkloadSecrets",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": "arn:aws:ssm:us-east-1:000000000000:parameter/orchestrator/stax/workload-parameters/*",
            },
            _logs("create_workload"),
        ],
    }  # fmt: skip


def test_a_customer_managed_key_is_granted_for_decryption_through_ssm_only() -> None:
    policy = policies.lambda_policy(
        TARGET, ["get_task_status"], ("/team/stax/key", "/team/stax/secret"), token_key_arn=KEY
    )
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["ReadStaxApiToken"]["Resource"] == [
        "arn:aws:ssm:us-east-1:000000000000:parameter/team/stax/key",
        "arn:aws:ssm:us-east-1:000000000000:parameter/team/stax/secret",
    ]
    assert by_sid["DecryptStaxApiToken"] == {
        "Sid": "DecryptStaxApiToken",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": KEY,
        "Condition": {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}},
    }


def test_functions_that_need_no_token_get_only_their_own_logs() -> None:
    policy = policies.lambda_policy(
        TARGET, ["validate_input", "record_fleet_wave"], PARAMETERS, token_key_arn=KEY
    )
    assert policy["Statement"] == [_logs("validate_input", "record_fleet_wave")]


def test_the_alert_function_may_only_publish_to_the_alert_topic_and_use_its_key() -> None:
    policy = policies.lambda_policy(TARGET, ["publish_alert"], PARAMETERS, alert_key_arn=KEY)
    assert policy["Statement"][:2] == [
        {
            "Sid": "PublishAlerts",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": "arn:aws:sns:us-east-1:000000000000:stax-orchestrator-local-alerts",
        },
        {
            "Sid": "EncryptAlerts",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": KEY,
            "Condition": {"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}},
        },
    ]


def test_a_log_permission_never_matches_another_stages_functions() -> None:
    dev = deploy.Target("dev", "us-east-1", "000000000000")
    for function in deploy.FUNCTIONS:
        policy = policies.lambda_policy(dev, [function], PARAMETERS)
        logs = policy["Statement"][-1]["Resource"]
        assert all("*" not in r.replace(":log-stream:*", "") for r in logs)
        assert not any("stax-orchestrator-dev-2" in r for r in logs)


def test_functions_with_different_needs_may_not_share_a_policy_file() -> None:
    with pytest.raises(ValueError, match="give each its own iam_policy_file"):
        policies.lambda_policy(TARGET, ["create_workload", "validate_input"], PARAMETERS)


def test_roles_trust_their_service_for_this_account_and_these_machines_only() -> None:
    [lambda_trust] = policies.lambda_trust_policy(TARGET)["Statement"]
    assert lambda_trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert lambda_trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "000000000000"}}
    [states_trust] = policies.states_trust_policy(TARGET)["Statement"]
    assert states_trust["Principal"] == {"Service": "states.amazonaws.com"}
    condition = states_trust["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": "000000000000"}
    assert set(condition) == {"StringEquals", "ArnLike"}

    def trusted(source_arn: str) -> bool:  # ArnLike: * and ? match within the ARN
        return any(
            fnmatch.fnmatchcase(source_arn, p) for p in condition["ArnLike"]["aws:SourceArn"]
        )

    machine = "arn:aws:states:us-east-1:000000000000:stateMachine:stax-orchestrator-local"
    for kind in ("task-watcher", "workload", "fleet", "account-baseline"):
        assert trusted(f"{machine}-{kind}")
    # The fleet's Distributed Map children run as the Map Run's machine, fleet/LABEL.
    assert trusted(f"{machine}-fleet/0d5c6b3e-map-run-label")
    assert not trusted(f"{machine}-workload/label")  # no Map there: no wildcard either
    assert not trusted(f"{machine}-fleet-extra")
    assert not trusted(
        "arn:aws:states:us-east-1:000000000000:stateMachine:stax-orchestrator-dev-fleet"
    )


def test_states_policy_names_every_resource_and_never_the_alert_function() -> None:
    policy = policies.states_policy(TARGET, ARNS, log_delivery=False)
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    invoked = by_sid["InvokeOrchestratorFunctions"]["Resource"]
    # The alert, status and drift functions are EventBridge's to invoke, the starter the
    # account events queue's: never a state machine's.
    assert invoked == [
        ARNS[n]
        for n in deploy.FUNCTIONS
        if n
        not in (
            "publish_alert",
            "check_baseline_drift",
            "start_account_baselines",
            "publish_status_event",
        )
    ]
    assert by_sid["StartOwnStateMachines"]["Resource"] == [
        "arn:aws:states:us-east-1:000000000000:stateMachine:stax-orchestrator-local-task-watcher",
        "arn:aws:states:us-east-1:000000000000:stateMachine:stax-orchestrator-local-workload",
    ]
    for statement in policy["Statement"]:
        if statement["Sid"] == "ReadHaltAlarms":  # "*": DescribeAlarms' API reference
            assert statement["Action"] == "cloudwatch:DescribeAlarms"
            continue
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            assert resource != "*"


def test_alerts_cover_failed_timed_out_and_aborted_operations_fleets_and_account_baselines() -> (
    None
):
    assert alert_event_pattern(TARGET) == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "status": ["FAILED", "TIMED_OUT", "ABORTED"],
            "stateMachineArn": [TARGET.state_machine_arn("workload"),
                                TARGET.state_machine_arn("fleet"),
                                TARGET.state_machine_arn("account_baseline")],
        },
    }  # fmt: skip


def test_log_delivery_and_tracing_are_granted_on_star_only_when_switched_on() -> None:
    """AWS supports no resource-level permission for log delivery and X-Ray: "*" is the
    only resource they take, so they are granted only when the stage uses them."""
    plain = policies.states_policy(TARGET, ARNS, log_delivery=False, xray=False)
    observed = policies.states_policy(TARGET, ARNS, log_delivery=True, xray=True)
    extra = [s for s in observed["Statement"] if s not in plain["Statement"]]
    assert extra == [
        {"Sid": "DeliverExecutionLogs", "Effect": "Allow", "Resource": "*",
         "Action": ["logs:CreateLogDelivery", "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"]},
        # The writes take a log group: only the machines' own.
        {"Sid": "WriteExecutionLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [
             "arn:aws:logs:us-east-1:000000000000:log-group:/aws/vendedlogs/states/"
             f"stax-orchestrator-local-{kind}:log-stream:*"
             for kind in ("task-watcher", "workload", "fleet", "account-baseline")]},
        {"Sid": "SendTraces", "Effect": "Allow", "Resource": "*",
         "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules", "xray:GetSamplingTargets"]},
    ]  # fmt: skip
    for statement in plain["Statement"]:
        resources = statement["Resource"]
        if statement["Sid"] == "ReadHaltAlarms":  # a read of alarm states; "*" as documented
            assert statement["Action"] == "cloudwatch:DescribeAlarms"
            continue
        assert "*" not in (resources if isinstance(resources, list) else [resources])


def test_each_function_is_granted_only_the_calls_its_code_makes() -> None:
    def actions(function: str) -> set[str]:
        statements = policies.function_statements(TARGET, function, PARAMETERS)
        return {
            a
            for s in statements
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }

    # The token is read in one GetParameters call; GetParameter reads workload secrets only
    # (the stage's folder), and only where a value is sent or compared.
    create = policies.function_statements(TARGET, "create_workload", PARAMETERS)
    assert [s["Resource"] for s in create if s["Action"] == "ssm:GetParameter"] == [
        "arn:aws:ssm:us-east-1:000000000000:parameter/orchestrator/stax/workload-parameters/*"
    ]
    assert "ssm:GetParameter" not in actions("delete_workload") | actions("get_task_status")
    assert "dynamodb:Query" not in actions("create_workload")
    # A target's result is written in a batch; only the summary reads a partition.
    assert actions("record_fleet_target") == {"dynamodb:BatchWriteItem"}
    assert "dynamodb:Query" in actions("summarise_fleet")
    # The baseline functions read the stored file at its latest version, and may list
    # that one key so that a missing file is NoSuchKey (404), not AccessDenied (403).
    statements = policies.function_statements(TARGET, "plan_account_baselines", PARAMETERS)
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ReadStoredBaselines"]["Action"] == "s3:GetObject"
    assert by_sid["TellMissingBaselines"]["Condition"] == {
        "StringEquals": {"s3:prefix": "baselines/baselines.yaml"}
    }
    # The Map Runs are the CLI's to describe (as the user), not the machines'.
    states = policies.states_policy(TARGET, ARNS, log_delivery=False)
    assert not {
        a
        for s in states["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if "MapRun" in a
    }


@pytest.mark.parametrize("stage", ["local", "dev"])
def test_every_function_has_a_policy_of_its_own_so_it_writes_only_its_own_logs(stage: str) -> None:
    from stax_orchestrator.deploy.stage import load_stage

    files = load_stage(stage).policy_files
    assert len(set(files.values())) == len(deploy.FUNCTIONS), files
    policy = policies.lambda_policy(TARGET, ["get_task_status"], PARAMETERS)
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["UseCoordinationTable"]["Action"] == ["dynamodb:DeleteItem"]
    assert all("get_task_status" in group for group in by_sid["WriteOwnLogs"]["Resource"])


def test_only_the_stage_s_account_events_rule_may_send_to_its_queues() -> None:
    from stax_orchestrator.deploy.cfn import sub

    [statement] = policies.account_events_queue_policy(TARGET)["Statement"]
    rule = f"arn:aws:events:us-east-1:000000000000:rule/{TARGET.account_events_rule_name}"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == [TARGET.account_events_queue_arn, TARGET.account_events_dlq_arn]
    sources = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sources[0] == rule
    # The rule's bus is the stack's parameter: substituted by CloudFormation.
    assert sub(sources[1]) == {"Fn::Sub": rule.replace("rule/", "rule/${StaxEventBusName}/")}


def test_the_starter_uses_only_the_slots_item_of_the_table_and_starts_only_account_baselines() -> (
    None
):
    statements = {
        s["Sid"]: s
        for s in policies.function_statements(TARGET, "start_account_baselines", ("/k", "/s"))
    }
    slots = statements["UseBaselineSlots"]
    assert slots["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["account-baselines#running"]}
    }
    assert statements["StartAccountBaselines"]["Resource"] == TARGET.state_machine_arn(
        "account_baseline"
    )
    assert statements["ConsumeAccountEvents"]["Resource"] == TARGET.account_events_queue_arn
    assert not any("ssm:" in str(s["Action"]) for s in statements.values())  # no token


def _config_with(tmp_path: Path, **stages: dict[str, str]) -> Path:
    """A ``.chalice`` folder whose stages have only the environment given."""
    chalice = tmp_path / ".chalice"
    chalice.mkdir(parents=True)
    config = {"version": "2.0", "app_name": "stax-orchestrator",
              "stages": {name: {"environment_variables": env} for name, env in stages.items()}}  # fmt: skip
    (chalice / "config.json").write_text(json.dumps(config))
    return chalice


def token(stage: str) -> dict[str, str]:
    return {"STAX_ACCESS_KEY_PARAMETER": f"/stax-orchestrator/{stage}/key",
            "STAX_SECRET_KEY_PARAMETER": f"/stax-orchestrator/{stage}/secret"}  # fmt: skip


def test_each_stage_names_its_own_token_parameters(tmp_path: Path) -> None:
    from stax_orchestrator.deploy.stage import StageConfigError, load_stage

    shipped = {load_stage(s).token_parameters for s in ("dev", "local")}
    assert len(shipped) == 2  # the shipped stages share none
    fine = _config_with(tmp_path / "fine", dev=token("dev"), prod=token("prod"))
    assert load_stage("prod", fine).token_parameters == tuple(token("prod").values())
    shared = _config_with(tmp_path / "shared", dev=token("dev"), prod=token("dev"))
    with pytest.raises(StageConfigError, match="'prod' and 'dev' share the token parameter"):
        load_stage("prod", shared)
    unnamed = _config_with(tmp_path / "unnamed", prod={"STAX_REGION": "au1.staxapp.cloud"})
    with pytest.raises(StageConfigError, match="names no token parameters"):
        load_stage("prod", unnamed)
