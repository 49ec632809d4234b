"""Workloads: deployments of a catalogue version into an account, and their statuses.

A workload's status follows its last task (:func:`workload_status_for`): create
NEW -> INITIALIZING -> ACTIVE (CREATE_FAILED); update UPDATE_IN_PROGRESS ->
UPDATE_COMPLETE or ACTIVE (UPDATE_FAILED); delete DELETE_IN_PROGRESS -> DELETED
(DELETE_FAILED). Seeded workloads have no task and keep their seeded status. A
workload refuses another update or delete while a task runs (400). Deleted workloads
stay readable with status DELETED. With read-after-write lag (``staxsim.realism``) a
new workload is invisible to reads until ``visible_at``.

Served ``Parameters`` is an object (``{"Key": "Value"}``) as the document's
``Workload.Parameters`` says, while requests send ``[{"Key", "Value"}]``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from staxsim.exceptions import BadRequest, Forbidden, NotFound
from staxsim.models.accounts import AccountBackend
from staxsim.models.catalogue import CatalogueBackend, CatalogueItem, CatalogueVersion
from staxsim.models.common import API_USER_ID, Sequence, iso
from staxsim.models.organisation import OrganisationBackend
from staxsim.models.tasks import Task, TaskBackend
from staxsim.queries import csv, paginate, paging_params, sort_key

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
#: ``sort`` values of ReadWorkloads (the document's enum).
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


def parameters_object(raw: Any) -> dict[str, Any]:
    """Request ``[{"Key", "Value"}]`` (or an object) -> the served ``{"Key": "Value"}``."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return dict(raw)
    return {p["Key"]: p["Value"] for p in raw if isinstance(p, dict) and "Key" in p}


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
    task: Task | None = None
    static_status: str = "ACTIVE"
    #: When reads start to find a newly created workload (read-after-write lag).
    visible_at: float | None = None

    @property
    def task_id(self) -> str | None:
        """The id of the workload's last task (``UserTaskId``)."""
        return self.task.id if self.task else None

    def status(self, now: float) -> str:
        """The workload's status at ``now``."""
        if self.task is None:
            return self.static_status
        return workload_status_for(
            self.task.operation, self.task.status(now), self.task.update_success
        )

    def is_visible(self, now: float) -> bool:
        """Whether reads find the workload at ``now``."""
        return self.visible_at is None or now >= self.visible_at

    def check_writable(self, now: float, action: str, *, deleted_is_gone: bool) -> None:
        """Refuse an update/delete while a task runs (400) or once DELETED.

        A DELETED workload is 400 in lenient mode; with ``deleted_is_gone`` it is 404
        (see ``WorkloadBackend.update``/``delete`` for why).
        """
        status = self.status(now)
        if status == "DELETED":
            if deleted_is_gone:
                # the words of an unknown id: the caller cannot tell the two apart
                raise NotFound(f"Workload {self.id} not found")
            raise BadRequest(f"workload_id: workload {self.id} is DELETED; cannot {action}")
        if status in WORKLOAD_BUSY_STATUSES:
            raise BadRequest(
                f"workload_id: workload {self.id} has an operation in progress "
                f"(status {status}); cannot {action} until it finishes"
            )

    def apply_update(self, body: Mapping[str, Any], version: CatalogueVersion | None) -> None:
        """Apply a (checked) ``workloads.UpdateWorkload`` body: Stax applies it at once."""
        if version is not None:
            self.catalogue_version_id = version.id
        if body.get("Parameters") is not None:
            self.parameters = parameters_object(body["Parameters"])
        if body.get("Tags") is not None:
            self.tags = dict(body["Tags"])
        if body.get("Protection") is not None:
            self.protection = bool(body["Protection"])

    def serve(self, now: float, version: CatalogueVersion | None) -> dict[str, Any]:
        """The workload in the document's ``Workload`` shape (``version``: its current
        catalogue version, None if that is unknown)."""
        body: dict[str, Any] = {
            "Id": self.id,
            "Name": self.name,
            "AccountId": self.account_id,
            "CatalogueId": self.catalogue_id,
            "CatalogueVersionId": self.catalogue_version_id,
            "CatalogueVersion": (
                {"Id": version.id, "WorkloadVersion": version.workload_version}
                if version is not None
                else None
            ),
            "Region": self.region,
            "Status": self.status(now),
            "Parameters": dict(self.parameters),
            "Tags": dict(self.tags),
            "Protection": self.protection,
            "OrganisationId": self.organisation_id,
            "CreatedBy": API_USER_ID,
            "CreatedTS": iso(self.created_at),
            "ModifiedTS": iso(self.modified_at),
        }
        if self.task is not None:
            body["UserTaskId"] = self.task.id
        return body


WorkloadCheck = Callable[[Workload, Any], bool]


class WorkloadBackend:
    """Workloads and their writes (the lock is ``SimState``'s)."""

    def __init__(
        self,
        tasks: TaskBackend,
        catalogue: CatalogueBackend,
        accounts: AccountBackend,
        organisation: OrganisationBackend,
        sequence: Sequence,
    ) -> None:
        self._tasks = tasks
        self._catalogue = catalogue
        self._accounts = accounts
        self._organisation = organisation
        self._sequence = sequence
        self.workloads: dict[str, Workload] = {}

    def clear(self) -> None:
        """Forget every workload."""
        self.workloads = {}

    def put(self, workload: Workload) -> None:
        """Store a (seeded) workload; one with the same id keeps its place in the order."""
        old = self.workloads.get(workload.id)
        if old is not None:
            workload.seq = old.seq
        self.workloads[workload.id] = workload

    def serve(
        self,
        workload: Workload,
        now: float,
        items: Mapping[str, CatalogueItem] | None = None,
    ) -> dict[str, Any]:
        """``Workload`` body (``items``: the catalogue to look the version up in)."""
        items = self._catalogue.items if items is None else items
        item = items.get(workload.catalogue_id)
        version = item.version(workload.catalogue_version_id) if item is not None else None
        return workload.serve(now, version)

    def find(self, workload_id: str, now: float, *, hide_invisible: bool = True) -> Workload:
        """The workload, or :class:`NotFound` (also while it is not visible yet)."""
        workload = self.workloads.get(workload_id)
        if workload is None or (hide_invisible and not workload.is_visible(now)):
            raise NotFound(f"Workload {workload_id} not found")
        return workload

    def get(self, workload_id: str, now: float) -> dict[str, Any]:
        """One workload in the ``Workload`` shape (deleted ones too, status DELETED)."""
        return self.serve(self.find(workload_id, now), now)

    def statuses(self, now: float) -> dict[str, int]:
        """How many workloads are in each status (visible or not)."""
        counts: dict[str, int] = {}
        for workload in self.workloads.values():
            status = workload.status(now)
            counts[status] = counts.get(status, 0) + 1
        return counts

    def snapshot(self, now: float) -> list[dict[str, Any]]:
        """Every workload (visible or not), in creation order, for ``GET /_sim/state``."""
        ordered = sorted(self.workloads.values(), key=lambda w: w.seq)
        return [self.serve(w, now) for w in ordered]

    # -- ReadWorkloads ---------------------------------------------------------------
    def query(self, query: Mapping[str, str], now: float) -> dict[str, Any]:
        """``workloads.ReadWorkloadsResponse`` for the query parameters of the document.

        Filters: ``name`` (exact), ``name_filter`` (case-insensitive substring),
        ``filter`` (statuses), ``id_filter``, ``account_ids``, ``account_names``,
        ``catalogue_ids``, ``catalogue_names``, ``catalogue_version_id``,
        ``catalogue_version`` (with ``catalogue_ids``); ``sort``/``sort_order``
        (default ``CreatedTS`` ``DESC``); ``limit``/``offset`` paging. Workloads not
        visible yet (read-after-write lag) match no filter.
        """
        limit, offset = paging_params(query)
        statuses = csv(query.get("filter"))
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
        checks = self._checks(query, statuses)
        # Only what the filters keep is served, and only the page of it when the sort field
        # is one the model knows (every field but the version's name): a read by id, or a
        # page of a big organisation, must not serve every workload.
        selected = [
            w
            for w in self.workloads.values()
            if w.is_visible(now) and all(check(w, None) for check in checks.model)
        ]
        if checks.body or sort not in _MODEL_SORT:
            rows = [(w, self.serve(w, now)) for w in selected]
            rows = [(w, b) for w, b in rows if all(check(w, b) for check in checks.body)]
            rows.sort(key=lambda row: (sort_key(row[1].get(sort)), row[0].seq),
                      reverse=order == "DESC")  # fmt: skip
            page, paging = paginate([b for _, b in rows], limit, offset)
        else:
            selected.sort(key=lambda w: (sort_key(_MODEL_SORT[sort](w, now)), w.seq),
                          reverse=order == "DESC")  # fmt: skip
            chosen, paging = paginate(selected, limit, offset)
            page = [self.serve(w, now) for w in chosen]
        response: dict[str, Any] = {"Workloads": page}
        if paging is not None:
            response["Paging"] = paging
        return response

    def _checks(self, query: Mapping[str, str], statuses: list[str]) -> _Checks:
        """The ReadWorkloads filters present in ``query``, as predicates: on the model
        alone (``model``, called with no body), or on the served body (``body``)."""
        checks = _Checks()
        model = checks.model
        if "name" in query:
            model.append(lambda w, b: w.name == query["name"])
        if query.get("name_filter"):
            model.append(lambda w, b: query["name_filter"].lower() in w.name.lower())
        if statuses:
            checks.body.append(lambda w, b: b["Status"] in statuses)
        for param, attribute in (
            ("id_filter", "id"),
            ("account_ids", "account_id"),
            ("catalogue_ids", "catalogue_id"),
        ):
            wanted = csv(query.get(param))
            if wanted:
                model.append(_attribute_in(attribute, wanted))
        if query.get("account_names"):
            by_name = self._accounts.ids_named(csv(query["account_names"]))
            model.append(lambda w, b: w.account_id in by_name)
        if query.get("catalogue_names"):
            items = self._catalogue.ids_named(csv(query["catalogue_names"]))
            model.append(lambda w, b: w.catalogue_id in items)
        if query.get("catalogue_version_id"):
            model.append(lambda w, b: w.catalogue_version_id == query["catalogue_version_id"])
        if query.get("catalogue_version"):
            checks.body.append(
                lambda w, b: (
                    (b.get("CatalogueVersion") or {}).get("WorkloadVersion")
                    == query["catalogue_version"]
                )
            )
        return checks

    # -- writes ------------------------------------------------------------------------
    def create(
        self, body: Mapping[str, Any], now: float, *, lag: float = 0.0
    ) -> tuple[dict[str, Any], Task]:
        """Accept a (schema-valid) ``workloads.CreateWorkload`` body and start its task.

        Refuses (400, naming the field) an unknown account or catalogue, a version that
        does not belong to the catalogue, or one that is not ACTIVE. Without
        ``CatalogueVersionId`` the catalogue's latest ACTIVE version is used. Names are
        not required to be unique (as in Stax). ``lag``: seconds until reads see it.
        """
        account = self._accounts.get(body["AccountId"])
        if account is None:
            raise BadRequest(f"AccountId: account {body['AccountId']} does not exist")
        item = self._catalogue.items.get(body["CatalogueId"])
        if item is None or item.status(now) == "DELETED":
            raise BadRequest(f"CatalogueId: catalogue item {body['CatalogueId']} does not exist")
        version = self._catalogue.pick_version(item, body.get("CatalogueVersionId"), now)
        workload = Workload(
            id=str(uuid.uuid4()),
            name=body["Name"],
            account_id=account["Id"],
            catalogue_id=item.id,
            catalogue_version_id=version.id,
            region=body["Region"],
            organisation_id=self._organisation.organisation["Id"],
            created_at=now,
            modified_at=now,
            seq=self._sequence.next(),
            parameters=parameters_object(body.get("Parameters")),
            tags=dict(body.get("Tags") or {}),
            visible_at=now + lag if lag > 0 else None,
        )
        workload.task = self._start_task("create", workload, now, lag)
        self.workloads[workload.id] = workload
        return self.serve(workload, now), workload.task

    def update(
        self,
        workload_id: str,
        body: Mapping[str, Any],
        now: float,
        *,
        lag: float = 0.0,
        strict: bool = False,
    ) -> tuple[dict[str, Any], Task]:
        """Accept a ``workloads.UpdateWorkload`` body: change version/parameters/tags/
        protection now, and start an update task.

        ``strict``: a DELETED workload, or one not visible yet, is 404 - a harsher
        reading than the document's: it lists 404 for UpdateWorkload ("not found")
        without saying whether a deleted workload still "exists"; a client must cope.
        """
        workload = self.find(workload_id, now, hide_invisible=strict)
        workload.check_writable(now, "update", deleted_is_gone=strict)
        item = self._catalogue.items.get(workload.catalogue_id)
        if "CatalogueId" in body and body["CatalogueId"] != workload.catalogue_id:
            raise BadRequest(
                f"CatalogueId: workload {workload.id} was deployed from catalogue item "
                f"{workload.catalogue_id}; it cannot move to {body['CatalogueId']}"
            )
        version = None
        if body.get("CatalogueVersionId"):
            if item is None:
                raise BadRequest(
                    f"CatalogueVersionId: catalogue item {workload.catalogue_id} no longer exists"
                )
            version = self._catalogue.pick_version(item, body["CatalogueVersionId"], now)
        workload.apply_update(body, version)
        workload.modified_at = now
        workload.task = self._start_task("update", workload, now, lag)
        return self.serve(workload, now), workload.task

    def delete(
        self, workload_id: str, now: float, *, lag: float = 0.0, strict: bool = False
    ) -> tuple[dict[str, Any], Task]:
        """Start deleting a workload (403 if protected, 400 if busy).

        Already DELETED: 404 with ``strict`` - the document lists 404 for DeleteWorkload
        ("can not be found") and a deleted workload is gone as far as deleting goes -
        else 400 (the kinder, lenient answer). Unknown: 404 either way. Not visible yet
        (read-after-write lag): 404 with ``strict``, a harsher reading - the document
        is silent on writes racing a create; a client must not assume it can act on a
        workload it has just created.
        """
        workload = self.find(workload_id, now, hide_invisible=strict)
        if workload.protection:
            raise Forbidden(
                f"workload_id: workload {workload.id} is protected; disable Protection "
                "before deleting it"
            )
        workload.check_writable(now, "delete", deleted_is_gone=strict)
        workload.modified_at = now
        workload.task = self._start_task("delete", workload, now, lag)
        return self.serve(workload, now), workload.task

    def _start_task(self, operation: str, workload: Workload, now: float, lag: float) -> Task:
        item = self._catalogue.items.get(workload.catalogue_id)
        version = item.version(workload.catalogue_version_id) if item is not None else None
        account = self._accounts.get(workload.account_id)
        context = {
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
        return self._tasks.start(
            operation, workload.name, now, context, lag=lag, workload_id=workload.id
        )


def _attribute_in(attribute: str, wanted: list[str]) -> WorkloadCheck:
    def check(workload: Workload, body: dict[str, Any] | None) -> bool:
        return getattr(workload, attribute) in wanted

    return check


@dataclass
class _Checks:
    """ReadWorkloads filters: on the model (cheap), and on the served body."""

    model: list[WorkloadCheck] = field(default_factory=list)
    body: list[WorkloadCheck] = field(default_factory=list)


#: The value ``Workload.serve`` gives each sort field, read from the model (the same
#: order, without serving every workload to sort them).
_MODEL_SORT: dict[str, Callable[[Workload, float], Any]] = {
    "Id": lambda w, now: w.id,
    "Name": lambda w, now: w.name,
    "AccountId": lambda w, now: w.account_id,
    "CatalogueId": lambda w, now: w.catalogue_id,
    "CatalogueVersionId": lambda w, now: w.catalogue_version_id,
    "Region": lambda w, now: w.region,
    "Status": lambda w, now: w.status(now),
    "UserTaskId": lambda w, now: w.task_id,
    "CreatedBy": lambda w, now: API_USER_ID,
    "CreatedTS": lambda w, now: iso(w.created_at),
    "ModifiedTS": lambda w, now: iso(w.modified_at),
}
