"""Fleet targets from a file: CSV, JSON Lines or JSON, read the same way everywhere.

Role: ``stax-orchestrator fleet run --targets FILE`` reads a local file, and the plan
Lambda reads the same formats from S3 (``targets_location``, for fleets whose target list
is too big to travel in the execution's input). Each row becomes a target object of the
fleet request (``aws_account_id``, ``aws_region``, optional ``workload_name``,
``workload_parameters``, ``workload_tags``); the fleet's own validation then judges them.

CSV: a header row names the columns; ``param:<Key>`` and ``tag:<Key>`` columns fill a
target's parameters and tags (an empty cell leaves that key out). JSON Lines: one target
object per line. JSON: an array of targets, or an object with ``targets``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import InvalidFleetRequest
from chalicelib.validation.limits import MAX_TARGETS, MAX_TARGETS_FILE_BYTES
from chalicelib.validation.problems import Problems

FORMATS = ("csv", "jsonl", "json")
_COLUMNS = ("aws_account_id", "aws_region", "workload_name")
_PREFIXES = {"param:": "workload_parameters", "tag:": "workload_tags"}


def format_of(name: str) -> str:
    """The format a file name says (``.csv``, ``.jsonl``/``.ndjson``, ``.json``).

    Raises:
        InvalidFleetRequest: the name ends otherwise.
    """
    lowered = name.lower()
    for suffix, kind in ((".csv", "csv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"),
                         (".json", "json")):  # fmt: skip
        if lowered.endswith(suffix):
            return kind
    raise InvalidFleetRequest(
        f"The targets file {name!r} is neither .csv, .jsonl nor .json",
        errors={"targets_location": ["name a file ending in .csv, .jsonl or .json"]},
    )


def _loads(text: str, where: str, problems: Problems) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        problems.add(where, "is nested too deeply to read as JSON")
    except json.JSONDecodeError as error:
        problems.add(where, f"is not JSON: {error.msg} (column {error.colno})")
    return None


def _from_csv(text: str, problems: Problems) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in _COLUMNS and not c.startswith(tuple(_PREFIXES))]
    if unknown:
        problems.add(
            "targets_file line 1",
            f"unknown column(s) {', '.join(map(repr, unknown))}; use {', '.join(_COLUMNS)}, "
            "param:<Key> and tag:<Key>",
        )
    targets = []
    for row in reader:
        target: dict[str, Any] = {}
        for column, value in row.items():
            if column is None or value is None or value == "":
                continue
            prefix = next((p for p in _PREFIXES if column.startswith(p)), None)
            if prefix:
                target.setdefault(_PREFIXES[prefix], {})[column[len(prefix) :]] = value
            elif column in _COLUMNS:
                target[column] = value
        targets.append(target)
    return targets


def parse_targets(text: str, kind: str) -> list[Any]:
    """The target objects of a targets file (not yet validated as targets).

    Raises:
        InvalidFleetRequest: the file is too big, not of its format, or holds more than
            ``MAX_TARGETS`` targets; every unreadable line is named (``targets_file line N``).
    """
    problems = Problems("The targets file", InvalidFleetRequest)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TARGETS_FILE_BYTES:
        problems.refuse(
            "targets_file", f"is larger than {MAX_TARGETS_FILE_BYTES // (1024 * 1024)} MiB"
        )
    targets: list[Any] = []
    if kind == "csv":
        targets = _from_csv(text, problems)
    elif kind == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                targets.append(_loads(line, f"targets_file line {number}", problems))
    else:
        loaded = _loads(text, "targets_file", problems)
        if isinstance(loaded, Mapping):
            loaded = loaded.get("targets")
        if isinstance(loaded, list):
            targets = loaded
        elif loaded is not None:
            problems.add("targets_file", 'must be an array of targets or {"targets": [...]}')
    if len(targets) > MAX_TARGETS:
        problems.add("targets_file", f"holds {len(targets)} targets; at most {MAX_TARGETS}")
    problems.raise_if_any()
    return targets
