"""Validation as strict as the platforms behind it: CloudFormation parameter names, lengths
counted in the platform's unit, deep nesting refused by name, and the package's shape."""

from __future__ import annotations

import ast
import importlib
import json
import pathlib
from typing import Any

import pytest

from chalicelib.errors import InvalidFleetRequest, InvalidWorkloadRequest
from chalicelib.validation import (
    MAX_NESTING_DEPTH,
    Problems,
    load_operation_request,
    load_task_status_request,
    load_workload_request,
    too_deep_path,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chalicelib" / "validation"
ACCOUNT = "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11"
CATALOGUE = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00"
WORKLOAD = "b3437e3b-55e3-4060-9dec-042f18dcf789"
TASK = "7c1e9a52-3f0b-4d6e-9a8c-5b2d1e0f4a33"
EXECUTION_ARN = "arn:aws:states:us-east-1:000000000000:execution:workload:run-1"
ALPHANUMERIC = "key must be alphanumeric (A-Z, a-z, 0-9), as CloudFormation parameter names are"


def create(**changes: Any) -> dict[str, Any]:
    payload = {
        "operation": "create",
        "aws_account_id": ACCOUNT,
        "aws_region": "ap-southeast-2",
        "catalogue_id": CATALOGUE,
        "workload_name": "demo-vpc",
    }
    payload.update(changes)
    return payload


def errors_of(payload: Any, loader: Any = load_workload_request) -> dict[str, list[str]]:
    with pytest.raises(InvalidWorkloadRequest) as caught:
        loader(payload)
    return dict(caught.value.details["errors"])


def nested(levels: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


# -- CloudFormation parameter names are alphanumeric --------------------------------------


def test_a_parameter_name_with_a_hyphen_is_refused_naming_the_key() -> None:
    errors = errors_of(create(workload_parameters={"vpc-cidr": "10.0.0.0/16"}))
    assert errors == {"workload_parameters.vpc-cidr": [f"{ALPHANUMERIC}; found '-'"]}


@pytest.mark.parametrize(
    ("key", "field", "found"),
    [
        ("Vpc_Cidr", "workload_parameters.Vpc_Cidr", "'_'"),
        ("vpc.cidr", 'workload_parameters."vpc.cidr"', "'.'"),
        ("Vpc Cidr", "workload_parameters.Vpc Cidr", "U+0020 (SPACE)"),
        ("Région", "workload_parameters.Région", "U+00E9 (LATIN SMALL LETTER E WITH ACUTE)"),
        ("Az\uff12", "workload_parameters.Az\uff12", "U+FF12 (FULLWIDTH DIGIT TWO)"),
        ("V\u0440cCidr", "workload_parameters.V\u0440cCidr", "U+0440 (CYRILLIC SMALL LETTER ER)"),
        ("aws:Region", "workload_parameters.aws:Region", "':'"),
    ],
)
def test_a_parameter_name_that_is_not_ascii_alphanumeric_names_the_first_odd_character(
    key: str, field: str, found: str
) -> None:
    errors = errors_of(create(workload_parameters={key: "v"}))
    assert errors == {field: [f"{ALPHANUMERIC}; found {found}"]}


@pytest.mark.parametrize("key", ["VpcCidr", "AZ2", "2ndSubnet", "x", "K" * 255])
def test_alphanumeric_parameter_names_are_accepted(key: str) -> None:
    result = load_workload_request(create(workload_parameters={key: "v"}))
    assert result["workload_parameters"] == {key: "v"}


def test_update_refuses_a_parameter_name_that_is_not_alphanumeric() -> None:
    payload = {"operation": "update", "workload_id": WORKLOAD, "workload_parameters": {"a-b": 1}}
    assert errors_of(payload) == {"workload_parameters.a-b": [f"{ALPHANUMERIC}; found '-'"]}


def test_the_operation_lambdas_refuse_it_too() -> None:
    payload = create(workload_parameters={"a-b": "v"}, orchestration={"execution_id": "e"})
    errors = errors_of(payload, lambda p: load_operation_request("create", p))
    assert list(errors) == ["workload_parameters.a-b"]


def test_a_long_hyphenated_parameter_name_gets_both_problems() -> None:
    key = "a-" + "b" * 300
    [messages] = errors_of(create(workload_parameters={key: "v"})).values()
    assert messages == [
        f"{ALPHANUMERIC}; found '-'",
        "key is 302 characters long; at most 255 are allowed",
    ]


def test_an_invisible_character_in_a_parameter_name_is_named_once() -> None:
    [messages] = errors_of(create(workload_parameters={"Vpc\u200bCidr": "v"})).values()
    assert messages == [
        "key contains the invisible character U+200B (ZERO WIDTH SPACE); keys must be visible text"
    ]


def test_tag_keys_keep_the_aws_tag_characters() -> None:
    tags = {"cost-centre": "42", "app:tier": "web", "team_name": "a b", "k=v+w@x/y.z": "ok"}
    assert load_workload_request(create(workload_tags=tags))["workload_tags"] == tags


# -- lengths as the platform counts them -------------------------------------------------


def test_a_parameter_value_of_4096_bytes_of_two_byte_characters_is_accepted() -> None:
    value = "é" * 2048
    assert load_workload_request(create(workload_parameters={"P": value}))[
        "workload_parameters"
    ] == {"P": value}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "é" * 2048 + "e",
            "value is 4,097 bytes as UTF-8 (2,049 characters); at most 4,096 bytes are allowed "
            "(CloudFormation counts parameter values in bytes)",
        ),
        (
            "€" * 1366,
            "value is 4,098 bytes as UTF-8 (1,366 characters); at most 4,096 bytes are allowed "
            "(CloudFormation counts parameter values in bytes)",
        ),
        (
            "👍" * 1025,
            "value is 4,100 bytes as UTF-8 (1,025 characters); at most 4,096 bytes are allowed "
            "(CloudFormation counts parameter values in bytes)",
        ),
    ],
)
def test_a_parameter_value_over_4096_bytes_is_refused_though_it_has_fewer_characters(
    value: str, message: str
) -> None:
    assert len(value) < 4096
    errors = errors_of(create(workload_parameters={"P": value}))
    assert errors == {"workload_parameters.P": [message]}


def test_tag_values_are_counted_in_characters_as_aws_counts_them() -> None:
    tags = {"Owner": "é" * 256, "日" * 128: "v"}  # 512 bytes; a key of 384 bytes
    assert load_workload_request(create(workload_tags=tags))["workload_tags"] == tags
    errors = errors_of(create(workload_tags={"Owner": "日" * 257}))
    assert errors == {
        "workload_tags.Owner": ["value is 257 characters long; at most 256 are allowed"]
    }


def test_the_payload_size_message_says_it_counts_utf8_bytes() -> None:
    tags = {f"T{i:03}": "é" * 256 for i in range(99)}
    [message] = errors_of(create(workload_tags=tags))["_schema"]
    assert " bytes as UTF-8 JSON; at most 32768 bytes are accepted" in message


# -- deep nesting is refused by name, never with a RecursionError ------------------------

DEEP = 100_000


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (create(workload_parameters={"Subnets": nested(DEEP)}), "workload_parameters.Subnets"),
        (create(workload_tags={"Team": nested(DEEP)}), "workload_tags.Team"),
        (create(workload_parameters=nested(DEEP)), "workload_parameters"),
        (create(colour=nested(DEEP)), "colour"),
        (create(workload_name={"first": nested(DEEP)}), "workload_name"),
    ],
)
def test_validate_input_refuses_100000_levels_naming_the_field(payload: Any, field: str) -> None:
    errors = errors_of(payload)
    assert list(errors) == [field]
    assert errors[field][-1].startswith("is nested too deeply: a request holds at most 32")


def test_validate_input_refuses_a_deep_array_as_the_whole_payload() -> None:
    errors = errors_of(nested(DEEP))
    assert errors == {
        "_schema": ['must be a JSON object like {"operation": "create", ...}, not an array']
    }


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
def test_the_operation_lambdas_refuse_a_deep_orchestration_naming_it(operation: str) -> None:
    payload = {"operation": operation, "workload_id": WORKLOAD,
               "orchestration": {"execution_id": nested(DEEP)}}  # fmt: skip
    errors = errors_of(payload, lambda p: load_operation_request(operation, p))
    assert "nested too deeply" in errors["orchestration.execution_id"][-1]


@pytest.mark.parametrize("field", ["logs_tail", "task_id", "colour"])
def test_get_task_status_refuses_100000_levels_naming_the_field(field: str) -> None:
    errors = errors_of({"task_id": TASK, field: nested(DEEP)}, load_task_status_request)
    assert list(errors) == [field]
    assert errors[field][-1].startswith("is nested too deeply")


def test_the_nesting_limit_is_inclusive() -> None:
    # The payload is level 1, so MAX_NESTING_DEPTH - 1 arrays reach the limit exactly.
    at_limit = errors_of(create(colour=nested(MAX_NESTING_DEPTH - 1)))
    assert not any("nested too deeply" in m for m in at_limit["colour"])
    over = errors_of(create(colour=nested(MAX_NESTING_DEPTH)))
    assert over["colour"][-1].startswith("is nested too deeply")


def test_depth_is_measured_without_recursion_even_for_a_structure_that_contains_itself() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert too_deep_path({"a": loop}) == ("a",) + (0,) * (MAX_NESTING_DEPTH - 1)
    assert too_deep_path({"a": [[1, 2], {"b": "c"}]}) is None


# -- the problems collector --------------------------------------------------------------


def test_problems_raise_one_refusal_with_every_problem() -> None:
    problems = Problems("The thing")
    problems.add("a", "is wrong")
    problems.add_once("a", "is wrong")
    problems.add_once("b", "is missing")
    with pytest.raises(InvalidWorkloadRequest) as caught:
        problems.raise_if_any()
    assert caught.value.message == "The thing has 2 problems: a, b."
    assert caught.value.details["errors"] == {"a": ["is wrong"], "b": ["is missing"]}


def test_problems_refuse_at_once_with_the_chosen_error_class() -> None:
    problems = Problems("The fleet request", InvalidFleetRequest)
    assert not problems
    with pytest.raises(InvalidFleetRequest, match="has 1 problem: _schema"):
        problems.refuse("_schema", "is not an object")


def test_no_problems_raise_nothing() -> None:
    Problems("Anything").raise_if_any()


# -- the package -------------------------------------------------------------------------

MODULES = tuple(sorted(path.stem for path in PACKAGE.glob("*.py")))


def test_the_old_schemas_module_is_gone() -> None:
    assert not (ROOT / "chalicelib" / "schemas.py").exists()
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("chalicelib.schemas")


@pytest.mark.parametrize("name", MODULES)
def test_each_module_is_short_and_says_its_role(name: str) -> None:
    path = PACKAGE / f"{name}.py"
    text = path.read_text()
    assert len(text.splitlines()) < 600
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring
    assert name == "__init__" or "Role:" in docstring


def _package_imports(name: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("chalicelib.validation."):
                found.add(node.module.rsplit(".", 1)[1])
            elif node.module == "chalicelib.validation":
                found.update(alias.name for alias in node.names if alias.name in MODULES)
    return found


def test_the_modules_import_one_another_without_cycles() -> None:
    graph = {name: _package_imports(name) for name in MODULES if name != "__init__"}
    order: list[str] = []
    while graph:
        ready = sorted(name for name, needs in graph.items() if needs <= set(order))
        assert ready, f"import cycle among {sorted(graph)}"
        order += ready
        for name in ready:
            del graph[name]
    assert order.index("limits") < order.index("problems") < order.index("fields")
    assert order.index("workload") < order.index("fleet")
    assert order.index("stages") < order.index("fleet")


def test_nothing_imports_the_old_module_or_a_private_name_of_the_package() -> None:
    sources = [*ROOT.glob("chalicelib/**/*.py"), *ROOT.glob("stax_orchestrator/**/*.py"),
               *ROOT.glob("bench/*.py"), *ROOT.glob("local/**/*.py"), *ROOT.glob("tests/**/*.py"),
               ROOT / "app.py"]  # fmt: skip
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [alias.name for alias in node.names]
                assert node.module != "chalicelib.schemas", path
                assert not (node.module == "chalicelib" and "schemas" in names), path
                if node.module.startswith("chalicelib.validation"):
                    assert not any(name.startswith("_") for name in names), (path, names)


def test_every_event_of_the_corpus_is_json_python_reads_without_recursion() -> None:
    # The corpus also goes through the deployed state machine: the Lambda runtime must be
    # able to parse each file before validate_input refuses it.
    for path in sorted((ROOT / "events" / "invalid").glob("*.json")):
        json.loads(path.read_text())
