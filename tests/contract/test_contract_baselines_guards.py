"""The brakes on a baseline's deletions: protected workloads are kept, accounts Stax lists
as suspended or closed are skipped, and deletes run only within a deletion budget."""

from __future__ import annotations

from typing import Any

import pytest
from baselines_support import ACCOUNTS, FILE, converged, network, wid
from contract_support import ACCOUNT_PROD

from chalicelib.baselines import compute_plan, fleets, load_baselines
from chalicelib.baselines.budget import check_budget, over_budget
from chalicelib.baselines.errors import DeletionBudgetExceeded
from chalicelib.stax import StaxGateway
from staxsim.control import SimulatorControl

#: The network baseline on one region: its us-east-1 workload becomes an orphan.
NARROWED = FILE.replace(
    "account_types: [production]\n      regions: [ap-southeast-2, us-east-1]",
    "account_types: [production]\n      regions: [ap-southeast-2]",
)


def actions(plan: dict[str, Any], baseline: str = "network") -> dict[str, str]:
    return {str(c["region"]): c["action"] for c in plan["changes"] if c["baseline"] == baseline}


def test_a_protected_workload_is_never_deleted_or_replaced_by_a_baseline(
    gateway: StaxGateway, control: SimulatorControl
) -> None:
    converged(control)
    control.seed(workloads=[
        network(ACCOUNT_PROD, "ap-southeast-2", wid(0), Status="CREATE_FAILED", Protection=True),
        network(ACCOUNT_PROD, "us-east-1", wid(1), Protection=True),
    ])  # fmt: skip
    plan = compute_plan(gateway, load_baselines(NARROWED), prune=True)
    assert actions(plan) == {"ap-southeast-2": "protected", "us-east-1": "protected"}
    assert plan["totals"]["delete"] == plan["totals"]["replace"] == 0
    assert all(f["round"] != "delete" for f in fleets(plan))
    protected = [c for c in plan["changes"] if c["action"] == "protected"]
    assert all("protected in Stax: kept" in c["reasons"][-1] for c in protected)


def test_a_suspended_or_closed_account_is_skipped_and_nothing_in_it_is_touched(
    gateway: StaxGateway, control: SimulatorControl
) -> None:
    converged(control)
    prod = next(a for a in ACCOUNTS if a["Id"] == ACCOUNT_PROD)
    for status in ("SUSPENDED", "CLOSED"):
        control.seed(accounts=[{**prod, "Status": status}])
        plan = compute_plan(gateway, load_baselines(FILE.replace("1234", "9999")), prune=True)
        mine = [c for c in plan["changes"] if c["account_id"] == ACCOUNT_PROD]
        assert [(c["action"], c["reasons"]) for c in mine] == [
            ("skip", [f"account {status}: never written to"])
        ]
        assert not any(r["workload_id"] in (wid(0), wid(1)) for f in fleets(plan)
                       for r in f["request"]["targets"] if "workload_id" in r)  # fmt: skip


def test_deletes_over_the_budget_are_refused_saying_by_how_much(
    gateway: StaxGateway, control: SimulatorControl
) -> None:
    converged(control)
    plan = compute_plan(gateway, load_baselines(NARROWED), prune=True)
    assert actions(plan)["us-east-1"] == "delete"
    # 10% (the default) of the baseline's 1 target allows no delete.
    with pytest.raises(DeletionBudgetExceeded) as refused:
        check_budget(plan)
    assert "baseline 'network': 1 delete(s), 0 allowed (10% of 1 targets): 1 over" in str(
        refused.value
    )
    check_budget(plan, 1)  # --max-deletes 1
    check_budget(plan, "100%")
    budgeted = compute_plan(
        gateway, load_baselines(NARROWED.replace("max_concurrency: 2", "max_concurrency: 2\n"
                                                 "    max_deletes: 1")), prune=True)  # fmt: skip
    assert over_budget(budgeted) == []


def test_a_plan_narrowed_to_a_baseline_and_a_target_keeps_only_their_changes(
    gateway: StaxGateway, control: SimulatorControl
) -> None:
    from chalicelib.baselines import InvalidBaselines
    from chalicelib.baselines.narrowing import narrow

    plan = compute_plan(gateway, load_baselines(FILE), prune=False)  # six creates
    network_only = narrow(plan, ["network"])
    assert {c["baseline"] for c in network_only["changes"]} == {"network"}
    assert network_only["totals"]["create"] == 2 and list(network_only["baselines"]) == ["network"]
    one = narrow(plan, targets=["workloads-dev/us-east-1"])
    assert [(c["account_name"], c["region"]) for c in one["changes"]] == [
        ("workloads-dev", "us-east-1")
    ]
    assert [len(f["request"]["targets"]) for f in fleets(one)] == [1]
    by_id = narrow(plan, targets=[ACCOUNT_PROD.upper()])
    assert {c["account_id"] for c in by_id["changes"]} == {ACCOUNT_PROD}
    with pytest.raises(InvalidBaselines) as refused:
        narrow(plan, ["nope"], ["workloads-dev/mars-1"])
    assert [p["path"] for p in refused.value.problems] == [
        "--baseline nope", "--target workloads-dev/mars-1"]  # fmt: skip
