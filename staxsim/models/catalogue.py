"""The workload catalogue: items, their versions, and the status each takes from its task.

A catalogue item (``WorkloadCatalogue``) and each of its versions
(``WorkloadCatalogueVersion``) follow the task that uploads and validates them:
STARTED -> NEW, PENDING -> UPLOADING, RUNNING -> VALIDATING, SUCCEEDED -> ACTIVE,
FAILED -> FAILED (:func:`catalogue_status_for`). Seeded records have no task and keep
their seeded status. :class:`CatalogueBackend` creates, finds and lists them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from staxsim.exceptions import BadRequest, Forbidden, NotFound
from staxsim.models.common import API_USER_ID, Sequence, iso
from staxsim.models.organisation import OrganisationBackend
from staxsim.models.tasks import Task, TaskBackend
from staxsim.queries import bool_param, csv, in_csv, paginate, paging_params


def catalogue_status_for(task_status: str) -> str:
    """Catalogue item/version status (``CatalogueStatus`` enum) while/after its task."""
    return {
        "STARTED": "NEW",
        "PENDING": "UPLOADING",
        "RUNNING": "VALIDATING",
        "SUCCEEDED": "ACTIVE",
        "FAILED": "FAILED",
    }[task_status]


def default_manifest_url(item_name: str, version: str) -> str:
    """Where the simulated Stax keeps a version's manifest when given only a body."""
    return f"s3://stax-simulated-artifacts/{item_name}/{version}/manifest.yaml"


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
    task: Task | None = None
    static_status: str = "ACTIVE"

    @property
    def task_id(self) -> str | None:
        """The id of the task that created this version (None when seeded)."""
        return self.task.id if self.task else None

    def status(self, now: float) -> str:
        """``CatalogueStatus`` at ``now``."""
        return catalogue_status_for(self.task.status(now)) if self.task else self.static_status

    def parameter_defaults(self) -> dict[str, Any]:
        """``{"Key": default}`` of the version's parameters (the events' ``Parameters``)."""
        return {p["Key"]: p.get("Default") for p in self.parameters if "Key" in p}

    def serve(self, now: float) -> dict[str, Any]:
        """The version in the ``WorkloadCatalogueVersion`` shape."""
        return {
            "Id": self.id,
            "CatalogueId": self.catalogue_id,
            "WorkloadVersion": self.workload_version,
            "Description": self.description,
            "ManifestURL": self.manifest_url,
            "Status": self.status(now),
            "Parameters": [dict(p) for p in self.parameters],
            "Public": self.public,
            "CreatedBy": API_USER_ID,
            "CreatedTS": iso(self.created_at),
            "ModifiedTS": iso(self.modified_at),
            "UserTaskId": self.task_id,
        }


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
    task: Task | None = None
    static_status: str = "ACTIVE"

    @property
    def task_id(self) -> str | None:
        """The id of the task that created the item (None when seeded)."""
        return self.task.id if self.task else None

    def status(self, now: float) -> str:
        """``CatalogueStatus`` at ``now``."""
        return catalogue_status_for(self.task.status(now)) if self.task else self.static_status

    def version(self, version_id: str | None) -> CatalogueVersion | None:
        """The version with this id, if it belongs to the item."""
        return next((v for v in self.versions if v.id == version_id), None)

    def latest_active(self, now: float) -> CatalogueVersion | None:
        """The newest ACTIVE version (what a create without a version deploys)."""
        active = [v for v in self.versions if v.status(now) == "ACTIVE"]
        return max(active, key=lambda v: (v.created_at, v.seq)) if active else None

    def serve(self, now: float, *, include_versions: bool) -> dict[str, Any]:
        """The item in the ``WorkloadCatalogue`` shape."""
        latest = self.latest_active(now)
        body: dict[str, Any] = {
            "Id": self.id,
            "Name": self.name,
            "Description": self.description,
            "OrganisationId": self.organisation_id,
            "Status": self.status(now),
            "Public": self.public,
            "Protection": False,
            "CatalogueVersionId": latest.id if latest else None,
            "CreatedBy": API_USER_ID,
            "CreatedTS": iso(self.created_at),
            "ModifiedTS": iso(self.modified_at),
            "UserTaskId": self.task_id,
        }
        if include_versions:
            body["Versions"] = [v.serve(now) for v in self.versions]
        return body


def _manifest(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    url = body.get("ManifestURL")
    manifest_body = body.get("ManifestBody")
    if not url and not manifest_body:
        raise BadRequest("ManifestBody: either ManifestBody or ManifestURL must be provided")
    return url, manifest_body


class CatalogueBackend:
    """Catalogue items and versions (the lock is ``SimState``'s)."""

    def __init__(
        self, tasks: TaskBackend, organisation: OrganisationBackend, sequence: Sequence
    ) -> None:
        self._tasks = tasks
        self._organisation = organisation
        self._sequence = sequence
        self.items: dict[str, CatalogueItem] = {}

    def clear(self) -> None:
        """Forget every item."""
        self.items = {}

    def put(self, item: CatalogueItem) -> None:
        """Store a (seeded) item; one with the same id keeps its place in the order."""
        old = self.items.get(item.id)
        if old is not None:
            item.seq = old.seq
        self.items[item.id] = item

    def find(self, catalogue_id: str) -> CatalogueItem:
        """The item, or :class:`NotFound`."""
        item = self.items.get(catalogue_id)
        if item is None:
            raise NotFound(f"Workload catalogue item {catalogue_id} not found")
        return item

    def version_of(self, catalogue_id: str, version_id: str) -> CatalogueVersion | None:
        """A version by ids (None if either is unknown)."""
        item = self.items.get(catalogue_id)
        return item.version(version_id) if item is not None else None

    def ids_named(self, names: list[str]) -> set[str]:
        """Ids of the items called one of ``names``."""
        return {c.id for c in self.items.values() if c.name in names}

    def pick_version(
        self, item: CatalogueItem, version_id: str | None, now: float
    ) -> CatalogueVersion:
        """The version a workload write deploys: the given one (must be ACTIVE and of
        this item) or, without one, the item's newest ACTIVE version."""
        if version_id is None:
            latest = item.latest_active(now)
            if latest is None:
                raise BadRequest(
                    f"CatalogueId: catalogue item {item.id} has no ACTIVE version to deploy"
                )
            return latest
        version = item.version(version_id)
        if version is None:
            raise BadRequest(
                f"CatalogueVersionId: version {version_id} does not belong to catalogue "
                f"item {item.id}"
            )
        status = version.status(now)
        if status != "ACTIVE":
            raise BadRequest(f"CatalogueVersionId: version {version_id} is {status}, not ACTIVE")
        return version

    # -- reads ---------------------------------------------------------------------------
    def query(
        self, query: Mapping[str, str], now: float, catalogue_id: str | None = None
    ) -> dict[str, Any]:
        """``workloads.ReadCatalogueItems``: ``{"WorkloadCatalogues": [{"OrganisationId",
        "WorkloadCatalogueItems": [...], "Paging"?}]}`` (the document's nesting).

        Filters: ``name`` (exact), ``filter`` (statuses), ``id_filter``;
        ``include_versions=true`` adds each item's ``Versions``.
        """
        limit, offset = paging_params(query)
        include_versions = bool_param(query, "include_versions")
        statuses = csv(query.get("filter"))
        if catalogue_id is not None:
            items = [self.find(catalogue_id)]
        else:
            items = sorted(self.items.values(), key=lambda c: c.seq)
        bodies = []
        for item in items:
            served = item.serve(now, include_versions=include_versions)
            if "name" in query and item.name != query["name"]:
                continue
            if statuses and served["Status"] not in statuses:
                continue
            if not in_csv(query.get("id_filter"), item.id):
                continue
            bodies.append(served)
        page, paging = paginate(bodies, limit, offset)
        group: dict[str, Any] = {
            "OrganisationId": self._organisation.organisation["Id"],
            "WorkloadCatalogueItems": page,
        }
        if paging is not None:
            group["Paging"] = paging
        return {"WorkloadCatalogues": [group]}

    def get_version(self, catalogue_id: str, version_id: str, now: float) -> dict[str, Any]:
        """``workloads.ReadCatalogueVersion``: ``{"Versions": [version]}``."""
        version = self.find(catalogue_id).version(version_id)
        if version is None:
            raise NotFound(
                f"Version {version_id} of workload catalogue item {catalogue_id} not found"
            )
        return {"Versions": [version.serve(now)]}

    # -- writes --------------------------------------------------------------------------
    def create_item(
        self, body: Mapping[str, Any], now: float, lag: float = 0.0
    ) -> tuple[CatalogueItem, CatalogueVersion, Task]:
        """Accept a ``workloads.CreateCatalogueItem`` body: item + first version + task."""
        manifest = _manifest(body)
        item = CatalogueItem(
            id=str(uuid.uuid4()),
            name=body["Name"],
            description=body["Description"],
            organisation_id=self._organisation.organisation["Id"],
            created_at=now,
            modified_at=now,
            seq=self._sequence.next(),
            tags=dict(body.get("Tags") or {}),
        )
        version = self._new_version(item, body, manifest, now)
        task = self._start_task("catalogue-create", item, version, now, lag)
        item.task = task
        version.task = task
        self.items[item.id] = item
        return item, version, task

    def create_version(
        self, catalogue_id: str, body: Mapping[str, Any], now: float, lag: float = 0.0
    ) -> tuple[CatalogueItem, CatalogueVersion, Task]:
        """Accept a ``workloads.CreateCatalogueVersion`` body: new version + task."""
        manifest = _manifest(body)
        item = self.find(catalogue_id)
        if item.status(now) == "DELETED":
            raise Forbidden(f"catalogue_id: catalogue item {catalogue_id} is deleted")
        if any(v.workload_version == body["Version"] for v in item.versions):
            raise BadRequest(
                f"Version: '{body['Version']}' already exists in catalogue item {catalogue_id}"
            )
        version = self._new_version(item, body, manifest, now)
        version.task = self._start_task("catalogue-version", item, version, now, lag)
        item.modified_at = now
        return item, version, version.task

    def _start_task(
        self, kind: str, item: CatalogueItem, version: CatalogueVersion, now: float, lag: float
    ) -> Task:
        """The task that uploads and validates a catalogue version."""
        return self._tasks.start(
            kind,
            item.name,
            now,
            {
                "where": f"(catalogue item {item.id})",
                "version": version.workload_version,
                "manifest": version.manifest_url,
            },
            lag=lag,
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
        parameters = body.get("Parameters")
        version = CatalogueVersion(
            id=str(uuid.uuid4()),
            catalogue_id=item.id,
            workload_version=body["Version"],
            description=body["Description"],
            manifest_url=url or default_manifest_url(item.name, body["Version"]),
            manifest_body=manifest_body,
            created_at=now,
            modified_at=now,
            seq=self._sequence.next(),
            parameters=[{"Key": k, "Default": v} for k, v in (parameters or {}).items()],
        )
        item.versions.append(version)
        return version
