"""The local stack authorizes Lambda layer, ``CreateFunction`` and EventBridge bus calls as
the actions, on the resources, AWS names (``local/ministack_fidelity/request_resources.py``).

A user allowed ``lambda:GetLayerVersion`` on one layer version reads it by ARN (what
``chalice deploy`` calls) and no other; ``ListLayers`` alone reads no version. A user allowed
``lambda:CreateFunction`` on one function name creates that function and no other. A user
allowed ``events:DescribeEventBus`` on one bus describes it. Then MiniStack's own, unpatched
action mapping is shown: every layer read is ``lambda:ListLayers`` and ``CreateFunction`` is
checked on ``*``.

Like ``test_ministack_limits.py``, these tests need only MiniStack (with ``AUTH=true``).
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.ministack_support import IamUser, client, require_auth, run_unpatched_script

pytestmark = pytest.mark.e2e

ACCOUNT, REGION = "000000000000", "us-east-1"
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip

#: MiniStack's own mapping, unpatched: the action and resource each request is checked as.
UNPATCHED = r"""
import json, sys
from ministack.core import iam_actions as a

def checked(method, path, query, body=b""):
    return [a.extract_iam_action("lambda", method, path, {}, body, query),
            a.extract_resource_arn("lambda", method, path, {}, body, query, "us-east-1",
                                   "000000000000")]

print(json.dumps({
    "by_arn": checked("GET", "/2018-10-31/layers",
                      {"find": ["LayerVersion"], "Arn": ["arn:aws:lambda:us-east-1:0:layer:x:1"]}),
    "create": checked("POST", "/2015-03-31/functions", {}, b'{"FunctionName": "f"}'),
}))
"""


def package() -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    return data.getvalue()


def denied(call: Any, **kwargs: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    assert refused.value.response["Error"]["Code"] in {"AccessDeniedException", "AccessDenied"}


class World:
    def __init__(self) -> None:
        self.prefix = f"reqres-{uuid.uuid4().hex[:8]}"
        self.lam, self.iam, self.events = client("lambda"), client("iam"), client("events")
        layer = self.lam.publish_layer_version(
            LayerName=self.prefix, Content={"ZipFile": package()}
        )
        self.layer_version = str(layer["LayerVersionArn"])
        self.layer_arn = str(layer["LayerArn"])
        self.role = str(
            self.iam.create_role(
                RoleName=self.prefix, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
            )["Role"]["Arn"]
        )
        self.bus = str(self.events.create_event_bus(Name=self.prefix)["EventBusArn"])
        self.user = IamUser(self.prefix, [allow("lambda:ListLayers", "*")])
        self.functions: list[str] = []

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"

    def close(self) -> None:
        self.user.close()
        for name in self.functions:
            self.lam.delete_function(FunctionName=name)
        self.lam.delete_layer_version(LayerName=self.prefix, VersionNumber=1)
        self.iam.delete_role(RoleName=self.prefix)
        self.events.delete_event_bus(Name=self.prefix)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    require_auth()
    made = World()
    yield made
    made.close()


def allow(action: str, *resources: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": list(resources)}


def test_a_layer_version_is_read_by_arn_with_get_layer_version_on_it(world: World) -> None:
    lam = world.user.client("lambda")
    world.user.allow([allow("lambda:ListLayers", "*")])
    denied(lam.get_layer_version_by_arn, Arn=world.layer_version)
    world.user.allow([allow("lambda:GetLayerVersion", f"{world.layer_arn}:2")])
    denied(lam.get_layer_version_by_arn, Arn=world.layer_version)
    world.user.allow([allow("lambda:GetLayerVersion", world.layer_version)])
    assert lam.get_layer_version_by_arn(Arn=world.layer_version)["Version"] == 1
    assert lam.get_layer_version(LayerName=world.prefix, VersionNumber=1)["Version"] == 1


def test_a_function_is_created_under_a_policy_naming_it_and_no_other(world: World) -> None:
    lam = world.user.client("lambda")
    named = f"{world.prefix}-allowed"
    world.user.allow([
        allow("lambda:CreateFunction", world.function_arn(named)),
        allow("iam:PassRole", world.role),
    ])  # fmt: skip
    request = {"Runtime": "python3.11", "Handler": "handler.handler", "Role": world.role,
               "Code": {"ZipFile": package()}}  # fmt: skip
    denied(lam.create_function, FunctionName=f"{world.prefix}-other", **request)
    lam.create_function(FunctionName=named, **request)
    world.functions.append(named)


def test_an_event_bus_is_described_with_describe_event_bus_on_it(world: World) -> None:
    events = world.user.client("events")
    world.user.allow([allow("events:DescribeEventBus", f"{world.bus}-other")])
    denied(events.describe_event_bus, Name=world.prefix)
    world.user.allow([allow("events:DescribeEventBus", world.bus)])
    assert events.describe_event_bus(Name=world.prefix)["Arn"] == world.bus


def test_ministack_alone_reads_every_layer_as_list_layers_and_creates_on_any_resource() -> None:
    require_auth()
    assert run_unpatched_script(UNPATCHED, {}) == {
        "by_arn": ["lambda:ListLayers", "*"],
        "create": ["lambda:CreateFunction", "*"],
    }
