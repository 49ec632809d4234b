"""What a stage shows its operators: state machine logs, traces, a dashboard and alarms.

Role: the observability settings of a deploy (:class:`Observability`, from ``deploy.sh``'s
flags and the stage's Chalice ``xray`` / ``log_retention_in_days``), the pure documents
they produce (the state machines' ``loggingConfiguration`` and ``tracingConfiguration``,
the dashboard body, the alarms, the metric filter), which the stage's template declares.
Pure: no AWS call.

The Lambdas' log contract (``chalicelib.logs``): every line is one JSON object with
``level``, ``event``, ``function``, ``execution_arn``; a failed invocation writes
``{"event": "invocation_failed", "error": "<class name>"}``. The "Stax API unavailable"
metric counts those lines whose error is ``StaxApiUnavailable``.
"""

from __future__ import annotations

import re
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
