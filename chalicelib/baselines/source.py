"""Reading a baselines YAML file into plain data plus the line of every path in it.

Role: the parser half of the file model. PyYAML composes the document into nodes that
carry their marks; this module builds the Python value from those nodes itself (so it
can record ``path -> line`` for every key and item, and refuse duplicate keys, which
PyYAML would silently collapse to the last one) and uses PyYAML's safe constructor only
for scalars. Paths are the ones problems are reported with: ``baselines.logging.regions[1]``.

A baselines file is untrusted input (it reaches the CLI, ``deploy.sh --baselines`` and,
from the stage bucket, the Lambdas): its size is checked before it is read, and the
composer refuses anchors/aliases (an alias is rebuilt at every reference: a few hundred
bytes of nested aliases grow past gigabytes), nesting deeper than :data:`MAX_DEPTH` (the
composer recurses: 50,000 ``[`` would end in ``RecursionError``) and more than
:data:`MAX_NODES` nodes — each refused as ``InvalidBaselines`` with its line.
"""

from __future__ import annotations

import functools
from typing import Any

from chalicelib.baselines.errors import InvalidBaselines
from chalicelib.validation.problems import segment

#: The biggest file read (a baselines file is a few KB; this keeps a mistake cheap).
MAX_FILE_BYTES = 1024 * 1024
#: The deepest nesting of maps and lists (a baselines file needs about six levels).
MAX_DEPTH = 32
#: The most nodes (keys, values, items) one file may hold: a baseline is a few dozen, and
#: account-by-account overrides for a large organisation a few thousand. PyYAML's parser is
#: pure Python (about 50 µs a node), so this also keeps the worst refusal under a second.
MAX_NODES = 10_000


def too_big(size: int, name: str) -> InvalidBaselines:
    """The refusal of a file of ``size`` bytes (checked before it is read)."""
    return InvalidBaselines(
        f"The {name} is bigger than {MAX_FILE_BYTES // 1024} KiB ({size:,} bytes)",
        problems=[{"path": name, "line": None, "message": "split it into smaller files"}],
    )


def read_bounded(stream: Any, size: int, name: str) -> str:
    """The text of a baselines file from ``stream`` (anything with ``read(n)``), whose
    declared ``size`` is checked before a byte is read; a stream longer than it declared
    (a file that grows, a device) is cut at the limit and refused too.

    Raises:
        InvalidBaselines: bigger than ``MAX_FILE_BYTES``, or not UTF-8.
    """
    if size > MAX_FILE_BYTES:
        raise too_big(size, name)
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise too_big(len(data), name)
    try:
        return str(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise InvalidBaselines(
            f"The {name} is not UTF-8 text",
            problems=[
                {
                    "path": name,
                    "line": None,
                    "message": f"byte {error.start} cannot be read as UTF-8",
                }
            ],
        ) from None


def read_file(path: str, name: str | None = None) -> str:
    """The text of a baselines file on disk, its size checked before it is read.

    Raises:
        InvalidBaselines: bigger than ``MAX_FILE_BYTES``, or not UTF-8.
        OSError: it cannot be read.
    """
    import os

    name = name or path
    size = os.stat(path).st_size
    if size > MAX_FILE_BYTES:  # before the file is even opened
        raise too_big(size, name)
    with open(path, "rb") as handle:
        return read_bounded(handle, size, name)


@functools.cache
def _loader_class() -> Any:
    """PyYAML's SafeLoader with a composer that refuses aliases, depth and bulk."""
    import yaml
    from yaml.composer import ComposerError

    class BoundedLoader(yaml.SafeLoader):
        depth = 0
        nodes = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent):
                raise ComposerError(
                    None, None,
                    f"found an alias (*{event.anchor}): anchors and aliases are not allowed "
                    "in a baselines file; write the value out",
                    event.start_mark,
                )  # fmt: skip
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise ComposerError(
                    None, None, f"more than {MAX_NODES:,} values in one file", event.start_mark
                )
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    raise ComposerError(
                        None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark
                    )
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BoundedLoader


def join(path: str, key: object) -> str:
    """``path`` plus a map key (``a.b``) or a list index (``a[0]``)."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    return f"{path}.{segment(key)}" if path else segment(key)


def line_of(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path``, else of its nearest ancestor that has one."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("")


def load_yaml(
    text: str, name: str = "baselines file", duplicates: list[dict[str, Any]] | None = None
) -> tuple[Any, dict[str, int]]:
    """The document's value and ``{path: line}`` (1-based; ``""`` is the document).

    ``duplicates``: where to collect duplicate keys (each named with its line; the first
    of each is kept) instead of refusing them, so the caller can report them with every
    other problem of the file at once.

    Raises:
        InvalidBaselines: not YAML, more than one document, or (without ``duplicates``) a
            duplicate key.
    """
    import yaml

    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise too_big(size, name)
    try:
        # The reader refuses control characters as the loader is made: inside the try.
        loader = _loader_class()(text)
    except yaml.YAMLError as error:
        raise InvalidBaselines(
            f"The {name} is not valid YAML",
            problems=[{"path": name, "line": _line(error, text), "message": _reason(error)}],
        ) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        # Where the construct opens (an unclosed quote: its first line), else where it broke.
        mark = error.context_mark or error.problem_mark
        raise InvalidBaselines(
            f"The {name} is not valid YAML",
            problems=[
                {
                    "path": name,
                    "line": mark.line + 1 if mark else None,
                    "message": f"{error.problem or error}"
                    + (f" ({error.context})" if error.context else ""),
                }
            ],
        ) from None
    except (yaml.YAMLError, RecursionError) as error:
        raise InvalidBaselines(
            f"The {name} is not valid YAML",
            problems=[{"path": name, "line": None, "message": str(error) or type(error).__name__}],
        ) from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    found: list[dict[str, Any]] = []
    if node is None:
        return None, lines
    try:
        value = _build(loader, node, "", lines, found)
    except (yaml.YAMLError, ValueError) as error:
        # A tag no safe loader constructs (!!python/..., !Ref), an integer past Python's
        # digit limit: the value cannot be built, so the file is refused where it stands.
        raise InvalidBaselines(
            f"The {name} holds a value that cannot be read",
            problems=[{"path": name, "line": _line(error), "message": _reason(error)}],
        ) from None
    if duplicates is not None:
        duplicates.extend(found)
    elif found:
        raise InvalidBaselines(f"The {name} has {len(found)} duplicate key(s)", problems=found)
    return value, lines


def _line(error: BaseException, text: str = "") -> int | None:
    """The 1-based line a YAML error names (a reader's error: its character's line)."""
    mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(error, "position", None)
    return text.count("\n", 0, position) + 1 if isinstance(position, int) else None


def _reason(error: BaseException) -> str:
    problem = getattr(error, "problem", None)
    if problem:
        context = getattr(error, "context", None)
        return f"{problem}" + (f" ({context})" if context else "")
    reason = getattr(error, "reason", None)
    if reason:  # a ReaderError: an unacceptable character
        return f"{reason}: special characters are not allowed"
    return str(error).splitlines()[0][:300] or type(error).__name__


def _build(
    loader: Any, node: Any, path: str, lines: dict[str, int], duplicates: list[dict[str, Any]]
) -> Any:
    import yaml

    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # merge keys (<<) as PyYAML resolves them
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _build(loader, key_node, path, {}, duplicates)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                key = str(key)
            child = join(path, key)
            if key in result:
                duplicates.append(
                    {
                        "path": child,
                        "line": key_node.start_mark.line + 1,
                        "message": f"duplicate key (first at line {lines.get(child)}); keep one",
                    }
                )
                continue
            lines[child] = key_node.start_mark.line + 1
            result[key] = _build(loader, value_node, child, lines, duplicates)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, join(path, index), lines, duplicates)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)
