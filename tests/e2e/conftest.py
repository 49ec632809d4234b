"""Fixtures of the end-to-end tier: the running local stack and a deployed `local` stage.

These tests need MiniStack and the Stax simulator (``make local-up``; ``make
test`` starts them). Without them the tests are skipped when run by hand, and
fail when ``STAX_REQUIRE_LOCAL_STACK=1`` (as ``make test`` and CI set it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from stax_orchestrator.follow import execution_history
from stax_orchestrator.local_env import LOCAL_OPERATOR
from staxsim.control import SimulatorControl

ROOT = Path(__file__).resolve().parents[2]
#: The local stack's seed file: what ``make local-up`` loads into the simulator.
SEED_FILE = json.loads((ROOT / "local" / "seed.json").read_text())
#: What each test starts from: the organisation, account types, accounts and catalogue,
#: but none of the seed's workloads (each test makes its own; the examples' test seeds them).
SEED = {key: value for key, value in SEED_FILE.items() if key != "workloads"}
MINISTACK_URL = "https://127.0.0.1:4566"
SIM_URL = "https://127.0.0.1:8443"
ACCOUNT_ID = SEED["accounts"][0]["Id"]
CATALOGUE = SEED["catalogue"][0]
CATALOGUE_ID = CATALOGUE["Id"]
VERSION_1 = CATALOGUE["Versions"][0]["Id"]
VERSION_2 = CATALOGUE["Versions"][1]["Id"]
WRITE_METHODS = {"POST", "PUT", "DELETE"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The secrets check reads what every other test produced: it runs last."""
    last = [item for item in items if item.nodeid.startswith("tests/e2e/test_secrets.py")]
    for item in last:
        items.remove(item)
    items.extend(last)


def _stack_is_up() -> str | None:
    if not os.environ.get("REQUESTS_CA_BUNDLE"):
        return 'REQUESTS_CA_BUNDLE is not set: eval "$(make -s local-env)"'
    try:
        requests.get(f"{MINISTACK_URL}/_ministack/health", timeout=2).raise_for_status()
    except requests.RequestException as error:
        return f"MiniStack is not answering at {MINISTACK_URL} ({type(error).__name__})"
    try:
        requests.get(f"{SIM_URL}/_sim/health", timeout=2).raise_for_status()
    except requests.RequestException as error:
        return f"the Stax simulator is not answering at {SIM_URL} ({type(error).__name__})"
    return None


def require_local_stack(problem: str | None) -> None:
    """Skip (run by hand) or fail (``STAX_REQUIRE_LOCAL_STACK=1``) when ``problem`` says the
    local stack is not there."""
    if problem:
        if os.environ.get("STAX_REQUIRE_LOCAL_STACK") == "1":
            pytest.fail(f"local stack required: {problem}")
        pytest.skip(f"local stack not running ({problem}); run `make local-up`")


@pytest.fixture(scope="session")
def local_stack() -> None:
    require_local_stack(_stack_is_up())


@pytest.fixture(scope="session")
def sim(local_stack: None) -> Iterator[SimulatorControl]:
    with SimulatorControl(SIM_URL) as control:
        yield control


#: The simulator's strict realism, as every test starts with it: Tags only by id with
#: include_tags, new records visible after 1 s, nullable fields null in a quarter of the
#: answers (seeded, so a failing run can be repeated).
REALISM = {"strict": True, "read_after_write_lag_seconds": 1.0, "null_share": 0.25,
           "seed": 20261201}  # fmt: skip


@pytest.fixture()
def clean_sim(sim: SimulatorControl) -> SimulatorControl:
    """The strict simulator with fresh seed data, no faults, quick tasks, an empty log."""
    sim.reset()
    sim.set_realism(**REALISM)
    sim.seed(**SEED)
    sim.set_task_durations(started=0.3, pending=0.3, running=1.0)
    return sim


@pytest.fixture
def no_name_claims(deployed: dict[str, Any]) -> None:
    """No workload name claimed in the stage's coordination table, as after its first
    deploy. An earlier test's claim holds its name for the visibility grace (two minutes)
    after the reset simulator forgot the workload, so tests that create the examples'
    fixed names start from here."""
    from stax_orchestrator.deploy.names import Target

    table = Target("local", "us-east-1", "000000000000").table_name
    dynamodb = boto3.client("dynamodb")
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="begins_with(pk, :name)",
        ExpressionAttributeValues={":name": {"S": "name#"}},
        ProjectionExpression="pk, sk",
    )
    for page in pages:
        for item in page["Items"]:
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


@pytest.fixture
def as_shipped(clean_sim: SimulatorControl, no_name_claims: None) -> SimulatorControl:
    """The local stack as a new user finds it after ``make local-up`` and a deploy: the
    whole seed, its workloads too, and no name claimed yet."""
    clean_sim.seed(workloads=SEED_FILE["workloads"])
    return clean_sim


#: The deploying user's key, made by ``local/bootstrap.py`` with the deployer policy.
DEPLOYER_FILE = ROOT / ".local" / "deployer.json"


def deployer_env() -> dict[str, str]:
    """Credentials of the local stack's deploying user (not the account's root keys)."""
    key = json.loads(DEPLOYER_FILE.read_text())
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}  # fmt: skip


def deploy_local() -> subprocess.CompletedProcess[str]:
    """Run the real ``./deploy.sh --stage local`` as the deploying user (as ``make
    deploy-local`` does: the local CLI may write fleet requests)."""
    return subprocess.run(
        ["./deploy.sh", "--stage", "local", "--bucket-writer", LOCAL_OPERATOR],
        cwd=ROOT,
        env={**os.environ, **deployer_env()},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def post_deploy(*flags: str) -> subprocess.CompletedProcess[str]:
    """Run only the post-deploy step of ``deploy.sh`` for the `local` stage (the Lambdas the
    session deployed stay as they are)."""
    return subprocess.run(
        [sys.executable, "-m", "stax_orchestrator.deploy", "post-deploy", "--stage", "local",
         "--bucket-writer", LOCAL_OPERATOR, *flags],
        cwd=ROOT, env={**os.environ, **deployer_env()}, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture(scope="session")
def deployed(local_stack: None) -> dict[str, Any]:
    """Deploy the `local` stage once per session with the real deploy.sh."""
    run = deploy_local()
    if run.returncode != 0:
        pytest.fail(f"deploy.sh failed:\n{run.stdout}\n{run.stderr}")
    result: dict[str, Any] = json.loads(
        (ROOT / ".chalice" / "deployed" / "local-statemachines.json").read_text()
    )
    result["deploy_output"] = run.stdout + run.stderr
    return result


@pytest.fixture(scope="session")
def sfn(local_stack: None) -> Any:
    return boto3.client("stepfunctions")


def unique_name(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def run_execution(
    sfn: Any, state_machine_arn: str, payload: Any, timeout: float = 120.0
) -> dict[str, Any]:
    """Start an execution and wait for its end; returns describe_execution's answer."""
    started = sfn.start_execution(stateMachineArn=state_machine_arn, input=json.dumps(payload))
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=started["executionArn"])
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"execution still RUNNING after {timeout}s: {described}")
        time.sleep(0.25)


history = execution_history


def workloads_named(sim: SimulatorControl, name: str) -> list[dict[str, Any]]:
    return [w for w in sim.state()["workloads"] if w["Name"] == name]


def write_calls(sim: SimulatorControl) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if r["method"] in WRITE_METHODS]


def create_payload(name: str, **overrides: Any) -> dict[str, Any]:
    payload = {
        "operation": "create",
        "aws_account_id": ACCOUNT_ID,
        "aws_region": "ap-southeast-2",
        "catalogue_id": CATALOGUE_ID,
        "catalogue_version_id": VERSION_1,
        "workload_name": name,
        "workload_parameters": {"VpcCidr": "10.0.0.0/16"},
        "workload_tags": {"CostCode": "12345"},
    }
    payload.update(overrides)
    return payload


@pytest.fixture(scope="module")
def alerts(deployed: dict[str, Any]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """An SQS queue subscribed to the alert topic; the callable returns what arrived so far."""
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName=f"alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    # As on AWS, the queue must let the topic send to it (IAM is evaluated locally too).
    delivery = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": deployed["alert_topic"]}}}]}  # fmt: skip
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(delivery)})
    subscription = sns.subscribe(
        TopicArn=deployed["alert_topic"],
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    received: list[dict[str, Any]] = []

    def drain() -> list[dict[str, Any]]:
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            messages = batch.get("Messages", [])
            if not messages:
                return received
            for message in messages:
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    yield drain
    sns.unsubscribe(SubscriptionArn=subscription)
    sqs.delete_queue(QueueUrl=url)
