"""chalicelib in-process, against the strict simulator with the real SDK and MiniStack's DynamoDB.

The same code the Lambdas run, wired as they are: the token read from MiniStack's SSM,
the real Cognito SRP login on MiniStack, the coordination table on MiniStack. What only
this wiring can show: one login and one client for every call of a retried create, and
one TLS connection reused by warm calls. The exactly-once rules themselves, the gateway's
error mapping and timeouts are proven in the contract tier
(``tests/contract/test_contract_exactly_once.py``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib import operations
from chalicelib.coordination import CoordinationStore
from chalicelib.errors import WorkloadAlreadyExists
from chalicelib.settings import CoordinationSettings, stax_settings
from chalicelib.stax import SsmCredentials, StaxAccess
from chalicelib.validation import load_operation_request
from stax_orchestrator.deploy.stage import load_stage
from tests.e2e.conftest import create_payload, workloads_named
from tests.e2e.helpers import TABLE

pytestmark = pytest.mark.e2e


def _access() -> StaxAccess:
    """A container's StaxAccess as the Lambdas build it from the local stage's settings."""
    settings = stax_settings({**os.environ, **load_stage("local").environment()})
    credentials = SsmCredentials(
        lambda: boto3.client("ssm"),
        settings.access_key_parameter,
        settings.secret_key_parameter,
        ttl_seconds=300,
    )
    return StaxAccess(settings, credentials)


@pytest.fixture(scope="module")
def table(deployed: dict[str, Any]) -> str:
    """The deployed stage's table (its stack owns it: a table made here first would make
    the stack's create fail, as on AWS)."""
    return TABLE


@pytest.fixture()
def access(clean_sim: Any) -> Iterator[StaxAccess]:
    yield _access()


@pytest.fixture()
def services(access: StaxAccess, table: str) -> operations.Services:
    client = boto3.client("dynamodb")
    store = CoordinationStore(lambda: client, table)
    settings = CoordinationSettings(table, write_settle_seconds=3, visibility_grace_seconds=30)
    return operations.Services(access, store, settings, deadline=time.time() + 5)


def _execution() -> str:
    return f"arn:aws:states:us-east-1:000000000000:execution:m:{uuid.uuid4()}"


def _request(operation: str, payload: dict[str, Any], execution: str | None) -> dict[str, Any]:
    request = load_operation_request(operation, payload)
    if execution:
        request["orchestration"] = {"execution_id": execution}
    return request


def _create(services: operations.Services, name: str, execution: str | None) -> dict[str, Any]:
    return operations.create_workload(_request("create", create_payload(name), execution), services)


def test_a_retried_create_adopts_its_own_workload_and_never_posts_twice(
    services: operations.Services, clean_sim: Any
) -> None:
    name = f"retry-{uuid.uuid4().hex[:8]}"
    execution = _execution()
    first = _create(services, name, execution)
    again = _create(services, name, execution)  # the Step Functions retry of the same execution
    assert again["workload_id"] == first["workload_id"]
    assert again["task_id"] == first["task_id"]
    assert len(workloads_named(clean_sim, name)) == 1
    with pytest.raises(WorkloadAlreadyExists) as raised:
        _create(services, name, _execution())
    assert raised.value.details["workload_id"] == first["workload_id"]
    assert services.access.gateways_built == 1  # one client, one login, for every call above
    posts = [r for r in clean_sim.requests() if r["method"] == "POST"]
    assert len(posts) == 1


def test_warm_calls_reuse_one_tls_connection(access: StaxAccess, clean_sim: Any) -> None:
    gateway = access.gateway()
    gateway.find_workloads_by_name("warm-up")
    before = clean_sim.stats()["connections"]["tls_established"]
    for _ in range(5):
        gateway.find_workloads_by_name("anything")
        gateway.list_catalogue()
    assert clean_sim.stats()["connections"]["tls_established"] == before
