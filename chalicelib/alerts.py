"""Alerts: one message per failed, timed-out or aborted operation, with no payload values.

Role: the use case behind the ``publish_alert`` Lambda, the target of the stage's
EventBridge rule on Step Functions' "Execution Status Change" events of the workload and
fleet machines. An execution's input may hold secrets (``workload_parameters`` become
CloudFormation parameters, which people use for passwords and keys), so the message
names the operation and the workload (id and name) and carries the error and cause, but
never the input itself, and any ``workload_parameters`` found in a cause are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.logs import log_event

TITLE = "Stax Orchestrator: an operation did not succeed"
#: Keys never copied into an alert, wherever they appear in a cause.
SECRET_KEYS = frozenset({"workload_parameters", "Parameters", "parameters"})
#: SNS takes messages up to 256 KiB; causes are cut well below (Step Functions: 32,768).
MAX_CAUSE_CHARS = 32_768
_FROM_INPUT = ("operation", "workload_id", "workload_name")
_FROM_CAUSE = ("workload_id", "workload_name", "task_id", "operation", "summary")


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _scrub(v) for k, v in value.items() if k not in SECRET_KEYS}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def _cause(text: Any) -> Any:
    """The cause as JSON when it is (unwrapped from Lambda's error object), else text."""
    decoded = _json(text)
    if isinstance(decoded, Mapping) and isinstance(decoded.get("errorMessage"), str):
        inner = _json(decoded["errorMessage"])
        decoded = inner if isinstance(inner, Mapping) else decoded
    if isinstance(decoded, Mapping):
        return _scrub(decoded)
    return str(text or "")[:MAX_CAUSE_CHARS]


def alert_message(event: Mapping[str, Any]) -> dict[str, Any]:
    """The alert for one Step Functions status-change event."""
    detail = event.get("detail") or {}
    request = _json(detail.get("input"))
    request = request.get("request", request) if isinstance(request, Mapping) else {}
    cause = _cause(detail.get("cause"))
    message: dict[str, Any] = {
        "alert": TITLE,
        "status": detail.get("status"),
        "error": detail.get("error"),
        "execution_arn": detail.get("executionArn"),
        "state_machine_arn": detail.get("stateMachineArn"),
        "stopped_at": event.get("time"),
    }
    for key in _FROM_INPUT:
        if isinstance(request, Mapping) and isinstance(request.get(key), str):
            message[key] = request[key]
    if isinstance(cause, Mapping):
        for key in _FROM_CAUSE:
            if cause.get(key) is not None and message.get(key) is None:
                message[key] = cause[key]
    message["cause"] = cause
    return message


def started_by(event: Mapping[str, Any]) -> str | None:
    """The execution that started this one (a fleet starts one per target), if any."""
    from chalicelib.validation import STARTED_BY_FIELD

    request = _json((event.get("detail") or {}).get("input"))
    value = request.get(STARTED_BY_FIELD) if isinstance(request, Mapping) else None
    return value if isinstance(value, str) else None


def publish_alert(
    event: Mapping[str, Any], publish: Callable[..., Any], topic_arn: str
) -> dict[str, Any]:
    """Publish the alert of ``event`` to ``topic_arn``; returns what was published.

    A workload operation a fleet started is not alerted on its own: the fleet publishes
    one alert for all its targets (a fleet of 1,000 must not send 1,000 messages).

    Raises:
        whatever ``publish`` raises (EventBridge retries a failed invocation).
    """
    parent = started_by(event)
    if parent:
        log_event("alert_left_to_parent", parent=parent)
        return {"skipped": "started by another execution, which alerts", "parent": parent}
    message = alert_message(event)
    subject = f"{message['status']}: {message.get('operation') or 'operation'} " + str(
        message.get("workload_name") or message.get("workload_id") or ""
    )
    publish(TopicArn=topic_arn, Subject=subject.strip()[:100], Message=json.dumps(message))
    log_event("alert_published", execution_arn=message["execution_arn"], status=message["status"])
    return message


def topic_arn(function_arn: str, topic_name: str) -> str:
    """The alert topic's ARN, in the account and region of the function that publishes."""
    parts = function_arn.split(":")
    partition, region, account = parts[1], parts[3], parts[4]
    return f"arn:{partition}:sns:{region}:{account}:{topic_name}"
