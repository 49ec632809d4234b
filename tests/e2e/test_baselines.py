"""Baselines end to end: ``plan`` and ``apply`` as a user runs them, on the local stack.

The installed console script in a subprocess (``--local``), the real SDK against the
strict simulator (account types, tags only by id, nulls, read-after-write lag), the
deployed fleet machine running ``apply`` fleets on MiniStack's Distributed Map. Two
baselines over two account types and two regions: six workloads.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.baselines import BASELINE_TAG
from chalicelib.baselines.account import account_event
from chalicelib.ownership import EXECUTION_TAG
from tests.e2e.conftest import MINISTACK_URL, SEED, write_calls
from tests.e2e.helpers import (
    ACCOUNT_TYPES_SEED,
    BASELINE_REGIONS,
    BASELINES_FILE,
    cli,
    live,
    typed_accounts,
)

pytestmark = pytest.mark.e2e
VPC_V1, VPC_V2 = (v["Id"] for v in SEED["catalogue"][0]["Versions"])

NAMES = {f"network-workloads-prod-{r}" for r in BASELINE_REGIONS} | {
    f"params-{a}-{r}" for a in ("workloads-dev", "workloads-staging") for r in BASELINE_REGIONS
}


def plan(path: Path, *flags: str, expect: int) -> dict[str, Any]:
    run = cli("plan", str(path), "--json", "--detailed-exitcode", *flags)
    assert run.returncode == expect, run.stdout + run.stderr
    return dict(json.loads(run.stdout))


def apply(path: Path, *flags: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    run = cli("apply", str(path), "--interval", "1", "--auto-approve", *flags)
    assert run.returncode == expect, run.stdout + run.stderr
    return run


def summary(plan_body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((c["action"], c["workload_name"], c["region"]) for c in plan_body["changes"])


@pytest.fixture()
def organisation(clean_sim: Any, deployed: dict[str, Any]) -> Any:
    """The seed's accounts, each of an account type; no workloads."""
    clean_sim.seed(account_types=ACCOUNT_TYPES_SEED, accounts=typed_accounts())
    return clean_sim


def test_plan_apply_converge_update_recreate_and_prune(organisation: Any, tmp_path: Path) -> None:
    path = tmp_path / "baselines.yaml"
    path.write_text(BASELINES_FILE)

    first = plan(path, expect=2)
    assert summary(first) == sorted(
        ("create", n, next(r for r in BASELINE_REGIONS if n.endswith(r))) for n in NAMES
    )
    apply(path)
    workloads = live(organisation)
    assert set(workloads) == NAMES, "apply created something else than the plan's creates"
    assert {w["Status"] for w in workloads.values()} <= {"ACTIVE", "UPDATE_COMPLETE"}
    assert plan(path, expect=0)["totals"]["noop"] == 6

    path.write_text(BASELINES_FILE.replace('version: "1.0.0"', 'version: "1.1.0"'))
    updates = plan(path, expect=2)
    changed = [c for c in updates["changes"] if c["action"] == "update"]
    assert sorted(c["workload_name"] for c in changed) == sorted(
        n for n in NAMES if n.startswith("network-")
    )
    assert all(c["reasons"] == [f"version 1.0.0 ({VPC_V1}) -> 1.1.0 ({VPC_V2})"] for c in changed)
    apply(path)
    assert {
        live(organisation)[n]["CatalogueVersionId"] for n in NAMES if n.startswith("network-")
    } == {VPC_V2}
    plan(path, expect=0)

    # The inventory: each network workload under its baseline, last written by its update.
    listed = cli("workloads", "--baseline", "network", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = json.loads(listed.stdout)
    assert {r["workload_name"] for r in rows} == {n for n in NAMES if n.startswith("network-")}
    assert all(r["last_operation"] == "update" and r["last_written_by"] != r["created_by"]
               for r in rows), rows  # fmt: skip

    gone = live(organisation)["params-workloads-dev-us-east-1"]
    organisation.seed(workloads=[{**gone, "Status": "DELETED"}])  # deleted by hand in Stax
    again = plan(path, expect=2)
    assert [
        (c["action"], c["workload_name"]) for c in again["changes"] if c["action"] != "noop"
    ] == [("create", "params-workloads-dev-us-east-1")]
    apply(path)
    assert set(live(organisation)) == NAMES

    path.write_text(
        BASELINES_FILE.replace('version: "1.0.0"', 'version: "1.1.0"').replace(
            "account_types: [development]\n      regions: [ap-southeast-2, us-east-1]",
            "account_types: [development]\n      regions: [ap-southeast-2]",
        )
    )
    kept = plan(path, expect=0)  # orphans are listed, nothing would change
    orphans = sorted(c["workload_name"] for c in kept["changes"] if c["action"] == "orphan")
    assert orphans == ["params-workloads-dev-us-east-1", "params-workloads-staging-us-east-1"]
    writes = len(write_calls(organisation))
    apply(path)
    assert len(write_calls(organisation)) == writes and set(live(organisation)) == NAMES
    pruning = plan(path, "--prune", expect=2)
    assert (
        sorted(c["workload_name"] for c in pruning["changes"] if c["action"] == "delete") == orphans
    )
    # Two deletes of a baseline of two targets: over the default budget (10%), refused
    # before anything starts, saying by how much; within --max-deletes they run.
    refused = apply(path, "--prune", expect=2)
    assert "'params': 2 delete(s), 0 allowed (10% of 2 targets): 2 over" in refused.stderr
    assert len(write_calls(organisation)) == writes
    apply(path, "--prune", "--max-deletes", "2")
    assert set(live(organisation)) == NAMES - set(orphans)
    # The simulator's own state never holds nulls: every workload the apply made carries
    # its baseline's tag and the file's tags, exactly.
    expected_tags = {"network": {"CostCode": "1234", BASELINE_TAG: "network"},
                     "params": {BASELINE_TAG: "params"}}  # fmt: skip
    tags = {name: dict(w["Tags"]) for name, w in live(organisation).items()}
    assert all(t.pop(EXECUTION_TAG, "").startswith("arn:") for t in tags.values()), tags
    assert tags == {name: expected_tags[name.split("-", 1)[0]] for name in tags}
    plan(path, "--prune", expect=0)


def test_a_saved_plan_is_refused_when_stax_changed_since(organisation: Any, tmp_path: Path) -> None:
    path = tmp_path / "baselines.yaml"
    path.write_text(BASELINES_FILE)
    saved = tmp_path / "plan.json"
    run = cli("plan", str(path), "--out", str(saved))
    assert run.returncode == 0 and "6 to create" in run.stdout, run.stdout + run.stderr
    organisation.seed(
        accounts=[
            {**a, "AccountType": "production"}
            for a in SEED["accounts"]
            if a["Name"] == "workloads-dev"
        ]
    )  # workloads-dev moved to production since the plan
    writes = len(write_calls(organisation))
    refused = apply(saved, expect=2)
    assert "Stax changed since the plan was computed" in refused.stderr
    assert "account 'workloads-dev'" in refused.stderr, refused.stderr
    assert len(write_calls(organisation)) == writes, "a stale plan wrote to Stax"


def test_apply_without_a_terminal_or_auto_approve_asks_nobody_and_starts_nothing(
    organisation: Any, tmp_path: Path
) -> None:
    path = tmp_path / "baselines.yaml"
    path.write_text(BASELINES_FILE)
    writes = len(write_calls(organisation))
    run = cli("apply", str(path), stdin="yes\n")  # a pipe is not a person
    assert run.returncode == 2, run.stdout + run.stderr
    assert "6 to create" in run.stdout  # the plan is shown
    assert "--auto-approve" in run.stderr and "Nothing was started" in run.stderr
    assert len(write_calls(organisation)) == writes


def test_the_simulator_announces_a_new_account_on_a_ministack_event_bus(clean_sim: Any) -> None:
    organisation = clean_sim  # no deployed stage needed: the simulator and MiniStack only
    events, sqs = boto3.client("events"), boto3.client("sqs")
    name = f"stax-events-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=name)
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    pattern = {"detail-type": ["AccountManagement: AccountCreateEvent",
                               "AccountManagement: AccountUpdateEvent"],
               "detail": {"status": ["SUCCESS"]}}  # fmt: skip
    rule = events.put_rule(Name=name, EventBusName=name, EventPattern=json.dumps(pattern))
    # As on AWS, the queue must let the rule send to it (the local stack checks it too).
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": queue_arn["Attributes"]["QueueArn"],
            "Condition": {"ArnEquals": {"aws:SourceArn": rule["RuleArn"]}}}]})})  # fmt: skip
    events.put_targets(Rule=name, EventBusName=name,
                       Targets=[{"Id": "q", "Arn": queue_arn["Attributes"]["QueueArn"]}])  # fmt: skip
    try:
        organisation.set_account_events(
            name, endpoint_url=MINISTACK_URL, region=events.meta.region_name,
            source="stax.simulator",
        )  # fmt: skip
        new = {"Id": str(uuid.uuid4()), "Name": "workloads-new", "AwsAccountId": "444444444444",
               "AccountType": "production"}  # fmt: skip
        organisation.seed(accounts=[new])
        deadline, got = time.monotonic() + 30, []
        while not got and time.monotonic() < deadline:
            got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
        assert got, "no account event reached the bus's rule target"
        event = account_event(json.loads(got[0]["Body"]), "stax.simulator")
        assert (event.account_id, event.account_type, event.aws_account_id) == (
            new["Id"],
            "production",
            "444444444444",
        )
    finally:
        organisation.set_account_events(None)
        events.remove_targets(Rule=name, EventBusName=name, Ids=["q"])
        events.delete_rule(Name=name, EventBusName=name)
        events.delete_event_bus(Name=name)
        sqs.delete_queue(QueueUrl=queue)


ORDERED_FILE = """\
baselines:
  app:
    catalogue: ssm-parameters
    version: latest
    workload_name: "{baseline}-{account}-{region}"
    targets:
      account_types: [production]
      regions: [ap-southeast-2, us-east-1]
    depends_on: [core]
  core:
    catalogue: baseline-vpc
    version: "1.0.0"
    workload_name: "{baseline}-{account}-{region}"
    parameters: {VpcCidr: 10.42.0.0/16}
    targets:
      account_types: [production]
      regions: [ap-southeast-2, us-east-1]
"""


def test_a_baseline_that_depends_on_another_is_created_only_after_it(
    organisation: Any, tmp_path: Path
) -> None:
    """Written first in the file, ``app`` still waits: Stax receives every create of
    ``core`` (and its tasks end) before the first of ``app``."""
    path = tmp_path / "ordered.yaml"
    path.write_text(ORDERED_FILE)
    apply(path)
    posts = [r for r in write_calls(organisation)
             if r["method"] == "POST" and r["path"].endswith("/workloads")]  # fmt: skip
    assert len(posts) == len(live(organisation)) == 4
    # Stax's own record, in the order it created them.
    created = [w["Name"].split("-")[0] for w in organisation.state()["workloads"]]
    assert created == ["core", "core", "app", "app"]
    cyclic = ORDERED_FILE.replace("    parameters: {VpcCidr", "    depends_on: [app]\n"
                                  "    parameters: {VpcCidr")  # fmt: skip
    path.write_text(cyclic)
    refused = cli("plan", str(path))
    assert refused.returncode == 1 and "a cycle: app -> core -> app" in refused.stderr
