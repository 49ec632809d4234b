"""What a stage shows its operators: state machine logs, traces, a dashboard and alarms.

Role: the observability settings of a deploy (:class:`Observability`, from ``deploy.sh``'s
flags and the stage's Chalice ``xray`` / ``log_retention_in_days``), the pure documents
they produce (the state machines' ``loggingConfiguration`` and ``tracingConfiguration``,
the dashboard body, the alarms, the metric filter) — which the CloudFormation package
(``package``) declares from the same functions — and the idempotent AWS calls of the
``deploy.sh`` path: ``ensure_log_groups``, ``ensure_dashboard`` / ``delete_dashboard``.

The Lambdas' log contract (``chalicelib.logs``): every line is one JSON object with
``level``, ``event``, ``function``, ``execution_arn``; a failed invocation writes
``{"event": "invocation_failed", "error": "<class name>"}``. The "Stax API unavailable"
metric counts those lines whose error is ``StaxApiUnavailable``.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stax_orchestrator.deploy.names import FUNCTIONS, STATE_MACHINES, TOKEN_FUNCTIONS, Target
from stax_orchestrator.deploy.stage import DEFAULT_LOG_RETENTION_DAYS
from stax_orchestrator.deploy.templates import DeployError

#: Step Functions log levels (``LoggingConfiguration.Level``).
SFN_LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")
DEFAULT_SFN_LOG_LEVEL = "ERROR"
#: The values CloudWatch Logs accepts for ``retentionInDays`` (PutRetentionPolicy).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                  1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip
METRIC_NAMESPACE = "StaxOrchestrator"
STAX_UNAVAILABLE_METRIC = "StaxApiUnavailable"
#: The lines of the log contract that say a call to Stax found it unavailable.
STAX_UNAVAILABLE_PATTERN = '{ $.event = "invocation_failed" && $.error = "StaxApiUnavailable" }'
#: A metric filter cannot give a metric a constant dimension (AWS takes a dimension's
#: value from a field of the log event), so the metric is dimensioned by the line's
#: ``function`` — the stage's own function names, so stages never share a metric.
STAX_UNAVAILABLE_DIMENSION = "Function"
#: The functions that call Stax (the metric filter sits on their log groups).
STAX_FUNCTIONS = TOKEN_FUNCTIONS
PERIOD_SECONDS = 300


@dataclass(frozen=True)
class Observability:
    """How a stage is observed; every field is a deploy option (see ``deploy.sh --help``)."""

    sfn_log_level: str = DEFAULT_SFN_LOG_LEVEL
    #: Execution data is the executions' input and output: workload parameters that
    #: their owners may consider confidential. Off unless asked for.
    include_execution_data: bool = False
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    #: X-Ray: Lambda active tracing (Chalice's ``xray``) and state machine tracing.
    xray: bool = False
    dashboard: bool = False


def parse_log_level(text: str) -> str:
    """``--sfn-log-level``: ALL, ERROR, FATAL or OFF (any case).

    Raises:
        DeployError: another value.
    """
    level = text.strip().upper()
    if level not in SFN_LOG_LEVELS:
        raise DeployError(f"--sfn-log-level takes one of {', '.join(SFN_LOG_LEVELS)}, got {text!r}")
    return level


def parse_retention(text: str | int) -> int:
    """``--log-retention-days``: one of the values CloudWatch Logs accepts.

    Raises:
        DeployError: not a whole number, or a number CloudWatch Logs refuses.
    """
    raw = str(text).strip()
    if not re.fullmatch(r"[0-9]+", raw) or int(raw, 10) not in RETENTION_DAYS:
        raise DeployError(
            f"--log-retention-days takes one of {', '.join(map(str, RETENTION_DAYS))} "
            f"(the values CloudWatch Logs accepts), got {raw!r}"
        )
    return int(raw, 10)


# -- the state machines -------------------------------------------------------------------
def log_destination_arn(target: Target, kind: str) -> str:
    """Step Functions wants the log group's ARN with the ``:*`` suffix."""
    return target.log_group_arn(target.state_machine_log_group(kind)) + ":*"


def logging_configuration(target: Target, kind: str, obs: Observability) -> dict[str, Any]:
    """The machine's ``loggingConfiguration`` (API shape)."""
    if obs.sfn_log_level == "OFF":
        return {"level": "OFF", "includeExecutionData": False}
    return {
        "level": obs.sfn_log_level,
        "includeExecutionData": obs.include_execution_data,
        "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": log_destination_arn(target, kind)}}
        ],
    }


def tracing_configuration(obs: Observability) -> dict[str, Any]:
    return {"enabled": obs.xray}


def log_groups(target: Target) -> list[str]:
    """The state machines' log groups."""
    return [target.state_machine_log_group(kind) for kind in STATE_MACHINES]


def ensure_log_groups(logs: Any, target: Target, obs: Observability) -> list[str]:
    """The machines' log groups with the retention; the Lambdas' groups get it too.

    Chalice sets the Lambdas' retention from ``log_retention_in_days``; a
    ``--log-retention-days`` that differs is applied after it (every deploy: the flag left
    out, Chalice's value is back).
    """
    created = []
    for name in log_groups(target):
        try:
            logs.create_log_group(logGroupName=name, tags={"stax-orchestrator:stage": target.stage})
            created.append(name)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.put_retention_policy(logGroupName=name, retentionInDays=obs.log_retention_days)
    for function in FUNCTIONS:
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            logs.put_retention_policy(
                logGroupName=target.log_group(function), retentionInDays=obs.log_retention_days
            )
    return created


# -- dashboard, alarms, metric filter -----------------------------------------------------
def metric_filter(target: Target, function: str) -> dict[str, Any]:
    """PutMetricFilter's arguments for one Stax-calling function's log group."""
    return {
        "logGroupName": target.log_group(function),
        "filterName": target.stax_unavailable_filter_name,
        "filterPattern": STAX_UNAVAILABLE_PATTERN,
        "metricTransformations": [
            {
                "metricName": STAX_UNAVAILABLE_METRIC,
                "metricNamespace": METRIC_NAMESPACE,
                "metricValue": "1",
                "dimensions": {STAX_UNAVAILABLE_DIMENSION: "$.function"},
                "unit": "Count",
            }
        ],
    }


def _alarm(target: Target, name: str, description: str, **metric: Any) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmDescription": description,
        "ActionsEnabled": True,
        "AlarmActions": [target.alert_topic_arn],
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        # No data means nothing failed: not an alarm.
        "TreatMissingData": "notBreaching",
        **metric,
    }


def _stat(namespace: str, metric: str, dimension: str, value: str) -> dict[str, Any]:
    return {
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": [{"Name": dimension, "Value": value}],
        "Statistic": "Sum",
        "Period": PERIOD_SECONDS,
    }


def alarms(target: Target) -> list[dict[str, Any]]:
    """PutMetricAlarm's arguments for every alarm of the stage (actions: the alert topic)."""
    found: list[dict[str, Any]] = []
    for kind in STATE_MACHINES:
        found.append(_alarm(
            target, target.alarm_name(kind, "executions-failed"),
            f"An execution of {target.state_machine_name(kind)} failed",
            **_stat("AWS/States", "ExecutionsFailed", "StateMachineArn",
                    target.state_machine_arn(kind)),
        ))  # fmt: skip
    for function in FUNCTIONS:
        for metric in ("Errors", "Throttles"):
            found.append(_alarm(
                target, target.alarm_name(function, metric.lower()),
                f"Lambda {metric} of {target.function_name(function)}",
                **_stat("AWS/Lambda", metric, "FunctionName", target.function_name(function)),
            ))  # fmt: skip
    parts: list[dict[str, Any]] = [
        {
            "Id": f"m{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": METRIC_NAMESPACE,
                    "MetricName": STAX_UNAVAILABLE_METRIC,
                    "Dimensions": [
                        {"Name": STAX_UNAVAILABLE_DIMENSION,
                         "Value": target.function_name(function)}
                    ],
                },
                "Period": PERIOD_SECONDS,
                "Stat": "Sum",
            },
            "ReturnData": False,
        }
        for index, function in enumerate(STAX_FUNCTIONS)
    ]  # fmt: skip
    ids = ",".join(str(part["Id"]) for part in parts)
    parts.append({"Id": "total", "Expression": f"SUM([{ids}])",
                  "Label": "Stax API unavailable", "ReturnData": True})  # fmt: skip
    found.append(_alarm(
        target, target.alarm_name("stax-api", "unavailable"),
        f"The Stax API was unavailable to {target.prefix} (after the retries of the call)",
        Metrics=parts,
    ))  # fmt: skip
    return found


def alarm_names(target: Target) -> list[str]:
    return [alarm["AlarmName"] for alarm in alarms(target)]


def _widget(title: str, metrics: list[list[Any]], region: str, y: int, x: int) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "metrics": metrics,
            "region": region,
            "stat": "Sum",
            "period": PERIOD_SECONDS,
            "view": "timeSeries",
        },
    }


def dashboard_body(target: Target) -> dict[str, Any]:
    """The stage's CloudWatch dashboard: executions, Lambda errors and throttles, Stax
    availability, and the error lines of the Lambdas' logs."""
    machines = [target.state_machine_arn(kind) for kind in STATE_MACHINES]
    functions = [target.function_name(f) for f in FUNCTIONS]
    sources = " | ".join(f"SOURCE '{target.log_group(f)}'" for f in FUNCTIONS)
    query = (
        f"{sources} | fields @timestamp, level, event, function, error, execution_arn"
        ' | filter level = "ERROR" | sort @timestamp desc | limit 50'
    )
    return {
        "widgets": [
            _widget("Executions failed",
                    [["AWS/States", "ExecutionsFailed", "StateMachineArn", a] for a in machines],
                    target.region, 0, 0),
            _widget("Executions succeeded",
                    [["AWS/States", "ExecutionsSucceeded", "StateMachineArn", a]
                     for a in machines], target.region, 0, 12),
            _widget("Lambda errors",
                    [["AWS/Lambda", "Errors", "FunctionName", f] for f in functions],
                    target.region, 6, 0),
            _widget("Lambda throttles",
                    [["AWS/Lambda", "Throttles", "FunctionName", f] for f in functions],
                    target.region, 6, 12),
            _widget("Stax API unavailable",
                    [[METRIC_NAMESPACE, STAX_UNAVAILABLE_METRIC, STAX_UNAVAILABLE_DIMENSION,
                      target.function_name(f)] for f in STAX_FUNCTIONS],
                    target.region, 12, 0),
            {"type": "log", "x": 0, "y": 18, "width": 24, "height": 8,
             "properties": {"title": "Lambda errors (log lines)", "query": query,
                            "region": target.region, "view": "table"}},
        ]
    }  # fmt: skip


def _delete_alarms(cloudwatch: Any, names: Iterable[str]) -> None:
    names = list(names)
    for start in range(0, len(names), 100):  # DeleteAlarms takes at most 100 names
        cloudwatch.delete_alarms(AlarmNames=names[start : start + 100])


def ensure_dashboard(session: Any, target: Target, obs: Observability) -> list[str]:
    """With ``obs.dashboard``: the dashboard, the alarms and the metric filters (put every
    deploy: the same values change nothing). Without: whatever of them exists is removed.
    Returns what was put or removed, for the deploy's output."""
    cloudwatch, logs = session.client("cloudwatch"), session.client("logs")
    if not obs.dashboard:
        return delete_dashboard(session, target)
    done = []
    for function in STAX_FUNCTIONS:
        arguments = metric_filter(target, function)
        try:
            logs.put_metric_filter(**arguments)
        except logs.exceptions.ResourceNotFoundException:
            # Chalice makes the group with log_retention_in_days; without it, the
            # function's first line does: make it now so the filter has a home.
            logs.create_log_group(logGroupName=arguments["logGroupName"])
            logs.put_retention_policy(
                logGroupName=arguments["logGroupName"], retentionInDays=obs.log_retention_days
            )
            logs.put_metric_filter(**arguments)
        done.append(f"metric filter on {arguments['logGroupName']}")
    for alarm in alarms(target):
        cloudwatch.put_metric_alarm(**alarm)
    done.append(f"{len(alarms(target))} alarms")
    cloudwatch.put_dashboard(
        DashboardName=target.dashboard_name, DashboardBody=json.dumps(dashboard_body(target))
    )
    done.append(f"dashboard {target.dashboard_name}")
    return done


def delete_dashboard(session: Any, target: Target) -> list[str]:
    """Remove the dashboard, the alarms and the metric filters; what was there."""
    cloudwatch, logs = session.client("cloudwatch"), session.client("logs")
    removed = []
    names = alarm_names(target)
    existing = {
        a["AlarmName"]
        for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNames=names)
        for a in page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
    }
    if existing:
        _delete_alarms(cloudwatch, sorted(existing))
        removed += [f"alarm {name}" for name in sorted(existing)]
    for function in STAX_FUNCTIONS:
        group = target.log_group(function)
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            filters = logs.describe_metric_filters(
                logGroupName=group, filterNamePrefix=target.stax_unavailable_filter_name
            ).get("metricFilters", [])
            if any(f["filterName"] == target.stax_unavailable_filter_name for f in filters):
                logs.delete_metric_filter(
                    logGroupName=group, filterName=target.stax_unavailable_filter_name
                )
                removed.append(f"metric filter on {group}")
    listed = cloudwatch.list_dashboards(DashboardNamePrefix=target.dashboard_name)
    if any(d["DashboardName"] == target.dashboard_name for d in listed.get("DashboardEntries", [])):
        cloudwatch.delete_dashboards(DashboardNames=[target.dashboard_name])
        removed.append(f"dashboard {target.dashboard_name}")
    return removed
