"""What the MiniStack fidelity tests share: the launched MiniStack, its clients, and a run of
a script on MiniStack's own, unpatched interpreter (in a ``.venv-ministack`` subprocess).

Used by ``test_ministack_limits.py`` and ``test_ministack_distributed_map.py``; these need
only MiniStack (not the Stax simulator). ``STAX_MINISTACK_URL`` points them at another
MiniStack started with the same launcher (e.g. one of your own on another port).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from typing import Any

import boto3
import requests

from tests.e2e.conftest import MINISTACK_URL as STANDARD_MINISTACK_URL
from tests.e2e.conftest import ROOT, require_local_stack

MINISTACK_URL = os.environ.get("STAX_MINISTACK_URL", STANDARD_MINISTACK_URL)
MINISTACK_PYTHON = ROOT / ".venv-ministack" / "bin" / "python"
ROLE = "arn:aws:iam::000000000000:role/ministack-limits"


def ministack_problem() -> str | None:
    """Why the fidelity tests cannot run (None when they can)."""
    try:
        requests.get(f"{MINISTACK_URL}/_ministack/health", timeout=2).raise_for_status()
    except requests.RequestException as error:
        return f"MiniStack is not answering at {MINISTACK_URL} ({type(error).__name__})"
    if not MINISTACK_PYTHON.exists():
        return f"{MINISTACK_PYTHON} is missing: make venv"
    return None


def require_ministack() -> None:
    """Skip (by hand) or fail (``STAX_REQUIRE_LOCAL_STACK=1``) when MiniStack is not up."""
    require_local_stack(ministack_problem())


def require_auth() -> None:
    """``require_ministack``, and fail unless it evaluates IAM (``AUTH=true``)."""
    import pytest

    require_ministack()
    health = requests.get(f"{MINISTACK_URL}/_ministack/health", timeout=5).json()
    if health.get("auth") != "enabled":
        pytest.fail("the local stack's MiniStack must run with AUTH=true (local/stack.sh)")


class IamUser:
    """An IAM user of the launched MiniStack with one inline policy of ``statements``, and
    clients that sign as it (its calls are evaluated under ``AUTH=true``)."""

    def __init__(self, name: str, statements: list[dict[str, Any]]) -> None:
        self.name, self.iam = name, client("iam")
        self.iam.create_user(UserName=name)
        self.allow(statements)
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        self.key_id, self._secret = key["AccessKeyId"], key["SecretAccessKey"]

    def allow(self, statements: list[dict[str, Any]]) -> None:
        """The user's policy is now ``statements``."""
        document = json.dumps({"Version": "2012-10-17", "Statement": statements})
        self.iam.put_user_policy(UserName=self.name, PolicyName="test", PolicyDocument=document)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=MINISTACK_URL,
            region_name="us-east-1",
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self._secret,
        )

    def close(self) -> None:
        self.iam.delete_access_key(UserName=self.name, AccessKeyId=self.key_id)
        self.iam.delete_user_policy(UserName=self.name, PolicyName="test")
        self.iam.delete_user(UserName=self.name)


def client(service: str) -> Any:
    """A client of the launched MiniStack (its dummy credentials)."""
    return boto3.client(
        service,
        endpoint_url=MINISTACK_URL,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


#: A trust policy letting Step Functions assume a role (the launched MiniStack checks it).
STATES_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                   "Principal": {"Service": "states.amazonaws.com"}}],
}  # fmt: skip


def ensure_role(role_arn: str = ROLE) -> None:
    """Create ``role_arn`` trusting Step Functions unless it exists (a machine's role must
    exist and trust ``states.amazonaws.com``, ``sfn_role_trust``)."""
    iam = client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(
            RoleName=role_arn.rsplit("/", 1)[-1], AssumeRolePolicyDocument=json.dumps(STATES_TRUST)
        )


def wait_done(sfn: Any, execution: str, timeout: float = 60) -> dict[str, Any]:
    """DescribeExecution once the execution left RUNNING."""
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"still RUNNING after {timeout} s: {described}"
        time.sleep(0.05)
    return dict(described)


def run_unpatched_script(script: str, request: dict[str, Any]) -> Any:
    """Run ``script`` on MiniStack's own interpreter with ``request`` as JSON on stdin;
    the JSON of its last printed line."""
    done = subprocess.run(
        [str(MINISTACK_PYTHON), "-c", script],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "LOG_LEVEL": "ERROR"},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def refusal(code: str, call: Any, **kwargs: Any) -> str:
    """The message of the error ``call(**kwargs)`` must answer with the code ``code``."""
    import pytest
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    error = refused.value.response["Error"]
    assert error["Code"] == code, error
    return str(error["Message"])
