"""The IAM documents deploy.sh and Chalice actually created on the local stack."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import boto3
import pytest

from stax_orchestrator import deploy
from stax_orchestrator.deploy import lambdas, policies, stage
from stax_orchestrator.deploy.alerts import alert_event_pattern

pytestmark = pytest.mark.e2e
TARGET = deploy.Target("local", "us-east-1", "000000000000")


def _document(value: Any) -> Any:
    return json.loads(urllib.parse.unquote(value)) if isinstance(value, str) else value


def test_state_machine_role_policy_and_trust_are_exactly_ours(deployed: dict[str, Any]) -> None:
    iam = boto3.client("iam")
    role = iam.get_role(RoleName=deployed["role"].rsplit("/", 1)[-1])["Role"]
    assert role["RoleName"] == "stax-orchestrator-local-states"
    assert _document(role["AssumeRolePolicyDocument"]) == policies.states_trust_policy(TARGET)
    assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == [
        "stax-orchestrator-local-states"
    ]
    policy = iam.get_role_policy(
        RoleName=role["RoleName"], PolicyName="stax-orchestrator-local-states"
    )["PolicyDocument"]
    arns = lambdas.recorded_function_arns("local")
    assert _document(policy) == policies.states_policy(TARGET, arns)
    assert iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"] == []


def test_each_lambda_has_its_own_role_with_only_what_it_needs(deployed: dict[str, Any]) -> None:
    iam, lam = boto3.client("iam"), boto3.client("lambda")
    config = stage.load_stage("local")
    groups: dict[str, list[str]] = {}
    for function, filename in config.policy_files.items():
        groups.setdefault(filename, []).append(function)
    for function in deploy.FUNCTIONS:
        role_arn = lam.get_function_configuration(FunctionName=TARGET.function_name(function))[
            "Role"
        ]
        role_name = role_arn.rsplit("/", 1)[-1]
        assert role_name == TARGET.function_role_name(function)
        role = iam.get_role(RoleName=role_name)["Role"]
        assert _document(role["AssumeRolePolicyDocument"]) == policies.lambda_trust_policy(TARGET)
        names = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        assert len(names) == 1, (function, names)
        document = _document(
            iam.get_role_policy(RoleName=role_name, PolicyName=names[0])["PolicyDocument"]
        )
        expected = policies.lambda_policy(
            TARGET, groups[config.policy_files[function]], config.token_parameters
        )
        assert document == expected, function
        reads_token = "ssm:GetParameters" in json.dumps(document)
        assert reads_token == (function in deploy.TOKEN_FUNCTIONS), function
        assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []


def test_alerts_flow_from_the_rule_through_the_alert_function_to_the_topic(
    deployed: dict[str, Any],
) -> None:
    sns, events = boto3.client("sns"), boto3.client("events")
    attributes = sns.get_topic_attributes(TopicArn=deployed["alert_topic"])["Attributes"]
    assert json.loads(attributes["Policy"]) == policies.alert_topic_policy(TARGET)
    rule = events.describe_rule(Name=TARGET.alert_rule_name)
    assert json.loads(rule["EventPattern"]) == alert_event_pattern(TARGET)
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == TARGET.function_arn("publish_alert")
