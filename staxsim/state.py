"""In-memory model of the simulated Stax organisation, and its task state machine.

Everything the simulator knows lives here: the ApiAuth config, the organisation,
accounts, catalogue items and versions, workloads, tasks, the "fail the next N tasks"
rules, the fault injector and the request log. One re-entrant lock guards it all, so
the threaded HTTP server can call in from any thread.

Tasks have no background threads: a task records when it started and the phase
durations in force at that time, and its status is *computed* from the clock when read:
STARTED for ``started`` seconds, PENDING for ``pending``, RUNNING for ``running``, then
SUCCEEDED (or FAILED when a fail rule picked it). Its log grows with each phase. The
status of a workload (and of a catalogue version) follows the status of its last task,
see :func:`workload_status_for` and :func:`catalogue_status_for`. The clock is
injectable, so unit tests drive the state machine without sleeping.

Records are stored in the shapes of the OpenAPI document's response schemas
(``Workload``, ``Account``, ``WorkloadCatalogue``, ``WorkloadCatalogueVersion``); in
particular a workload's ``Parameters`` is an object (``{"Key": "Value"}``) as the
document's ``Parameter`` schema says, while requests send ``[{"Key", "Value"}]``.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from staxsim.document import StaxDocument, load_document
from staxsim.faults import FaultInjector

# -- statuses -------------------------------------------------------------------------
TASK_RUNNING_STATUSES = ("STARTED", "PENDING", "RUNNING")
TASK_FINAL_STATUSES = ("SUCCEEDED", "FAILED")
WORKLOAD_STATUSES = (
    "NEW",
    "INITIALIZING",
    "ACTIVE",
    "CREATE_FAILED",
    "DELETE_IN_PROGRESS",
    "DELETED",
    "DELETE_FAILED",
    "UPDATE_IN_PROGRESS",
    "UPDATE_FAILED",
    "UPDATE_COMPLETE",
)
#: Workload statuses during which Stax refuses another update or delete.
WORKLOAD_BUSY_STATUSES = ("NEW", "INITIALIZING", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS")
UPDATE_SUCCESS_STATUSES = ("UPDATE_COMPLETE", "ACTIVE")
WORKLOAD_OPERATIONS = ("create", "update", "delete")
CATALOGUE_OPERATIONS = ("catalogue-create", "catalogue-version")

#: Stax operation names (the document's ``Operation`` enum) per simulator operation.
STAX_OPERATIONS = {
    "create": "workloads:CreateWorkload",
    "update": "workloads:UpdateWorkload",
    "delete": "workloads:DeleteWorkload",
    "catalogue-create": "workloads:CreateCatalogueItem",
    "catalogue-version": "workloads:CreateCatalogueVersion",
}

SORT_FIELDS = (
    "Id",
    "Name",
    "AccountId",
    "CatalogueId",
    "CatalogueVersionId",
    "Region",
    "Status",
    "UserTaskId",
    "CreatedBy",
    "CreatedTS",
    "ModifiedTS",
    "FactoryVersion",
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DEFAULT_ORG_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "staxsim:organisation"))
_DEFAULT_CUSTOMER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "staxsim:customer"))
_API_USER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "staxsim:api-token-user"))
REQUEST_LOG_LIMIT = 200_000


# -- errors ---------------------------------------------------------------------------
class SimError(Exception):
    """A request the simulated Stax refuses; ``status`` is the HTTP status."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(SimError):
    """400: the request names something invalid (message starts with the field)."""

    status = 400


class Forbidden(SimError):
    """403 from the operation itself (e.g. deleting a protected workload)."""

    status = 403


class NotFound(SimError):
    """404: an unknown id."""

    status = 404


class NotConfigured(SimError):
    """503: the ApiAuth config has not been set through the control API."""

    status = 503


# -- pure state machine ---------------------------------------------------------------
@dataclass(frozen=True)
class TaskDurations:
    """Seconds a task spends in STARTED, PENDING and RUNNING."""

    started: float = 0.5
    pending: float = 0.5
    running: float = 2.0

    @property
    def total(self) -> float:
        """Seconds from start to the final status."""
        return self.started + self.pending + self.running

    @classmethod
    def from_total(cls, total: float) -> TaskDurations:
        """Split ``total`` seconds in the default proportions (1 : 1 : 4)."""
        default = cls()
        scale = total / default.total
        return cls(default.started * scale, default.pending * scale, default.running * scale)

    def as_dict(self) -> dict[str, float]:
        """JSON form used by the control API."""
        return {
            "started_seconds": self.started,
            "pending_seconds": self.pending,
            "running_seconds": self.running,
            "total_seconds": self.total,
        }


def task_status_at(elapsed: float, durations: TaskDurations, failed: bool) -> str:
    """The task status ``elapsed`` seconds after the task started."""
    if elapsed < durations.started:
        return "STARTED"
    if elapsed < durations.started + durations.pending:
        return "PENDING"
    if elapsed < durations.total:
        return "RUNNING"
    return "FAILED" if failed else "SUCCEEDED"


def workload_status_for(
    operation: str, task_status: str, update_success: str = "UPDATE_COMPLETE"
) -> str:
    """The workload status while/after its last task (the document's status enum).

    create: STARTED -> NEW, PENDING/RUNNING -> INITIALIZING, SUCCEEDED -> ACTIVE,
    FAILED -> CREATE_FAILED; update: running -> UPDATE_IN_PROGRESS, SUCCEEDED ->
    ``update_success`` (UPDATE_COMPLETE or ACTIVE), FAILED -> UPDATE_FAILED; delete:
    running -> DELETE_IN_PROGRESS, SUCCEEDED -> DELETED, FAILED -> DELETE_FAILED.
    """
    if operation == "create":
        return {
            "STARTED": "NEW",
            "PENDING": "INITIALIZING",
            "RUNNING": "INITIALIZING",
            "SUCCEEDED": "ACTIVE",
            "FAILED": "CREATE_FAILED",
        }[task_status]
    if operation == "update":
        if task_status == "SUCCEEDED":
            return update_success
        return "UPDATE_FAILED" if task_status == "FAILED" else "UPDATE_IN_PROGRESS"
    if operation == "delete":
        if task_status == "SUCCEEDED":
            return "DELETED"
        return "DELETE_FAILED" if task_status == "FAILED" else "DELETE_IN_PROGRESS"
    raise ValueError(f"unknown workload operation {operation!r}")


def catalogue_status_for(task_status: str) -> str:
    """Catalogue item/version status (``CatalogueStatus`` enum) while/after its task."""
    return {
        "STARTED": "NEW",
        "PENDING": "UPLOADING",
        "RUNNING": "VALIDATING",
        "SUCCEEDED": "ACTIVE",
        "FAILED": "FAILED",
    }[task_status]


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """Largest number of half-open intervals ``[start, end)`` covering one instant."""
    events: list[tuple[float, int]] = []
    for start, end in intervals:
        if end > start:
            events.append((start, 1))
            events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))  # ends (-1) before starts (+1) at a tie
    best = current = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


def iso(ts: float) -> str:
    """Epoch seconds -> ``2018-10-11T01:05:45.000Z`` (the document's timestamp form)."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def is_uuid(value: Any) -> bool:
    """Whether ``value`` is a UUID string in the document's ``uuidv4`` pattern."""
    return isinstance(value, str) and bool(_UUID.match(value))


def new_trace_id(ts: float) -> str:
    """An X-Ray style trace id, as Stax events carry."""
    return f"Root=1-{int(ts):08x}-{uuid.uuid4().hex[:24]}"


# -- records --------------------------------------------------------------------------
@dataclass
class Task:
    """One asynchronous Stax task; its status and logs are computed from the clock."""

    id: str
    operation: str
    created_at: float
    durations: TaskDurations
    subject_name: str
    trace_id: str
    workload_id: str | None = None
    catalogue_id: str | None = None
    version_id: str | None = None
    fail: bool = False
    fail_logs: list[str] = field(default_factory=list)
    context: dict[str, str] = field(default_factory=dict)

    @property
    def stax_operation(self) -> str:
        """The document's ``Operation`` value, e.g. ``workloads:CreateWorkload``."""
        return STAX_OPERATIONS[self.operation]

    @property
    def end_at(self) -> float:
        """When the task reaches its final status."""
        return self.created_at + self.durations.total

    def status(self, now: float) -> str:
        """Status at ``now``."""
        return task_status_at(now - self.created_at, self.durations, self.fail)

    def logs(self, now: float) -> list[str]:
        """The log lines written up to ``now`` (each prefixed with its timestamp)."""
        return [f"{iso(at)} {text}" for at, text in self._log_plan() if at <= now]

    def _log_plan(self) -> list[tuple[float, str]]:
        d = self.durations
        t0 = self.created_at
        t_pending = t0 + d.started
        t_running = t_pending + d.pending
        t_end = t0 + d.total
        ctx = self.context
        plan: list[tuple[float, str]] = [
            (
                t0,
                f"[STARTED] Task {self.id} accepted: {self.stax_operation} "
                f"'{self.subject_name}' {ctx.get('where', '')}".rstrip(),
            ),
            (
                t_pending,
                f"[PENDING] Task picked up by worker stax-{self.operation}-worker; "
                "queued behind other tasks of the account",
            ),
        ]
        running = self._running_lines()
        step = d.running / (len(running) + 1) if running else 0.0
        for index, text in enumerate(running):
            plan.append((t_running + step * index, f"[RUNNING] {text}"))
        plan.extend((t_end, f"[{'FAILED' if self.fail else 'SUCCEEDED'}] {t}") for t in self._end())
        return plan

    def _running_lines(self) -> list[str]:
        ctx = self.context
        stack = ctx.get("stack", "stax-stack")
        if self.operation in CATALOGUE_OPERATIONS:
            return [
                f"Validating manifest of catalogue version {ctx.get('version', '')}",
                f"Uploading templates to {ctx.get('manifest', 'the artifact bucket')}",
                "Manifest resources validated: 1 AWS::CloudFormation stack",
            ]
        action = {"create": "CREATE", "update": "UPDATE", "delete": "DELETE"}[self.operation]
        return [
            f"Deploying catalogue '{ctx.get('catalogue', '')}' version "
            f"{ctx.get('version', '')} to account {ctx.get('account', '')} "
            f"region {ctx.get('region', '')}",
            f"AWS::CloudFormation::Stack {stack} {action}_IN_PROGRESS User Initiated",
            f"AWS::SSM::Parameter WorkloadParameter {action}_IN_PROGRESS",
            f"AWS::SSM::Parameter WorkloadParameter {action}_COMPLETE",
        ]

    def _end(self) -> list[str]:
        ctx = self.context
        stack = ctx.get("stack", "stax-stack")
        if self.fail:
            lines = list(self.fail_logs) or [
                "AWS::SSM::Parameter WorkloadParameter CREATE_FAILED Resource handler returned "
                'message: "Parameter validation failed" (HandlerErrorCode: InvalidRequest)'
            ]
            if self.operation in CATALOGUE_OPERATIONS:
                return [*lines, f"Task {self.id} FAILED: manifest validation failed"]
            terminal = {
                "create": "ROLLBACK_COMPLETE",
                "update": "UPDATE_ROLLBACK_COMPLETE",
                "delete": "DELETE_FAILED",
            }[self.operation]
            return [
                *lines,
                f"AWS::CloudFormation::Stack {stack} {terminal}",
                f"Task {self.id} FAILED",
            ]
        if self.operation in CATALOGUE_OPERATIONS:
            return [f"Task {self.id} SUCCEEDED: catalogue version is ACTIVE"]
        done = {"create": "CREATE", "update": "UPDATE", "delete": "DELETE"}[self.operation]
        return [
            f"AWS::CloudFormation::Stack {stack} {done}_COMPLETE",
            f"Task {self.id} SUCCEEDED",
        ]


@dataclass
class FailRule:
    """Make the next ``count`` matching tasks (None: all) end FAILED with ``logs``."""

    count: int | None
    logs: list[str]
    operation: str | None = None
    name_regex: str | None = None
    used: int = 0

    def matches(self, operation: str, name: str) -> bool:
        """Whether a new task of ``operation`` on ``name`` is picked by this rule."""
        if self.count is not None and self.used >= self.count:
            return False
        if self.operation is not None and self.operation != operation:
            return False
        return self.name_regex is None or re.search(self.name_regex, name) is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON form used by the control API."""
        return {
            "count": self.count,
            "logs": self.logs,
            "match": {"operation": self.operation, "name_regex": self.name_regex},
            "used": self.used,
        }


@dataclass
class Workload:
    """A workload; its status comes from its last task (or ``static_status`` if seeded)."""

    id: str
    name: str
    account_id: str
    catalogue_id: str
    catalogue_version_id: str
    region: str
    organisation_id: str
    created_at: float
    modified_at: float
    seq: int
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    protection: bool = False
    task_id: str | None = None
    static_status: str = "ACTIVE"


@dataclass
class CatalogueVersion:
    """One version of a catalogue item (``WorkloadCatalogueVersion``)."""

    id: str
    catalogue_id: str
    workload_version: str
    description: str
    manifest_url: str
    created_at: float
    modified_at: float
    seq: int
    parameters: list[dict[str, Any]] = field(default_factory=list)
    manifest_body: str | None = None
    public: bool = False
    task_id: str | None = None
    static_status: str = "ACTIVE"


@dataclass
class CatalogueItem:
    """A catalogue item (``WorkloadCatalogue``) with its versions, oldest first."""

    id: str
    name: str
    description: str
    organisation_id: str
    created_at: float
    modified_at: float
    seq: int
    versions: list[CatalogueVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    public: bool = False
    task_id: str | None = None
    static_status: str = "ACTIVE"


# -- the state ------------------------------------------------------------------------
class SimState:
    """The whole simulated organisation (thread-safe; ``clock`` drives task progress)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        document: StaxDocument | None = None,
        durations: TaskDurations | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self.document = document or load_document()
        self.api_auth: dict[str, Any] | None = None
        self.durations = durations or TaskDurations()
        self.update_success_status = "UPDATE_COMPLETE"
        self.faults = FaultInjector()
        self._seq = 0
        self._clear_data()

    # -- housekeeping ------------------------------------------------------------
    def _clear_data(self) -> None:
        self.organisation: dict[str, Any] = {
            "Id": _DEFAULT_ORG_ID,
            "Name": "simulated-organisation",
            "CustomerId": _DEFAULT_CUSTOMER_ID,
        }
        self.accounts: dict[str, dict[str, Any]] = {}
        self.catalogue: dict[str, CatalogueItem] = {}
        self.workloads: dict[str, Workload] = {}
        self.tasks: dict[str, Task] = {}
        self.fail_rules: list[FailRule] = []
        self.request_log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)
        self.requests_total = 0
        self.faults.clear()

    def now(self) -> float:
        """The state's clock."""
        return self._clock()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def reset(self, everything: bool = False) -> None:
        """Clear workloads, tasks, faults, fail rules, request log and seeded data.

        The ApiAuth config, task durations and update success status are kept unless
        ``everything`` is true.
        """
        with self._lock:
            self._clear_data()
            if everything:
                self.api_auth = None
                self.durations = TaskDurations()
                self.update_success_status = "UPDATE_COMPLETE"

    # -- configuration -----------------------------------------------------------
    def configure(self, api_auth: Mapping[str, Any]) -> dict[str, Any]:
        """Set the ApiAuth values served by ``/public/config`` (validated by the doc)."""
        required = ("region", "userPoolId", "userPoolWebClientId", "identityPoolId")
        missing = [k for k in required if not api_auth.get(k)]
        if missing:
            raise BadRequest(f"api_auth.{missing[0]}: is required")
        value = {
            "region": api_auth["region"],
            "userPoolId": api_auth["userPoolId"],
            "userPoolWebClientId": api_auth["userPoolWebClientId"],
            "identityPoolId": api_auth["identityPoolId"],
            "mandatorySignIn": bool(api_auth.get("mandatorySignIn", True)),
        }
        probe = build_public_config(value, "https://127.0.0.1/20190206")
        error = self.document.component_validator("public.ReadConfig").first_error(probe)
        if error:
            raise BadRequest(f"api_auth: {error}")
        with self._lock:
            self.api_auth = value
        return dict(value)

    def public_config(self, api_base_url: str) -> dict[str, Any]:
        """The ``public.ReadConfig`` body; :class:`NotConfigured` before configuration."""
        with self._lock:
            if self.api_auth is None:
                raise NotConfigured(
                    "The simulator has no ApiAuth configuration yet: PUT /_sim/config"
                )
            return build_public_config(self.api_auth, api_base_url)

    @property
    def region(self) -> str | None:
        """The configured ApiAuth region (the SigV4 credential scope must name it)."""
        with self._lock:
            return self.api_auth["region"] if self.api_auth else None

    def set_durations(self, durations: TaskDurations, update_success: str | None = None) -> None:
        """Durations of tasks created from now on (running tasks keep theirs)."""
        for name in ("started", "pending", "running"):
            value = getattr(durations, name)
            if value < 0 or value > 86_400:
                raise BadRequest(f"{name}_seconds: must be between 0 and 86400")
        if update_success is not None and update_success not in UPDATE_SUCCESS_STATUSES:
            raise BadRequest(
                f"update_success_status: must be one of {list(UPDATE_SUCCESS_STATUSES)}"
            )
        with self._lock:
            self.durations = durations
            if update_success is not None:
                self.update_success_status = update_success

    def add_fail_rule(self, rule: FailRule) -> FailRule:
        """Add a rule picking tasks that will end FAILED."""
        if rule.operation is not None and rule.operation not in (
            *WORKLOAD_OPERATIONS,
            *CATALOGUE_OPERATIONS,
        ):
            raise BadRequest(
                f"match.operation: must be one of "
                f"{list(WORKLOAD_OPERATIONS + CATALOGUE_OPERATIONS)}"
            )
        if rule.name_regex is not None:
            try:
                re.compile(rule.name_regex)
            except re.error as exc:
                raise BadRequest(f"match.name_regex: invalid regex ({exc})") from None
        if rule.count is not None and rule.count < 1:
            raise BadRequest("count: must be null or an integer >= 1")
        with self._lock:
            self.fail_rules.append(rule)
        return rule

    def list_fail_rules(self) -> list[dict[str, Any]]:
        """The fail rules still active, as JSON."""
        with self._lock:
            return [r.as_dict() for r in self.fail_rules]

    def clear_fail_rules(self) -> None:
        """Remove every fail rule."""
        with self._lock:
            self.fail_rules = []

    # -- seeding -------------------------------------------------------------------
    def seed(self, payload: Mapping[str, Any]) -> dict[str, int]:
        """Add or replace (same ids) the organisation, accounts, catalogue and workloads.

        Every record is checked in its served form against the document's schema
        (``Account``, ``WorkloadCatalogue``, ``WorkloadCatalogueVersion``, ``Workload``)
        before anything is stored; an invalid one raises :class:`BadRequest` naming it.
        """
        unknown = sorted(set(payload) - {"organisation", "accounts", "catalogue", "workloads"})
        if unknown:
            raise BadRequest(f"{unknown[0]}: unknown seed section")
        with self._lock:
            now = self.now()
            organisation = dict(self.organisation)
            org_raw = payload.get("organisation")
            if org_raw is not None:
                if not isinstance(org_raw, dict) or not is_uuid(org_raw.get("Id")):
                    raise BadRequest("organisation.Id: must be a UUID")
                organisation = {
                    "Id": org_raw["Id"],
                    "Name": str(org_raw.get("Name", organisation["Name"])),
                    "CustomerId": org_raw.get("CustomerId", organisation["CustomerId"]),
                }
                if not is_uuid(organisation["CustomerId"]):
                    raise BadRequest("organisation.CustomerId: must be a UUID")
            org_id = organisation["Id"]

            accounts = [
                self._seed_account(raw, org_id, now, f"accounts[{i}]")
                for i, raw in enumerate(_list(payload, "accounts"))
            ]
            items = [
                self._seed_catalogue(raw, org_id, now, f"catalogue[{i}]")
                for i, raw in enumerate(_list(payload, "catalogue"))
            ]
            # workloads may refer to accounts / catalogue seeded in the same call
            known_accounts = {**self.accounts, **{a["Id"]: a for a in accounts}}
            known_items = {**self.catalogue, **{c.id: c for c in items}}
            workloads = [
                self._seed_workload(
                    raw, org_id, now, f"workloads[{i}]", accounts=known_accounts, items=known_items
                )
                for i, raw in enumerate(_list(payload, "workloads"))
            ]

            self.organisation = organisation
            for account in accounts:
                self.accounts[account["Id"]] = account
            for item in items:
                old = self.catalogue.get(item.id)
                if old is not None:
                    item.seq = old.seq
                self.catalogue[item.id] = item
            for workload in workloads:
                old_w = self.workloads.get(workload.id)
                if old_w is not None:
                    workload.seq = old_w.seq
                self.workloads[workload.id] = workload
            return {
                "accounts": len(self.accounts),
                "catalogue_items": len(self.catalogue),
                "catalogue_versions": sum(len(c.versions) for c in self.catalogue.values()),
                "workloads": len(self.workloads),
            }

    def _seed_account(self, raw: Any, org_id: str, now: float, where: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise BadRequest(f"{where}: must be an object")
        account = {
            "OrganisationId": org_id,
            "Status": "ACTIVE",
            "AccountRole": "MEMBER",
            "Origin": "STAX",
            "StaxCreated": True,
            "AssuranceState": "ACTIVE",
            "CreatedTS": iso(now),
            "ModifiedTS": iso(now),
            "Tags": {},
            **raw,
        }
        if not is_uuid(account.get("Id")):
            raise BadRequest(f"{where}.Id: must be a UUID")
        error = self.document.component_validator("Account").first_error(account, where)
        if error:
            raise BadRequest(error)
        return account

    def _seed_catalogue(self, raw: Any, org_id: str, now: float, where: str) -> CatalogueItem:
        if not isinstance(raw, dict):
            raise BadRequest(f"{where}: must be an object")
        if not is_uuid(raw.get("Id")):
            raise BadRequest(f"{where}.Id: must be a UUID")
        if not isinstance(raw.get("Name"), str):
            raise BadRequest(f"{where}.Name: is required")
        item = CatalogueItem(
            id=raw["Id"],
            name=raw["Name"],
            description=str(raw.get("Description", "")),
            organisation_id=org_id,
            created_at=now,
            modified_at=now,
            seq=self._next_seq(),
            tags=dict(raw.get("Tags") or {}),
            public=bool(raw.get("Public", False)),
            static_status=str(raw.get("Status", "ACTIVE")),
        )
        versions = raw.get("Versions") or []
        if not isinstance(versions, list) or not versions:
            raise BadRequest(f"{where}.Versions: needs at least one version")
        for j, version_raw in enumerate(versions):
            vwhere = f"{where}.Versions[{j}]"
            if not isinstance(version_raw, dict) or not is_uuid(version_raw.get("Id")):
                raise BadRequest(f"{vwhere}.Id: must be a UUID")
            number = version_raw.get("WorkloadVersion", version_raw.get("Name"))
            if not isinstance(number, str) or not number:
                raise BadRequest(f"{vwhere}.Name: is required (the version, e.g. '1.0.0')")
            item.versions.append(
                CatalogueVersion(
                    id=version_raw["Id"],
                    catalogue_id=item.id,
                    workload_version=number,
                    description=str(version_raw.get("Description", item.description)),
                    manifest_url=str(
                        version_raw.get(
                            "ManifestURL",
                            f"s3://stax-simulated-artifacts/{item.name}/{number}/manifest.yaml",
                        )
                    ),
                    created_at=now + j * 0.001,
                    modified_at=now,
                    seq=self._next_seq(),
                    parameters=list(version_raw.get("Parameters") or []),
                    public=bool(version_raw.get("Public", item.public)),
                    static_status=str(version_raw.get("Status", "ACTIVE")),
                )
            )
        served = self._serve_catalogue_item(item, include_versions=True, now=now)
        error = self.document.component_validator("WorkloadCatalogue").first_error(served, where)
        if error:
            raise BadRequest(error)
        return item

    def _seed_workload(
        self,
        raw: Any,
        org_id: str,
        now: float,
        where: str,
        *,
        accounts: Mapping[str, Any],
        items: Mapping[str, CatalogueItem],
    ) -> Workload:
        if not isinstance(raw, dict):
            raise BadRequest(f"{where}: must be an object")
        if not is_uuid(raw.get("Id")):
            raise BadRequest(f"{where}.Id: must be a UUID")
        if raw.get("AccountId") not in accounts:
            raise BadRequest(f"{where}.AccountId: unknown account {raw.get('AccountId')!r}")
        item = items.get(raw.get("CatalogueId", ""))
        if item is None:
            raise BadRequest(f"{where}.CatalogueId: unknown catalogue {raw.get('CatalogueId')!r}")
        version_id = raw.get("CatalogueVersionId") or item.versions[-1].id
        if version_id not in {v.id for v in item.versions}:
            raise BadRequest(f"{where}.CatalogueVersionId: not a version of {item.id}")
        status = raw.get("Status", "ACTIVE")
        if status not in WORKLOAD_STATUSES:
            raise BadRequest(f"{where}.Status: must be one of {list(WORKLOAD_STATUSES)}")
        workload = Workload(
            id=raw["Id"],
            name=str(raw.get("Name", "")),
            account_id=raw["AccountId"],
            catalogue_id=item.id,
            catalogue_version_id=version_id,
            region=str(raw.get("Region", self.region or "us-east-1")),
            organisation_id=org_id,
            created_at=now,
            modified_at=now,
            seq=self._next_seq(),
            parameters=_parameters_object(raw.get("Parameters")),
            tags=dict(raw.get("Tags") or {}),
            protection=bool(raw.get("Protection", False)),
            static_status=status,
        )
        served = self._serve_workload(workload, now, items)
        error = self.document.component_validator("Workload").first_error(served, where)
        if error:
            raise BadRequest(error)
        return workload

    # -- tasks -----------------------------------------------------------------------
    def _start_task(
        self,
        operation: str,
        subject_name: str,
        now: float,
        context: dict[str, str],
        **links: str | None,
    ) -> Task:
        task = Task(
            id=str(uuid.uuid4()),
            operation=operation,
            created_at=now,
            durations=self.durations,
            subject_name=subject_name,
            trace_id=new_trace_id(now),
            context=context,
            **links,  # type: ignore[arg-type]
        )
        for rule in self.fail_rules:
            if rule.matches(operation, subject_name):
                rule.used += 1
                task.fail = True
                task.fail_logs = list(rule.logs)
                break
        self.fail_rules = [r for r in self.fail_rules if r.count is None or r.used < r.count]
        self.tasks[task.id] = task
        return task

    def get_task(self, task_id: str) -> dict[str, Any]:
        """The ``tasks.ReadTask`` body of a task."""
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None:
                raise NotFound(f"Task {task_id} not found")
            now = self.now()
            body: dict[str, Any] = {"Status": task.status(now), "Logs": task.logs(now)}
            if task.workload_id:
                body["Workloads"] = [task.workload_id]
            return body

    # -- workloads ---------------------------------------------------------------------
    def _workload_status(self, workload: Workload, now: float) -> str:
        task = self.tasks.get(workload.task_id) if workload.task_id else None
        if task is None:
            return workload.static_status
        return workload_status_for(task.operation, task.status(now), self.update_success_status)

    def _serve_workload(
        self,
        workload: Workload,
        now: float,
        items: Mapping[str, CatalogueItem] | None = None,
    ) -> dict[str, Any]:
        items = self.catalogue if items is None else items
        item = items.get(workload.catalogue_id)
        version = None
        if item is not None:
            version = next(
                (v for v in item.versions if v.id == workload.catalogue_version_id), None
            )
        body: dict[str, Any] = {
            "Id": workload.id,
            "Name": workload.name,
            "AccountId": workload.account_id,
            "CatalogueId": workload.catalogue_id,
            "CatalogueVersionId": workload.catalogue_version_id,
            "CatalogueVersion": (
                {"Id": version.id, "WorkloadVersion": version.workload_version}
                if version is not None
                else None
            ),
            "Region": workload.region,
            "Status": self._workload_status(workload, now),
            "Parameters": dict(workload.parameters),
            "Tags": dict(workload.tags),
            "Protection": workload.protection,
            "OrganisationId": workload.organisation_id,
            "CreatedBy": _API_USER_ID,
            "CreatedTS": iso(workload.created_at),
            "ModifiedTS": iso(workload.modified_at),
        }
        if workload.task_id:
            body["UserTaskId"] = workload.task_id
        return body

    def _find_workload(self, workload_id: str) -> Workload:
        workload = self.workloads.get(workload_id)
        if workload is None:
            raise NotFound(f"Workload {workload_id} not found")
        return workload

    def get_workload(self, workload_id: str) -> dict[str, Any]:
        """One workload in the ``Workload`` shape (deleted ones too, status DELETED)."""
        with self._lock:
            return self._serve_workload(self._find_workload(workload_id), self.now())

    def query_workloads(self, query: Mapping[str, str]) -> dict[str, Any]:
        """``workloads.ReadWorkloadsResponse`` for the query parameters of the document.

        Filters: ``name`` (exact), ``name_filter`` (case-insensitive substring),
        ``filter`` (statuses), ``id_filter``, ``account_ids``, ``account_names``,
        ``catalogue_ids``, ``catalogue_names``, ``catalogue_version_id``,
        ``catalogue_version`` (with ``catalogue_ids``); ``sort``/``sort_order``
        (default ``CreatedTS`` ``DESC``); ``limit``/``offset`` paging.
        """
        limit, offset = _paging_params(query)
        statuses = _csv(query.get("filter"))
        for status in statuses:
            if status not in WORKLOAD_STATUSES:
                raise BadRequest(f"filter: '{status}' is not one of {list(WORKLOAD_STATUSES)}")
        sort = query.get("sort", "CreatedTS")
        if sort not in SORT_FIELDS:
            raise BadRequest(f"sort: '{sort}' is not one of {list(SORT_FIELDS)}")
        order = query.get("sort_order", "DESC")
        if order not in ("ASC", "DESC"):
            raise BadRequest(f"sort_order: '{order}' is not one of ['ASC', 'DESC']")
        if query.get("catalogue_version") and not query.get("catalogue_ids"):
            raise BadRequest("catalogue_version: requires catalogue_ids")

        with self._lock:
            now = self.now()
            rows = [(w, self._serve_workload(w, now)) for w in self.workloads.values()]
            account_names = {
                a["Id"]
                for a in self.accounts.values()
                if a.get("Name") in _csv(query.get("account_names"))
            }
            catalogue_names = {
                c.id
                for c in self.catalogue.values()
                if c.name in _csv(query.get("catalogue_names"))
            }
        checks = _workload_checks(query, statuses, account_names, catalogue_names)
        selected = [(w, b) for w, b in rows if all(check(w, b) for check in checks)]
        selected.sort(
            key=lambda row: (_sort_key(row[1].get(sort)), row[0].seq),
            reverse=order == "DESC",
        )
        bodies = [b for _, b in selected]
        page, paging = _paginate(bodies, limit, offset)
        response: dict[str, Any] = {"Workloads": page}
        if paging is not None:
            response["Paging"] = paging
        return response

    def create_workload(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], Task]:
        """Accept a (schema-valid) ``workloads.CreateWorkload`` body and start its task.

        Refuses (400, naming the field) an unknown account or catalogue, a version that
        does not belong to the catalogue, or one that is not ACTIVE. Without
        ``CatalogueVersionId`` the catalogue's latest ACTIVE version is used. Names are
        not required to be unique (as in Stax).
        """
        with self._lock:
            now = self.now()
            account = self.accounts.get(body["AccountId"])
            if account is None:
                raise BadRequest(f"AccountId: account {body['AccountId']} does not exist")
            item = self.catalogue.get(body["CatalogueId"])
            if item is None or self._item_status(item, now) == "DELETED":
                raise BadRequest(
                    f"CatalogueId: catalogue item {body['CatalogueId']} does not exist"
                )
            version = self._pick_version(item, body.get("CatalogueVersionId"), now)
            workload = Workload(
                id=str(uuid.uuid4()),
                name=body["Name"],
                account_id=account["Id"],
                catalogue_id=item.id,
                catalogue_version_id=version.id,
                region=body["Region"],
                organisation_id=self.organisation["Id"],
                created_at=now,
                modified_at=now,
                seq=self._next_seq(),
                parameters=_parameters_object(body.get("Parameters")),
                tags=dict(body.get("Tags") or {}),
            )
            task = self._start_task(
                "create",
                workload.name,
                now,
                self._task_context(workload, item, version, account),
                workload_id=workload.id,
            )
            workload.task_id = task.id
            self.workloads[workload.id] = workload
            return self._serve_workload(workload, now), task

    def _pick_version(
        self, item: CatalogueItem, version_id: str | None, now: float
    ) -> CatalogueVersion:
        if version_id is None:
            active = [v for v in item.versions if self._version_status(v, now) == "ACTIVE"]
            if not active:
                raise BadRequest(
                    f"CatalogueId: catalogue item {item.id} has no ACTIVE version to deploy"
                )
            return max(active, key=lambda v: (v.created_at, v.seq))
        version = next((v for v in item.versions if v.id == version_id), None)
        if version is None:
            raise BadRequest(
                f"CatalogueVersionId: version {version_id} does not belong to catalogue "
                f"item {item.id}"
            )
        status = self._version_status(version, now)
        if status != "ACTIVE":
            raise BadRequest(f"CatalogueVersionId: version {version_id} is {status}, not ACTIVE")
        return version

    def _task_context(
        self,
        workload: Workload,
        item: CatalogueItem | None,
        version: CatalogueVersion | None,
        account: Mapping[str, Any] | None,
    ) -> dict[str, str]:
        return {
            "where": f"(workload {workload.id})",
            "stack": f"stax-workload-{workload.name}-{workload.id[:8]}",
            "catalogue": item.name if item else workload.catalogue_id,
            "version": version.workload_version if version else workload.catalogue_version_id,
            "account": (
                f"{account.get('Name')} ({account.get('AwsAccountId', '')})"
                if account
                else workload.account_id
            ),
            "region": workload.region,
        }

    def _check_not_busy(self, workload: Workload, now: float, action: str) -> None:
        status = self._workload_status(workload, now)
        if status == "DELETED":
            raise BadRequest(f"workload_id: workload {workload.id} is DELETED; cannot {action}")
        if status in WORKLOAD_BUSY_STATUSES:
            raise BadRequest(
                f"workload_id: workload {workload.id} has an operation in progress "
                f"(status {status}); cannot {action} until it finishes"
            )

    def update_workload(
        self, workload_id: str, body: Mapping[str, Any]
    ) -> tuple[dict[str, Any], Task]:
        """Accept a ``workloads.UpdateWorkload`` body: change version/parameters/tags/
        protection now, and start an update task."""
        with self._lock:
            now = self.now()
            workload = self._find_workload(workload_id)
            self._check_not_busy(workload, now, "update")
            item = self.catalogue.get(workload.catalogue_id)
            if "CatalogueId" in body and body["CatalogueId"] != workload.catalogue_id:
                raise BadRequest(
                    f"CatalogueId: workload {workload.id} was deployed from catalogue item "
                    f"{workload.catalogue_id}; it cannot move to {body['CatalogueId']}"
                )
            version = None
            if item is not None:
                version = next(
                    (v for v in item.versions if v.id == workload.catalogue_version_id), None
                )
            if body.get("CatalogueVersionId"):
                if item is None:
                    raise BadRequest(
                        f"CatalogueVersionId: catalogue item {workload.catalogue_id} "
                        "no longer exists"
                    )
                version = self._pick_version(item, body["CatalogueVersionId"], now)
                workload.catalogue_version_id = version.id
            if "Parameters" in body and body["Parameters"] is not None:
                workload.parameters = _parameters_object(body["Parameters"])
            if "Tags" in body and body["Tags"] is not None:
                workload.tags = dict(body["Tags"])
            if "Protection" in body and body["Protection"] is not None:
                workload.protection = bool(body["Protection"])
            workload.modified_at = now
            task = self._start_task(
                "update",
                workload.name,
                now,
                self._task_context(workload, item, version, self.accounts.get(workload.account_id)),
                workload_id=workload.id,
            )
            workload.task_id = task.id
            return self._serve_workload(workload, now), task

    def delete_workload(self, workload_id: str) -> tuple[dict[str, Any], Task]:
        """Start deleting a workload (403 if protected, 400 if busy or already deleted)."""
        with self._lock:
            now = self.now()
            workload = self._find_workload(workload_id)
            if workload.protection:
                raise Forbidden(
                    f"workload_id: workload {workload.id} is protected; disable Protection "
                    "before deleting it"
                )
            self._check_not_busy(workload, now, "delete")
            item = self.catalogue.get(workload.catalogue_id)
            version = None
            if item is not None:
                version = next(
                    (v for v in item.versions if v.id == workload.catalogue_version_id), None
                )
            workload.modified_at = now
            task = self._start_task(
                "delete",
                workload.name,
                now,
                self._task_context(workload, item, version, self.accounts.get(workload.account_id)),
                workload_id=workload.id,
            )
            workload.task_id = task.id
            return self._serve_workload(workload, now), task

    # -- catalogue ----------------------------------------------------------------------
    def _version_status(self, version: CatalogueVersion, now: float) -> str:
        task = self.tasks.get(version.task_id) if version.task_id else None
        return catalogue_status_for(task.status(now)) if task else version.static_status

    def _item_status(self, item: CatalogueItem, now: float) -> str:
        task = self.tasks.get(item.task_id) if item.task_id else None
        return catalogue_status_for(task.status(now)) if task else item.static_status

    def _serve_version(self, version: CatalogueVersion, now: float) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Id": version.id,
            "CatalogueId": version.catalogue_id,
            "WorkloadVersion": version.workload_version,
            "Description": version.description,
            "ManifestURL": version.manifest_url,
            "Status": self._version_status(version, now),
            "Parameters": [dict(p) for p in version.parameters],
            "Public": version.public,
            "CreatedBy": _API_USER_ID,
            "CreatedTS": iso(version.created_at),
            "ModifiedTS": iso(version.modified_at),
            "UserTaskId": version.task_id,
        }
        return body

    def _serve_catalogue_item(
        self, item: CatalogueItem, *, include_versions: bool, now: float
    ) -> dict[str, Any]:
        active = [v for v in item.versions if self._version_status(v, now) == "ACTIVE"]
        latest = max(active, key=lambda v: (v.created_at, v.seq)) if active else None
        body: dict[str, Any] = {
            "Id": item.id,
            "Name": item.name,
            "Description": item.description,
            "OrganisationId": item.organisation_id,
            "Status": self._item_status(item, now),
            "Public": item.public,
            "Protection": False,
            "CatalogueVersionId": latest.id if latest else None,
            "CreatedBy": _API_USER_ID,
            "CreatedTS": iso(item.created_at),
            "ModifiedTS": iso(item.modified_at),
            "UserTaskId": item.task_id,
        }
        if include_versions:
            body["Versions"] = [self._serve_version(v, now) for v in item.versions]
        return body

    def _find_item(self, catalogue_id: str) -> CatalogueItem:
        item = self.catalogue.get(catalogue_id)
        if item is None:
            raise NotFound(f"Workload catalogue item {catalogue_id} not found")
        return item

    def query_catalogue(
        self, query: Mapping[str, str], catalogue_id: str | None = None
    ) -> dict[str, Any]:
        """``workloads.ReadCatalogueItems``: ``{"WorkloadCatalogues": [{"OrganisationId",
        "WorkloadCatalogueItems": [...], "Paging"?}]}`` (the document's nesting).

        Filters: ``name`` (exact), ``filter`` (statuses), ``id_filter``;
        ``include_versions=true`` adds each item's ``Versions``.
        """
        limit, offset = _paging_params(query)
        include_versions = _bool_param(query, "include_versions")
        statuses = _csv(query.get("filter"))
        with self._lock:
            now = self.now()
            if catalogue_id is not None:
                items = [self._find_item(catalogue_id)]
            else:
                items = sorted(self.catalogue.values(), key=lambda c: c.seq)
            bodies = []
            for item in items:
                served = self._serve_catalogue_item(
                    item, include_versions=include_versions, now=now
                )
                if "name" in query and item.name != query["name"]:
                    continue
                if statuses and served["Status"] not in statuses:
                    continue
                if not _in_csv(query.get("id_filter"), item.id):
                    continue
                bodies.append(served)
            org_id = self.organisation["Id"]
        page, paging = _paginate(bodies, limit, offset)
        group: dict[str, Any] = {"OrganisationId": org_id, "WorkloadCatalogueItems": page}
        if paging is not None:
            group["Paging"] = paging
        return {"WorkloadCatalogues": [group]}

    def get_catalogue_version(self, catalogue_id: str, version_id: str) -> dict[str, Any]:
        """``workloads.ReadCatalogueVersion``: ``{"Versions": [version]}``."""
        with self._lock:
            item = self._find_item(catalogue_id)
            version = next((v for v in item.versions if v.id == version_id), None)
            if version is None:
                raise NotFound(
                    f"Version {version_id} of workload catalogue item {catalogue_id} not found"
                )
            return {"Versions": [self._serve_version(version, self.now())]}

    def create_catalogue_item(
        self, body: Mapping[str, Any]
    ) -> tuple[CatalogueItem, CatalogueVersion, Task]:
        """Accept a ``workloads.CreateCatalogueItem`` body: item + first version + task."""
        manifest = _manifest(body)
        with self._lock:
            now = self.now()
            item = CatalogueItem(
                id=str(uuid.uuid4()),
                name=body["Name"],
                description=body["Description"],
                organisation_id=self.organisation["Id"],
                created_at=now,
                modified_at=now,
                seq=self._next_seq(),
                tags=dict(body.get("Tags") or {}),
            )
            version = self._new_version(item, body, manifest, now)
            task = self._start_catalogue_task("catalogue-create", item, version, now)
            item.task_id = task.id
            version.task_id = task.id
            self.catalogue[item.id] = item
            return item, version, task

    def create_catalogue_version(
        self, catalogue_id: str, body: Mapping[str, Any]
    ) -> tuple[CatalogueItem, CatalogueVersion, Task]:
        """Accept a ``workloads.CreateCatalogueVersion`` body: new version + task."""
        manifest = _manifest(body)
        with self._lock:
            now = self.now()
            item = self._find_item(catalogue_id)
            if self._item_status(item, now) == "DELETED":
                raise Forbidden(f"catalogue_id: catalogue item {catalogue_id} is deleted")
            if any(v.workload_version == body["Version"] for v in item.versions):
                raise BadRequest(
                    f"Version: '{body['Version']}' already exists in catalogue item {catalogue_id}"
                )
            version = self._new_version(item, body, manifest, now)
            task = self._start_catalogue_task("catalogue-version", item, version, now)
            version.task_id = task.id
            item.modified_at = now
            return item, version, task

    def _start_catalogue_task(
        self, kind: str, item: CatalogueItem, version: CatalogueVersion, now: float
    ) -> Task:
        """The task that uploads and validates a catalogue version."""
        return self._start_task(
            kind,
            item.name,
            now,
            {
                "where": f"(catalogue item {item.id})",
                "version": version.workload_version,
                "manifest": version.manifest_url,
            },
            catalogue_id=item.id,
            version_id=version.id,
        )

    def _new_version(
        self,
        item: CatalogueItem,
        body: Mapping[str, Any],
        manifest: tuple[str | None, str | None],
        now: float,
    ) -> CatalogueVersion:
        url, manifest_body = manifest
        if url is None:
            url = f"s3://stax-simulated-artifacts/{item.name}/{body['Version']}/manifest.yaml"
        parameters = body.get("Parameters")
        version = CatalogueVersion(
            id=str(uuid.uuid4()),
            catalogue_id=item.id,
            workload_version=body["Version"],
            description=body["Description"],
            manifest_url=url,
            manifest_body=manifest_body,
            created_at=now,
            modified_at=now,
            seq=self._next_seq(),
            parameters=[{"Key": k, "Default": v} for k, v in (parameters or {}).items()],
        )
        item.versions.append(version)
        return version

    # -- accounts ------------------------------------------------------------------------
    def query_accounts(
        self, query: Mapping[str, str], account_id: str | None = None
    ) -> dict[str, Any]:
        """``accounts.ReadAccounts``: filters ``id_filter``, ``account_names``,
        ``name_filter``, ``aws_account_id_filter``, ``filter`` (statuses),
        ``account_type_filter``; ``limit``/``offset`` paging."""
        limit, offset = _paging_params(query)
        with self._lock:
            if account_id is not None:
                account = self.accounts.get(account_id)
                if account is None:
                    raise NotFound(f"Account {account_id} not found")
                candidates = [account]
            else:
                candidates = sorted(self.accounts.values(), key=lambda a: a.get("Name", ""))
            rows = [dict(a) for a in candidates]
        selected = []
        for account in rows:
            if not _in_csv(query.get("id_filter"), account["Id"]):
                continue
            if not _in_csv(query.get("account_names"), account.get("Name")):
                continue
            if query.get("name_filter") and (
                query["name_filter"].lower() not in str(account.get("Name", "")).lower()
            ):
                continue
            if not _in_csv(query.get("aws_account_id_filter"), account.get("AwsAccountId")):
                continue
            if not _in_csv(query.get("filter"), account.get("Status")):
                continue
            if not _in_csv(query.get("account_type_filter"), account.get("AccountType")):
                continue
            selected.append(account)
        page, paging = _paginate(selected, limit, offset)
        response: dict[str, Any] = {"Accounts": page}
        if paging is not None:
            response["Paging"] = paging
        return response

    # -- request log, snapshot, stats --------------------------------------------------
    def log_request(self, entry: dict[str, Any]) -> None:
        """Append one API call to the request log."""
        with self._lock:
            self.request_log.append(entry)
            self.requests_total += 1

    def requests(self) -> list[dict[str, Any]]:
        """The request log, oldest first."""
        with self._lock:
            return [dict(e) for e in self.request_log]

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self.request_log.clear()
            self.requests_total = 0

    def snapshot(self) -> dict[str, Any]:
        """Everything, as JSON (for ``GET /_sim/state``)."""
        with self._lock:
            now = self.now()
            return {
                "now": now,
                "configured": self.api_auth is not None,
                "api_auth": dict(self.api_auth) if self.api_auth else None,
                "organisation": dict(self.organisation),
                "durations": self.durations.as_dict(),
                "update_success_status": self.update_success_status,
                "accounts": [dict(a) for a in self.accounts.values()],
                "catalogue": [
                    self._serve_catalogue_item(c, include_versions=True, now=now)
                    for c in sorted(self.catalogue.values(), key=lambda c: c.seq)
                ],
                "workloads": [
                    self._serve_workload(w, now)
                    for w in sorted(self.workloads.values(), key=lambda w: w.seq)
                ],
                "tasks": [
                    {
                        "Id": t.id,
                        "Operation": t.stax_operation,
                        "Name": t.subject_name,
                        "WorkloadId": t.workload_id,
                        "CatalogueId": t.catalogue_id,
                        "VersionId": t.version_id,
                        "Status": t.status(now),
                        "WillFail": t.fail,
                        "CreatedAt": t.created_at,
                        "EndsAt": t.end_at,
                        "Logs": t.logs(now),
                    }
                    for t in sorted(self.tasks.values(), key=lambda t: t.created_at)
                ],
                "fail_rules": [r.as_dict() for r in self.fail_rules],
                "faults": {"seed": self.faults.seed, "rules": self.faults.rules()},
            }

    def stats(self) -> dict[str, Any]:
        """Counts and ``max_concurrent_tasks`` (for ``GET /_sim/stats``)."""
        with self._lock:
            now = self.now()
            tasks = list(self.tasks.values())
            by_status: dict[str, int] = {}
            by_operation: dict[str, int] = {}
            for task in tasks:
                status = task.status(now)
                by_status[status] = by_status.get(status, 0) + 1
                by_operation[task.stax_operation] = by_operation.get(task.stax_operation, 0) + 1
            workloads_by_status: dict[str, int] = {}
            for workload in self.workloads.values():
                status = self._workload_status(workload, now)
                workloads_by_status[status] = workloads_by_status.get(status, 0) + 1
            requests_by_status: dict[str, int] = {}
            requests_by_operation: dict[str, int] = {}
            faults = 0
            for entry in self.request_log:
                key = str(entry.get("status"))
                requests_by_status[key] = requests_by_status.get(key, 0) + 1
                op = entry.get("operation") or "unknown"
                requests_by_operation[op] = requests_by_operation.get(op, 0) + 1
                if entry.get("fault"):
                    faults += 1
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
                "workloads": {"total": len(self.workloads), "by_status": workloads_by_status},
                "requests": {
                    "total": self.requests_total,
                    "by_status": requests_by_status,
                    "by_operation": requests_by_operation,
                    "faults": faults,
                },
            }


# -- helpers --------------------------------------------------------------------------
def build_public_config(api_auth: Mapping[str, Any], api_base_url: str) -> dict[str, Any]:
    """A complete ``public.ReadConfig`` body around the configured ApiAuth values.

    The document makes every section required (``Auth``, ``JumaAuth``, ``ApiAuth``,
    ``Analytics``, ``API``, ``AppSync``, ``Juma``, ``Sentry``, ``Features``) with
    ``additionalProperties: false``; the SDK only reads ``ApiAuth``.
    """
    region = api_auth["region"]
    auth = {
        "region": region,
        "userPoolId": api_auth["userPoolId"],
        "userPoolWebClientId": api_auth["userPoolWebClientId"],
        "identityPoolId": api_auth["identityPoolId"],
        "mandatorySignIn": bool(api_auth.get("mandatorySignIn", True)),
    }
    host = api_base_url.split("://", 1)[-1].split("/", 1)[0]
    return {
        "ApiAuth": dict(auth),
        "Auth": dict(auth),
        "JumaAuth": {**auth, "identityPoolIdV2": api_auth["identityPoolId"]},
        "Analytics": {"disable": True},
        "API": {"endpoints": [{"name": "core", "endpoint": api_base_url, "region": region}]},
        "AppSync": {
            "core": {"region": region, "endpoint": f"https://{host}/graphql"},
            "analytics": {"region": region, "endpoint": f"https://{host}/graphql"},
            "region": region,
            "graphqlEndpoint": f"https://{host}/graphql",
        },
        "Juma": {
            "fullDomainName": host,
            "domainName": host.split(":", 1)[0],
            "stage": "simulator",
            "controlplaneRegion": region,
            "masterAccountId": 0,
        },
        "Sentry": {"dsn": "", "projectName": "stax-simulator"},
        "Features": [],
    }


WorkloadCheck = Callable[[Workload, dict[str, Any]], bool]


def _workload_checks(
    query: Mapping[str, str],
    statuses: list[str],
    account_ids_by_name: set[str],
    catalogue_ids_by_name: set[str],
) -> list[WorkloadCheck]:
    """The ReadWorkloads filters present in ``query``, as predicates."""
    checks: list[WorkloadCheck] = []
    if "name" in query:
        checks.append(lambda w, b: w.name == query["name"])
    if query.get("name_filter"):
        checks.append(lambda w, b: query["name_filter"].lower() in w.name.lower())
    if statuses:
        checks.append(lambda w, b: b["Status"] in statuses)
    for param, attribute in (
        ("id_filter", "id"),
        ("account_ids", "account_id"),
        ("catalogue_ids", "catalogue_id"),
    ):
        wanted = _csv(query.get(param))
        if wanted:
            checks.append(_attribute_in(attribute, wanted))
    if query.get("account_names"):
        checks.append(lambda w, b: w.account_id in account_ids_by_name)
    if query.get("catalogue_names"):
        checks.append(lambda w, b: w.catalogue_id in catalogue_ids_by_name)
    if query.get("catalogue_version_id"):
        checks.append(lambda w, b: w.catalogue_version_id == query["catalogue_version_id"])
    if query.get("catalogue_version"):
        checks.append(
            lambda w, b: (
                (b.get("CatalogueVersion") or {}).get("WorkloadVersion")
                == query["catalogue_version"]
            )
        )
    return checks


def _attribute_in(attribute: str, wanted: list[str]) -> WorkloadCheck:
    def check(workload: Workload, body: dict[str, Any]) -> bool:
        return getattr(workload, attribute) in wanted

    return check


def _parameters_object(raw: Any) -> dict[str, Any]:
    """Request ``[{"Key", "Value"}]`` (or an object) -> the served ``{"Key": "Value"}``."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return dict(raw)
    return {p["Key"]: p["Value"] for p in raw if isinstance(p, dict) and "Key" in p}


def _manifest(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    url = body.get("ManifestURL")
    manifest_body = body.get("ManifestBody")
    if not url and not manifest_body:
        raise BadRequest("ManifestBody: either ManifestBody or ManifestURL must be provided")
    return url, manifest_body


def _list(payload: Mapping[str, Any], key: str) -> list[Any]:
    value = payload.get(key) or []
    if not isinstance(value, list):
        raise BadRequest(f"{key}: must be a list")
    return value


def _csv(value: str | None) -> list[str]:
    if not value:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def _in_csv(filter_value: str | None, value: Any) -> bool:
    """True when there is no filter, or ``value`` is one of its comma-separated items."""
    wanted = _csv(filter_value)
    return not wanted or value in wanted


def _bool_param(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None:
        return False
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise BadRequest(f"{name}: '{value}' is not of type 'boolean'")


def _paging_params(query: Mapping[str, str]) -> tuple[int | None, int | None]:
    values: dict[str, int | None] = {}
    for name in ("limit", "offset"):
        raw = query.get(name)
        if raw is None:
            values[name] = None
            continue
        try:
            number = int(raw)
        except ValueError:
            raise BadRequest(f"{name}: '{raw}' is not of type 'integer'") from None
        if number < 0 or (name == "limit" and number == 0):
            raise BadRequest(f"{name}: {number} is out of range")
        values[name] = number
    return values["limit"], values["offset"]


def _paginate(
    items: list[dict[str, Any]], limit: int | None, offset: int | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Slice ``items``; ``Paging`` (``Total``, ``NextOffset``, ``PrevOffset``) when asked.

    ``offset`` counts items (the document's example: limit 20 -> NextOffset 20).
    """
    if limit is None and offset is None:
        return items, None
    start = offset or 0
    end = len(items) if limit is None else start + limit
    page = items[start:end]
    next_offset = end if end < len(items) else None
    step = limit if limit is not None else start
    prev_offset = None if start == 0 else max(0, start - step)
    return page, {"Total": len(items), "NextOffset": next_offset, "PrevOffset": prev_offset}


def _sort_key(value: Any) -> tuple[int, str]:
    return (0, "") if value is None else (1, str(value))
