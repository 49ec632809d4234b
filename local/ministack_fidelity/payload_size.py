"""Payload size: 256 KiB (262,144 bytes of UTF-8) for an execution's input and every
state's input, output and task result; above it AWS fails with States.DataLimitExceeded.

AWS quotas (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html,
"Maximum input or output size for a task, state, or execution": 256 KiB of data as a
UTF-8 encoded string) and error names
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html,
States.DataLimitExceeded: "the output of a connector is larger than payload size quota",
"the output of a state is larger than payload size quota", "after Parameters processing,
the input of a state is larger than payload size quota"). It is terminal
(``terminal_errors``). The cause text is AWS's, as recorded by LocalStack against AWS:
"The state/task 'X' returned a result with a size exceeding the maximum number of bytes
service limit." (X: the state name; for a task result the resource, with
``arn:aws:states:::SERVICE:...`` shortened to SERVICE). No recording shows the text for
an input too large after Parameters; the same sentence, naming the state, is used.

StartExecution / StartSyncExecution: the API reference gives ``input`` "Length
Constraints: Maximum length of 262144", "expressed as bytes in UTF-8 encoding"
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
The page does not name the error; a request that breaks a modelled constraint is answered
HTTP 400 ValidationException ("The input does not satisfy the constraints specified by an
AWS service", one of StartExecution's documented errors) with the standard
"1 validation error detected" message; the input is a sensitive member, so its value is
not echoed. Harsher reading taken: the limit counts UTF-8 bytes of the string as sent.

State payloads are measured as compact JSON (no spaces), UTF-8.

MiniStack 1.5.33 checks none of this. Patched: ``_start_execution``,
``_start_sync_execution`` (refuse a large input), ``_invoke_resource``,
``_invoke_with_callback`` (task result), ``_apply_parameters`` (input after Parameters),
``_run_sub_machine`` (a Map item's input after ItemSelector, a branch's input),
``_execute_pass`` / ``_choice`` / ``_wait`` / ``_task`` / ``_parallel`` / ``_map``
(state output; the execution's output is the last state's).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

MAX_PAYLOAD_BYTES = 262_144
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
INPUT_TOO_LARGE = (
    "1 validation error detected: Value at 'input' failed to satisfy constraint: "
    f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES}"
)

#: State handlers and the position of their ``ctx`` argument.
STATE_HANDLERS = {
    "_execute_pass": 2,
    "_execute_choice": 2,
    "_execute_wait": 2,
    "_execute_task": 3,
    "_execute_parallel": 3,
    "_execute_map": 3,
}

EXPECTED = {
    "_start_execution": Expectation(("data",), "9923282fc76c57b9"),
    "_start_sync_execution": Expectation(("data",), "8600470a0208036c"),
    "_invoke_resource": Expectation(("resource", "input_data"), "a85d2be9a8584ce0"),
    "_invoke_with_callback": Expectation(
        ("resource", "input_data", "token", "state_def"), "bbb38423156a0d3d"
    ),
    "_apply_parameters": Expectation(("state_def", "data", "ctx"), "a90d58220630d580"),
    "_run_sub_machine": Expectation(
        ("states", "start_at", "input_data", "execution", "ctx"), "f8d844168b1459f8"
    ),
    "_execute_pass": Expectation(("state_def", "raw_input", "ctx"), "b1dff47048bcf8e1"),
    "_execute_choice": Expectation(("state_def", "raw_input", "ctx"), "468955fcd4a438d2"),
    "_execute_wait": Expectation(("state_def", "raw_input", "ctx"), "a1012679c72d1b08"),
    "_execute_task": Expectation(
        ("state_def", "raw_input", "execution", "ctx"), "53c818d247dba62c"
    ),
    "_execute_parallel": Expectation(
        ("state_def", "raw_input", "execution", "ctx"), "2166e1f53e5fd48d"
    ),
    "_execute_map": Expectation(("state_def", "raw_input", "execution", "ctx"), "18ad3965291213ad"),
    "error_response_json": Expectation(
        ("code", "message", "status", "extra", "message_key", "content_type"),
        "37b83f60219dea51",
    ),
}


def payload_bytes(value: Any) -> int:
    """Size of ``value`` as compact JSON in UTF-8."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-8", "surrogatepass"))


def text_bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def task_label(resource: Any) -> str:
    """How AWS names a task in the cause: the service of an optimized integration."""
    text = str(resource)
    prefix = "arn:aws:states:::"
    if text.startswith(prefix):
        return text[len(prefix) :].split(":", 1)[0]
    return text


def too_large_cause(name: Any) -> str:
    return (
        f"The state/task '{name}' returned a result with a size exceeding the maximum "
        "number of bytes service limit."
    )


def state_name(ctx: Any) -> Any:
    state = ctx.get("State") if isinstance(ctx, dict) else None
    return state.get("Name") if isinstance(state, dict) else None


def install(sf: Any) -> None:
    def check(value: Any, cause: str) -> None:
        if payload_bytes(value) > MAX_PAYLOAD_BYTES:
            raise sf._ExecutionError(DATA_LIMIT_EXCEEDED, cause)

    def refusing_large_input(original: Callable[..., Any]) -> Callable[..., Any]:
        def start(data: Any) -> Any:
            given = data.get("input") if isinstance(data, dict) else None
            if isinstance(given, str) and text_bytes(given) > MAX_PAYLOAD_BYTES:
                return sf.error_response_json("ValidationException", INPUT_TOO_LARGE, 400)
            return original(data)

        return start

    wrap(sf, "_start_execution", refusing_large_input)
    wrap(sf, "_start_sync_execution", refusing_large_input)

    def checking_result(original: Callable[..., Any]) -> Callable[..., Any]:
        def invoke(resource: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(resource, *args, **kwargs)
            check(result, too_large_cause(task_label(resource)))
            return result

        return invoke

    wrap(sf, "_invoke_resource", checking_result)
    wrap(sf, "_invoke_with_callback", checking_result)

    def checking_parameters(original: Callable[..., Any]) -> Callable[..., Any]:
        def apply_parameters(state_def: Any, data: Any, ctx: Any = None) -> Any:
            effective = original(state_def, data, ctx)
            if isinstance(state_def, dict) and state_def.get("Parameters"):
                check(effective, too_large_cause(state_name(ctx)))
            return effective

        return apply_parameters

    wrap(sf, "_apply_parameters", checking_parameters)

    def checking_sub_input(original: Callable[..., Any]) -> Callable[..., Any]:
        def run_sub_machine(
            states: Any, start_at: Any, input_data: Any, execution: Any, ctx: Any
        ) -> Any:
            check(input_data, too_large_cause(state_name(ctx)))
            return original(states, start_at, input_data, execution, ctx)

        return run_sub_machine

    wrap(sf, "_run_sub_machine", checking_sub_input)

    for handler, ctx_index in STATE_HANDLERS.items():

        def checking_output(
            original: Callable[..., Any], ctx_index: int = ctx_index
        ) -> Callable[..., Any]:
            def execute(*args: Any) -> Any:
                name = state_name(args[ctx_index] if len(args) > ctx_index else None)
                output, next_state = original(*args)
                check(output, too_large_cause(name))
                return output, next_state

            return execute

        wrap(sf, handler, checking_output)
