"""The local stack's Step Functions is as hard as AWS's: limits MiniStack alone does not enforce.

Each test runs a tiny state machine on the launched MiniStack (``local/ministack_launcher.py``
with ``local/ministack_fidelity/``) and checks the AWS behaviour, then runs the same
definition on MiniStack's own, unpatched interpreter (in a ``.venv-ministack`` subprocess,
through its StartSyncExecution handler) to show MiniStack alone would have let it pass.
Where a Lambda is involved, the unpatched run stands in MiniStack's ``_call_lambda`` with
what that Lambda answers.

These tests need only MiniStack (not the Stax simulator); ``tests.e2e.ministack_support``
says how to point them at another MiniStack.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import ROOT
from tests.e2e.ministack_support import (
    MINISTACK_PYTHON,
    ROLE,
    client,
    require_ministack,
    run_unpatched_script,
    wait_done,
)

pytestmark = pytest.mark.e2e

LIMIT = 262_144

LIMITS_LAMBDA = """
def handler(event, context):
    if event.get("fail_with_message_chars"):
        raise ValueError("m" * event["fail_with_message_chars"])
    return {"blob": "x" * event.get("result_chars", 0)}
"""

#: Runs one definition on MiniStack's unpatched Step Functions, in-process, and prints
#: what DescribeExecution and the history would say (or StartExecution's HTTP status).
UNPATCHED = r"""
import json, sys
from ministack.services import stepfunctions as sf

assert not hasattr(sf, "_MissingPath"), "this must be MiniStack without the launcher's patches"
request = json.load(sys.stdin)
if "lambda_result" in request:
    sf._call_lambda = lambda ref, event: request["lambda_result"]
if "lambda_error" in request:
    def _failing(ref, event):  # what _call_lambda raises for a failed Lambda
        raise sf._ExecutionError(request["lambda_error"]["errorType"],
                                 json.dumps(request["lambda_error"]))
    sf._call_lambda = _failing
_, _, body = sf._create_state_machine({"name": "unpatched", "roleArn": request["role"],
                                       "definition": json.dumps(request["definition"])})
data = {"stateMachineArn": json.loads(body)["stateMachineArn"], "input": request["input"]}
if request.get("name"):
    data["name"] = request["name"]
if request.get("start_only"):
    status, _, body = sf._start_execution(data)
    print(json.dumps({"http_status": status}))
    sys.exit(0)
_, _, body = sf._start_sync_execution(data)
execution = sf._executions[json.loads(body)["executionArn"]]
print(json.dumps({
    "status": execution["status"], "error": execution.get("error"),
    "cause": execution.get("cause"), "output": execution.get("output"),
    "events": [e["type"] for e in execution["events"]],
    "entered": [e["stateEnteredEventDetails"]["name"] for e in execution["events"]
                if "stateEnteredEventDetails" in e],
}))
"""


#: What these tests' machines do with their role (``ROLE``), which the launched MiniStack
#: checks (``sfn_role_permissions``): invoke the limits Lambda, start (and, ``.sync``, follow
#: through the managed rule) their child machines and their own Distributed Map children.
ROLE_GRANTS = [
    ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:000000000000:function:ministack-limits-*"),
    ("states:StartExecution", "arn:aws:states:us-east-1:000000000000:stateMachine:limits-*"),
    (["states:DescribeExecution", "states:StopExecution"],
     "arn:aws:states:us-east-1:000000000000:execution:limits-*"),
    (["events:PutTargets", "events:PutRule", "events:DescribeRule"],
     "arn:aws:events:us-east-1:000000000000:rule/"
     "StepFunctionsGetEventsForStepFunctionsExecutionRule"),
]  # fmt: skip


@contextmanager
def role_granted(grants: list[tuple[Any, str]]) -> Iterator[None]:
    """``ROLE`` (created if missing) allows ``grants`` while the tests of this module run."""
    iam, name = client("iam"), ROLE.rsplit("/", 1)[-1]
    # Trusted by Step Functions (the machines) and Lambda (limits_lambda runs as it too).
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": ["states.amazonaws.com", "lambda.amazonaws.com"]}}]}  # fmt: skip
    with suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    statements = [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in grants]
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    iam.put_role_policy(RoleName=name, PolicyName=__name__, PolicyDocument=document)
    try:
        yield
    finally:
        iam.delete_role_policy(RoleName=name, PolicyName=__name__)


@pytest.fixture(scope="module")
def sfn() -> Iterator[Any]:
    """Step Functions on the launched MiniStack (skipped, or failed under
    ``STAX_REQUIRE_LOCAL_STACK=1``, when it is not running), its machines' role granted."""
    require_ministack()
    with role_granted(ROLE_GRANTS):
        yield client("stepfunctions")


@pytest.fixture(scope="module")
def limits_lambda(sfn: Any) -> Iterator[str]:
    """A Lambda that returns ``result_chars`` characters or raises a long message."""
    lam = client("lambda")
    name = f"ministack-limits-{uuid.uuid4().hex[:8]}"
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", LIMITS_LAMBDA)
    arn: str = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": package.getvalue()},
    )["FunctionArn"]
    yield arn
    lam.delete_function(FunctionName=name)


def run_on_stack(sfn: Any, definition: dict[str, Any], input_text: str = "{}") -> dict[str, Any]:
    """Run ``definition`` on the launched MiniStack; DescribeExecution plus the history."""
    machine = sfn.create_state_machine(
        name=f"limits-{uuid.uuid4().hex[:10]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    try:
        execution = sfn.start_execution(stateMachineArn=machine, input=input_text)["executionArn"]
        described = wait_done(sfn, execution)
        events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    finally:
        sfn.delete_state_machine(stateMachineArn=machine)
    described["events"] = [event["type"] for event in events]
    described["entered"] = [
        event["stateEnteredEventDetails"]["name"]
        for event in events
        if "stateEnteredEventDetails" in event
    ]
    return dict(described)


def run_unpatched(definition: dict[str, Any], input_text: str = "{}", **extra: Any) -> Any:
    """Run ``definition`` on MiniStack's own interpreter, without the launcher's patches."""
    request = {"definition": definition, "input": input_text, "role": ROLE, **extra}
    return run_unpatched_script(UNPATCHED, request)


def guarded(state: dict[str, Any], extra_states: dict[str, Any] | None = None) -> dict[str, Any]:
    """``state`` inside a Parallel whose Retry and Catch take every catchable error."""
    return {
        "StartAt": "Guard",
        "States": {
            "Guard": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Probe", "States": {"Probe": state, **(extra_states or {})}}
                ],
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Caught"}
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def assert_terminal(result: dict[str, Any], error: str) -> None:
    assert result["status"] == "FAILED", result
    assert result["error"] == error, result
    assert "Caught" not in result["entered"], "a Catch took a terminal error"


# ---------------------------------------------------------------------------- payload size


def test_a_state_output_over_256_kib_fails_the_execution_with_data_limit_exceeded(
    sfn: Any,
) -> None:
    definition = {
        "StartAt": "Big",
        "States": {"Big": {"Type": "Pass", "Result": {"blob": "x" * LIMIT}, "End": True}},
    }
    result = run_on_stack(sfn, definition)
    assert_terminal(result, "States.DataLimitExceeded")
    assert result["cause"] == (
        "The state/task 'Big' returned a result with a size exceeding the maximum number of "
        "bytes service limit."
    )
    assert run_unpatched(definition)["status"] == "SUCCEEDED"


def test_a_parallel_output_over_256_kib_is_not_caught_even_by_states_all(sfn: Any) -> None:
    half = {"Type": "Pass", "Result": "x" * (LIMIT // 2), "End": True}
    definition = {
        "StartAt": "Fan Out",
        "States": {
            "Fan Out": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": half}},
                    {"StartAt": "Right", "States": {"Right": half}},
                ],
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    result = run_on_stack(sfn, definition)
    assert_terminal(result, "States.DataLimitExceeded")
    assert "'Fan Out'" in result["cause"]
    assert run_unpatched(definition)["status"] == "SUCCEEDED"


def test_a_state_input_over_256_kib_after_parameters_fails_before_the_task_runs(
    sfn: Any, limits_lambda: str
) -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": limits_lambda,
                "Parameters": {"first.$": "$.blob", "second.$": "$.blob"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    input_text = json.dumps({"blob": "x" * (LIMIT // 2)})
    result = run_on_stack(sfn, definition, input_text)
    assert_terminal(result, "States.DataLimitExceeded")
    assert "LambdaFunctionScheduled" not in result["events"]
    assert "TaskScheduled" not in result["events"]
    unpatched = run_unpatched(definition, input_text, lambda_result={"ok": True})
    assert unpatched["status"] == "SUCCEEDED"


def test_a_task_result_over_256_kib_is_neither_retried_nor_caught(
    sfn: Any, limits_lambda: str
) -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": limits_lambda,
                "Parameters": {"result_chars": LIMIT},
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                "Catch": [
                    {"ErrorEquals": ["States.DataLimitExceeded"], "Next": "Caught"},
                    {"ErrorEquals": ["States.ALL"], "Next": "Caught"},
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    result = run_on_stack(sfn, definition)
    assert_terminal(result, "States.DataLimitExceeded")
    assert result["events"].count("TaskScheduled") == 1, "the task was retried"
    assert result["cause"].startswith(f"The state/task '{limits_lambda}' returned a result")
    unpatched = run_unpatched(definition, lambda_result={"blob": "x" * LIMIT})
    assert unpatched["status"] == "SUCCEEDED"


def test_start_execution_refuses_an_input_over_256_kib_of_utf8(sfn: Any) -> None:
    definition = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
    machine = sfn.create_state_machine(
        name=f"limits-{uuid.uuid4().hex[:10]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    # Fewer than 262,144 characters, more than 262,144 bytes: AWS counts UTF-8 bytes.
    too_large = json.dumps({"text": "é" * (LIMIT // 2)}, ensure_ascii=False)
    assert len(too_large) < LIMIT < len(too_large.encode("utf-8"))
    just_fits = json.dumps({"text": "x" * (LIMIT - len('{"text": ""}'))})
    assert len(just_fits.encode("utf-8")) == LIMIT
    try:
        with pytest.raises(ClientError) as refused:
            sfn.start_execution(stateMachineArn=machine, input=too_large)
        error = refused.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert "262144" in error["Message"]
        assert sfn.start_execution(stateMachineArn=machine, input=just_fits)["executionArn"]
    finally:
        sfn.delete_state_machine(stateMachineArn=machine)
    assert run_unpatched(definition, too_large, start_only=True)["http_status"] == 200


# ---------------------------------------------------------------------------- missing paths

#: Where AWS reads a path, a state that reads ``$.missing`` there (and the path the cause names).
MISSING_PATH_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "Parameters": (
        {"Type": "Pass", "Parameters": {"value.$": "$.missing"}, "End": True},
        "$.missing",
    ),
    "ItemSelector": (
        {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {"value.$": "$.missing"},
            "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
            "End": True,
        },
        "$.missing",
    ),
    "ResultSelector": (
        {
            "Type": "Parallel",
            "Branches": [{"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}}],
            "ResultSelector": {"value.$": "$.missing"},
            "End": True,
        },
        "$.missing",
    ),
    "InputPath": ({"Type": "Pass", "InputPath": "$.missing", "End": True}, "$.missing"),
    "OutputPath": ({"Type": "Pass", "OutputPath": "$.missing", "End": True}, "$.missing"),
    "ItemsPath": (
        {
            "Type": "Map",
            "ItemsPath": "$.missing",
            "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
            "End": True,
        },
        "$.missing",
    ),
    "Wait SecondsPath": ({"Type": "Wait", "SecondsPath": "$.missing", "End": True}, "$.missing"),
    "Wait TimestampPath": (
        {"Type": "Wait", "TimestampPath": "$.missing", "End": True},
        "$.missing",
    ),
    "Choice Variable": (
        {
            "Type": "Choice",
            "Choices": [{"Variable": "$.missing", "StringEquals": "yes", "Next": "Done"}],
            "Default": "Done",
        },
        "$.missing",
    ),
    "Choice NumericGreaterThanEqualsPath": (
        {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.count", "NumericGreaterThanEqualsPath": "$.missing", "Next": "Done"}
            ],
            "Default": "Done",
        },
        "$.missing",
    ),
    "Fail ErrorPath": ({"Type": "Fail", "ErrorPath": "$.missing", "Cause": "why"}, "$.missing"),
    "Fail CausePath": ({"Type": "Fail", "Error": "Failed", "CausePath": "$.missing"}, "$.missing"),
    "States.Format argument": (
        {"Type": "Pass", "Parameters": {"value.$": "States.Format('{}', $.missing)"}, "End": True},
        "$.missing",
    ),
    "States.JsonToString argument": (
        {"Type": "Pass", "Parameters": {"value.$": "States.JsonToString($.missing)"}, "End": True},
        "$.missing",
    ),
    "context object path": (
        {"Type": "Pass", "Parameters": {"value.$": "$$.Execution.Missing"}, "End": True},
        "$$.Execution.Missing",
    ),
    "array index past the end": (
        {"Type": "Pass", "Parameters": {"value.$": "$.items[5]"}, "End": True},
        "$.items[5]",
    ),
}
PROBE_INPUT = json.dumps({"items": [1, 2], "count": 3, "nothing": None})


@pytest.mark.parametrize("site", list(MISSING_PATH_CASES))
def test_a_missing_path_fails_the_execution_with_states_runtime_that_no_catch_takes(
    sfn: Any, site: str
) -> None:
    state, path = MISSING_PATH_CASES[site]
    definition = guarded(state, {"Done": {"Type": "Succeed"}})
    result = run_on_stack(sfn, definition, PROBE_INPUT)
    assert_terminal(result, "States.Runtime")
    assert f"'{path}'" in result["cause"]
    assert result["cause"].startswith("An error occurred while executing the state 'Probe'")
    assert run_unpatched(definition, PROBE_INPUT)["status"] == "SUCCEEDED"


def test_is_present_tests_a_missing_path_and_an_explicit_null_resolves(sfn: Any) -> None:
    definition = {
        "StartAt": "Absent?",
        "States": {
            "Absent?": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.missing", "IsPresent": False},
                            {"Variable": "$.items[5]", "IsPresent": False},
                            {"Not": {"Variable": "$.missing.deeper", "IsPresent": True}},
                            {"Variable": "$.nothing", "IsNull": True},
                        ],
                        "Next": "Read Null",
                    }
                ],
                "Default": "Wrong Branch",
            },
            "Read Null": {
                "Type": "Pass",
                "Parameters": {"nothing.$": "$.nothing", "first.$": "$.items[0]"},
                "End": True,
            },
            "Wrong Branch": {"Type": "Fail", "Error": "WrongBranch"},
        },
    }
    result = run_on_stack(sfn, definition, PROBE_INPUT)
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"nothing": None, "first": 1}


def test_context_object_fields_that_aws_provides_still_resolve(sfn: Any) -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {
                    "index.$": "$$.Map.Item.Index",
                    "role.$": "$$.Execution.RoleArn",
                    "redrives.$": "$$.Execution.RedriveCount",
                    "machine.$": "$$.StateMachine.Name",
                    "entered.$": "$$.State.EnteredTime",
                },
                "ItemProcessor": {
                    "StartAt": "Item",
                    "States": {"Item": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    result = run_on_stack(sfn, definition, PROBE_INPUT)
    assert result["status"] == "SUCCEEDED", result
    first = json.loads(result["output"])[0]
    assert first["index"] == 0
    assert first["role"] == ROLE
    assert first["redrives"] == 0


def test_a_child_executions_terminal_error_reaches_its_parent_as_a_catchable_task_failure(
    sfn: Any,
) -> None:
    child_definition = {
        "StartAt": "Read",
        "States": {"Read": {"Type": "Pass", "Parameters": {"value.$": "$.missing"}, "End": True}},
    }
    child = sfn.create_state_machine(
        name=f"limits-child-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(child_definition),
        roleArn=ROLE,
    )["stateMachineArn"]
    definition = {
        "StartAt": "Run Child",
        "States": {
            "Run Child": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child, "Input": {}},
                "Catch": [
                    {
                        "ErrorEquals": ["States.TaskFailed"],
                        "ResultPath": "$.failure",
                        "Next": "Caught",
                    }
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    try:
        result = run_on_stack(sfn, definition)
    finally:
        sfn.delete_state_machine(stateMachineArn=child)
    assert result["status"] == "SUCCEEDED", result
    assert "Caught" in result["entered"]
    assert json.loads(result["output"])["failure"]["Error"] == "States.TaskFailed"


# ---------------------------------------------------------------------------- cause length


def test_a_fail_state_cause_and_error_are_cut_to_aws_lengths(sfn: Any) -> None:
    definition = {
        "StartAt": "Stop",
        "States": {"Stop": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"}},
    }
    input_text = json.dumps({"error": "E" * 300, "cause": "c" * 40_000})
    result = run_on_stack(sfn, definition, input_text)
    assert result["status"] == "FAILED"
    assert result["error"] == "E" * 256
    assert result["cause"] == "c" * 32_768
    unpatched = run_unpatched(definition, input_text)
    assert (len(unpatched["error"]), len(unpatched["cause"])) == (300, 40_000)


def test_a_lambda_failure_cause_over_32768_characters_is_cut_before_the_catch_sees_it(
    sfn: Any, limits_lambda: str
) -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": limits_lambda,
                "Parameters": {"fail_with_message_chars": 40_000},
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Done"}
                ],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }
    result = run_on_stack(sfn, definition)
    assert result["status"] == "SUCCEEDED", result
    failure = json.loads(result["output"])["failure"]
    assert failure["Error"] == "ValueError"
    assert len(failure["Cause"]) == 32_768
    with pytest.raises(json.JSONDecodeError):
        json.loads(failure["Cause"])  # cut JSON: a States.StringToJson of it fails
    lambda_error = {"errorType": "ValueError", "errorMessage": "m" * 40_000}
    unpatched = run_unpatched(definition, lambda_error=lambda_error)
    assert len(json.loads(unpatched["output"])["failure"]["Cause"]) > 40_000


# ---------------------------------------------------------------------------- execution timeout


def test_execution_timeout_seconds_ends_the_execution_timed_out(sfn: Any) -> None:
    definition = {
        "TimeoutSeconds": 1,
        "StartAt": "Linger",
        "States": {"Linger": {"Type": "Wait", "Seconds": 3, "End": True}},
    }
    result = run_on_stack(sfn, definition)
    assert result["status"] == "TIMED_OUT", result
    assert "WaitStateExited" not in result["events"], "the execution outlived its timeout"
    assert result["error"] == "States.Timeout"
    assert "ExecutionTimedOut" in result["events"]
    assert "ExecutionSucceeded" not in result["events"]
    assert run_unpatched(definition)["status"] == "SUCCEEDED"


# ---------------------------------------------------------------------------- the launcher

REFUSAL = r"""
import sys
sys.path.insert(0, sys.argv[1])
import ministack_fidelity
from ministack.services import stepfunctions as sf

sf._resolve_path = lambda path, data: None  # a MiniStack whose source differs
ministack_fidelity.install(sf)
"""


def test_the_launcher_refuses_to_patch_a_function_whose_source_differs() -> None:
    if not MINISTACK_PYTHON.exists():
        pytest.skip(f"{MINISTACK_PYTHON} is missing: make venv")
    done = subprocess.run(
        [str(MINISTACK_PYTHON), "-c", REFUSAL, str(ROOT / "local")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "_resolve_path" in done.stderr
    assert "Re-read the MiniStack source" in done.stderr


# ---------------------------------------------------------------------------- child failure
def _parent_catching_child_error(child: str) -> dict[str, Any]:
    return {
        "StartAt": "Run Child",
        "States": {
            "Run Child": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child, "Input": {}},
                "Catch": [
                    {"ErrorEquals": ["ChildOwnError"], "ResultPath": "$.failure",
                     "Next": "Caught By Name"},
                    {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure",
                     "Next": "Caught"},
                ],
                "End": True,
            },
            "Caught By Name": {"Type": "Pass", "End": True},
            "Caught": {"Type": "Pass", "End": True},
        },
    }  # fmt: skip


def test_a_failed_child_reaches_its_parent_as_task_failed_describing_the_child(sfn: Any) -> None:
    child_definition = {
        "StartAt": "Boom",
        "States": {"Boom": {"Type": "Fail", "Error": "ChildOwnError", "Cause": "why it failed"}},
    }
    child = sfn.create_state_machine(
        name=f"limits-child-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(child_definition),
        roleArn=ROLE,
    )["stateMachineArn"]
    try:
        result = run_on_stack(sfn, _parent_catching_child_error(child))
    finally:
        sfn.delete_state_machine(stateMachineArn=child)
    assert result["status"] == "SUCCEEDED", result
    assert "Caught" in result["entered"] and "Caught By Name" not in result["entered"]
    failure = json.loads(result["output"])["failure"]
    assert failure["Error"] == "States.TaskFailed"
    described = json.loads(failure["Cause"])
    assert described["Error"] == "ChildOwnError"
    assert described["Cause"] == "why it failed"
    assert described["Status"] == "FAILED"
    assert described["ExecutionArn"].startswith("arn:aws:states:")


def test_unpatched_ministack_hands_the_parent_the_childs_own_error_name() -> None:
    import ast

    # MiniStack's own _nested_execution_failure, run on what a failed child returns.
    code = (
        "import json\nfrom ministack.services import stepfunctions as sf\n"
        "print(json.dumps(sf._nested_execution_failure("
        "{'status': 'FAILED', 'output': json.dumps({'Error': 'ChildOwnError', "
        "'Cause': 'why it failed'})})))"
    )
    done = subprocess.run(
        [str(MINISTACK_PYTHON), "-c", code], capture_output=True, text=True, check=True,
        timeout=60, env={**os.environ, "LOG_LEVEL": "ERROR"},
    )  # fmt: skip
    error, cause = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert error == "ChildOwnError" and cause == "why it failed"


def test_an_execution_name_over_80_characters_or_with_a_colon_is_refused(sfn: Any) -> None:
    machine = sfn.create_state_machine(
        name=f"limits-names-{uuid.uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE,
    )["stateMachineArn"]
    try:
        for name in ("n" * 81, "has:colon"):
            with pytest.raises(ClientError) as refused:
                sfn.start_execution(stateMachineArn=machine, name=name, input="{}")
            assert refused.value.response["Error"]["Code"] == "InvalidName"
        started = sfn.start_execution(stateMachineArn=machine, name="n" * 80, input="{}")
        assert started["executionArn"].endswith("n" * 80)
    finally:
        sfn.delete_state_machine(stateMachineArn=machine)
    unpatched = run_unpatched(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        start_only=True,
        name="n" * 81,
    )
    assert unpatched["http_status"] == 200  # MiniStack alone takes an 81-character name
