"""Automatic baselining end to end: the post-deploy step of ``deploy.sh --baselines`` on the
session's local stage, then accounts created and moved in the simulator get their
baselines with no command run.

The simulator sends Stax's account events (its documented shape) to a MiniStack event
bus; the stage's rule queues them, ``start_account_baselines`` starts the account baseline
machine for each while one of the stage's slots is free, and the machine plans the stored file
for that account (real SDK, strict simulator with read-after-write lag) and runs the
apply fleets on the deployed fleet machine. Measured: seconds from the event to the
account's baseline workloads ACTIVE (printed; docs/baselines.md quotes a run).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from bench import burst
from tests.e2e.conftest import post_deploy, write_calls
from tests.e2e.helpers import (
    ACCOUNT_TYPES_SEED,
    BASELINE_REGIONS,
    BASELINES_FILE,
    SEED_CATALOGUE,
    live,
    typed_accounts,
)

pytestmark = pytest.mark.e2e
MACHINE = "stax-orchestrator-local-account-baseline"
RULE = "stax-orchestrator-local-account-baselines"


@pytest.fixture(scope="module")
def baselining_bus(
    deployed: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The session's stage with the two baselines of ``test_baselines`` on a fresh bus
    (the post-deploy step of ``deploy.sh --baselines``: the Lambdas are already deployed);
    afterwards as the session deployed it."""
    events = boto3.client("events")
    bus = f"stax-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    path = tmp_path_factory.mktemp("baselines") / "baselines.yaml"
    path.write_text(BASELINES_FILE)
    run = post_deploy("--baselines", str(path), "--stax-event-bus", bus,
                       "--stax-event-source", "stax.simulator")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert ["Add", "AccountEventsRule", "AWS::Events::Rule", "-"] in _changes(run.stderr)
    assert events.describe_rule(Name=RULE, EventBusName=bus)["State"] == "ENABLED"
    try:
        yield bus
    finally:
        restored = post_deploy()  # no baselining
        assert restored.returncode == 0, restored.stderr
        assert ["Remove", "AccountEventsRule", "AWS::Events::Rule"] in [
            line[:3] for line in _changes(restored.stderr)
        ]
        assert events.list_rules(EventBusName=bus)["Rules"] == []
        events.delete_event_bus(Name=bus)


def _changes(output: str) -> list[list[str]]:
    """The change set lines a deploy printed (action, resource, type, replacement)."""
    actions = ("Add", "Modify", "Remove", "Import", "Dynamic")
    return [line.split() for line in output.splitlines() if line.split()[:1] in
            [[a] for a in actions]]  # fmt: skip


@pytest.fixture()
def baselined(clean_sim: Any, baselining_bus: str) -> Iterator[Any]:
    """The seed's accounts (typed, no workloads); the simulator sends its account events
    to the stage's Stax bus."""
    clean_sim.seed(account_types=ACCOUNT_TYPES_SEED, accounts=typed_accounts())
    clean_sim.set_account_events(
        baselining_bus, endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
        region=boto3.client("events").meta.region_name, source="stax.simulator",
    )  # fmt: skip
    try:
        yield clean_sim
    finally:
        clean_sim.set_account_events(None)


def wait_for(sim: Any, names: set[str], timeout: float = 240.0) -> float:
    """Seconds until every workload in ``names`` is live and ACTIVE."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        workloads = live(sim)
        if names <= set(workloads) and all(
            workloads[n]["Status"] in ("ACTIVE", "UPDATE_COMPLETE") for n in names
        ):
            return time.monotonic() - start
        time.sleep(0.5)
    raise AssertionError(f"not ACTIVE after {timeout} s: {sorted(names - set(live(sim)))}")


def executions(sfn: Any, arn: str) -> set[str]:
    return {e["executionArn"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]}


def wait_ended(
    sfn: Any, arn: str, before: set[str], count: int, timeout: float = 120.0
) -> list[dict[str, Any]]:
    """The ``count`` executions started since ``before``, once all of them ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = executions(sfn, arn) - before
        described = [sfn.describe_execution(executionArn=e) for e in sorted(new)]
        if len(new) >= count and all(d["status"] != "RUNNING" for d in described):
            return described
        time.sleep(0.5)
    raise AssertionError(f"fewer than {count} ended executions of {arn}")


def test_a_new_account_gets_its_baselines_without_a_command_and_a_moved_one_its_new_type(
    baselined: Any, deployed: dict[str, Any], sfn: Any
) -> None:
    machine = deployed["account_baseline"]
    before = executions(sfn, machine)
    new = {"Id": str(uuid.uuid4()), "Name": "workloads-new", "AwsAccountId": "444444444444",
           "AccountType": "production"}  # fmt: skip
    baselined.seed(accounts=[new])  # Stax creates an account: an AccountCreateEvent
    seconds = wait_for(baselined, {f"network-workloads-new-{r}" for r in BASELINE_REGIONS})
    print(f"\naccount event -> 2 baseline workloads ACTIVE: {seconds:.1f} s", file=sys.stderr)
    (done,) = wait_ended(sfn, machine, before, 1)
    assert done["status"] == "SUCCEEDED", done
    others = {n for n in live(baselined) if "workloads-new" not in n}
    assert others == set(), f"another account was touched: {others}"

    # Moved to another type: an AccountUpdateEvent; its new type's baseline is applied,
    # the old one's workloads stay (an event never deletes: `apply --prune` does).
    baselined.seed(accounts=[{**new, "AccountType": "development"}])
    seconds = wait_for(baselined, {f"params-workloads-new-{r}" for r in BASELINE_REGIONS})
    print(f"account type change -> 2 baseline workloads ACTIVE: {seconds:.1f} s", file=sys.stderr)
    assert {f"network-workloads-new-{r}" for r in BASELINE_REGIONS} <= set(live(baselined))
    ended = wait_ended(sfn, machine, before, 2)
    assert [e["status"] for e in ended] == ["SUCCEEDED"] * 2, ended

    # The drift check (the schedule's Lambda) sees the network workloads as orphans now.
    answer = boto3.client("lambda").invoke(
        FunctionName="stax-orchestrator-local-check_baseline_drift",
        Payload=json.dumps({"bucket": deployed["fleet_bucket"]}),
    )
    drift = json.loads(answer["Payload"].read())
    assert drift["drifted"] is True and drift["totals"]["delete"] == 2, drift


def test_a_baseline_that_fails_for_a_new_account_fails_the_execution_by_name(
    baselined: Any, deployed: dict[str, Any], sfn: Any
) -> None:
    machine = deployed["account_baseline"]
    before = executions(sfn, machine)
    baselined.fail_next_tasks(None, name_regex="^network-workloads-broken-")
    try:
        baselined.seed(accounts=[{"Id": str(uuid.uuid4()), "Name": "workloads-broken",
                                  "AwsAccountId": "555555555555",
                                  "AccountType": "production"}])  # fmt: skip
        ended = wait_ended(sfn, machine, before, 1, timeout=240)
    finally:
        baselined.clear_task_failures()
    (failed,) = [e for e in ended if e["status"] == "FAILED"]
    assert failed.get("error") == "AccountBaselineFailed", failed
    cause = json.loads(failed["cause"])
    assert [r["baseline"] for r in cause["results"]] == ["network"]
    assert cause["results"][0]["ok"] is False
    assert "VpcCidr" not in failed["cause"]  # no workload parameter in what alerts carry


def test_an_event_delivered_twice_while_its_first_run_goes_on_writes_to_stax_once(
    baselined: Any, deployed: dict[str, Any], sfn: Any
) -> None:
    """EventBridge delivers at least once: the same event again (its id unchanged) asks for
    the execution name the first delivery took, and starts nothing. The same event started
    by hand is a second account baseline while the first runs; its fleets carry the same
    names, which Step Functions refuses to start twice: Stax gets one create per target."""
    machine = deployed["account_baseline"]
    before = executions(sfn, machine)
    new = {"Id": str(uuid.uuid4()), "Name": "workloads-twice", "AwsAccountId": "555555555555",
           "AccountType": "production"}  # fmt: skip
    baselined.seed(accounts=[new])
    deadline = time.monotonic() + 60
    while not (started := executions(sfn, machine) - before):
        assert time.monotonic() < deadline, "the account event started nothing"
        time.sleep(0.2)
    (first,) = started
    event = sfn.describe_execution(executionArn=first)["input"]
    assert first.endswith(f":account-{json.loads(event)['id']}")  # named by the event's id
    # EventBridge delivers it again: the queue gets the same event a second time.
    sqs = boto3.client("sqs")
    queue = sqs.get_queue_url(QueueName="stax-orchestrator-local-account-events")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=event)
    # And someone starts the machine by hand with it.
    sfn.start_execution(stateMachineArn=machine, input=event)
    names = {f"network-workloads-twice-{r}" for r in BASELINE_REGIONS}
    wait_for(baselined, names)
    time.sleep(3)  # the second delivery has been handled (the queue starts within a second)
    both = wait_ended(sfn, machine, before, 2)
    assert len(executions(sfn, machine) - before) == 2  # the redelivery started nothing
    assert [d["status"] for d in both] == ["SUCCEEDED", "SUCCEEDED"], both
    creates = [r for r in write_calls(baselined)
               if r["method"] == "POST" and r["path"].endswith("/workloads")]  # fmt: skip
    assert len(creates) == len(names) == 2


#: The session's file with ``params`` for production accounts too, after ``network``.
DEPENDENT_FILE = BASELINES_FILE.replace(
    "      account_types: [development]", "      account_types: [production]"
).replace("    max_concurrency: 4\n", "    max_concurrency: 4\n    depends_on: [network]\n")


def test_a_baseline_whose_dependency_failed_in_the_account_is_not_started(
    baselined: Any, deployed: dict[str, Any], sfn: Any
) -> None:
    assert "depends_on: [network]" in DEPENDENT_FILE
    s3, bucket = boto3.client("s3"), deployed["fleet_bucket"]
    # The stored file, as deploy.sh --baselines stores it (the local operator may write it).
    s3.put_object(Bucket=bucket, Key="baselines/baselines.yaml", Body=DEPENDENT_FILE.encode())
    machine = deployed["account_baseline"]
    before = executions(sfn, machine)
    baselined.fail_next_tasks(None, name_regex="^network-workloads-dependent-")
    try:
        baselined.seed(accounts=[{"Id": str(uuid.uuid4()), "Name": "workloads-dependent",
                                  "AwsAccountId": "666666666666",
                                  "AccountType": "production"}])  # fmt: skip
        (ended,) = wait_ended(sfn, machine, before, 1, timeout=240)
    finally:
        baselined.clear_task_failures()
        s3.put_object(Bucket=bucket, Key="baselines/baselines.yaml", Body=BASELINES_FILE.encode())
    assert (ended["status"], ended.get("error")) == ("FAILED", "AccountBaselineFailed"), ended
    results = {r["baseline"]: r for r in json.loads(ended["cause"])["results"]}
    assert results["network"]["ok"] is False
    assert (results["params"]["ok"], results["params"]["error"]) == (
        False, "BaselineDependencyFailed"
    )  # fmt: skip
    created = {n for n in live(baselined) if n.endswith("workloads-dependent-us-east-1")
               or n.endswith("workloads-dependent-ap-southeast-2")}  # fmt: skip
    assert not {n for n in created if n.startswith("params-")}, created  # never started


def test_an_account_whose_name_makes_no_valid_workload_name_fails_alone(
    baselined: Any, deployed: dict[str, Any], sfn: Any
) -> None:
    # Two accounts at once: one whose name cannot be part of a workload name (the file's
    # "{baseline}-{account}-{region}"), one ordinary. Each event is its own execution.
    machine = deployed["account_baseline"]
    before = executions(sfn, machine)
    bad = {"Id": str(uuid.uuid4()), "Name": "Finance (EU) #1", "AwsAccountId": "777777777777",
           "AccountType": "production"}  # fmt: skip
    good = {"Id": str(uuid.uuid4()), "Name": "workloads-fine", "AwsAccountId": "888888888888",
            "AccountType": "production"}  # fmt: skip
    baselined.seed(accounts=[bad, good])
    wait_for(baselined, {f"network-workloads-fine-{r}" for r in BASELINE_REGIONS})
    ended = wait_ended(sfn, machine, before, 2, timeout=240)
    by_account = {json.loads(e["input"])["detail"]["accountId"]: e for e in ended}
    assert by_account[good["Id"]]["status"] == "SUCCEEDED"
    failed = by_account[bad["Id"]]
    assert (failed["status"], failed.get("error")) == ("FAILED", "InvalidBaselines"), failed
    assert "Finance (EU) #1" in failed["cause"]  # the account is named in what alerts carry
    assert not [n for n in live(baselined) if "Finance" in n]


def test_a_burst_of_50_new_accounts_is_baselined_never_more_than_the_limit_at_once(
    baselined: Any, deployed: dict[str, Any], sfn: Any, alerts: Callable[[], list[dict[str, Any]]]
) -> None:
    """Stax creates 50 accounts at once (one seed: 50 AccountCreateEvents). The rule queues
    them; the starter starts an account baseline per event only while one of the stage's
    slots is free. Every account is baselined but two, each failing alone, by name, with an
    alert: one whose name makes no workload name, one where a workload without the
    baseline's tag holds a target's name."""
    machine = deployed["account_baseline"]
    limit = burst.limit_of(boto3.client("lambda"))
    listed = sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]
    before = {e["executionArn"] for e in listed}
    *accounts, stray = burst.burst_accounts(49, "burst")
    broken = {"Id": str(uuid.uuid4()), "Name": "Burst (broken) #50", "AwsAccountId": "999999999990",
              "AccountType": "production"}  # fmt: skip
    # A workload without the baseline's tag already holds one of the stray account's names.
    catalogue = next(c for c in SEED_CATALOGUE if c["Name"] == "baseline-vpc")
    holder = {"Id": str(uuid.uuid4()), "Name": f"network-{stray['Name']}-us-east-1",
              "AccountId": stray["Id"], "Region": "us-east-1", "CatalogueId": catalogue["Id"],
              "CatalogueVersionId": catalogue["Versions"][0]["Id"],
              "Parameters": {"VpcCidr": "10.0.0.0/16"}, "Tags": {"Owner": "someone"}}  # fmt: skip
    started = time.monotonic()
    baselined.seed(accounts=[*accounts, stray, broken], workloads=[holder])
    times = burst.baselined_after(baselined, accounts, len(BASELINE_REGIONS), 200, started)
    assert len(times) == 48, f"not baselined: {sorted({a['Name'] for a in accounts} - set(times))}"
    ended = burst.wait_executions(sfn, machine, before, 50, timeout=60)
    assert len(ended) == 50  # one account baseline per event, none twice
    at_once = burst.most_at_once(burst.slot_intervals(sfn, ended))
    values = sorted(times.values())
    print(f"\n50 accounts at once, limit {limit}: at most {at_once} baselines at once; event -> "
          f"ACTIVE p50 {values[24]:.1f} s, max {values[-1]:.1f} s", file=sys.stderr)  # fmt: skip
    assert 2 <= at_once <= limit
    described = [sfn.describe_execution(executionArn=arn) for arn in ended]
    failed = {json.loads(d["input"])["detail"]["accountId"]: d
              for d in described if d["status"] != "SUCCEEDED"}  # fmt: skip
    assert set(failed) == {broken["Id"], stray["Id"]}  # each fails alone, by name
    assert failed[broken["Id"]].get("error") == "InvalidBaselines"
    assert failed[stray["Id"]].get("error") == "BaselineConflict"
    assert holder["Name"] in failed[stray["Id"]]["cause"]
    deadline = time.monotonic() + 60
    arns = {d["executionArn"] for d in failed.values()}
    while arns - {a.get("execution_arn") for a in alerts()}:
        assert time.monotonic() < deadline, "a failed account baseline did not alert"
        time.sleep(1)
    queue = boto3.client("sqs").get_queue_url(
        QueueName="stax-orchestrator-local-account-events-dlq"
    )
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue["QueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"  # waiting is not failing
