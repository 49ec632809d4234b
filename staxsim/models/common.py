"""Values shared by the simulator's models: ids, timestamps, operation names.

Nothing here holds state except :class:`Sequence`, the insertion counter that keeps
the order of records created in the same clock tick stable.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

WORKLOAD_OPERATIONS = ("create", "update", "delete")
CATALOGUE_OPERATIONS = ("catalogue-create", "catalogue-version")

#: Stax operation names (the document's ``Operation`` enum) per simulator operation.
STAX_OPERATIONS = {
    "create": "workloads:CreateWorkload",
    "update": "workloads:UpdateWorkload",
    "delete": "workloads:DeleteWorkload",
    "catalogue-create": "workloads:CreateCatalogueItem",
    "catalogue-version": "workloads:CreateCatalogueVersion",
}

DEFAULT_ORG_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "staxsim:organisation"))
DEFAULT_CUSTOMER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "staxsim:customer"))
#: ``CreatedBy`` of everything made through the API (the API token's user).
API_USER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "staxsim:api-token-user"))

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def iso(ts: float) -> str:
    """Epoch seconds -> ``2018-10-11T01:05:45.000Z`` (the document's timestamp form)."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def is_uuid(value: Any) -> bool:
    """Whether ``value`` is a UUID string in the document's ``uuidv4`` pattern."""
    return isinstance(value, str) and bool(_UUID.match(value))


def new_trace_id(ts: float) -> str:
    """An X-Ray style trace id, as Stax events carry."""
    return f"Root=1-{int(ts):08x}-{uuid.uuid4().hex[:24]}"


class Sequence:
    """Monotonic insertion counter (ties in ``CreatedTS`` sort by it)."""

    def __init__(self) -> None:
        self._value = 0

    def next(self) -> int:
        """The next number (callers hold the backend's lock)."""
        self._value += 1
        return self._value
