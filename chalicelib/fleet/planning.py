"""Fleet planning: a validated fleet request becomes a plan in S3, one line per target.

Role: the plan_fleet Lambda's use case. It takes a fleet request validated by
``chalicelib.validation`` (every target checked up front, all errors at once; a target
list too big for the execution's input is read from S3 first, ``targets_location``),
finds the workloads of a rollout (``ReadWorkloads(catalogue_ids=...)``, paged), marks
targets already done (a re-run after a partial failure skips them; they are recorded as
``ALREADY_DONE`` results at once), and writes the rest as JSON Lines to the stage's fleet
bucket, where the fleet machine's Distributed Map reads them. What it returns is small and
the same size whatever the number of targets.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from chalicelib.accounts import resolve_account_ids
from chalicelib.coordination import CoordinationStore
from chalicelib.errors import (
    AwsAccountAmbiguous,
    AwsAccountNotFound,
    FleetPlanChanged,
    InvalidFleetRequest,
)
from chalicelib.fleet.results import ALREADY_DONE, RESULT_DAYS, put_results, result_item
from chalicelib.fleet.stages import first_stage
from chalicelib.logs import log_event
from chalicelib.stax import StaxAccess, is_live
from chalicelib.validation import (
    MAX_TARGETS,
    MAX_TARGETS_FILE_BYTES,
    TOLERANCE_PATTERN,
    format_of,
    parse_targets,
    validate_fleet_request,
)
from chalicelib.validation.stages import stage_ends

#: Workloads a rollout updates: the live ones, and those whose last update failed.
ROLLOUT_STATUSES = frozenset({"ACTIVE", "UPDATE_COMPLETE", "UPDATE_FAILED", "NEW", "INITIALIZING"})
#: A create target whose workload is in one of these is done. A workload whose create
#: failed (or that is being created or deleted) is not: its target runs, and the create
#: refuses by name while that workload holds the name.
CREATED_STATUSES = frozenset({"ACTIVE", "UPDATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_FAILED"})
#: A workload on the rollout's version in one of these needs nothing more.
SETTLED_STATUSES = frozenset({"ACTIVE", "UPDATE_COMPLETE"})
#: Where plans live in the fleet bucket (expired by the bucket's lifecycle rule).
PLAN_PREFIX = "plans/"
#: Where the fleet machine's ResultWriter exports each fleet's child records (expired too).
RESULTS_PREFIX = "results/"
#: Workload executions are named ``<prefix>-<index>-r<redrive count>``: at most 80 characters.
CHILD_PREFIX_CHARS = 60
#: Request fields that say which target a result is about.
TARGET_KEYS = ("workload_name", "aws_account_id", "aws_region", "workload_id")


def tolerated_failures(tolerance: Any, runnable: int) -> int:
    """How many targets may fail: a count, or a percentage of the targets that run."""
    if isinstance(tolerance, int):
        return tolerance
    match = TOLERANCE_PATTERN.match(str(tolerance))
    assert match is not None  # validated before
    # Exact arithmetic: 29% of 100 is 29, not 28.999... floored to 28.
    return math.floor(Fraction(match.group(1)) * runnable / 100)


def target_of(request: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The target a (merged) workload request is for, plus what only the plan knew."""
    return {**{k: request[k] for k in TARGET_KEYS if request.get(k)}, **(extra or {})}


def _done(item: Mapping[str, Any], detail: str, workload_id: str | None) -> dict[str, Any]:
    return {
        "index": item["index"],
        "target": item["target"],
        "status": ALREADY_DONE,
        "workload_id": workload_id,
        "detail": detail,
    }


def _plan_create(
    fleet: Mapping[str, Any], stax: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Targets whose workload already lives (same name, same catalogue) are done already."""
    catalogue_id = fleet["targets"][0]["request"]["catalogue_id"] if fleet["targets"] else None
    live = (
        {w.get("Name"): w for w in stax.list_workloads(catalogue_ids=catalogue_id) if is_live(w)}
        if catalogue_id
        else {}
    )
    runnable, done = [], []
    for item in _with_stax_accounts(fleet["targets"], stax):
        existing = live.get(item["target"]["workload_name"])
        if (
            existing
            and existing.get("AccountId") == item["request"]["aws_account_id"]
            and existing.get("Region") == item["target"]["aws_region"]
            and existing.get("Status") in CREATED_STATUSES
        ):
            done.append(
                _done(item, f"workload exists ({existing.get('Status')})", existing.get("Id"))
            )
        else:
            runnable.append(item)
    return runnable, done


#: How many targets a refusal names one by one (the count says how many there are).
_NAMED_TARGETS = 20


def _with_stax_accounts(targets: list[dict[str, Any]], stax: Any) -> list[dict[str, Any]]:
    """The targets with each request's account as a Stax id: numbers resolved in one go
    (a handful of ReadAccounts calls for any fleet), so the done check compares ids and no
    workload execution resolves again. A target keeps the account as it was given.

    Raises:
        InvalidFleetRequest: a number no Stax account (or more than one) carries, naming
            the targets that use it; nothing has run.
    """
    refs = {t["request"]["aws_account_id"] for t in targets}
    try:
        ids = resolve_account_ids(stax, refs)
    except (AwsAccountNotFound, AwsAccountAmbiguous) as error:
        bad = set(error.details.get("aws_account_ids") or [error.details.get("aws_account_id")])
        using = [t for t in targets if t["request"]["aws_account_id"] in bad]
        errors = {
            f"targets[{t['index']}].aws_account_id": [f"{error.message}. {error.hint}"]
            for t in using[:_NAMED_TARGETS]
        }
        raise InvalidFleetRequest(
            f"{len(using)} target(s) name an AWS account number Stax cannot resolve",
            errors=errors,
            targets_affected=len(using),
        ) from error
    return [
        {**t, "request": {**t["request"], "aws_account_id": ids[t["request"]["aws_account_id"]]}}
        for t in targets
    ]


def _plan_rollout(
    fleet: Mapping[str, Any], stax: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    accounts = set(fleet.get("accounts") or [])
    regions = set(fleet.get("regions") or [])
    runnable, done = [], []
    workloads = [
        w for w in stax.list_workloads(catalogue_ids=fleet["catalogue_id"])
        if w.get("Status") in ROLLOUT_STATUSES and w.get("CatalogueId") == fleet["catalogue_id"]
        and (not accounts or w.get("AccountId") in accounts)
        and (not regions or w.get("Region") in regions)
    ]  # fmt: skip
    if len(workloads) > MAX_TARGETS:
        raise InvalidFleetRequest(
            f"The rollout would update {len(workloads)} workloads; "
            f"at most {MAX_TARGETS} per request",
            errors={
                "catalogue_id": [f"narrow it with 'accounts' or 'regions' (at most {MAX_TARGETS})"]
            },
        )
    for index, workload in enumerate(
        sorted(
            workloads,
            key=lambda w: (w.get("AccountId", ""), w.get("Region", ""), w.get("Name", "")),
        )
    ):
        item = {
            "index": index,
            "target": {
                "workload_id": workload["Id"],
                "workload_name": workload.get("Name"),
                "aws_account_id": workload.get("AccountId"),
                "aws_region": workload.get("Region"),
            },
            "request": {
                "operation": "update",
                "workload_id": workload["Id"],
                "catalogue_version_id": fleet["catalogue_version_id"],
                **(
                    {"watch_timeout_seconds": fleet["watch_timeout_seconds"]}
                    if fleet.get("watch_timeout_seconds")
                    else {}
                ),
            },
        }
        on_version = workload.get("CatalogueVersionId") == fleet["catalogue_version_id"]
        if on_version and workload.get("Status") in SETTLED_STATUSES:
            done.append(_done(item, "already on the version", workload["Id"]))
        else:
            runnable.append(item)
    return runnable, done


def _plan_delete(fleet: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    # A workload already deleted is adopted by the delete itself (success), so every
    # id runs; nothing to look up here.
    extra = (
        {"watch_timeout_seconds": fleet["watch_timeout_seconds"]}
        if fleet.get("watch_timeout_seconds")
        else {}
    )
    return [
        {
            "index": index,
            "target": {"workload_id": workload_id},
            "request": {"operation": "delete", "workload_id": workload_id, **extra},
        }
        for index, workload_id in enumerate(fleet["workload_ids"])
    ], []


def load_targets(fleet: Mapping[str, Any], read_object: Callable[[str, str], str]) -> dict:
    """A create fleet whose targets live in S3 (``targets_location``), with them read in
    and the whole request validated again; any other fleet as it is.

    Raises:
        InvalidFleetRequest: the file cannot be read or parsed, or a target is invalid.
    """
    location = fleet.get("targets_location")
    if not location:
        return dict(fleet)
    bucket, _, key = str(location)[len("s3://") :].partition("/")
    try:
        text = read_object(bucket, key)
    except Exception as error:  # any S3 failure is the caller's to fix
        raise InvalidFleetRequest(
            f"The targets file {location} cannot be read ({type(error).__name__})",
            errors={"targets_location": ["put the file in the stage's fleet bucket, or check it"]},
        ) from None
    request = {k: v for k, v in fleet["request"].items() if k != "targets_location"}
    request["targets"] = parse_targets(text, format_of(key))
    # Not the execution input's limit: the targets came as a file.
    return validate_fleet_request(request, max_bytes=MAX_TARGETS_FILE_BYTES)


def _plan_apply(fleet: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    # The caller (a baseline's plan) decided each request from Stax a moment ago; a
    # re-run re-plans rather than re-sends, so nothing is looked up here. A create re-sent
    # is refused by name, an update or delete of a settled workload is adopted.
    return [
        {"index": item["index"], "target": target_of(item["request"]), "request": item["request"]}
        for item in fleet["targets"]
    ], []


def runnable_and_done(fleet: Mapping[str, Any], access: StaxAccess) -> tuple[list, list]:
    """The targets that will run and those already done (with why), as the plan Lambda
    decides them; ``fleet --dry-run`` shows them.

    Raises:
        InvalidFleetRequest, StaxAuthenticationFailed, StaxApiUnavailable,
        StaxCredentialsMissing: as :func:`plan`.
    """
    if fleet["operation"] == "delete":
        return _plan_delete(fleet)
    if fleet["operation"] == "apply":
        return _plan_apply(fleet)
    with access.session() as stax:
        planner = _plan_create if fleet["operation"] == "create" else _plan_rollout
        return planner(fleet, stax)


def child_prefix(fleet_id: str) -> str:
    """The start of the fleet's workload execution names (AWS allows 80 characters)."""
    return fleet_id[:CHILD_PREFIX_CHARS]


def _write_pinned(
    write_object: Callable[[str, str, bytes], str | None], bucket: str, key: str, lines: list[str]
) -> str:
    """Write plan lines; the version written (the fleet machine reads that one only).

    Raises:
        FleetPlanChanged: the bucket keeps no versions.
    """
    version = write_object(bucket, key, ("\n".join(lines) + "\n").encode("utf-8"))
    if not version:
        raise FleetPlanChanged(
            f"s3://{bucket} keeps no object versions, so the plan {key} cannot be pinned: "
            "deploy the stage again (its bucket is versioned)", bucket=bucket, key=key,
        )  # fmt: skip
    return version


def _stages(
    fleet: Mapping[str, Any],
    fleet_id: str,
    lines: list[str],
    whole: tuple[str, str],
    write: Callable[[str, list[str]], str],
) -> list[dict[str, Any]]:
    """The fleet's canary stages, each a slice of the plan in plan order with its own plan
    object and results prefix (one stage: the plan itself)."""
    ends = stage_ends(fleet.get("stages") or ["100%"], len(lines))
    if len(ends) <= 1:
        return [{"index": 0, "count": len(lines), "key": whole[0], "version_id": whole[1],
                 "results_prefix": f"{RESULTS_PREFIX}{fleet_id}"}]  # fmt: skip
    stages, start = [], 0
    for index, end in enumerate(ends):
        part = f"{fleet_id}/stage-{index + 1}"
        stages.append({"index": index, "count": end - start, "key": f"{PLAN_PREFIX}{part}.jsonl",
                       "version_id": write(f"{PLAN_PREFIX}{part}.jsonl", lines[start:end]),
                       "results_prefix": f"{RESULTS_PREFIX}{part}"})  # fmt: skip
        start = end
    return stages


def plan(
    fleet: Mapping[str, Any],
    access: StaxAccess,
    store: CoordinationStore,
    write_object: Callable[[str, str, bytes], str | None],
    *,
    bucket: str,
    fleet_id: str | None = None,
) -> dict[str, Any]:
    """Plan a validated fleet (targets already read in, see :func:`load_targets`).

    Writes the runnable targets to ``s3://bucket/plans/<fleet id>.jsonl`` and records
    the targets already done; returns what the fleet machine needs (its size does not
    grow with the number of targets).

    Raises:
        InvalidFleetRequest: a rollout would update more than ``MAX_TARGETS`` workloads, or
            a create target names an AWS account number Stax cannot resolve.
        StaxAuthenticationFailed, StaxApiUnavailable, StaxCredentialsMissing: looking up
            the workloads of a create or rollout failed.
        CoordinationUnavailable: the results of done targets could not be recorded.
        FleetPlanChanged: the bucket gave the plan no version (it keeps none).
    """
    fleet_id = fleet_id or f"direct-{uuid.uuid4()}"
    runnable, done = runnable_and_done(fleet, access)
    prefix = child_prefix(fleet_id)
    lines = []
    for item in runnable:
        request = dict(item["request"])
        lines.append(
            json.dumps(
                {
                    "index": item["index"],
                    "execution_name": f"{prefix}-{item['index']}",
                    "target": target_of(request, item.get("target")),
                    "request": request,
                },
                separators=(",", ":"),
            )
        )
    key = f"{PLAN_PREFIX}{fleet_id}.jsonl"
    version = _write_pinned(write_object, bucket, key, lines)
    stages = _stages(fleet, fleet_id, lines, (key, version), lambda k, part: _write_pinned(
        write_object, bucket, k, part))  # fmt: skip
    put_results(store, fleet_id, [result_item(d) for d in done])
    summary = {
        "fleet_id": fleet_id,
        "operation": fleet["operation"],
        "bucket": bucket,
        "key": key,
        # The fleet machine runs this version of the plan and no other: it checks the
        # object's latest version is still this one (FleetPlanChanged), then reads this one.
        "version_id": version,
        "total": len(runnable) + len(done),
        "to_run": len(runnable),
        "already_done": len(done),
        "max_concurrency": fleet["max_concurrency"],
        "failure_tolerance": fleet["failure_tolerance"],
        "tolerated_failures": tolerated_failures(fleet["failure_tolerance"], len(runnable)),
        # The fleet machine marks each target started in the results table itself (a
        # DynamoDB PutItem before the target runs): where, and when the marks expire (a
        # string, as DynamoDB's N takes it).
        "table": store.table_name,
        "results_expire_at": str(int(time.time()) + RESULT_DAYS * 86_400),
        # The canary stages (chalicelib.fleet.stages): at most MAX_STAGES small objects,
        # each with the prefix where its Map's ResultWriter exports its children's records
        # (AWS's own record of every target, which a state could not hold: 256 KiB).
        "stages": stages,
        "halt_on_alarms": list(fleet.get("halt_on_alarms") or []),
    }
    # Where the fleet machine starts: the first stage itself when nothing is to be checked
    # before it (no Next Stage invocation), else the alarms are read first.
    summary["first_stage"] = first_stage(summary)
    store.put_item(
        f"fleet#{fleet_id}",
        "plan",
        {**summary, "failure_tolerance": str(summary["failure_tolerance"])},
    )
    log_event("fleet_planned", **summary)
    return summary
