"""The simulator's Stax account events reach an EventBridge bus in Stax's shape, and the
per-account baseline reads them.

The simulator's backend seeds accounts; moto's EventBridge routes the events with a rule
on the documented detail-types to an SQS queue, where the test reads what a rule target
would get.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.baselines.account import InvalidAccountEvent, account_event
from staxsim.account_events import BusConfig
from staxsim.backend import SimState

ORG = "0f5e3b2a-8c41-4d7e-9b6a-1c2d3e4f5a60"
ACCOUNT = "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11"
OTHER = "7e3f7d5c-2dab-4f3a-8b68-1c8f8a0d3b22"
TYPES = [{"Id": "5a1b2c3d-0000-4000-8000-00000000a001", "Name": "production"},
         {"Id": "5a1b2c3d-0000-4000-8000-00000000a002", "Name": "development"}]  # fmt: skip


@pytest.fixture
def bus(aws: Any) -> Callable[[], list[dict[str, Any]]]:
    events = aws.client("events")
    sqs = aws.client("sqs")
    events.create_event_bus(Name="stax-partner-bus")
    queue = sqs.create_queue(QueueName="account-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    events.put_rule(
        Name="stax-accounts",
        EventBusName="stax-partner-bus",
        EventPattern=json.dumps({
            "detail-type": ["AccountManagement: AccountCreateEvent",
                            "AccountManagement: AccountUpdateEvent"],
            "detail": {"status": ["SUCCESS"]},
        }),
    )  # fmt: skip
    events.put_targets(
        Rule="stax-accounts",
        EventBusName="stax-partner-bus",
        Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}],
    )

    def received() -> list[dict[str, Any]]:
        out = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in out.get("Messages", [])]

    return received


def sim() -> SimState:
    state = SimState()
    state.seed({"organisation": {"Id": ORG, "Name": "Org"}, "account_types": TYPES})
    state.account_events.configure(BusConfig(bus_name="stax-partner-bus"))
    return state


def test_a_created_account_and_a_type_change_are_announced_in_staxs_shape(bus: Any) -> None:
    state = sim()
    state.seed({"accounts": [{"Id": ACCOUNT, "Name": "dev", "AwsAccountId": "111111111111",
                              "AccountType": "development"}]})  # fmt: skip
    (created,) = bus()
    assert created["detail-type"] == "AccountManagement: AccountCreateEvent"
    assert created["source"] == "aws.partner/stax.io/simulator/stax-events"
    assert created["detail"] == {
        "accountId": ACCOUNT, "accountName": "dev", "accountType": "development",
        "awsAccountId": "111111111111", "status": "SUCCESS",
        "staxEventName": "AccountCreateEvent", "staxEventSource": "stax.account",
    }  # fmt: skip
    # Seeding it again unchanged says nothing; a new type is an update.
    state.seed({"accounts": [{"Id": ACCOUNT, "Name": "dev", "AwsAccountId": "111111111111",
                              "AccountType": "development"}]})  # fmt: skip
    assert bus() == []
    state.seed({"accounts": [{"Id": ACCOUNT, "Name": "dev", "AwsAccountId": "111111111111",
                              "AccountType": "production"}]})  # fmt: skip
    (moved,) = bus()
    assert moved["detail-type"] == "AccountManagement: AccountUpdateEvent"
    event = account_event(moved, "aws.partner/stax.io")
    assert (event.account_id, event.account_type) == (ACCOUNT, "production")
    assert state.account_events.stats()["sent"] == 2


def test_any_change_to_an_account_is_announced_as_an_update_as_stax_does(bus: Any) -> None:
    state = sim()
    account = {"Id": ACCOUNT, "Name": "dev", "AwsAccountId": "111111111111",
               "AccountType": "development"}  # fmt: skip
    state.seed({"accounts": [account]})
    bus()
    state.seed({"accounts": [{**account, "Name": "dev-renamed"}]})
    state.seed({"accounts": [{**account, "Name": "dev-renamed", "Tags": {"Team": "a"}}]})
    renamed, tagged = bus()
    assert (
        renamed["detail-type"] == tagged["detail-type"] == "AccountManagement: AccountUpdateEvent"
    )
    assert renamed["detail"]["accountName"] == "dev-renamed"
    assert tagged["detail"]["accountType"] == "development"  # the type did not change


def test_without_a_bus_nothing_is_sent_and_an_unreachable_bus_does_not_fail_the_seed() -> None:
    state = SimState()
    state.seed(
        {"organisation": {"Id": ORG, "Name": "Org"}, "accounts": [{"Id": ACCOUNT, "Name": "a"}]}
    )
    assert state.account_events.stats() == {"config": None, "sent": 0, "failed": 0}
    state.account_events.configure(BusConfig(bus_name="b", endpoint_url="http://127.0.0.1:9"))
    state.seed({"accounts": [{"Id": OTHER, "Name": "b"}]})
    assert state.account_events.stats()["failed"] == 1 and OTHER in state.accounts


def test_a_failed_or_foreign_event_is_refused_by_name() -> None:
    with pytest.raises(InvalidAccountEvent) as refused:
        account_event({"detail-type": "AccountManagement: AccountCreateEvent",
                       "source": "aws.partner/stax.io/x",
                       "detail": {"accountId": ACCOUNT, "status": "FAILED"}},
                      "aws.partner/stax.io")  # fmt: skip
    assert refused.value.details["errors"] == {
        "detail.status": ["is 'FAILED'; only SUCCESS events are baselined"]
    }


def test_an_event_from_another_source_is_refused_whoever_started_the_execution() -> None:
    forged = {"detail-type": "AccountManagement: AccountCreateEvent", "source": "my.app",
              "detail": {"accountId": ACCOUNT, "status": "SUCCESS"}}  # fmt: skip
    with pytest.raises(InvalidAccountEvent) as refused:
        account_event(forged, "aws.partner/stax.io")
    assert refused.value.details["errors"] == {
        "source": ["is 'my.app'; only events from 'aws.partner/stax.io' are baselined"]
    }
    genuine = {**forged, "source": "aws.partner/stax.io/tenant/stax-events"}
    assert account_event(genuine, "aws.partner/stax.io").account_id == ACCOUNT
    with pytest.raises(InvalidAccountEvent, match="1 problem"):
        account_event(genuine, "")  # no configured source: nothing is trusted
