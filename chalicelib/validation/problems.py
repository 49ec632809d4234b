"""Collecting problems into one refusal, and the checks of a payload as a whole.

Role: :class:`Problems` gathers ``{field: [messages]}`` while a loader looks at every
field and raises a single :class:`~chalicelib.errors.InvalidWorkloadRequest` (or
:class:`~chalicelib.errors.InvalidFleetRequest`) with all of them, bounded in size so the
Step Functions cause stays readable. Besides, the rules every loader applies before it
looks at fields: how field paths are written (:func:`segment`, :func:`render_path`), how
deep a payload may nest (:func:`too_deep_path`, iterative, so it never recurses) and how
big it may be as UTF-8 JSON (:func:`json_size`, :func:`payload_size_problem`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from marshmallow import ValidationError

from chalicelib.errors import InvalidWorkloadRequest
from chalicelib.validation.limits import (
    MAX_ERROR_CHARS,
    MAX_NESTING_DEPTH,
    MAX_PAYLOAD_BYTES,
    MAX_REPORTED_FIELDS,
)

#: Key in a field's error dict meaning "the field itself" (never a rendered map key: those
#: contain no "." unless quoted).
SELF = "."
#: The field name of a problem with the payload as a whole.
WHOLE = "_schema"


def segment(key: object) -> str:
    """A map key as one segment of a dotted error path.

    Plain keys appear as they are (``workload_tags.Env``). Keys that are empty, contain a
    dot or a quote, or anything invisible are shown JSON-quoted and escaped
    (``workload_tags."a\\u200bb"``) so the path is unambiguous and printable. Long keys are
    cut.
    """
    text = key if isinstance(key, str) else str(key)
    plain = (
        bool(text)
        and text.isprintable()
        and text.strip() == text
        and not any(c in text for c in '."\\')
    )
    rendered = text if plain else json.dumps(text)
    if len(rendered) > 80:
        rendered = f"{rendered[:64]}...[{len(text)} characters]"
    return rendered


def render_path(path: Sequence[object]) -> str:
    """``("targets", 0, "workload_parameters", "A")`` -> ``targets[0].workload_parameters.A``;
    the empty path is the payload as a whole (``_schema``)."""
    rendered = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            rendered += f"[{part}]"
        else:
            rendered += ("." if rendered else "") + segment(part)
    return rendered or WHOLE


def too_deep_path(payload: object, limit: int = MAX_NESTING_DEPTH) -> tuple[object, ...] | None:
    """The path to the first object or array nested more than ``limit`` levels deep (the
    payload itself is level 1), or None.

    Iterative, so a payload of any depth (even one that would make ``json.dumps`` or any
    recursive walk raise RecursionError) is measured safely; a structure that contains
    itself (only Python callers can build one) counts as too deep.
    """
    stack: list[tuple[object, tuple[object, ...], int]] = [(payload, (), 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, Mapping):
            children: list[tuple[object, object]] = list(value.items())
        elif isinstance(value, (list, tuple)):
            children = list(enumerate(value))
        else:
            continue
        if depth > limit:
            return path
        # Reversed, so the first entries are looked at first (the path named is the first).
        stack.extend((child, (*path, key), depth + 1) for key, child in reversed(children))
    return None


def nesting_message(limit: int = MAX_NESTING_DEPTH) -> str:
    """What a refusal for nesting says."""
    return (
        f"is nested too deeply: a request holds at most {limit} levels of objects and "
        "arrays; send a flat JSON object as in the README"
    )


def json_size(value: object) -> int:
    """Bytes of ``value`` as compact JSON in UTF-8, the way Step Functions counts its input
    and state.

    Raises:
        RecursionError: ``value`` is nested deeper than Python's recursion allows (check
            :func:`too_deep_path` first).
        ValueError: ``value`` is not JSON data (a circular reference, an integer with more
            digits than Python converts); only Python callers can build such values.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return len(text.encode("utf-8", "surrogatepass"))


def payload_size_problem(payload: object, limit: int = MAX_PAYLOAD_BYTES) -> str | None:
    """Why the payload is bigger than ``limit`` bytes as compact UTF-8 JSON (or nested too
    deeply to measure), or None."""
    try:
        size = json_size(payload)
    except RecursionError:
        return nesting_message()
    except ValueError:
        # Only Python callers can build such data (a circular reference, an integer with
        # more digits than Python converts); the field checks report the offending value.
        return None
    if size > limit:
        return (
            f"is {size} bytes as UTF-8 JSON; at most {limit} bytes are accepted "
            "(send fewer or shorter parameters and tags)"
        )
    return None


def flatten(messages: Any, prefix: str, out: dict[str, list[str]]) -> None:
    """Flatten marshmallow's nested error messages into ``{dotted.path: [messages]}``."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == SELF:
                path = prefix or WHOLE
            elif prefix:
                path = f"{prefix}.{key}"
            else:
                path = str(key)
            flatten(value, path, out)
    elif isinstance(messages, (list, tuple)):
        for message in messages:
            if isinstance(message, (Mapping, list, tuple)):
                flatten(message, prefix, out)
            else:
                out.setdefault(prefix or WHOLE, []).append(str(message))
    else:
        out.setdefault(prefix or WHOLE, []).append(str(messages))


class Problems:
    """Collects ``{field: [messages]}`` and raises one refusal with all of them.

    ``what`` opens the refusal's message ("The workload request has 3 problems: ...");
    ``error_class`` is what is raised (:class:`InvalidWorkloadRequest` or a subclass such
    as :class:`~chalicelib.errors.InvalidFleetRequest`). Fields keep the order in which
    their first problem was added.
    """

    def __init__(
        self, what: str, error_class: type[InvalidWorkloadRequest] = InvalidWorkloadRequest
    ) -> None:
        self.what = what
        self.error_class = error_class
        self.errors: dict[str, list[str]] = {}

    def __bool__(self) -> bool:
        return bool(self.errors)

    def add(self, field: str, message: str) -> None:
        """Record ``message`` for ``field`` (``_schema``: the payload as a whole)."""
        self.errors.setdefault(field, []).append(message)

    def add_once(self, field: str, message: str) -> None:
        """Record ``message`` for ``field`` unless it is recorded there already."""
        if message not in self.errors.get(field, []):
            self.add(field, message)

    def merge(self, error: ValidationError, prefix: str = "") -> None:
        """Record every message of a marshmallow error, its paths under ``prefix``."""
        flat: dict[str, list[str]] = {}
        flatten(error.messages, prefix, flat)
        for field, messages in flat.items():
            for message in messages:
                self.add(field, message)

    def refuse(self, field: str, message: str) -> NoReturn:
        """Record ``message`` and raise the refusal now (when nothing further can be judged).

        Raises:
            InvalidWorkloadRequest: of ``error_class``, with every problem so far.
        """
        self.add(field, message)
        raise self.build()

    def raise_if_any(self) -> None:
        """Raises:
        InvalidWorkloadRequest: of ``error_class``, if any problem was recorded.
        """
        if self.errors:
            raise self.build()

    def build(self) -> InvalidWorkloadRequest:
        """The refusal: at most ``MAX_REPORTED_FIELDS`` fields (3 messages each), fewer if
        its text would exceed ``MAX_ERROR_CHARS``; the rest are counted."""
        count = sum(len(m) for m in self.errors.values())
        names = list(self.errors)
        shown = min(len(names), MAX_REPORTED_FIELDS)
        while True:
            error = self._build(count, names, shown)
            if shown <= 1 or len(str(error)) <= MAX_ERROR_CHARS:
                return error
            shown = max(1, shown // 2)

    def _build(self, count: int, names: list[str], shown: int) -> InvalidWorkloadRequest:
        listed = ", ".join(names[: min(shown, 10)])
        if len(names) > min(shown, 10):
            listed += f", and {len(names) - min(shown, 10)} more"
        noun = "problem" if count == 1 else "problems"
        message = f"{self.what} has {count} {noun}: {listed}."
        errors = {name: self.errors[name][:3] for name in names[:shown]}
        omitted = len(names) - shown
        return self.error_class(
            message,
            errors=errors,
            fields_not_shown=omitted if omitted else None,
        )


#: Which paths are fields, for naming a problem deep inside a payload: a mapping from a
#: key (or the type ``str`` / ``int``: any map key / any array index) to the shape below
#: it, None where the field ends. See :func:`field_prefix`.
Shape = Mapping[Any, Any]


def field_prefix(path: Sequence[object], shape: Shape) -> tuple[object, ...]:
    """The part of ``path`` that names a field of ``shape``.

    ``("workload_parameters", "A", 0, 0)`` with ``{"workload_parameters": {str: None},
    str: None}`` is ``("workload_parameters", "A")``: the problem is reported on the
    parameter, not on an index inside a value that should not be an array at all.
    """
    taken: list[object] = []
    node: Shape | None = shape
    for part in path:
        if node is None:
            break
        kind = int if isinstance(part, int) and not isinstance(part, bool) else str
        if isinstance(part, str) and part in node:
            node = node[part]
        elif kind in node and isinstance(part, kind):
            node = node[kind]
        else:
            break
        taken.append(part)
    return tuple(taken)


def nesting_problem(payload: object, shape: Shape) -> tuple[str, str] | None:
    """``(field, message)`` if ``payload`` nests more than ``MAX_NESTING_DEPTH`` levels,
    else None.

    The field (of ``shape``) is the one that holds the too-deep value, e.g.
    ``workload_parameters.Param1``, or ``_schema`` for the payload as a whole.
    """
    path = too_deep_path(payload)
    if path is None:
        return None
    return render_path(field_prefix(path, shape)), nesting_message()
