"""The pure helpers of local/ministack_fidelity (the launcher's Step Functions and
CloudFormation rules).

The rules themselves run on MiniStack: tests/e2e/test_ministack_limits.py,
tests/e2e/test_ministack_cloudformation.py, tests/e2e/test_ministack_statemachines.py,
tests/e2e/test_ministack_role_permissions.py.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest

from local.ministack_fidelity import (
    _patching,
    cause_length,
    cfn_bucket_not_empty,
    cfn_change_set_async,
    distributed_map,
    execution_timeout,
    lambda_role_trust,
    missing_paths,
    payload_size,
    sfn_definition,
    sfn_role_permissions,
    sfn_role_trust,
    ssm_get_parameters,
)


def test_payload_size_counts_utf8_bytes_of_compact_json() -> None:
    assert payload_size.payload_bytes({"a": [1, 2]}) == len('{"a":[1,2]}')
    assert payload_size.payload_bytes("é") == len('"é"'.encode())
    assert payload_size.payload_bytes({"blob": "x" * 100}) == 100 + len('{"blob":""}')


def test_payload_size_of_a_lone_surrogate_does_not_raise() -> None:
    assert payload_size.payload_bytes(json.loads('"\\ud800"')) == 5


def test_an_optimized_integration_is_named_by_its_service_and_any_other_task_by_its_arn() -> None:
    assert payload_size.task_label("arn:aws:states:::lambda:invoke") == "lambda"
    assert payload_size.task_label("arn:aws:states:::states:startExecution.sync:2") == "states"
    arn = "arn:aws:lambda:us-east-1:000000000000:function:f"
    assert payload_size.task_label(arn) == arn


def test_cut_keeps_the_first_characters_and_leaves_non_strings_alone() -> None:
    assert cause_length.cut("abcdef", 4) == "abcd"
    assert cause_length.cut("abc", 4) == "abc"
    assert cause_length.cut(None, 4) is None


def test_a_definite_path_locates_explicit_nulls_but_not_missing_fields_or_indexes() -> None:
    data = {"a": {"b": None}, "list": [1, 2]}
    assert missing_paths.locate([("field", "a"), ("field", "b")], data) == (True, None)
    assert missing_paths.locate([("field", "list"), ("index", 1)], data) == (True, 2)
    assert missing_paths.locate([("field", "list"), ("index", 2)], data) == (False, None)
    assert missing_paths.locate([("field", "a"), ("field", "c")], data) == (False, None)
    assert missing_paths.locate([("field", "list"), ("field", "0")], data) == (False, None)
    assert missing_paths.locate([("field", "x")], None) == (False, None)


def test_only_paths_without_wildcards_are_definite() -> None:
    assert missing_paths.is_definite([("field", "a"), ("index", 0)])
    assert missing_paths.is_definite([])
    assert not missing_paths.is_definite([("field", "a"), ("wildcard", None)])
    assert not missing_paths.is_definite(None)


def test_a_path_is_printed_in_brackets_as_aws_prints_it() -> None:
    tokens = [("field", "a"), ("index", 0)]
    assert missing_paths.bracketed(tokens) == "$['a'][0]"
    assert missing_paths.invalid_path("$.a[0]", tokens) == (
        "Invalid path '$.a[0]' : No results for path: $['a'][0]"
    )


def test_the_field_named_in_a_cause_is_the_one_that_reads_the_path() -> None:
    template = {"kept": 1, "first.$": "$.a", "second.$": "States.Format('{}', $.missing)"}
    assert missing_paths.field_of(template, "$.missing") == "second.$"
    assert missing_paths.field_of(template, "$.other") is None


def test_only_a_positive_whole_timeout_seconds_sets_an_execution_timeout() -> None:
    assert execution_timeout.timeout_seconds(json.dumps({"TimeoutSeconds": 5})) == 5
    assert execution_timeout.timeout_seconds(json.dumps({"TimeoutSeconds": "5"})) is None
    assert execution_timeout.timeout_seconds(json.dumps({"TimeoutSeconds": True})) is None
    assert execution_timeout.timeout_seconds(json.dumps({"TimeoutSeconds": 0})) is None
    assert execution_timeout.timeout_seconds(json.dumps({"StartAt": "A"})) is None
    assert execution_timeout.timeout_seconds("not json") is None


@pytest.mark.parametrize(
    ("field", "value", "refusal"),
    [
        ("MaxConcurrency", 0, None),
        ("MaxConcurrency", 10_000, None),
        ("MaxConcurrency", -1,
         "Expected non-negative integer for MaxConcurrency, got '-1' instead."),
        ("MaxConcurrency", "5",
         'The MaxConcurrencyPath field refers to value "5" which is not a valid integer: $.x'),
        ("MaxConcurrency", 2.0,
         'The MaxConcurrencyPath field refers to value "2.0" which is not a valid integer: $.x'),
        ("ToleratedFailureCount", True,
         'The ToleratedFailureCountPath field refers to value "true" which is not a valid '
         "integer: $.x"),
        ("ToleratedFailureCount", None,
         'The ToleratedFailureCountPath field refers to value "null" which is not a valid '
         "integer: $.x"),
        ("ToleratedFailurePercentage", 100, None),
        ("ToleratedFailurePercentage", 101,
         "Expected integer between 0 and 100 for ToleratedFailurePercentage, got '101' "
         "instead."),
        ("ToleratedFailurePercentage", 12.5,
         'The ToleratedFailurePercentagePath field refers to value "12.5" which is not a valid '
         "integer: $.x"),
    ],
)  # fmt: skip
def test_a_settings_path_must_select_a_whole_number_in_range(
    field: str, value: object, refusal: str | None
) -> None:
    assert distributed_map.setting_problem(field, value, "$.x") == refusal


def test_max_items_path_selects_a_positive_integer_up_to_100_million() -> None:
    problem = distributed_map.max_items_problem
    assert problem(1, "$.n") is None
    assert problem(100_000_000, "$.n") is None
    for value in (0, -2, 100_000_001):  # "a positive integer"
        assert problem(value, "$.n") == (
            f"MaxItemsPath must be an integer between 1 and 100000000, got '{value}'."
        )
    assert problem("3", "$.n") == (
        "The MaxItemsPath field refers to value '3' which is not a valid integer: $.n"
    )
    assert problem(0, None) is None  # the literal MaxItems 0: no limit
    assert problem(-1, None) == "MaxItems must be an integer between 0 and 100000000, got '-1'."


def test_the_threshold_is_crossed_over_either_limit_counted_over_all_items() -> None:
    exceeds = distributed_map.exceeds_threshold
    assert not exceeds(0, 10, None, None)
    assert exceeds(1, 10, None, None)  # nothing tolerated by default
    assert not exceeds(2, 10, 2, None)
    assert exceeds(3, 10, 2, None)
    assert not exceeds(2, 10, None, 20.0)  # 2 of 10 items: 20 %, not over it
    assert exceeds(3, 10, None, 20.0)
    assert exceeds(3, 10, 5, 20.0)  # either limit
    assert exceeds(1, 10, 0, 100.0)


def _progress(
    total: int, count: int | None = 0
) -> tuple[distributed_map.MapRunProgress, list[str]]:
    stopped: list[str] = []
    record = {
        "itemCounts": distributed_map.empty_counts(total),
        "executionCounts": distributed_map.empty_counts(total),
    }
    progress = distributed_map.MapRunProgress(record, total, count, None, stopped.append)
    return progress, stopped


def _counts(progress: distributed_map.MapRunProgress) -> dict[str, int]:
    counts = progress.record["itemCounts"]
    assert counts == progress.record["executionCounts"]
    assert (
        sum(counts[k] for k in ("pending", "running", "succeeded", "failed", "aborted"))
        == (counts["total"])
    )
    return {k: counts[k] for k in ("pending", "running", "succeeded", "failed", "aborted")}


def test_crossing_the_threshold_aborts_running_children_and_leaves_the_rest_pending() -> None:
    progress, stopped = _progress(5)
    children = [distributed_map.ChildRun(f"child-{i}", None) for i in range(3)]
    for child in children:
        assert progress.begin(child, lambda: None)
    assert children[1].adopt("nested-1")
    progress.end(children[0], distributed_map.FAILED, lambda: None)
    assert progress.stopping and progress.unsettled == 0
    assert _counts(progress) == {
        "pending": 2,
        "running": 0,
        "succeeded": 0,
        "failed": 1,
        "aborted": 2,
    }
    assert sorted(stopped) == ["child-1", "child-2", "nested-1"]
    assert all(child.is_aborted() for child in children[1:])
    assert not children[1].adopt("nested-later")  # started after the abort: stopped at once
    progress.end(children[1], distributed_map.SUCCEEDED, lambda: None)  # its thread ends later
    assert _counts(progress)["aborted"] == 2
    assert not progress.begin(distributed_map.ChildRun("child-3", None), lambda: None)
    progress.wait()


def test_a_map_run_inside_an_aborted_child_stops_instead_of_starting_children() -> None:
    outer = distributed_map.ChildRun("outer", None)
    outer.abort(lambda _arn: None)
    progress, _stopped = _progress(2, count=None)
    inner = distributed_map.ChildRun("inner", outer)
    assert inner.is_aborted()
    assert not progress.begin(inner, lambda: None)
    assert progress.stopping and progress.unsettled == 0
    progress.wait()  # settled: it does not hang


def _reviewed(a: int, b: int) -> int:
    return a + b


def test_verify_accepts_the_reviewed_function() -> None:
    owner = types.SimpleNamespace(f=_reviewed)
    digest = _patching.source_digest(_reviewed)
    _patching.verify(owner, {"f": _patching.Expectation(("a", "b"), digest)})


@pytest.mark.parametrize(
    ("expectation", "problem"),
    [
        (_patching.Expectation(("a",), "any"), "takes"),
        (_patching.Expectation(("a", "b"), "0000000000000000"), "changed"),
    ],
)
def test_verify_refuses_a_function_with_other_parameters_or_source(
    expectation: _patching.Expectation, problem: str
) -> None:
    owner = types.SimpleNamespace(f=_reviewed)
    with pytest.raises(SystemExit) as refused:
        _patching.verify(owner, {"f": expectation})
    assert problem in str(refused.value)


def test_verify_refuses_a_missing_function() -> None:
    with pytest.raises(SystemExit) as refused:
        _patching.verify(types.SimpleNamespace(), {"g": _patching.Expectation((), "x")})
    assert "no function g" in str(refused.value)


# ---------------------------------------------------------------------------- CloudFormation
def test_a_bucket_holding_an_object_a_version_or_a_delete_marker_is_not_empty() -> None:
    assert not cfn_bucket_not_empty.holds_anything({"objects": {}}, has_versions=False)
    assert not cfn_bucket_not_empty.holds_anything(None, has_versions=False)
    assert cfn_bucket_not_empty.holds_anything({"objects": {"k": {}}}, has_versions=False)
    assert cfn_bucket_not_empty.holds_anything({"objects": {}}, has_versions=True)


def test_a_refused_bucket_delete_is_worded_as_the_s3_sdk_words_it() -> None:
    assert cfn_bucket_not_empty.not_empty_reason("REQ", "EXT") == (
        "The bucket you tried to delete is not empty (Service: Amazon S3; Status Code: 409; "
        "Error Code: BucketNotEmpty; Request ID: REQ; S3 Extended Request ID: EXT; Proxy: null)"
    )


def test_the_change_set_id_is_read_from_the_create_answer() -> None:
    body = b"<CreateChangeSetResult><Id>arn:aws:cloudformation:x:changeSet/c/1</Id>"
    assert cfn_change_set_async.created_id(body) == "arn:aws:cloudformation:x:changeSet/c/1"
    assert cfn_change_set_async.created_id(b"<Error/>") is None


def _change_set(status: str = "CREATE_COMPLETE") -> dict[str, Any]:
    return {"ChangeSetId": "arn:cs/1", "Status": status, "ExecutionStatus": "AVAILABLE",
            "StatusReason": "", "Changes": [{"ResourceChange": {}}],
            cfn_change_set_async.PENDING: cfn_change_set_async.NEW}  # fmt: skip


def _shown(cs: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    seen = {k: cs[k] for k in ("Status", "ExecutionStatus", "StatusReason")}
    return 200, seen, f"<ChangeSetId>{cs['ChangeSetId']}</ChangeSetId>{len(cs['Changes'])}".encode()


def test_a_new_change_set_is_pending_until_a_describe_has_shown_it_pending() -> None:
    module = cfn_change_set_async
    cs = _change_set()
    for _ in range(2):  # a listing shows it pending and does not move it on
        _, seen, body = module.answer_viewing([cs], lambda: _shown(cs), describing=False)
        assert seen["Status"] == "CREATE_PENDING" and body.endswith(b"0")
    assert module.execute_refusal(cs) == (
        "ChangeSet [arn:cs/1] cannot be executed in its current status of [CREATE_PENDING]"
    )
    _, seen, _ = module.answer_viewing([cs], lambda: _shown(cs), describing=True)
    assert seen == {"Status": "CREATE_PENDING", "ExecutionStatus": "UNAVAILABLE",
                    "StatusReason": ""}  # fmt: skip
    assert cs["Status"] == "CREATE_COMPLETE" and len(cs["Changes"]) == 1  # restored
    assert module.execute_refusal(cs) is not None  # shown pending: not yet seen complete
    _, seen, body = module.answer_viewing([cs], lambda: _shown(cs), describing=False)
    assert seen["Status"] == "CREATE_PENDING"
    _, seen, body = module.answer_viewing([cs], lambda: _shown(cs), describing=True)
    assert seen["Status"] == "CREATE_COMPLETE" and body.endswith(b"1")
    assert module.execute_refusal(cs) is None
    _, seen, _ = module.answer_viewing([cs], lambda: _shown(cs), describing=False)
    assert seen["ExecutionStatus"] == "AVAILABLE"


def test_a_change_set_the_answer_does_not_name_does_not_move_on() -> None:
    cs = _change_set()
    cfn_change_set_async.answer_viewing([cs], lambda: (404, {}, b"<Error/>"), describing=True)
    assert cs[cfn_change_set_async.PENDING] == cfn_change_set_async.NEW
    assert cfn_change_set_async.execute_refusal(None) is None


# ---------------------------------------------------------------------------- definitions
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "statemachines").glob("*.asl.json")),
                         ids=lambda p: p.name)  # fmt: skip
def test_the_project_state_machines_pass_the_definition_check(path: Path) -> None:
    assert sfn_definition.definition_problems(path.read_text()) == []


def _machine(**states: Any) -> str:
    return json.dumps({"StartAt": next(iter(states)), "States": states})


def test_every_kind_of_transition_must_name_a_state_of_its_own_block() -> None:
    definition = _machine(
        A={"Type": "Task", "Resource": "arn", "Next": "C",
           "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Gone1"}]},
        C={"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "Gone2"}],
           "Default": "Gone3"},
    )  # fmt: skip
    assert sfn_definition.invalid_definition(definition) == (
        "Invalid State Machine Definition: '"
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Gone1 at /States/A/Catch[0]/Next, "
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Gone2 at /States/C/Choices[0]/Next, "
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Gone3 at /States/C/Default'"
    )


def test_a_start_naming_no_state_is_refused_and_reachability_is_left_alone() -> None:
    definition = json.dumps({"StartAt": "Nope", "States": {"A": {"Type": "Succeed"}}})
    assert sfn_definition.definition_problems(definition) == [
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at /StartAt",
    ]
    unreached = _machine(A={"Type": "Succeed"}, Spare={"Type": "Succeed"})
    assert sfn_definition.definition_problems(unreached) == []  # not checked: see the module


def test_branches_and_item_processors_are_blocks_of_their_own() -> None:
    inner = {"StartAt": "In", "States": {"In": {"Type": "Pass", "Next": "Out"}}}
    definition = _machine(
        P={"Type": "Parallel", "Branches": [inner], "Next": "M"},
        M={"Type": "Map", "ItemProcessor": inner, "Next": "Out"},
        Out={"Type": "Succeed"},
    )
    assert sfn_definition.definition_problems(definition) == [
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Out at /States/P/Branches[0]/States/In/Next",
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Out at /States/M/ItemProcessor/States/In/Next",
    ]  # fmt: skip
    fine = {"StartAt": "In", "States": {"In": {"Type": "Pass", "End": True}}}
    assert sfn_definition.definition_problems(_machine(
        P={"Type": "Parallel", "Branches": [fine, fine], "Next": "M"},
        M={"Type": "Map", "Iterator": fine, "End": True},
    )) == []  # fmt: skip


def test_a_definition_must_be_a_json_object_with_start_at_and_states() -> None:
    assert sfn_definition.invalid_definition("StartAt: A") == (
        "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: Expecting value at "
        "(line: 1, column: 1)'"
    )
    assert sfn_definition.definition_problems("[]")[0].startswith("SCHEMA_VALIDATION_FAILED")
    problems = sfn_definition.definition_problems("{}")
    assert [p.split(":")[0] for p in problems] == ["SCHEMA_VALIDATION_FAILED"] * 2
    assert sfn_definition.invalid_definition(None) is None  # MiniStack's own checks decide


# ---------------------------------------------------------------- sfn_role_permissions

MACHINE = "arn:aws:states:eu-west-1:111122223333:stateMachine:parent"
FUNCTION = "arn:aws:lambda:eu-west-1:111122223333:function:f"


def _calls(resource: str, params: Any = None, name: str | None = "run-1") -> list[tuple[str, str]]:
    return [
        (call.action, call.resource)
        for call in sfn_role_permissions.task_calls(resource, params, MACHINE, name)
    ]


def test_a_lambda_reference_is_evaluated_as_its_function_arn_qualified_when_it_is() -> None:
    arn = sfn_role_permissions.function_arn
    assert arn("f", "eu-west-1", "111122223333") == FUNCTION
    assert arn("f:live", "eu-west-1", "111122223333") == f"{FUNCTION}:live"
    assert arn("444455556666:function:g:3", "eu-west-1", "111122223333") == (
        "arn:aws:lambda:eu-west-1:444455556666:function:g:3"
    )
    assert arn(FUNCTION, "us-east-1", "000000000000") == FUNCTION
    assert arn(None, "eu-west-1", "111122223333") is None


def test_both_lambda_task_forms_need_invoke_function_on_the_function() -> None:
    invoke = ("lambda:InvokeFunction", FUNCTION)
    assert _calls("arn:aws:states:::lambda:invoke", {"FunctionName": "f", "Payload": {}}) == [
        invoke
    ]
    assert _calls("arn:aws:states:::lambda:invoke.waitForTaskToken", {"FunctionName": "f"}) == [
        invoke
    ]
    assert _calls(FUNCTION, {"any": "input"}) == [invoke]
    assert _calls("arn:aws:states:::lambda:invoke", {"Payload": {}}) == []  # MiniStack decides


def test_a_sync_start_needs_the_managed_rule_then_the_start_then_following_the_child() -> None:
    child = "arn:aws:states:eu-west-1:111122223333:stateMachine:child"
    execution = "arn:aws:states:eu-west-1:111122223333:execution:child:run-1"
    rule = (
        "arn:aws:events:eu-west-1:111122223333:rule/"
        "StepFunctionsGetEventsForStepFunctionsExecutionRule"
    )
    expected = [("events:PutTargets", rule), ("events:PutRule", rule),
                ("events:DescribeRule", rule), ("states:StartExecution", child),
                ("states:DescribeExecution", execution), ("states:StopExecution", execution)]  # fmt: skip
    for resource in ("startExecution.sync", "startExecution.sync:2"):
        assert _calls(f"arn:aws:states:::states:{resource}", {"StateMachineArn": child}) == expected
    named = _calls("arn:aws:states:::states:startExecution.sync:2",
                   {"StateMachineArn": child, "Name": "given"})  # fmt: skip
    assert named[-1] == ("states:StopExecution", execution.replace("run-1", "given"))
    for resource in ("startExecution", "startExecution.waitForTaskToken"):
        assert _calls(f"arn:aws:states:::states:{resource}", {"StateMachineArn": child}) == [
            ("states:StartExecution", child)
        ]


def test_an_execution_of_a_version_or_alias_is_named_after_its_machine() -> None:
    execution_arn = sfn_role_permissions.execution_arn
    assert execution_arn(f"{MACHINE}:7", "x") == (
        "arn:aws:states:eu-west-1:111122223333:execution:parent:x"
    )
    assert execution_arn(f"{MACHINE}:live", "x").endswith(":execution:parent:x")


def test_the_dynamodb_items_need_their_action_on_the_table() -> None:
    table = "arn:aws:dynamodb:eu-west-1:111122223333:table/t"
    for operation, action in (("putItem", "dynamodb:PutItem"), ("getItem", "dynamodb:GetItem"),
                              ("updateItem", "dynamodb:UpdateItem"),
                              ("deleteItem", "dynamodb:DeleteItem")):  # fmt: skip
        assert _calls(f"arn:aws:states:::dynamodb:{operation}", {"TableName": "t"}) == [
            (action, table)
        ]
        assert _calls(f"arn:aws:states:::dynamodb:{operation}", {"TableName": table}) == [
            (action, table)
        ]


def test_integrations_the_rule_does_not_cover_are_left_to_ministack() -> None:
    assert _calls("arn:aws:states:::sqs:sendMessage", {"QueueUrl": "q"}) == []
    assert _calls("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "b"}) == []
    assert _calls("arn:aws:states:eu-west-1:111122223333:activity:a", {}) == []


def test_a_distributed_map_starts_its_children_on_itself_and_follows_them() -> None:
    calls = sfn_role_permissions.map_run_calls(MACHINE, "Fan")
    assert [(c.kind, c.action) for c in calls] == [
        ("map-run", "states:StartExecution"),
        ("map-run", "states:DescribeExecution"),
        ("map-run", "states:StopExecution"),
    ]
    assert calls[0].resource == MACHINE
    assert calls[1].resource.startswith(
        "arn:aws:states:eu-west-1:111122223333:execution:parent/Fan:"
    )


def test_a_listing_reader_needs_list_bucket_and_a_get_object_reader_nothing_more_here() -> None:
    listing = {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}}
    call = sfn_role_permissions.reader_list_call(listing, {"Bucket": "b", "Prefix": "p/"})
    assert call == ("item-reader", "s3:ListBucket", "arn:aws:s3:::b")
    getting = {"Resource": "arn:aws:states:::s3:getObject"}
    assert sfn_role_permissions.reader_list_call(getting, {"Bucket": "b", "Key": "k"}) is None
    assert sfn_role_permissions.reader_parameters({"Arguments": {"Bucket": "b"}}) == {"Bucket": "b"}
    assert sfn_role_permissions.object_arn("b", "dir/k.jsonl") == "arn:aws:s3:::b/dir/k.jsonl"


def test_the_principal_is_the_roles_session_whatever_the_roles_path() -> None:
    role = "arn:aws:iam::111122223333:role/service/path/Runner"
    assert sfn_role_permissions.role_name(role) == "Runner"
    assert sfn_role_permissions.role_name("arn:aws:iam::111122223333:user/u") is None
    assert sfn_role_permissions.role_name(None) is None
    assert sfn_role_permissions.assumed_role_arn(role, "111122223333", "s") == (
        "arn:aws:sts::111122223333:assumed-role/Runner/s"
    )


def test_each_denial_has_its_services_error_and_sdk_suffix() -> None:
    call = sfn_role_permissions.Call
    principal, role = "arn:aws:sts::1:assumed-role/R/s", "arn:aws:iam::1:role/R"
    error, cause = sfn_role_permissions.denial(
        call("lambda", "lambda:InvokeFunction", FUNCTION), "ImplicitDeny", role, principal, "id"
    )
    assert error == "Lambda.AWSLambdaException"
    assert cause == (
        f"User: {principal} is not authorized to perform: lambda:InvokeFunction on resource: "
        f"{FUNCTION} because no identity-based policy allows the lambda:InvokeFunction action "
        "(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; "
        "Request ID: id; Proxy: null)"
    )
    error, cause = sfn_role_permissions.denial(
        call("states", "states:StartExecution", MACHINE), "Deny", role, principal, "id"
    )
    assert error == "StepFunctions.AWSStepFunctionsException"
    assert " with an explicit deny in an identity-based policy (Service: AWSStepFunctions; " in (
        cause
    )
    error, cause = sfn_role_permissions.denial(
        call("managed-rule", "events:PutRule", "rule"), "ImplicitDeny", role, principal, "id"
    )
    assert error == "StepFunctions.AWSStepFunctionsException"
    assert cause.startswith(f"'{role}' is not authorized to create managed-rule. (Service: ")
    error, cause = sfn_role_permissions.denial(
        call("dynamodb", "dynamodb:PutItem", "t"), "NoBoundaryAllow", role, principal, "id"
    )
    assert error == "DynamoDB.AmazonDynamoDBException"
    assert "because no permissions boundary allows the dynamodb:PutItem action (Service: " \
        "AmazonDynamoDBv2; Status Code: 400;" in cause  # fmt: skip
    error, cause = sfn_role_permissions.denial(
        call("item-reader", "s3:GetObject", "arn:aws:s3:::b/k"), "ImplicitDeny", role,
        principal, "id",
    )  # fmt: skip
    assert error == "States.ItemReaderFailed"
    assert 'on resource: "arn:aws:s3:::b/k" because' in cause
    assert cause.endswith("(Service: S3, Status Code: 403, Request ID: id)")
    error, _ = sfn_role_permissions.denial(
        call("map-run", "states:StartExecution", MACHINE), "ImplicitDeny", role, principal, "id"
    )
    assert error == "States.Runtime"


def test_the_scope_is_a_map_childs_role_or_the_machines_role() -> None:
    machines = {MACHINE: {"roleArn": "arn:aws:iam::1:role/Machine"}}
    ctx = {"StateMachine": {"Id": MACHINE}, "Execution": {"Id": "e"}}
    assert sfn_role_permissions.scope_of(ctx, machines) == ("arn:aws:iam::1:role/Machine", MACHINE)
    child = {**ctx, "Execution": {"RoleArn": "arn:aws:iam::1:role/Parent"}}
    assert sfn_role_permissions.scope_of(child, machines) == ("arn:aws:iam::1:role/Parent", MACHINE)
    assert sfn_role_permissions.scope_of({"StateMachine": {"Id": "gone"}}, machines) == (
        None,
        "gone",
    )
    assert sfn_role_permissions.scope_of({}, machines) is None
    assert sfn_role_permissions.scope_of(None, machines) is None


class _Decision:
    def __init__(self, decision: str) -> None:
        self.decision = decision


def _fake_iam(roles: dict[str, Any], boundary: list[Any]) -> tuple[Any, Any]:
    """An IAM evaluator and store standing in MiniStack's: identity Allow for ``allowed``
    actions; the boundary (when set) allows only ``bounded`` ones."""

    def evaluate(ctx: Any, policies: Any, *limits: Any) -> _Decision:
        if ctx.action in policies.get("deny", ()):
            return _Decision("Deny")
        if ctx.action not in policies.get("allow", ()):
            return _Decision("ImplicitDeny")
        for limit in limits:
            if ctx.action not in limit:
                return _Decision("ImplicitDeny")
        return _Decision("Allow")

    store = types.SimpleNamespace(get_scoped=lambda _account, _region, name: roles.get(name))
    ev = types.SimpleNamespace(
        evaluate=evaluate,
        EvalContext=types.SimpleNamespace,
        _gather_role_policies=lambda name, _account: roles[name],
        _permissions_boundary=lambda _store, _name, _account: boundary,
    )
    return ev, types.SimpleNamespace(_roles=store)


def test_a_missing_role_allows_nothing_and_the_boundary_limits_the_identity_allow() -> None:
    call = sfn_role_permissions.Call("lambda", "lambda:InvokeFunction", FUNCTION)
    roles = {"R": {"allow": ["lambda:InvokeFunction"]}, "D": {"deny": ["lambda:InvokeFunction"]}}
    where = {"region": "eu-west-1", "account": "1"}
    ev, iam = _fake_iam(roles, [])
    decide = sfn_role_permissions.decide
    assert decide(ev, iam, "arn:aws:iam::1:role/R", call, **where) == "Allow"
    assert decide(ev, iam, "arn:aws:iam::1:role/D", call, **where) == "Deny"
    assert decide(ev, iam, "arn:aws:iam::1:role/Gone", call, **where) == "ImplicitDeny"
    assert decide(ev, iam, None, call, **where) == "ImplicitDeny"
    ev, iam = _fake_iam(roles, [["s3:GetObject"]])
    assert decide(ev, iam, "arn:aws:iam::1:role/R", call, **where) == "NoBoundaryAllow"


# ---------------------------------------------------------------- sfn_role_trust


def test_a_version_or_alias_assumes_the_role_as_its_machine_by_either_principal() -> None:
    machine = "arn:aws:states:eu-west-1:1:stateMachine:fleet"
    assert sfn_role_trust.base_machine_arn(f"{machine}:3") == machine
    assert sfn_role_trust.base_machine_arn(f"{machine}:live") == machine
    assert sfn_role_trust.base_machine_arn(machine) == machine
    assert sfn_role_trust.principals("eu-west-1") == (
        "states.amazonaws.com",
        "states.eu-west-1.amazonaws.com",
    )
    assert sfn_role_trust.source_keys(machine, "1") == {
        "aws:sourcearn": machine,
        "aws:sourceaccount": "1",
    }


def _fake_trust(decisions: dict[str, str], roles: dict[str, str]) -> tuple[Any, Any]:
    """An evaluator answering ``decisions[principal]`` and an IAM store of ``roles``."""
    seen: list[Any] = []

    def evaluate_resource_policy(document: str, context: Any, principal: str) -> Any:
        seen.append(context)
        return types.SimpleNamespace(decision=decisions.get(principal, "ImplicitDeny"))

    store = types.SimpleNamespace(
        get_scoped=lambda _account, _region, name: (
            {"AssumeRolePolicyDocument": roles[name]} if name in roles else None
        )
    )
    ev = types.SimpleNamespace(
        EvalContext=types.SimpleNamespace, evaluate_resource_policy=evaluate_resource_policy
    )
    return ev, types.SimpleNamespace(_roles=store, seen=seen)


def test_either_principal_may_assume_unless_one_is_denied_and_a_missing_role_never() -> None:
    machine = "arn:aws:states:eu-west-1:1:stateMachine:fleet"
    role = "arn:aws:iam::1:role/R"
    regional = "states.eu-west-1.amazonaws.com"
    ev, iam = _fake_trust({regional: "Allow"}, {"R": "{}"})
    assert sfn_role_trust.assumable(ev, iam, role, machine)
    ev, iam = _fake_trust({regional: "Allow", "states.amazonaws.com": "Deny"}, {"R": "{}"})
    assert not sfn_role_trust.assumable(ev, iam, role, machine)
    ev, iam = _fake_trust({regional: "Allow"}, {})
    assert not sfn_role_trust.assumable(ev, iam, role, machine)
    assert not sfn_role_trust.assumable(ev, iam, None, machine)
    ev, iam = _fake_trust({}, {"R": "{}"})
    assert not sfn_role_trust.assumable(ev, iam, role, machine)
    # The conditions see the machine and its account.
    assert iam.seen[0].service_context == {"aws:sourcearn": machine, "aws:sourceaccount": "1"}


# ---------------------------------------------------------------- ssm_get_parameters


def test_each_name_of_get_parameters_is_checked_as_its_parameter_arn() -> None:
    arns = ssm_get_parameters.requested_arns(
        json.dumps({"Names": ["/a/b", "plain:3", "/c:label", "arn:aws:ssm:x:1:parameter/d", 7]}),
        "eu-west-1",
        "1",
    )
    assert arns == [
        "arn:aws:ssm:eu-west-1:1:parameter/a/b",
        "arn:aws:ssm:eu-west-1:1:parameter/plain",
        "arn:aws:ssm:eu-west-1:1:parameter/c",
        "arn:aws:ssm:x:1:parameter/d",
    ]
    assert ssm_get_parameters.requested_arns(b"not json", "r", "1") == []
    assert ssm_get_parameters.requested_arns(json.dumps({"Names": "x"}), "r", "1") == []


# ---------------------------------------------------------------- lambda_role_trust


def test_a_function_is_named_by_its_unqualified_arn() -> None:
    svc = types.SimpleNamespace(_func_arn=lambda name: f"arn:aws:lambda:r:1:function:{name}")
    assert lambda_role_trust.function_arn(svc, "f") == "arn:aws:lambda:r:1:function:f"
    qualified = "arn:aws:lambda:r:1:function:f:live"
    assert lambda_role_trust.function_arn(svc, qualified) == "arn:aws:lambda:r:1:function:f"
