"""Only the stage writes what makes it write to Stax; nobody reaches its bucket without TLS.

The local stage's bucket, deployed by ``deploy.sh`` with its policy, as the launched
MiniStack evaluates it (``AUTH=true``; a Deny in a bucket policy binds the account's root
keys too, ``local/ministack_fidelity/s3_root_bucket_policy.py``). The principals here are
an administrator of the account (an IAM user allowed ``*``), the deploying user and the
local operator (the root keys, which ``make deploy-local`` names with ``--bucket-writer``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import deployer_env
from tests.e2e.ministack_support import MINISTACK_URL, IamUser

pytestmark = pytest.mark.e2e

GUARDED = ("baselines/baselines.yaml", "plans/fleet.jsonl", "requests/targets.jsonl")  # fmt: skip


@pytest.fixture(scope="module")
def administrator(deployed: dict[str, Any]) -> Iterator[IamUser]:
    user = IamUser(f"bucket-admin-{uuid.uuid4().hex[:8]}",
                   [{"Effect": "Allow", "Action": "*", "Resource": "*"}])  # fmt: skip
    yield user
    user.close()


def _refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDenied", error
    return str(error.get("Message", ""))


def _plain_http(s3: Any) -> Any:
    """``s3`` as a client whose requests reach S3 without TLS (what a proxy in front of
    MiniStack, like S3's own HTTP endpoint, reports as ``aws:SecureTransport = false``)."""

    def insecure(request: Any, **_: Any) -> None:
        request.headers["X-Forwarded-Proto"] = "http"

    s3.meta.events.register("before-send.s3.*", insecure)
    return s3


@pytest.mark.parametrize("key", GUARDED)
def test_an_administrator_of_the_account_cannot_write_what_drives_the_stage(
    deployed: dict[str, Any], administrator: IamUser, key: str
) -> None:
    s3, bucket = administrator.client("s3"), deployed["fleet_bucket"]
    message = _refused(s3.put_object, Bucket=bucket, Key=key, Body=b"swapped")
    assert "explicit deny in a resource-based policy" in message
    _refused(s3.delete_object, Bucket=bucket, Key=key)


def test_the_administrator_still_reads_the_bucket_and_writes_elsewhere_in_it(
    deployed: dict[str, Any], administrator: IamUser
) -> None:
    s3, bucket = administrator.client("s3"), deployed["fleet_bucket"]
    s3.put_object(Bucket=bucket, Key="scratch/notes.txt", Body=b"not read by the stage")
    s3.delete_object(Bucket=bucket, Key="scratch/notes.txt")
    s3.list_objects_v2(Bucket=bucket, Prefix="baselines/")


def test_the_deploying_user_and_the_local_operator_may_write_fleet_requests(
    deployed: dict[str, Any],
) -> None:
    env = deployer_env()
    deployer = boto3.client("s3", endpoint_url=MINISTACK_URL, region_name="us-east-1",
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])  # fmt: skip
    operator = boto3.client("s3", endpoint_url=MINISTACK_URL, region_name="us-east-1")
    bucket = deployed["fleet_bucket"]
    for who, s3 in (("deployer", deployer), ("operator", operator)):
        key = f"requests/trust-{who}-{uuid.uuid4().hex[:8]}.jsonl"
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}\n", ExpectedBucketOwner="000000000000")
        s3.delete_object(Bucket=bucket, Key=key)


def test_no_one_reaches_the_bucket_without_tls_not_even_its_writers(
    deployed: dict[str, Any], administrator: IamUser
) -> None:
    bucket = deployed["fleet_bucket"]
    for s3 in (administrator.client("s3"),
               boto3.client("s3", endpoint_url=MINISTACK_URL, region_name="us-east-1")):  # fmt: skip
        insecure = _plain_http(s3)
        _refused(insecure.list_objects_v2, Bucket=bucket)
        _refused(insecure.get_object, Bucket=bucket, Key="baselines/baselines.yaml")
        _refused(insecure.put_object, Bucket=bucket, Key="requests/x.jsonl", Body=b"{}\n")


def test_a_bucket_of_that_name_in_another_account_is_refused_by_its_owner_check(
    deployed: dict[str, Any],
) -> None:
    s3 = boto3.client("s3", endpoint_url=MINISTACK_URL, region_name="us-east-1")
    # What every Lambda, state machine and CLI call on the bucket sends: its own account.
    _refused(s3.get_object, Bucket=deployed["fleet_bucket"], Key="baselines/baselines.yaml",
             ExpectedBucketOwner="111122223333")  # fmt: skip
