"""Stax calls of one account event's plan as the organisation grows (issue 22).

Runs the account baseline's planning (``chalicelib.baselines.account.plan_account``, what
the ``plan_account_baselines`` Lambda does after reading the stored file) in-process with
the real SDK against the stack's simulator: an organisation of 10, then 300, production
accounts, each already holding its two baseline workloads, and one new account announced.
The simulator's request log counts the Stax API calls of that plan alone (the SDK's login
and config fetch made before). The goal: the same count at both sizes, a handful of calls.
Before per-account planning the same plan made 26 and 614 calls
(``tests/contract/test_contract_account_baselines.py`` measures both ways).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/account_events.py
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.stack import Stack, open_stack, seed
from bench.table import Row, check_row, info_row

SIZES = (10, 300)
REGIONS = ("ap-southeast-2", "us-east-1")
#: At most this many Stax calls for one account's plan, at any organisation size.
MAX_CALLS = 8
FILE = """\
baselines:
  network:
    catalogue: baseline-vpc
    version: "1.0.0"
    workload_name: "{baseline}-{account}-{region}"
    parameters: {VpcCidr: 10.0.0.0/16}
    targets:
      account_types: [production]
      regions: [ap-southeast-2, us-east-1]
"""


def organisation(first: int, count: int, catalogue: dict[str, Any]) -> dict[str, Any]:
    """``count`` production accounts, each with its two network workloads in place."""
    from chalicelib.settings import BASELINE_TAG

    accounts = [
        {"Id": f"6a000000-0000-4000-8000-{n:012d}", "Name": f"prod-{n}",
         "AwsAccountId": f"{500_000_000_000 + n}", "AccountType": "production"}
        for n in range(first, first + count)
    ]  # fmt: skip
    workloads = [
        {"Id": f"9f000000-0000-4000-8000-{2 * n + i:012d}", "Name": f"network-prod-{n}-{region}",
         "AccountId": account["Id"], "Region": region, "CatalogueId": catalogue["Id"],
         "CatalogueVersionId": catalogue["Versions"][0]["Id"],
         "Parameters": {"VpcCidr": "10.0.0.0/16"}, "Tags": {BASELINE_TAG: "network"}}
        for n, account in enumerate(accounts, start=first)
        for i, region in enumerate(REGIONS)
    ]  # fmt: skip
    return {"accounts": accounts, "workloads": workloads}


def measure(stack: Stack) -> dict[str, Any]:
    """Stax calls of one account event's plan at each organisation size."""
    from chalicelib.baselines.account import ACCOUNT_EVENT_TYPES, AccountEvent, plan_account
    from chalicelib.baselines.model import load_baselines
    from chalicelib.credentials import StaxCredentials
    from chalicelib.settings import stax_settings
    from chalicelib.stax import StaxGateway

    stack.apply_env()
    gateway = StaxGateway(stax_settings(dict(os.environ)), StaxCredentials(*stack.api_token()))
    baselines = load_baselines(FILE, "bench account events")
    catalogue = seed()["catalogue"][0]
    calls: dict[int, int] = {}
    with stack.sim() as sim:
        sim.reset()
        sim.seed(**seed())
        gateway.list_account_types()  # the SDK's config fetch and login, not counted
        for first, count in ((0, SIZES[0]), (SIZES[0], SIZES[1] - SIZES[0])):
            sim.seed(**organisation(first, count, catalogue))
            new = f"6b000000-0000-4000-8000-{first + count:012d}"
            sim.seed(accounts=[{"Id": new, "Name": f"new-{first}", "AwsAccountId": "444444444444",
                                "AccountType": "production"}])  # fmt: skip
            sim.clear_requests()
            event = AccountEvent(new, "production", "444444444444", ACCOUNT_EVENT_TYPES[0])
            planned = plan_account(gateway, baselines, event)
            if [c["action"] for c in planned["changes"]] != ["create", "create"]:
                raise RuntimeError(f"unexpected plan for the new account: {planned['changes']}")
            calls[first + count] = sum(
                1 for r in sim.requests() if str(r.get("path", "")).startswith("/20190206")
            )
    return {"calls": calls}


def rows(result: dict[str, Any]) -> list[Row]:
    calls = result["calls"]
    small, large = (calls[size] for size in SIZES)
    return [
        info_row(
            f"account event plan: Stax calls at {SIZES[0]} accounts",
            str(small),
            "26 before per-account planning",
        ),
        check_row(
            f"account event plan: Stax calls at {SIZES[1]} accounts (x2 regions)",
            large == small and large <= MAX_CALLS,
            str(large),
            "614 before per-account planning",
            f"= the {SIZES[0]}-account figure, ≤ {MAX_CALLS}",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    import argparse

    from bench.table import exit_code, render

    parser = argparse.ArgumentParser(description="Stax calls per account event vs org size")
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
