"""Structured logs of the orchestrator: one JSON object per line.

On AWS Lambda the runtime's handler on the root logger ships records to CloudWatch;
elsewhere (MiniStack's workers, the CLI, tests) nothing would, so a stderr handler is
added when the root logger has none. Records carry ids and statuses, never the payload's
values or the Stax token.
"""

from __future__ import annotations

import json
import logging
from typing import Any

LOGGER_NAME = "stax_orchestrator"


def get_logger() -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger


def log_event(event: str, **fields: Any) -> None:
    """Log ``{"event": event, **fields}`` as one JSON line at INFO."""
    get_logger().info(json.dumps({"event": event, **fields}, default=str))
