"""The local stack's CloudFormation asks for capabilities as AWS does, whatever the IAM mode.

On the launched MiniStack (``local/ministack_fidelity/cfn_capabilities.py``): a template
with an IAM role must be acknowledged with ``CAPABILITY_IAM``, and with
``CAPABILITY_NAMED_IAM`` when the role has a name of its own — by CreateStack and by
CreateChangeSet alike (CreateStack API reference, ``Capabilities``). Then the same check on
MiniStack's own, unpatched code (a ``.venv-ministack`` subprocess) shows MiniStack alone
would have created the stack.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.ministack_support import client, require_ministack, run_unpatched_script

pytestmark = pytest.mark.e2e

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
         "Principal": {"Service": "states.amazonaws.com"}}]}  # fmt: skip

#: MiniStack's own capability check, unpatched: None means it would go on.
UNPATCHED = r"""
import json, sys
from ministack.services.cloudformation import handlers

assert handlers._capabilities_enforced.__module__ == handlers.__name__, "this must be unpatched"
template = json.load(sys.stdin)
print(json.dumps({"error": handlers._check_capabilities(template, template, {})}, default=str))
"""


def role_template(named: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {"AssumeRolePolicyDocument": TRUST}
    if named:
        properties["RoleName"] = f"capabilities-{uuid.uuid4().hex[:8]}"
    return {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": properties}}}


@pytest.fixture(scope="module")
def cfn() -> Iterator[Any]:
    require_ministack()
    yield client("cloudformation")


def refusal(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    error = refused.value.response["Error"]
    assert error["Code"] == "InsufficientCapabilitiesException", error
    return str(error["Message"])


@pytest.mark.parametrize(
    ("named", "given", "required"),
    [
        (True, [], "CAPABILITY_NAMED_IAM"),
        (True, ["CAPABILITY_IAM"], "CAPABILITY_NAMED_IAM"),
        (False, [], "CAPABILITY_IAM"),
    ],
)
def test_a_stack_with_an_unacknowledged_role_is_refused_and_not_created(
    cfn: Any, named: bool, given: list[str], required: str
) -> None:
    name = f"capabilities-{uuid.uuid4().hex[:8]}"
    template = json.dumps(role_template(named))
    message = refusal(cfn.create_stack, StackName=name, TemplateBody=template,
                      Capabilities=given)  # fmt: skip
    assert f"[{required}]" in message
    assert name not in {s["StackName"] for s in cfn.list_stacks()["StackSummaries"]}
    message = refusal(cfn.create_change_set, StackName=name, ChangeSetName="c",
                      ChangeSetType="CREATE", TemplateBody=template, Capabilities=given)  # fmt: skip
    assert f"[{required}]" in message


@pytest.mark.parametrize(
    ("named", "given"), [(True, ["CAPABILITY_NAMED_IAM"]), (False, ["CAPABILITY_IAM"])]
)
def test_an_acknowledged_role_is_created(cfn: Any, named: bool, given: list[str]) -> None:
    name = f"capabilities-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(role_template(named)),
                     Capabilities=given)  # fmt: skip
    try:
        cfn.get_waiter("stack_create_complete").wait(
            StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    finally:
        cfn.delete_stack(StackName=name)


def test_ministack_alone_would_create_a_named_role_without_any_capability() -> None:
    require_ministack()
    unpatched = run_unpatched_script(UNPATCHED, role_template(named=True))
    assert unpatched == {"error": None}
