"""How many account baselines run at once: a counting semaphore in the coordination table.

Role: one item (pk :data:`SLOTS_PK`, sk :data:`SLOTS_SK`) whose ``holders`` map names the
account baseline executions that hold a slot (execution name -> epoch seconds when
taken). Taking a slot is one conditional ``UpdateItem`` -- the map has room, or already
names the execution (a second delivery of the same event takes nothing more) -- so two
starters racing for the last slot cannot both win. The account baseline machine gives its
slot back in its last states (a conditional ``REMOVE``, ``statemachines/
account_baseline.asl.json``).

An execution can end without giving its slot back (aborted, timed out, a release that
failed) and a starter can die between taking a slot and starting the execution: when the
slots are full, :meth:`Slots.reclaim` removes every holder older than
:data:`RECLAIM_AFTER_SECONDS` whose execution is not running. This is the shape of AWS's
sample "Controlling concurrency in distributed systems using AWS Step Functions" (a
counter acquired under a DynamoDB condition, released by the workflow, cleaned up when an
execution ends otherwise).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from chalicelib.errors import CoordinationUnavailable

SLOTS_PK = "account-baselines#running"
SLOTS_SK = "slots"
#: A holder younger than this is never reclaimed: its starter may still be between taking
#: the slot and StartExecution, or Step Functions may not list the execution yet.
RECLAIM_AFTER_SECONDS = 120.0
#: At most one reclaim (one DescribeExecution per old holder) a minute, whoever asks: every
#: waiting event finds the slots full, and DescribeExecution's quota is the account's.
RECLAIM_EVERY_SECONDS = 60.0


class Slots:
    """The account baselines' slots (``limit`` of them) in table ``table``."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        limit: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1:
            raise ValueError(f"the number of account baselines at once must be 1 or more: {limit}")
        self._dynamodb = dynamodb
        self._table = table
        self.limit = limit
        self._clock = clock

    @property
    def _key(self) -> dict[str, Any]:
        return {"pk": {"S": SLOTS_PK}, "sk": {"S": SLOTS_SK}}

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._dynamodb, method)(TableName=self._table, **kwargs)
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            raise
        except Exception as error:
            raise CoordinationUnavailable(
                f"the account baselines' slots could not be used ({type(error).__name__})",
                table=self._table,
            ) from None

    def take(self, name: str) -> bool:
        """Take a slot for execution ``name``; False when every slot is held by others.

        Raises:
            CoordinationUnavailable: the table could not be used.
        """
        if self._try_take(name):
            return True
        holders = self.holders()
        if holders is None:
            self._create()
            return self._try_take(name)
        if len(holders) >= self.limit:
            return False
        return self._try_take(name)  # a slot was given back since the first try

    def _try_take(self, name: str) -> bool:
        try:
            self._call(
                "update_item",
                Key=self._key,
                UpdateExpression="SET holders.#name = if_not_exists(holders.#name, :now)",
                # The map names the execution already (it holds a slot), or has room (and
                # exists: before the first take there is no item, and the SET would fail).
                ConditionExpression="attribute_exists(holders.#name) OR "
                "(attribute_exists(holders) AND size(holders) < :limit)",
                ExpressionAttributeNames={"#name": name},
                ExpressionAttributeValues={
                    ":now": {"N": str(int(self._clock()))},
                    ":limit": {"N": str(self.limit)},
                },
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _create(self) -> None:
        # Another starter may have created it first: its map is as good.
        with contextlib.suppress(self._dynamodb.exceptions.ConditionalCheckFailedException):
            self._call(
                "put_item",
                Item={**self._key, "holders": {"M": {}}},
                ConditionExpression="attribute_not_exists(pk)",
            )

    def give_back(self, name: str) -> bool:
        """Give execution ``name``'s slot back; False when it held none.

        Raises:
            CoordinationUnavailable: the table could not be used.
        """
        return self._remove(name, "attribute_exists(holders.#name)", {})

    def _remove(self, name: str, condition: str, values: dict[str, Any]) -> bool:
        try:
            self._call(
                "update_item",
                Key=self._key,
                UpdateExpression="REMOVE holders.#name",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#name": name},
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def newest_hold(self) -> float | None:
        """When the most recent slot was taken (None: no slot is held)."""
        held = self.holders() or {}
        return max(held.values()) if held else None

    def holders(self) -> dict[str, float] | None:
        """The executions holding a slot (name -> when taken); None before the first take.

        Raises:
            CoordinationUnavailable: the table could not be read.
        """
        item = self._call("get_item", Key=self._key, ConsistentRead=True).get("Item")
        if item is None:
            return None
        held = item.get("holders", {}).get("M", {})
        return {name: float(value.get("N", 0)) for name, value in held.items()}

    def _reclaim_turn(self, now: float) -> bool:
        """Whether this caller may reclaim now (the last reclaim was a minute ago or more)."""
        try:
            self._call(
                "update_item",
                Key=self._key,
                UpdateExpression="SET reclaimed_at = :now",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(reclaimed_at) OR reclaimed_at < :before)",
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now))},
                    ":before": {"N": str(int(now - RECLAIM_EVERY_SECONDS))},
                },
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def reclaim(self, running: Callable[[str], bool]) -> list[str]:
        """Remove the holders older than :data:`RECLAIM_AFTER_SECONDS` whose execution is
        not running (``running(name)``; an answer it cannot get counts as running); the
        names removed. Only one caller a minute looks (:data:`RECLAIM_EVERY_SECONDS`).

        Raises:
            CoordinationUnavailable: the table could not be used.
        """
        now = self._clock()
        if not self._reclaim_turn(now):
            return []
        removed = []
        for name, taken in sorted((self.holders() or {}).items(), key=lambda item: item[1]):
            if now - taken < RECLAIM_AFTER_SECONDS or running(name):
                continue
            # Only the hold that was judged: a new take of the same name is left alone.
            if self._remove(name, "holders.#name = :taken", {":taken": {"N": str(int(taken))}}):
                removed.append(name)
        return removed
