"""deploy tooling: placeholder names, template rendering and the exact IAM policy documents."""

from __future__ import annotations

import json

import pytest

from stax_orchestrator import deploy

TARGET = deploy.Target("local", "us-east-1", "000000000000")
ARNS = {
    name: f"arn:aws:lambda:us-east-1:000000000000:function:stax-orchestrator-local-{name}"
    for name in deploy.FUNCTIONS
}


def test_placeholder_stem_is_the_function_name() -> None:
    assert deploy.placeholder("validate_input") == "ValidateInputArn"
    assert deploy.placeholder("get_task_status") == "GetTaskStatusArn"


def test_every_template_placeholder_is_filled_with_typed_values() -> None:
    values = deploy.template_values(ARNS, TARGET, 600)
    watcher = deploy.render(deploy.load_template("task_watcher"), values)
    workload = deploy.render(deploy.load_template("workload"), values)
    fleet = deploy.render(deploy.load_template("fleet"), values)
    text = json.dumps([watcher, workload, fleet])
    assert "${" not in text
    # A backstop above the longest watch a request may ask for (a day).
    assert watcher["TimeoutSeconds"] == 86_400 + 900
    assert watcher["States"]["Use Default Timeout"]["Result"] == 600
    choice = watcher["States"]["Task Finished?"]["Choices"][2]
    assert choice["NumericGreaterThanEqualsPath"] == "$.watch_timeout_seconds"
    assert workload["States"]["Create Workload"]["Resource"] == ARNS["create_workload"]
    assert (
        workload["States"]["Watch Task"]["Parameters"]["StateMachineArn"]
        == "arn:aws:states:us-east-1:000000000000:stateMachine:stax-orchestrator-local-task-watcher"
    )


def test_missing_placeholder_value_is_a_deploy_error() -> None:
    with pytest.raises(deploy.DeployError, match="ValidateInputArn"):
        deploy.render({"Resource": "${ValidateInputArn}"}, {})


def test_lambda_policy_reads_only_the_two_parameters_uses_the_table_and_writes_logs() -> None:
    assert deploy.lambda_policy(TARGET) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadStaxApiToken",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:GetParameters"],
                "Resource": [
                    "arn:aws:ssm:us-east-1:000000000000:parameter/orchestrator/stax/access/key",
                    "arn:aws:ssm:us-east-1:000000000000:parameter/orchestrator/stax/access/key/secret",
                ],
            },
            {
                "Sid": "UseCoordinationTable",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:Query",
                ],
                "Resource": "arn:aws:dynamodb:us-east-1:000000000000:table/stax-orchestrator-local-coordination",
            },
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [
                    "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/stax-orchestrator-local-*",
                    "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/stax-orchestrator-local-*:log-stream:*",
                ],
            },
        ],
    }


def test_states_policy_names_every_resource() -> None:
    policy = deploy.states_policy(TARGET, ARNS)
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["InvokeOrchestratorFunctions"]["Resource"] == [ARNS[n] for n in deploy.FUNCTIONS]
    assert by_sid["StartOwnStateMachines"] == {
        "Sid": "StartOwnStateMachines",
        "Effect": "Allow",
        "Action": "states:StartExecution",
        "Resource": [
            "arn:aws:states:us-east-1:000000000000:stateMachine:stax-orchestrator-local-task-watcher",
            "arn:aws:states:us-east-1:000000000000:stateMachine:stax-orchestrator-local-workload",
        ],
    }
    assert by_sid["FollowOwnExecutions"]["Resource"] == [
        "arn:aws:states:us-east-1:000000000000:execution:stax-orchestrator-local-task-watcher:*",
        "arn:aws:states:us-east-1:000000000000:execution:stax-orchestrator-local-workload:*",
    ]
    for statement in policy["Statement"]:
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            assert resource != "*"


def test_alerts_cover_failed_timed_out_and_aborted_executions_of_the_workload_machine() -> None:
    machine = TARGET.state_machine_arn("workload")
    assert deploy.alert_event_pattern(machine) == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": [machine]},
    }
    transformer = deploy.alert_input_transformer()
    for name in transformer["InputPathsMap"]:
        assert f"<{name}>" in transformer["InputTemplate"]


def test_only_the_alert_rule_may_publish_to_the_topic() -> None:
    policy = deploy.alert_topic_policy(TARGET)
    publish = [s for s in policy["Statement"] if "Publish" in str(s["Action"])]
    assert publish == [
        {
            "Sid": "AlertRulePublishes",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": "arn:aws:sns:us-east-1:000000000000:stax-orchestrator-local-alerts",
            "Condition": {
                "ArnEquals": {
                    "aws:SourceArn": "arn:aws:events:us-east-1:000000000000:rule/stax-orchestrator-local-operation-alerts"
                }
            },
        }
    ]
    for statement in policy["Statement"]:
        assert statement["Resource"] != "*"
