"""Missing paths: a JSONPath that selects nothing fails the execution with States.Runtime.

AWS: paths in ``InputPath``, ``OutputPath``, ``Parameters`` / ``ItemSelector`` /
``ResultSelector`` values (keys ending ``.$``), ``ItemsPath``, Wait ``SecondsPath`` /
``TimestampPath``, Choice ``Variable`` and the ``...Path`` comparators, Fail ``ErrorPath``
/ ``CausePath`` and intrinsic-function arguments must select a node
(https://docs.aws.amazon.com/step-functions/latest/dg/input-output-inputpath-params.html,
https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html);
when one does not, the execution fails with States.Runtime, which no Retry or Catch
handles (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html:
"A States.Runtime error isn't retriable, and will always cause the execution to fail";
``terminal_errors``). The only rule that tests a missing path without failing is Choice
``IsPresent`` (https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html). A
path that selects an explicit ``null`` is not missing, so ``IsPresent`` is true for it
(MiniStack 1.5.33 said false).

Cause texts follow the ones AWS writes, e.g. "An error occurred while executing the state
'S' (entered at the event id #2). The JSONPath '$.a' specified for the field 'x.$' could
not be found in the input '{...}'" and "Invalid path '$.a': The choice state's condition
path references an invalid value.".

Harsher readings where the documents are silent: a type test (``IsNull``, ``IsString``,
...) on a missing path fails like any other rule (only ``IsPresent`` is documented to
test presence); an array index past the end is missing; a context-object path
(``$$.Execution.X``) is missing when the context object has no such field (MiniStack's
context object lacks ``Execution.RoleArn`` and ``Execution.RedriveCount``, which AWS has:
they are added so they do not fail falsely). Paths with wildcards keep MiniStack's
answer (AWS gives a possibly empty list for them too).

MiniStack 1.5.33 resolves a missing path to null (and an index past the end to null).
Patched: ``_resolve_path`` (strict), ``_resolve_ctx_path``, ``_evaluate_rule``
(``IsPresent``), ``_resolve_params_obj`` (field in the cause), ``_run_distributed_map``
(its ItemSelector runs in pool threads whose errors MiniStack drops: checked first),
``_fail_state_error`` and the state handlers (state name in the cause).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ._patching import Expectation, refuse, wrap

RUNTIME = "States.Runtime"
#: How far a cause has been worded: the path alone, the field or rule, the state.
RAW, SITE, STATE = 0, 1, 2

#: State handlers (and the Fail state's error) with the position of their ``ctx``.
STATE_FUNCTIONS = {
    "_execute_pass": 2,
    "_execute_choice": 2,
    "_execute_wait": 2,
    "_execute_task": 3,
    "_execute_parallel": 3,
    "_execute_map": 3,
    "_fail_state_error": 2,
}

EXPECTED = {
    "_resolve_path": Expectation(("path", "data"), "4ca0c5fe9f7014c6"),
    "_resolve_ctx_path": Expectation(("path", "ctx"), "9d99cf3416f9b704"),
    "_resolve_path_or_ctx": Expectation(("path", "data", "ctx"), "39841ce14aefd1c1"),
    "_parse_jsonpath_tokens": Expectation(("path",), "0b9043314fbca0a0"),
    "_evaluate_rule": Expectation(("rule", "data", "ctx"), "728e6547c8ca20e5"),
    "_resolve_params_obj": Expectation(("template", "data", "ctx"), "d41c2e27dd1b00a5"),
    "_fail_state_error": Expectation(("state_def", "raw_input", "ctx"), "98f66cfa4b717fe8"),
    "_fail_state_field": Expectation(
        ("state_def", "field", "default", "raw_input", "ctx"), "0bfc6a7a3f4b0b18"
    ),
    "_run_distributed_map": Expectation(
        ("state_def", "raw_input", "effective", "iterator", "execution", "ctx"),
        "2b77d3ec0e04f8f1",
    ),
    "_read_map_items": Expectation(("reader", "effective", "ctx"), "b846851544b897fa"),
    "_run_map_items": Expectation(
        ("state_def", "raw_input", "execution", "ctx"), "5df19a8074ce768c"
    ),
    "_apply_input_path": Expectation(("state_def", "data", "ctx"), "65be3f02951797de"),
    "_apply_output_path": Expectation(("state_def", "data", "ctx"), "e9cfd00672448961"),
    "_eval_intrinsic_arg": Expectation(("arg", "data", "ctx"), "7748e3b16ffd6549"),
    "_execute_wait": Expectation(("state_def", "raw_input", "ctx"), "a1012679c72d1b08"),
}

#: Every MiniStack function that resolves a path, as reviewed: a new caller might expect
#: a missing path to give null, so the launcher refuses to start if the set changes.
CALLERS = {
    "_resolve_path": {
        "_resolve_path_or_ctx",
        "_execute_wait",
        "_eval_intrinsic_arg",
        "_resolve_params_obj",
        "_resolve_ctx_path",
    },
    "_resolve_path_or_ctx": {
        "_evaluate_rule",
        "_fail_state_field",
        "_run_map_items",
        "_read_map_items",
        "_run_distributed_map",
        "_apply_input_path",
        "_apply_output_path",
    },
    "_resolve_ctx_path": {"_resolve_path_or_ctx", "_eval_intrinsic_arg", "_resolve_params_obj"},
}


def is_definite(tokens: Sequence[tuple[str, Any]] | None) -> bool:
    """A parsed path that names one node (no wildcard)."""
    return tokens is not None and all(kind in ("field", "index") for kind, _ in tokens)


def locate(tokens: Sequence[tuple[str, Any]], data: Any) -> tuple[bool, Any]:
    """``(True, node)`` for the node a definite path selects in ``data``, else ``(False, None)``."""
    current = data
    for kind, key in tokens:
        in_object = kind == "field" and isinstance(current, dict) and key in current
        in_array = kind == "index" and isinstance(current, list) and 0 <= key < len(current)
        if not (in_object or in_array):
            return False, None
        current = current[key]
    return True, current


def bracketed(tokens: Sequence[tuple[str, Any]], root: str = "$") -> str:
    """The normalised form AWS prints, e.g. ``$['a'][0]``."""
    return root + "".join(f"['{key}']" if kind == "field" else f"[{key}]" for kind, key in tokens)


def compact(value: Any, limit: int = 2048) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def install(sf: Any) -> None:
    for name in ("_executions", "_state_machines", "_ExecutionError"):
        if not hasattr(sf, name):
            refuse(f"MiniStack's stepfunctions has no {name}.")
    missing_path = _missing_path_error(sf)
    sf._MissingPath = missing_path
    _install_strict_paths(sf, missing_path)
    _install_choice_rules(sf, missing_path)
    _install_field_names(sf, missing_path)
    _install_state_names(sf, missing_path)


def _missing_path_error(sf: Any) -> Any:
    class MissingPath(sf._ExecutionError):
        """A definite JSONPath that selects nothing."""

        def __init__(self, path: str, tokens: Sequence[tuple[str, Any]], root: str) -> None:
            self.path = path
            self.stage = RAW
            super().__init__(RUNTIME, invalid_path(path, tokens, root))

        def restate(self, cause: str, stage: int) -> None:
            self.cause = cause
            self.stage = stage
            self.args = (f"{self.error}: {cause}",)

    return MissingPath


def invalid_path(path: str, tokens: Sequence[tuple[str, Any]], root: str = "$") -> str:
    return f"Invalid path '{path}' : No results for path: {bracketed(tokens, root)}"


def _install_strict_paths(sf: Any, missing_path: Any) -> None:
    def strict_resolve_path(original: Callable[..., Any]) -> Callable[..., Any]:
        def resolve_path(path: Any, data: Any) -> Any:
            if not isinstance(path, str) or not path.startswith("$") or path == "$":
                return original(path, data)
            tokens = sf._parse_jsonpath_tokens(path)
            if not is_definite(tokens):
                return original(path, data)  # invalid or wildcard: MiniStack's answer
            found, node = locate(tokens, data)
            if not found:
                raise missing_path(path, tokens, "$")
            return node

        return resolve_path

    wrap(sf, "_resolve_path", strict_resolve_path)

    def role_arn(execution_id: Any) -> Any:
        execution = sf._executions.get(execution_id) or {}
        machine = sf._state_machines.get(execution.get("stateMachineArn")) or {}
        return machine.get("roleArn")

    def strict_resolve_ctx_path(original: Callable[..., Any]) -> Callable[..., Any]:
        def resolve_ctx_path(path: Any, ctx: Any) -> Any:
            execution = ctx.get("Execution") if isinstance(ctx, dict) else None
            if not isinstance(execution, dict):
                # MiniStack passed no context object (its ResultSelector does not): keep
                # its answer, null, rather than fail a path AWS would resolve.
                return None
            if "RoleArn" not in execution:
                execution["RoleArn"] = role_arn(execution.get("Id"))
            execution.setdefault("RedriveCount", 0)
            try:
                return original(path, ctx)
            except missing_path as missing:
                missing.path = path
                tokens = sf._parse_jsonpath_tokens(path[1:]) or []
                missing.restate(invalid_path(path, tokens, "$$"), RAW)
                raise

        return resolve_ctx_path

    wrap(sf, "_resolve_ctx_path", strict_resolve_ctx_path)

    def checking_item_selector(original: Callable[..., Any]) -> Callable[..., Any]:
        def run_distributed_map(*args: Any) -> Any:
            # _run_distributed_map resolves each item's ItemSelector in pool threads whose
            # exceptions it never reads: resolve them here first, with the same items and
            # item context it builds, so a missing path fails the state.
            state_def, _raw_input, effective, _iterator, _execution, ctx = args
            selector = state_def.get("ItemSelector") or state_def.get("Parameters")
            if selector:
                if state_def.get("ItemReader"):
                    items = sf._read_map_items(state_def["ItemReader"], effective, ctx)
                else:
                    items = sf._resolve_path_or_ctx(state_def.get("ItemsPath", "$"), effective, ctx)
                for index, item in enumerate(items if isinstance(items, list) else [items]):
                    item_ctx = {**ctx, "Map": {"Item": {"Index": index, "Value": item}}}
                    sf._resolve_params_obj(selector, effective, item_ctx)
            return original(*args)

        return run_distributed_map

    wrap(sf, "_run_distributed_map", checking_item_selector)


def _install_choice_rules(sf: Any, missing_path: Any) -> None:
    def is_present(variable: str, data: Any, ctx: Any) -> bool:
        try:
            value = sf._resolve_path_or_ctx(variable, data, ctx)
        except missing_path:
            return False
        path = variable[1:] if variable.startswith("$$.") else variable
        if path == "$" or is_definite(sf._parse_jsonpath_tokens(path)):
            return True  # it resolved, possibly to an explicit null: present
        return value is not None  # invalid or wildcard path: MiniStack's answer

    def choice_rules(original: Callable[..., Any]) -> Callable[..., Any]:
        def evaluate_rule(rule: Any, data: Any, ctx: Any = None) -> Any:
            if (
                isinstance(rule, dict)
                and "IsPresent" in rule
                and isinstance(rule.get("Variable"), str)
                and not {"And", "Or", "Not"} & rule.keys()
            ):
                return is_present(rule["Variable"], data, ctx) == rule["IsPresent"]
            try:
                return original(rule, data, ctx)
            except missing_path as missing:
                if missing.stage == RAW:
                    missing.restate(
                        f"Invalid path '{missing.path}': The choice state's condition path "
                        "references an invalid value.",
                        SITE,
                    )
                raise

        return evaluate_rule

    wrap(sf, "_evaluate_rule", choice_rules)


def field_of(template: dict[str, Any], path: str) -> str | None:
    """The ``.$`` key of ``template`` whose path or intrinsic call reads ``path``."""
    for key, value in template.items():
        if key.endswith(".$") and isinstance(value, str) and path in value:
            return key
    return None


def _install_field_names(sf: Any, missing_path: Any) -> None:
    def naming_the_field(original: Callable[..., Any]) -> Callable[..., Any]:
        def resolve_params_obj(template: Any, data: Any, ctx: Any = None) -> Any:
            try:
                return original(template, data, ctx)
            except missing_path as missing:
                field = field_of(template, missing.path) if isinstance(template, dict) else None
                if missing.stage == RAW and field is not None:
                    missing.restate(
                        f"The JSONPath '{missing.path}' specified for the field '{field}' "
                        f"could not be found in the input '{compact(data)}'",
                        SITE,
                    )
                raise

        return resolve_params_obj

    wrap(sf, "_resolve_params_obj", naming_the_field)


def _install_state_names(sf: Any, missing_path: Any) -> None:
    def entered_event_id(ctx: Any, name: Any) -> Any:
        execution_id = (ctx.get("Execution") or {}).get("Id")
        execution = sf._executions.get(execution_id) or {}
        for event in reversed(execution.get("events") or []):
            if (event.get("stateEnteredEventDetails") or {}).get("name") == name:
                return event.get("id")
        return None  # states inside Map and Parallel have no history events in MiniStack

    for function, ctx_index in STATE_FUNCTIONS.items():

        def naming_the_state(
            original: Callable[..., Any], ctx_index: int = ctx_index
        ) -> Callable[..., Any]:
            def run(*args: Any) -> Any:
                ctx = args[ctx_index] if len(args) > ctx_index else None
                state = ctx.get("State") if isinstance(ctx, dict) else None
                name = state.get("Name") if isinstance(state, dict) else None
                try:
                    return original(*args)
                except missing_path as missing:
                    if missing.stage < STATE and name is not None:
                        event_id = entered_event_id(ctx, name)
                        entered = f" (entered at the event id #{event_id})" if event_id else ""
                        missing.restate(
                            f"An error occurred while executing the state '{name}'{entered}. "
                            f"{missing.cause}",
                            STATE,
                        )
                    raise

            return run

        wrap(sf, function, naming_the_state)
