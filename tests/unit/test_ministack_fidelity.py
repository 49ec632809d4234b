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
