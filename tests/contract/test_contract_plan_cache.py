"""A plan with nothing to change costs a few list calls, never one read per workload.

The real ``StaxGateway`` and SDK on the simulator (strict; with nulls and lag where the
``strict_defaults`` fixture says), the plan cache in moto's DynamoDB through the
coordination store. Reads by id are counted from the simulator's request log.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from baselines_support import FILE, converged, network, wid
from contract_support import ACCOUNT_PROD, wait_for

from chalicelib.baselines import (
    BaselineConflict,
    check_fresh,
    compute_plan,
    has_changes,
    load_baselines,
    load_saved,
)
from chalicelib.baselines.plan_cache import CACHE_PK_PREFIX, MAX_AGE_SECONDS, PlanCache
from chalicelib.baselines.saved import dumps
from chalicelib.coordination import CoordinationStore
from chalicelib.stax import StaxGateway
from stax_orchestrator.deploy import Target, table_definition
from staxsim.control import SimulatorControl
from tests.unit.support import REGION

TARGET = Target("contract", REGION, "123456789012")
WORKLOADS = 6  # converged(): two network workloads, four params workloads
BY_ID = re.compile(r"/workloads/([0-9a-f-]{36})$")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dynamodb(aws: Any) -> Any:
    client = aws.client("dynamodb")
    client.create_table(**table_definition(TARGET.table_name))
    return client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(dynamodb: Any, clock: Clock) -> PlanCache:
    return PlanCache(CoordinationStore(lambda: dynamodb, TARGET.table_name), clock=clock)


def reads_by_id(control: SimulatorControl, since: float) -> list[str]:
    """The workload ids read one by one since ``since`` (the log's own clock)."""
    found = (BY_ID.search(r["path"]) for r in control.requests(since=since) if r["method"] == "GET")
    return [match.group(1) for match in found if match]


def mark(control: SimulatorControl) -> float:
    """A point in the request log: everything after it is the next plan's."""
    log = control.requests()
    return float(log[-1]["time"]) + 1e-6 if log else 0.0


def plan(gateway: StaxGateway, cache: PlanCache | None, text: str = FILE, **kw: Any) -> Any:
    return compute_plan(gateway, load_baselines(text), prune=kw.get("prune", False), cache=cache)


def test_a_second_plan_of_a_converged_organisation_reads_no_workload_by_id(
    gateway: StaxGateway, control: SimulatorControl, cache: PlanCache
) -> None:
    converged(control)
    first = plan(gateway, cache)
    assert len(reads_by_id(control, 0)) == WORKLOADS  # the first plan reads them all
    since = mark(control)
    second = plan(gateway, cache)
    assert reads_by_id(control, since) == []
    assert not has_changes(second) and second["totals"]["noop"] == WORKLOADS
    assert second["fingerprint"] == first["fingerprint"]  # the same state, from the cache
    since = mark(control)
    check_fresh(gateway, load_saved(dumps(second), "plan.json"), cache)
    assert reads_by_id(control, since) == []


def test_nulls_in_lists_do_not_cost_reads_and_never_change_the_plan(
    gateway: StaxGateway, strict_defaults: SimulatorControl, cache: PlanCache
) -> None:
    converged(strict_defaults)
    first = plan(gateway, cache)
    for _ in range(4):  # a quarter of the answers have every nullable field null
        since = mark(strict_defaults)
        again = plan(gateway, cache)
        assert again["fingerprint"] == first["fingerprint"]
        assert reads_by_id(strict_defaults, since) == []


def test_a_workload_changed_in_stax_is_read_again_and_planned_as_an_update(
    gateway: StaxGateway, control: SimulatorControl, cache: PlanCache
) -> None:
    converged(control)
    control.set_task_durations(started=0.01, pending=0.01, running=0.01)
    plan(gateway, cache)
    gateway.update_workload(wid(0), {"Parameters": [{"Key": "VpcCidr", "Value": "10.7.0.0/16"}]})
    wait_for(lambda: gateway.read_workload(wid(0))["Status"] in ("ACTIVE", "UPDATE_COMPLETE"))
    since = mark(control)
    changed = plan(gateway, cache)
    [update] = [c for c in changed["changes"] if c["action"] == "update"]
    assert update["workload_id"] == wid(0)
    assert update["reasons"] == ["parameter VpcCidr -> 10.0.0.0/16"]
    assert reads_by_id(control, since) == [wid(0)]  # only the changed one


def test_a_cache_item_that_would_lead_to_a_write_is_checked_against_stax_first(
    gateway: StaxGateway, control: SimulatorControl, cache: PlanCache, dynamodb: Any
) -> None:
    # Stax: a stranger's workload (no baseline tag) holds the network target's name.
    stranger = network(ACCOUNT_PROD, "us-east-1", wid(1), Tags={"CostCode": "1234"})
    control.seed(workloads=[network(ACCOUNT_PROD, "ap-southeast-2", wid(0)), stranger])
    with pytest.raises(BaselineConflict):
        plan(gateway, cache)
    # A forged item says the stranger is the baseline's, with another CIDR: planned from
    # it, the plan would update the stranger.
    listed = next(w for w in gateway.list_workloads() if w["Id"] == wid(1))
    record = {"Name": listed["Name"], "AccountId": ACCOUNT_PROD, "Region": "us-east-1",
              "CatalogueId": listed["CatalogueId"],
              "CatalogueVersionId": listed["CatalogueVersionId"], "Status": "ACTIVE",
              "Protection": False, "Parameters": {"VpcCidr": "forged"},
              "Tags": {"CostCode": "1234", "orchestrator:baseline": "network"}}  # fmt: skip
    dynamodb.put_item(
        TableName=TARGET.table_name,
        Item={"pk": {"S": CACHE_PK_PREFIX + listed["CatalogueId"]}, "sk": {"S": wid(1)},
              "modified": {"S": listed["ModifiedTS"]}, "status": {"S": "ACTIVE"},
              "record": {"S": json.dumps(record)}, "read_at": {"N": str(int(cache.now()))}},
    )  # fmt: skip
    since = mark(control)
    with pytest.raises(BaselineConflict):
        plan(gateway, cache)
    assert wid(1) in reads_by_id(control, since)


def test_snapshots_older_than_a_day_are_not_trusted(
    gateway: StaxGateway, control: SimulatorControl, cache: PlanCache, clock: Clock
) -> None:
    converged(control)
    plan(gateway, cache)
    clock.now += MAX_AGE_SECONDS + 1
    since = mark(control)
    plan(gateway, cache)
    assert len(reads_by_id(control, since)) == WORKLOADS


def test_refresh_all_reads_every_workload_and_remembers_what_it_read(
    gateway: StaxGateway,
    control: SimulatorControl,
    dynamodb: Any,
    cache: PlanCache,
    clock: Clock,
) -> None:
    converged(control)
    store = CoordinationStore(lambda: dynamodb, TARGET.table_name)
    plan(gateway, cache)
    since = mark(control)
    plan(gateway, PlanCache(store, clock=clock, trust=False))
    assert len(reads_by_id(control, since)) == WORKLOADS
    since = mark(control)
    plan(gateway, cache)
    assert reads_by_id(control, since) == []


def test_a_cache_that_cannot_be_used_costs_reads_and_one_warning_not_the_plan(
    gateway: StaxGateway, control: SimulatorControl, aws: Any
) -> None:
    converged(control)
    warnings: list[str] = []
    client = aws.client("dynamodb")  # no table: every call is refused
    broken = PlanCache(CoordinationStore(lambda: client, "no-such-table"), warn=warnings.append)
    planned = plan(gateway, broken)
    assert not has_changes(planned) and planned["totals"]["noop"] == WORKLOADS
    assert len(warnings) == 1 and "ResourceNotFoundException" in warnings[0]
    assert "read from Stax by id" in warnings[0]
