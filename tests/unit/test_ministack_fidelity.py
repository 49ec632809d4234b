"""The pure helpers of local/ministack_fidelity (the launcher's Step Functions rules).

The rules themselves run on MiniStack: tests/e2e/test_ministack_limits.py.
"""

from __future__ import annotations

import json
import types

import pytest

from local.ministack_fidelity import (
    _patching,
    cause_length,
    distributed_map,
    execution_timeout,
    missing_paths,
    payload_size,
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
