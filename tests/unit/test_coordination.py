"""The coordination store on moto's DynamoDB: one owner per record, whatever the race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.coordination import CLAIMED, CREATED, POSTING, CoordinationStore
from chalicelib.errors import CoordinationUnavailable
from stax_orchestrator.deploy import Target, table_definition
from tests.unit.support import REGION

TARGET = Target("unit", REGION, "123456789012")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def store(clock: Clock, aws: Any) -> CoordinationStore:
    client = aws.client("dynamodb")
    client.create_table(**table_definition(TARGET.table_name))
    return CoordinationStore(lambda: client, TARGET.table_name, clock=clock)


def test_only_one_of_many_concurrent_claims_of_a_name_wins(store: CoordinationStore) -> None:
    def claim(owner: str) -> Any:
        return store.create("name", "vpc-a", owner, CLAIMED, 60, workload_name="vpc-a")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(claim, [f"execution-{i}" for i in range(8)]))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    stored = store.get("name", "vpc-a")
    assert stored is not None and stored.owner == winners[0].owner


def test_a_record_changes_hands_only_from_the_version_that_was_read(
    store: CoordinationStore,
) -> None:
    first = store.create("name", "vpc-b", "one", CLAIMED, 60)
    assert first is not None
    taken = store.take_over(first, "two", CLAIMED, 60)
    assert taken is not None and taken.owner == "two" and taken.version == first.version + 1
    # A third execution that read the old version loses: the record moved on.
    assert store.take_over(first, "three", CLAIMED, 60) is None
    assert store.get("name", "vpc-b").owner == "two"  # type: ignore[union-attr]


def test_only_the_owner_can_change_or_release_a_record(
    store: CoordinationStore, clock: Clock
) -> None:
    record = store.create("workload", "w-1", "owner", CLAIMED, 60, operation="update")
    assert record is not None
    impostor = record.__class__(**{**record.__dict__, "owner": "someone-else"})
    assert store.update(impostor, state=POSTING) is None
    assert store.release("workload", "w-1", "someone-else") is False
    clock.now += 5
    updated = store.update(record, state=POSTING, attempt_at=clock.now, attempts=1)
    assert updated is not None
    assert updated.in_doubt and updated.attempt_at == clock.now and updated.attempts == 1
    done = store.update(updated, state=CREATED, workload_id="abc", attempt_at=None)
    assert done is not None and done.workload_id == "abc" and done.attempt_at is None
    assert not done.in_doubt
    assert store.release("workload", "w-1", "owner") is True
    assert store.get("workload", "w-1") is None


def test_a_lease_runs_out_on_the_store_clock(store: CoordinationStore, clock: Clock) -> None:
    record = store.create("name", "vpc-c", "one", CLAIMED, 30)
    assert record is not None and not record.lease_expired(clock.now)
    clock.now += 30
    assert record.lease_expired(clock.now)


def test_fleet_results_page_back_in_target_order(store: CoordinationStore) -> None:
    for index in (3, 0, 2, 1):
        store.put_item("fleet#x", f"target#{index:06d}", {"index": index, "status": "SUCCEEDED"})
    rows = list(store.query("fleet#x", page_size=2))
    assert [row["index"] for row in rows] == [0, 1, 2, 3]
    assert {row["status"] for row in rows} == {"SUCCEEDED"}


def test_an_unreachable_table_is_a_named_retryable_error(clock: Clock) -> None:
    from botocore.exceptions import EndpointConnectionError

    class Down:
        def get_item(self, **kwargs: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="https://dynamodb.example")

    store = CoordinationStore(Down, "missing-table", clock=clock)
    with pytest.raises(CoordinationUnavailable) as raised:
        store.get("name", "x")
    assert raised.value.details["aws_error"] == "EndpointConnectionError"


def test_many_items_come_back_in_batches_with_the_missing_ones_left_out(
    store: CoordinationStore,
) -> None:
    store.put_items("inventory", [(f"k{n:03}", {"owner": f"exec-{n}"}) for n in range(150)])
    keys = [("inventory", f"k{n:03}") for n in range(0, 200, 2)] + [("inventory", "k000")]
    found = store.get_items(keys)
    assert sorted(found) == [("inventory", f"k{n:03}") for n in range(0, 150, 2)]
    assert found[("inventory", "k010")]["owner"] == "exec-10"
