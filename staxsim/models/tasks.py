"""Tasks: Stax's asynchronous jobs, their phases, log plans and "fail next" rules.

A task has no thread: it records when it started and the phase durations in force at
that time, and its status is *computed* from the clock when read - STARTED for
``started`` seconds, PENDING for ``pending``, RUNNING for ``running``, then SUCCEEDED
(or FAILED when a :class:`FailRule` picked it). Its log grows with each phase
(:meth:`Task.logs`). A task also records when it becomes readable (``visible_at``):
with read-after-write lag (``staxsim.realism``) ``GET /task/{id}`` answers 404 until
then. :class:`TaskBackend` holds the tasks, the durations and the fail rules.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from staxsim.exceptions import BadRequest, NotFound
from staxsim.models.common import (
    CATALOGUE_OPERATIONS,
    STAX_OPERATIONS,
    WORKLOAD_OPERATIONS,
    iso,
    new_trace_id,
)

TASK_RUNNING_STATUSES = ("STARTED", "PENDING", "RUNNING")
TASK_FINAL_STATUSES = ("SUCCEEDED", "FAILED")
UPDATE_SUCCESS_STATUSES = ("UPDATE_COMPLETE", "ACTIVE")
MAX_PHASE_SECONDS = 86_400


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
    #: Workload status after a successful update (captured when the task starts).
    update_success: str = "UPDATE_COMPLETE"
    #: When ``GET /task/{id}`` starts to find the task (read-after-write lag).
    visible_at: float | None = None

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

    def is_visible(self, now: float) -> bool:
        """Whether a reader finds the task at ``now``."""
        return self.visible_at is None or now >= self.visible_at

    def read_body(self, now: float) -> dict[str, Any]:
        """The ``tasks.ReadTask`` body at ``now``."""
        body: dict[str, Any] = {"Status": self.status(now), "Logs": self.logs(now)}
        if self.workload_id:
            body["Workloads"] = [self.workload_id]
        return body

    def logs(self, now: float) -> list[str]:
        """The log lines written up to ``now`` (each prefixed with its timestamp)."""
        return [f"{iso(at)} {text}" for at, text in self._log_plan() if at <= now]

    def _log_plan(self) -> list[tuple[float, str]]:
        d = self.durations
        t0 = self.created_at
        t_pending = t0 + d.started
        t_running = t_pending + d.pending
        t_end = t0 + d.total
        plan: list[tuple[float, str]] = [
            (
                t0,
                f"[STARTED] Task {self.id} accepted: {self.stax_operation} "
                f"'{self.subject_name}' {self.context.get('where', '')}".rstrip(),
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
        final = "FAILED" if self.fail else "SUCCEEDED"
        plan.extend((t_end, f"[{final}] {text}") for text in self._end_lines())
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
        action = self.operation.upper()
        return [
            f"Deploying catalogue '{ctx.get('catalogue', '')}' version "
            f"{ctx.get('version', '')} to account {ctx.get('account', '')} "
            f"region {ctx.get('region', '')}",
            f"AWS::CloudFormation::Stack {stack} {action}_IN_PROGRESS User Initiated",
            f"AWS::SSM::Parameter WorkloadParameter {action}_IN_PROGRESS",
            f"AWS::SSM::Parameter WorkloadParameter {action}_COMPLETE",
        ]

    def _end_lines(self) -> list[str]:
        stack = self.context.get("stack", "stax-stack")
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
        return [
            f"AWS::CloudFormation::Stack {stack} {self.operation.upper()}_COMPLETE",
            f"Task {self.id} SUCCEEDED",
        ]

    def as_snapshot(self, now: float) -> dict[str, Any]:
        """The task for ``GET /_sim/state`` (ignores visibility: it is an observer's view)."""
        return {
            "Id": self.id,
            "Operation": self.stax_operation,
            "Name": self.subject_name,
            "WorkloadId": self.workload_id,
            "CatalogueId": self.catalogue_id,
            "VersionId": self.version_id,
            "Status": self.status(now),
            "WillFail": self.fail,
            "CreatedAt": self.created_at,
            "VisibleAt": self.visible_at if self.visible_at is not None else self.created_at,
            "EndsAt": self.end_at,
            "Logs": self.logs(now),
        }


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

    @property
    def used_up(self) -> bool:
        """Whether the rule has picked its ``count`` tasks."""
        return self.count is not None and self.used >= self.count

    def check(self) -> None:
        """Raise :class:`BadRequest` (naming the field) if the rule is malformed."""
        operations = (*WORKLOAD_OPERATIONS, *CATALOGUE_OPERATIONS)
        if self.operation is not None and self.operation not in operations:
            raise BadRequest(f"match.operation: must be one of {list(operations)}")
        if self.name_regex is not None:
            try:
                re.compile(self.name_regex)
            except re.error as exc:
                raise BadRequest(f"match.name_regex: invalid regex ({exc})") from None
        if self.count is not None and self.count < 1:
            raise BadRequest("count: must be null or an integer >= 1")

    def as_dict(self) -> dict[str, Any]:
        """JSON form used by the control API."""
        return {
            "count": self.count,
            "logs": self.logs,
            "match": {"operation": self.operation, "name_regex": self.name_regex},
            "used": self.used,
        }


class TaskBackend:
    """The tasks, the durations new tasks get, and the fail rules (not thread-safe:
    ``staxsim.backend.SimState`` holds the lock)."""

    def __init__(self, durations: TaskDurations | None = None) -> None:
        self.durations = durations or TaskDurations()
        #: When set, each new task's total length is drawn from it (uniform), split 1:1:4.
        self.total_range: tuple[float, float] | None = None
        # Not for secrets: repeatable task lengths in tests (seeded).
        self._rng = random.Random()  # noqa: S311
        self.update_success_status = UPDATE_SUCCESS_STATUSES[0]
        self.tasks: dict[str, Task] = {}
        self.fail_rules: list[FailRule] = []

    def clear(self) -> None:
        """Forget every task and fail rule (settings stay)."""
        self.tasks = {}
        self.fail_rules = []

    def reset_settings(self) -> None:
        """Back to the default durations and update success status."""
        self.durations = TaskDurations()
        self.total_range = None
        self.update_success_status = UPDATE_SUCCESS_STATUSES[0]

    def set_durations(self, durations: TaskDurations, update_success: str | None = None) -> None:
        """Durations (and update success status) of tasks created from now on."""
        for name in ("started", "pending", "running"):
            value = getattr(durations, name)
            if value < 0 or value > MAX_PHASE_SECONDS:
                raise BadRequest(f"{name}_seconds: must be between 0 and {MAX_PHASE_SECONDS}")
        if update_success is not None and update_success not in UPDATE_SUCCESS_STATUSES:
            raise BadRequest(
                f"update_success_status: must be one of {list(UPDATE_SUCCESS_STATUSES)}"
            )
        self.durations = durations
        self.total_range = None
        if update_success is not None:
            self.update_success_status = update_success

    def set_total_range(self, low: float, high: float, seed: int | None = None) -> None:
        """Draw every new task's length between ``low`` and ``high`` seconds (seeded)."""
        if not 0 <= low <= high <= MAX_PHASE_SECONDS:
            raise BadRequest(
                f"total_seconds: [low, high] must be 0 <= low <= high <= {MAX_PHASE_SECONDS}"
            )
        self.total_range = (low, high)
        self._rng = random.Random(seed)  # noqa: S311 - repeatable task lengths, not secrets

    def _durations_for_new_task(self) -> TaskDurations:
        if self.total_range is None:
            return self.durations
        return TaskDurations.from_total(self._rng.uniform(*self.total_range))

    # -- fail rules ----------------------------------------------------------------
    def add_fail_rule(self, rule: FailRule) -> FailRule:
        """Add a rule picking tasks that will end FAILED."""
        rule.check()
        self.fail_rules.append(rule)
        return rule

    def list_fail_rules(self) -> list[dict[str, Any]]:
        """The fail rules still active, as JSON."""
        return [r.as_dict() for r in self.fail_rules]

    def clear_fail_rules(self) -> None:
        """Remove every fail rule."""
        self.fail_rules = []

    # -- tasks -------------------------------------------------------------------------
    def start(
        self,
        operation: str,
        subject_name: str,
        now: float,
        context: dict[str, str],
        *,
        lag: float = 0.0,
        workload_id: str | None = None,
        catalogue_id: str | None = None,
        version_id: str | None = None,
    ) -> Task:
        """Start a task now; the first matching fail rule (if any) makes it fail."""
        task = Task(
            id=str(uuid.uuid4()),
            operation=operation,
            created_at=now,
            durations=self._durations_for_new_task(),
            subject_name=subject_name,
            trace_id=new_trace_id(now),
            context=context,
            workload_id=workload_id,
            catalogue_id=catalogue_id,
            version_id=version_id,
            update_success=self.update_success_status,
            visible_at=now + lag if lag > 0 else None,
        )
        for rule in self.fail_rules:
            if rule.matches(operation, subject_name):
                rule.used += 1
                task.fail = True
                task.fail_logs = list(rule.logs)
                break
        self.fail_rules = [r for r in self.fail_rules if not r.used_up]
        self.tasks[task.id] = task
        return task

    def read(self, task_id: str, now: float) -> dict[str, Any]:
        """The ``tasks.ReadTask`` body; 404 for an unknown task or one not visible yet."""
        task = self.tasks.get(task_id)
        if task is None or not task.is_visible(now):
            raise NotFound(f"Task {task_id} not found")
        return task.read_body(now)

    def snapshot(self, now: float) -> list[dict[str, Any]]:
        """Every task, oldest first, for ``GET /_sim/state``."""
        return [t.as_snapshot(now) for t in sorted(self.tasks.values(), key=lambda t: t.created_at)]
