"""Ordered baselines: ``depends_on`` runs a baseline's creates and updates after those it
depends on (deletes the other way round), refuses unknown names and cycles, and an apply
skips the dependents of a baseline that failed."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.baselines import InvalidBaselines, load_baselines
from chalicelib.baselines.saved import fleets
from stax_orchestrator import commands_baseline
from stax_orchestrator.console import EXIT_FAILED, EXIT_OK


def _file(depends: dict[str, list[str]]) -> str:
    lines = ["baselines:"]
    for name in ("app", "network", "dns"):
        lines += [f"  {name}:", "    catalogue: c", "    version: latest",
                  "    targets: {account_types: [production], regions: [us-east-1]}"]  # fmt: skip
        if depends.get(name):
            lines.append(f"    depends_on: [{', '.join(depends[name])}]")
    return "\n".join(lines) + "\n"


def test_a_baseline_comes_after_those_it_depends_on_and_independent_ones_keep_their_order() -> None:
    loaded = load_baselines(_file({"app": ["network", "dns"], "dns": ["network"]}), "f.yaml")
    assert [b.name for b in loaded.baselines] == ["network", "dns", "app"]
    assert [b.name for b in load_baselines(_file({}), "f.yaml").baselines] == [
        "app", "network", "dns"]  # fmt: skip


@pytest.mark.parametrize(
    ("depends", "says"),
    [
        ({"app": ["app"]}, "line 6: baselines.app.depends_on[0]: a baseline cannot depend on itself"),
        ({"app": ["nope"]}, "line 6: baselines.app.depends_on[0]: no baseline 'nope' in this file"),
        ({"app": ["dns"], "dns": ["network"], "network": ["app"]},
         "a cycle: app -> dns -> network -> app"),
    ],
)  # fmt: skip
def test_an_unknown_name_or_a_cycle_is_refused_by_name(depends: dict, says: str) -> None:
    with pytest.raises(InvalidBaselines) as refused:
        load_baselines(_file(depends), "f.yaml")
    assert says in refused.value.text()


def _plan(order: list[str], depends: dict[str, list[str]]) -> dict[str, Any]:
    settings = {"max_concurrency": 1, "failure_tolerance": 0}
    requests = {"delete": {"operation": "delete", "workload_id": "w"},
                "create": {"operation": "create", "workload_name": "n"}}  # fmt: skip
    return {
        "baselines": {n: {**settings, "depends_on": depends.get(n, [])} for n in order},
        "changes": [{"baseline": n, "requests": list(requests.values())} for n in order],
    }


def test_deletes_run_first_dependents_before_what_they_depend_on_then_creates_in_order() -> None:
    planned = fleets(_plan(["network", "app"], {"app": ["network"]}))
    assert [(f["baseline"], f["round"]) for f in planned] == [
        ("app", "delete"), ("network", "delete"),
        ("network", "create/update"), ("app", "create/update")]  # fmt: skip


def test_apply_skips_every_baseline_that_depends_on_one_that_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    planned = [f for f in fleets(_plan(["network", "dns", "app", "other"],
                                       {"dns": ["network"], "app": ["dns"]}))
               if f["round"] == "create/update"]  # fmt: skip
    ran: list[str] = []

    def run(context: Any, fleet: dict[str, Any], out: Any, interval: float) -> tuple[int, str]:
        ran.append(fleet["baseline"])
        return (EXIT_FAILED if fleet["baseline"] == "network" else EXIT_OK), "arn"

    monkeypatch.setattr(commands_baseline, "_run_fleet", run)
    rows = commands_baseline._run_fleets(object(), planned, commands_baseline.Output(True), 0)
    assert ran == ["network", "other"]
    skipped = {r["baseline"]: r.get("failed_dependencies") for r in rows if r.get("skipped")}
    assert skipped == {"dns": ["network"], "app": ["dns", "network"]}


def test_each_fleet_names_what_stops_it_its_own_baseline_and_all_it_depends_on() -> None:
    # app -> dns -> network: app is stopped by network's failure even where dns has no fleet.
    planned = fleets(_plan(["network", "dns", "app"], {"dns": ["network"], "app": ["dns"]}))
    blocked = {f["baseline"]: sorted(f["blocked_by"]) for f in planned}
    assert blocked["app"] == ["app", "dns", "network"]
    assert blocked["network"] == ["network"]
