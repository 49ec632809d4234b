"""The orchestrator's own events: one per start, success, failure or halt of an operation.

Role: the use case behind ``publish_status_event``, the target of the stage's rule on Step
Functions' "Execution Status Change" events of its workload, fleet and account baseline
machines. Each becomes an EventBridge event of the orchestrator's own, on the stage's bus
(the account's default bus unless ``STAX_STATUS_EVENTS_BUS`` names another):

- ``source``: ``stax-orchestrator``;
- ``detail-type``: ``Workload Operation Status Change`` (a workload operation, alone or a
  fleet's target), ``Fleet Status Change``, ``Account Baseline Status Change``;
- ``detail``: the status (``STARTED``, ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``,
  ``ABORTED``; ``HALTED`` for a fleet that stopped itself between canary stages), the
  execution and state machine ARNs, the error name, and what the operation
  is about -- operation, workload name and id, AWS account and region (a workload
  operation); fleet id, name and operation (a fleet); Stax account id and event id (an account
  baseline) -- and the execution that started it, when one did. Never a parameter value,
  never the input or the cause as such: rules in other accounts' hands may route these.

The JSON schema of each is in ``schemas/`` (``status_event_*.schema.json``); a rule on
``source: [stax-orchestrator]`` routes them (docs/observability.md has the recipe for chat).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.errors import FleetHalted
from chalicelib.logs import log_event

SOURCE = "stax-orchestrator"
DETAIL_TYPES = {
    "workload": "Workload Operation Status Change",
    "fleet": "Fleet Status Change",
    "account-baseline": "Account Baseline Status Change",
}
#: Step Functions' statuses -> ours (an execution that runs has started).
STATUSES = {"RUNNING": "STARTED", "SUCCEEDED": "SUCCEEDED", "FAILED": "FAILED",
            "TIMED_OUT": "TIMED_OUT", "ABORTED": "ABORTED"}  # fmt: skip
#: The error of a fleet that halted itself between canary stages.
HALTED_ERROR = FleetHalted.__name__
_MACHINE = re.compile(r":stateMachine:(?P<name>[\w-]{1,80})$")
_ID = re.compile(r"^[\w.:/#@+-]{1,200}$")


class NotAStatusChange(ValueError):
    """The event is not a status change of one of the stage's machines."""


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _plain(value: Any) -> str | None:
    """A short identifier-like string, else None (nothing free-form leaves)."""
    return value if isinstance(value, str) and _ID.match(value) else None


def machine_kind(state_machine_arn: Any, stage_prefix: str) -> str | None:
    """``workload`` / ``fleet`` / ``account-baseline`` for one of the stage's machines."""
    found = _MACHINE.search(str(state_machine_arn or ""))
    name = found.group("name") if found else ""
    if not name.startswith(stage_prefix + "-"):
        return None
    kind = name.removeprefix(stage_prefix + "-")
    return kind if kind in DETAIL_TYPES else None


def _about(
    kind: str, request: Mapping[str, Any], output: Mapping[str, Any], execution: str
) -> dict[str, Any]:
    def first(*keys: str) -> str | None:
        for source in (request, output):
            for key in keys:
                value = _plain(source.get(key))
                if value:
                    return value
        return None

    if kind == "workload":
        keys = ("operation", "workload_name", "workload_id", "aws_account_id", "aws_region")
        return {key: first(key) for key in keys}
    if kind == "fleet":
        # A fleet's id is its execution's name (the summary says it again).
        return {"operation": first("operation"), "fleet_name": first("name"),
                "fleet_id": first("fleet_id") or _plain(execution.rsplit(":", 1)[-1])}  # fmt: skip
    detail: Mapping[str, Any] = request.get("detail") or {}
    detail = detail if isinstance(detail, Mapping) else {}
    return {"account_id": _plain(detail.get("accountId")) or first("account_id"),
            "aws_account_id": _plain(detail.get("awsAccountId")),
            "event_id": _plain(request.get("id"))}  # fmt: skip


def status_event(event: Mapping[str, Any], stage_prefix: str) -> dict[str, Any]:
    """The orchestrator's event (a PutEvents entry without its bus) for one Step Functions
    status change.

    Raises:
        NotAStatusChange: not a status change of the stage's workload, fleet or account
            baseline machine (the rule only sends those; anything else is refused).
    """
    detail: Mapping[str, Any] = event.get("detail") or {}
    detail = detail if isinstance(detail, Mapping) else {}
    kind = machine_kind(detail.get("stateMachineArn"), stage_prefix)
    status = STATUSES.get(str(detail.get("status")))
    if event.get("source") != "aws.states" or kind is None or status is None:
        raise NotAStatusChange("not a status change of the stage's machines")
    if kind == "fleet" and status == "FAILED" and detail.get("error") == HALTED_ERROR:
        status = "HALTED"  # it stopped itself between canary stages
    from chalicelib.validation import STARTED_BY_FIELD

    given = _json(detail.get("input"))
    given = given if isinstance(given, Mapping) else {}
    # A fleet's target gets its request under "request" (alerts read it the same way).
    request = given["request"] if isinstance(given.get("request"), Mapping) else given
    output = _json(detail.get("output"))
    output = output if isinstance(output, Mapping) else {}
    body = {
        "status": status,
        "execution_arn": _plain(detail.get("executionArn")),
        "state_machine_arn": _plain(detail.get("stateMachineArn")),
        "error": _plain(detail.get("error")),
        "started_by": _plain(given.get(STARTED_BY_FIELD)),
        **_about(kind, request, output, str(detail.get("executionArn") or "")),
    }
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPES[kind],
        "Resources": [body["execution_arn"]] if body["execution_arn"] else [],
        "Detail": json.dumps({k: v for k, v in body.items() if v is not None}),
    }


def publish_status_event(
    event: Mapping[str, Any], put_events: Callable[..., Any], bus: str, stage_prefix: str
) -> dict[str, Any]:
    """publish_status_event: send the orchestrator's event for ``event`` to ``bus``.

    Raises:
        NotAStatusChange: as :func:`status_event`.
        RuntimeError: EventBridge refused the entry (EventBridge retries the invocation).
    """
    entry = {**status_event(event, stage_prefix), "EventBusName": bus}
    answer = put_events(Entries=[entry])
    if answer.get("FailedEntryCount"):
        failed = (answer.get("Entries") or [{}])[0]
        raise RuntimeError(f"PutEvents refused the status event: {failed.get('ErrorCode')}")
    log_event("status_event_published", detail_type=entry["DetailType"],
              status=json.loads(entry["Detail"])["status"])  # fmt: skip
    return {"detail_type": entry["DetailType"], "detail": json.loads(entry["Detail"])}
