"""The use cases the Lambdas expose: validate, create, update, delete, watch a task.

Role: business rules between a validated request (``chalicelib.schemas``) and
Stax (``chalicelib.stax``). Each function takes the request and its
collaborators as arguments, so it runs the same in a Lambda, in the CLI and
in tests against the simulator.

Idempotency: the workload state machine passes its execution id in
``orchestration.execution_id``; a create tags the workload with it, so a
retried create (Lambda timed out after Stax accepted the write) adopts the
workload it made instead of making a second one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import StaxRequestRejected, WorkloadAlreadyExists, WorkloadNotFound
from chalicelib.logs import log_event as _log
from chalicelib.polling import PollSchedule, next_wait_seconds
from chalicelib.schemas import load_workload_request
from chalicelib.stax import StaxAccess, StaxGateway, is_live

#: Stax workload tag naming the execution that created the workload.
EXECUTION_TAG = "stax-orchestrator:execution-id"
#: How many task log lines travel in outputs and error causes.
LOG_TAIL_LINES = 20
#: Longest log line kept (Step Functions payloads are limited to 256 KiB).
MAX_LOG_LINE = 1000
_DELETING = frozenset({"DELETE_IN_PROGRESS", "DELETED"})


def _result(
    request: Mapping[str, Any], workload: Mapping[str, Any], task_id: str | None
) -> dict[str, Any]:
    """What create/update/delete return: the workload, its task, and the watch settings."""
    return {
        "operation": request["operation"],
        "workload_id": workload.get("WorkloadId") or workload.get("Id"),
        "workload_name": workload.get("Name"),
        "task_id": task_id,
        # Always present (null: the deploy-time default) so the state machine can pass it on.
        "watch_timeout_seconds": request.get("watch_timeout_seconds"),
    }


def _event_workload(event: Mapping[str, Any]) -> dict[str, Any]:
    """The ``Detail.Workload`` of a Stax write event, with the top-level ids folded in."""
    detail = event.get("Detail") or {}
    workload = dict(detail.get("Workload") or {})
    workload.setdefault("WorkloadId", event.get("WorkloadId"))
    workload.setdefault("TaskId", detail.get("TaskId") or event.get("TaskId"))
    return workload


def _execution_id(request: Mapping[str, Any]) -> str | None:
    return (request.get("orchestration") or {}).get("execution_id")


def _parameters(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in values.items()]


def validate_input(payload: object) -> dict[str, Any]:
    """Validate and normalise a workload request.

    Raises:
        InvalidWorkloadRequest: naming every bad field.
    """
    request = load_workload_request(payload)
    _log("validated", operation=request["operation"])
    return request


def create_workload(request: Mapping[str, Any], access: StaxAccess) -> dict[str, Any]:
    """Create the workload unless a live one has the name already.

    A live workload of that name that this same execution created (a retry
    after a lost response) is adopted with its task instead.

    Raises:
        WorkloadAlreadyExists, StaxRequestRejected, StaxAuthenticationFailed,
        StaxApiUnavailable, StaxCredentialsMissing.
    """
    name = request["workload_name"]
    execution_id = _execution_id(request)
    with access.session() as stax:
        named = stax.find_workloads_by_name(name)
        for workload in named:
            # Whatever its status: a retry must follow the task this execution started,
            # even when that task has already failed.
            if execution_id and (workload.get("Tags") or {}).get(EXECUTION_TAG) == execution_id:
                _log("create_adopted", workload_id=workload.get("Id"), workload_name=name)
                return _result(request, workload, workload.get("UserTaskId"))
        live = [w for w in named if is_live(w)]
        if live:
            existing = live[0]
            raise WorkloadAlreadyExists(
                f"A workload named {name!r} already exists",
                workload_name=name,
                workload_id=existing.get("Id"),
                status=existing.get("Status"),
            )
        tags = dict(request.get("workload_tags") or {})
        if execution_id:
            tags[EXECUTION_TAG] = execution_id
        body: dict[str, Any] = {
            "Name": name,
            "AccountId": request["aws_account_id"],
            "CatalogueId": request["catalogue_id"],
            "Region": request["aws_region"],
            "Parameters": _parameters(request.get("workload_parameters") or {}),
            "Tags": tags,
        }
        if request.get("catalogue_version_id"):
            body["CatalogueVersionId"] = request["catalogue_version_id"]
        workload = _event_workload(stax.create_workload(body))
    workload.setdefault("Name", name)
    result = _result(request, workload, workload.get("TaskId"))
    _log("create_started", **result)
    return result


def update_workload(request: Mapping[str, Any], access: StaxAccess) -> dict[str, Any]:
    """Send the requested changes (version, parameters, tags, protection) to Stax.

    Raises:
        WorkloadNotFound, StaxRequestRejected, StaxAuthenticationFailed,
        StaxApiUnavailable, StaxCredentialsMissing.
    """
    workload_id = request["workload_id"]
    body: dict[str, Any] = {}
    if "catalogue_version_id" in request:
        body["CatalogueVersionId"] = request["catalogue_version_id"]
    if "workload_parameters" in request:
        body["Parameters"] = _parameters(request["workload_parameters"])
    if "workload_tags" in request:
        body["Tags"] = dict(request["workload_tags"])
    if "protection" in request:
        body["Protection"] = request["protection"]
    with access.session() as stax:
        try:
            workload = _event_workload(stax.update_workload(workload_id, body))
        except StaxRequestRejected:
            # Stax refuses an update while the workload's task runs. When that task is
            # this very update (an earlier attempt whose response was lost), follow it.
            current = _adopt_update(stax, workload_id, body)
            if current is None:
                raise
            workload = current
    workload.setdefault("WorkloadId", workload_id)
    result = _result(request, workload, workload.get("TaskId"))
    _log("update_started", **result)
    return result


def delete_workload(request: Mapping[str, Any], access: StaxAccess) -> dict[str, Any]:
    """Delete the workload. A workload already being deleted is success (a retry).

    Raises:
        WorkloadNotFound, StaxRequestRejected, StaxAuthenticationFailed,
        StaxApiUnavailable, StaxCredentialsMissing.
    """
    workload_id = request["workload_id"]
    with access.session() as stax:
        try:
            workload = _event_workload(stax.delete_workload(workload_id))
        except StaxRequestRejected:
            # Stax refuses to delete what is already being deleted; when that is
            # the case, the earlier attempt's task is the one to follow.
            current = _adopt_deletion(stax, workload_id)
            if current is None:
                raise
            workload = current
    workload.setdefault("WorkloadId", workload_id)
    result = _result(request, workload, workload.get("TaskId"))
    _log("delete_started", **result)
    return result


def _applied(current: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Does the workload already carry every change ``body`` asks for?"""
    if (
        "CatalogueVersionId" in body
        and current.get("CatalogueVersionId") != body["CatalogueVersionId"]
    ):
        return False
    if "Protection" in body and bool(current.get("Protection")) != body["Protection"]:
        return False
    parameters = current.get("Parameters") or {}
    if any(parameters.get(p["Key"]) != p["Value"] for p in body.get("Parameters", [])):
        return False
    tags = current.get("Tags") or {}
    return all(tags.get(key) == value for key, value in (body.get("Tags") or {}).items())


def _adopted(event: str, workload_id: str, current: Mapping[str, Any]) -> dict[str, Any]:
    """The workload as a write event would describe it, following its latest task."""
    _log(event, workload_id=workload_id, task_id=current.get("UserTaskId"))
    return {
        "WorkloadId": workload_id,
        "Name": current.get("Name"),
        "TaskId": current.get("UserTaskId"),
    }


def _adopt_update(stax: StaxGateway, workload_id: str, body: Mapping[str, Any]) -> dict | None:
    current = stax.read_workload(workload_id)
    if current.get("Status") != "UPDATE_IN_PROGRESS" or not _applied(current, body):
        return None
    return _adopted("update_adopted", workload_id, current)


def _adopt_deletion(stax: StaxGateway, workload_id: str) -> dict[str, Any] | None:
    try:
        current = stax.read_workload(workload_id)
    except WorkloadNotFound:
        return None
    if current.get("Status") not in _DELETING:
        return None
    return _adopted("delete_adopted", workload_id, current)


def _elapsed_seconds(started_at: str | None, now: dt.datetime) -> float:
    if not started_at:
        return 0.0
    started = dt.datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    if started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)
    return max(0.0, (now - started).total_seconds())


def get_task_status(
    request: Mapping[str, Any],
    access: StaxAccess,
    schedule: PollSchedule,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Read the Stax task once and say how long to wait before the next poll.

    Raises:
        StaxRequestRejected (unknown task), StaxAuthenticationFailed,
        StaxApiUnavailable, StaxCredentialsMissing.
    """
    now = now or dt.datetime.now(dt.UTC)
    with access.session() as stax:
        task = stax.read_task(request["task_id"])
    polls_before = int(request.get("polls") or 0)
    polls = polls_before + 1
    elapsed = _elapsed_seconds(request.get("started_at"), now)
    logs = [str(line)[:MAX_LOG_LINE] for line in (task.get("Logs") or [])]
    result = {
        key: request[key]
        for key in (
            "task_id",
            "workload_id",
            "workload_name",
            "operation",
            "started_at",
            "watch_timeout_seconds",
        )
        if request.get(key) is not None
    }
    result.update(
        status=task.get("Status"),
        logs_tail=logs[-LOG_TAIL_LINES:],
        polls=polls,
        elapsed_seconds=round(elapsed, 3),
        next_wait_seconds=next_wait_seconds(polls_before, elapsed, schedule),
    )
    _log(
        "task_polled",
        task_id=request["task_id"],
        status=result["status"],
        polls=polls,
        next_wait_seconds=result["next_wait_seconds"],
    )
    return result
