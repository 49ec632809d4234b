"""What the simulator records about its callers: the request log and connection counts.

Neither is part of the Stax API: the control API exposes them (``/_sim/requests``,
``/_sim/stats``) so tests and benchmarks can see how the orchestrator called Stax -
how many requests, with which faults, over how many TCP/TLS connections.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

REQUEST_LOG_LIMIT = 200_000


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """Largest number of half-open intervals ``[start, end)`` covering one instant."""
    events: list[tuple[float, int]] = []
    for start, end in intervals:
        if end > start:
            events.append((start, 1))
            events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))  # ends (-1) before starts (+1) at a tie
    best = current = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


class RequestLog:
    """The API calls seen, oldest first (bounded; the lock is ``SimState``'s)."""

    def __init__(self, limit: int = REQUEST_LOG_LIMIT) -> None:
        self.entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self.total = 0

    def clear(self) -> None:
        """Forget every entry."""
        self.entries.clear()
        self.total = 0

    def append(self, entry: dict[str, Any]) -> None:
        """Record one API call."""
        self.entries.append(entry)
        self.total += 1

    def copy(self) -> list[dict[str, Any]]:
        """The entries, as independent dicts."""
        return [dict(e) for e in self.entries]

    def stats(self) -> dict[str, Any]:
        """Counts by status and operation, and how many calls had a fault."""
        by_status: dict[str, int] = {}
        by_operation: dict[str, int] = {}
        faults = 0
        for entry in self.entries:
            key = str(entry.get("status"))
            by_status[key] = by_status.get(key, 0) + 1
            op = entry.get("operation") or "unknown"
            by_operation[op] = by_operation.get(op, 0) + 1
            if entry.get("fault"):
                faults += 1
        return {
            "total": self.total,
            "by_status": by_status,
            "by_operation": by_operation,
            "faults": faults,
        }


class ConnectionCounters:
    """TCP connections accepted and TLS handshakes completed (thread-safe).

    Counted per connection, not per request: a client that keeps its connection alive
    adds nothing for its later calls. Control-API connections count too (the server
    cannot tell them apart before the first request).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted = 0
        self.tls_established = 0

    def connection_accepted(self) -> None:
        """A TCP connection was accepted."""
        with self._lock:
            self.accepted += 1

    def tls_handshake_done(self) -> None:
        """A TLS handshake completed."""
        with self._lock:
            self.tls_established += 1

    def clear(self) -> None:
        """Back to zero."""
        with self._lock:
            self.accepted = 0
            self.tls_established = 0

    def as_dict(self) -> dict[str, int]:
        """``{"accepted": N, "tls_established": N}``."""
        with self._lock:
            return {"accepted": self.accepted, "tls_established": self.tls_established}
