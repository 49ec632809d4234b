"""What the last full reads of workloads found, so a plan with nothing to change costs a
few Stax calls instead of one per target.

Role: Stax lists workloads without their tags (ReadWorkloads has no ``include_tags``), and
the baseline tag is how a plan recognises a baseline's workloads, so a plan used to read
every workload again by id. This cache, in the stage's coordination table (partition
``plan-cache#<catalogue id>``, one item per workload), keeps what a full read found -- the
plan's record of the workload (tags, version, protection, parameter *digests*, never a
value) -- beside what identifies that state in a list: ``ModifiedTS``, ``Status`` and the
last task (``UserTaskId``).

A listed workload takes its record from the cache only when the list says the workload is
as it was read (:meth:`Snapshot.describes`): the same ``ModifiedTS`` (every write to a
workload is a task that modifies it), a settled and equal ``Status``, and every field the
list does carry (version, last task, protection, parameters, tags; Stax may serve the
nullable ones as null) equal to what the read found; and the read is younger than
:data:`MAX_AGE_SECONDS`. Only workloads that carry the baseline tag are kept: any other
workload of the catalogue may hold a target's name, and is read by id every time.

The cache may only make a plan say "no change". Every workload a plan would change,
replace, delete or call a conflict is read again by id before the plan is shown
(``planner.compute_plan``), so a stale or forged item can at worst hide drift until the
next full read, never cause a write. A cache that cannot be read or written (no
permission, no table) costs only the reads it would have saved: it is skipped, once,
with a warning.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import CoordinationUnavailable

CACHE_PK_PREFIX = "plan-cache#"
#: A snapshot older than this is not trusted: a full read of every workload at least daily
#: bounds how long a change Stax made without a new ModifiedTS could stay unseen.
MAX_AGE_SECONDS = 24 * 3600.0
#: The statuses a snapshot may describe (a workload in another one is read by id).
SETTLED = frozenset({"ACTIVE", "UPDATE_COMPLETE", "UPDATE_FAILED", "CREATE_FAILED"})


@dataclass(frozen=True)
class Snapshot:
    """One workload as a full read found it: its plan record and what a list shows of it."""

    workload_id: str
    modified: str
    status: str
    task: str | None
    record: Mapping[str, Any]
    read_at: float

    @classmethod
    def of(
        cls, workload: Mapping[str, Any], record: Mapping[str, Any], now: float
    ) -> Snapshot | None:
        """The snapshot of a fully read ``workload`` (None: nothing a list could match)."""
        modified, status = workload.get("ModifiedTS"), workload.get("Status")
        if not modified or status not in SETTLED:
            return None
        task = workload.get("UserTaskId")
        return cls(str(workload["Id"]), str(modified), str(status), task and str(task),
                   dict(record), now)  # fmt: skip

    def describes(self, listed: Mapping[str, Any], record_of: Callable[..., Any]) -> bool:
        """Whether the ``listed`` summary is the workload this snapshot read (see the module
        docstring). ``record_of``: the planner's record of a workload, to compare the
        parameters and tags a list may carry."""
        if not listed.get("ModifiedTS") or str(listed["ModifiedTS"]) != self.modified:
            return False
        if listed.get("Status") != self.status:
            return False
        record = self.record
        for field in ("Name", "AccountId", "Region", "CatalogueId"):
            if listed.get(field) != record.get(field):
                return False
        pairs = (
            ("CatalogueVersionId", record.get("CatalogueVersionId")),
            ("UserTaskId", self.task),
            ("Protection", record.get("Protection")),
        )
        if any(listed.get(f) is not None and listed.get(f) != known for f, known in pairs):
            return False
        if listed.get("Parameters") is not None or listed.get("Tags") is not None:
            seen = record_of(listed)
            for field in ("Parameters", "Tags"):
                if listed.get(field) is not None and seen[field] != record.get(field):
                    return False
        return True

    def item(self) -> dict[str, Any]:
        return {
            "modified": self.modified,
            "status": self.status,
            "task": self.task,
            "record": json.dumps(self.record, sort_keys=True, separators=(",", ":")),
            "read_at": int(self.read_at),
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Snapshot:
        return cls(
            str(item["sk"]),
            str(item["modified"]),
            str(item["status"]),
            str(item["task"]) if item.get("task") else None,
            json.loads(str(item["record"])),
            float(item["read_at"]),
        )


class PlanCache:
    """The plan cache of one stage (``store``: its coordination store; ``trust=False``:
    every workload is read by id, and what is read is remembered)."""

    def __init__(
        self,
        store: Any,
        warn: Callable[[str], None] = lambda message: None,
        clock: Callable[[], float] = time.time,
        *,
        trust: bool = True,
    ) -> None:
        self._store = store
        self._warn = warn
        self._clock = clock
        self._trust = trust
        self._off = False

    def now(self) -> float:
        return self._clock()

    def load(self, catalogue_id: str) -> dict[str, Snapshot]:
        """The fresh snapshots of a catalogue's workloads, by workload id ({} when the
        cache cannot be read, or is not trusted)."""
        if self._off or not self._trust:
            return {}
        oldest = self._clock() - MAX_AGE_SECONDS
        try:
            items = list(self._store.query(CACHE_PK_PREFIX + catalogue_id))
        except CoordinationUnavailable as error:
            self._skip(error)
            return {}
        found = {}
        for item in items:
            try:
                snapshot = Snapshot.from_item(item)
            except (KeyError, TypeError, ValueError):
                continue  # not an item this code wrote: read the workload instead
            if snapshot.read_at >= oldest:
                found[snapshot.workload_id] = snapshot
        return found

    def store(self, catalogue_id: str, snapshots: Iterable[Snapshot]) -> None:
        """Keep these snapshots (nothing happens when the cache cannot be written)."""
        rows = [(s.workload_id, s.item()) for s in snapshots]
        if self._off or not rows:
            return
        try:
            self._store.put_items(CACHE_PK_PREFIX + catalogue_id, rows)
        except CoordinationUnavailable as error:
            self._skip(error)

    def _skip(self, error: CoordinationUnavailable) -> None:
        self._off = True
        code = error.details.get("aws_error")
        self._warn(
            "the plan cache in the coordination table cannot be used "
            f"({code or type(error).__name__}): every workload is read from Stax by id"
        )
