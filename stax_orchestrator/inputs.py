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
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}", EXIT_INVALID) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CliError(
            f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8 JSON", EXIT_INVALID
        ) from None
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


def parameters(pairs: Sequence[str] | None, param_file: str | None) -> dict[str, Any]:
    """``--param K=V`` flags and a ``--param-file`` (a JSON object of name -> value, ``-``:
    stdin), so a secret value need not pass through the shell's history.

    Raises:
        CliError: (exit code 2) the file is unreadable or not a JSON object, or a name is
            given by both.
    """
    from_file: dict[str, Any] = {}
    if param_file:
        data = load_json_file(param_file)
        if not isinstance(data, dict):
            raise CliError(
                f"--param-file {param_file} must hold a JSON object of parameter names to "
                'values, e.g. {"DbPassword": "..."}',
                EXIT_INVALID,
            )
        from_file = {str(k): v for k, v in data.items()}
    flags = key_value_pairs(pairs, "--param")
    both = sorted(set(flags) & set(from_file))
    if both:
        raise CliError(
            f"parameter(s) {', '.join(both)} given by both --param and --param-file: give "
            "each once",
            EXIT_INVALID,
        )
    return {**from_file, **flags}


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
