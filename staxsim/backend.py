"""The simulated Stax organisation: per-resource backends composed behind one lock.

``SimState`` is what moto would call the service backend. It owns no behaviour of its
own: each call takes the lock, reads the clock once and delegates to a per-resource
backend of ``staxsim.models`` (organisation, accounts, catalogue, tasks, workloads),
to the seed loader, or to the observers (request log, connection counters). The
threaded HTTP server may call in from any thread. The clock is injectable, so unit
tests drive the task state machine without sleeping.

It also holds the realism settings (``staxsim.realism``): the read-after-write lag is
applied here (new workloads and tasks record when they become visible), the response
shaping (tags, nulls, undefined properties) in ``staxsim.responses``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from staxsim.account_events import EventBusPublisher, account_events
from staxsim.document import StaxDocument, load_document
from staxsim.faults import FaultInjector
from staxsim.models.accounts import AccountBackend
from staxsim.models.catalogue import CatalogueBackend, CatalogueItem, CatalogueVersion
from staxsim.models.common import Sequence
from staxsim.models.observability import ConnectionCounters, RequestLog, max_overlap
from staxsim.models.organisation import OrganisationBackend
from staxsim.models.tasks import TASK_RUNNING_STATUSES, FailRule, Task, TaskBackend, TaskDurations
from staxsim.models.workloads import Workload, WorkloadBackend
from staxsim.realism import NullDice, Realism
from staxsim.seeding import SeedLoader


class SimState:
    """The whole simulated organisation (thread-safe; ``clock`` drives task progress)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        document: StaxDocument | None = None,
        durations: TaskDurations | None = None,
        realism: Realism | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self.document = document or load_document()
        self.sequence = Sequence()
        self.organisation_backend = OrganisationBackend(self.document)
        self.account_backend = AccountBackend()
        self.task_backend = TaskBackend(durations)
        self.catalogue_backend = CatalogueBackend(
            self.task_backend, self.organisation_backend, self.sequence
        )
        self.workload_backend = WorkloadBackend(
            self.task_backend,
            self.catalogue_backend,
            self.account_backend,
            self.organisation_backend,
            self.sequence,
        )
        self._seeder = SeedLoader(
            document=self.document,
            organisation=self.organisation_backend,
            accounts=self.account_backend,
            catalogue=self.catalogue_backend,
            workloads=self.workload_backend,
            sequence=self.sequence,
        )
        self.faults = FaultInjector()
        self.request_log = RequestLog()
        self.connections = ConnectionCounters()
        self.realism = realism or Realism()
        self.null_dice = NullDice(self.realism.seed)
        #: Account events to an EventBridge bus, once one is configured (PUT /_sim/events).
        self.account_events = EventBusPublisher()

    # -- housekeeping ------------------------------------------------------------------
    def now(self) -> float:
        """The state's clock."""
        return self._clock()

    def reset(self, everything: bool = False) -> None:
        """Clear workloads, tasks, faults, fail rules, request log, connection counts and
        seeded data.

        The ApiAuth config, task durations, update success status and realism settings
        are kept unless ``everything`` is true. The null RNG restarts from its seed.
        """
        with self._lock:
            self.organisation_backend.clear()
            self.account_backend.clear()
            self.catalogue_backend.clear()
            self.workload_backend.clear()
            self.task_backend.clear()
            self.request_log.clear()
            self.connections.clear()
            self.faults.clear()
            if everything:
                self.organisation_backend.api_auth = None
                self.task_backend.reset_settings()
                self.realism = Realism()
            self.null_dice.reseed(self.realism.seed)

    # -- views kept for callers of the former single-class state ------------------------
    @property
    def organisation(self) -> dict[str, Any]:
        """The organisation record (``Id``, ``Name``, ``CustomerId``)."""
        return self.organisation_backend.organisation

    @property
    def api_auth(self) -> dict[str, Any] | None:
        """The configured ApiAuth values (None before configuration)."""
        return self.organisation_backend.api_auth

    @property
    def durations(self) -> TaskDurations:
        """Durations of tasks created from now on."""
        return self.task_backend.durations

    @property
    def update_success_status(self) -> str:
        """Workload status after a successful update task."""
        return self.task_backend.update_success_status

    @property
    def fail_rules(self) -> list[FailRule]:
        """The active fail rules."""
        return self.task_backend.fail_rules

    @property
    def tasks(self) -> dict[str, Task]:
        """Every task by id."""
        return self.task_backend.tasks

    @property
    def workloads(self) -> dict[str, Workload]:
        """Every workload by id."""
        return self.workload_backend.workloads

    @property
    def catalogue(self) -> dict[str, CatalogueItem]:
        """Every catalogue item by id."""
        return self.catalogue_backend.items

    @property
    def accounts(self) -> dict[str, dict[str, Any]]:
        """Every account by id."""
        return self.account_backend.accounts

    # -- configuration -------------------------------------------------------------------
    def configure(self, api_auth: Mapping[str, Any]) -> dict[str, Any]:
        """Set the ApiAuth values served by ``/public/config`` (validated by the doc)."""
        with self._lock:
            return self.organisation_backend.configure(api_auth)

    def public_config(self, api_base_url: str) -> dict[str, Any]:
        """The ``public.ReadConfig`` body (503 before configuration)."""
        with self._lock:
            return self.organisation_backend.public_config(api_base_url)

    @property
    def region(self) -> str | None:
        """The configured ApiAuth region (the SigV4 credential scope must name it)."""
        with self._lock:
            return self.organisation_backend.region

    def set_durations(self, durations: TaskDurations, update_success: str | None = None) -> None:
        """Durations of tasks created from now on (running tasks keep theirs)."""
        with self._lock:
            self.task_backend.set_durations(durations, update_success)

    def set_total_range(self, low: float, high: float, seed: int | None = None) -> None:
        """Draw each new task's length between ``low`` and ``high`` seconds."""
        with self._lock:
            self.task_backend.set_total_range(low, high, seed)

    @property
    def total_range(self) -> tuple[float, float] | None:
        return self.task_backend.total_range

    def set_realism(self, changes: Mapping[str, Any]) -> Realism:
        """Apply realism changes (``staxsim.realism``); a given ``seed`` restarts the RNG."""
        with self._lock:
            self.realism = self.realism.updated(changes)
            if "seed" in changes:
                self.null_dice.reseed(self.realism.seed)
            return self.realism

    def add_fail_rule(self, rule: FailRule) -> FailRule:
        """Add a rule picking tasks that will end FAILED."""
        with self._lock:
            return self.task_backend.add_fail_rule(rule)

    def list_fail_rules(self) -> list[dict[str, Any]]:
        """The fail rules still active, as JSON."""
        with self._lock:
            return self.task_backend.list_fail_rules()

    def clear_fail_rules(self) -> None:
        """Remove every fail rule."""
        with self._lock:
            self.task_backend.clear_fail_rules()

    def seed(self, payload: Mapping[str, Any]) -> dict[str, int]:
        """Add or replace (same ids) the organisation, accounts, catalogue and workloads.

        A new account, or one that changed in any field (its type, name, status, tags),
        is announced on the configured event bus (after the lock is released: a slow bus
        holds up no call).
        """
        with self._lock:
            before = {k: dict(v) for k, v in self.account_backend.accounts.items()}
            counts = self._seeder.load(payload, self.now())
            events = account_events(before, self.account_backend.accounts)
        self.account_events.publish(events)
        return counts

    # -- the API operations ----------------------------------------------------------------
    @property
    def _lag(self) -> float:
        return self.realism.read_after_write_lag_seconds

    def get_task(self, task_id: str) -> dict[str, Any]:
        """The ``tasks.ReadTask`` body of a task (404 while not visible)."""
        with self._lock:
            return self.task_backend.read(task_id, self.now())

    def get_workload(self, workload_id: str) -> dict[str, Any]:
        """One workload in the ``Workload`` shape (deleted ones too, status DELETED)."""
        with self._lock:
            return self.workload_backend.get(workload_id, self.now())

    def query_workloads(self, query: Mapping[str, str]) -> dict[str, Any]:
        """``workloads.ReadWorkloadsResponse`` for the query parameters of the document."""
        with self._lock:
            return self.workload_backend.query(query, self.now())

    def create_workload(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], Task]:
        """Accept a ``workloads.CreateWorkload`` body and start its task."""
        with self._lock:
            return self.workload_backend.create(body, self.now(), lag=self._lag)

    def update_workload(
        self, workload_id: str, body: Mapping[str, Any]
    ) -> tuple[dict[str, Any], Task]:
        """Accept a ``workloads.UpdateWorkload`` body and start its task."""
        with self._lock:
            return self.workload_backend.update(
                workload_id, body, self.now(), lag=self._lag, strict=self.realism.strict
            )

    def delete_workload(self, workload_id: str) -> tuple[dict[str, Any], Task]:
        """Start deleting a workload (403 if protected, 400 if busy, 404 if gone)."""
        with self._lock:
            return self.workload_backend.delete(
                workload_id, self.now(), lag=self._lag, strict=self.realism.strict
            )

    def query_catalogue(
        self, query: Mapping[str, str], catalogue_id: str | None = None
    ) -> dict[str, Any]:
        """``workloads.ReadCatalogueItems`` (all items, or the one of ``catalogue_id``)."""
        with self._lock:
            return self.catalogue_backend.query(query, self.now(), catalogue_id)

    def get_catalogue_version(self, catalogue_id: str, version_id: str) -> dict[str, Any]:
        """``workloads.ReadCatalogueVersion``: ``{"Versions": [version]}``."""
        with self._lock:
            return self.catalogue_backend.get_version(catalogue_id, version_id, self.now())

    def create_catalogue_item(
        self, body: Mapping[str, Any]
    ) -> tuple[CatalogueItem, CatalogueVersion, Task]:
        """Accept a ``workloads.CreateCatalogueItem`` body: item + first version + task."""
        with self._lock:
            return self.catalogue_backend.create_item(body, self.now(), self._lag)

    def create_catalogue_version(
        self, catalogue_id: str, body: Mapping[str, Any]
    ) -> tuple[CatalogueItem, CatalogueVersion, Task]:
        """Accept a ``workloads.CreateCatalogueVersion`` body: new version + task."""
        with self._lock:
            return self.catalogue_backend.create_version(catalogue_id, body, self.now(), self._lag)

    def query_accounts(
        self, query: Mapping[str, str], account_id: str | None = None
    ) -> dict[str, Any]:
        """``accounts.ReadAccounts`` (all accounts, or the one of ``account_id``)."""
        with self._lock:
            return self.account_backend.query(query, account_id)

    def query_account_types(self, query: Mapping[str, str]) -> dict[str, Any]:
        """``accounts.ReadAccountTypes``."""
        with self._lock:
            organisation_id = str(self.organisation_backend.organisation["Id"])
            return self.account_backend.query_types(query, organisation_id)

    # -- request log, snapshot, stats ------------------------------------------------------
    def log_request(self, entry: dict[str, Any]) -> None:
        """Append one API call to the request log."""
        with self._lock:
            self.request_log.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        """The request log, oldest first."""
        with self._lock:
            return self.request_log.copy()

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self.request_log.clear()

    def snapshot(self) -> dict[str, Any]:
        """Everything, as JSON (for ``GET /_sim/state``; ignores read-after-write lag)."""
        with self._lock:
            now = self.now()
            items = sorted(self.catalogue_backend.items.values(), key=lambda c: c.seq)
            return {
                "now": now,
                "configured": self.api_auth is not None,
                "api_auth": dict(self.api_auth) if self.api_auth else None,
                "organisation": dict(self.organisation),
                "durations": self.durations.as_dict(),
                "update_success_status": self.update_success_status,
                "realism": self.realism.as_dict(),
                "accounts": [dict(a) for a in self.accounts.values()],
                "account_types": [dict(t) for t in self.account_backend.types.values()],
                "catalogue": [c.serve(now, include_versions=True) for c in items],
                "workloads": self.workload_backend.snapshot(now),
                "tasks": self.task_backend.snapshot(now),
                "fail_rules": self.task_backend.list_fail_rules(),
                "faults": {"seed": self.faults.seed, "rules": self.faults.rules()},
            }

    def stats(self, since: float | None = None) -> dict[str, Any]:
        """Counts, ``max_concurrent_tasks`` and connections (for ``GET /_sim/stats``).

        With ``since``, the task figures cover only tasks created at or after it (what one
        run started, not what earlier runs left going).
        """
        with self._lock:
            now = self.now()
            tasks = [t for t in self.tasks.values() if since is None or t.created_at >= since]
            by_status: dict[str, int] = {}
            by_operation: dict[str, int] = {}
            for task in tasks:
                status = task.status(now)
                by_status[status] = by_status.get(status, 0) + 1
                by_operation[task.stax_operation] = by_operation.get(task.stax_operation, 0) + 1
            return {
                "now": now,
                "max_concurrent_tasks": max_overlap(
                    (t.created_at, min(t.end_at, now)) for t in tasks
                ),
                "active_tasks": sum(by_status.get(s, 0) for s in TASK_RUNNING_STATUSES),
                "tasks": {
                    "total": len(tasks),
                    "by_status": by_status,
                    "by_operation": by_operation,
                },
                "workloads": {
                    "total": len(self.workloads),
                    "by_status": self.workload_backend.statuses(now),
                },
                "requests": self.request_log.stats(),
                "connections": self.connections.as_dict(),
            }
