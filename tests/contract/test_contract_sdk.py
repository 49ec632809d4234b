"""The unmodified staxapp SDK's request path against the simulator (Cognito stubbed).

The e2e tests run the SDK's full path (Cognito SRP on MiniStack included). Here only the
credential step is replaced - the SDK's ``auth_class`` hook returns the same
``AWSRequestsAuth`` signer the SDK builds, with dummy credentials - so that the SDK's own
config fetch, operation mapping, request validation, signing and error handling run
against the simulator in the fast test set. TLS trust comes from ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_requests_auth.aws_auth import AWSRequestsAuth
from contract_support import ACCOUNT_DEV, CATALOGUE_VPC, UNKNOWN_ID, VPC_V1, wait_for
from orchestrator_support import dummy_signer
from staxapp.config import Config
from staxapp.exceptions import ApiException
from staxapp.openapi import StaxClient

from staxsim.control import SimulatorControl
from staxsim.server import SimulatorServer


class DummyCredentialsAuth:
    """Stands in for ``ApiTokenAuth``: the SDK's signer with dummy temporary credentials."""

    @staticmethod
    def requests_auth(config: Config, **kwargs: Any) -> AWSRequestsAuth:
        return dummy_signer(config, config.api_config["ApiAuth"]["region"])


@pytest.fixture
def workloads(
    server: SimulatorServer, tls: Any, control: SimulatorControl, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StaxClient]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls.ca)
    monkeypatch.setattr(Config, "load_live_schema", False)
    monkeypatch.setattr(Config, "auth_class", DummyCredentialsAuth)
    monkeypatch.setattr(Config, "cached_api_config", {})
    config = Config(hostname=f"127.0.0.1:{server.port}", access_key="unused", secret_key="unused")
    yield StaxClient("workloads", config=config)


def test_sdk_workload_round_trip(
    workloads: StaxClient, control: SimulatorControl, server: SimulatorServer
) -> None:
    control.set_task_durations(started=0, pending=0, running=0.05)
    tasks = StaxClient("tasks", config=workloads._config)
    assert workloads.ReadWorkloads(name="sdk-wl")["Workloads"] == []
    created = workloads.CreateWorkload(
        Name="sdk-wl",
        AccountId=ACCOUNT_DEV,
        CatalogueId=CATALOGUE_VPC,
        Region="us-east-1",
        Parameters=[{"Key": "A", "Value": "1"}],
        Tags={"Owner": "tests"},
    )
    task_id = created["Detail"]["Workload"]["TaskId"]
    workload_id = created["Detail"]["Workload"]["WorkloadId"]
    wait_for(lambda: tasks.ReadTask(task_id=task_id)["Status"] == "SUCCEEDED")
    read = workloads.ReadWorkloads(workload_id=workload_id)["Workloads"][0]
    assert read["Status"] == "ACTIVE"

    updated = workloads.UpdateWorkload(workload_id=workload_id, CatalogueVersionId=VPC_V1)
    wait_for(
        lambda: (
            tasks.ReadTask(task_id=updated["Detail"]["Workload"]["TaskId"])["Status"] == "SUCCEEDED"
        )
    )
    deleted = workloads.DeleteWorkload(workload_id=workload_id)
    wait_for(
        lambda: (
            tasks.ReadTask(task_id=deleted["Detail"]["Workload"]["TaskId"])["Status"] == "SUCCEEDED"
        )
    )
    assert workloads.ReadWorkloads(workload_id=workload_id)["Workloads"][0]["Status"] == "DELETED"
    operations = [e["operation"] for e in control.requests()]
    assert operations.count("workloads.CreateWorkload") == 1
    assert "public.ReadConfig" in operations


def test_sdk_sees_the_error_text(workloads: StaxClient) -> None:
    with pytest.raises(ApiException) as caught:
        workloads.CreateWorkload(
            Name="sdk-bad", AccountId=UNKNOWN_ID, CatalogueId=CATALOGUE_VPC, Region="us-east-1"
        )
    assert caught.value.status_code == 400
    assert "AccountId:" in str(caught.value)  # the SDK reads the body's "Error"
    with pytest.raises(ApiException) as caught:
        workloads.ReadWorkloads(workload_id=UNKNOWN_ID)
    assert caught.value.status_code == 404


def test_sdk_round_trip_under_the_strict_defaults(
    workloads: StaxClient, strict_defaults: SimulatorControl
) -> None:
    """The real SDK against 1 s read-after-write lag, a quarter of responses nulled,
    no convenience fields: what a client of real Stax has to cope with."""
    strict_defaults.set_task_durations(started=0, pending=0, running=0.05)
    tasks = StaxClient("tasks", config=workloads._config)
    created = workloads.CreateWorkload(
        Name="sdk-strict",
        AccountId=ACCOUNT_DEV,
        CatalogueId=CATALOGUE_VPC,
        Region="us-east-1",
        Tags={"Owner": "tests"},
    )
    assert "WorkloadId" not in created and "TaskId" not in created["Detail"]
    task_id = created["Detail"]["Workload"]["TaskId"]
    workload_id = created["Detail"]["Workload"]["WorkloadId"]
    with pytest.raises(ApiException) as caught:  # not readable yet
        tasks.ReadTask(task_id=task_id)
    assert caught.value.status_code == 404
    assert workloads.ReadWorkloads(name="sdk-strict")["Workloads"] == []

    def task_status() -> str | None:
        try:
            return str(tasks.ReadTask(task_id=task_id)["Status"])
        except ApiException as error:
            if error.status_code == 404:
                return None
            raise

    wait_for(lambda: task_status() == "SUCCEEDED", timeout=5, interval=0.05)
    [listed] = workloads.ReadWorkloads(name="sdk-strict")["Workloads"]
    assert "Tags" not in listed and listed["Status"] == "ACTIVE"
    [read] = workloads.ReadWorkloads(workload_id=workload_id, include_tags=True)["Workloads"]
    assert read["Tags"] in ({"Owner": "tests"}, None)  # the document lets Tags be null

    deleted = workloads.DeleteWorkload(workload_id=workload_id)
    delete_task = deleted["Detail"]["Workload"]["TaskId"]
    wait_for(lambda: _succeeded(tasks, delete_task), timeout=5, interval=0.05)
    with pytest.raises(ApiException) as caught:
        workloads.DeleteWorkload(workload_id=workload_id)
    assert caught.value.status_code == 404


def _succeeded(tasks: StaxClient, task_id: str) -> bool:
    try:
        return bool(tasks.ReadTask(task_id=task_id)["Status"] == "SUCCEEDED")
    except ApiException as error:
        if error.status_code == 404:
            return False
        raise
