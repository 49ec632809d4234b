"""Error and cause lengths: AWS keeps at most 256 characters of an error, 32,768 of a cause.

AWS API reference, ExecutionFailedEventDetails / TaskFailedEventDetails /
ExecutionTimedOutEventDetails
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_ExecutionFailedEventDetails.html):
``cause`` "Maximum length of 32768", ``error`` "Maximum length of 256". The Fail state
(https://docs.aws.amazon.com/step-functions/latest/dg/state-fail.html) sets the execution's
error and cause, and a failed Lambda task's cause is the JSON of the Lambda error
payload: a longer one is cut, which also makes that JSON unparsable (a Catch that feeds
the cause to States.StringToJson then fails). The documents give limits, not what happens
above them; the cut (not a refusal) follows the brief and what the event shapes allow.
Lengths count characters (code points), as Python's ``len``.

MiniStack 1.5.33 keeps any length. Patched: ``_ExecutionError.__init__`` (every error a
state, task, Fail state or check raises, so Catch error outputs are cut too) and
``_fail_execution`` (what DescribeExecution and the history report).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

MAX_ERROR_CHARS = 256
MAX_CAUSE_CHARS = 32_768

EXPECTED = {
    "_ExecutionError.__init__": Expectation(("self", "error", "cause"), "57b67f0b75f74c0c"),
    "_fail_execution": Expectation(("execution", "error", "cause"), "e6da895fa0b74cdd"),
}


def cut(text: Any, limit: int) -> Any:
    """``text`` cut to ``limit`` characters; anything that is not a string unchanged."""
    if isinstance(text, str) and len(text) > limit:
        return text[:limit]
    return text


def install(sf: Any) -> None:
    original_init = sf._ExecutionError.__init__

    def init(self: Any, error: Any, cause: Any) -> None:
        original_init(self, cut(error, MAX_ERROR_CHARS), cut(cause, MAX_CAUSE_CHARS))

    sf._ExecutionError.__init__ = init

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def fail_execution(execution: Any, error: Any, cause: Any) -> Any:
            return original(execution, cut(error, MAX_ERROR_CHARS), cut(cause, MAX_CAUSE_CHARS))

        return fail_execution

    wrap(sf, "_fail_execution", make)
