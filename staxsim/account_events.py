"""Stax account events: what the simulator sends to an EventBridge bus when an account
is created or changes (moved to another account type, renamed, re-tagged...).

Role: the simulator's side of "a new account gets its baselines". Stax publishes account
management events on an EventBridge partner event bus (source ``aws.partner/stax.io/...``),
detail-type ``AccountManagement: AccountCreateEvent`` / ``AccountUpdateEvent``, detail in
camelCase: ``accountId`` (Stax id), ``accountName``, ``accountType``, ``awsAccountId``,
``status`` (``SUCCESS`` / ``FAILED``), ``staxEventName``, ``staxEventSource:
stax.account``. Only those documented fields are sent (a consumer must not depend on more),
and ``accountType`` carries the type's *name*, as the account record does: a consumer
resolves it, it cannot assume an id.

:func:`account_events` (pure) compares the accounts before and after a seed;
:class:`EventBusPublisher` sends the entries with ``PutEvents`` to the configured bus
(MiniStack locally, configured through ``PUT /_sim/events``). A bus that cannot be
reached never fails the seed: the failure is counted (``GET /_sim/events``), as a lost delivery
would be in reality.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CREATE = "AccountManagement: AccountCreateEvent"
UPDATE = "AccountManagement: AccountUpdateEvent"
DEFAULT_SOURCE = "aws.partner/stax.io/simulator/stax-events"
_MAX_ENTRIES_PER_CALL = 10  # PutEvents takes at most 10 entries


def _detail(account: Mapping[str, Any], name: str) -> dict[str, Any]:
    return {
        "accountId": account["Id"],
        "accountName": account.get("Name"),
        "accountType": account.get("AccountType"),
        "awsAccountId": account.get("AwsAccountId"),
        "status": "SUCCESS",
        "staxEventName": name,
        "staxEventSource": "stax.account",
    }


#: What a seed writes again whatever it changes: not a change of the account.
_STAMPS = ("CreatedTS", "ModifiedTS")


def _fields(account: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in account.items() if k not in _STAMPS}


def account_events(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """``(detail-type, detail)`` for each account new in ``after``, and an update for each
    account that changed in any way (name, type, status, tags...): real Stax sends
    ``AccountUpdateEvent`` on any change to an account, not only a type change, so a
    consumer must expect updates that change nothing it depends on."""
    events: list[tuple[str, dict[str, Any]]] = []
    for account_id in sorted(after):
        account = after[account_id]
        old = before.get(account_id)
        if old is None:
            events.append((CREATE, _detail(account, "AccountCreateEvent")))
        elif _fields(old) != _fields(account):
            events.append((UPDATE, _detail(account, "AccountUpdateEvent")))
    return events


@dataclass(frozen=True)
class BusConfig:
    """Where account events go: the bus, the EventBridge endpoint and region."""

    bus_name: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    source: str = DEFAULT_SOURCE

    def as_dict(self) -> dict[str, Any]:
        return {"bus_name": self.bus_name, "endpoint_url": self.endpoint_url,
                "region": self.region, "source": self.source}  # fmt: skip


class EventBusPublisher:
    """Sends account events with PutEvents; counts what was sent and what was lost."""

    def __init__(self, client_factory: Any = None) -> None:
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self.config: BusConfig | None = None
        self.sent = 0
        self.failed = 0
        self._client: Any = None

    def configure(self, config: BusConfig | None) -> None:
        with self._lock:
            self.config = config
            self._client = None

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"config": self.config.as_dict() if self.config else None,
                    "sent": self.sent, "failed": self.failed}  # fmt: skip

    def _events_client(self, config: BusConfig) -> Any:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory(config)
            else:
                import boto3

                # MiniStack accepts any credentials; real AWS would need the caller's own.
                self._client = boto3.client(
                    "events", region_name=config.region, endpoint_url=config.endpoint_url,
                    aws_access_key_id="test", aws_secret_access_key="test",  # noqa: S106
                )  # fmt: skip
        return self._client

    def publish(self, events: list[tuple[str, dict[str, Any]]]) -> int:
        """Send ``events`` (nothing when no bus is configured); how many were accepted."""
        with self._lock:
            config = self.config
            if config is None or not events:
                return 0
            client = self._events_client(config)
        accepted = 0
        for start in range(0, len(events), _MAX_ENTRIES_PER_CALL):
            chunk = events[start : start + _MAX_ENTRIES_PER_CALL]
            entries = [
                {"Source": config.source, "DetailType": kind, "Detail": json.dumps(detail),
                 "EventBusName": config.bus_name}
                for kind, detail in chunk
            ]  # fmt: skip
            try:
                response = client.put_events(Entries=entries)
                lost = int(response.get("FailedEntryCount") or 0)
            except Exception:  # a bus down must not fail the seed
                lost = len(entries)
            accepted += len(entries) - lost
            with self._lock:
                self.sent += len(entries) - lost
                self.failed += lost
        return accepted
