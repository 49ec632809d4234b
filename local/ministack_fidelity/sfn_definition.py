"""A state machine definition must be JSON and every transition must name a state of its block.

AWS Step Functions API reference, ValidateStateMachineDefinition
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinition.html):
"Step Functions will implicitly perform the same syntax check when you invoke
CreateStateMachine and UpdateStateMachine", which refuse a definition failing it with
InvalidDefinition; its error codes include INVALID_JSON_DESCRIPTION ("JSON syntax problem
found"), SCHEMA_VALIDATION_FAILED and MISSING_TRANSITION_TARGET. The Amazon States
Language (https://states-language.net/spec.html): "StartAt" "MUST match exactly the name
of one of the 'States' fields"; a Parallel branch and a Map's ItemProcessor (Iterator)
are state machines of their own (own StartAt and States), whose states transition only
within them. AWS words the refusal ``Invalid State Machine Definition:
'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next'`` (the
word Next for StartAt, Default, Choices[i].Next and Catch[i].Next too; several problems
joined by ", "). Through CloudFormation the AWS::StepFunctions::StateMachine handler
fails the resource with that message (CREATE_FAILED/UPDATE_FAILED) and the stack rolls
back.

MiniStack 1.5.33 stores any definition (only JSONata expressions are parsed). Patched:
``stepfunctions._validate_definition_jsonata``, which CreateStateMachine and
UpdateStateMachine ask before storing, first answers this check (then MiniStack's own);
``provisioners._sfn_definition``, which the CloudFormation create and update handlers
read the definition with (DefinitionSubstitutions applied), raises the handler error
(``_sfn_handler_error``, "Service: Sfn, Status Code: 400"). Checked: the text parses as
JSON, is an object with a string StartAt and an object States; every StartAt, Next,
Default, Choices[].Next and Catch[].Next names a state of its own block. The JSON parser's
message and the schema messages are Python's wording, not AWS's. Not checked, though AWS
refuses them too: a state nothing reaches ('MISSING_TRANSITION_TARGET: State "X" is not
reachable.' -- tests/e2e/test_ministack_limits.py's probes carry such a state), a
workflow without a terminal state (MISSING_END_STATE), the rest of AWS's schema.
"""

from __future__ import annotations

import json
from typing import Any

from ._patching import Expectation

EXPECTED = {
    "_validate_definition_jsonata": Expectation(("definition_str",), "a5ec092b2c8d49b8"),
}
CALLERS = ("_create_state_machine", "_update_state_machine")
CFN_EXPECTED = {
    "_sfn_definition": Expectation(("props",), "e29ae22959e7b7cf"),
    "_sfn_handler_error": Expectation(("message",), "97d65f9164fd5fff"),
    "_sdk_error": Expectation(("message", "service", "status", "request_id"), "c9fd54fb63ffc230"),
}
CFN_CALLERS = ("_sfn_state_machine_create", "_sfn_state_machine_update")
MISSING = "MISSING_TRANSITION_TARGET: Missing 'Next' target:"


def _targets(state: dict[str, Any], here: str) -> list[tuple[Any, str]]:
    """(target, where) of each transition a state declares, in the order it declares them."""
    found = []
    for field, value in state.items():
        if field in ("Next", "Default"):
            found.append((value, f"{here}/{field}"))
        elif field in ("Choices", "Catch") and isinstance(value, list):
            found += [(rule["Next"], f"{here}/{field}[{i}]/Next") for i, rule in enumerate(value)
                      if isinstance(rule, dict) and "Next" in rule]  # fmt: skip
    return found


def _blocks(state: dict[str, Any], here: str) -> list[tuple[Any, str]]:
    """The nested state machines of a Parallel or Map state, with their paths."""
    if state.get("Type") == "Parallel" and isinstance(state.get("Branches"), list):
        return [(branch, f"{here}/Branches[{i}]") for i, branch in enumerate(state["Branches"])]
    if state.get("Type") == "Map":
        return [(state[key], f"{here}/{key}") for key in ("ItemProcessor", "Iterator")
                if key in state]  # fmt: skip
    return []


def _check_block(block: Any, path: str, problems: list[str]) -> None:
    if not isinstance(block, dict):
        problems.append(f"SCHEMA_VALIDATION_FAILED: Expected an object at {path or '/'}")
        return
    states, start = block.get("States"), block.get("StartAt")
    for field, value, kind in (("StartAt", start, str), ("States", states, dict)):
        if not isinstance(value, kind):
            kind_name = "a string" if kind is str else "an object"
            problems.append(
                f"SCHEMA_VALIDATION_FAILED: The field '{field}' is required and must be "
                f"{kind_name} at {path or '/'}"
            )
    if not isinstance(states, dict) or not isinstance(start, str):
        return
    if start not in states:
        problems.append(f"{MISSING} {start} at {path}/StartAt")
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        here = f"{path}/States/{name}"
        for target, where in _targets(state, here):
            if not isinstance(target, str) or target not in states:
                problems.append(f"{MISSING} {target} at {where}")
        for child, child_path in _blocks(state, here):
            _check_block(child, child_path, problems)


def definition_problems(text: Any) -> list[str]:
    """AWS's diagnostics for a definition it refuses (empty: nothing to refuse here)."""
    if not isinstance(text, str):
        return []
    try:
        definition = json.loads(text)
    except ValueError as error:
        where = getattr(error, "lineno", 1), getattr(error, "colno", 1)
        reason = getattr(error, "msg", str(error))
        return [f"INVALID_JSON_DESCRIPTION: {reason} at (line: {where[0]}, column: {where[1]})"]
    problems: list[str] = []
    _check_block(definition, "", problems)
    return problems


def invalid_definition(text: Any) -> str | None:
    """The InvalidDefinition message AWS answers for ``text``, or None."""
    problems = definition_problems(text)
    return f"Invalid State Machine Definition: '{', '.join(problems)}'" if problems else None


def install(sf: Any) -> None:
    original = sf._validate_definition_jsonata

    def validate_definition(definition_str: Any) -> str | None:
        return invalid_definition(definition_str) or original(definition_str)

    sf._validate_definition_jsonata = validate_definition


def install_cloudformation(provisioners: Any) -> None:
    original = provisioners._sfn_definition

    def sfn_definition(props: Any) -> Any:
        definition = original(props)
        message = invalid_definition(definition)
        if message:
            raise provisioners._sfn_handler_error(provisioners._sdk_error(message, "Sfn", 400))
        return definition

    provisioners._sfn_definition = sfn_definition
