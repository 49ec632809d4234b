"""Terminal errors: no Retry and no Catch handles States.Runtime or States.DataLimitExceeded.

AWS (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html,
"Error names"): "States.ALL ... can't catch the States.DataLimitExceeded terminal error
or the Runtime error types"; States.DataLimitExceeded is "a terminal error that can't be
caught by the States.ALL error type"; "A States.Runtime error isn't retriable, and will
always cause the execution to fail."

The page does not say whether naming the error itself (``"ErrorEquals":
["States.DataLimitExceeded"]``) catches it. Harsher reading, taken here: nothing does.
(LocalStack's AWS-recorded snapshot of 2024-03, tests/aws/services/stepfunctions/v2/
error_handling/test_states_errors.snapshot.json, shows a Lambda task's oversized result
reported as a TaskFailed that a Catch took; the documentation says terminal, and a
state machine that relies on catching it is relying on undocumented behaviour.)

Terminal means the execution it happens in fails. A child execution started with
``arn:aws:states:::states:startExecution.sync`` is another execution: its failure reaches
the parent as the parent task's failure, States.TaskFailed, which the parent may retry
and catch (https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html;
AWS's cause there is the child's DescribeExecution JSON). MiniStack hands the parent the
child's own error name; for the two terminal names that would make the parent fail
where AWS lets it catch, so those become States.TaskFailed (other names are left as
MiniStack gives them).

MiniStack 1.5.33 matches ``States.ALL`` and ``States.TaskFailed`` to every error name.
Patched: ``_error_matches`` (used by every retrier and catcher lookup) and
``_nested_execution_failure`` (a child's terminal error, seen by its parent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

TERMINAL_ERRORS = frozenset({"States.Runtime", "States.DataLimitExceeded"})

TASK_FAILED = "States.TaskFailed"

EXPECTED = {
    "_error_matches": Expectation(("error_equals", "error"), "519b9dc729c56a3c"),
    "_nested_execution_failure": Expectation(("payload",), "aa53a760707b05bc"),
    "_invoke_nested_start_execution_sync": Expectation(
        ("resource", "input_data"), "d9f13c4aabeda589"
    ),
}


def install(sf: Any) -> None:
    def make(original: Callable[..., bool]) -> Callable[..., bool]:
        def error_matches(error_equals: Any, error: Any) -> bool:
            if error in TERMINAL_ERRORS:
                return False
            return original(error_equals, error)

        return error_matches

    wrap(sf, "_error_matches", make)

    def make_nested(original: Callable[..., tuple[Any, Any]]) -> Callable[..., tuple[Any, Any]]:
        def nested_execution_failure(payload: Any) -> tuple[Any, Any]:
            error, cause = original(payload)
            return (TASK_FAILED if error in TERMINAL_ERRORS else error), cause

        return nested_execution_failure

    wrap(sf, "_nested_execution_failure", make_nested)
