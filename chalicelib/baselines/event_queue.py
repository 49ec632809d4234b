"""Stax account events, buffered: start account baselines no faster than the slots allow.

Role: the use case of ``start_account_baselines``, the Lambda the stage's account events
queue feeds (EventBridge rule -> SQS queue -> this function; a dead-letter queue behind
the queue). For each message -- one Stax account event -- it takes a slot
(:mod:`chalicelib.baselines.slots`) and starts the account baseline machine with the
event as input, under a name made from the event's id. A burst of 300 new accounts
therefore becomes at most ``limit`` account baselines at once, the rest waiting in the
queue, and never an unbounded number of executions sharing Stax's rate.

- **No slot free**: the message is sent again with a delay (growing, with jitter) and the
  one received is deleted. Waiting is not failing: a message that only waits never uses up
  the queue's ``maxReceiveCount`` and never reaches the dead-letter queue -- unless no slot
  has changed hands for :data:`MAX_WAIT_SECONDS`, when it is failed like any other.
- **Idempotent by event id**: EventBridge delivers at least once. The second delivery of
  an event asks for the same execution name; Step Functions refuses it
  (``ExecutionAlreadyExists``: a name is unique for 90 days, whatever the input), so it
  starts nothing and keeps no slot.
- **Failing**: anything else (Step Functions refusing, the table unavailable, a message that
  is not an event) is reported as a batch item failure: SQS makes it visible again after
  the visibility timeout, and after ``maxReceiveCount`` receives moves it to the
  dead-letter queue. The last receive publishes an alert saying so (what, and why -- never
  the event's content beyond the ids).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.baselines.slots import Slots
from chalicelib.errors import OrchestratorError
from chalicelib.logs import log_event

#: When no slot has changed hands for this long (the newest slot is this old) while events
#: wait, a waiting event is failed (and, after its retries, dead-lettered with an alert):
#: account baselines that run this long without ending need a person. Measured on the
#: slots, not on the message: in a long burst a message may wait for hours while slots turn
#: over, and a redriven message must not fail for the time it spent in the DLQ.
MAX_WAIT_SECONDS = 6 * 3600
#: The delay of a message sent back to wait (SQS allows up to 900 s): it grows with the
#: number of waits, up to :data:`MAX_DELAY_SECONDS`, jittered so a burst spreads out. Short:
#: a slot given back is found only by the next try (a burst of 50 with 30 s delays took
#: twice the ideal makespan), and a try costs one conditional write and one SendMessage.
FIRST_DELAY_SECONDS = 2
MAX_DELAY_SECONDS = 10
#: The message attributes a waiting message carries (when it first arrived, waits so far).
FIRST_SEEN = "first_seen"
WAITS = "waits"
DLQ_TITLE = "Stax Orchestrator: an account event could not start its baseline"
_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")


class AccountEventNotStarted(OrchestratorError):
    """A queued account event could not start its baseline (it is retried by SQS)."""


@dataclass(frozen=True)
class Starter:
    """What starting needs: the slots, Step Functions, the queue, the alert topic."""

    slots: Slots
    states: Any
    sqs: Any
    machine_arn: str
    publish: Callable[..., Any]
    topic_arn: str
    #: The queue's ``maxReceiveCount`` (its redrive policy): the receive that is the last.
    max_receives: int
    clock: Callable[[], float] = time.time


def execution_name(event: Mapping[str, Any]) -> str:
    """The account baseline's execution name: made from the EventBridge event's id (only
    the characters execution names allow, within their 80)."""
    raw = str(event.get("id") or "")
    cleaned = _NAME_CHARACTERS.sub("-", raw)[:64]
    if not cleaned.strip("-"):
        raise AccountEventNotStarted("The queued message is an event with no id", field="id")
    return f"account-{cleaned}"


def _event(body: Any) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (TypeError, ValueError):
        raise AccountEventNotStarted("The queued message is not JSON", field="body") from None
    if not isinstance(event, dict):
        raise AccountEventNotStarted("The queued message is not an event (a JSON object)")
    return event


def _attribute(record: Mapping[str, Any], name: str) -> float | None:
    value = (record.get("messageAttributes") or {}).get(name) or {}
    try:
        return float(str(value.get("stringValue")))
    except (TypeError, ValueError):
        return None


def _first_seen(record: Mapping[str, Any], now: float) -> float:
    first = _attribute(record, FIRST_SEEN)
    if first is None:
        sent = str((record.get("attributes") or {}).get("SentTimestamp") or "")
        first = float(sent) / 1000 if sent.isdigit() else now
    return min(first, now)


def delay(waits: int) -> int:
    """The seconds a message waits before its next try for a slot."""
    ceiling = min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** min(waits, 6))
    return max(1, int(random.uniform(ceiling / 2, ceiling)))  # noqa: S311 - jitter only


def _queue_url(sqs: Any, queue_arn: str) -> str:
    parts = queue_arn.split(":")
    return str(sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"])


def _running(states: Any, machine_arn: str) -> Callable[[str], bool]:
    executions = machine_arn.replace(":stateMachine:", ":execution:", 1)

    def running(name: str) -> bool:
        try:
            found = states.describe_execution(executionArn=f"{executions}:{name}")
        except states.exceptions.ExecutionDoesNotExist:
            return False
        except Exception:  # throttled, unreachable: not known to have ended, so it holds
            return True
        return bool(found.get("status") == "RUNNING")

    return running


def _not_started(error: Exception) -> bool:
    """Whether Step Functions surely refused the start: a 4xx answer (validation, access,
    throttling, limits). A timeout, a reset connection or a 5xx may come after the
    execution started: its slot stays taken (reclaimed later if it did not start)."""
    status = getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    return isinstance(status, int) and 400 <= status < 500


def _start(starter: Starter, name: str, body: str) -> str:
    """Start the execution; ``started``, ``running`` (this event's execution runs
    already) or ``done`` (it ran before: its slot given back)."""
    try:
        starter.states.start_execution(stateMachineArn=starter.machine_arn, name=name, input=body)
    except starter.states.exceptions.ExecutionAlreadyExists:
        if _running(starter.states, starter.machine_arn)(name):
            return "running"
        starter.slots.give_back(name)
        return "done"
    except Exception as error:
        if _not_started(error):
            starter.slots.give_back(name)  # no execution will give it back
        raise AccountEventNotStarted(
            f"Step Functions did not start the account baseline ({type(error).__name__})",
            execution_name=name,
        ) from None
    return "started"


def _requeue(starter: Starter, record: Mapping[str, Any], first_seen: float) -> int:
    waits = int(_attribute(record, WAITS) or 0) + 1
    seconds = delay(waits)
    starter.sqs.send_message(
        QueueUrl=_queue_url(starter.sqs, str(record.get("eventSourceARN") or "")),
        MessageBody=record["body"],
        DelaySeconds=seconds,
        MessageAttributes={
            FIRST_SEEN: {"DataType": "Number", "StringValue": str(int(first_seen))},
            WAITS: {"DataType": "Number", "StringValue": str(waits)},
        },
    )
    return seconds


def _handle(starter: Starter, record: Mapping[str, Any]) -> dict[str, Any]:
    now = starter.clock()
    event = _event(record.get("body"))
    name = execution_name(event)
    first_seen = _first_seen(record, now)
    if not starter.slots.take(name):
        reclaimed = starter.slots.reclaim(_running(starter.states, starter.machine_arn))
        if not (reclaimed and starter.slots.take(name)):
            newest = starter.slots.newest_hold()
            if newest is not None and now - newest >= MAX_WAIT_SECONDS:
                raise AccountEventNotStarted(
                    f"Every one of the {starter.slots.limit} account baseline slots stayed "
                    f"held for {int(now - newest)} s: look for executions that do not end",
                    execution_name=name,
                )
            seconds = _requeue(starter, record, first_seen)
            return {"execution_name": name, "outcome": "waiting", "delay": seconds,
                    "reclaimed": reclaimed}  # fmt: skip
    outcome = _start(starter, name, record["body"])
    return {"execution_name": name, "outcome": outcome, "waited": round(now - first_seen, 1)}


def _receives(record: Mapping[str, Any]) -> int:
    raw = str((record.get("attributes") or {}).get("ApproximateReceiveCount") or "")
    return int(raw) if raw.isdigit() else 1


def _dead_letter_alert(starter: Starter, record: Mapping[str, Any], error: Any) -> None:
    """The last receive failed too: SQS moves the message to the dead-letter queue."""
    try:
        event = json.loads(record.get("body") or "")
    except (TypeError, ValueError):
        event = {}
    detail = event.get("detail") if isinstance(event, dict) else None
    detail = detail if isinstance(detail, dict) else {}
    message = {
        "status": "DEAD_LETTERED",
        "what": "an account event did not start its account baseline after "
        f"{_receives(record)} tries; it is in the account events dead-letter queue",
        "error": error.as_dict() if isinstance(error, OrchestratorError) else type(error).__name__,
        "event_id": str(event.get("id") or "")[:80] if isinstance(event, dict) else None,
        "account_id": str(detail.get("accountId") or "")[:80] or None,
        "message_id": record.get("messageId"),
        "hint": "Fix the cause, then move the message back to the queue (SQS console: "
        "dead-letter queue redrive, or StartMessageMoveTask).",
    }
    starter.publish(TopicArn=starter.topic_arn, Subject=DLQ_TITLE[:100],
                    Message=json.dumps(message, default=str))  # fmt: skip


def start_from_queue(records_event: Mapping[str, Any], starter: Starter) -> dict[str, Any]:
    """start_account_baselines: one SQS batch of account events; returns the partial batch
    response (``batchItemFailures``: the messages SQS must deliver again).

    Raises nothing for a message: each failure is that message's (its alert, on its last
    receive, is published here; an alert that cannot be published fails the batch item
    all the same).
    """
    failures = []
    for record in records_event.get("Records") or []:
        message_id = record.get("messageId")
        try:
            result = _handle(starter, record)
            log_event("account_event_handled", message_id=message_id, **result)
        except Exception as error:
            log_event("account_event_not_started", message_id=message_id,
                      error=str(error) if isinstance(error, OrchestratorError)
                      else type(error).__name__, receives=_receives(record))  # fmt: skip
            failures.append({"itemIdentifier": message_id})
            if _receives(record) >= starter.max_receives:
                try:
                    _dead_letter_alert(starter, record, error)
                except Exception as alert_error:
                    log_event("dead_letter_alert_failed", error=type(alert_error).__name__)
    return {"batchItemFailures": failures}
