"""Who may write: the name claim of a create, the lock of an update or delete.

Role: the rules that sit between the coordination store (``chalicelib.coordination``,
what is recorded) and Stax (``chalicelib.stax``, what is true), used by the use cases
in ``chalicelib.operations``:

- a create claims its workload name first; another execution holding the claim, or a
  live workload named by a finished claim, refuses it with ``WorkloadAlreadyExists``;
  only a workload Stax reports ``DELETED`` (or no longer knows) frees the name;
- an update or delete locks its workload id; a lock held by another execution whose
  Stax task still runs refuses it with ``WorkloadBusy``; a lock whose holder's task has
  ended, or whose lease has run out, changes hands;
- after a write whose answer was lost, ``own_created_workload`` tells whether a
  workload Stax shows is the one this execution created: by the execution tag, read the
  way the document allows (``include_tags=true`` by id; ``Tags`` may still be null),
  else by its creation time after this execution's POST. A DELETED workload is never
  adopted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.coordination import CLAIMED, LOCKED, CoordinationStore, Record
from chalicelib.errors import (
    StaxRequestRejected,
    WorkloadAlreadyExists,
    WorkloadBusy,
    WorkloadNotFound,
    WorkloadWriteInDoubt,
)
from chalicelib.logs import log_event
from chalicelib.stax import StaxGateway, is_live

#: Stax workload tag naming the execution that created the workload.
EXECUTION_TAG = "stax-orchestrator:execution-id"
#: How long a claim or lock whose holder has not finished writing stays valid. Longer
#: than a create's retries and settle window together, so an abandoned record frees
#: itself while a working one never times out under its holder.
CLAIM_LEASE_SECONDS = 15 * 60
#: How long a lock stays valid once its write was accepted: the longest watch (a day)
#: and a margin. In practice it changes hands as soon as its Stax task has ended.
SENT_LEASE_SECONDS = 25 * 3600
#: Clocks of Stax and of the Lambdas may disagree by this much.
CLOCK_SKEW_SECONDS = 5.0
_FINAL_TASK_STATUSES = frozenset({"SUCCEEDED", "FAILED"})
_ATTEMPTS = 3


def timestamp(value: Any) -> float | None:
    """A Stax ``...TS`` value (ISO 8601) as epoch seconds, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _recent(record: Record, now: float, grace_seconds: float) -> bool:
    """Is the record's last write young enough that Stax may not show its result yet?"""
    written = record.attempt_at if record.attempt_at is not None else record.since
    return now - written < grace_seconds


# -- names -------------------------------------------------------------------------------
def _holder(stax: StaxGateway, record: Record, now: float, grace: float) -> dict | None:
    """The live workload a finished claim names, or None when the name is free again."""
    assert record.workload_id
    try:
        workload = stax.read_workload(record.workload_id)
    except WorkloadNotFound:
        if _recent(record, now, grace):
            # Just created: Stax may answer 404 until it catches up (read-after-write lag).
            return {"Id": record.workload_id, "Status": None}
        return None
    return workload if is_live(workload) else None


def claim_name(
    store: CoordinationStore,
    stax: StaxGateway,
    name: str,
    owner: str,
    grace: float,
    **attrs: str,
) -> Record:
    """The name claim of ``owner`` (new, taken over, or its own from an earlier attempt);
    ``attrs`` are kept on it (the baseline the workload belongs to, for the inventory).

    Raises:
        WorkloadAlreadyExists: another execution is creating a workload of that name, or a
            live workload created through a claim holds it.
        CoordinationUnavailable, StaxApiUnavailable, StaxAuthenticationFailed.
    """
    for _ in range(_ATTEMPTS):
        # Write first (the usual case: nobody holds the name), read only when that fails.
        created = store.create(
            "name", name, owner, CLAIMED, CLAIM_LEASE_SECONDS, workload_name=name, **attrs
        )
        if created is not None:
            return created
        now = store.clock()
        record = store.get("name", name)
        if record is None:
            continue
        if record.owner == owner:
            return record
        if record.workload_id:
            holder = _holder(stax, record, now, grace)
            if holder is not None:
                raise WorkloadAlreadyExists(
                    f"A workload named {name!r} already exists",
                    workload_name=name,
                    workload_id=record.workload_id,
                    status=holder.get("Status"),
                )
        elif not record.lease_expired(now):
            raise WorkloadAlreadyExists(
                f"A workload named {name!r} is being created by another execution",
                workload_name=name,
                claimed_by=record.owner,
                hint="Wait for that execution to end; its workload will then hold the name.",
            )
        taken = store.take_over(
            record, owner, CLAIMED, CLAIM_LEASE_SECONDS, workload_name=name, **attrs
        )
        if taken is not None:
            log_event("name_claim_taken_over", workload_name=name, previous_owner=record.owner)
            return taken
    raise WorkloadAlreadyExists(
        f"Another execution claimed the name {name!r} at the same moment",
        workload_name=name,
    )


def own_created_workload(
    stax: StaxGateway, named: Sequence[Mapping[str, Any]], owner: str, claim: Record
) -> dict[str, Any] | None:
    """The live workload among ``named`` that this execution's in-doubt POST created.

    Raises:
        WorkloadWriteInDoubt: a candidate cannot be told apart yet (not readable by id yet,
            or its tags came back null and its creation time is unknown).
    """
    undecided: list[str] = []
    for listed in named:
        if not is_live(listed):
            continue  # never adopt a DELETED workload, even one carrying this execution id
        workload_id = str(listed["Id"])
        try:
            workload = stax.read_workload(workload_id, include_tags=True)
        except WorkloadNotFound:
            undecided.append(workload_id)
            continue
        if not is_live(workload):
            continue
        tags = workload.get("Tags")
        if isinstance(tags, Mapping):
            if tags.get(EXECUTION_TAG) == owner:
                return workload
            continue
        # Tags came back null (the document allows it): a workload of this claimed name
        # created after this execution's POST can only be that POST's.
        created = timestamp(workload.get("CreatedTS"))
        if created is not None and claim.attempt_at is not None:
            if created >= claim.attempt_at - CLOCK_SKEW_SECONDS:
                return workload
            continue
        undecided.append(workload_id)
    if undecided:
        raise WorkloadWriteInDoubt(
            "Stax shows a workload of this name that cannot be told apart yet",
            workload_name=claim.workload_name,
            candidates=undecided[:5],
        )
    return None


# -- workload ids --------------------------------------------------------------------------
def _lock_is_stale(stax: StaxGateway, record: Record, now: float, grace: float) -> bool:
    """May another execution take this lock? Its lease ran out, or its Stax task ended."""
    if record.lease_expired(now):
        return True
    if not record.task_id:
        return False  # its holder has not (knowingly) written yet, or its write is in doubt
    try:
        task = stax.read_task(record.task_id)
    except StaxRequestRejected as error:
        # Only a 404 old enough to believe (not read-after-write lag) frees the lock.
        return bool(error.details.get("status") == 404 and not _recent(record, now, grace))
    return str(task.get("Status")) in _FINAL_TASK_STATUSES


def lock_workload(
    store: CoordinationStore,
    stax: StaxGateway,
    workload_id: str,
    owner: str,
    *,
    operation: str,
    grace: float,
) -> Record:
    """The lock of ``owner`` on ``workload_id`` for ``operation``.

    Raises:
        WorkloadBusy: another execution's update or delete of the workload still runs.
        CoordinationUnavailable, StaxApiUnavailable, StaxAuthenticationFailed.
    """
    record: Record | None = None
    for _ in range(_ATTEMPTS):
        created = store.create(
            "workload", workload_id, owner, LOCKED, CLAIM_LEASE_SECONDS, operation=operation
        )
        if created is not None:
            return created
        now = store.clock()
        record = store.get("workload", workload_id)
        if record is None:
            continue
        if record.owner == owner:
            return record
        if not _lock_is_stale(stax, record, now, grace):
            break
        taken = store.take_over(record, owner, LOCKED, CLAIM_LEASE_SECONDS, operation=operation)
        if taken is not None:
            log_event("workload_lock_taken_over", workload_id=workload_id, previous=record.owner)
            return taken
    raise WorkloadBusy(
        f"Another execution is running a {record.operation if record else 'write'} of this "
        "workload",
        workload_id=workload_id,
        owner=record.owner if record else None,
        operation=record.operation if record else None,
        task_id=record.task_id if record else None,
    )
