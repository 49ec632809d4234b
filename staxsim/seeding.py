"""Seed data: the organisation, accounts, catalogue and workloads of ``POST /_sim/seed``.

Every record is built in its served form and checked against the document's schema
(``Account``, ``WorkloadCatalogue``, ``WorkloadCatalogueVersion``, ``Workload``)
*before* anything is stored, so a bad seed changes nothing; the error names the record
and field (``accounts[0].AwsAccountId: ...``). Records with an id already known replace
the old ones (the seed is idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from staxsim.document import StaxDocument
from staxsim.exceptions import BadRequest
from staxsim.models.accounts import AccountBackend
from staxsim.models.catalogue import (
    CatalogueBackend,
    CatalogueItem,
    CatalogueVersion,
    default_manifest_url,
)
from staxsim.models.common import Sequence, is_uuid, iso
from staxsim.models.organisation import OrganisationBackend
from staxsim.models.workloads import (
    WORKLOAD_STATUSES,
    Workload,
    WorkloadBackend,
    parameters_object,
)

SEED_SECTIONS = ("organisation", "account_types", "accounts", "catalogue", "workloads")


def _list(payload: Mapping[str, Any], key: str) -> list[Any]:
    value = payload.get(key) or []
    if not isinstance(value, list):
        raise BadRequest(f"{key}: must be a list")
    return value


def _object(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequest(f"{where}: must be an object")
    return raw


class SeedLoader:
    """Validates a seed payload and stores it in the backends (caller holds the lock)."""

    def __init__(
        self,
        *,
        document: StaxDocument,
        organisation: OrganisationBackend,
        accounts: AccountBackend,
        catalogue: CatalogueBackend,
        workloads: WorkloadBackend,
        sequence: Sequence,
    ) -> None:
        self._document = document
        self._organisation = organisation
        self._accounts = accounts
        self._catalogue = catalogue
        self._workloads = workloads
        self._sequence = sequence

    def load(self, payload: Mapping[str, Any], now: float) -> dict[str, int]:
        """Add or replace (same ids) the sections of ``payload``; return the counts."""
        unknown = sorted(set(payload) - set(SEED_SECTIONS))
        if unknown:
            raise BadRequest(f"{unknown[0]}: unknown seed section")
        organisation = self._organisation_record(payload.get("organisation"))
        org_id = organisation["Id"]
        account_types = [
            self._account_type(raw, f"account_types[{i}]")
            for i, raw in enumerate(_list(payload, "account_types"))
        ]
        accounts = [
            self._account(raw, org_id, now, f"accounts[{i}]")
            for i, raw in enumerate(_list(payload, "accounts"))
        ]
        items = [
            self._catalogue_item(raw, org_id, now, f"catalogue[{i}]")
            for i, raw in enumerate(_list(payload, "catalogue"))
        ]
        # workloads may refer to accounts / catalogue seeded in the same call
        known_accounts = {**self._accounts.accounts, **{a["Id"]: a for a in accounts}}
        known_items = {**self._catalogue.items, **{c.id: c for c in items}}
        workloads = [
            self._workload(
                raw, org_id, now, f"workloads[{i}]", accounts=known_accounts, items=known_items
            )
            for i, raw in enumerate(_list(payload, "workloads"))
        ]

        self._organisation.organisation = organisation
        for account_type in account_types:
            self._accounts.put_type(account_type)
        for account in accounts:
            self._accounts.put(account)
        for item in items:
            self._catalogue.put(item)
        for workload in workloads:
            self._workloads.put(workload)
        return {
            "accounts": len(self._accounts.accounts),
            "account_types": len(self._accounts.types),
            "catalogue_items": len(self._catalogue.items),
            "catalogue_versions": sum(len(c.versions) for c in self._catalogue.items.values()),
            "workloads": len(self._workloads.workloads),
        }

    def _organisation_record(self, raw: Any) -> dict[str, Any]:
        current = dict(self._organisation.organisation)
        if raw is None:
            return current
        if not isinstance(raw, dict) or not is_uuid(raw.get("Id")):
            raise BadRequest("organisation.Id: must be a UUID")
        organisation = {
            "Id": raw["Id"],
            "Name": str(raw.get("Name", current["Name"])),
            "CustomerId": raw.get("CustomerId", current["CustomerId"]),
        }
        if not is_uuid(organisation["CustomerId"]):
            raise BadRequest("organisation.CustomerId: must be a UUID")
        return organisation

    def _check(self, schema: str, served: Any, where: str) -> None:
        error = self._document.component_validator(schema).first_error(served, where)
        if error:
            raise BadRequest(error)

    @staticmethod
    def _account_type(raw: Any, where: str) -> dict[str, Any]:
        """``{"Id", "Name"}``: accounts name their type by ``Name`` in ``AccountType``."""
        raw = _object(raw, where)
        if not is_uuid(raw.get("Id")):
            raise BadRequest(f"{where}.Id: must be a UUID")
        name = raw.get("Name")
        if not isinstance(name, str) or not 3 <= len(name) <= 64:
            raise BadRequest(f"{where}.Name: must be a string of 3-64 characters")
        return {"Id": raw["Id"], "Name": name, "Status": str(raw.get("Status", "ACTIVE"))}

    def _account(self, raw: Any, org_id: str, now: float, where: str) -> dict[str, Any]:
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
            **_object(raw, where),
        }
        if not is_uuid(account.get("Id")):
            raise BadRequest(f"{where}.Id: must be a UUID")
        self._check("Account", account, where)
        return account

    def _catalogue_item(self, raw: Any, org_id: str, now: float, where: str) -> CatalogueItem:
        raw = _object(raw, where)
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
            seq=self._sequence.next(),
            tags=dict(raw.get("Tags") or {}),
            public=bool(raw.get("Public", False)),
            static_status=str(raw.get("Status", "ACTIVE")),
        )
        versions = raw.get("Versions") or []
        if not isinstance(versions, list) or not versions:
            raise BadRequest(f"{where}.Versions: needs at least one version")
        for j, version_raw in enumerate(versions):
            item.versions.append(self._version(item, version_raw, now, j, f"{where}.Versions[{j}]"))
        self._check("WorkloadCatalogue", item.serve(now, include_versions=True), where)
        return item

    def _version(
        self, item: CatalogueItem, raw: Any, now: float, index: int, where: str
    ) -> CatalogueVersion:
        if not isinstance(raw, dict) or not is_uuid(raw.get("Id")):
            raise BadRequest(f"{where}.Id: must be a UUID")
        number = raw.get("WorkloadVersion", raw.get("Name"))
        if not isinstance(number, str) or not number:
            raise BadRequest(f"{where}.Name: is required (the version, e.g. '1.0.0')")
        return CatalogueVersion(
            id=raw["Id"],
            catalogue_id=item.id,
            workload_version=number,
            description=str(raw.get("Description", item.description)),
            manifest_url=str(raw.get("ManifestURL", default_manifest_url(item.name, number))),
            created_at=now + index * 0.001,
            modified_at=now,
            seq=self._sequence.next(),
            parameters=list(raw.get("Parameters") or []),
            public=bool(raw.get("Public", item.public)),
            static_status=str(raw.get("Status", "ACTIVE")),
        )

    def _workload(
        self,
        raw: Any,
        org_id: str,
        now: float,
        where: str,
        *,
        accounts: Mapping[str, Any],
        items: Mapping[str, CatalogueItem],
    ) -> Workload:
        raw = _object(raw, where)
        if not is_uuid(raw.get("Id")):
            raise BadRequest(f"{where}.Id: must be a UUID")
        if raw.get("AccountId") not in accounts:
            raise BadRequest(f"{where}.AccountId: unknown account {raw.get('AccountId')!r}")
        item = items.get(raw.get("CatalogueId", ""))
        if item is None:
            raise BadRequest(f"{where}.CatalogueId: unknown catalogue {raw.get('CatalogueId')!r}")
        version_id = raw.get("CatalogueVersionId") or item.versions[-1].id
        if item.version(version_id) is None:
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
            region=str(raw.get("Region", self._organisation.region or "us-east-1")),
            organisation_id=org_id,
            created_at=now,
            modified_at=now,
            seq=self._sequence.next(),
            parameters=parameters_object(raw.get("Parameters")),
            tags=dict(raw.get("Tags") or {}),
            protection=bool(raw.get("Protection", False)),
            static_status=status,
        )
        self._check("Workload", self._workloads.serve(workload, now, items), where)
        return workload
