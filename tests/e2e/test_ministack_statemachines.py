"""The local stack refuses the state machine definitions AWS refuses, by API and by template.

On the launched MiniStack (``local/ministack_fidelity/sfn_definition.py``): a definition
that is not JSON, or whose StartAt / Next / Default / Choices[].Next / Catch[].Next names
no state of its block, or with a state nothing reaches, is refused by CreateStateMachine
and UpdateStateMachine with InvalidDefinition ("Invalid State Machine Definition: '...'");
through CloudFormation the AWS::StepFunctions::StateMachine fails with that message and the
stack rolls back. The project's own four machines are accepted. Then MiniStack's own,
unpatched code (a ``.venv-ministack`` subprocess) shows it alone would have stored them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import ministack_support
from tests.e2e.conftest import ROOT
from tests.e2e.ministack_support import (
    ROLE,
    client,
    ensure_role,
    require_ministack,
    run_unpatched_script,
)

pytestmark = pytest.mark.e2e

GOOD = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                   "B": {"Type": "Succeed"}}}  # fmt: skip
BAD = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
MISSING_NEXT = (
    "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: "
    "Nowhere at /States/A/Next'"
)

#: MiniStack's own CreateStateMachine and CloudFormation handler, unpatched.
UNPATCHED = r"""
import json, sys
from ministack.services import stepfunctions as sf
from ministack.services.cloudformation import provisioners

assert sf._validate_definition_jsonata.__module__ == sf.__name__, "this must be unpatched"
request = json.load(sys.stdin)
answers = {}
for label, text in request["definitions"].items():
    status, _, _ = sf._create_state_machine({"name": f"unpatched-{label}",
                                             "roleArn": request["role"], "definition": text})
    arn, _ = provisioners._sfn_state_machine_create(
        "M", {"RoleArn": request["role"], "DefinitionString": text}, f"unpatched-{label}")
    answers[label] = {"api": status, "cloudformation": arn in sf._state_machines}
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def sfn() -> Iterator[Any]:
    require_ministack()
    ensure_role()  # the machines' role must trust Step Functions
    yield client("stepfunctions")


@pytest.fixture(scope="module")
def cfn() -> Iterator[Any]:
    require_ministack()
    ensure_role()
    yield client("cloudformation")


def refusal(call: Any, **kwargs: Any) -> str:
    return ministack_support.refusal("InvalidDefinition", call, **kwargs)


def settled(cfn: Any, name: str, timeout: float = 60) -> str:
    """The stack's status once no operation is in progress."""
    deadline = time.monotonic() + timeout
    while (status := cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]).endswith(
        "_IN_PROGRESS"
    ):
        assert time.monotonic() < deadline, f"stack {name} still {status}"
        time.sleep(0.1)
    return str(status)


def machine_template(definition: dict[str, Any]) -> str:
    properties = {"RoleArn": ROLE, "DefinitionString": json.dumps(definition)}
    machine = {"Type": "AWS::StepFunctions::StateMachine", "Properties": properties}
    return json.dumps({"Resources": {"Machine": machine}})


def failure_reason(cfn: Any, name: str, status: str) -> str:
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return next(e["ResourceStatusReason"] for e in events
                if e["LogicalResourceId"] == "Machine" and e["ResourceStatus"] == status)  # fmt: skip


def test_the_api_refuses_a_missing_target_and_text_that_is_not_json(sfn: Any) -> None:
    name = f"definition-{uuid.uuid4().hex[:8]}"
    create = sfn.create_state_machine
    assert refusal(create, name=name, roleArn=ROLE, definition=json.dumps(BAD)) == MISSING_NEXT
    assert refusal(create, name=name, roleArn=ROLE, definition="StartAt: A").startswith(
        "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: "
    )
    arn = create(name=name, roleArn=ROLE, definition=json.dumps(GOOD))["stateMachineArn"]
    try:
        message = refusal(sfn.update_state_machine, stateMachineArn=arn,
                          definition=json.dumps(BAD))  # fmt: skip
        assert message == MISSING_NEXT
        assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == GOOD
    finally:
        sfn.delete_state_machine(stateMachineArn=arn)


@pytest.mark.parametrize("path", sorted((ROOT / "statemachines").glob("*.asl.json")),
                         ids=lambda p: p.name)  # fmt: skip
def test_the_project_state_machines_are_accepted(sfn: Any, path: Path) -> None:
    name = f"project-{path.name.split('.')[0].replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    arn = sfn.create_state_machine(name=name, roleArn=ROLE, definition=path.read_text())
    sfn.delete_state_machine(stateMachineArn=arn["stateMachineArn"])


def test_a_stack_update_to_a_missing_target_fails_and_rolls_back(cfn: Any, sfn: Any) -> None:
    name = f"definition-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=machine_template(GOOD))
    try:
        assert settled(cfn, name) == "CREATE_COMPLETE"
        cfn.update_stack(StackName=name, TemplateBody=machine_template(BAD))
        assert settled(cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
        reason = failure_reason(cfn, name, "UPDATE_FAILED")
        assert reason.startswith(f'Resource handler returned message: "{MISSING_NEXT} '
                                 "(Service: Sfn, Status Code: 400, "), reason  # fmt: skip
        machine = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Machine")
        arn = machine["StackResourceDetail"]["PhysicalResourceId"]
        assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == GOOD
    finally:
        cfn.delete_stack(StackName=name)


def test_a_stack_created_with_a_missing_target_rolls_back(cfn: Any) -> None:
    name = f"definition-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=machine_template(BAD))
    try:
        assert settled(cfn, name) == "ROLLBACK_COMPLETE"
        assert MISSING_NEXT in failure_reason(cfn, name, "CREATE_FAILED")
    finally:
        cfn.delete_stack(StackName=name)


def test_ministack_alone_would_store_both_definitions() -> None:
    require_ministack()
    definitions = {"missing-next": json.dumps(BAD), "not-json": "StartAt: A"}
    unpatched = run_unpatched_script(UNPATCHED, {"role": ROLE, "definitions": definitions})
    assert unpatched == {label: {"api": 200, "cloudformation": True} for label in definitions}
