"""The contract between the state machines and the code, checked without running either.

Role: part of ``make check`` (``python -m stax_orchestrator.deploy lint``). For every
template in ``statemachines/`` it proves three things:

1. every error name in a ``Retry``/``Catch`` ``ErrorEquals`` or a Fail ``Error`` that is
   not Step Functions' own (``States.*``, ``Lambda.*``, ``Sandbox.*``, ``StepFunctions.*``,
   ``DynamoDB.*``, ``S3.*``, ``CloudWatch.*``) is a class in ``chalicelib.errors``;
2. every ``${...}`` placeholder is a Chalice function of ``app.py`` (``${CreateWorkloadArn}``
   for ``create_workload``), a state machine the deploy creates, or a deploy value;
3. every JSONPath a state reads (``InputPath``, ``Parameters``/``ItemSelector``,
   ``ResultSelector``, ``OutputPath``, ``ItemsPath``, Wait ``SecondsPath``, Choice
   variables, Fail ``ErrorPath``/``CausePath``, intrinsic arguments) is present on every
   way into that state: produced by the Lambda before it (its declared output fields,
   which unit tests hold the Lambdas to), by a Pass, or by a Catch. On AWS a path that
   does not resolve is ``States.Runtime``, which no Catch handles.

The third check is a small abstract interpretation: each state's input is a *shape* (the
keys known to be present, recursively), the meet of what every predecessor gives it.
Values whose content is not known (the user's payload, a parsed cause) are ``ANY``: reads
below them are not provable and are accepted, unless another way into the state knows
less.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Anything may be here (content unknown); reads below it cannot be checked.
ANY: Any = sys.intern("<any>")
#: A present value with no known keys (a string, a number, a list).
VALUE: Any = sys.intern("<value>")
_TOP: Any = "<not reached>"

#: Step Functions' own errors and its service integrations' (``DynamoDB.*`` from the
#: fleet's dynamodb:putItem task, ``S3.*`` from its aws-sdk:s3:headObject, ``CloudWatch.*``
#: from its aws-sdk:cloudwatch:describeAlarms).
_AWS_ERROR_PREFIXES = (
    "States.", "Lambda.", "Sandbox.", "StepFunctions.", "DynamoDB.", "S3.", "CloudWatch."
)  # fmt: skip
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
_INTRINSIC = re.compile(r"^States\.(\w+)\((.*)\)$", re.DOTALL)
_PATH_ARG = re.compile(r"(?<![\w'])(\$\$?(?:\.[A-Za-z0-9_]+|\[\d+\])*)")
_CHOICE_PATH_KEYS = ("Variable",)
_SYNC_CHILD = "arn:aws:states:::states:startExecution.sync:2"


@dataclass
class Problems:
    """What the check found, one line each."""

    lines: list[str] = field(default_factory=list)

    def add(self, machine: str, state: str, message: str) -> None:
        self.lines.append(f"{machine}: state {state!r}: {message}")


# -- shapes --------------------------------------------------------------------------------
def meet(a: Any, b: Any) -> Any:
    """What is present on both ways in."""
    if a is _TOP:
        return b
    if b is _TOP:
        return a
    if a is ANY:
        return b
    if b is ANY:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: meet(a[k], b[k]) for k in a.keys() & b.keys()}
    return VALUE


def literal(value: Any) -> Any:
    """The shape of a JSON literal."""
    if isinstance(value, dict):
        return {k: literal(v) for k, v in value.items()}
    return VALUE


def _segments(path: str) -> list[str]:
    body = path[1:]  # drop "$"
    return [s for s in re.split(r"\.|\[\d+\]", body) if s]


def resolve(shape: Any, path: str) -> tuple[Any, str | None]:
    """The shape at ``path`` and, when it may be missing, why. A wildcard (``[*]``) reads
    every item of a list: what is below it is not known (``ANY``) once its list is."""
    current = shape
    walked = "$"
    for segment in _segments(path):
        if segment.endswith("[*]"):
            _, why = resolve(current, "$." + segment[:-3]) if segment[:-3] else (current, None)
            return ANY, why
        if current is ANY:
            return ANY, None
        if not isinstance(current, dict):
            return ANY, f"{path} reads {segment!r} below {walked}, which has no fields"
        if segment not in current:
            known = ", ".join(sorted(current)) or "nothing"
            return ANY, f"{path} may be missing: {walked} holds {known}"
        current = current[segment]
        walked = f"{walked}.{segment}"
    return current, None


def assign(shape: Any, path: str | None, value: Any) -> Any:
    """``shape`` with ``value`` written at ``path`` (a ResultPath)."""
    if path is None:
        return shape
    segments = _segments(path)
    if not segments:
        return value
    base = dict(shape) if isinstance(shape, dict) else {}
    head, rest = segments[0], "$." + ".".join(segments[1:]) if segments[1:] else "$"
    base[head] = assign(base.get(head, {}), rest, value) if segments[1:] else value
    return base


# -- one machine ---------------------------------------------------------------------------
@dataclass
class Machine:
    """What the check knows about the environment of a machine."""

    name: str
    start_shape: Any
    lambda_outputs: Mapping[str, Any]
    child_outputs: Mapping[str, Any]
    problems: Problems
    #: Input shapes this machine starts child executions with, per child placeholder.
    calls: dict[str, Any] = field(default_factory=dict)


def _check_path(m: Machine, state: str, shape: Any, path: str | None, what: str) -> Any:
    if path is None or not isinstance(path, str) or not path.startswith("$"):
        return ANY
    if path.startswith("$$"):
        return ANY
    found, problem = resolve(shape, path)
    if problem:
        m.problems.add(m.name, state, f"{what}: {problem}")
    return found


def _intrinsic(m: Machine, state: str, shape: Any, expression: str, what: str) -> Any:
    match = _INTRINSIC.match(expression.strip())
    if not match:
        return _check_path(m, state, shape, expression, what)
    name, args = match.group(1), match.group(2)
    without_strings = re.sub(r"'(?:\\.|[^'\\])*'", "''", args)
    nested = re.findall(r"States\.\w+\(", without_strings)
    for path in _PATH_ARG.findall(without_strings):
        _check_path(m, state, shape, path, f"{what} ({name} argument)")
    if nested:
        return ANY
    return ANY if name in ("StringToJson", "JsonMerge", "ArrayGetItem") else VALUE


def _template(m: Machine, state: str, shape: Any, template: Any, what: str) -> Any:
    """The shape a Parameters / ItemSelector / ResultSelector template produces."""
    if not isinstance(template, dict):
        return literal(template)
    out: dict[str, Any] = {}
    for key, value in template.items():
        where = f"{what}.{key}"
        if key.endswith(".$") and isinstance(value, str):
            out[key[:-2]] = _intrinsic(m, state, shape, value, where)
        elif isinstance(value, dict):
            out[key] = _template(m, state, shape, value, where)
        else:
            out[key] = literal(value)
    return out


def _choice_rules(m: Machine, state: str, shape: Any, rule: Mapping[str, Any]) -> None:
    for combinator in ("And", "Or"):
        for inner in rule.get(combinator) or []:
            _choice_rules(m, state, shape, inner)
    if isinstance(rule.get("Not"), Mapping):
        _choice_rules(m, state, shape, rule["Not"])
    if "IsPresent" in rule:
        return  # a presence test may name a missing path: that is its purpose
    _check_path(m, state, shape, rule.get("Variable"), "Choice Variable")
    for key, value in rule.items():
        if key.endswith("Path") and isinstance(value, str):
            _check_path(m, state, shape, value, f"Choice {key}")


def _task_result(m: Machine, state: str, definition: Mapping[str, Any]) -> Any:
    resource = str(definition.get("Resource", ""))
    placeholder = _PLACEHOLDER.fullmatch(resource)
    if placeholder:
        output = m.lambda_outputs.get(placeholder.group(1))
        if output is None:
            m.problems.add(m.name, state, f"no declared output for {resource}")
            return ANY
        return output
    if resource == _SYNC_CHILD:
        child = (definition.get("Parameters") or {}).get("StateMachineArn", "")
        name = _PLACEHOLDER.fullmatch(str(child))
        output = m.child_outputs.get(name.group(1)) if name else None
        return {
            "Output": output if output is not None else ANY,
            "ExecutionArn": VALUE,
            "Status": VALUE,
        }
    return ANY


def effective_arn(definition: Mapping[str, Any]) -> str:
    """The StateMachineArn a startExecution task names (a placeholder in a template)."""
    return str((definition.get("Parameters") or {}).get("StateMachineArn", ""))


def _after(
    m: Machine, state: str, definition: Mapping[str, Any], effective: Any, result: Any
) -> Any:
    if "ResultSelector" in definition:
        result = _template(m, state, result, definition["ResultSelector"], "ResultSelector")
    result_path = definition.get("ResultPath", "$")
    shaped = assign(effective, result_path, result)
    if "OutputPath" in definition:
        shaped = _check_path(m, state, shaped, definition["OutputPath"], "OutputPath")
    return shaped


def _choice(m: Machine, name: str, definition: Mapping[str, Any], shape: Any, raw: Any) -> Any:
    for rule in definition.get("Choices") or []:
        _choice_rules(m, name, shape, rule)
    return shape


def _wait(m: Machine, name: str, definition: Mapping[str, Any], shape: Any, raw: Any) -> Any:
    for key in ("SecondsPath", "TimestampPath"):
        _check_path(m, name, shape, definition.get(key), key)
    return shape


def _fail(m: Machine, name: str, definition: Mapping[str, Any], shape: Any, raw: Any) -> Any:
    for key in ("ErrorPath", "CausePath"):
        if key in definition:
            _intrinsic(m, name, shape, definition[key], key)
    return shape


def _succeed(m: Machine, name: str, definition: Mapping[str, Any], shape: Any, raw: Any) -> Any:
    return shape


def _parameters(m: Machine, name: str, definition: Mapping[str, Any], shape: Any) -> Any:
    if "Parameters" in definition:
        return _template(m, name, shape, definition["Parameters"], "Parameters")
    return shape


def _pass(m: Machine, name: str, definition: Mapping[str, Any], shape: Any, raw: Any) -> Any:
    effective = _parameters(m, name, definition, shape)
    result = literal(definition["Result"]) if "Result" in definition else effective
    return _after(m, name, definition, raw, result)


def _task(m: Machine, name: str, definition: Mapping[str, Any], shape: Any, raw: Any) -> Any:
    effective = _parameters(m, name, definition, shape)
    if definition.get("Resource") == _SYNC_CHILD and isinstance(effective, dict):
        child = _PLACEHOLDER.fullmatch(effective_arn(definition))
        if child:
            started = effective.get("Input", ANY)
            m.calls[child.group(1)] = meet(m.calls.get(child.group(1), _TOP), started)
    return _after(m, name, definition, raw, _task_result(m, name, definition))


def _sub(m: Machine, label: str, start: Any, machine: Mapping[str, Any]) -> None:
    sub = Machine(label, start, m.lambda_outputs, m.child_outputs, m.problems)
    sub.calls = m.calls
    analyse(sub, machine)


def _map(m: Machine, name: str, definition: Mapping[str, Any], shape: Any, raw: Any) -> Any:
    _check_path(m, name, shape, definition.get("ItemsPath"), "ItemsPath")
    for key in ("MaxConcurrencyPath", "ToleratedFailureCountPath",
                "ToleratedFailurePercentagePath"):  # fmt: skip
        _check_path(m, name, shape, definition.get(key), key)
    reader = definition.get("ItemReader") or {}
    if reader.get("Parameters"):
        _template(m, name, shape, reader["Parameters"], "ItemReader.Parameters")
    selector = definition.get("ItemSelector") or definition.get("Parameters")
    item = _template(m, name, shape, selector, "ItemSelector") if selector else ANY
    processor = definition.get("ItemProcessor") or definition.get("Iterator") or {}
    _sub(m, f"{m.name} > {name}", item, processor)
    return _after(m, name, definition, raw, VALUE)


def _parallel(m: Machine, name: str, definition: Mapping[str, Any], shape: Any, raw: Any) -> Any:
    effective = _parameters(m, name, definition, shape)
    for index, branch in enumerate(definition.get("Branches") or []):
        _sub(m, f"{m.name} > {name}[{index}]", effective, branch)
    return _after(m, name, definition, raw, VALUE)


_TRANSFERS = {
    "Choice": _choice,
    "Wait": _wait,
    "Fail": _fail,
    "Succeed": _succeed,
    "Pass": _pass,
    "Task": _task,
    "Map": _map,
    "Parallel": _parallel,
}


def _transfer(m: Machine, name: str, definition: Mapping[str, Any], raw: Any) -> Any:
    """The state's output shape (for its Next), checking every path it reads."""
    shape = raw
    if "InputPath" in definition:
        shape = _check_path(m, name, raw, definition["InputPath"], "InputPath")
    transfer = _TRANSFERS.get(str(definition.get("Type")))
    if transfer is None:
        m.problems.add(m.name, name, f"unknown state type {definition.get('Type')!r}")
        return ANY
    return transfer(m, name, definition, shape, raw)


def _narrowed(shape: Any, rule: Mapping[str, Any]) -> Any:
    """The shape a Choice rule's ``Next`` gets: a rule that matches only when its Variable
    is present (``IsPresent: true``) hands on a shape that has it."""
    variable = rule.get("Variable")
    if rule.get("IsPresent") is not True or not isinstance(variable, str):
        return shape
    _, missing = resolve(shape, variable)
    return assign(shape, variable, ANY) if missing else shape


def _successors(definition: Mapping[str, Any], output: Any, raw: Any) -> Iterable[tuple[str, Any]]:
    if definition.get("Next"):
        yield definition["Next"], output
    for rule in definition.get("Choices") or []:
        yield rule["Next"], _narrowed(output, rule)
    if definition.get("Default"):
        yield definition["Default"], output
    for catcher in definition.get("Catch") or []:
        failure = {"Error": VALUE, "Cause": VALUE}
        yield catcher["Next"], assign(raw, catcher.get("ResultPath", "$"), failure)


def analyse(m: Machine, machine: Mapping[str, Any]) -> dict[str, Any]:
    """Input shape of every state (fixed point over the state graph)."""
    states: Mapping[str, Any] = machine.get("States") or {}
    inputs: dict[str, Any] = dict.fromkeys(states, _TOP)
    inputs[machine["StartAt"]] = m.start_shape
    quiet = Machine(m.name, m.start_shape, m.lambda_outputs, m.child_outputs, Problems())
    quiet.calls = m.calls
    for _ in range(len(states) + 2):
        changed = False
        for name, definition in states.items():
            if inputs[name] is _TOP:
                continue
            output = _transfer(quiet, name, definition, inputs[name])
            for target, shape in _successors(definition, output, inputs[name]):
                merged = meet(inputs.get(target, _TOP), shape)
                if merged != inputs.get(target):
                    inputs[target] = merged
                    changed = True
        if not changed:
            break
    for name, definition in states.items():
        if inputs[name] is _TOP:
            m.problems.add(m.name, name, "is never reached")
            continue
        _transfer(m, name, definition, inputs[name])
    return inputs


def final_output(machine: Mapping[str, Any], inputs: Mapping[str, Any], m: Machine) -> Any:
    """What a machine's successful executions end with (the meet over its end states)."""
    result = _TOP
    quiet = Machine(m.name, m.start_shape, m.lambda_outputs, m.child_outputs, Problems())
    for name, definition in (machine.get("States") or {}).items():
        if definition.get("Type") == "Succeed" or definition.get("End"):
            result = meet(result, _transfer(quiet, name, definition, inputs.get(name, _TOP)))
    return ANY if result is _TOP else result


# -- names ---------------------------------------------------------------------------------
def error_names(machine: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(state, error name) for every name a Retry, Catch or Fail state uses, nested too."""
    for name, definition in (machine.get("States") or {}).items():
        for block in ("Retry", "Catch"):
            for entry in definition.get(block) or []:
                for error in entry.get("ErrorEquals") or []:
                    yield name, str(error)
        if definition.get("Type") == "Fail" and "Error" in definition:
            yield name, str(definition["Error"])
        processor = definition.get("ItemProcessor") or definition.get("Iterator")
        if processor:
            yield from error_names(processor)
        for branch in definition.get("Branches") or []:
            yield from error_names(branch)


def placeholders(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    return set()


def check_names(
    name: str,
    machine: Mapping[str, Any],
    error_classes: set[str],
    allowed_placeholders: set[str],
    problems: Problems,
) -> None:
    for state, error in error_names(machine):
        if error.startswith(_AWS_ERROR_PREFIXES):
            continue
        if error not in error_classes:
            problems.add(name, state, f"error {error!r} is not a class in chalicelib.errors")
    for found in sorted(placeholders(machine) - allowed_placeholders):
        problems.add(name, "-", f"placeholder ${{{found}}} is no Chalice function or deploy value")


# -- the whole set -------------------------------------------------------------------------
def check_templates(
    templates: Mapping[str, Mapping[str, Any]],
    *,
    machine_placeholders: Mapping[str, str],
    lambda_outputs: Mapping[str, Any],
    deploy_values: set[str],
    error_classes: set[str],
    entry_shapes: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every problem of every template, one line each (empty when the contract holds).

    ``templates`` maps a machine kind to its parsed template, ``machine_placeholders`` a
    state machine placeholder (``TaskWatcherArn``) to its kind, ``lambda_outputs`` a
    function placeholder (``GetTaskStatusArn``) to the shape its Lambda returns.
    ``entry_shapes`` gives the input of machines people start (default: ``ANY``); a
    machine only started by another starts with what its callers pass.
    """
    problems = Problems()
    allowed = set(lambda_outputs) | set(machine_placeholders) | deploy_values
    for kind, template in templates.items():
        check_names(kind, template, error_classes, allowed, problems)
    kind_of = dict(machine_placeholders)
    starts: dict[str, Any] = {kind: (entry_shapes or {}).get(kind, ANY) for kind in templates}
    called: set[str] = set()
    outputs: dict[str, Any] = {}
    for final in (False, True):
        calls: dict[str, Any] = {}
        for kind, template in templates.items():
            child_outputs = {p: outputs.get(k, ANY) for p, k in kind_of.items()}
            machine = Machine(kind, starts[kind], lambda_outputs, child_outputs,
                              problems if final else Problems())  # fmt: skip
            inputs = analyse(machine, template)
            outputs[kind] = final_output(template, inputs, machine)
            for placeholder, shape in machine.calls.items():
                calls[placeholder] = meet(calls.get(placeholder, _TOP), shape)
        for placeholder, shape in calls.items():
            child = kind_of.get(placeholder)
            if child and child not in (entry_shapes or {}):
                called.add(child)
                starts[child] = shape
    return problems.lines
