"""The request and response values passed between the transport and the handlers.

``staxsim.server`` parses HTTP into a :class:`Request` and writes a :class:`Response`
back; the API handlers (``staxsim.responses``) and the control API
(``staxsim.control_api``) only ever see these, never a socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client: str = ""
    raw_query: str = ""


@dataclass
class Response:
    """What to send back; ``drop`` closes the connection without any response."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    fault: str | None = None

    def encoded(self) -> bytes:
        """The JSON body as bytes."""
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")
