"""A baseline's brakes: canary ``stages``, ``halt_on_alarms`` and ``region_order`` reach its
apply fleets, and bad ones are refused on their line."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.baselines import InvalidBaselines, load_baselines
from chalicelib.baselines.saved import fleets

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def _file(*extra: str) -> str:
    return "\n".join(["baselines:", "  network:", "    catalogue: c", "    version: latest",
                      "    targets: {account_types: [production], "
                      f"regions: [{', '.join(REGIONS)}]}}", *extra]) + "\n"  # fmt: skip


def _plan(text: str, accounts: int = 3) -> dict[str, Any]:
    [baseline] = load_baselines(text, "f.yaml").baselines
    settings = {"max_concurrency": 2, "failure_tolerance": 0, "depends_on": [],
                **baseline.brakes, "regions": baseline.regions}  # fmt: skip
    requests = [
        {"operation": "create", "aws_account_id": f"{100000000000 + a}", "aws_region": region,
         "workload_name": f"n-{a}-{region}", "catalogue_id": "c"}
        for a in range(accounts) for region in reversed(REGIONS)
    ]  # fmt: skip
    return {"baselines": {"network": settings},
            "changes": [{"baseline": "network", "requests": requests}]}  # fmt: skip


def test_stages_and_alarms_of_a_baseline_reach_its_fleet_request() -> None:
    [fleet] = fleets(_plan(_file("    stages: [1, 50%, 100%]", "    halt_on_alarms: [api-5xx]")))
    assert fleet["request"]["stages"] == [1, "50%", "100%"]
    assert fleet["request"]["halt_on_alarms"] == ["api-5xx"]


def test_region_order_runs_each_region_as_a_stage_in_the_files_order() -> None:
    [fleet] = fleets(_plan(_file("    region_order: true")))
    regions = [t["aws_region"] for t in fleet["request"]["targets"]]
    assert regions == [r for r in REGIONS for _ in range(3)]
    assert fleet["request"]["stages"] == [3, 6, "100%"]


def test_a_baseline_without_brakes_runs_in_one_stage() -> None:
    [fleet] = fleets(_plan(_file()))
    assert fleet["request"]["stages"] == ["100%"] and fleet["request"]["halt_on_alarms"] == []


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["    stages: [1, 50%]"], 'line 6: baselines.network.stages[1]: the last stage must be'),
        (["    halt_on_alarms: [a, a]"], "baselines.network.halt_on_alarms: names an alarm twice"),
        (["    region_order: yes please"], "baselines.network.region_order: must be true or false"),
        (["    region_order: true", "    stages: [1, 100%]"],
         "baselines.network.region_order: runs each region as a stage"),
    ],
)  # fmt: skip
def test_bad_brakes_are_refused_on_their_line(extra: list[str], says: str) -> None:
    with pytest.raises(InvalidBaselines) as refused:
        load_baselines(_file(*extra), "f.yaml")
    assert says in refused.value.text()
