"""The orchestrator's own memory: one DynamoDB table per stage (the coordination store).

Role: conditional records that make a workload name, or a workload id, owned by one
execution at a time, and that remember every write whose outcome is in doubt, so that a
retry never re-sends a write that may still land. Stax stays the truth about workloads;
this table only says who is allowed to write, and what they already sent.

Records (partition key ``pk``, sort key ``sk``):

- **Name claim** ``name#<workload name>`` / ``claim``: the execution creating a workload
  of that name (``owner``), the state of its create (``CLAIMED`` → ``POSTING`` →
  ``CREATED``), the workload and task once known, and when its last POST was sent
  (``attempt_at``) and until when that POST may still land (``settle_until``). A
  ``CREATED`` claim stays after the operation: it names the workload that holds the name
  until Stax reports it ``DELETED``.
- **Workload lock** ``workload#<workload id>`` / ``lock``: the execution updating or
  deleting that workload (``owner``, ``operation``), its state (``LOCKED`` → ``SENDING`` →
  ``SENT``), the Stax task it started, and the same in-doubt bookkeeping.

Every change is a conditional write on ``owner`` (or on ``version`` when a record changes
hands), so two executions can never both believe they own a record. Nothing here sleeps
or talks to Stax: the use cases in ``chalicelib.operations`` decide, this module records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import CoordinationUnavailable

#: Name-claim states.
CLAIMED, POSTING, CREATED = "CLAIMED", "POSTING", "CREATED"
#: Workload-lock states.
LOCKED, SENDING, SENT = "LOCKED", "SENDING", "SENT"
_IN_DOUBT = frozenset({POSTING, SENDING})

#: Attributes stored as numbers (everything else is a string).
_NUMBERS = frozenset({"version", "attempts", "attempt_at", "settle_until", "lease_until", "since"})


@dataclass(frozen=True)
class Record:
    """One claim or lock as read from the table."""

    kind: str
    key: str
    owner: str
    state: str
    version: int
    since: float
    lease_until: float
    attempts: int = 0
    attempt_at: float | None = None
    settle_until: float | None = None
    operation: str | None = None
    workload_id: str | None = None
    task_id: str | None = None
    workload_name: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def in_doubt(self) -> bool:
        """A write was sent and its outcome is not known."""
        return self.state in _IN_DOUBT

    def lease_expired(self, now: float) -> bool:
        return now >= self.lease_until


def _encode(item: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    encoded: dict[str, dict[str, str]] = {}
    for name, value in item.items():
        if value is None:
            continue
        if name in _NUMBERS:
            encoded[name] = {"N": repr(float(value)) if isinstance(value, float) else str(value)}
        else:
            encoded[name] = {"S": str(value)}
    return encoded


def _decode(item: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for name, typed in item.items():
        if "N" in typed:
            number = float(typed["N"])
            decoded[name] = int(number) if name in ("version", "attempts") else number
        elif "S" in typed:
            decoded[name] = typed["S"]
    return decoded


_FIELDS = (
    "owner",
    "state",
    "version",
    "since",
    "lease_until",
    "attempts",
    "attempt_at",
    "settle_until",
    "operation",
    "workload_id",
    "task_id",
    "workload_name",
)


def _record(kind: str, key: str, item: Mapping[str, Mapping[str, str]]) -> Record:
    values = _decode(item)
    extra = {k: str(v) for k, v in values.items() if k not in (*_FIELDS, "pk", "sk", "expires_at")}
    return Record(
        kind=kind,
        key=key,
        owner=str(values.get("owner", "")),
        state=str(values.get("state", "")),
        version=int(values.get("version", 0)),
        since=float(values.get("since", 0.0)),
        lease_until=float(values.get("lease_until", 0.0)),
        attempts=int(values.get("attempts", 0)),
        attempt_at=values.get("attempt_at"),
        settle_until=values.get("settle_until"),
        operation=values.get("operation"),
        workload_id=values.get("workload_id"),
        task_id=values.get("task_id"),
        workload_name=values.get("workload_name"),
        extra=extra,
    )


class CoordinationStore:
    """Claims and locks in the stage's DynamoDB table (strongly consistent reads).

    Every method raises :class:`CoordinationUnavailable` (retried by the state machines)
    when DynamoDB cannot be reached or throttles; a lost condition is never an error
    here: it is returned as ``None`` / ``False`` for the caller to decide.
    """

    def __init__(
        self,
        client_factory: Callable[[], Any],
        table_name: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_factory = client_factory
        self.table_name = table_name
        self.clock = clock

    # -- plumbing ------------------------------------------------------------------
    def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client_factory()
        try:
            return getattr(client, method)(TableName=self.table_name, **kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise _LostCondition from None
            raise CoordinationUnavailable(
                "The coordination store (DynamoDB) refused the call",
                table=self.table_name,
                aws_error=code or type(error).__name__,
            ) from None
        except BotoCoreError as error:
            raise CoordinationUnavailable(
                "The coordination store (DynamoDB) could not be reached",
                table=self.table_name,
                aws_error=type(error).__name__,
            ) from None

    @staticmethod
    def _key(kind: str, key: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": f"{kind}#{key}"}, "sk": {"S": _SORT_KEYS[kind]}}

    def _put(
        self, kind: str, key: str, values: Mapping[str, Any], condition: str, **names: Any
    ) -> Record | None:
        """Write the record if ``condition`` holds; the record as written, or None."""
        item = {**self._key(kind, key), **_encode(values)}
        try:
            self._call("put_item", Item=item, ConditionExpression=condition, **names)
        except _LostCondition:
            return None
        return _record(kind, key, item)

    def get(self, kind: str, key: str) -> Record | None:
        """The record, or None (a strongly consistent read)."""
        response = self._call("get_item", Key=self._key(kind, key), ConsistentRead=True)
        item = response.get("Item")
        return _record(kind, key, item) if item else None

    # -- taking a record -----------------------------------------------------------
    def create(
        self, kind: str, key: str, owner: str, state: str, lease_seconds: float, **attrs: Any
    ) -> Record | None:
        """Write a new record owned by ``owner``; None when one exists already."""
        now = self.clock()
        values = {
            "owner": owner,
            "state": state,
            "version": 1,
            "since": now,
            "lease_until": now + lease_seconds,
            "attempts": 0,
            **attrs,
        }
        return self._put(kind, key, values, "attribute_not_exists(pk)")

    def take_over(
        self, record: Record, owner: str, state: str, lease_seconds: float, **attrs: Any
    ) -> Record | None:
        """Replace ``record`` (read before) by one owned by ``owner``; None if it changed since."""
        now = self.clock()
        values = {
            "owner": owner,
            "state": state,
            "version": record.version + 1,
            "since": now,
            "lease_until": now + lease_seconds,
            "attempts": 0,
            **attrs,
        }
        return self._put(
            record.kind,
            record.key,
            values,
            "#v = :v",
            ExpressionAttributeNames={"#v": "version"},
            ExpressionAttributeValues={":v": {"N": str(record.version)}},
        )

    # -- changing one's own record -------------------------------------------------
    def update(self, record: Record, **changes: Any) -> Record | None:
        """Set ``changes`` on a record its owner holds; None if it is no longer theirs.

        A value of None removes the attribute.
        """
        sets, removes = [], []
        names: dict[str, str] = {"#owner": "owner", "#version": "version"}
        values: dict[str, Any] = {
            ":owner": {"S": record.owner},
            ":one": {"N": "1"},
        }
        for index, (name, value) in enumerate(sorted(changes.items())):
            names[f"#a{index}"] = name
            if value is None:
                removes.append(f"#a{index}")
            else:
                values[f":a{index}"] = _encode({name: value})[name]
                sets.append(f"#a{index} = :a{index}")
        expression = "SET " + ", ".join([*sets, "#version = #version + :one"])
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        try:
            response = self._call(
                "update_item",
                Key=self._key(record.kind, record.key),
                UpdateExpression=expression,
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except _LostCondition:
            return None
        return _record(record.kind, record.key, response.get("Attributes") or {})

    def release(self, kind: str, key: str, owner: str) -> bool:
        """Delete the record if ``owner`` still holds it; whether it did."""
        try:
            self._call(
                "delete_item",
                Key=self._key(kind, key),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except _LostCondition:
            return False
        return True

    # -- items beside the claims (fleet results) -----------------------------------
    def put_item(self, pk: str, sk: str, values: Mapping[str, Any]) -> None:
        """An unconditional write of a plain item (strings, numbers and JSON text)."""
        self._call("put_item", Item={"pk": {"S": pk}, "sk": {"S": sk}, **_plain(values)})

    def get_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        """A plain item (a strongly consistent read), or None.

        Raises:
            CoordinationUnavailable: DynamoDB refused the read.
        """
        item = self._call("get_item", Key={"pk": {"S": pk}, "sk": {"S": sk}},
                          ConsistentRead=True).get("Item")  # fmt: skip
        return {k: _plain_value(v) for k, v in item.items()} if item else None

    def get_items(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Plain items by ``(pk, sk)``, 100 a call (BatchGetItem), asking again for what
        DynamoDB left unprocessed; a key without an item is left out.

        Raises:
            CoordinationUnavailable: DynamoDB refused the read or kept leaving keys out.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        found: dict[tuple[str, str], dict[str, Any]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 100):
            wanted = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in unique[start : start + 100]]
            for attempt in range(8):
                try:
                    response = self._client_factory().batch_get_item(
                        RequestItems={self.table_name: {"Keys": wanted, "ConsistentRead": True}}
                    )
                except (ClientError, BotoCoreError) as error:
                    raise CoordinationUnavailable(
                        "The coordination store (DynamoDB) refused a batch read",
                        table=self.table_name,
                        aws_error=type(error).__name__,
                    ) from None
                for item in (response.get("Responses") or {}).get(self.table_name) or []:
                    plain = {k: _plain_value(v) for k, v in item.items()}
                    found[(str(plain["pk"]), str(plain["sk"]))] = plain
                left = (response.get("UnprocessedKeys") or {}).get(self.table_name) or {}
                wanted = left.get("Keys") or []
                if not wanted:
                    break
                time.sleep(min(0.05 * 2**attempt, 2.0))
            if wanted:
                raise CoordinationUnavailable(
                    "The coordination store kept leaving keys of a batch read unprocessed",
                    table=self.table_name,
                    unprocessed=len(wanted),
                )
        return found

    def put_items(self, pk: str, rows: list[tuple[str, Mapping[str, Any]]]) -> None:
        """Write plain items of one partition in batches of 25 (what DynamoDB takes),
        sending again what DynamoDB left unprocessed (throttling) with a growing pause."""
        for start in range(0, len(rows), 25):
            requests = [
                {"PutRequest": {"Item": {"pk": {"S": pk}, "sk": {"S": sk}, **_plain(values)}}}
                for sk, values in rows[start : start + 25]
            ]
            for attempt in range(8):
                response = self._call_batch(requests)
                requests = (response.get("UnprocessedItems") or {}).get(self.table_name) or []
                if not requests:
                    break
                time.sleep(min(0.05 * 2**attempt, 2.0))
            if requests:
                raise CoordinationUnavailable(
                    "The coordination store kept refusing a batch write",
                    table=self.table_name,
                    unprocessed=len(requests),
                )

    def _call_batch(self, requests: list[dict[str, Any]]) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._client_factory().batch_write_item(RequestItems={self.table_name: requests})
        except (ClientError, BotoCoreError) as error:
            raise CoordinationUnavailable(
                "The coordination store (DynamoDB) refused a batch write",
                table=self.table_name,
                aws_error=type(error).__name__,
            ) from None

    def query(
        self, pk: str, sort_prefix: str | None = None, page_size: int = 500
    ) -> Iterator[dict[str, Any]]:
        """Every item of a partition (whose sort key starts with ``sort_prefix``), in
        sort-key order, all pages."""
        condition, values = "pk = :pk", {":pk": {"S": pk}}
        if sort_prefix:
            condition += " AND begins_with(sk, :prefix)"
            values[":prefix"] = {"S": sort_prefix}
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
            "Limit": page_size,
        }
        while True:
            page = self._call("query", **kwargs)
            for item in page.get("Items", []):
                yield {k: _plain_value(v) for k, v in item.items()}
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last


_SORT_KEYS = {"name": "claim", "workload": "lock"}
#: Beside a workload's lock: the last execution whose update or delete Stax accepted
#: (the lock itself is released when its task ends).
WRITTEN_SORT_KEY = "written"


class _LostCondition(Exception):
    """A conditional write found the record in another state."""


def _plain(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = {"BOOL": value}
        elif isinstance(value, (int, float)):
            out[name] = {"N": str(value)}
        else:
            out[name] = {"S": str(value)}
    return out


def _plain_value(typed: Mapping[str, Any]) -> Any:
    if "S" in typed:
        return typed["S"]
    if "N" in typed:
        number = float(typed["N"])
        return int(number) if number.is_integer() and "." not in typed["N"] else number
    if "BOOL" in typed:
        return bool(typed["BOOL"])
    return None
