"""The local stack itself: MiniStack's error names, and the unmodified Stax SDK end to end.

The SDK is configured only through its public settings (hostname, access key,
secret, ``load_live_schema``) plus ``REQUESTS_CA_BUNDLE`` and
``AWS_ENDPOINT_URL`` from the environment: config fetch, Cognito SRP login on
MiniStack, identity-pool credentials, SigV4-signed calls to the simulator.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from tests.e2e.conftest import ACCOUNT_ID, CATALOGUE_ID, SIM_URL, VERSION_1, VERSION_2
from tests.e2e.helpers import LOCAL_TOKEN

pytestmark = pytest.mark.e2e

ERROR_LAMBDA = '''
class WorkloadAlreadyExists(Exception):
    """A custom exception: its class name must reach Step Functions."""

def handler(event, context):
    raise WorkloadAlreadyExists("name taken")
'''


def test_custom_exception_name_reaches_a_catch(local_stack: None) -> None:
    lam, sfn = boto3.client("lambda"), boto3.client("stepfunctions")
    name = f"error-name-{uuid.uuid4().hex[:8]}"
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", ERROR_LAMBDA)
    # Under AUTH=true a function's role must exist (it runs as that role).
    iam = boto3.client("iam")
    lambda_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    function_role = iam.create_role(
        RoleName=f"{name}-fn", AssumeRolePolicyDocument=json.dumps(lambda_trust)
    )["Role"]["Arn"]
    function_arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=function_role,
        Handler="handler.handler",
        Code={"ZipFile": package.getvalue()},
    )["FunctionArn"]
    definition = {
        "StartAt": "Raise",
        "States": {
            "Raise": {
                "Type": "Task",
                "Resource": function_arn,
                "Catch": [
                    {
                        "ErrorEquals": ["WorkloadAlreadyExists"],
                        "ResultPath": "$.caught",
                        "Next": "Caught",
                    }
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    # The machine's role must trust Step Functions and allow the invoke (the local stack
    # evaluates both, as AWS does).
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "states.amazonaws.com"}}]}  # fmt: skip
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    allow = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn}]}  # fmt: skip
    iam.put_role_policy(RoleName=name, PolicyName="invoke", PolicyDocument=json.dumps(allow))
    machine = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=role["Arn"]
    )["stateMachineArn"]
    try:
        invoked = lam.invoke(FunctionName=name, Payload=b"{}")
        assert json.loads(invoked["Payload"].read())["errorType"] == "WorkloadAlreadyExists"
        execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        for _ in range(100):
            described = sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                break
            time.sleep(0.1)
        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["output"])["caught"]["Error"] == "WorkloadAlreadyExists"
    finally:
        sfn.delete_state_machine(stateMachineArn=machine)
        lam.delete_function(FunctionName=name)
        iam.delete_role_policy(RoleName=name, PolicyName="invoke")
        iam.delete_role(RoleName=name)
        iam.delete_role(RoleName=f"{name}-fn")


@pytest.fixture()
def sdk(clean_sim: Any) -> Iterator[Any]:
    """The SDK's public Config pointed at the simulator with the bootstrapped token."""
    from staxapp.config import Config

    ssm = boto3.client("ssm")
    saved = (Config.hostname, Config.access_key, Config.secret_key, Config.load_live_schema)
    Config.hostname = SIM_URL.removeprefix("https://")
    Config.access_key = ssm.get_parameter(Name=LOCAL_TOKEN[0], WithDecryption=True)["Parameter"][
        "Value"
    ]
    Config.secret_key = ssm.get_parameter(Name=LOCAL_TOKEN[1], WithDecryption=True)["Parameter"][
        "Value"
    ]
    Config.load_live_schema = False
    yield Config
    Config.hostname, Config.access_key, Config.secret_key, Config.load_live_schema = saved


def test_unmodified_sdk_runs_the_whole_workload_path(sdk: Any, clean_sim: Any) -> None:
    from staxapp.openapi import StaxClient

    workloads = StaxClient("workloads")
    tasks = StaxClient("tasks")
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    assert workloads.ReadWorkloads(name=name)["Workloads"] == []
    created = workloads.CreateWorkload(
        Name=name,
        AccountId=ACCOUNT_ID,
        CatalogueId=CATALOGUE_ID,
        CatalogueVersionId=VERSION_1,
        Region="ap-southeast-2",
        Parameters=[{"Key": "VpcCidr", "Value": "10.0.0.0/16"}],
        Tags={"CostCode": "1"},
    )
    workload = created["Detail"]["Workload"]
    assert workload["Name"] in (name, None)  # WorkloadData.Name is nullable in the document

    def wait(task_id: str) -> list[str]:
        from staxapp.exceptions import ApiException

        seen: list[str] = []
        for _ in range(200):
            try:
                status = tasks.ReadTask(task_id=task_id)["Status"]
            except ApiException as error:
                # A task Stax has just created may answer 404 for a moment
                # (read-after-write lag): the simulator gives that, as the document allows.
                assert error.status_code == 404 and not seen, error
                time.sleep(0.2)
                continue
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in ("SUCCEEDED", "FAILED"):
                return seen
            time.sleep(0.1)
        raise AssertionError(f"task {task_id} never ended: {seen}")

    assert wait(workload["TaskId"])[-1] == "SUCCEEDED"
    [found] = workloads.ReadWorkloads(name=name)["Workloads"]
    assert found["Status"] == "ACTIVE"

    updated = workloads.UpdateWorkload(
        workload_id=workload["WorkloadId"], CatalogueVersionId=VERSION_2
    )
    assert wait(updated["Detail"]["Workload"]["TaskId"])[-1] == "SUCCEEDED"
    deleted = workloads.DeleteWorkload(workload_id=workload["WorkloadId"])
    assert wait(deleted["Detail"]["Workload"]["TaskId"])[-1] == "SUCCEEDED"
    [gone] = workloads.ReadWorkloads(workload_id=workload["WorkloadId"])["Workloads"]
    assert gone["Status"] == "DELETED"

    calls = {(r["method"], r["path"].split("/")[2]) for r in clean_sim.requests()}
    assert {("POST", "workloads"), ("PUT", "workloads"), ("DELETE", "workloads")} <= calls
    assert ("GET", "task") in calls


def test_wrong_secret_is_invalid_credentials(sdk: Any) -> None:
    from staxapp.config import Config
    from staxapp.exceptions import InvalidCredentialsException
    from staxapp.openapi import StaxClient

    config = Config(
        hostname=Config.hostname, access_key=Config.access_key, secret_key="wrong-secret-1A!"
    )
    client = StaxClient("workloads", config=config)
    with pytest.raises(InvalidCredentialsException) as raised:
        client.ReadWorkloads()
    assert "Secret Key" in str(raised.value)


def test_unsigned_request_is_forbidden(clean_sim: Any) -> None:
    response = requests.get(f"{SIM_URL}/20190206/workloads", timeout=5)
    assert response.status_code == 403
