"""Queued account events start account baselines no faster than the slots allow, once each.

The starter (``chalicelib.baselines.event_queue``) and its slots run against moto's
DynamoDB, Step Functions and SQS; alerts are collected from the publish call.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.baselines import event_queue
from chalicelib.baselines.event_queue import Starter, start_from_queue
from chalicelib.baselines.slots import RECLAIM_AFTER_SECONDS, SLOTS_PK, SLOTS_SK, Slots
from stax_orchestrator.deploy import Target, table_definition
from tests.unit.support import REGION

TARGET = Target("unit", REGION, "123456789012")
PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
ROLE = "arn:aws:iam::123456789012:role/states"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class World:
    """A table, the account baseline machine and the account events queue, on moto."""

    def __init__(self, aws: Any, limit: int) -> None:
        self.clock = Clock()
        self.dynamodb = aws.client("dynamodb")
        self.dynamodb.create_table(**table_definition(TARGET.table_name))
        self.states = aws.client("stepfunctions")
        self.machine = self.states.create_state_machine(
            name=TARGET.state_machine_name("account_baseline"),
            definition=json.dumps(PASS),
            roleArn=ROLE,
        )["stateMachineArn"]
        self.sqs = aws.client("sqs")
        self.queue = self.sqs.create_queue(QueueName=TARGET.account_events_queue_name)["QueueUrl"]
        self.alerts: list[dict[str, Any]] = []
        self.slots = Slots(self.dynamodb, TARGET.table_name, limit, clock=self.clock)
        self.starter = Starter(
            slots=self.slots,
            states=self.states,
            sqs=self.sqs,
            machine_arn=self.machine,
            publish=lambda **message: self.alerts.append(message),
            topic_arn=TARGET.alert_topic_arn,
            max_receives=5,
            clock=self.clock,
        )

    def record(self, body: Any, receives: int = 1, **attributes: str) -> dict[str, Any]:
        return {
            "messageId": str(uuid.uuid4()),
            "body": body if isinstance(body, str) else json.dumps(body),
            "attributes": {"ApproximateReceiveCount": str(receives),
                           "SentTimestamp": str(int(self.clock.now * 1000))},
            "messageAttributes": {k: {"stringValue": v, "dataType": "Number"}
                                  for k, v in attributes.items()},
            "eventSourceARN": TARGET.account_events_queue_arn,
        }  # fmt: skip

    def deliver(self, *records: dict[str, Any]) -> list[str]:
        """The ids of the messages SQS must deliver again."""
        answer = start_from_queue({"Records": list(records)}, self.starter)
        return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]

    def executions(self, status: str | None = None) -> list[str]:
        found = self.states.list_executions(stateMachineArn=self.machine)["executions"]
        return sorted(e["name"] for e in found if status in (None, e["status"]))

    def end(self, name: str) -> None:
        """The execution ends as the machine does: its slot given back first."""
        self.slots.give_back(name)
        arn = self.machine.replace(":stateMachine:", ":execution:") + f":{name}"
        self.states.stop_execution(executionArn=arn)

    def waiting(self) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=self.queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
            VisibilityTimeout=0,
        ).get("Messages", [])  # fmt: skip


def account_event(number: int) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-0000-0000-{number:012d}",
        "source": "stax.simulator",
        "detail-type": "AccountManagement: AccountCreateEvent",
        "detail": {"accountId": str(uuid.uuid4()), "status": "SUCCESS"},
    }


@pytest.fixture()
def world(aws: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    # A waiting message is sent back with no delay, so the test can read it at once.
    monkeypatch.setattr(event_queue, "delay", lambda waits: 0)
    return World(aws, limit=2)


def test_a_waiting_message_comes_back_within_seconds_and_never_later_than_the_ceiling() -> None:
    delays = [event_queue.delay(waits) for waits in range(1, 12) for _ in range(20)]
    assert min(delays) >= 1 and max(delays) <= event_queue.MAX_DELAY_SECONDS
    assert max(event_queue.delay(1) for _ in range(50)) <= 2 * event_queue.FIRST_DELAY_SECONDS


def test_a_burst_starts_only_as_many_baselines_as_there_are_slots_and_the_rest_wait(
    world: World,
) -> None:
    records = [world.record(account_event(n)) for n in range(5)]
    assert world.deliver(*records) == []  # waiting is not failing
    assert world.executions() == ["account-00000000-0000-0000-0000-000000000000",
                                  "account-00000000-0000-0000-0000-000000000001"]  # fmt: skip
    waiting = world.waiting()
    assert sorted(json.loads(m["Body"])["id"][-1] for m in waiting) == ["2", "3", "4"]
    assert {m["MessageAttributes"]["waits"]["StringValue"] for m in waiting} == {"1"}


def test_a_waiting_event_starts_once_a_baseline_gives_its_slot_back(world: World) -> None:
    world.deliver(*(world.record(account_event(n)) for n in range(3)))
    [waiting] = world.waiting()
    world.end("account-00000000-0000-0000-0000-000000000000")
    again = world.record(json.loads(waiting["Body"]), first_seen="1799999990", waits="1")
    assert world.deliver(again) == []
    assert world.executions("RUNNING") == ["account-00000000-0000-0000-0000-000000000001",
                                           "account-00000000-0000-0000-0000-000000000002"]  # fmt: skip


def test_a_second_delivery_of_an_event_starts_nothing_and_takes_no_second_slot(
    world: World,
) -> None:
    event = account_event(7)
    assert world.deliver(world.record(event)) == []
    assert world.deliver(world.record(event)) == []  # while it runs
    assert len(world.slots.holders() or {}) == 1
    world.end("account-00000000-0000-0000-0000-000000000007")
    assert world.deliver(world.record(event)) == []  # after it ended
    assert world.executions() == ["account-00000000-0000-0000-0000-000000000007"]
    assert world.slots.holders() == {}


def test_a_message_that_is_not_an_event_fails_and_alerts_on_its_last_receive(
    world: World,
) -> None:
    first = world.record("not json {")
    assert world.deliver(first) == [first["messageId"]]
    assert world.alerts == []
    last = world.record("not json {", receives=5)
    assert world.deliver(last) == [last["messageId"]]
    [alert] = world.alerts
    message = json.loads(alert["Message"])
    assert message["status"] == "DEAD_LETTERED"
    assert message["error"]["error"] == "AccountEventNotStarted"
    assert "dead-letter queue" in message["what"] and "redrive" in message["hint"]
    assert world.executions() == []


def test_an_event_without_an_id_is_refused_by_name(world: World) -> None:
    bad = world.record({"detail": {"accountId": "a"}}, receives=5)
    assert world.deliver(bad) == [bad["messageId"]]
    assert "no id" in json.loads(world.alerts[0]["Message"])["error"]["message"]


def test_an_alert_never_carries_the_event_s_detail_beyond_its_ids(world: World) -> None:
    event = {**account_event(1), "detail": {"accountId": "acc-1", "secret": "hunter2"}}
    world.deliver(world.record(account_event(8)), world.record(account_event(9)))  # both run
    world.clock.now += event_queue.MAX_WAIT_SECONDS + 1
    record = world.record(event, receives=5, first_seen=str(int(world.clock.now - 7 * 3600)))
    assert world.deliver(record) == [record["messageId"]]
    [alert] = world.alerts
    assert "hunter2" not in alert["Message"] and "acc-1" in alert["Message"]


def test_slots_abandoned_by_executions_that_ended_are_reclaimed_when_the_slots_are_full(
    world: World,
) -> None:
    world.deliver(*(world.record(account_event(n)) for n in range(2)))
    # The first ends without giving its slot back (aborted); the second still runs.
    arn = world.machine.replace(":stateMachine:", ":execution:")
    world.states.stop_execution(executionArn=f"{arn}:account-00000000-0000-0000-0000-000000000000")
    assert world.deliver(world.record(account_event(2))) == []
    assert len(world.executions()) == 2  # too young to reclaim: it waits
    world.clock.now += RECLAIM_AFTER_SECONDS + 1
    assert world.deliver(world.record(account_event(3))) == []
    assert world.executions("RUNNING") == ["account-00000000-0000-0000-0000-000000000001",
                                           "account-00000000-0000-0000-0000-000000000003"]  # fmt: skip


def test_a_slot_taken_for_an_execution_step_functions_refuses_is_given_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**_: Any) -> None:
        raise world.states.exceptions.ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "slow down"},
             "ResponseMetadata": {"HTTPStatusCode": 400}}, "StartExecution",
        )  # fmt: skip

    monkeypatch.setattr(world.states, "start_execution", refuse)
    record = world.record(account_event(1))
    assert world.deliver(record) == [record["messageId"]]
    assert world.slots.holders() == {}


def test_a_start_that_may_have_happened_keeps_its_slot_until_reclaim_finds_out(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ReadTimeoutError

    def lost(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://states")

    monkeypatch.setattr(world.states, "start_execution", lost)
    record = world.record(account_event(1))
    assert world.deliver(record) == [record["messageId"]]  # retried by SQS
    assert list(world.slots.holders() or {}) == ["account-00000000-0000-0000-0000-000000000001"]


def test_only_one_waiting_event_a_minute_looks_for_abandoned_slots(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    described: list[str] = []
    original = world.states.describe_execution

    def counting(**kwargs: Any) -> Any:
        described.append(kwargs["executionArn"])
        return original(**kwargs)

    world.deliver(*(world.record(account_event(n)) for n in range(2)))
    world.clock.now += RECLAIM_AFTER_SECONDS + 1
    monkeypatch.setattr(world.states, "describe_execution", counting)
    world.deliver(*(world.record(account_event(n)) for n in range(2, 8)))  # six wait
    assert len(described) == 2  # the two holders, looked at once
    world.clock.now += 61
    world.deliver(world.record(account_event(9)))
    assert len(described) == 4


def test_racing_starters_never_hold_more_slots_than_the_limit(world: World) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        taken = list(pool.map(world.slots.take, [f"execution-{i}" for i in range(8)]))
    assert taken.count(True) == 2
    item = world.dynamodb.get_item(
        TableName=TARGET.table_name, Key={"pk": {"S": SLOTS_PK}, "sk": {"S": SLOTS_SK}}
    )["Item"]
    assert len(item["holders"]["M"]) == 2


def test_the_machine_gives_back_the_slot_the_starter_takes() -> None:
    from pathlib import Path

    machine = json.loads(Path("statemachines/account_baseline.asl.json").read_text())
    give_back = machine["States"]["Give Back Slot"]["Parameters"]
    assert give_back["Key"] == {"pk": {"S": SLOTS_PK}, "sk": {"S": SLOTS_SK}}
    assert give_back["ExpressionAttributeNames"] == {"#name.$": "$$.Execution.Name"}
    assert event_queue.execution_name(account_event(3)).startswith("account-")
