"""The baselines planner: what each target needs so that Stax matches the file.

Role: ``plan`` of ``stax-orchestrator plan|apply``. :func:`compute_plan` reads Stax
(:mod:`chalicelib.baselines.stax_state`), resolves what the file names (catalogue items,
versions, account types, accounts; an unknown one is an :class:`InvalidBaselines` on its
line), expands each baseline to its targets (accounts x regions), builds each target's
create request and judges it with the workload rules of a single operation, and
compares it with the workload the baseline owns there (the one carrying the baseline
tag with the target's name, account and region):

* none -> ``create``;
* ``CREATE_FAILED`` -> ``replace`` (a failed create cannot be updated: delete, then
  create again); ``UPDATE_FAILED`` / ``DELETE_FAILED`` -> ``update`` re-sending version,
  parameters and tags (a repair); an operation in progress -> ``wait``;
* settled -> ``update`` naming each difference (version, parameter X, tag Y) or ``noop``;
* a workload carrying the baseline's tag that no target matches -> ``delete`` with
  ``prune``, else ``orphan`` (kept).

Only the parameters and tags the file sets are compared: Stax may add defaults, and
other tools may add tags. A workload that already holds a target's name without the
baseline tag stops the plan (:class:`BaselineConflict`): taking it over silently could
rewrite someone else's workload.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.baselines.errors import BaselineConflict
from chalicelib.baselines.model import (
    BASELINE_TAG,
    Baseline,
    Baselines,
    Collector,
    create_request,
    is_uuid,
    report_request_problems,
)
from chalicelib.baselines.plan_cache import PlanCache
from chalicelib.baselines.source import join
from chalicelib.baselines.stax_state import (
    StaxState,
    read_account_types,
    read_accounts_of_types,
    read_catalogue,
    read_named_accounts,
    read_one,
    read_workloads,
    value_digest,
)
from chalicelib.errors import InvalidWorkloadRequest
from chalicelib.secrets import Secrets, is_reference, no_secrets, resolved
from chalicelib.validation import load_workload_request
from chalicelib.validation.limits import RESERVED_TAG_KEY_PREFIXES

#: Actions that change Stax (or wait for it); a plan with any of them exits 2.
CHANGE_ACTIONS = ("create", "update", "replace", "delete", "wait")
#: ``skip``: an account Stax lists as not writable; ``protected``: a workload Stax protects
#: (or does not say), which a baseline never deletes or replaces.
ACTIONS = (*CHANGE_ACTIONS, "orphan", "noop", "skip", "protected")
#: Account statuses with no account to write to (the Stax document's ``Account.Status``).
UNWRITABLE_ACCOUNT_STATUSES = frozenset({"SUSPENDED", "CLOSED", "OFFBOARDED", "INACTIVE", "NOAWS"})
#: 2: workloads' parameter values as digests (a format-1 plan held them in clear).
PLAN_FORMAT = 2
#: An update that keeps the workload's other parameters: the update Lambda reads them from
#: Stax when it sends the update, so the plan never carries them.
MERGE = {"parameters_mode": "merge"}
_IN_PROGRESS = frozenset({"NEW", "INITIALIZING", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"})
_REPAIR_BY_UPDATE = frozenset({"UPDATE_FAILED", "DELETE_FAILED"})


def read_state(
    stax: Any,
    baselines: Baselines,
    account_id: str | None = None,
    cache: PlanCache | None = None,
) -> tuple[StaxState, Collector]:
    """Read what the file depends on; unknown names become problems (with lines).

    ``account_id``: read only that account and its workloads (an account event's plan),
    so the calls do not grow with the organisation: Stax's own filters (``id_filter`` on
    ReadAccounts, ``account_ids`` on ReadWorkloads), each answer checked again here.
    ``cache``: the stage's plan cache (``plan_cache``), so unchanged workloads are not
    read by id."""
    state = StaxState()
    problems = Collector(baselines.lines, baselines.name)
    read_catalogue(stax, state)
    wanted_types = [t for b in baselines.baselines for t in b.account_types]
    if wanted_types:
        read_account_types(stax, state)
    type_ids: list[str] = []
    for baseline in baselines.baselines:
        for index, ref in enumerate(baseline.account_types):
            found = _account_type(state, ref)
            if found is None:
                known = ", ".join(sorted(str(t["Name"]) for t in state.account_types.values()))
                problems.add(
                    join(join(join(baseline.path, "targets"), "account_types"), index),
                    f"Stax has no account type {ref!r} (name or id); it has: {known or 'none'}",
                )
            else:
                type_ids.append(found)
    read_accounts_of_types(stax, state, type_ids, account_id)
    named = [a for b in baselines.baselines for a in b.accounts]
    if named:
        read_named_accounts(stax, state, named, is_uuid)
    catalogue_ids = []
    for baseline in baselines.baselines:
        item = _catalogue_item(state, baseline, problems)
        if item is not None:
            catalogue_ids.append(str(item["Id"]))
    read_workloads(stax, state, catalogue_ids, account_id, cache)
    return state, problems


def _account_type(state: StaxState, ref: str) -> str | None:
    if ref in state.account_types:
        return ref
    matches = [i for i, t in state.account_types.items() if t.get("Name") == ref]
    return matches[0] if len(matches) == 1 else None


def _catalogue_item(
    state: StaxState, baseline: Baseline, problems: Collector
) -> dict[str, Any] | None:
    ref = baseline.catalogue
    if ref.lower() in state.catalogue:
        return state.catalogue[ref.lower()]
    named = [i for i in state.catalogue.values() if i.get("Name") == ref]
    if len(named) == 1:
        return named[0]
    where = join(baseline.path, "catalogue")
    if named:
        problems.add(where, f"{len(named)} catalogue items are named {ref!r}: give its id")
    else:
        known = ", ".join(sorted(str(i.get("Name")) for i in state.catalogue.values()))
        problems.add(where, f"Stax has no catalogue item {ref!r} (name or id); it has: {known}")
    return None


def _version(item: Mapping[str, Any], baseline: Baseline, problems: Collector) -> dict | None:
    versions: list[Mapping[str, Any]] = [
        v for v in item.get("Versions") or [] if isinstance(v, Mapping)
    ]
    ref = baseline.version
    where = join(baseline.path, "version")
    if ref == "latest":
        active = [v for v in versions if v.get("Status") == "ACTIVE"]
        if not active:
            problems.add(where, f"catalogue item {item.get('Name')!r} has no ACTIVE version")
            return None
        # The newest by CreatedTS; equal times (versions seeded together) go by the
        # order Stax lists them in (oldest first).
        newest = max(
            enumerate(active), key=lambda pair: (str(pair[1].get("CreatedTS") or ""), pair[0])
        )
        return dict(newest[1])
    found = [v for v in versions if str(v.get("Id")).lower() == ref.lower()] or [
        v for v in versions if v.get("WorkloadVersion") == ref
    ]
    if len(found) != 1:
        names = ", ".join(str(v.get("WorkloadVersion")) for v in versions)
        problems.add(
            where,
            f"catalogue item {item.get('Name')!r} has no version {ref!r} (id or name); "
            f"it has: {names}, or use latest",
        )
        return None
    if found[0].get("Status") != "ACTIVE":
        problems.add(where, f"version {ref!r} is {found[0].get('Status')}, not ACTIVE")
    return dict(found[0])


def _targets(
    state: StaxState, baseline: Baseline, problems: Collector
) -> tuple[list[tuple[dict[str, Any], str, str | None]], list[tuple[dict[str, Any], str, str]]]:
    """``(account, account id, type name)`` of every ACTIVE account the baseline targets,
    and ``(account, account id, why)`` of each one it targets but must not write to."""
    chosen: dict[str, tuple[dict[str, Any], str | None]] = {}
    type_ids = {_account_type(state, ref) for ref in baseline.account_types} - {None}
    for account_id, account in state.accounts.items():
        if account.get("type_id") in type_ids:
            chosen[account_id] = (account, state.account_types[account["type_id"]].get("Name"))
    for index, ref in enumerate(baseline.accounts):
        where = join(join(join(baseline.path, "targets"), "accounts"), index)
        matches = [
            (i, a) for i, a in state.accounts.items() if i == ref.lower() or a.get("Name") == ref
        ]
        if len(matches) != 1:
            problems.add(
                where,
                f"{len(matches)} Stax accounts are named {ref!r}: give its id"
                if matches
                else f"Stax has no account {ref!r} (name or id)",
            )
            continue
        account_id, account = matches[0]
        type_id = account.get("type_id")
        type_name = state.account_types.get(type_id, {}).get("Name") if type_id else None
        chosen.setdefault(account_id, (account, type_name))
    active, skipped = [], []
    for account_id, (account, type_name) in sorted(chosen.items()):
        status = account.get("Status")
        if status == "ACTIVE":
            active.append((account, account_id, type_name))
        elif status in UNWRITABLE_ACCOUNT_STATUSES:
            skipped.append((account, account_id, f"account {status}: never written to"))
        elif status is None:
            skipped.append((account, account_id, "account status unknown (Stax answered "
                            "null): not written to; plan again"))  # fmt: skip
        else:
            skipped.append((account, account_id, f"account {status}: not ready; plan again"))
    return active, skipped


def _protection(workload: Mapping[str, Any]) -> str | None:
    """Why a baseline may not delete or replace ``workload`` (None: it may)."""
    protection = workload.get("Protection")
    if protection is None:
        return "protection unknown (Stax answered null): kept; plan again"
    return (
        "protected in Stax: kept (a baseline never deletes or replaces it)" if protection else None
    )


def _user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Tags a request may carry (the orchestrator's own reserved ones left out)."""
    return {k: v for k, v in tags.items() if not k.startswith(tuple(RESERVED_TAG_KEY_PREFIXES))}


def _version_label(item: Mapping[str, Any], version_id: str | None) -> str:
    for version in item.get("Versions") or []:
        if version.get("Id") == version_id:
            return f"{version.get('WorkloadVersion')} ({version_id})"
    return str(version_id)


def _diff(
    workload_id: str,
    desired: Mapping[str, Any],
    workload: Mapping[str, Any],
    item: Mapping[str, Any],
    secrets: Secrets,
) -> tuple[list[str], dict[str, Any]]:
    """Reasons and the update request's changed fields (empty: nothing differs). A value
    held in SSM is read (``secrets``) only to compare digests; the request keeps its
    reference."""
    reasons: list[str] = []
    changed: dict[str, Any] = {}
    version = desired.get("catalogue_version_id")
    if version and workload.get("CatalogueVersionId") != version:
        reasons.append(
            f"version {_version_label(item, workload.get('CatalogueVersionId'))} -> "
            f"{_version_label(item, version)}"
        )
        changed["catalogue_version_id"] = version
    current = workload.get("Parameters") or {}  # digests (stax_state.value_digest)
    wanted = resolved(desired["workload_parameters"], secrets)
    params = [k for k, v in wanted.items() if current.get(k) != value_digest(workload_id, k, v)]
    if params:
        reasons += [
            f"parameter {k} -> {shown(k, desired['workload_parameters'][k])}" for k in params
        ]
        changed.update(MERGE, workload_parameters=dict(desired["workload_parameters"]))
    tags = workload.get("Tags") or {}
    tag_keys = [k for k, v in desired["workload_tags"].items() if tags.get(k) != v]
    if tag_keys:
        reasons += [
            f"tag {k}: {_tag_value(tags.get(k))} -> {desired['workload_tags'][k]}" for k in tag_keys
        ]
        changed["workload_tags"] = {**_user_tags(tags), **desired["workload_tags"]}
    return reasons, changed


def _full_update(desired: Mapping[str, Any], workload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "catalogue_version_id": desired.get("catalogue_version_id"),
        **MERGE,
        "workload_parameters": dict(desired["workload_parameters"]),
        "workload_tags": {**_user_tags(workload.get("Tags") or {}), **desired["workload_tags"]},
    }


#: Parameter names whose values a plan never shows (Terraform's ``(sensitive)``).
SENSITIVE_NAME = re.compile(r"password|secret|token|key|credential|private", re.IGNORECASE)
SENSITIVE = "(sensitive)"


def shown(name: str, value: Any) -> str:
    """A parameter's value as a plan shows it: ``(sensitive)`` for a value held in SSM
    (``secret: true``) or a name that looks like a secret's. The value Stax holds is never
    shown (the plan keeps only its digest)."""
    return SENSITIVE if is_reference(value) or SENSITIVE_NAME.search(name) else str(value)


def _tag_value(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _change(baseline: Baseline, action: str, **fields: Any) -> dict[str, Any]:
    return {"baseline": baseline.name, "action": action, **fields}


def _update_request(workload_id: str, changed: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "operation": "update",
        "workload_id": workload_id,
        **{k: v for k, v in changed.items() if v is not None},
    }


def _existing(
    workload_id: str,
    workload: Mapping[str, Any],
    desired: Mapping[str, Any],
    item: Mapping[str, Any],
    secrets: Secrets,
) -> tuple[str, list[str], list[dict[str, Any]]]:
    """The action, reasons and requests for a target whose workload exists."""
    status = str(workload.get("Status"))
    if status in _IN_PROGRESS:
        return "wait", [f"{status}: in progress; plan again when it ends"], []
    if status == "CREATE_FAILED":
        kept = _protection(workload)
        if kept:
            return "protected", ["repair: CREATE_FAILED needs a replace", kept], []
        delete = {"operation": "delete", "workload_id": workload_id}
        return (
            "replace",
            ["repair: CREATE_FAILED (a failed create cannot be updated: delete, create again)"],
            [delete, dict(desired)],
        )
    if status in _REPAIR_BY_UPDATE:
        changed = _full_update(desired, workload)
        return (
            "update",
            [f"repair: {status}; the update re-sends version, parameters and tags"],
            [_update_request(workload_id, changed)],
        )
    reasons, changed = _diff(workload_id, desired, workload, item, secrets)
    if not reasons:
        return "noop", [], []
    return "update", reasons, [_update_request(workload_id, changed)]


def _orphans(
    baseline: Baseline,
    state: StaxState,
    owned: Mapping[str, Mapping[str, Any]],
    matched: set[str],
    *,
    prune: bool,
) -> list[dict[str, Any]]:
    """The baseline's workloads that no target matched: kept, or with ``prune`` deleted
    (never a protected one, nor one in progress)."""
    changes: list[dict[str, Any]] = []
    for workload_id, workload in sorted(owned.items()):
        if workload_id in matched:
            continue
        where = {
            "account_id": workload.get("AccountId"),
            "account_name": state.accounts.get(str(workload.get("AccountId")), {}).get("Name"),
            "region": workload.get("Region"),
            "workload_name": workload.get("Name"),
            "workload_id": workload_id,
            "status": workload.get("Status"),
        }
        if not prune:
            changes.append(
                _change(
                    baseline,
                    "orphan",
                    **where,
                    reasons=["matches no target; kept (--prune deletes it)"],
                    requests=[],
                )
            )
        elif _protection(workload):
            changes.append(
                _change(baseline, "protected", **where,
                        reasons=["orphan", str(_protection(workload))], requests=[])
            )  # fmt: skip
        elif workload.get("Status") in _IN_PROGRESS:
            changes.append(
                _change(
                    baseline,
                    "wait",
                    **where,
                    reasons=[f"orphan, {workload.get('Status')}: plan again"],
                    requests=[],
                )
            )
        else:
            changes.append(
                _change(
                    baseline,
                    "delete",
                    **where,
                    reasons=["orphan: matches no target (--prune)"],
                    requests=[{"operation": "delete", "workload_id": workload_id}],
                )
            )
    return changes


def plan_baseline(
    baseline: Baseline,
    state: StaxState,
    problems: Collector,
    *,
    prune: bool,
    secrets: Secrets = no_secrets,
) -> list[dict[str, Any]]:
    """The changes of one baseline (problems are collected, not raised)."""
    item = _catalogue_item(state, baseline, problems)
    version = _version(item, baseline, problems) if item else None
    targets, skipped = _targets(state, baseline, problems)
    if item is None or version is None:
        return []
    owned = {
        i: w
        for i, w in state.workloads.items()
        if (w.get("Tags") or {}).get(BASELINE_TAG) == baseline.name
    }
    # Every workload by where it is and its name: one look-up per target, not a scan.
    placed: dict[tuple[Any, Any, Any], list[str]] = defaultdict(list)
    for i, w in state.workloads.items():
        placed[(w.get("AccountId"), w.get("Region"), w.get("Name"))].append(i)
    changes: list[dict[str, Any]] = []
    conflicts: list[str] = []
    matched: set[str] = set()
    for account, account_id, why in skipped:
        changes.append(_change(baseline, "skip", account_id=account_id,
                               account_name=account.get("Name"), region=None,
                               workload_name=None, reasons=[why], requests=[]))  # fmt: skip
        # Its workloads are neither targets nor orphans: nothing in it is touched.
        matched |= {i for i, w in owned.items() if w.get("AccountId") == account_id}
    for account, account_id, type_name in targets:
        type_refs = (type_name, account.get("type_id"))
        for region in baseline.regions:
            layers = baseline.layers(
                region=region,
                account_type=next(
                    (t for t in type_refs if t in baseline.overrides.get("account_types", {})), None
                ),
                account=(str(account.get("Name")), account_id),
            )
            request, origin = create_request(
                baseline,
                layers,
                account_id=account_id,
                region=region,
                catalogue_id=str(item["Id"]),
                version_id=str(version["Id"]),
                name_values={
                    "account": str(account.get("Name")),
                    "account_short": account_id.split("-", 1)[0],
                    "account_type": str(type_name or ""),
                },
            )
            context = f" (account {account.get('Name')}, region {region})"
            try:
                desired = load_workload_request(request)
            except InvalidWorkloadRequest as error:
                report_request_problems(error, origin, problems, context)
                continue
            where = {
                "account_id": account_id,
                "account_name": account.get("Name"),
                "region": region,
                "workload_name": desired["workload_name"],
            }
            here = placed.get((account_id, region, desired["workload_name"]), [])
            mine = [(i, owned[i]) for i in here if i in owned]
            if not mine:
                taken = [i for i in here if i not in owned]
                if taken:
                    conflicts.append(f"{desired['workload_name']} ({taken[0]}){context}")
                    continue
                changes.append(
                    _change(baseline, "create", **where, reasons=["missing"], requests=[desired])
                )
                continue
            workload_id, workload = sorted(mine)[0]
            matched.add(workload_id)
            action, reasons, requests = _existing(workload_id, workload, desired, item, secrets)
            changes.append(
                _change(
                    baseline,
                    action,
                    **where,
                    workload_id=workload_id,
                    status=workload.get("Status"),
                    reasons=reasons,
                    requests=requests,
                )
            )
    changes += _orphans(baseline, state, owned, matched, prune=prune)
    if conflicts:
        raise BaselineConflict(
            f"Baseline {baseline.name!r}: {len(conflicts)} workload(s) hold a target's name "
            f"without the tag {BASELINE_TAG}={baseline.name}",
            workloads=conflicts[:20],
        )
    return changes


def totals(changes: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(ACTIONS, 0)
    for change in changes:
        counts[change["action"]] += 1
    return counts


def has_changes(plan: Mapping[str, Any]) -> bool:
    return any(plan["totals"].get(a) for a in CHANGE_ACTIONS)


def compute_plan(
    stax: Any,
    baselines: Baselines,
    *,
    prune: bool,
    secrets: Secrets = no_secrets,
    account_id: str | None = None,
    cache: PlanCache | None = None,
) -> dict[str, Any]:
    """Read Stax and plan every baseline (``secrets`` reads the values a file keeps in SSM,
    to compare them with Stax's by digest; ``account_id``: that account alone, as
    :func:`read_state`; ``cache``: the stage's plan cache, whose records are read again
    by id wherever the plan would not be a no-op).

    Raises:
        InvalidBaselines: the file names what Stax does not have, or a target's request
            breaks the workload rules (each problem on its line).
        BaselineConflict: a workload holds a target's name without the baseline tag.
        StaxApiUnavailable, StaxAuthenticationFailed: reading Stax failed.
        WorkloadParameterUnavailable: a value the file keeps in SSM cannot be read.
    """
    state, read_problems = read_state(stax, baselines, account_id, cache)
    while True:
        problems = copy.deepcopy(read_problems)
        try:
            changes = [
                change
                for baseline in baselines.baselines
                for change in plan_baseline(baseline, state, problems, prune=prune, secrets=secrets)
            ]
        except BaselineConflict:
            if not state.cached:
                raise
            suspects = set(state.cached)  # rare: read them all rather than guess which
        else:
            # Only what Stax says now may lead to a write: a cached workload the plan would
            # not leave alone (a change, an orphan, a protected one) is read by id, and
            # the plan made again.
            suspects = {
                str(c["workload_id"])
                for c in changes
                if c["action"] not in ("noop", "skip") and c.get("workload_id") in state.cached
            }
        if not suspects:
            break
        for workload_id in sorted(suspects):
            read_one(stax, state, workload_id, account_id)
    problems.raise_if_any()
    records = state.records()
    return {
        "format": PLAN_FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "prune": prune,
        "source": baselines.source,
        "source_name": baselines.name,
        "changes": changes,
        "totals": totals(changes),
        "state": records,
        "fingerprint": state.fingerprint(),
        "baselines": {
            b.name: {
                "max_concurrency": b.max_concurrency,
                "failure_tolerance": b.failure_tolerance,
                "max_deletes": b.max_deletes,
                "depends_on": b.depends_on,
                # Its fleets' brakes (chalicelib.baselines.brakes), and its region order.
                **b.brakes,
                "regions": b.regions,
                # The budget's base: the account-region pairs it writes to.
                "targets": len(_targets(state, b, Collector({}, "budget"))[0]) * len(b.regions),
            }
            for b in baselines.baselines
        },
    }
