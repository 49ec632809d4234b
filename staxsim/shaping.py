"""Response shaping derived from the document: undefined properties and nullable fields.

For the response schema of an operation, :class:`ResponseShaper` compiles (once) a
tree of what each object may carry - following ``$ref`` and ``allOf`` - and uses it to

* :meth:`~ResponseShaper.prune`: drop every property the document does not define for
  that object (strict mode: the simulator invents nothing). Objects whose schema
  allows other properties explicitly (``additionalProperties`` a schema or true, like
  ``Tags`` and ``Parameter``) and ``oneOf``/``anyOf`` alternatives are left alone;
* :meth:`~ResponseShaper.null_out`: serve as null every present field the document
  marks ``nullable: true`` (the ``null_share`` of ``staxsim.realism``).

One exception is made to nulling: a field whose description gives null a *meaning*
("Null when there are no more pages to fetch", ``Pagination.NextOffset`` and
``PrevOffset``) is never nulled - a null there would not be a less helpful answer but a
false one (it would end a client's paging early).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from typing import Any

from staxsim.document import StaxDocument


@dataclass
class Node:
    """What one schema allows: its properties (each with a nullable flag) and items."""

    properties: dict[str, tuple[Node, bool]] = field(default_factory=dict)
    #: Extra properties may be dropped (the schema lists properties, allows no others).
    closed: bool = False
    items: Node | None = None
    #: ``oneOf``/``anyOf``: which alternative applies is not known; leave it alone.
    opaque: bool = False


def _null_has_meaning(*schemas: dict[str, Any]) -> bool:
    return any("null when" in str(s.get("description", "")).lower() for s in schemas)


class ResponseShaper:
    """Prunes and nulls response bodies following the document's response schemas."""

    def __init__(self, document: StaxDocument) -> None:
        self._components = document.document["components"]["schemas"]
        self._document = document
        self._compiled: dict[int, Node] = {}

    # -- compiling --------------------------------------------------------------------
    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 32:
            schema = self._components[schema["$ref"].rsplit("/", 1)[-1]]
            seen += 1
        return schema

    def _is_nullable(self, schema: dict[str, Any]) -> bool:
        """``nullable: true`` that a null really passes (every ``allOf`` part agrees)."""
        resolved = self._resolve(schema)
        if resolved.get("nullable") is not True:
            return False
        parts = resolved.get("allOf", [])
        return all(self._is_nullable(p) for p in parts)

    def _node(self, schema: dict[str, Any]) -> Node:
        resolved = self._resolve(schema)
        key = id(resolved)
        if key in self._compiled:
            return self._compiled[key]
        node = Node()
        self._compiled[key] = node  # before descending: recursive schemas terminate
        parts = [resolved, *(self._resolve(p) for p in resolved.get("allOf", []))]
        if any("oneOf" in p or "anyOf" in p for p in parts) and not any(
            "properties" in p for p in parts
        ):
            node.opaque = True
            return node
        open_extras = False
        for part in parts:
            extra = part.get("additionalProperties")
            if extra is True or isinstance(extra, dict):
                open_extras = True
            for name, prop in part.get("properties", {}).items():
                nullable = self._is_nullable(prop) and not _null_has_meaning(
                    prop, self._resolve(prop)
                )
                node.properties[name] = (self._node(prop), nullable)
            if "items" in part:
                node.items = self._node(part["items"])
        node.closed = bool(node.properties) and not open_extras
        return node

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one shaper per document
    def node_for(self, ref: str) -> Node:
        """The compiled tree of ``#/components/schemas/<name>``."""
        return self._node({"$ref": ref})

    def response_node(self, template: str, method: str, status: int) -> Node | None:
        """The tree of the response schema an operation declares for ``status``."""
        ref = self._document.response_schema_ref(template, method, status)
        return self.node_for(ref) if ref else None

    # -- shaping --------------------------------------------------------------------------
    def prune(self, body: Any, node: Node) -> Any:
        """A copy of ``body`` without the properties ``node`` does not define."""
        if node.opaque:
            return copy.deepcopy(body)
        if isinstance(body, dict):
            out: dict[str, Any] = {}
            for key, value in body.items():
                if key in node.properties:
                    out[key] = self.prune(value, node.properties[key][0])
                elif not node.closed:
                    out[key] = copy.deepcopy(value)
            return out
        if isinstance(body, list) and node.items is not None:
            return [self.prune(item, node.items) for item in body]
        return copy.deepcopy(body)

    def null_out(self, body: Any, node: Node) -> Any:
        """A copy of ``body`` with every present nullable field set to null."""
        if node.opaque:
            return copy.deepcopy(body)
        if isinstance(body, dict):
            out: dict[str, Any] = {}
            for key, value in body.items():
                child = node.properties.get(key)
                if child is None:
                    out[key] = copy.deepcopy(value)
                elif child[1]:
                    out[key] = None
                else:
                    out[key] = self.null_out(value, child[0])
            return out
        if isinstance(body, list) and node.items is not None:
            return [self.null_out(item, node.items) for item in body]
        return copy.deepcopy(body)

    def nullable_paths(self, node: Node, prefix: str = "", depth: int = 0) -> list[str]:
        """The nullable fields under ``node`` (``Workloads[].Tags``...), for tests/docs."""
        found: list[str] = []
        if depth > 10 or node.opaque:
            return found
        for name, (child, nullable) in sorted(node.properties.items()):
            path = f"{prefix}.{name}" if prefix else name
            if nullable:
                found.append(path)
            else:
                found.extend(self.nullable_paths(child, path, depth + 1))
        if node.items is not None:
            found.extend(self.nullable_paths(node.items, f"{prefix}[]", depth + 1))
        return found
