"""The IAM documents deploy.sh and Chalice actually created on the local stack."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import boto3
import pytest

from stax_orchestrator import deploy

pytestmark = pytest.mark.e2e
TARGET = deploy.Target("local", "us-east-1", "000000000000")


def _document(value: Any) -> Any:
    return json.loads(urllib.parse.unquote(value)) if isinstance(value, str) else value


def test_state_machine_role_policy_is_exactly_ours(deployed: dict[str, Any]) -> None:
    iam = boto3.client("iam")
    role = iam.get_role(RoleName="stax-orchestrator-local-states")["Role"]
    assert _document(role["AssumeRolePolicyDocument"]) == deploy.states_trust_policy()
    assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == [
        "stax-orchestrator-local-states"
    ]
    policy = iam.get_role_policy(
        RoleName=role["RoleName"], PolicyName="stax-orchestrator-local-states"
    )["PolicyDocument"]
    assert _document(policy) == deploy.states_policy(TARGET, deploy.function_arns("local"))
    assert iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"] == []


def test_every_lambda_role_has_only_the_least_privilege_policy(deployed: dict[str, Any]) -> None:
    iam, lam = boto3.client("iam"), boto3.client("lambda")
    expected = deploy.lambda_policy(TARGET)
    for function in deploy.FUNCTIONS:
        role_arn = lam.get_function_configuration(
            FunctionName=f"stax-orchestrator-local-{function}"
        )["Role"]
        role_name = role_arn.rsplit("/", 1)[-1]
        names = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        assert len(names) == 1, (function, names)
        document = iam.get_role_policy(RoleName=role_name, PolicyName=names[0])["PolicyDocument"]
        assert _document(document) == expected, function
        assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []


def test_alert_topic_policy_and_rule(deployed: dict[str, Any]) -> None:
    sns, events = boto3.client("sns"), boto3.client("events")
    attributes = sns.get_topic_attributes(TopicArn=deployed["alert_topic"])["Attributes"]
    assert json.loads(attributes["Policy"]) == deploy.alert_topic_policy(TARGET)
    rule = events.describe_rule(Name="stax-orchestrator-local-operation-alerts")
    assert json.loads(rule["EventPattern"]) == deploy.alert_event_pattern(deployed["workload"])
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == deployed["alert_topic"]
    assert target["InputTransformer"]["InputTemplate"] == deploy.ALERT_TEMPLATE
