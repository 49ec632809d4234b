"""CloudFormation vocabulary of the package, and its optional parts.

Role: the helpers every part of the template uses (:func:`symbolic_target`, :func:`sub`,
:func:`pascal`, Chalice's logical ids) and the resources of the features a stage may
switch on -- the dashboard and alarms (``--dashboard``) and automatic baselining (the
``StaxEventBusName`` / ``BaselineDriftSchedule`` parameters). ``template`` assembles the
whole stage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.settings import ACCOUNT_EVENTS_MAX_RECEIVES
from stax_orchestrator.deploy import observability
from stax_orchestrator.deploy.baselining import (
    ACCOUNT_TARGET_ID,
    DRIFT_TARGET_ID,
    account_event_pattern,
)
from stax_orchestrator.deploy.names import DRIFT_FUNCTION, QUEUE_FUNCTION, Target
from stax_orchestrator.deploy.policies import account_events_queue_policy

#: The account events queue's visibility timeout: six times the longest Lambda timeout of
#: the stages (``lambda_timeout`` 60 s), as Lambda's documentation advises for an SQS source.
QUEUE_VISIBILITY_SECONDS = 360


def symbolic_target(stage: str) -> Target:
    """The stage's names with CloudFormation's pseudo parameters for account and region."""
    return Target(stage, "${AWS::Region}", "${AWS::AccountId}", "${AWS::Partition}")


def sub(value: Any) -> Any:
    """Every string that holds a ``${...}`` under ``Fn::Sub`` (the rest as it is)."""
    if isinstance(value, dict):
        return {key: sub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [sub(item) for item in value]
    if isinstance(value, str) and "${" in value:
        return {"Fn::Sub": value}
    return value


def pascal(value: Any) -> Any:
    """An API-shaped document (``loggingConfiguration``) in CloudFormation's key case."""
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: pascal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [pascal(item) for item in value]
    return value


def function_id(function: str) -> str:
    """Chalice's logical id of a function (its own rule)."""
    from chalice.utils import to_cfn_resource_name

    return str(to_cfn_resource_name(function))


def machine_id(kind: str) -> str:
    return function_id(kind) + "StateMachine"


# -- optional parts ---------------------------------------------------------------------
def baselining_resources(target: Target, functions: Mapping[str, Any]) -> dict[str, Any]:
    """The account events rule (with ``StaxEventBusName``) and the drift schedule (with
    ``BaselineDriftSchedule``). The file itself is data, not infrastructure: ``deploy.sh
    --baselines`` stores it, a pipeline runs ``aws s3 cp FILE`` to the
    ``BaselinesObjectUri`` output."""
    drift = functions[DRIFT_FUNCTION]
    return {
        # A burst of account events waits here; start_account_baselines takes them no
        # faster than the stage's slots allow (chalicelib.baselines.event_queue).
        "AccountEventsQueue": {
            "Type": "AWS::SQS::Queue",
            "Condition": "HasStaxEventBus",
            "Properties": {
                "QueueName": target.account_events_queue_name,
                "SqsManagedSseEnabled": True,
                # Six times the function's timeout (Lambda's advice for an SQS source), so a
                # batch still running is not delivered again.
                "VisibilityTimeout": QUEUE_VISIBILITY_SECONDS,
                "MessageRetentionPeriod": 4 * 86_400,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["AccountEventsDeadLetterQueue", "Arn"]},
                    "maxReceiveCount": ACCOUNT_EVENTS_MAX_RECEIVES,
                },
            },
        },
        "AccountEventsDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Condition": "HasStaxEventBus",
            "Properties": {
                "QueueName": target.account_events_dlq_name,
                "SqsManagedSseEnabled": True,
                "MessageRetentionPeriod": 14 * 86_400,
            },
        },
        "AccountEventsQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Condition": "HasStaxEventBus",
            "Properties": {
                "Queues": [{"Ref": "AccountEventsQueue"}, {"Ref": "AccountEventsDeadLetterQueue"}],
                "PolicyDocument": sub(account_events_queue_policy(target)),
            },
        },
        "AccountEventsMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Condition": "HasStaxEventBus",
            "Properties": {
                "FunctionName": functions[QUEUE_FUNCTION],
                "EventSourceArn": {"Fn::GetAtt": ["AccountEventsQueue", "Arn"]},
                "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                # Two pollers are enough to start baselines (each start is a few calls);
                # how many baselines run is the slots' limit, not this.
                "ScalingConfig": {"MaximumConcurrency": 2},
            },
        },
        "AccountEventsDeadLetterAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Condition": "HasStaxEventBus",
            "Properties": {
                "AlarmName": target.alarm_name("account-events", "dead-lettered"),
                "AlarmDescription": "An account event did not start its account baseline "
                "(it is in the dead-letter queue): fix the cause, then redrive it",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": target.account_events_dlq_name}],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "AlertTopic"}],
            },
        },
        "AccountEventsRule": {
            "Type": "AWS::Events::Rule",
            "Condition": "HasStaxEventBus",
            "Properties": {
                "Name": target.account_events_rule_name,
                "EventBusName": {"Ref": "StaxEventBusName"},
                "Description": "Stax account events start the account baselines of "
                f"{target.prefix} (through its account events queue)",
                "EventPattern": {"Fn::Sub": json.dumps(
                    account_event_pattern("${StaxEventSource}"))},
                "State": "ENABLED",
                "Targets": [{"Id": ACCOUNT_TARGET_ID,
                             "Arn": {"Fn::GetAtt": ["AccountEventsQueue", "Arn"]},
                             # What EventBridge could not deliver (24 h of retries).
                             "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [
                                 "AccountEventsDeadLetterQueue", "Arn"]}}}],
            },
        },
        "DriftRule": {
            "Type": "AWS::Events::Rule",
            "Condition": "HasDriftSchedule",
            "Properties": {
                "Name": target.drift_rule_name,
                "Description": f"Checks Stax against the baselines of {target.prefix}",
                "ScheduleExpression": {"Ref": "BaselineDriftSchedule"},
                "State": "ENABLED",
                "Targets": [{"Id": DRIFT_TARGET_ID, "Arn": drift, "Input": {"Fn::Sub": json.dumps(
                    {"bucket": "${FleetBucket}"})}}],
            },
        },
        "DriftRulePermission": {
            "Type": "AWS::Lambda::Permission",
            "Condition": "HasDriftSchedule",
            "Properties": {
                "FunctionName": drift,
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": ["DriftRule", "Arn"]},
                "SourceAccount": {"Ref": "AWS::AccountId"},
            },
        },
    }  # fmt: skip


def dashboard_resources(target: Target, log_groups: Mapping[str, Any]) -> dict[str, Any]:
    """The dashboard, its alarms and the "Stax API unavailable" metric filters (on each
    Stax-calling function's log group, as ``log_groups`` names it)."""
    resources: dict[str, Any] = {
        "Dashboard": {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": target.dashboard_name,
                "DashboardBody": {"Fn::Sub": json.dumps(observability.dashboard_body(target))},
            },
        }
    }
    for alarm in observability.alarms(target):
        suffix = alarm["AlarmName"].removeprefix(target.prefix + "-")
        resources["Alarm" + function_id(suffix)] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": sub(alarm),
        }
    for function in observability.STAX_FUNCTIONS:
        arguments = observability.metric_filter(target, function)
        [metric] = arguments["metricTransformations"]
        resources["StaxApiUnavailableFilter" + function_id(function)] = {
            "Type": "AWS::Logs::MetricFilter",
            "Properties": {
                "LogGroupName": log_groups[function],
                "FilterName": arguments["filterName"],
                "FilterPattern": arguments["filterPattern"],
                "MetricTransformations": [{
                    "MetricName": metric["metricName"],
                    "MetricNamespace": metric["metricNamespace"],
                    "MetricValue": metric["metricValue"],
                    "Unit": metric["unit"],
                    "Dimensions": [{"Key": k, "Value": v} for k, v in metric["dimensions"].items()],
                }],
            },
        }  # fmt: skip
    return resources
