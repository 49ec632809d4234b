"""The local stack authorizes SSM ``GetParameters`` on each parameter it names, as AWS does.

On the launched MiniStack (``AUTH=true``, ``local/ministack_fidelity/ssm_get_parameters.py``)
an IAM user created here whose policy allows ``ssm:GetParameters`` on exactly two
parameters' ARNs reads them in one call (the least-privilege policy the product's token
functions carry); a call that also names a parameter outside the policy is refused
``AccessDeniedException``; a version selector is not part of the ARN. Then MiniStack's own,
unpatched authorization is shown checking such a request against ``*`` only.

Like ``test_ministack_limits.py``, these tests need only MiniStack
(``tests.e2e.ministack_support``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.ministack_support import (
    IamUser,
    client,
    refusal,
    require_auth,
    require_ministack,
    run_unpatched_script,
)

pytestmark = pytest.mark.e2e

REGION, ACCOUNT = "us-east-1", "000000000000"

#: MiniStack's own authorization, unpatched: the resource a GetParameters request is
#: checked against.
UNPATCHED = r"""
import json, sys
from ministack.core import iam_actions

request = json.load(sys.stdin)
headers = {"x-amz-target": "AmazonSSM.GetParameters"}
print(json.dumps(iam_actions.extract_resource_arn(
    "ssm", "POST", "/", headers, json.dumps({"Names": request["names"]}).encode(), {},
    "us-east-1", "000000000000")))
"""


class Reader:
    """An IAM user allowed ``ssm:GetParameters`` on two parameters, and its SSM client."""

    def __init__(self) -> None:
        self.prefix = f"/authz-{uuid.uuid4().hex[:8]}"
        self.names = [f"{self.prefix}/key", f"{self.prefix}/key/secret", f"{self.prefix}/other"]
        self.root_ssm = client("ssm")
        for name in self.names:
            self.root_ssm.put_parameter(Name=name, Value="v", Type="SecureString")
        allowed = [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{n}" for n in self.names[:2]]
        self.user = IamUser(
            self.prefix.strip("/"),
            [{"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": allowed}],
        )
        self.ssm = self.user.client("ssm")

    def close(self) -> None:
        self.user.close()
        self.root_ssm.delete_parameters(Names=self.names)


@pytest.fixture(scope="module")
def reader() -> Iterator[Reader]:
    require_auth()
    made = Reader()
    yield made
    made.close()


def test_a_policy_naming_each_parameter_reads_them_in_one_call(reader: Reader) -> None:
    answer: dict[str, Any] = reader.ssm.get_parameters(Names=reader.names[:2], WithDecryption=True)
    assert sorted(p["Name"] for p in answer["Parameters"]) == sorted(reader.names[:2])
    assert answer["InvalidParameters"] == []
    # A version selector names the same parameter.
    answer = reader.ssm.get_parameters(Names=[f"{reader.names[0]}:1"])
    assert [p["Name"] for p in answer["Parameters"]] == [reader.names[0]]


def test_one_name_outside_the_policy_refuses_the_whole_call(reader: Reader) -> None:
    message = refusal(
        "AccessDeniedException", reader.ssm.get_parameters, Names=[reader.names[0], reader.names[2]]
    )
    assert "ssm:GetParameters" in message and reader.names[2] in message, message


def test_ministack_alone_checks_get_parameters_against_every_resource() -> None:
    require_ministack()
    assert run_unpatched_script(UNPATCHED, {"names": ["/a", "/b"]}) == "*"
