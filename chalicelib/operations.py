"""The use cases the Lambdas expose: validate, create, update, delete, watch a task.

Role: business rules between a validated request (``chalicelib.validation``) and Stax
(``chalicelib.stax``). Each function takes the request and its collaborators
(:class:`Services`) as arguments, so it runs the same in a Lambda, in the CLI and in
tests against the simulator.

Exactly one write per request, whatever happens (``chalicelib.ownership``):

- a create claims its name in the coordination store before it looks at Stax, records
  its POST before sending it, and after a lost answer looks for its own workload
  instead of posting again; it posts again only once the earlier POST can no longer
  land (its settle window has passed) and nothing came of it;
- an update or delete locks its workload id and records its write the same way; a
  retry follows the task its own earlier write started.

The workload state machine passes its execution id in ``orchestration.execution_id``:
it owns claims and locks, and it is written as a tag on every workload created.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.accounts import is_aws_account_number, resolve_account_ids
from chalicelib.coordination import (
    CLAIMED,
    CREATED,
    LOCKED,
    POSTING,
    SENDING,
    SENT,
    WRITTEN_SORT_KEY,
    CoordinationStore,
    Record,
)
from chalicelib.errors import (
    CoordinationUnavailable,
    StaxApiUnavailable,
    StaxAuthenticationFailed,
    StaxRequestRejected,
    WorkloadAlreadyExists,
    WorkloadNotFound,
    WorkloadWriteInDoubt,
)
from chalicelib.logs import log_event as _log
from chalicelib.ownership import (
    CLOCK_SKEW_SECONDS,
    EXECUTION_TAG,
    SENT_LEASE_SECONDS,
    claim_name,
    lock_workload,
    own_created_workload,
    timestamp,
)
from chalicelib.polling import PollSchedule, next_wait_seconds
from chalicelib.secrets import no_secrets, resolved
from chalicelib.settings import BASELINE_TAG, CoordinationSettings
from chalicelib.stax import StaxAccess, StaxGateway, is_live
from chalicelib.validation import load_workload_request

#: How many task log lines travel in outputs and error causes.
LOG_TAIL_LINES = 20
#: Longest log line kept.
MAX_LOG_LINE = 1000
#: The log tail is cut to this many bytes (UTF-8 of its JSON): it travels in the
#: watcher's state and in the Fail cause, which Step Functions cuts at 32,768 characters
#: (and the parent reads the child's cause back with States.StringToJson).
MAX_LOG_TAIL_BYTES = 8 * 1024
#: What every create/update/delete result holds (the state machines read each one).
RESULT_FIELDS = (
    "operation",
    "workload_id",
    "workload_name",
    "task_id",
    "watch_timeout_seconds",
    "already_done",
)
#: What every get_task_status result holds (the task watcher reads each one).
TASK_STATUS_FIELDS = (
    "task_id",
    "workload_id",
    "workload_name",
    "operation",
    "execution_id",
    "execution_arn",
    "parent_execution_arn",
    "started_at",
    "watch_timeout_seconds",
    "status",
    "logs_tail",
    "polls",
    "elapsed_seconds",
    "next_wait_seconds",
)
#: ReadTask answered 404 for a task Stax itself named: wait (read-after-write lag).
NOT_VISIBLE = "NOT_VISIBLE"
_DELETING = frozenset({"DELETE_IN_PROGRESS", "DELETED"})
_FINAL = frozenset({"SUCCEEDED", "FAILED"})
#: Time a Lambda may spend on one write when its own deadline is unknown.
_DEFAULT_WRITE_BUDGET_SECONDS = 60.0


@dataclass(frozen=True)
class Services:
    """What a write needs besides the request: Stax, the store, the settle rules.

    ``deadline`` is when the current Lambda invocation ends (epoch seconds), if known:
    a write sent now can be answered, or be abandoned by this client, until then.
    """

    access: StaxAccess
    store: CoordinationStore
    settings: CoordinationSettings
    deadline: float | None = None
    #: Reads a parameter value a request names in SSM (``chalicelib.secrets.SsmSecrets``);
    #: None: such a request is refused (WorkloadParameterUnavailable).
    secrets: Callable[[str], str] | None = None

    def parameters(self, values: Mapping[str, Any]) -> list[dict[str, str]]:
        """Stax's ``Parameters`` of ``values``, each SSM reference read now (the value
        exists only in the body sent to Stax).

        Raises:
            WorkloadParameterUnavailable: a reference cannot be read.
        """
        return _parameters(resolved(values, self.secrets or no_secrets))

    def settle_until(self, now: float) -> float:
        """Until when a write sent now may still be applied by Stax."""
        ends = self.deadline if self.deadline and self.deadline > now else None
        return (ends or now + _DEFAULT_WRITE_BUDGET_SECONDS) + self.settings.write_settle_seconds


def _result(
    request: Mapping[str, Any],
    workload_id: str | None,
    workload_name: str | None,
    task_id: str | None,
    already_done: bool = False,
) -> dict[str, Any]:
    """What create/update/delete return: every field of ``RESULT_FIELDS``, null if unknown."""
    return {
        "operation": request["operation"],
        "workload_id": workload_id,
        "workload_name": workload_name,
        # null with already_done: there is no task to watch (e.g. a delete found the
        # workload already gone); the state machine then ends without the watcher.
        "task_id": task_id,
        # Always present (null: the deploy-time default) so the state machine can pass it on.
        "watch_timeout_seconds": request.get("watch_timeout_seconds"),
        "already_done": already_done,
    }


def _event_workload(event: Mapping[str, Any]) -> dict[str, Any]:
    """``Detail.Workload`` of a Stax write event; ids may be missing or null."""
    detail = event.get("Detail") or {}
    workload = dict(detail.get("Workload") or {})
    return {
        "WorkloadId": workload.get("WorkloadId") or workload.get("Id") or event.get("WorkloadId"),
        "Name": workload.get("Name"),
        "TaskId": workload.get("TaskId") or detail.get("TaskId") or event.get("TaskId"),
    }


def _owner(request: Mapping[str, Any]) -> str:
    """Who owns claims and locks: the execution, or (invoked directly) this invocation."""
    execution_id = (request.get("orchestration") or {}).get("execution_id")
    return str(execution_id) if execution_id else f"direct:{uuid.uuid4()}"


def _baseline_of(request: Mapping[str, Any]) -> dict[str, str]:
    """The baseline a create belongs to (its baseline tag), kept on the name claim."""
    baseline = (request.get("workload_tags") or {}).get(BASELINE_TAG)
    return {"baseline": str(baseline)} if baseline else {}


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


def _mark(store: CoordinationStore, record: Record, **changes: Any) -> Record:
    """Change one's own record; losing it to another execution is a named refusal."""
    updated = store.update(record, **changes)
    if updated is None:
        raise CoordinationUnavailable(
            "This execution lost its claim while writing",
            key=f"{record.kind}#{record.key}",
            hint="Another execution took the claim over (its lease had run out); run again.",
        )
    return updated


# -- create --------------------------------------------------------------------------------
def _create_body(request: Mapping[str, Any], owner: str, services: Services) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Name": request["workload_name"],
        "AccountId": request["aws_account_id"],
        "CatalogueId": request["catalogue_id"],
        "Region": request["aws_region"],
        "Parameters": services.parameters(request.get("workload_parameters") or {}),
        "Tags": {**(request.get("workload_tags") or {}), EXECUTION_TAG: owner},
    }
    if request.get("catalogue_version_id"):
        body["CatalogueVersionId"] = request["catalogue_version_id"]
    return body


def _with_stax_account(request: Mapping[str, Any], stax: Any) -> Mapping[str, Any]:
    """The request with ``aws_account_id`` as a Stax account id (a number is resolved)."""
    ref = request["aws_account_id"]
    if not is_aws_account_number(ref):
        return request
    return {**request, "aws_account_id": resolve_account_ids(stax, [ref])[ref]}


def create_workload(request: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """Create the workload, once, unless a live one has the name already.

    ``aws_account_id`` may be a 12-digit AWS account number: it is resolved to the Stax
    account id first (one ReadAccounts call).

    Raises:
        AwsAccountNotFound, AwsAccountAmbiguous, WorkloadAlreadyExists,
        WorkloadWriteInDoubt (retried), StaxRequestRejected,
        StaxAuthenticationFailed, StaxApiUnavailable, StaxCredentialsMissing,
        CoordinationUnavailable.
    """
    name = request["workload_name"]
    owner = _owner(request)
    store, grace = services.store, services.settings.visibility_grace_seconds
    with services.access.session() as stax:
        # Before the name is claimed: an unknown account number leaves nothing behind.
        request = _with_stax_account(request, stax)
        # Before the name is claimed too: a secret that cannot be read leaves nothing behind.
        body = _create_body(request, owner, services)
        claim = claim_name(store, stax, name, owner, grace, **_baseline_of(request))
        if claim.state == CREATED:
            _log("create_adopted", workload_id=claim.workload_id, workload_name=name)
            return _result(request, claim.workload_id, name, claim.task_id)
        named: list[dict[str, Any]] | None = None
        if claim.state == POSTING:
            named = stax.find_workloads_by_name(name)
            mine = own_created_workload(stax, named, owner, claim)
            if mine is not None:
                return _adopt_created(request, store, claim, mine)
            if claim.settle_until is not None and store.clock() < claim.settle_until:
                raise WorkloadWriteInDoubt(
                    "The create this execution sent may still land; not sending it again yet",
                    workload_name=name,
                    attempts=claim.attempts,
                    settle_seconds_left=round(claim.settle_until - store.clock(), 1),
                )
        if named is None:
            named = stax.find_workloads_by_name(name)
        live = [w for w in named if is_live(w)]
        if live:
            store.release("name", name, owner)
            raise WorkloadAlreadyExists(
                f"A workload named {name!r} already exists",
                workload_name=name,
                workload_id=live[0].get("Id"),
                status=live[0].get("Status"),
            )
        try:
            claim, event = _attempt(
                store,
                services,
                claim,
                (POSTING, CLAIMED),
                lambda: stax.create_workload(body),
            )
        except (StaxRequestRejected, StaxAuthenticationFailed):
            # A definite refusal: nothing was created, the name is free again.
            store.release("name", name, owner)
            raise
        created = _event_workload(event)
    if not created["WorkloadId"]:
        raise WorkloadWriteInDoubt(
            "Stax accepted the create without naming the workload; looking it up next",
            workload_name=name,
        )
    _mark(store, claim, state=CREATED, workload_id=created["WorkloadId"], task_id=created["TaskId"])
    result = _result(request, created["WorkloadId"], created["Name"] or name, created["TaskId"])
    _log("create_started", **result)
    return result


def _adopt_created(
    request: Mapping[str, Any], store: CoordinationStore, claim: Record, workload: Mapping
) -> dict[str, Any]:
    task_id = workload.get("UserTaskId")
    if not task_id:
        raise WorkloadWriteInDoubt(
            "Found this execution's workload, but Stax names no task for it yet",
            workload_id=workload.get("Id"),
        )
    _mark(store, claim, state=CREATED, workload_id=workload["Id"], task_id=task_id)
    _log("create_adopted", workload_id=workload["Id"], task_id=task_id)
    return _result(request, workload["Id"], workload.get("Name") or claim.workload_name, task_id)


# -- update --------------------------------------------------------------------------------
def _update_body(request: Mapping[str, Any], services: Services) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if "catalogue_version_id" in request:
        body["CatalogueVersionId"] = request["catalogue_version_id"]
    if "workload_parameters" in request:
        body["Parameters"] = services.parameters(request["workload_parameters"])
    if "workload_tags" in request:
        body["Tags"] = dict(request["workload_tags"])
    if "protection" in request:
        body["Protection"] = request["protection"]
    return body


def merged_parameters(stax: Any, workload_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with the workload's other parameters kept (``parameters_mode: merge``): read
    from Stax now, so a plan never has to carry values it read.

    Raises:
        StaxApiUnavailable: Stax answered the workload without its parameters (a nullable
            field); retried, since sending without them would drop them.
        WorkloadNotFound: the workload is gone.
    """
    current = stax.read_workload(workload_id)
    parameters = current.get("Parameters")
    if not isinstance(parameters, Mapping):
        raise StaxApiUnavailable(
            "Stax answered this workload without its parameters; the update keeps them, "
            "so it is not sent until Stax names them",
            call="ReadWorkloads",
            workload_id=workload_id,
        )
    wanted = {p["Key"]: p["Value"] for p in body.get("Parameters") or []}
    kept = {str(k): str(v) for k, v in parameters.items()}
    return {**body, "Parameters": _parameters({**kept, **wanted})}


def applied(current: Mapping[str, Any], body: Mapping[str, Any]) -> bool | None:
    """Does the workload carry every change ``body`` asks for? None: cannot tell (a value
    the document lets Stax leave null came back null)."""
    unknown = False
    if "CatalogueVersionId" in body:
        if current.get("CatalogueVersionId") is None:
            unknown = True
        elif current["CatalogueVersionId"] != body["CatalogueVersionId"]:
            return False
    if "Protection" in body and bool(current.get("Protection")) != body["Protection"]:
        return False
    if body.get("Parameters"):
        parameters = current.get("Parameters")
        if not isinstance(parameters, Mapping):
            unknown = True
        elif any(parameters.get(p["Key"]) != p["Value"] for p in body["Parameters"]):
            return False
    if body.get("Tags"):
        tags = current.get("Tags")
        if not isinstance(tags, Mapping):
            unknown = True
        elif any(tags.get(key) != value for key, value in body["Tags"].items()):
            return False
    return None if unknown else True


def _modified_since(current: Mapping[str, Any], lock: Record) -> bool:
    modified = timestamp(current.get("ModifiedTS"))
    return (
        modified is not None
        and lock.attempt_at is not None
        and modified >= lock.attempt_at - CLOCK_SKEW_SECONDS
    )


def update_workload(request: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """Send the requested changes (version, parameters, tags, protection) to Stax, once;
    with ``parameters_mode: merge`` the workload's other parameters are kept.

    Raises:
        WorkloadNotFound, WorkloadBusy (retried), WorkloadWriteInDoubt (retried),
        StaxRequestRejected, StaxAuthenticationFailed, StaxApiUnavailable,
        StaxCredentialsMissing, CoordinationUnavailable.
    """
    workload_id, owner = request["workload_id"], _owner(request)
    store, grace = services.store, services.settings.visibility_grace_seconds
    body = _update_body(request, services)
    with services.access.session() as stax:
        lock = lock_workload(store, stax, workload_id, owner, operation="update", grace=grace)
        if lock.state == SENT:
            return _result(request, workload_id, lock.workload_name, lock.task_id)
        if request.get("parameters_mode") == "merge" and "Parameters" in body:
            body = merged_parameters(stax, workload_id, body)
        if lock.state == SENDING:
            current = stax.read_workload(workload_id, include_tags=bool(body.get("Tags")))
            landed = applied(current, body)
            if landed and _modified_since(current, lock):
                if not current.get("UserTaskId"):
                    raise WorkloadWriteInDoubt(
                        "This execution's update landed; Stax names no task for it yet",
                        workload_id=workload_id,
                    )
                return _sent(request, store, lock, current["UserTaskId"], current.get("Name"))
            _still_settling(store, lock, landed is None, workload_id)
        event = _send(store, services, lock, lambda: stax.update_workload(workload_id, body))
    return _accepted(request, store, lock, event)


def _still_settling(store: CoordinationStore, lock: Record, unknown: bool, workload_id: str):
    """Refuse to re-send while the earlier write may still land (or cannot be judged)."""
    now = store.clock()
    if unknown or (lock.settle_until is not None and now < lock.settle_until):
        raise WorkloadWriteInDoubt(
            f"The {lock.operation} this execution sent may still land; not sending it again yet",
            workload_id=workload_id,
            attempts=lock.attempts,
            settle_seconds_left=round(max(0.0, (lock.settle_until or now) - now), 1),
        )


def _attempt(
    store: CoordinationStore,
    services: Services,
    record: Record,
    states: tuple[str, str],
    write: Callable[[], Mapping[str, Any]],
) -> tuple[Record, dict[str, Any]]:
    """Record the write as sent (in doubt), then send it.

    ``states`` is (the in-doubt state, the state before it). A write that failed before
    it could reach Stax (no connection, throttled) is no longer in doubt: the record goes
    back, so a retry sends it at once. Any other failure leaves it in doubt until the
    settle window after the moment this client gave up.
    """
    in_doubt, before = states
    now = store.clock()
    record = _mark(
        store,
        record,
        state=in_doubt,
        attempt_at=now,
        settle_until=services.settle_until(now),
        attempts=record.attempts + 1,
    )
    try:
        return record, dict(write())
    except StaxApiUnavailable as error:
        if error.details.get("not_sent"):
            _mark(store, record, state=before, settle_until=None)
        else:
            gave_up = store.clock()
            _mark(store, record, settle_until=gave_up + services.settings.write_settle_seconds)
        raise


def _send(store: CoordinationStore, services: Services, lock: Record, write: Any) -> dict:
    """Send an update or delete once; a definite refusal frees the lock."""
    try:
        return _attempt(store, services, lock, (SENDING, LOCKED), write)[1]
    except (StaxRequestRejected, WorkloadNotFound, StaxAuthenticationFailed):
        store.release("workload", lock.key, lock.owner)
        raise


def _accepted(
    request: Mapping[str, Any], store: CoordinationStore, lock: Record, event: Mapping
) -> dict[str, Any]:
    written = _event_workload(event)
    if not written["TaskId"]:
        raise WorkloadWriteInDoubt(
            f"Stax accepted the {request['operation']} without naming its task; reading it next",
            workload_id=lock.key,
        )
    result = _sent(request, store, lock, written["TaskId"], written["Name"])
    _log(f"{request['operation']}_started", **result)
    return result


def _sent(
    request: Mapping[str, Any],
    store: CoordinationStore,
    lock: Record,
    task_id: str,
    name: str | None,
) -> dict[str, Any]:
    # Kept after the lock is released: the last execution whose write Stax accepted (the
    # inventory's "last written by"; a create's is its name claim). Before the lock says
    # SENT, so a retry after a failed put writes it again; every path that finds its write
    # landed (accepted, in doubt but landed, a delete under way) comes through here.
    store.put_item(
        f"workload#{lock.key}",
        WRITTEN_SORT_KEY,
        {"owner": lock.owner, "operation": request["operation"], "since": store.clock()},
    )
    _mark(
        store,
        lock,
        state=SENT,
        task_id=task_id,
        workload_name=name,
        lease_until=store.clock() + SENT_LEASE_SECONDS,
    )
    return _result(request, lock.key, name, task_id)


# -- delete --------------------------------------------------------------------------------
def delete_workload(request: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """Delete the workload, once. A workload already being deleted, or gone after this
    execution's own earlier attempt, is success.

    Raises:
        WorkloadNotFound, WorkloadBusy (retried), WorkloadWriteInDoubt (retried),
        StaxRequestRejected, StaxAuthenticationFailed, StaxApiUnavailable,
        StaxCredentialsMissing, CoordinationUnavailable.
    """
    workload_id, owner = request["workload_id"], _owner(request)
    store, grace = services.store, services.settings.visibility_grace_seconds
    with services.access.session() as stax:
        lock = lock_workload(store, stax, workload_id, owner, operation="delete", grace=grace)
        if lock.state == SENT:
            return _result(request, workload_id, lock.workload_name, lock.task_id)
        if lock.state == SENDING:
            done = _deletion_under_way(request, store, stax, lock)
            if done is not None:
                return done
            _still_settling(store, lock, False, workload_id)
        try:
            event = _send(store, services, lock, lambda: stax.delete_workload(workload_id))
        except (WorkloadNotFound, StaxRequestRejected):
            # 404 (gone, or never known) or 400 (e.g. already being deleted): Stax's
            # answer alone does not say which. The workload itself does.
            done = _deletion_under_way(request, store, stax, lock, sent_before=lock.attempts > 0)
            if done is None:
                raise
            return done
    return _accepted(request, store, lock, event)


def _deletion_under_way(
    request: Mapping[str, Any],
    store: CoordinationStore,
    stax: StaxGateway,
    lock: Record,
    sent_before: bool = True,
) -> dict[str, Any] | None:
    """The result of a delete already done or under way, or None when it is not."""
    try:
        current = stax.read_workload(lock.key)
    except WorkloadNotFound:
        if not sent_before:
            return None  # never seen: the refusal stands (WorkloadNotFound)
        store.release("workload", lock.key, lock.owner)
        _log("delete_found_gone", workload_id=lock.key)
        return _result(request, lock.key, None, None, already_done=True)
    status = current.get("Status")
    if status not in _DELETING:
        return None
    task_id = current.get("UserTaskId")
    if status == "DELETED" and not task_id:
        store.release("workload", lock.key, lock.owner)
        return _result(request, lock.key, current.get("Name"), None, already_done=True)
    if not task_id:
        raise WorkloadWriteInDoubt(
            "The workload is being deleted, but Stax names no task for it yet",
            workload_id=lock.key,
        )
    _log("delete_adopted", workload_id=lock.key, task_id=task_id)
    return _sent(request, store, lock, task_id, current.get("Name"))


# -- the task watcher ----------------------------------------------------------------------
def _elapsed_seconds(started_at: str | None, now: dt.datetime) -> float:
    if not started_at:
        return 0.0
    started = dt.datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    if started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)
    return max(0.0, (now - started).total_seconds())


def log_tail(lines: Any) -> list[str]:
    """The last lines of a task log, each cut to ``MAX_LOG_LINE`` characters, together at
    most ``MAX_LOG_TAIL_BYTES`` bytes (newest lines kept)."""
    import json

    kept: list[str] = []
    size = 2  # the brackets of the JSON array
    for line in reversed(list(lines or [])[-LOG_TAIL_LINES:]):
        text = str(line)[:MAX_LOG_LINE]
        cost = len(json.dumps(text).encode("utf-8")) + 1
        if size + cost > MAX_LOG_TAIL_BYTES:
            if not kept:
                kept.append(text[: MAX_LOG_TAIL_BYTES // 8])
            break
        kept.append(text)
        size += cost
    return list(reversed(kept))


def get_task_status(
    request: Mapping[str, Any],
    access: StaxAccess,
    schedule: PollSchedule,
    *,
    grace_seconds: float,
    now: dt.datetime | None = None,
    store: CoordinationStore | None = None,
) -> dict[str, Any]:
    """Read the Stax task once and say how long to wait before the next poll.

    Every field of ``TASK_STATUS_FIELDS`` is in the result (null when unknown), so the
    task watcher never reads a path that is missing. A task Stax answers 404 for within
    ``grace_seconds`` of the watch's start is ``NOT_VISIBLE`` (read-after-write lag).
    When the task has ended, this execution's lock on the workload (if any) is released.

    Raises:
        StaxRequestRejected (a task still unknown after the grace), StaxAuthenticationFailed,
        StaxApiUnavailable, StaxCredentialsMissing.
    """
    now = now or dt.datetime.now(dt.UTC)
    polls_before = int(request.get("polls") or 0)
    elapsed = _elapsed_seconds(request.get("started_at"), now)
    with access.session() as stax:
        try:
            task = stax.read_task(request["task_id"])
        except StaxRequestRejected as error:
            if error.details.get("status") != 404 or elapsed >= grace_seconds:
                raise
            task = {"Status": NOT_VISIBLE, "Logs": []}
    status = task.get("Status")
    result: dict[str, Any] = {key: request.get(key) for key in TASK_STATUS_FIELDS}
    result.update(
        status=status,
        logs_tail=log_tail(task.get("Logs")),
        polls=polls_before + 1,
        elapsed_seconds=round(elapsed, 3),
        next_wait_seconds=next_wait_seconds(polls_before, elapsed, schedule),
    )
    if status in _FINAL and store is not None:
        _release_lock(store, request)
    _log(
        "task_polled",
        task_id=request["task_id"],
        status=status,
        polls=result["polls"],
        next_wait_seconds=result["next_wait_seconds"],
    )
    return result


def _release_lock(store: CoordinationStore, request: Mapping[str, Any]) -> None:
    """Best effort: a lock left behind changes hands anyway once its task has ended."""
    owner, workload_id = request.get("execution_id"), request.get("workload_id")
    if request.get("operation") not in ("update", "delete") or not owner or not workload_id:
        return
    try:
        store.release("workload", str(workload_id), str(owner))
    except CoordinationUnavailable as error:
        _log("lock_release_failed", workload_id=workload_id, error=str(error)[:300])
