"""The local stack's Step Functions makes each call with the state machine's role, as AWS does.

On the launched MiniStack (``local/ministack_fidelity/sfn_role_permissions.py``), each
test gives a tiny state machine a role created here with boto3 that lacks exactly one
permission one of its calls needs: the task (or the Distributed Map) fails with the error
AWS gives ("User: arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION is not authorized to
perform: ACTION on resource: ... (Service: ...)"). Granting that one permission, the same
machine succeeds. The calls: ``lambda:invoke`` and a bare Lambda ARN
(``lambda:InvokeFunction``), ``startExecution.sync:2`` (``states:StartExecution``,
``DescribeExecution``, ``StopExecution`` and the managed rule's ``events:PutRule``,
``PutTargets``, ``DescribeRule``), the DynamoDB item integrations, a Distributed Map's own
child starts, its ItemReader (``s3:GetObject``, ``s3:ListBucket``) and the tasks of its
children (the parent's role). Attached policies count, an explicit Deny wins, a role that
has no policy allows nothing; the denial is a task failure a Catch takes. Then MiniStack's
own, unpatched interpreter (a ``.venv-ministack`` subprocess) shows it alone would have
made the call.

Like ``test_ministack_limits.py``, these tests need only MiniStack
(``tests.e2e.ministack_support``).
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from tests.e2e.ministack_support import (
    STATES_TRUST,
    client,
    require_ministack,
    run_unpatched_script,
    wait_done,
)

pytestmark = pytest.mark.e2e

REGION, ACCOUNT = "us-east-1", "000000000000"
STATES_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}"
RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
PASS = {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}}

LAMBDA_DENIED = "Lambda.AWSLambdaException"
STATES_DENIED = "StepFunctions.AWSStepFunctionsException"
DYNAMODB_DENIED = "DynamoDB.AmazonDynamoDBException"
READER_FAILED = "States.ItemReaderFailed"
RUNTIME = "States.Runtime"
THRESHOLD = "States.ExceedToleratedFailureThreshold"
REQUEST = r"[0-9a-f-]{36}"
#: The SDK's suffix of each error's cause.
SUFFIXES = {
    LAMBDA_DENIED: rf"\(Service: AWSLambda; Status Code: 403; Error Code: "
    rf"AccessDeniedException; Request ID: {REQUEST}; Proxy: null\)",
    STATES_DENIED: rf"\(Service: AWSStepFunctions; Status Code: 400; Error Code: "
    rf"AccessDeniedException; Request ID: {REQUEST}; Proxy: null\)",
    RUNTIME: rf"\(Service: AWSStepFunctions; Status Code: 400; Error Code: "
    rf"AccessDeniedException; Request ID: {REQUEST}; Proxy: null\)",
    DYNAMODB_DENIED: rf"\(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: "
    rf"AccessDeniedException; Request ID: {REQUEST}; Proxy: null\)",
    READER_FAILED: rf"\(Service: S3, Status Code: 403, Request ID: {REQUEST}\)",
}

#: MiniStack's own Step Functions, unpatched, runs one definition with a role that does not
#: exist (its _call_lambda stood in by what the Lambda answers).
UNPATCHED = r"""
import json, sys
from ministack.services import iam
from ministack.services import stepfunctions as sf

assert not hasattr(sf, "_MissingPath"), "this must be MiniStack without the launcher's patches"
request = json.load(sys.stdin)
sf._call_lambda = lambda ref, event: {"ok": True}
_, _, body = sf._create_state_machine({"name": "unpatched", "roleArn": request["role"],
                                       "definition": json.dumps(request["definition"])})
_, _, body = sf._start_sync_execution({"stateMachineArn": json.loads(body)["stateMachineArn"],
                                       "input": "{}"})
execution = sf._executions[json.loads(body)["executionArn"]]
print(json.dumps({"status": execution["status"], "error": execution.get("error"),
                  "roles": len(iam._roles)}))
"""


class Grant(NamedTuple):
    action: str
    resource: str


class World:
    """What the machines call: a Lambda, a child machine, a table, a bucket with items; the
    roles and machines made here (deleted at the end)."""

    def __init__(self) -> None:
        self.prefix = f"roleperm-{uuid.uuid4().hex[:8]}"
        self.sfn, self.iam = client("stepfunctions"), client("iam")
        self.s3, self.ddb, self.lam = client("s3"), client("dynamodb"), client("lambda")
        self.roles: list[str] = []
        self.machines: list[str] = []
        self.policies: list[str] = []
        self.bucket = self.prefix
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_object(Bucket=self.bucket, Key="items.jsonl", Body=b'{"n": 1}\n{"n": 2}\n')
        self.s3.put_object(Bucket=self.bucket, Key="listed/a.json", Body=b"{}")
        self.table = self.prefix
        self.ddb.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("handler.py", HANDLER)
        # Under AUTH=true a function's role must exist.
        lambda_trust = {**STATES_TRUST, "Statement": [
            {**STATES_TRUST["Statement"][0], "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
        self.iam.create_role(
            RoleName=f"{self.prefix}-lambda", AssumeRolePolicyDocument=json.dumps(lambda_trust)
        )
        self.roles.append(f"{self.prefix}-lambda")
        self.function = self.lam.create_function(
            FunctionName=self.prefix,
            Runtime="python3.11",
            Role=f"arn:aws:iam::{ACCOUNT}:role/{self.prefix}-lambda",
            Handler="handler.handler",
            Code={"ZipFile": package.getvalue()},
        )["FunctionArn"]
        self.child = self.create_machine("child", PASS, self.role([]))  # trusted, no policy
        self.grants = self._grants()

    def _grants(self) -> dict[str, Grant]:
        """Every permission a machine here needs, by name."""
        child_executions = f"{STATES_ARN}:execution:{self.prefix}-child:*"
        map_children = f"{STATES_ARN}:execution:{self.prefix}-map-*"
        table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.table}"
        return {
            "invoke": Grant("lambda:InvokeFunction", self.function),
            "start child": Grant("states:StartExecution", self.child),
            "describe child": Grant("states:DescribeExecution", child_executions),
            "stop child": Grant("states:StopExecution", child_executions),
            "put rule": Grant("events:PutRule", RULE),
            "put targets": Grant("events:PutTargets", RULE),
            "describe rule": Grant("events:DescribeRule", RULE),
            "put item": Grant("dynamodb:PutItem", table),
            "get item": Grant("dynamodb:GetItem", table),
            "update item": Grant("dynamodb:UpdateItem", table),
            "delete item": Grant("dynamodb:DeleteItem", table),
            "get object": Grant("s3:GetObject", f"arn:aws:s3:::{self.bucket}/*"),
            "list bucket": Grant("s3:ListBucket", f"arn:aws:s3:::{self.bucket}"),
            "start map children": Grant(
                "states:StartExecution", f"{STATES_ARN}:stateMachine:{self.prefix}-map-*"
            ),
            "describe map children": Grant("states:DescribeExecution", map_children),
            "stop map children": Grant("states:StopExecution", map_children),
        }

    def create_machine(self, kind: str, definition: dict[str, Any], role: str) -> str:
        arn: str = self.sfn.create_state_machine(
            name=f"{self.prefix}-{kind}", definition=json.dumps(definition), roleArn=role
        )["stateMachineArn"]
        self.machines.append(arn)
        return arn

    def role(self, grants: list[Grant]) -> str:
        """A new role whose inline policy allows ``grants``."""
        name = f"{self.prefix}-{uuid.uuid4().hex[:6]}"
        arn: str = self.iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(STATES_TRUST)
        )["Role"]["Arn"]
        self.roles.append(name)
        self.allow(name, grants)
        return arn

    def allow(self, name: str, grants: list[Grant], deny: list[Grant] | None = None) -> None:
        """The role's inline policy allows ``grants`` and denies ``deny`` (nothing: none)."""
        statements = [{"Effect": "Allow", "Action": g.action, "Resource": g.resource}
                      for g in grants]  # fmt: skip
        statements += [{"Effect": "Deny", "Action": g.action, "Resource": g.resource}
                       for g in deny or []]  # fmt: skip
        if not statements:
            return
        document = json.dumps({"Version": "2012-10-17", "Statement": statements})
        self.iam.put_role_policy(RoleName=name, PolicyName="machine", PolicyDocument=document)

    def close(self) -> None:
        for machine in self.machines:
            self.sfn.delete_state_machine(stateMachineArn=machine)
        for name in self.roles:
            for policy in self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                self.iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
            for policy in self.iam.list_role_policies(RoleName=name)["PolicyNames"]:
                self.iam.delete_role_policy(RoleName=name, PolicyName=policy)
            self.iam.delete_role(RoleName=name)
        for policy_arn in self.policies:
            self.iam.delete_policy(PolicyArn=policy_arn)
        self.lam.delete_function(FunctionName=self.prefix)
        self.ddb.delete_table(TableName=self.table)
        for key in ("items.jsonl", "listed/a.json"):
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        self.s3.delete_bucket(Bucket=self.bucket)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """The launched MiniStack (skipped, or failed under ``STAX_REQUIRE_LOCAL_STACK=1``,
    when it is not running) and what its machines call."""
    require_ministack()
    made = World()
    yield made
    made.close()


def invoke(function: str) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function, "Payload": {}}}  # fmt: skip


def chain(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A machine running ``states`` in order (each keeps its input)."""
    names = [name for name, _ in states]
    built = {
        name: {**state, "ResultPath": None,
               **({"Next": names[i + 1]} if i + 1 < len(names) else {"End": True})}
        for i, (name, state) in enumerate(states)
    }  # fmt: skip
    return {"StartAt": names[0], "States": built}


def distributed(processor: dict[str, Any], **fields: Any) -> dict[str, Any]:
    state = {"Type": "Map", "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, **processor},
             **fields}  # fmt: skip
    return chain(("Fan Out", state))


def definition(world: World, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The machine of ``kind`` and its input."""
    key = {"pk": {"S": "k"}}
    table = world.table
    if kind == "invoke":
        return chain(("Invoke", invoke(world.function))), {}
    if kind == "lambda-arn":
        return chain(("Invoke", {"Type": "Task", "Resource": world.function})), {}
    if kind == "sync":
        run = {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
               "Parameters": {"StateMachineArn": world.child, "Input": {}}}  # fmt: skip
        return chain(("Run Child", run)), {}
    if kind == "dynamodb":
        item = "arn:aws:states:::dynamodb:"
        return chain(
            ("Put", {"Type": "Task", "Resource": f"{item}putItem",
                     "Parameters": {"TableName": table, "Item": {**key, "n": {"N": "1"}}}}),
            ("Get", {"Type": "Task", "Resource": f"{item}getItem",
                     "Parameters": {"TableName": table, "Key": key}}),
            ("Update", {"Type": "Task", "Resource": f"{item}updateItem",
                        "Parameters": {"TableName": table, "Key": key,
                                       "UpdateExpression": "SET n = :n",
                                       "ExpressionAttributeValues": {":n": {"N": "2"}}}}),
            ("Delete", {"Type": "Task", "Resource": f"{item}deleteItem",
                        "Parameters": {"TableName": table, "Key": key}}),
        ), {}  # fmt: skip
    if kind == "map-reader":
        reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
                  "Parameters": {"Bucket": world.bucket, "Key": "items.jsonl"}}  # fmt: skip
        return distributed(PASS, ItemReader=reader), {}
    if kind == "map-listing":
        reader = {"Resource": "arn:aws:states:::s3:listObjectsV2",
                  "Parameters": {"Bucket": world.bucket, "Prefix": "listed/"}}  # fmt: skip
        return distributed(PASS, ItemReader=reader), {}
    assert kind == "map-task"
    task = {"StartAt": "Invoke", "States": {"Invoke": {**invoke(world.function), "End": True}}}
    return distributed(task, ItemsPath="$.items"), {"items": [1]}


def run(world: World, machine: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run ``machine``: DescribeExecution, the errors of its TaskFailed events, its Map Run's
    children."""
    execution = world.sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))
    described = wait_done(world.sfn, execution["executionArn"])
    events = world.sfn.get_execution_history(
        executionArn=execution["executionArn"], maxResults=1000
    )["events"]
    described["task_errors"] = [
        e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"
    ]
    runs = world.sfn.list_map_runs(executionArn=execution["executionArn"])["mapRuns"]
    described["children"] = [
        world.sfn.describe_execution(executionArn=child["executionArn"])
        for r in runs
        for child in world.sfn.list_executions(mapRunArn=r["mapRunArn"])["executions"]
    ]
    return described


def denied(cause: str, role: str, grant: Grant, error: str) -> bool:
    """Whether ``cause`` is AWS's denial of ``grant`` to ``role`` (``error``: whose SDK)."""
    suffix = SUFFIXES[error]
    if grant.action.startswith("events:"):
        return re.fullmatch(
            rf"'{re.escape(role)}' is not authorized to create managed-rule\. {suffix}", cause
        ) is not None  # fmt: skip
    name = role.rsplit("/", 1)[-1]
    resource = re.escape(grant.resource).replace(r"\*", r"\S*")
    if error == READER_FAILED:
        resource = f'"{resource}"'
    pattern = (
        rf"User: arn:aws:sts::{ACCOUNT}:assumed-role/{re.escape(name)}/[0-9a-f]{{32}} is not "
        rf"authorized to perform: {re.escape(grant.action)} on resource: {resource} because "
        rf"no identity-based policy allows the {re.escape(grant.action)} action {suffix}"
    )
    return re.fullmatch(pattern, cause) is not None


#: (the one permission the role lacks, the machine, the error AWS fails it with).
CASES = {
    "lambda:invoke needs lambda:InvokeFunction": ("invoke", "invoke", LAMBDA_DENIED),
    "a Lambda ARN resource needs lambda:InvokeFunction": ("invoke", "lambda-arn", LAMBDA_DENIED),
    "startExecution.sync:2 needs states:StartExecution": ("start child", "sync", STATES_DENIED),
    "and states:DescribeExecution": ("describe child", "sync", STATES_DENIED),
    "and states:StopExecution": ("stop child", "sync", STATES_DENIED),
    "and events:PutRule": ("put rule", "sync", STATES_DENIED),
    "and events:PutTargets": ("put targets", "sync", STATES_DENIED),
    "and events:DescribeRule": ("describe rule", "sync", STATES_DENIED),
    "dynamodb:putItem needs dynamodb:PutItem": ("put item", "dynamodb", DYNAMODB_DENIED),
    "dynamodb:getItem needs dynamodb:GetItem": ("get item", "dynamodb", DYNAMODB_DENIED),
    "dynamodb:updateItem needs dynamodb:UpdateItem": ("update item", "dynamodb", DYNAMODB_DENIED),
    "dynamodb:deleteItem needs dynamodb:DeleteItem": ("delete item", "dynamodb", DYNAMODB_DENIED),
    "an s3:getObject reader needs s3:GetObject": ("get object", "map-reader", READER_FAILED),
    "an s3:listObjectsV2 reader needs s3:ListBucket": ("list bucket", "map-listing", READER_FAILED),
    "a Distributed Map needs states:StartExecution on itself": (
        "start map children", "map-reader", RUNTIME,
    ),
    "and states:DescribeExecution on its children": ("describe map children", "map-reader", RUNTIME),
    "and states:StopExecution on its children": ("stop map children", "map-reader", RUNTIME),
    "a Map child's task is checked with the parent's role": ("invoke", "map-task", LAMBDA_DENIED),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_a_role_lacking_one_permission_fails_the_call_and_granting_it_lets_it_succeed(
    world: World, case: str
) -> None:
    missing, kind, error = CASES[case]
    others = [grant for name, grant in world.grants.items() if name != missing]
    role = world.role(others)
    machine_definition, payload = definition(world, kind)
    # Named "<prefix>-map-...": a Distributed Map may start its own children.
    machine = world.create_machine(f"{kind}-{uuid.uuid4().hex[:6]}", machine_definition, role)
    grant = world.grants[missing]
    failed = run(world, machine, payload)
    assert failed["status"] == "FAILED", failed
    if kind == "map-task":  # the child's task failed: the Map Run crossed its threshold
        assert failed["error"] == THRESHOLD, failed
        child_errors = {(c.get("error"), denied(c.get("cause", ""), role, grant, error))
                        for c in failed["children"]}  # fmt: skip
        assert child_errors == {(error, True)}, failed["children"]
    else:
        assert failed["error"] == error, failed
        assert denied(failed["cause"], role, grant, error), failed["cause"]
    if not kind.startswith("map"):  # a task failure, which Retry and Catch see
        assert failed["task_errors"] == [error]
    world.allow(role.rsplit("/", 1)[-1], list(world.grants.values()))
    succeeded = run(world, machine, payload)
    assert succeeded["status"] == "SUCCEEDED", succeeded


def test_attached_policies_count_and_an_explicit_deny_wins(world: World) -> None:
    role = world.role([])
    name = role.rsplit("/", 1)[-1]
    machine = world.create_machine(
        f"attached-{uuid.uuid4().hex[:6]}", definition(world, "invoke")[0], role
    )
    invoke_grant = world.grants["invoke"]
    policy = world.iam.create_policy(
        PolicyName=f"{name}-invoke",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "lambda:*", "Resource": invoke_grant.resource}]}),
    )["Policy"]["Arn"]  # fmt: skip
    world.policies.append(policy)
    world.iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    assert run(world, machine, {})["status"] == "SUCCEEDED"
    world.allow(name, [Grant("*", "*")], deny=[Grant("lambda:InvokeFunction", "*")])
    failed = run(world, machine, {})
    assert (failed["status"], failed["error"]) == ("FAILED", LAMBDA_DENIED), failed
    assert (
        " with an explicit deny in an identity-based policy (Service: AWSLambda; "
        in (failed["cause"])
    )


def test_a_role_without_policies_allows_nothing_and_a_catch_takes_the_denial(
    world: World,
) -> None:
    # A role that does not exist cannot be given to a machine (sfn_role_trust refuses it
    # as AWS does); one without any policy allows nothing.
    missing = f"arn:aws:iam::{ACCOUNT}:role/{world.prefix}-missing"
    with pytest.raises(world.sfn.exceptions.ClientError, match="AccessDeniedException"):
        world.create_machine(f"missing-{uuid.uuid4().hex[:6]}", PASS, missing)
    missing_role = world.role([])
    caught = {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {**invoke(world.function), "End": True,
                       "Catch": [{"ErrorEquals": [LAMBDA_DENIED], "Next": "Caught"}]},
            "Caught": {"Type": "Pass", "End": True},
        },
    }  # fmt: skip
    machine = world.create_machine(f"bare-{uuid.uuid4().hex[:6]}", caught, missing_role)
    result = run(world, machine, {})
    assert result["status"] == "SUCCEEDED", result
    failure = json.loads(result["output"])
    assert failure["Error"] == LAMBDA_DENIED
    assert denied(failure["Cause"], missing_role, world.grants["invoke"], LAMBDA_DENIED)


def test_ministack_alone_would_invoke_with_a_role_that_does_not_exist() -> None:
    require_ministack()
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:anything"
    unpatched = run_unpatched_script(
        UNPATCHED,
        {"role": f"arn:aws:iam::{ACCOUNT}:role/missing",
         "definition": chain(("Invoke", invoke(function)))},
    )  # fmt: skip
    assert unpatched == {"status": "SUCCEEDED", "error": None, "roles": 0}
