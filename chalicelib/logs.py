"""Structured logs of the Lambdas: one JSON object per line, each naming its execution.

Every line is a whole JSON object (CloudWatch Logs Insights discovers its fields):
``timestamp``, ``level``, ``event``, ``function`` (the Lambda function's name),
``request_id``, ``execution_arn`` (the Step Functions execution whose Task state invoked
the Lambda; null when none did) and, for a task watcher's polls, ``parent_execution_arn``
(the workload execution it watches for), then the event's own fields. A failed
invocation writes ``{"event": "invocation_failed", "error": <error class name>}``:
the deploy's metric filters count those by ``error``.

The lines go to stderr through this module's own handler and do not propagate: the
Lambda runtime's root handler would prefix each line with a level, a timestamp and the
request id, and a prefixed line is no longer JSON. ``LOG_LEVEL`` (settings) sets the
level when the first line is logged. Lines carry ids, names and statuses, never a
payload's values or the Stax token.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from functools import wraps
from typing import Any, TypeVar

from chalicelib import settings

LOGGER_NAME = "stax_orchestrator"

#: What every line of the current invocation carries (set by ``invocation``).
_CONTEXT: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "stax_orchestrator_log_context", default=None
)

Handler = TypeVar("Handler", bound=Callable[..., Any])


class JsonLines(logging.Formatter):
    """A record as one JSON object: the invocation's context, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        line: dict[str, Any] = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
        }
        line.update(_CONTEXT.get() or {})
        if isinstance(fields, Mapping):
            line.update(fields)
        else:  # a plain logging call on this logger
            line["event"] = "message"
            line["message"] = record.getMessage()
        return json.dumps(line, default=str)


class _Stderr(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is at the time of writing
    (a CLI or a test that swaps it still gets the lines)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def get_logger() -> logging.Logger:
    """The orchestrator's logger, configured on first use (never at import).

    Raises:
        ValueError: ``LOG_LEVEL`` names no logging level.
    """
    logger = logging.getLogger(LOGGER_NAME)
    if not getattr(logger, "_stax_configured", False):
        # Ours is added even beside others (a test runner's capture, a CLI's handler).
        if not any(isinstance(h, _Stderr) for h in logger.handlers):
            handler = _Stderr()
            handler.setFormatter(JsonLines())
            logger.addHandler(handler)
        logger.propagate = False
        if logger.level == logging.NOTSET:
            logger.setLevel(settings.log_level())
        logger._stax_configured = True  # type: ignore[attr-defined]
    return logger


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``{"event": event, **fields}`` (plus the invocation's context) as one line."""
    logger = get_logger()
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": {"event": event, **fields}})


def execution_context(event: Any) -> dict[str, Any]:
    """The execution ARNs an event of ours carries (the state machines pass them).

    ``execution_arn`` at the top level (``$$.Execution.Id`` of the calling Task state),
    or, for the workload writes, which receive the whole execution state,
    ``orchestration.execution_id`` (the same value, written by Record Execution);
    ``parent_execution_arn`` from the task watcher; for an EventBridge alert, the
    execution the event is about (``detail.executionArn``).
    """
    if not isinstance(event, Mapping):
        return {"execution_arn": None}
    orchestration = event.get("orchestration")
    detail = event.get("detail")
    arn = event.get("execution_arn")
    if arn is None and isinstance(orchestration, Mapping):
        arn = orchestration.get("execution_id")
    if arn is None and isinstance(detail, Mapping):
        arn = detail.get("executionArn")
    context: dict[str, Any] = {"execution_arn": arn if isinstance(arn, str) else None}
    parent = event.get("parent_execution_arn")
    if isinstance(parent, str):
        context["parent_execution_arn"] = parent
    return context


@contextlib.contextmanager
def invocation(function: str, event: Any, context: Any) -> Iterator[None]:
    """Every line logged inside names ``function``, the request and the execution.

    An exception leaving the block is logged as ``invocation_failed`` with its class
    name (the Step Functions error name for ours), then re-raised unchanged.
    """
    fields = {
        "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or function,
        "request_id": getattr(context, "aws_request_id", None),
        **execution_context(event),
    }
    token = _CONTEXT.set(fields)
    try:
        yield
    except Exception as error:
        log_event("invocation_failed", logging.ERROR, error=type(error).__name__)
        raise
    finally:
        _CONTEXT.reset(token)


def observed(function: str) -> Callable[[Handler], Handler]:
    """Decorate a Lambda handler ``(event, context)`` so it runs inside ``invocation``."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        def wrapper(event: Any, context: Any) -> Any:
            with invocation(function, event, context):
                return handler(event, context)

        return wrapper  # type: ignore[return-value]

    return decorate
