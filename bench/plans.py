"""A baselines plan with nothing to change: Stax calls and seconds at 180, 1,800 and 10,002
targets, with and without the plan cache (issue 24).

The plan (``chalicelib.baselines.compute_plan``, what ``stax-orchestrator plan`` runs) is
run in-process with the real SDK against the stack's simulator (strict: tags only by id,
a quarter of the answers with every nullable field null) and the plan cache in a table
of its own on the stack's MiniStack. The organisation: N production accounts, each with
the workloads of two baselines in three regions, already as the file says (N = 30, 300,
1,667). Every Stax call takes 50 ms more (the simulator's latency fault).

Per size: the first plan (the cache is empty: every workload is read by id, as every
plan did before the cache -- today's figure; it fills the cache), then the plan again
(the cache remembers). At 10,002 targets the first plan runs without the added latency
(10,002 reads at 50 ms would take most of ten minutes; its calls do not depend on it).
Goal: at 1,800 targets the second plan makes at most 5% as many Stax calls as targets and
ends in under 20 s; the same share at 10,002.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/plans.py
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.stack import Stack, open_stack, seed
from bench.table import Row, check_row, info_row, limit_row

#: Accounts per size (x 3 regions x 2 baselines targets).
ACCOUNTS = (30, 300, 1_667)
REGIONS = ("ap-southeast-2", "us-east-1", "eu-west-1")
LATENCY_MS = 50
GOAL_SHARE = 0.05
GOAL_SECONDS = 20.0
#: The first plan runs with the added latency up to this many targets.
LATENCY_FIRST_PLAN_UP_TO = 2_000
TABLE = "stax-orchestrator-bench-plans"
FILE = """\
baselines:
  network:
    catalogue: baseline-vpc
    version: "1.0.0"
    workload_name: "{baseline}-{account}-{region}"
    parameters: {VpcCidr: 10.0.0.0/16}
    tags: {CostCode: "1234"}
    targets:
      account_types: [production]
      regions: [ap-southeast-2, us-east-1, eu-west-1]
  params:
    catalogue: ssm-parameters
    version: "2.0.0"
    workload_name: "{baseline}-{account}-{region}"
    targets:
      account_types: [production]
      regions: [ap-southeast-2, us-east-1, eu-west-1]
"""


def organisation(count: int) -> dict[str, Any]:
    """``count`` production accounts, each with its six baseline workloads as the file says."""
    from chalicelib.settings import BASELINE_TAG

    vpc, ssm = seed()["catalogue"][:2]
    accounts = [
        {"Id": f"6c000000-0000-4000-8000-{n:012d}", "Name": f"prod-{n}",
         "AwsAccountId": f"{600_000_000_000 + n}", "AccountType": "production"}
        for n in range(count)
    ]  # fmt: skip
    workloads = []
    for n, account in enumerate(accounts):
        for r, region in enumerate(REGIONS):
            workloads += [
                {"Id": f"9d000000-0000-4000-8000-{6 * n + 2 * r:012d}",
                 "Name": f"network-prod-{n}-{region}", "AccountId": account["Id"],
                 "Region": region, "CatalogueId": vpc["Id"],
                 "CatalogueVersionId": vpc["Versions"][0]["Id"],
                 "Parameters": {"VpcCidr": "10.0.0.0/16"},
                 "Tags": {"CostCode": "1234", BASELINE_TAG: "network"}},
                {"Id": f"9d000000-0000-4000-8000-{6 * n + 2 * r + 1:012d}",
                 "Name": f"params-prod-{n}-{region}", "AccountId": account["Id"],
                 "Region": region, "CatalogueId": ssm["Id"],
                 "CatalogueVersionId": ssm["Versions"][1]["Id"],
                 "Tags": {BASELINE_TAG: "params"}},
            ]  # fmt: skip
    return {"accounts": accounts, "workloads": workloads}


def _stax_calls(sim: Any) -> int:
    return sum(1 for r in sim.requests() if str(r.get("path", "")).startswith("/20190206"))


def _latency(sim: Any, on: bool) -> None:
    if on:
        sim.set_faults([{"path_regex": "^/20190206/", "latency_ms": LATENCY_MS}])
    else:
        sim.clear_faults()


def measure(stack: Stack) -> dict[str, Any]:
    """Per size: targets, and calls and seconds of the first and the second plan."""
    from chalicelib.baselines import compute_plan, has_changes, load_baselines
    from chalicelib.baselines.plan_cache import PlanCache
    from chalicelib.coordination import CoordinationStore
    from chalicelib.credentials import StaxCredentials
    from chalicelib.settings import stax_settings
    from chalicelib.stax import StaxGateway
    from stax_orchestrator.deploy import table_definition

    stack.apply_env()
    gateway = StaxGateway(stax_settings(dict(os.environ)), StaxCredentials(*stack.api_token()))
    baselines = load_baselines(FILE, "bench plans")
    dynamodb = stack.boto("dynamodb")
    results: dict[str, Any] = {}
    with stack.sim() as sim:
        for count in ACCOUNTS:
            targets = count * len(REGIONS) * 2
            with_cache = {}
            try:
                dynamodb.create_table(**{**table_definition(TABLE), "TableName": TABLE})
                cache = PlanCache(CoordinationStore(lambda: dynamodb, TABLE))
                sim.reset()
                # The seed's catalogue and account types, none of its accounts: the plan's
                # organisation is this one alone.
                sim.seed(**{k: v for k, v in seed().items() if k != "accounts"})
                sim.seed(**organisation(count))
                gateway.list_account_types()  # the SDK's config fetch and login, not counted
                for run in ("first", "second"):
                    slow = run == "second" or targets <= LATENCY_FIRST_PLAN_UP_TO
                    _latency(sim, slow)
                    sim.clear_requests()
                    started = time.perf_counter()
                    planned = compute_plan(gateway, baselines, prune=False, cache=cache)
                    seconds = time.perf_counter() - started
                    _latency(sim, False)
                    if has_changes(planned) or planned["totals"]["noop"] != targets:
                        raise RuntimeError(f"not a no-change plan: {planned['totals']}")
                    with_cache[run] = {"calls": _stax_calls(sim), "seconds": seconds,
                                       "latency": slow}  # fmt: skip
            finally:
                _latency(sim, False)
                dynamodb.delete_table(TableName=TABLE)
            results[str(targets)] = with_cache
    return results


def rows(result: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for targets_text, runs in result.items():
        targets = int(targets_text)
        first, second = runs["first"], runs["second"]
        first_seconds = f"{first['seconds']:.1f} s" + (
            "" if first["latency"] else " (no added latency)"
        )
        out.append(
            info_row(
                f"no-change plan, {targets:,} targets: Stax calls, first plan (every read)",
                f"{first['calls']:,} in {first_seconds}",
                "every plan before the plan cache",
            )
        )
        share = second["calls"] / targets
        out.append(
            check_row(
                f"no-change plan, {targets:,} targets: Stax calls of the plan again",
                share <= GOAL_SHARE,
                f"{second['calls']:,} ({share:.1%} of targets)",
                f"{first['calls']:,}",
                f"≤ {GOAL_SHARE:.0%} of targets",
            )
        )
        if targets == 1_800:
            out.append(
                limit_row(
                    f"no-change plan, {targets:,} targets, {LATENCY_MS} ms a Stax call: "
                    "seconds of the plan again",
                    second["seconds"],
                    GOAL_SECONDS,
                    "s",
                    baseline=f"{first['seconds']:.1f} s",
                    digits=1,
                )
            )
        else:
            out.append(
                info_row(
                    f"no-change plan, {targets:,} targets, {LATENCY_MS} ms a Stax call: "
                    "seconds of the plan again",
                    f"{second['seconds']:.1f} s",
                    first_seconds,
                )
            )
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    from bench.table import exit_code, render

    parser = argparse.ArgumentParser(description="Stax calls and seconds of no-change plans")
    parser.add_argument("--private", action="store_true", help="own simulator + MiniStack")
    args = parser.parse_args(argv)
    with open_stack(args.private) as stack:
        try:
            table = rows(measure(stack))
        finally:
            stack.restore_seed()
    print(render(table))
    return exit_code(table)


if __name__ == "__main__":
    sys.exit(main())
