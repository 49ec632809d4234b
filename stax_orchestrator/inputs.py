"""What a user hands the CLI: JSON files (or stdin) and ``KEY=VALUE`` flags.

Role: reading and shaping the CLI's input before any validation, shared by the workload,
fleet and ``invoke`` commands. Every refusal is a :class:`~stax_orchestrator.console.CliError`
with exit code 2 that names the file or flag and what to fix.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stax_orchestrator.console import EXIT_INVALID, CliError


def load_json_file(path: str) -> Any:
    """The JSON in ``path`` (``-``: stdin).

    Raises:
        CliError: (exit code 2) the file cannot be read, is not JSON, or is nested too
            deeply for Python's JSON parser (``json.loads`` raises RecursionError near
            1,000 levels; the validation refuses far fewer, so nothing valid is lost).
    """
    import json

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}", EXIT_INVALID) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise CliError(
            f"{path} is nested too deeply to read as JSON (objects and arrays inside one "
            "another, hundreds of levels deep); send a flat JSON object as in the README",
            EXIT_INVALID,
        ) from None
    except ValueError as error:
        raise CliError(f"{path} is not JSON: {error}", EXIT_INVALID) from None


def key_value_pairs(values: Sequence[str] | None, flag: str) -> dict[str, str]:
    """``["K=V", ...]`` as a dict; a value may itself hold ``=``.

    Raises:
        CliError: (exit code 2) an item has no ``=`` or no key.
    """
    result: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"{flag} takes KEY=VALUE, got {item!r}", EXIT_INVALID)
        result[key] = value
    return result
