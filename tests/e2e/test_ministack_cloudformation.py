"""The local stack's CloudFormation is as strict as AWS's where MiniStack alone is kinder.

On the launched MiniStack (``local/ministack_fidelity/cfn_*.py``):

- capabilities (``cfn_capabilities``): a template with an IAM role must be acknowledged
  with ``CAPABILITY_IAM``, and with ``CAPABILITY_NAMED_IAM`` when the role has a name of
  its own — by CreateStack and by CreateChangeSet alike (CreateStack API reference,
  ``Capabilities``), whatever the IAM mode;
- a bucket that still holds objects or versions fails to delete (``cfn_bucket_not_empty``):
  the stack delete ends DELETE_FAILED until the bucket is emptied;
- a new change set is CREATE_PENDING and cannot be executed until a DescribeChangeSet has
  shown it complete (``cfn_change_set_async``).

Each rule's last test runs the same case on MiniStack's own, unpatched code (a
``.venv-ministack`` subprocess) to show MiniStack alone would have let it pass.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e import ministack_support
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
    return ministack_support.refusal("InsufficientCapabilitiesException", call, **kwargs)


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


# ---------------------------------------------------------------------------- non-empty bucket
#: MiniStack's own bucket delete handler, unpatched, on a bucket holding an object.
BUCKET_UNPATCHED = r"""
import json, sys
from ministack.services import s3
from ministack.services.cloudformation import provisioners

delete = provisioners._RESOURCE_HANDLERS["AWS::S3::Bucket"]["delete"]
assert delete is provisioners._s3_delete, "this must be MiniStack without the launcher's patches"
name = json.load(sys.stdin)["bucket"]
provisioners._s3_create("Data", {"BucketName": name}, "unpatched")
s3._put_object(name, "k", b"x", {})
refused = s3._delete_bucket(name)[0]  # S3's own DeleteBucket refuses it...
delete(name, {"BucketName": name})  # ...CloudFormation's handler deletes it all the same
print(json.dumps({"s3_delete_bucket": refused, "deleted": name not in s3._buckets}))
"""
NOT_EMPTY = ("The bucket you tried to delete is not empty (Service: Amazon S3; Status Code: "
             "409; Error Code: BucketNotEmpty; Request ID: ")  # fmt: skip


@pytest.fixture(scope="module")
def s3() -> Any:
    require_ministack()
    return client("s3")


def settled(cfn: Any, name: str, timeout: float = 60) -> str:
    """The stack's status once no operation is in progress ("gone" once deleted)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
        except ClientError as error:
            assert "does not exist" in error.response["Error"]["Message"], error
            return "gone"
        if not status.endswith("_IN_PROGRESS"):
            return status
        assert time.monotonic() < deadline, f"stack {name} still {status}"
        time.sleep(0.1)


def failure_reasons(cfn: Any, name: str, status: str) -> dict[str, str]:
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return {e["LogicalResourceId"]: e.get("ResourceStatusReason", "") for e in events
            if e["ResourceStatus"] == status}  # fmt: skip


def bucket_template(bucket: str, **more: Any) -> str:
    data = {"Type": "AWS::S3::Bucket", "Properties": {
        "BucketName": bucket, "VersioningConfiguration": {"Status": "Enabled"}}}  # fmt: skip
    return json.dumps({"Resources": {"Data": data, **more}})


def empty(s3: Any, bucket: str) -> None:
    listed = s3.list_object_versions(Bucket=bucket)
    found = [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
    keys = [{"Key": o["Key"], "VersionId": o["VersionId"]} for o in found]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})


def test_a_stack_whose_bucket_holds_versions_fails_to_delete_until_it_is_emptied(
    cfn: Any, s3: Any
) -> None:
    name = f"bucket-{uuid.uuid4().hex[:8]}"
    bucket = f"{name}-data"
    cfn.create_stack(StackName=name, TemplateBody=bucket_template(bucket))
    assert settled(cfn, name) == "CREATE_COMPLETE"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="k")  # a version and a delete marker stay
    cfn.delete_stack(StackName=name)
    assert settled(cfn, name) == "DELETE_FAILED"
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatusReason"] == "The following resource(s) failed to delete: [Data]."
    assert failure_reasons(cfn, name, "DELETE_FAILED")["Data"].startswith(NOT_EMPTY)
    s3.head_bucket(Bucket=bucket)  # still there, versions and all
    empty(s3, bucket)
    cfn.delete_stack(StackName=name)
    assert settled(cfn, name) == "gone"
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=bucket)


def test_a_bucket_an_update_removes_stays_while_it_holds_objects(cfn: Any, s3: Any) -> None:
    name = f"bucket-{uuid.uuid4().hex[:8]}"
    bucket = f"{name}-data"
    queue = {"Queue": {"Type": "AWS::SQS::Queue"}}
    cfn.create_stack(StackName=name, TemplateBody=bucket_template(bucket, **queue))
    assert settled(cfn, name) == "CREATE_COMPLETE"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    try:
        cfn.update_stack(StackName=name, TemplateBody=json.dumps({"Resources": queue}))
        assert settled(cfn, name) == "UPDATE_COMPLETE"
        assert failure_reasons(cfn, name, "DELETE_FAILED")["Data"].startswith(NOT_EMPTY)
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    finally:
        empty(s3, bucket)
        cfn.delete_stack(StackName=name)
    assert settled(cfn, name) == "gone"


def test_ministack_alone_would_delete_a_bucket_that_holds_objects() -> None:
    require_ministack()
    unpatched = run_unpatched_script(BUCKET_UNPATCHED, {"bucket": "unpatched-bucket"})
    assert unpatched == {"s3_delete_bucket": 409, "deleted": True}


# ---------------------------------------------------------------------------- change sets
#: MiniStack's own CreateChangeSet and DescribeChangeSet, unpatched.
CHANGE_SET_UNPATCHED = r"""
import json, re, sys
from ministack.services.cloudformation import handlers

actions = handlers._ACTION_HANDLERS
assert not hasattr(actions["DescribeChangeSet"], "__wrapped__"), "this must be unpatched"
request = json.load(sys.stdin)
one = lambda **params: {key: [value] for key, value in params.items()}
_, _, body = actions["CreateChangeSet"](one(StackName=request["stack"], ChangeSetName="c",
                                           ChangeSetType="CREATE", TemplateBody=request["template"]))
change_set = re.search(rb"<Id>([^<]+)</Id>", body).group(1).decode()
_, _, body = actions["DescribeChangeSet"](one(ChangeSetName=change_set, StackName=request["stack"]))
print(json.dumps({field: re.search(rf"<{field}>([^<]*)</{field}>", body.decode()).group(1)
                  for field in ("Status", "ExecutionStatus")}))
"""
QUEUE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})


def execute_refusal(cfn: Any, change_set: str, name: str) -> str:
    with pytest.raises(ClientError) as refused:
        cfn.execute_change_set(ChangeSetName=change_set, StackName=name)
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidChangeSetStatus", error
    return str(error["Message"])


def test_a_new_change_set_is_pending_and_cannot_be_executed_until_seen_complete(
    cfn: Any,
) -> None:
    name = f"change-set-{uuid.uuid4().hex[:8]}"
    change_set = cfn.create_change_set(StackName=name, ChangeSetName="c", TemplateBody=QUEUE,
                                       ChangeSetType="CREATE")["Id"]  # fmt: skip
    try:
        assert execute_refusal(cfn, change_set, name) == (
            f"ChangeSet [{change_set}] cannot be executed in its current status of [CREATE_PENDING]"
        )
        [listed] = cfn.list_change_sets(StackName=name)["Summaries"]
        assert (listed["Status"], listed["ExecutionStatus"]) == ("CREATE_PENDING", "UNAVAILABLE")
        first = cfn.describe_change_set(ChangeSetName=change_set, StackName=name)
        assert (first["Status"], first["ExecutionStatus"]) == ("CREATE_PENDING", "UNAVAILABLE")
        assert first["Changes"] == []
        execute_refusal(cfn, change_set, name)  # seen pending: not yet complete
        second = cfn.describe_change_set(ChangeSetName=change_set, StackName=name)
        assert (second["Status"], second["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
        assert [c["ResourceChange"]["LogicalResourceId"] for c in second["Changes"]] == ["Queue"]
        cfn.execute_change_set(ChangeSetName=change_set, StackName=name)
        assert settled(cfn, name) == "CREATE_COMPLETE"
    finally:
        cfn.delete_stack(StackName=name)


def test_a_change_set_without_changes_ends_failed_after_its_pending_answer(cfn: Any) -> None:
    name = f"change-set-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=QUEUE)
    try:
        assert settled(cfn, name) == "CREATE_COMPLETE"
        change_set = cfn.create_change_set(StackName=name, ChangeSetName="same",
                                           TemplateBody=QUEUE)["Id"]  # fmt: skip
        first = cfn.describe_change_set(ChangeSetName=change_set, StackName=name)
        assert first["Status"] == "CREATE_PENDING"
        second = cfn.describe_change_set(ChangeSetName=change_set, StackName=name)
        assert (second["Status"], second["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
        assert "didn't contain changes" in second["StatusReason"]
    finally:
        cfn.delete_stack(StackName=name)


def test_ministack_alone_answers_a_new_change_set_complete_at_once() -> None:
    require_ministack()
    request = {"stack": "unpatched-change-set", "template": QUEUE}
    unpatched = run_unpatched_script(CHANGE_SET_UNPATCHED, request)
    assert unpatched == {"Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE"}
