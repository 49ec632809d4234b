"""chalicelib.stax and chalicelib.operations in-process, against the simulator with the real SDK.

The same code the Lambdas run, with the token read from MiniStack's SSM: the gateway's
typed calls and error mapping, client reuse, and the idempotent create a retry relies on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib import operations
from chalicelib.errors import StaxRequestRejected, WorkloadAlreadyExists, WorkloadNotFound
from chalicelib.polling import PollSchedule
from chalicelib.schemas import load_operation_request
from chalicelib.settings import stax_settings
from chalicelib.stax import SsmCredentials, StaxAccess
from tests.e2e.conftest import create_payload, workloads_named

pytestmark = pytest.mark.e2e


@pytest.fixture()
def access(clean_sim: Any) -> Iterator[StaxAccess]:
    settings = stax_settings()
    credentials = SsmCredentials(
        lambda: boto3.client("ssm"),
        settings.access_key_parameter,
        settings.secret_key_parameter,
        ttl_seconds=300,
    )
    yield StaxAccess(settings, credentials)


def _create(access: StaxAccess, name: str, execution_id: str | None) -> dict[str, Any]:
    request = load_operation_request("create", create_payload(name))
    if execution_id:
        request["orchestration"] = {"execution_id": execution_id}
    return operations.create_workload(request, access)


def test_a_retried_create_adopts_its_own_workload(access: StaxAccess, clean_sim: Any) -> None:
    name = f"retry-{uuid.uuid4().hex[:8]}"
    execution = f"arn:aws:states:us-east-1:000000000000:execution:m:{uuid.uuid4()}"
    first = _create(access, name, execution)
    again = _create(access, name, execution)  # the Step Functions retry of the same execution
    assert again["workload_id"] == first["workload_id"]
    assert again["task_id"] == first["task_id"]
    assert len(workloads_named(clean_sim, name)) == 1
    with pytest.raises(WorkloadAlreadyExists) as raised:
        _create(access, name, "arn:aws:states:us-east-1:000000000000:execution:m:other")
    assert raised.value.details["workload_id"] == first["workload_id"]
    assert access.gateways_built == 1  # one client, one login, for every call above


def test_task_status_update_delete_and_error_mapping(access: StaxAccess, clean_sim: Any) -> None:
    created = _create(access, f"mod-{uuid.uuid4().hex[:8]}", None)
    status = operations.get_task_status(
        {"task_id": created["task_id"], "polls": 0}, access, PollSchedule(1, 5, 0.2)
    )
    assert status["status"] in ("STARTED", "PENDING", "RUNNING", "SUCCEEDED")
    assert status["polls"] == 1 and status["next_wait_seconds"] == 1
    assert status["logs_tail"]

    with pytest.raises(WorkloadNotFound):
        operations.delete_workload(
            {"operation": "delete", "workload_id": str(uuid.uuid4())}, access
        )
    unknown_catalogue = create_payload("unknown-catalogue", catalogue_id=str(uuid.uuid4()))
    with pytest.raises(StaxRequestRejected) as rejected:
        operations.create_workload(load_operation_request("create", unknown_catalogue), access)
    assert rejected.value.details["status"] == 400
    assert "CatalogueId" in rejected.value.details["stax_error"]

    others = [_create(access, f"page-{i}-{uuid.uuid4().hex[:6]}", None) for i in range(2)]
    listed = list(access.gateway().list_workloads(page_size=1))  # three pages of one
    expected = {created["workload_id"], *(o["workload_id"] for o in others)}
    assert {w["Id"] for w in listed} == expected and len(listed) == 3
