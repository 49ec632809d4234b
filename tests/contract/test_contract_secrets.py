"""Workload parameter values kept in SSM: read only as they are sent to Stax.

The real SDK against the simulator, the token and the secrets in (moto) SSM: a request
names ``{"ssm": NAME}``; Stax receives the value, nothing the orchestrator keeps holds it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from orchestrator_support import (
    Orchestrator,
    create_payload,
    execution,
    unique_name,
    workloads_named,
    writes,
)

from chalicelib.errors import WorkloadParameterUnavailable
from staxsim.control import SimulatorControl
from tests.contract.conftest import ACCESS_KEY_PARAMETER

PREFIX = ACCESS_KEY_PARAMETER.rsplit("/", 2)[0] + "/workload-parameters/"
SECRET = "s3cr3t-Passw0rd-4-contract"


@pytest.fixture()
def stored(aws: Any) -> str:
    name = f"{PREFIX}db-password"
    aws.client("ssm").put_parameter(Name=name, Value=SECRET, Type="SecureString")
    return name


def test_stax_receives_the_value_and_the_store_keeps_only_the_reference(
    orchestrator: Orchestrator, control: SimulatorControl, stored: str, aws: Any
) -> None:
    name = unique_name("secret")
    payload = create_payload(name, workload_parameters={"DbPassword": {"ssm": stored}})
    run = orchestrator.until_done("create", payload, execution())
    [workload] = workloads_named(control, name)
    assert run.result["workload_id"] == workload["Id"]
    assert len(writes(control, "POST")) == 1
    assert SECRET in json.dumps(workload.get("Parameters"))  # what Stax holds
    items = aws.client("dynamodb").scan(TableName=orchestrator.store.table_name)["Items"]
    assert items and SECRET not in json.dumps(items)
    assert SECRET not in json.dumps(run.result)


@pytest.mark.parametrize(
    "where",
    [
        "missing",
        "/orchestrator/other-stage/workload-parameters/db",
        "/orchestrator/stax/access/key",
    ],
)
def test_a_secret_that_cannot_be_read_sends_nothing_and_leaves_the_name_free(
    orchestrator: Orchestrator, control: SimulatorControl, stored: str, where: str
) -> None:
    name = unique_name("unread")
    wanted = f"{PREFIX}missing" if where == "missing" else where
    with pytest.raises(WorkloadParameterUnavailable) as refused:
        orchestrator.invoke(
            "create", create_payload(name, workload_parameters={"P": {"ssm": wanted}}), execution()
        )
    assert wanted in str(refused.value) and SECRET not in str(refused.value)
    assert writes(control, "POST") == []
    # Nothing was claimed: the same name is created at once with a readable secret.
    ok = create_payload(name, workload_parameters={"P": {"ssm": stored}})
    assert orchestrator.until_done("create", ok, execution()).result["workload_id"]
