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
import re
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
    """The execution this one *claims* started it (its input's
    ``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID``), if any: anyone who may start an
    execution can write that field, so it proves nothing alone (:func:`verified_parent`)."""
    from chalicelib.validation import STARTED_BY_FIELD

    request = _json((event.get("detail") or {}).get("input"))
    value = request.get(STARTED_BY_FIELD) if isinstance(request, Mapping) else None
    return value if isinstance(value, str) else None


#: Which machine starts which, and under which partition of the coordination store the
#: parent records each child before starting it (``started#<index>``, ``execution_name``):
#: a fleet its targets' workload operations, an account baseline its fleets.
PARENTS = {"workload": ("fleet", "fleet#"), "fleet": ("account-baseline", "baseline#")}
_EXECUTION_ARN = re.compile(
    r"^arn:([\w-]+):states:([\w-]+):(\d{12}):execution:([\w-]{1,80}):([\w-]{1,80})$"
)
_MACHINE_ARN = re.compile(r"^arn:([\w-]+):states:([\w-]+):(\d{12}):stateMachine:([\w-]{1,80})$")


def verified_parent(
    event: Mapping[str, Any], started: Callable[[str, str], Mapping[str, Any] | None]
) -> str | None:
    """The execution that started this one, when its own record says so; else None.

    The claim (:func:`started_by`) counts only if it names an execution of the machine
    that starts this machine's executions, in the same stage, account and region, and that
    execution recorded, before starting it, a child of exactly this execution's name
    (``started(pk, sk)`` reads the coordination store).

    Raises:
        CoordinationUnavailable: the store could not be read (EventBridge retries).
    """
    claimed = started_by(event)
    detail = event.get("detail") or {}
    child = _MACHINE_ARN.match(str(detail.get("stateMachineArn") or ""))
    parent = _EXECUTION_ARN.match(claimed or "")
    name = str(detail.get("name") or "")
    if not (claimed and child and parent and name):
        return None
    machine = child.group(4)
    kind = next((k for k in PARENTS if machine.endswith(f"-{k}")), None)
    if kind is None or child.groups()[:3] != parent.groups()[:3]:
        return None
    parent_kind, partition = PARENTS[kind]
    if parent.group(4) != f"{machine[: -len(kind)]}{parent_kind}":
        return None
    index = name.rsplit("-", 1)[-1]
    if not index.isdigit():
        return None
    record = started(f"{partition}{parent.group(5)}", f"started#{int(index)}")
    return claimed if record and record.get("execution_name") == name else None


def publish_alert(
    event: Mapping[str, Any],
    publish: Callable[..., Any],
    topic_arn: str,
    started: Callable[[str, str], Mapping[str, Any] | None],
) -> dict[str, Any]:
    """Publish the alert of ``event`` to ``topic_arn``; returns what was published.

    A workload operation a fleet started (a fleet an account baseline started) is not
    alerted on its own: the parent publishes one alert for all its children (a fleet of
    1,000 must not send 1,000 messages). Whether a parent started it is read from the
    parent's record (:func:`verified_parent`), never taken from the execution's input:
    an execution that only claims a parent is alerted, the claim named in the message.

    Raises:
        CoordinationUnavailable: the parent's record could not be read.
        whatever ``publish`` raises (EventBridge retries a failed invocation).
    """
    parent = verified_parent(event, started)
    if parent:
        log_event("alert_left_to_parent", parent=parent)
        return {"skipped": "started by another execution, which alerts", "parent": parent}
    message = alert_message(event)
    claimed = started_by(event)
    if claimed:
        message["unverified_parent"] = claimed
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
