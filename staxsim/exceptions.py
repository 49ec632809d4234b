"""Errors the simulated Stax answers with (the role of moto's ``exceptions.py``).

A backend raises one of these; the API handlers (``staxsim.responses``) turn it into
the error body the document declares for that operation and status, and the control
API (``staxsim.control_api``) into ``400 {"error": ...}``. Messages start with the
field or parameter they are about (``AccountId: ...``), so a client can tell which
part of its request was refused.
"""

from __future__ import annotations


class SimError(Exception):
    """A request the simulated Stax refuses; ``status`` is the HTTP status."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(SimError):
    """400: the request names something invalid (message starts with the field)."""

    status = 400


class Forbidden(SimError):
    """403 from the operation itself (e.g. deleting a protected workload)."""

    status = 403


class NotFound(SimError):
    """404: an unknown id (or one the caller may not see yet, see ``realism``)."""

    status = 404


class NotConfigured(SimError):
    """503: the ApiAuth config has not been set through the control API."""

    status = 503
