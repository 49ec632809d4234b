"""The local stack gives a function only a role that trusts Lambda, as AWS does.

On the launched MiniStack (``local/ministack_fidelity/lambda_role_trust.py``), a role
created here that trusts another service, or trusts Lambda only for another account
(``aws:SourceAccount``), cannot be a function's role: CreateFunction and
UpdateFunctionConfiguration answer ``InvalidParameterValueException``, "The role defined
for the function cannot be assumed by Lambda."; a role trusting Lambda for this account
(the trust the deploy gives the project's roles) can. Then MiniStack's own, unpatched
interpreter is shown creating a function whose role trusts only Step Functions.

Like ``test_ministack_limits.py``, these tests need only MiniStack
(``tests.e2e.ministack_support``).
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.ministack_support import client, refusal, require_ministack, run_unpatched_script

pytestmark = pytest.mark.e2e

ACCOUNT = "000000000000"
NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."

#: MiniStack's own Lambda, unpatched, takes a role whose trust names only Step Functions.
UNPATCHED = r"""
import base64, io, json, sys, zipfile
from ministack.services import iam, lambda_svc

request = json.load(sys.stdin)
iam._create_role({"RoleName": ["states-only"],
                  "AssumeRolePolicyDocument": [json.dumps(request["trust"])]})
package = io.BytesIO()
with zipfile.ZipFile(package, "w") as archive:
    archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
status, _, _ = lambda_svc._create_function({
    "FunctionName": "unpatched", "Runtime": "python3.11", "Handler": "handler.handler",
    "Role": "arn:aws:iam::000000000000:role/states-only",
    "Code": {"ZipFile": base64.b64encode(package.getvalue()).decode()}})
print(json.dumps({"status": status}))
"""


def trust(service: str, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service},
    }  # fmt: skip
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def package() -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    return data.getvalue()


class World:
    def __init__(self) -> None:
        self.prefix = f"fntrust-{uuid.uuid4().hex[:8]}"
        self.iam, self.lam = client("iam"), client("lambda")
        self.roles: list[str] = []
        self.functions: list[str] = []

    def role(self, document: dict[str, Any]) -> str:
        name = f"{self.prefix}-{uuid.uuid4().hex[:6]}"
        self.roles.append(name)
        return str(
            self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))[
                "Role"
            ]["Arn"]
        )

    def create(self, role: str) -> dict[str, Any]:
        name = f"{self.prefix}-{uuid.uuid4().hex[:6]}"
        kwargs = {"FunctionName": name, "Runtime": "python3.11", "Handler": "handler.handler",
                  "Role": role, "Code": {"ZipFile": package()}}  # fmt: skip
        return {"name": name, **kwargs}

    def close(self) -> None:
        for name in self.functions:
            self.lam.delete_function(FunctionName=name)
        for name in self.roles:
            self.iam.delete_role(RoleName=name)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    require_ministack()
    made = World()
    yield made
    made.close()


def test_a_role_that_does_not_trust_lambda_cannot_be_a_functions_role(world: World) -> None:
    for document in (
        trust("states.amazonaws.com"),
        trust("lambda.amazonaws.com", StringEquals={"aws:SourceAccount": "111122223333"}),
    ):
        request = world.create(world.role(document))
        request.pop("name")
        message = refusal("InvalidParameterValueException", world.lam.create_function, **request)
        assert message == NOT_ASSUMABLE
        with pytest.raises(world.lam.exceptions.ResourceNotFoundException):
            world.lam.get_function(FunctionName=request["FunctionName"])


def test_a_role_trusting_lambda_for_this_account_works_and_cannot_be_swapped_for_another(
    world: World,
) -> None:
    good = world.role(trust("lambda.amazonaws.com", StringEquals={"aws:SourceAccount": ACCOUNT}))
    request = world.create(good)
    name = request.pop("name")
    world.lam.create_function(**request)
    world.functions.append(name)
    untrusted = world.role(trust("states.amazonaws.com"))
    message = refusal(
        "InvalidParameterValueException",
        world.lam.update_function_configuration,
        FunctionName=name,
        Role=untrusted,
    )
    assert message == NOT_ASSUMABLE
    assert world.lam.get_function_configuration(FunctionName=name)["Role"] == good


def test_ministack_alone_takes_a_role_that_trusts_another_service() -> None:
    require_ministack()
    assert run_unpatched_script(UNPATCHED, {"trust": trust("states.amazonaws.com")}) == {
        "status": 201
    }
