"""The local stack's Step Functions assumes a state machine's role only if its trust allows it.

On the launched MiniStack (``local/ministack_fidelity/sfn_role_trust.py``), each test gives
a tiny state machine a role created here with boto3 whose trust policy is the subject:
a role that does not exist or trusts another service cannot be given to a machine
(``AccessDeniedException``, AWS's "Neither the global service principal
states.amazonaws.com, nor the regional one is authorized to assume the provided role."),
by the API or by CloudFormation (the stack rolls back); the confused-deputy conditions
``aws:SourceAccount`` and ``aws:SourceArn`` are evaluated; a trust changed after the machine
was created fails its next execution as it starts (``States.Runtime``); and a Distributed
Map's children, which run as ``stateMachine:NAME/LABEL`` (the Map Run's machine), are
refused by a trust naming only ``NAME`` with ``ArnEquals`` and run with ``ArnLike``
``NAME/*``. Then MiniStack's own, unpatched interpreter shows it alone reads no trust.

Like ``test_ministack_limits.py``, these tests need only MiniStack
(``tests.e2e.ministack_support``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.ministack_support import (
    client,
    refusal,
    require_ministack,
    run_unpatched_script,
    wait_done,
)

pytestmark = pytest.mark.e2e

REGION, ACCOUNT = "us-east-1", "000000000000"
STATES_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}"
NOT_ASSUMABLE = (
    "Neither the global service principal states.amazonaws.com, nor the regional one is "
    "authorized to assume the provided role."
)
PASS = {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}}
#: A Distributed Map over two inline items whose children only pass.
FAN_OUT = {
    "StartAt": "Fan Out",
    "States": {"Fan Out": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          **PASS},
    }},
}  # fmt: skip

#: MiniStack's own Step Functions, unpatched, creates a machine whose role trusts Lambda.
UNPATCHED = r"""
import json, sys
from ministack.services import iam
from ministack.services import stepfunctions as sf

assert not hasattr(sf, "_MissingPath"), "this must be MiniStack without the launcher's patches"
request = json.load(sys.stdin)
iam._create_role({"RoleName": ["lambda-only"],
                  "AssumeRolePolicyDocument": [json.dumps(request["trust"])]})
status, _, body = sf._create_state_machine({
    "name": "unpatched", "definition": json.dumps(request["definition"]),
    "roleArn": "arn:aws:iam::000000000000:role/lambda-only"})
print(json.dumps({"status": status}))
"""


def trust(principal: str = "states.amazonaws.com", **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": principal},
    }  # fmt: skip
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


class World:
    """The roles and machines made here (deleted at the end)."""

    def __init__(self) -> None:
        self.prefix = f"roletrust-{uuid.uuid4().hex[:8]}"
        self.sfn, self.iam, self.cfn = (
            client("stepfunctions"),
            client("iam"),
            client("cloudformation"),
        )
        self.roles: list[str] = []
        self.machines: list[str] = []

    def name(self, kind: str) -> str:
        return f"{self.prefix}-{kind}-{uuid.uuid4().hex[:6]}"

    def role(self, document: dict[str, Any], *, may_fan_out: bool = False) -> str:
        """A new role trusting as ``document`` says (allowed to start and watch its own
        Distributed Map children when ``may_fan_out``)."""
        name = f"{self.prefix}-{uuid.uuid4().hex[:6]}"
        arn: str = self.iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(document)
        )["Role"]["Arn"]
        self.roles.append(name)
        if may_fan_out:
            statements = [
                {"Effect": "Allow", "Action": "states:StartExecution",
                 "Resource": f"{STATES_ARN}:stateMachine:{self.prefix}-*"},
                {"Effect": "Allow", "Action": ["states:DescribeExecution", "states:StopExecution"],
                 "Resource": f"{STATES_ARN}:execution:{self.prefix}-*"},
            ]  # fmt: skip
            self.iam.put_role_policy(
                RoleName=name,
                PolicyName="fan-out",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
            )
        return arn

    def machine(self, name: str, role: str, definition: dict[str, Any] = PASS) -> str:
        arn: str = self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=role
        )["stateMachineArn"]
        self.machines.append(arn)
        return arn

    def run(self, machine: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """DescribeExecution of a finished run, with its Map Run's children described."""
        started = self.sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload or {}))
        described = wait_done(self.sfn, started["executionArn"])
        runs = self.sfn.list_map_runs(executionArn=started["executionArn"])["mapRuns"]
        described["children"] = [
            self.sfn.describe_execution(executionArn=child["executionArn"])
            for r in runs
            for child in self.sfn.list_executions(mapRunArn=r["mapRunArn"])["executions"]
        ]
        return described

    def close(self) -> None:
        for machine in self.machines:
            self.sfn.delete_state_machine(stateMachineArn=machine)
        for name in self.roles:
            for policy in self.iam.list_role_policies(RoleName=name)["PolicyNames"]:
                self.iam.delete_role_policy(RoleName=name, PolicyName=policy)
            self.iam.delete_role(RoleName=name)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """The launched MiniStack (skipped, or failed under ``STAX_REQUIRE_LOCAL_STACK=1``,
    when it is not running) and what the tests made on it."""
    require_ministack()
    made = World()
    yield made
    made.close()


def test_a_role_that_trusts_another_service_or_does_not_exist_cannot_run_a_machine(
    world: World,
) -> None:
    lambda_role = world.role(trust("lambda.amazonaws.com"))
    missing = f"arn:aws:iam::{ACCOUNT}:role/{world.prefix}-missing"
    for role in (lambda_role, missing):
        message = refusal(
            "AccessDeniedException",
            world.sfn.create_state_machine,
            name=world.name("refused"),
            definition=json.dumps(PASS),
            roleArn=role,
        )
        assert message == NOT_ASSUMABLE
    assert world.sfn.list_state_machines()["stateMachines"] == [] or all(
        "refused" not in m["name"] for m in world.sfn.list_state_machines()["stateMachines"]
    )
    trusted = world.machine(world.name("trusted"), world.role(trust()))
    assert world.run(trusted)["status"] == "SUCCEEDED"
    # Changing the machine to a role it may not assume is refused too; the machine keeps its role.
    message = refusal(
        "AccessDeniedException",
        world.sfn.update_state_machine,
        stateMachineArn=trusted,
        roleArn=lambda_role,
    )
    assert message == NOT_ASSUMABLE
    assert world.sfn.describe_state_machine(stateMachineArn=trusted)["roleArn"] != lambda_role


def test_the_regional_principal_is_trusted_as_the_global_one(world: World) -> None:
    machine = world.machine(
        world.name("regional"), world.role(trust(f"states.{REGION}.amazonaws.com"))
    )
    assert world.run(machine)["status"] == "SUCCEEDED"


def test_source_account_and_source_arn_conditions_are_evaluated(world: World) -> None:
    other_account = trust(StringEquals={"aws:SourceAccount": "111122223333"})
    name = world.name("conditions")
    other_machine = trust(ArnEquals={"aws:SourceArn": f"{STATES_ARN}:stateMachine:{name}-other"})
    for document in (other_account, other_machine):
        message = refusal(
            "AccessDeniedException",
            world.sfn.create_state_machine,
            name=name,
            definition=json.dumps(PASS),
            roleArn=world.role(document),
        )
        assert message == NOT_ASSUMABLE
    own = trust(
        StringEquals={"aws:SourceAccount": ACCOUNT},
        ArnEquals={"aws:SourceArn": f"{STATES_ARN}:stateMachine:{name}"},
    )
    assert world.run(world.machine(name, world.role(own)))["status"] == "SUCCEEDED"


def test_an_explicit_deny_in_the_trust_wins(world: World) -> None:
    document = trust()
    document["Statement"].append(
        {
            "Effect": "Deny",
            "Action": "sts:AssumeRole",
            "Principal": {"Service": "states.amazonaws.com"},
        }
    )
    message = refusal(
        "AccessDeniedException",
        world.sfn.create_state_machine,
        name=world.name("denied"),
        definition=json.dumps(PASS),
        roleArn=world.role(document),
    )
    assert message == NOT_ASSUMABLE


def test_an_execution_fails_as_it_starts_once_the_role_no_longer_trusts_step_functions(
    world: World,
) -> None:
    role = world.role(trust())
    machine = world.machine(world.name("untrusted-later"), role)
    world.iam.update_assume_role_policy(
        RoleName=role.rsplit("/", 1)[-1], PolicyDocument=json.dumps(trust("lambda.amazonaws.com"))
    )
    failed = world.run(machine)
    assert (failed["status"], failed.get("error"), failed.get("cause")) == (
        "FAILED",
        "States.Runtime",
        NOT_ASSUMABLE,
    )
    history = world.sfn.get_execution_history(executionArn=failed["executionArn"])["events"]
    assert not [e for e in history if e["type"].endswith("StateEntered")]  # no state ran


def test_distributed_map_children_run_under_the_labelled_arn_which_arn_equals_refuses(
    world: World,
) -> None:
    name = world.name("fan")
    exact = f"{STATES_ARN}:stateMachine:{name}"
    equals_only = trust(ArnEquals={"aws:SourceArn": exact})
    machine = world.machine(name, world.role(equals_only, may_fan_out=True), FAN_OUT)
    failed = world.run(machine, {"items": [1, 2]})
    assert failed["status"] == "FAILED", failed
    assert failed["error"] == "States.ExceedToleratedFailureThreshold", failed
    assert {(c["status"], c.get("error"), c.get("cause")) for c in failed["children"]} == {
        ("FAILED", "States.Runtime", NOT_ASSUMABLE)
    }
    assert all(c["stateMachineArn"].startswith(f"{exact}/") for c in failed["children"])

    like = trust(ArnLike={"aws:SourceArn": [exact, f"{exact}/*"]})
    world.sfn.update_state_machine(
        stateMachineArn=machine, roleArn=world.role(like, may_fan_out=True)
    )
    succeeded = world.run(machine, {"items": [1, 2]})
    assert succeeded["status"] == "SUCCEEDED", succeeded
    assert [c["status"] for c in succeeded["children"]] == ["SUCCEEDED", "SUCCEEDED"]


def test_a_stack_whose_machine_role_does_not_trust_step_functions_rolls_back(
    world: World,
) -> None:
    stack = world.name("stack")
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role",
                     "Properties": {"AssumeRolePolicyDocument": trust("lambda.amazonaws.com")}},
            "Machine": {"Type": "AWS::StepFunctions::StateMachine",
                        "Properties": {"RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                                       "DefinitionString": json.dumps(PASS)}},
        }
    }  # fmt: skip
    world.cfn.create_stack(
        StackName=stack, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
    )
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        status = world.cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            break
        time.sleep(0.5)
    try:
        assert status == "ROLLBACK_COMPLETE"
        events = world.cfn.describe_stack_events(StackName=stack)["StackEvents"]
        reasons = [e.get("ResourceStatusReason", "") for e in events
                   if e["LogicalResourceId"] == "Machine" and e["ResourceStatus"] == "CREATE_FAILED"]  # fmt: skip
        assert reasons and NOT_ASSUMABLE in reasons[0] and "AccessDenied" in reasons[0], reasons
        machines = world.sfn.list_state_machines()["stateMachines"]
        assert not [m for m in machines if m["name"].startswith(stack)]
    finally:
        world.cfn.delete_stack(StackName=stack)


def test_ministack_alone_reads_no_trust_policy() -> None:
    require_ministack()
    unpatched = run_unpatched_script(
        UNPATCHED, {"trust": trust("lambda.amazonaws.com"), "definition": PASS}
    )
    assert unpatched == {"status": 200}
