"""Query-string helpers of the list operations: filters, paging and sort keys.

The document's list operations share their query parameters: comma-separated filters
(``filter=ACTIVE,DELETED``), ``limit``/``offset`` paging answered with ``Paging``
(``Total``, ``NextOffset``, ``PrevOffset``), and ``sort``/``sort_order``. These helpers
parse and apply them; a malformed value raises :class:`BadRequest` naming the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from staxsim.exceptions import BadRequest

T = TypeVar("T")


def csv(value: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (empty for None or "")."""
    if not value:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def in_csv(filter_value: str | None, value: Any) -> bool:
    """True when there is no filter, or ``value`` is one of its comma-separated items."""
    wanted = csv(filter_value)
    return not wanted or value in wanted


def bool_param(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A boolean query parameter (``true``/``false``/``1``/``0``)."""
    value = query.get(name)
    if value is None:
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise BadRequest(f"{name}: '{value}' is not of type 'boolean'")


def paging_params(query: Mapping[str, str]) -> tuple[int | None, int | None]:
    """``limit`` (>= 1) and ``offset`` (>= 0), each None when absent."""
    values: dict[str, int | None] = {}
    for name in ("limit", "offset"):
        raw = query.get(name)
        if raw is None:
            values[name] = None
            continue
        try:
            number = int(raw)
        except ValueError:
            raise BadRequest(f"{name}: '{raw}' is not of type 'integer'") from None
        if number < 0 or (name == "limit" and number == 0):
            raise BadRequest(f"{name}: {number} is out of range")
        values[name] = number
    return values["limit"], values["offset"]


def paginate(
    items: list[T], limit: int | None, offset: int | None
) -> tuple[list[T], dict[str, Any] | None]:
    """Slice ``items``; ``Paging`` (``Total``, ``NextOffset``, ``PrevOffset``) when asked.

    ``offset`` counts items (the document's example: limit 20 -> NextOffset 20).
    """
    if limit is None and offset is None:
        return items, None
    start = offset or 0
    end = len(items) if limit is None else start + limit
    page = items[start:end]
    next_offset = end if end < len(items) else None
    step = limit if limit is not None else start
    prev_offset = None if start == 0 else max(0, start - step)
    return page, {"Total": len(items), "NextOffset": next_offset, "PrevOffset": prev_offset}


def sort_key(value: Any) -> tuple[int, str]:
    """Sort key of a served field: missing/null values first, then by text."""
    return (0, "") if value is None else (1, str(value))
