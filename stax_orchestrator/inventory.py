"""``stax-orchestrator workloads``: the Stax workloads the orchestrator manages, from Stax.

Role: an inventory. Stax is read with its own filters (``ReadWorkloads``: ``account_ids``
or ``account_names``, ``catalogue_ids`` or ``catalogue_names``, ``filter`` for statuses),
paged, and each answer is checked again here (an installation that ignored a filter must
not widen the list); the region has no Stax filter and is matched here. Which of them the
orchestrator manages, under which baseline and who wrote each last comes from the stage's
coordination table, read in batches of 100 keys (``BatchGetItem``), never one workload at
a time and never from Stax's tags (lists carry none):

- ``name#<workload name>`` / ``claim``: the create that holds the name, the workload it
  made, and the baseline it was made for (recorded by creates since this inventory; older
  ones show no baseline);
- ``workload#<id>`` / ``written``: the last update or delete Stax accepted.

A workload is *managed* when a name claim of the orchestrator names its id, or an update
or delete of the orchestrator wrote it. ``--all`` lists the others too.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from stax_orchestrator.console import EXIT_OK, Output, literal
from stax_orchestrator.context import AwsContext

COLUMNS = ("workload_name", "account", "region", "catalogue", "status", "baseline",
           "last_written_by")  # fmt: skip


def _is_uuid(text: str) -> bool:
    from chalicelib.validation.limits import UUID_PATTERN

    return UUID_PATTERN.fullmatch(text) is not None


def stax_filters(args: argparse.Namespace) -> dict[str, str]:
    """The ReadWorkloads filters of the options (Stax filters what it can)."""
    filters: dict[str, str] = {}
    if args.account:
        filters["account_ids" if _is_uuid(args.account) else "account_names"] = args.account
    if args.catalogue:
        key = "catalogue_ids" if _is_uuid(args.catalogue) else "catalogue_names"
        filters[key] = args.catalogue
    if args.status:
        filters["filter"] = args.status.upper()
    return filters


def _matches(workload: Mapping[str, Any], args: argparse.Namespace, names: Mapping) -> bool:
    """Each filter checked again on Stax's answer (null fields: not a match)."""
    from chalicelib.stax import is_live

    if args.status:
        if str(workload.get("Status") or "").upper() != args.status.upper():
            return False
    elif not is_live(workload):
        return False  # DELETED ones only when asked for by --status
    if args.region and workload.get("Region") != args.region:
        return False
    if args.account:
        account = str(workload.get("AccountId") or "")
        wanted = args.account.lower()
        if wanted not in (account.lower(), str(names["accounts"].get(account, "")).lower()):
            return False
    if args.catalogue:
        item = str(workload.get("CatalogueId") or "")
        if args.catalogue.lower() not in (
            item.lower(),
            str(names["catalogue"].get(item, "")).lower(),
        ):
            return False
    return True


def inventory(
    workloads: Iterable[Mapping[str, Any]],
    records: Mapping[tuple[str, str], Mapping[str, Any]],
    names: Mapping[str, Mapping[str, str]],
    *,
    everything: bool = False,
    baseline: str | None = None,
) -> list[dict[str, Any]]:
    """The rows: each workload with what the coordination table says of it."""
    rows = []
    for workload in workloads:
        workload_id, name = str(workload.get("Id")), str(workload.get("Name") or "")
        claim = records.get((f"name#{name}", "claim")) or {}
        created = claim if claim.get("workload_id") == workload_id else {}
        written = records.get((f"workload#{workload_id}", "written")) or {}
        managed = bool(created or written)
        if not managed and not everything:
            continue
        if baseline is not None and created.get("baseline") != baseline:
            continue
        newest = max((r for r in (created, written) if r), default={},
                     key=lambda r: float(r.get("since") or 0))  # fmt: skip
        account = str(workload.get("AccountId") or "")
        catalogue = str(workload.get("CatalogueId") or "")
        rows.append({
            "workload_name": name or None,
            "workload_id": workload_id,
            "account_id": account or None,
            "account": names["accounts"].get(account) or account or None,
            "region": workload.get("Region"),
            "catalogue_id": catalogue or None,
            "catalogue": names["catalogue"].get(catalogue) or catalogue or None,
            "catalogue_version_id": workload.get("CatalogueVersionId"),
            "status": workload.get("Status"),
            "managed": managed,
            "baseline": created.get("baseline"),
            "created_by": created.get("owner"),
            "last_written_by": newest.get("owner"),
            "last_operation": newest.get("operation") or ("create" if newest else None),
        })  # fmt: skip
    return rows


def _execution_name(owner: str | None) -> str | None:
    """An execution ARN's name (anything else as it is)."""
    if owner and owner.startswith("arn:") and ":execution:" in owner:
        return owner.rsplit(":", 1)[-1]
    return owner


def record_keys(workloads: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    from chalicelib.coordination import WRITTEN_SORT_KEY

    keys: list[tuple[str, str]] = []
    for workload in workloads:
        if workload.get("Name"):
            keys.append((f"name#{workload['Name']}", "claim"))
        keys.append((f"workload#{workload.get('Id')}", WRITTEN_SORT_KEY))
    return keys


def cmd_workloads(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    from chalicelib.coordination import CoordinationStore

    client = context.client("dynamodb")
    store = CoordinationStore(lambda: client, context.results_table())
    with context.stax_access().session() as stax:
        names = {
            "accounts": {str(a["Id"]): str(a.get("Name") or "") for a in stax.list_accounts()},
            "catalogue": {str(c["Id"]): str(c.get("Name") or "") for c in stax.list_catalogue()},
        }
        listed = [w for w in stax.list_workloads(**stax_filters(args)) if _matches(w, args, names)]
    records = store.get_items(record_keys(listed))
    rows = inventory(listed, records, names, everything=args.all, baseline=args.baseline)
    if out.as_json:
        out.json(rows)
        return EXIT_OK
    from rich.table import Table

    title = "Stax workloads" if args.all else "Stax workloads the orchestrator manages"
    table = Table(title=f"{title} (stage {context.stage})")
    for column in COLUMNS:
        table.add_column(column.replace("_", " "))
    for row in rows:
        # The execution's name in the table (its ARN in --output json/yaml/text).
        shown = {**row, "last_written_by": _execution_name(row["last_written_by"])}
        table.add_row(*(literal(str(shown[c])) if shown[c] is not None else "-" for c in COLUMNS))
    out.console.print(table)
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``workloads`` to the commands."""
    parser = sub.add_parser(
        "workloads",
        parents=[common],
        help="the Stax workloads the orchestrator manages (--all: every workload)",
    )
    parser.add_argument("--account", help="only this Stax account (id or name)")
    parser.add_argument("--region", help="only workloads in this AWS region")
    parser.add_argument("--baseline", help="only workloads created for this baseline")
    parser.add_argument("--catalogue", help="only workloads of this catalogue item (id or name)")
    parser.add_argument(
        "--status", help="only workloads with this Stax status (e.g. ACTIVE, DELETED)"
    )
    parser.add_argument(
        "--all", action="store_true", help="every workload Stax lists, managed or not"
    )
    parser.set_defaults(handler=cmd_workloads)
