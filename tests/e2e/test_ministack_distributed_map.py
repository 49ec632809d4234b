"""The local stack's Distributed Map behaves as AWS's in what a fleet orchestrator relies on.

Each test runs a tiny state machine with a Distributed Map on the launched MiniStack
(``local/ministack_launcher.py`` with ``local/ministack_fidelity/distributed_map.py``),
items read from a JSONL object in MiniStack's S3 (or from the input), children made of
Pass / Choice / Wait / Fail states (a child fails by a Choice on its item), and checks
what AWS documents. It then runs the same definition on MiniStack's own, unpatched
interpreter (a ``.venv-ministack`` subprocess, through its StartSyncExecution handler,
with the same S3 objects in its own S3) to show MiniStack alone would have behaved
otherwise.

Like ``test_ministack_limits.py``, these tests need only MiniStack (``tests.e2e.ministack_support``).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.ministack_support import (
    ROLE,
    client,
    require_ministack,
    run_unpatched_script,
    wait_done,
)

pytestmark = pytest.mark.e2e

JSONL = {"InputType": "JSONL"}
DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
THRESHOLD = "States.ExceedToleratedFailureThreshold"

#: Runs definitions on MiniStack's unpatched Step Functions, in-process, with the given
#: S3 objects and helper state machines, and prints what DescribeExecution, the Map Run
#: and its child executions would say.
UNPATCHED = r"""
import json, sys, time
from ministack.services import s3
from ministack.services import stepfunctions as sf

assert not hasattr(sf, "_MissingPath"), "this must be MiniStack without the launcher's patches"
request = json.load(sys.stdin)
for location, text in request["objects"].items():
    bucket, key = location.split("/", 1)
    if bucket not in s3._buckets:
        s3._create_bucket(bucket, b"")
    s3._put_object(bucket, key, text.encode("utf-8"), {})
arns = {}
for name, definition in request["machines"].items():
    text = json.dumps(definition)
    for other, arn in arns.items():
        text = text.replace("{{" + other + "}}", arn)
    _, _, body = sf._create_state_machine({"name": name, "roleArn": request["role"],
                                           "definition": text})
    arns[name] = json.loads(body)["stateMachineArn"]
parent = arns[request["run"]]
started = time.monotonic()
_, _, body = sf._start_sync_execution({"stateMachineArn": parent, "input": request["input"]})
seconds = time.monotonic() - started
execution = sf._executions[json.loads(body)["executionArn"]]
runs = [r for r in sf._map_runs.values() if r["executionArn"] == execution["executionArn"]]
children = [e for e in sf._executions.values()
            if runs and e.get("mapRunArn") == runs[0]["mapRunArn"]]
print(json.dumps({
    "status": execution["status"], "error": execution.get("error"),
    "cause": execution.get("cause"), "output": execution.get("output"),
    "executionArn": execution["executionArn"], "name": execution["name"], "seconds": seconds,
    "map_runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs],
    "children": [{k: e.get(k) for k in ("executionArn", "name", "status", "error", "input",
                                        "output", "startDate", "stopDate")}
                 for e in children],
    "machines": {name: [e["status"] for e in sf._executions.values()
                        if e["stateMachineArn"] == arn] for name, arn in arns.items()},
}, default=str))
"""


class Stack:
    """Step Functions and S3 clients of the launched MiniStack, and a bucket for items."""

    def __init__(self) -> None:
        self.sfn = client("stepfunctions")
        self.s3 = client("s3")
        self.bucket = f"dmap-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.objects: dict[str, str] = {}
        self.machines: list[str] = []  # helper machines, deleted at the end

    def put_items(self, items: list[Any]) -> dict[str, Any]:
        """A JSONL object of ``items``; the ItemReader that reads it."""
        key = f"items-{uuid.uuid4().hex[:8]}.jsonl"
        text = "\n".join(json.dumps(item) for item in items) + "\n"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"))
        self.objects[f"{self.bucket}/{key}"] = text
        return {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": JSONL,
            "Parameters": {"Bucket": self.bucket, "Key": key},
        }

    def close(self) -> None:
        for machine in self.machines:
            self.sfn.delete_state_machine(stateMachineArn=machine)
        for location in self.objects:
            self.s3.delete_object(Bucket=self.bucket, Key=location.split("/", 1)[1])
        self.s3.delete_bucket(Bucket=self.bucket)


#: What these tests' machines do with their role (``ROLE``), which the launched MiniStack
#: checks (``sfn_role_permissions``): start their own Distributed Map children and the helper
#: machines (``.sync``: follow them, through the managed rule), read the items' objects.
ROLE_GRANTS = [
    ("states:StartExecution", "arn:aws:states:us-east-1:000000000000:stateMachine:dmap-*"),
    (["states:DescribeExecution", "states:StopExecution"],
     "arn:aws:states:us-east-1:000000000000:execution:dmap-*"),
    (["events:PutTargets", "events:PutRule", "events:DescribeRule"],
     "arn:aws:events:us-east-1:000000000000:rule/"
     "StepFunctionsGetEventsForStepFunctionsExecutionRule"),
    (["s3:GetObject", "s3:GetObjectVersion"], "arn:aws:s3:::dmap-*/*"),
    # A ResultWriter may export under results/ of the test buckets, nowhere else.
    ("s3:PutObject", "arn:aws:s3:::dmap-*/results/*"),
]  # fmt: skip


@contextmanager
def role_granted(grants: list[tuple[Any, str]]) -> Iterator[None]:
    """``ROLE`` (created if missing) allows ``grants`` while the tests of this module run."""
    iam, name = client("iam"), ROLE.rsplit("/", 1)[-1]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "states.amazonaws.com"}}]}  # fmt: skip
    with suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    statements = [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in grants]
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    iam.put_role_policy(RoleName=name, PolicyName=__name__, PolicyDocument=document)
    try:
        yield
    finally:
        iam.delete_role_policy(RoleName=name, PolicyName=__name__)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The launched MiniStack (skipped, or failed under ``STAX_REQUIRE_LOCAL_STACK=1``,
    when it is not running)."""
    require_ministack()
    local = Stack()
    with role_granted(ROLE_GRANTS):
        yield local
    local.close()


def run_on_stack(
    stack: Stack,
    definition: dict[str, Any],
    input_value: Any = None,
    machines: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run ``definition`` (``{{name}}`` replaced by the ARN of ``machines[name]``) on the
    launched MiniStack: DescribeExecution, the Map Run and its children, and the
    executions of the helper machines."""
    sfn, arns = stack.sfn, dict[str, str]()
    for name, helper in (machines or {}).items():
        arns[name] = sfn.create_state_machine(
            name=f"dmap-{name}-{uuid.uuid4().hex[:8]}",
            definition=substitute(helper, arns),
            roleArn=ROLE,
        )["stateMachineArn"]
        stack.machines.append(arns[name])
    machine = sfn.create_state_machine(
        name=f"dmap-{uuid.uuid4().hex[:10]}",
        definition=substitute(definition, arns),
        roleArn=ROLE,
    )["stateMachineArn"]
    try:
        started = time.monotonic()
        execution = sfn.start_execution(
            stateMachineArn=machine, input=json.dumps(input_value or {})
        )["executionArn"]
        described = wait_done(sfn, execution)
        described["seconds"] = time.monotonic() - started
        described["map_runs"] = map_runs(sfn, execution)
        described["children"] = children(sfn, described["map_runs"])
        described["arns"] = arns
    finally:
        sfn.delete_state_machine(stateMachineArn=machine)
    return described


def substitute(definition: dict[str, Any], arns: dict[str, str]) -> str:
    text = json.dumps(definition)
    for name, arn in arns.items():
        text = text.replace("{{" + name + "}}", arn)
    return text


def map_runs(sfn: Any, execution: str) -> list[dict[str, Any]]:
    listed = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    return [dict(sfn.describe_map_run(mapRunArn=run["mapRunArn"])) for run in listed]


def children(sfn: Any, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not runs:
        return []
    listed = sfn.list_executions(mapRunArn=runs[0]["mapRunArn"])["executions"]
    described = [dict(sfn.describe_execution(executionArn=e["executionArn"])) for e in listed]
    for listing, child in zip(listed, described, strict=True):
        assert listing["mapRunArn"] == child["mapRunArn"] == runs[0]["mapRunArn"]
    return described


def run_unpatched(
    stack: Stack,
    definition: dict[str, Any],
    input_value: Any = None,
    machines: dict[str, dict[str, Any]] | None = None,
) -> Any:
    """Run ``definition`` on MiniStack's own interpreter, without the launcher's patches."""
    text = json.dumps(definition)
    request = {
        "objects": {
            where: body for where, body in stack.objects.items() if where.split("/")[1] in text
        },
        "machines": {**(machines or {}), "parent": definition},
        "run": "parent",
        "input": json.dumps(input_value or {}),
        "role": ROLE,
    }
    return run_unpatched_script(UNPATCHED, request)


def counts(run: dict[str, Any], kind: str = "itemCounts") -> dict[str, int]:
    keys = ("pending", "running", "succeeded", "failed", "aborted", "total")
    return {key: run[kind][key] for key in keys}


def failing_below(limit: int, then: dict[str, Any] | None = None) -> dict[str, Any]:
    """A child that fails (ItemFailed) when its item's ``n`` is below ``limit``."""
    return {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": limit, "Next": "Item Failed"}],
                "Default": "Item Done",
            },
            "Item Failed": {"Type": "Fail", "Error": "ItemFailed", "Cause": "n is small"},
            "Item Done": then or {"Type": "Pass", "End": True},
        },
    }


def distributed_map(processor: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A state machine of one Distributed Map state (``fields``: the Map's own fields)."""
    state = {"Type": "Map", "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, **processor}}
    return {"StartAt": "Fan Out", "States": {"Fan Out": {**state, **fields, "End": True}}}


def guarded(definition: dict[str, Any]) -> dict[str, Any]:
    """``definition`` inside a Parallel whose Retry and Catch take every catchable error."""
    return {
        "StartAt": "Guard",
        "States": {
            "Guard": {
                "Type": "Parallel",
                "Branches": [definition],
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def stamp(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def overlapping(runs: list[dict[str, Any]]) -> bool:
    spans = sorted((stamp(c["startDate"]), stamp(c["stopDate"])) for c in runs)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


# ---------------------------------------------------------------------------- settings paths


def test_max_concurrency_path_sets_how_many_children_run_at_once(stack: Stack) -> None:
    reader = stack.put_items([{"n": n} for n in range(2)])
    linger = {
        "StartAt": "Linger",
        "States": {"Linger": {"Type": "Wait", "Seconds": 1, "End": True}},
    }
    definition = distributed_map(linger, ItemReader=reader, MaxConcurrencyPath="$.concurrency")
    result = run_on_stack(stack, definition, {"concurrency": 1})
    assert result["status"] == "SUCCEEDED", result
    (run,) = result["map_runs"]
    assert run["maxConcurrency"] == 1
    assert len(result["children"]) == 2
    assert not overlapping(result["children"]), "children ran at once under MaxConcurrency 1"
    unpatched = run_unpatched(stack, definition, {"concurrency": 1})
    assert unpatched["map_runs"][0]["maxConcurrency"] == 0
    assert overlapping(unpatched["children"])


def test_an_item_reader_reads_the_version_it_names_not_the_latest(stack: Stack) -> None:
    """How the fleet machine runs the plan it wrote and no other (``VersionId``)."""
    s3, bucket = stack.s3, f"dmap-versions-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key = "plan.jsonl"
    try:
        planned = s3.put_object(Bucket=bucket, Key=key, Body=b'{"n": 1}\n{"n": 2}\n')
        s3.put_object(Bucket=bucket, Key=key, Body=b"".join(b'{"n": %d}\n' % n for n in range(5)))
        reader = {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": JSONL,
            "Parameters": {"Bucket": bucket, "Key": key, "VersionId.$": "$.version"},
        }
        definition = distributed_map({"StartAt": "Done", "States": {"Done": {"Type": "Pass",
                                      "End": True}}}, ItemReader=reader)  # fmt: skip
        result = run_on_stack(stack, definition, {"version": planned["VersionId"]})
        assert result["status"] == "SUCCEEDED", result
        assert sorted(json.loads(c["input"])["n"] for c in result["children"]) == [1, 2]
        # A version that is gone fails the Map: nothing runs.
        s3.delete_object(Bucket=bucket, Key=key, VersionId=planned["VersionId"])
        gone = run_on_stack(stack, definition, {"version": planned["VersionId"]})
        assert (gone["status"], gone.get("error")) == ("FAILED", "States.ItemReaderFailed"), gone
        assert gone["children"] == []
    finally:
        listed = s3.list_object_versions(Bucket=bucket)
        for version in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        s3.delete_bucket(Bucket=bucket)


#: (the Map's tolerance fields, the input, whether AWS's Map Run succeeds) for 10 items of
#: which the first two (run first: MaxConcurrency 1) fail.
TOLERANCE_CASES = {
    "count path 2 tolerates 2": ({"ToleratedFailureCountPath": "$.tolerated"}, 2, True),
    "count path 1 does not": ({"ToleratedFailureCountPath": "$.tolerated"}, 1, False),
    # 2 of 10 items: 20 % of the total, though every finished child had failed by then.
    "percentage path 20 tolerates 20 %": (
        {"ToleratedFailurePercentagePath": "$.tolerated"}, 20, True
    ),
    "percentage path 19 does not": ({"ToleratedFailurePercentagePath": "$.tolerated"}, 19, False),
}  # fmt: skip


@pytest.mark.parametrize("case", list(TOLERANCE_CASES))
def test_tolerated_failure_paths_set_the_threshold_over_all_items(stack: Stack, case: str) -> None:
    fields, tolerated, succeeds = TOLERANCE_CASES[case]
    reader = stack.put_items([{"n": n} for n in range(10)])
    definition = distributed_map(
        failing_below(2), ItemReader=reader, MaxConcurrency=1, ResultPath=None, **fields
    )
    result = run_on_stack(stack, definition, {"tolerated": tolerated})
    (run,) = result["map_runs"]
    if succeeds:
        assert result["status"] == "SUCCEEDED", result
        assert counts(run) == {"pending": 0, "running": 0, "succeeded": 8, "failed": 2,
                               "aborted": 0, "total": 10}  # fmt: skip
    else:
        assert (result["status"], result["error"]) == ("FAILED", THRESHOLD), result
    field = (
        "toleratedFailureCount" if "Count" in next(iter(fields)) else "toleratedFailurePercentage"
    )
    assert run[field] == tolerated
    unpatched = run_unpatched(stack, definition, {"tolerated": tolerated})
    assert (unpatched["status"], unpatched["error"]) == ("FAILED", THRESHOLD)  # paths ignored
    assert unpatched["map_runs"][0][field] == 0


#: A settings path and the value it selects that AWS refuses (None: the path selects nothing).
BAD_SETTINGS = {
    "negative concurrency": ("MaxConcurrencyPath", -1),
    "concurrency as a string": ("MaxConcurrencyPath", "2"),
    "fractional concurrency": ("MaxConcurrencyPath", 1.5),
    "concurrency path missing": ("MaxConcurrencyPath", None),
    "negative count": ("ToleratedFailureCountPath", -1),
    "count as a boolean": ("ToleratedFailureCountPath", True),
    "count path missing": ("ToleratedFailureCountPath", None),
    "percentage over 100": ("ToleratedFailurePercentagePath", 101),
    "fractional percentage": ("ToleratedFailurePercentagePath", 12.5),
}


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_a_bad_settings_path_fails_the_execution_with_states_runtime(
    stack: Stack, case: str
) -> None:
    path_field, value = BAD_SETTINGS[case]
    definition = guarded(
        distributed_map(failing_below(0), ItemsPath="$.items", **{path_field: "$.setting"})
    )
    input_value: dict[str, Any] = {"items": [{"n": 1}, {"n": 2}]}
    if value is not None:
        input_value["setting"] = value
    result = run_on_stack(stack, definition, input_value)
    assert (result["status"], result["error"]) == ("FAILED", "States.Runtime"), result
    assert "$.setting" in result["cause"] or "Expected" in result["cause"], result["cause"]
    assert result["map_runs"] == [], "a Map Run started with a bad setting"
    unpatched = run_unpatched(stack, definition, input_value)
    assert unpatched["status"] == "SUCCEEDED", unpatched


# ---------------------------------------------------------------------------- the threshold


def test_crossing_the_threshold_fails_the_map_run_and_starts_no_new_child(stack: Stack) -> None:
    # Items 1 and 2 fail; one failure is tolerated; one child at a time, in order.
    reader = stack.put_items([{"n": n} for n in range(10)])
    processor = failing_below(3)
    processor["States"]["Check"]["Choices"].insert(
        0, {"Variable": "$.n", "NumericEquals": 0, "Next": "Item Done"}
    )
    definition = distributed_map(
        processor, ItemReader=reader, MaxConcurrency=1, ToleratedFailureCount=1, ResultPath=None
    )
    result = run_on_stack(stack, definition)
    assert (result["status"], result["error"]) == ("FAILED", THRESHOLD), result
    (run,) = result["map_runs"]
    assert run["status"] == "FAILED"
    expected = {"pending": 7, "running": 0, "succeeded": 1, "failed": 2, "aborted": 0, "total": 10}
    assert counts(run) == counts(run, "executionCounts") == expected
    assert sorted(c["status"] for c in result["children"]) == ["FAILED", "FAILED", "SUCCEEDED"]
    assert all(json.loads(c["input"])["n"] < 3 for c in result["children"]), "a later item ran"
    unpatched = run_unpatched(stack, definition)
    assert (unpatched["status"], unpatched["error"]) == ("FAILED", THRESHOLD)
    assert counts(unpatched["map_runs"][0]) == {"pending": 0, "running": 0, "succeeded": 8,
                                                "failed": 2, "aborted": 0, "total": 10}  # fmt: skip
    assert len(unpatched["children"]) == 10


#: Waits 2 s: the execution a child starts with startExecution.sync:2.
SLOW = {"StartAt": "Work", "States": {"Work": {"Type": "Wait", "Seconds": 2, "End": True}}}


def test_crossing_the_threshold_aborts_running_children_and_the_executions_they_wait_for(
    stack: Stack,
) -> None:
    # Three at a time: item 0 fails after 1 s while items 1 and 2 wait for a 2 s
    # execution; items 3-5 would be quick. No failure is tolerated.
    reader = stack.put_items([{"n": n} for n in range(6)])
    processor = {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.n", "NumericEquals": 0, "Next": "Linger"},
                    {"Variable": "$.n", "NumericLessThan": 3, "Next": "Run Slow"},
                ],
                "Default": "Item Done",
            },
            "Linger": {"Type": "Wait", "Seconds": 1, "Next": "Item Failed"},
            "Item Failed": {"Type": "Fail", "Error": "ItemFailed", "Cause": "n is 0"},
            "Run Slow": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": "{{slow}}", "Input": {}},
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Item Done"}],
                "Next": "Item Done",
            },
            "Item Done": {"Type": "Pass", "End": True},
        },
    }
    definition = distributed_map(
        processor, ItemReader=reader, MaxConcurrency=3, ToleratedFailureCount=0, ResultPath=None
    )
    result = run_on_stack(stack, definition, machines={"slow": SLOW})
    assert (result["status"], result["error"]) == ("FAILED", THRESHOLD), result
    (run,) = result["map_runs"]
    expected = {"pending": 3, "running": 0, "succeeded": 0, "failed": 1, "aborted": 2, "total": 6}
    assert counts(run) == counts(run, "executionCounts") == expected
    assert sorted(c["status"] for c in result["children"]) == ["ABORTED", "ABORTED", "FAILED"]
    sfn, slow = stack.sfn, result["arns"]["slow"]

    def slow_statuses() -> list[str]:
        return [e["status"] for e in sfn.list_executions(stateMachineArn=slow)["executions"]]

    # Aborted, not SUCCEEDED: the Map state ended without waiting for the running children.
    assert slow_statuses() == ["ABORTED", "ABORTED"], "the Map state waited for its children"
    time.sleep(1.5)  # the aborted children's threads end: nothing changes, nothing retries
    assert slow_statuses() == ["ABORTED", "ABORTED"]
    assert counts(dict(sfn.describe_map_run(mapRunArn=run["mapRunArn"]))) == expected
    unpatched = run_unpatched(stack, definition, machines={"slow": SLOW})
    assert (unpatched["status"], unpatched["error"]) == ("FAILED", THRESHOLD)
    assert unpatched["seconds"] > 2
    assert counts(unpatched["map_runs"][0]) == {"pending": 0, "running": 0, "succeeded": 5,
                                                "failed": 1, "aborted": 0, "total": 6}  # fmt: skip
    assert unpatched["machines"]["slow"] == ["SUCCEEDED", "SUCCEEDED"]


# ---------------------------------------------------------------------------- reader and input


def test_a_child_input_over_256_kib_fails_the_map_state_before_that_child_starts(
    stack: Stack,
) -> None:
    reader = stack.put_items([{"n": 5}, {"n": 6, "blob": "x" * 262_144}, {"n": 7}])
    definition = guarded(
        distributed_map(
            failing_below(0), ItemReader=reader, MaxConcurrency=1, ToleratedFailureCount=5
        )
    )
    result = run_on_stack(stack, definition)
    assert (result["status"], result["error"]) == ("FAILED", "States.DataLimitExceeded"), result
    assert [json.loads(c["input"])["n"] for c in result["children"]] == [5]
    (run,) = result["map_runs"]
    assert counts(run) == {"pending": 2, "running": 0, "succeeded": 1, "failed": 0,
                           "aborted": 0, "total": 3}  # fmt: skip
    unpatched = run_unpatched(stack, definition)
    assert unpatched["status"] == "SUCCEEDED", unpatched
    assert len(unpatched["children"]) == 3


def test_an_item_over_8_mb_in_the_jsonl_object_fails_the_reader(stack: Stack) -> None:
    reader = stack.put_items([{"n": 1}, {"n": 2, "blob": "x" * 8_000_000}])
    definition = distributed_map(
        failing_below(0), ItemReader=reader, ItemSelector={"n.$": "$$.Map.Item.Value.n"}
    )
    result = run_on_stack(stack, definition)
    assert (result["status"], result["error"]) == ("FAILED", "States.ItemReaderFailed"), result
    assert result["map_runs"] == []
    unpatched = run_unpatched(stack, definition)
    assert unpatched["status"] == "SUCCEEDED", unpatched  # ItemSelector kept its input small


def test_max_items_path_must_select_a_positive_integer(stack: Stack) -> None:
    reader = stack.put_items([{"n": n} for n in range(5)])
    reader["ReaderConfig"] = {**JSONL, "MaxItemsPath": "$.max_items"}
    definition = distributed_map(failing_below(0), ItemReader=reader)
    result = run_on_stack(stack, definition, {"max_items": -2})
    assert (result["status"], result["error"]) == ("FAILED", "States.ItemReaderFailed"), result
    assert (
        run_on_stack(stack, definition, {"max_items": 2})["map_runs"][0]["itemCounts"]["total"] == 2
    )
    unpatched = run_unpatched(stack, definition, {"max_items": -2})
    assert unpatched["status"] == "SUCCEEDED", unpatched
    assert len(unpatched["children"]) == 3  # MiniStack dropped the last two items


# ---------------------------------------------------------------------------- context object


def test_a_child_has_its_own_context_object_and_the_item_comes_through_item_selector(
    stack: Stack,
) -> None:
    reader = stack.put_items([{"n": 10}, {"n": 11}])
    record = {
        "Type": "Pass",
        "Parameters": {
            "index.$": "$.index", "value.$": "$.value", "parent.$": "$.parent",
            "id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name",
            "start.$": "$$.Execution.StartTime", "redrives.$": "$$.Execution.RedriveCount",
            "input.$": "$$.Execution.Input",
        },
        "End": True,
    }  # fmt: skip
    selector = {
        "index.$": "$$.Map.Item.Index",
        "value.$": "$$.Map.Item.Value",
        "parent.$": "$$.Execution.Name",
    }
    definition = distributed_map(
        {"StartAt": "Record", "States": {"Record": record}},
        ItemReader=reader,
        ItemSelector=selector,
    )
    result = run_on_stack(stack, definition)
    assert result["status"] == "SUCCEEDED", result
    outputs = json.loads(result["output"])
    children_by_arn = {c["executionArn"]: c for c in result["children"]}
    for index, output in enumerate(outputs):
        child = children_by_arn[output["id"]]  # $$.Execution.Id is the child's own ARN
        assert output["name"] == child["name"]
        assert abs((stamp(output["start"]) - child["startDate"]).total_seconds()) < 0.002
        assert output["redrives"] == 0
        assert (output["index"], output["value"]) == (index, {"n": 10 + index})
        assert output["parent"] == result["name"]  # ItemSelector runs in the parent
        assert output["input"] == json.loads(child["input"])
    unpatched = run_unpatched(stack, definition)
    assert {o["id"] for o in json.loads(unpatched["output"])} == {unpatched["executionArn"]}


def test_a_state_inside_the_child_cannot_read_the_map_item(stack: Stack) -> None:
    reader = stack.put_items([{"n": 1}])
    inside = {"Type": "Pass", "Parameters": {"index.$": "$$.Map.Item.Index"}, "End": True}
    definition = distributed_map({"StartAt": "Read", "States": {"Read": inside}}, ItemReader=reader)
    result = run_on_stack(stack, definition)
    assert (result["status"], result["error"]) == ("FAILED", THRESHOLD), result
    (child,) = result["children"]
    assert (child["status"], child["error"]) == ("FAILED", "States.Runtime")
    assert "$$.Map.Item.Index" in child["cause"]
    unpatched = run_unpatched(stack, definition)
    assert unpatched["status"] == "SUCCEEDED", unpatched


# ---------------------------------------------------------------------------- the Map's result
# (local/ministack_fidelity/map_results.py): a failed child comes back as its whole execution
# record, a result over 256 KiB fails the Map state, a ResultWriter exports the records to S3.

#: A failed child's record holds its input: 3 KB items make 100 failures about 300 KB.
BLOB = "x" * 3_000


def failing_items(stack: Stack, total: int) -> dict[str, Any]:
    return stack.put_items([{"n": n, "blob": BLOB} for n in range(total)])


def exported(stack: Stack, output: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The records a ResultWriter exported, by status, read back from S3."""
    s3 = client("s3")
    details = output["ResultWriterDetails"]
    manifest = json.loads(
        s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read()
    )
    stack.objects[f"{details['Bucket']}/{details['Key']}"] = ""
    records: dict[str, list[dict[str, Any]]] = {}
    for status, files in manifest["ResultFiles"].items():
        for file in files:
            body = s3.get_object(Bucket=manifest["DestinationBucket"], Key=file["Key"])["Body"]
            records.setdefault(status, []).extend(json.loads(body.read()))
            stack.objects[f"{manifest['DestinationBucket']}/{file['Key']}"] = ""
    return records


def test_failed_children_past_256_kib_fail_the_map_state_inside_its_tolerance(
    stack: Stack,
) -> None:
    reader = failing_items(stack, 120)
    definition = distributed_map(
        failing_below(100), ItemReader=reader, ToleratedFailurePercentage=90, ResultPath=None
    )
    result = run_on_stack(stack, definition)
    # 100 of 120 failed is inside 90 %; the failed records (inputs included) are not.
    assert (result["status"], result["error"]) == ("FAILED", "States.DataLimitExceeded"), result
    assert "ResultWriter" in result["cause"]
    unpatched = run_unpatched(stack, definition)
    assert unpatched["status"] == "SUCCEEDED", unpatched  # MiniStack: a null per failure


def test_a_failed_child_comes_back_as_its_whole_execution_record(stack: Stack) -> None:
    reader = stack.put_items([{"n": 0}, {"n": 1}])
    definition = distributed_map(failing_below(1), ItemReader=reader, ToleratedFailureCount=1)
    result = run_on_stack(stack, definition)
    assert result["status"] == "SUCCEEDED", result
    failed, succeeded = json.loads(result["output"])
    assert (failed["Status"], failed["Error"], json.loads(failed["Input"])) == (
        "FAILED", "ItemFailed", {"n": 0}
    )  # fmt: skip
    assert failed["ExecutionArn"] in {c["executionArn"] for c in result["children"]}
    assert succeeded == {"n": 1}  # COMPACT: a succeeded child's output alone
    unpatched = run_unpatched(stack, definition)
    assert json.loads(unpatched["output"])[0] is None


def test_a_result_writer_exports_every_record_and_keeps_the_state_small(stack: Stack) -> None:
    # The figure: 2,000 targets, 400 failing, inside a 25 % tolerance.
    reader = stack.put_items([{"n": n} for n in range(2_000)])
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": stack.bucket, "Prefix": "results/fleet-1"},
    }
    definition = distributed_map(
        failing_below(400), ItemReader=reader, ToleratedFailurePercentage=25,
        ResultWriter=writer, MaxConcurrency=200,
    )  # fmt: skip
    result = run_on_stack(stack, definition)
    assert result["status"] == "SUCCEEDED", {k: result.get(k) for k in ("error", "cause")}
    output = json.loads(result["output"])
    assert set(output) == {"MapRunArn", "ResultWriterDetails"}
    assert len(result["output"].encode()) < 8 * 1024
    details = output["ResultWriterDetails"]
    run_id = output["MapRunArn"].rsplit(":", 1)[-1]
    assert details["Key"] == f"results/fleet-1/{run_id}/manifest.json"
    records = exported(stack, output)
    failed = sorted(json.loads(r["Input"])["n"] for r in records["FAILED"])
    assert failed == list(range(400))
    assert {r["Error"] for r in records["FAILED"]} == {"ItemFailed"}
    assert len(records["SUCCEEDED"]) == 1_600
    unpatched = run_unpatched(stack, definition)
    assert unpatched["status"] == "SUCCEEDED"
    assert "ResultWriterDetails" not in unpatched["output"]  # MiniStack ignores the writer


def test_a_result_writer_the_role_may_not_write_with_fails_the_map_state(stack: Stack) -> None:
    reader = stack.put_items([{"n": 5}])
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": stack.bucket, "Prefix": "elsewhere"},
    }
    definition = distributed_map(failing_below(0), ItemReader=reader, ResultWriter=writer)
    result = run_on_stack(stack, definition)
    assert (result["status"], result["error"]) == ("FAILED", "States.ResultWriterFailed"), result
    assert "s3:PutObject" in result["cause"] and "/elsewhere/" in result["cause"]
