"""A plan as a file (``plan --out``), its freshness check, and the fleets that apply it.

Role: the bridge from a plan to ``apply``. A saved plan holds the baselines file's text,
the changes, and the Stax state they were computed from with its fingerprint;
:func:`check_fresh` reads Stax again for the same file and refuses the plan
(:class:`SavedPlanStale`, naming what changed) when the state differs. :func:`fleets`
turns a plan's changes into ``apply`` fleet requests (explicit per-target workload
requests, the baseline's ``max_concurrency`` and ``failure_tolerance``): per baseline, a
first round of deletes (pruned orphans, failed creates to be replaced), then a round of
creates and updates, each split so that a request stays within the fleet input's limit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.baselines.brakes import fleet_stages
from chalicelib.baselines.errors import InvalidBaselines, SavedPlanStale
from chalicelib.baselines.model import load_baselines
from chalicelib.baselines.plan_cache import PlanCache
from chalicelib.baselines.planner import PLAN_FORMAT, read_state
from chalicelib.baselines.stax_state import describe_changes, fingerprint
from chalicelib.validation import MAX_FLEET_REQUEST_BYTES, json_size

_PLAN_KEYS = ("format", "source", "changes", "totals", "state", "fingerprint", "baselines")
#: Room left in a fleet request for its own fields.
_REQUEST_MARGIN_BYTES = 4 * 1024


def dumps(plan: Mapping[str, Any]) -> str:
    return json.dumps(plan, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def is_saved_plan(text: str) -> bool:
    """Whether a file's text is a saved plan (JSON with the plan's keys), not YAML."""
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and "fingerprint" in data and "changes" in data


def load_saved(text: str, name: str) -> dict[str, Any]:
    """A saved plan, checked for its shape and its own fingerprint.

    Raises:
        InvalidBaselines: not a plan of this format, or edited since it was saved.
    """
    try:
        plan = json.loads(text)
    except ValueError as error:
        raise InvalidBaselines(
            f"{name} is not a saved plan",
            problems=[{"path": "_file", "line": None, "message": str(error)}],
        ) from None
    missing = [k for k in _PLAN_KEYS if not isinstance(plan, dict) or k not in plan]
    if missing or plan.get("format") != PLAN_FORMAT:
        raise InvalidBaselines(
            f"{name} is not a saved plan of format {PLAN_FORMAT}",
            problems=[
                {"path": "_file", "line": None, "message": f"missing: {', '.join(missing)}"}
                if missing
                else {"path": "format", "line": None, "message": "save the plan again"}
            ],
        )
    if fingerprint(plan["state"]) != plan["fingerprint"]:
        raise InvalidBaselines(
            f"{name} was edited after it was saved (its state does not match its fingerprint)",
            problems=[{"path": "state", "line": None, "message": "save the plan again"}],
        )
    return dict(plan)


def check_fresh(stax: Any, plan: Mapping[str, Any], cache: PlanCache | None = None) -> None:
    """Refuse a saved plan if Stax changed since it was computed (``cache``: the stage's
    plan cache; every workload the plan writes to was read by id when it was planned, and
    so is not cached, and is read by id again here).

    Raises:
        SavedPlanStale: the state read now differs; ``details["changes"]`` names how.
        InvalidBaselines: the file in the plan no longer resolves against Stax.
    """
    baselines = load_baselines(plan["source"], str(plan.get("source_name") or "plan's file"))
    state, problems = read_state(stax, baselines, cache=cache)
    problems.raise_if_any()
    now = state.records()
    if fingerprint(now) != plan["fingerprint"]:
        changes = describe_changes(plan["state"], now)
        raise SavedPlanStale(
            f"Stax changed since the plan was computed ({plan.get('created_at')}); "
            "it was not applied",
            changes=changes,
            saved_fingerprint=plan["fingerprint"],
            current_fingerprint=fingerprint(now),
        )


def _chunks(requests: list[dict[str, Any]], limit: int) -> list[list[dict[str, Any]]]:
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for request in requests:
        cost = json_size(request) + 1
        if chunks[-1] and size + cost > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(request)
        size += cost
    return [c for c in chunks if c]


def _blocked_by(baselines: Mapping[str, Any], name: str) -> list[str]:
    """``name`` and every baseline it depends on, directly or through others."""
    seen: list[str] = []
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        todo += list((baselines.get(current) or {}).get("depends_on") or [])
    return seen


def fleets(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{"baseline", "round", "request", "depends_on", "blocked_by"}]``: the apply
    fleets, in the order to run. The plan lists its baselines after those they depend on
    (``depends_on``): every baseline's deletes run first, dependents' before those they
    depend on, then the creates and updates, each baseline's after those it depends on."""
    out: list[dict[str, Any]] = []
    limit = MAX_FLEET_REQUEST_BYTES - _REQUEST_MARGIN_BYTES
    order = list(plan["baselines"].items())
    rounds = [(name, settings, "delete") for name, settings in reversed(order)]
    rounds += [(name, settings, "create/update") for name, settings in order]
    for name, settings, round_name in rounds:
        mine = [c for c in plan["changes"] if c["baseline"] == name]
        requests = [r for c in mine for r in c["requests"]
                    if (r["operation"] == "delete") == (round_name == "delete")]  # fmt: skip
        if requests:
            for part in _chunks(requests, limit):
                chunk, stages = fleet_stages(settings, part)
                out.append(
                    {
                        "baseline": name,
                        "depends_on": list(settings.get("depends_on") or []),
                        # What stops this fleet when it failed earlier in the same apply:
                        # its own baseline (an earlier round or chunk) and everything it
                        # depends on, directly or not (a middle baseline may have no fleet).
                        "blocked_by": _blocked_by(plan["baselines"], name),
                        "round": round_name,
                        "request": {
                            "operation": "apply",
                            "targets": chunk,
                            "max_concurrency": settings["max_concurrency"],
                            "failure_tolerance": settings["failure_tolerance"],
                            "stages": stages,
                            "halt_on_alarms": list(settings.get("halt_on_alarms") or []),
                        },
                    }
                )
    return out
