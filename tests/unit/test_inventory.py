"""``stax-orchestrator workloads``: which workloads the orchestrator manages, under which
baseline, written last by whom (the coordination table's records joined with Stax's list),
and the filters Stax is asked to apply."""

from __future__ import annotations

import argparse
from typing import Any

from stax_orchestrator.inventory import inventory, record_keys, stax_filters

ACCOUNT = "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11"
CATALOGUE = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00"
NAMES = {"accounts": {ACCOUNT: "workloads-dev"}, "catalogue": {CATALOGUE: "baseline-vpc"}}


def workload(wid: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"Id": wid, "Name": name, "AccountId": ACCOUNT, "Region": "us-east-1",
            "CatalogueId": CATALOGUE, "Status": "ACTIVE", **extra}  # fmt: skip


WORKLOADS = [workload("w1", "network-dev"), workload("w2", "by-hand"), workload("w3", "updated")]
RECORDS = {
    ("name#network-dev", "claim"): {"workload_id": "w1", "owner": "exec-create",
                                    "baseline": "network", "since": 10},
    # A claim of the same name for another workload: not this one's creator.
    ("name#by-hand", "claim"): {"workload_id": "w-other", "owner": "exec-x", "since": 5},
    ("name#updated", "claim"): {"workload_id": "w3", "owner": "exec-create-3", "since": 10},
    ("workload#w3", "written"): {"owner": "exec-update", "operation": "update", "since": 20},
}  # fmt: skip


def test_only_the_workloads_the_orchestrator_created_or_wrote_are_listed() -> None:
    rows = inventory(WORKLOADS, RECORDS, NAMES)
    assert [r["workload_name"] for r in rows] == ["network-dev", "updated"]
    network, updated = rows
    assert (network["baseline"], network["created_by"], network["last_written_by"]) == (
        "network", "exec-create", "exec-create"
    )  # fmt: skip
    assert (updated["last_written_by"], updated["last_operation"]) == ("exec-update", "update")
    assert network["account"] == "workloads-dev" and network["catalogue"] == "baseline-vpc"


def test_all_lists_every_workload_and_a_baseline_narrows_to_its_own() -> None:
    everything = inventory(WORKLOADS, RECORDS, NAMES, everything=True)
    assert [(r["workload_name"], r["managed"]) for r in everything] == [
        ("network-dev", True), ("by-hand", False), ("updated", True)
    ]  # fmt: skip
    assert [
        r["workload_name"] for r in inventory(WORKLOADS, RECORDS, NAMES, baseline="network")
    ] == ["network-dev"]


def test_the_records_are_read_by_name_claim_and_last_write_in_one_batch() -> None:
    assert record_keys([workload("w1", "a"), workload("w2", "")]) == [
        ("name#a", "claim"), ("workload#w1", "written"), ("workload#w2", "written")
    ]  # fmt: skip


def test_stax_is_asked_to_filter_by_id_or_name_as_given() -> None:
    def args(**given: Any) -> argparse.Namespace:
        base = {"account": None, "catalogue": None, "status": None}
        return argparse.Namespace(**{**base, **given})

    assert stax_filters(args(account=ACCOUNT, catalogue="baseline-vpc", status="active")) == {
        "account_ids": ACCOUNT, "catalogue_names": "baseline-vpc", "filter": "ACTIVE"
    }  # fmt: skip
    assert stax_filters(args(account="workloads-dev", catalogue=CATALOGUE)) == {
        "account_names": "workloads-dev", "catalogue_ids": CATALOGUE
    }  # fmt: skip
