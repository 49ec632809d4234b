"""What Stax holds that a baselines plan depends on, read through ``StaxGateway``.

Role: the planner's only view of Stax. :func:`read_state` reads, paged, the catalogue
(with versions), the account types the file names (ReadAccountTypes) and their accounts
(ReadAccounts with ``account_type_filter``, one type at a time, so an account's type is
known from the question even when the answer's nullable ``AccountType`` is null), the
accounts the file names, and every workload of the catalogues the file uses -- each
read again by id with ``include_tags`` (lists carry no tags), because the baseline tag
is how a baseline's workloads are recognised, unless the plan cache shows it unchanged
(:mod:`chalicelib.baselines.plan_cache`). Stax may answer a nullable field with
null; a workload whose tags, parameters or version come back null is read again, a few
times, before the plan gives up (a guess would plan a wrong change).

:meth:`StaxState.records` is the state as plain records: the plan's fingerprint is their
hash, and comparing two of them names what changed. A workload's parameter values are kept
as digests (:func:`value_digest`) only: the plan compares the file's values by digest and
its updates ask the update Lambda to keep the workload's other parameters
(``parameters_mode: merge``), so no value read from Stax is written anywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.baselines.plan_cache import PlanCache, Snapshot
from chalicelib.errors import StaxApiUnavailable
from chalicelib.settings import BASELINE_TAG
from chalicelib.stax import is_live

#: Reads of one workload before its null fields are given up on. Twelve: with a quarter of
#: the answers null (the simulator's strict share), six failed one workload in 4,096 -- most
#: plans of 10,000 targets; twelve fail one in 16 million.
FULL_READ_ATTEMPTS = 12
#: Statuses in which a workload's version and parameters must be known.
_SETTLED = frozenset({"ACTIVE", "UPDATE_COMPLETE", "UPDATE_FAILED", "CREATE_FAILED"})


@dataclass
class StaxState:
    """The parts of Stax a plan was computed from."""

    catalogue: dict[str, dict[str, Any]] = field(default_factory=dict)
    account_types: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Stax account id -> ``{"Id", "Name", "Status", "type_id"}`` (type_id: the type whose
    #: listing returned it, or None for an account named directly and of unknown type).
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    workloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The workloads whose record came from the plan cache, not from a read by id
    #: (``plan_cache``); the planner reads again any of them it would change.
    cached: set[str] = field(default_factory=set)

    def records(self) -> dict[str, Any]:
        """Every record, keyed ``kind:id``, as plain JSON (the fingerprint's input)."""
        out: dict[str, Any] = {}
        for item in self.catalogue.values():
            out[f"catalogue:{item['Id']}"] = {
                "Name": item.get("Name"),
                "Versions": sorted(
                    (
                        {k: v.get(k) for k in ("Id", "WorkloadVersion", "Status", "CreatedTS")}
                        for v in item.get("Versions") or []
                    ),
                    key=lambda v: str(v["Id"]),
                ),
            }
        for kind in ("account_types", "accounts", "workloads"):
            for key, record in getattr(self, kind).items():
                out[f"{kind[:-1]}:{key}"] = record
        return dict(sorted(out.items()))

    def fingerprint(self) -> str:
        return fingerprint(self.records())


def fingerprint(records: dict[str, Any]) -> str:
    text = json.dumps(records, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def describe_changes(before: dict[str, Any], after: dict[str, Any], limit: int = 20) -> list[str]:
    """What differs between two ``records()``, in words, at most ``limit`` lines."""
    lines: list[str] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        label = _label(key, new or old)
        if old is None:
            lines.append(f"{label} appeared")
        elif new is None:
            lines.append(f"{label} is gone")
        else:
            fields = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            detail = []
            for name in fields:
                if isinstance(old.get(name), (dict, list)) or isinstance(
                    new.get(name), (dict, list)
                ):
                    detail.append(f"{name} changed")
                else:
                    detail.append(f"{name} {old.get(name)} -> {new.get(name)}")
            lines.append(f"{label}: {', '.join(detail)}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


def _label(key: str, record: Any) -> str:
    kind, _, ident = key.partition(":")
    name = record.get("Name") if isinstance(record, dict) else None
    return f"{kind.replace('_', ' ')} {name!r} ({ident})" if name else f"{kind} {ident}"


def _full_workload(stax: Any, workload_id: str) -> dict[str, Any] | None:
    """The workload with its tags, parameters and version, re-read while any is null.

    Raises:
        StaxApiUnavailable: Stax kept answering null for one of them.
    """
    from chalicelib.errors import WorkloadNotFound

    for _ in range(FULL_READ_ATTEMPTS):
        try:
            workload = stax.read_workload(workload_id, include_tags=True)
        except WorkloadNotFound:
            return None  # deleted between the list and this read
        if not is_live(workload):
            return None
        needs_version = workload.get("Status") in _SETTLED
        if (
            workload.get("Tags") is not None
            and workload.get("Protection") is not None  # a baseline never deletes on a guess
            and not (
                needs_version
                and (
                    workload.get("Parameters") is None or workload.get("CatalogueVersionId") is None
                )
            )
        ):
            return workload
    raise StaxApiUnavailable(
        "Stax kept answering this workload without its tags, protection, parameters or version",
        call="ReadWorkloads",
        workload_id=workload_id,
        attempts=FULL_READ_ATTEMPTS,
        hint="Run plan again; if it persists, Stax is not serving the workload in full.",
    )


def value_digest(workload_id: str, name: str, value: Any) -> str:
    """What a plan keeps of a parameter's value: a digest, never the value (a saved plan,
    a fleet plan object and an execution's history may be read by others). Salted with the
    workload and the parameter's name, so equal values of different workloads differ."""
    text = "\0".join((str(workload_id), str(name), str(value)))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _workload_record(workload: dict[str, Any]) -> dict[str, Any]:
    workload_id = str(workload.get("Id"))
    parameters = workload.get("Parameters") or {}
    return {
        "Name": workload.get("Name"),
        "AccountId": workload.get("AccountId"),
        "Region": workload.get("Region"),
        "CatalogueId": workload.get("CatalogueId"),
        "CatalogueVersionId": workload.get("CatalogueVersionId"),
        "Status": workload.get("Status"),
        # None: Stax did not say (a nullable field); a baseline then never deletes it.
        "Protection": workload.get("Protection"),
        "Parameters": {str(k): value_digest(workload_id, k, v) for k, v in parameters.items()},
        "Tags": {str(k): str(v) for k, v in (workload.get("Tags") or {}).items()},
    }


def _account_record(account: dict[str, Any], type_id: str | None) -> dict[str, Any]:
    return {
        "Name": account.get("Name"),
        "Status": account.get("Status"),
        "AwsAccountId": account.get("AwsAccountId"),
        "type_id": type_id,
    }


def read_catalogue(stax: Any, state: StaxState) -> None:
    for item in stax.list_catalogue(include_versions=True):
        state.catalogue[str(item["Id"])] = dict(item)


def read_account_types(stax: Any, state: StaxState) -> None:
    for account_type in stax.list_account_types():
        state.account_types[str(account_type["Id"])] = {
            "Name": account_type.get("Name"),
            "Status": account_type.get("Status"),
        }


def _one(account_id: str | None) -> dict[str, str]:
    """The ReadAccounts filter of one account (none: every account)."""
    return {"id_filter": account_id} if account_id else {}


def read_accounts_of_types(
    stax: Any, state: StaxState, type_ids: Iterable[str], account_id: str | None = None
) -> None:
    for type_id in sorted(set(type_ids)):
        names = {type_id, state.account_types.get(type_id, {}).get("Name")}
        for account in stax.list_accounts(account_type_filter=type_id, **_one(account_id)):
            if account_id and str(account.get("Id")).lower() != account_id:
                continue  # an installation that ignored id_filter
            # An installation that ignored the filter must not make every account match:
            # an account that says its type keeps only a matching one.
            declared = account.get("AccountType")
            if declared is not None and declared not in names:
                continue
            state.accounts[str(account["Id"])] = _account_record(account, type_id)


def read_named_accounts(stax: Any, state: StaxState, refs: Iterable[str], is_id: Any) -> None:
    refs = sorted(set(refs))
    ids = [r for r in refs if is_id(r)]
    names = [r for r in refs if not is_id(r)]
    found: list[dict[str, Any]] = []
    if ids:
        found += [a for a in stax.list_accounts(id_filter=",".join(ids)) if a.get("Id") in ids]
    if names:
        found += [
            a for a in stax.list_accounts(account_names=",".join(names)) if a.get("Name") in names
        ]
    # Not narrowed to one account: a name two Stax accounts share must stay ambiguous in
    # an account's plan as in the whole plan (the named reads are bounded by the file).
    for account in found:
        key = str(account["Id"])
        if key not in state.accounts:
            state.accounts[key] = _account_record(account, None)


def read_workloads(
    stax: Any,
    state: StaxState,
    catalogue_ids: Iterable[str],
    account_id: str | None = None,
    cache: PlanCache | None = None,
) -> None:
    """Every live workload of the catalogues (of ``account_id`` alone, if given): listed,
    paged, then read by id with its tags -- unless ``cache`` holds a snapshot the listing
    shows is still true (``plan_cache``)."""
    only = {"account_ids": account_id} if account_id else {}
    for catalogue_id in sorted(set(catalogue_ids)):
        listed = [
            w
            for w in stax.list_workloads(catalogue_ids=catalogue_id, **only)
            if w.get("CatalogueId") == catalogue_id
            and is_live(w)
            # A listed AccountId of another account: the filter was ignored (a null one is
            # decided by the full read below).
            and (not account_id or str(w.get("AccountId") or account_id).lower() == account_id)
        ]
        known = cache.load(catalogue_id) if cache else {}
        fresh: list[Snapshot] = []
        for summary in listed:
            snapshot = known.get(str(summary["Id"]))
            if snapshot is not None and snapshot.describes(summary, _workload_record):
                state.workloads[snapshot.workload_id] = dict(snapshot.record)
                state.cached.add(snapshot.workload_id)
                continue
            record = read_one(stax, state, str(summary["Id"]), account_id)
            if cache and record and BASELINE_TAG in record[1]["Tags"]:
                taken = Snapshot.of(record[0], record[1], cache.now())
                fresh += [taken] if taken else []
        if cache:
            cache.store(catalogue_id, fresh)


def read_one(
    stax: Any, state: StaxState, workload_id: str, account_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Read one workload by id into ``state`` (gone or of another account: out of it);
    the workload and its record."""
    state.cached.discard(workload_id)
    workload = _full_workload(stax, workload_id)
    if workload is None or (
        account_id and str(workload.get("AccountId") or "").lower() != account_id
    ):
        state.workloads.pop(workload_id, None)
        return None
    record = _workload_record(workload)
    state.workloads[str(workload["Id"])] = record
    return workload, record
