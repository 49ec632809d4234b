"""A workload parameter kept in SSM reaches Stax, and nothing else the stage writes.

The deployed local stage: the value is a SecureString under the stage's secrets folder
(``/stax-orchestrator/local/workload-parameters/``); the workload machine's input names it
(``{"ssm": NAME}``); the create Lambda reads it (its role may read that folder only) as it
sends the create. The execution's history and output, the coordination store and the
Lambdas' logs never hold the value.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from staxsim.control import SimulatorControl
from tests.e2e.conftest import create_payload, history, run_execution, unique_name, workloads_named

pytestmark = pytest.mark.e2e

FOLDER = "/stax-orchestrator/local/workload-parameters/"


@pytest.fixture()
def secret() -> Iterator[tuple[str, str]]:
    ssm = boto3.client("ssm")
    name, value = f"{FOLDER}e2e-{uuid.uuid4().hex[:8]}", f"Pw-{uuid.uuid4().hex}"
    ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    yield name, value
    ssm.delete_parameter(Name=name)


def test_the_value_reaches_stax_and_no_record_of_the_stage(
    deployed: dict[str, Any], sfn: Any, sim: SimulatorControl, secret: tuple[str, str]
) -> None:
    name, value = secret
    workload = unique_name("secret")
    payload = create_payload(workload, workload_parameters={"DbPassword": {"ssm": name}})
    done = run_execution(sfn, deployed["workload"], payload, timeout=180)
    assert done["status"] == "SUCCEEDED", done.get("cause")
    [created] = workloads_named(sim, workload)
    assert value in json.dumps(created.get("Parameters"))
    events = history(sfn, done["executionArn"])
    assert name in json.dumps(events, default=str)  # the reference travels
    assert value not in json.dumps(events, default=str) + json.dumps(done, default=str)
    table = boto3.client("dynamodb").scan(TableName=deployed["table"].rsplit("/", 1)[-1])
    assert value not in json.dumps(table["Items"])
    deleted = run_execution(
        sfn, deployed["workload"],
        {"operation": "delete", "workload_id": json.loads(done["output"])["workload_id"]},
        timeout=180,
    )  # fmt: skip
    assert deleted["status"] == "SUCCEEDED", deleted.get("cause")


def test_a_request_naming_another_stages_secret_fails_before_any_write(
    deployed: dict[str, Any], sfn: Any, sim: SimulatorControl
) -> None:
    workload = unique_name("theirs")
    other = {"ssm": "/stax-orchestrator/prod/workload-parameters/db-password"}
    done = run_execution(
        sfn, deployed["workload"], create_payload(workload, workload_parameters={"Db": other})
    )
    assert (done["status"], done.get("error")) == ("FAILED", "InvalidWorkloadRequest"), done
    assert "workload_parameters.Db" in done["cause"]
    assert workloads_named(sim, workload) == []
