"""Reading a baselines YAML file into plain data plus the line of every path in it.

Role: the parser half of the file model. PyYAML composes the document into nodes that
carry their marks; this module builds the Python value from those nodes itself (so it
can record ``path -> line`` for every key and item, and refuse duplicate keys, which
PyYAML would silently collapse to the last one) and uses PyYAML's safe constructor only
for scalars. Paths are the ones problems are reported with: ``baselines.logging.regions[1]``.
"""

from __future__ import annotations

from typing import Any

from chalicelib.baselines.errors import InvalidBaselines
from chalicelib.validation.problems import segment

#: The biggest file read (a baselines file is a few KB; this keeps a mistake cheap).
MAX_FILE_BYTES = 1024 * 1024


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


def load_yaml(text: str, name: str = "baselines file") -> tuple[Any, dict[str, int]]:
    """The document's value and ``{path: line}`` (1-based; ``""`` is the document).

    Raises:
        InvalidBaselines: not YAML, more than one document, or a duplicate key (each
            duplicate named with its line).
    """
    import yaml

    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise InvalidBaselines(
            f"The {name} is bigger than {MAX_FILE_BYTES // 1024} KiB",
            problems=[{"path": "_file", "line": None, "message": "split it into smaller files"}],
        )
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise InvalidBaselines(
            f"The {name} is not valid YAML",
            problems=[
                {
                    "path": "_file",
                    "line": mark.line + 1 if mark else None,
                    "message": f"{error.problem or error}"
                    + (f" ({error.context})" if error.context else ""),
                }
            ],
        ) from None
    except yaml.YAMLError as error:
        raise InvalidBaselines(
            f"The {name} is not valid YAML",
            problems=[{"path": "_file", "line": None, "message": str(error)}],
        ) from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    duplicates: list[dict[str, Any]] = []
    if node is None:
        return None, lines
    value = _build(loader, node, "", lines, duplicates)
    if duplicates:
        raise InvalidBaselines(
            f"The {name} has {len(duplicates)} duplicate key(s)", problems=duplicates
        )
    return value, lines


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
