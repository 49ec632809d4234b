"""The local stack delivers an event to a state machine only through a role EventBridge may
assume and that may start the machine, and to a queue only when the queue's policy lets the
rule send, as AWS does.

On the launched MiniStack (``local/ministack_fidelity/events_target_role.py``) a rule's
Step Functions target whose role trusts another service, trusts EventBridge only for
another rule (``aws:SourceArn``) or for another account, or does not allow
``states:StartExecution`` on the machine, starts nothing: the event is dropped (AWS:
``FailedInvocations``, not retried). A queue target whose policy does not let the rule send
receives nothing; the event goes to the target's dead-letter queue when that one's policy
lets the rule send. The queue policy the deploy gives the stage's account events queues
(``stax_orchestrator.deploy.policies``) delivers. Then MiniStack's own, unpatched
interpreter is shown starting the machine through a role that trusts nothing.

Like ``test_ministack_limits.py``, these tests need only MiniStack
(``tests.e2e.ministack_support``); delivery happens inside PutEvents.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from stax_orchestrator.deploy.names import Target
from stax_orchestrator.deploy.policies import account_events_queue_policy
from tests.e2e.ministack_support import (
    ROLE,
    client,
    ensure_role,
    require_ministack,
    run_unpatched_script,
)

pytestmark = pytest.mark.e2e

ACCOUNT, REGION = "000000000000", "us-east-1"
PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}

#: MiniStack's own EventBridge, unpatched, starts a machine through a role trusting nothing.
UNPATCHED = r"""
import json, sys
from ministack.services import eventbridge, iam
from ministack.services import stepfunctions as sf

request = json.load(sys.stdin)
iam._create_role({"RoleName": ["trusts-nothing"],
                  "AssumeRolePolicyDocument": [json.dumps(request["trust"])]})
sf._create_state_machine({"name": "unpatched", "definition": json.dumps(request["definition"]),
                          "roleArn": "arn:aws:iam::000000000000:role/trusts-nothing"})
machine = "arn:aws:states:us-east-1:000000000000:stateMachine:unpatched"
rule = {"Name": "r", "Arn": "arn:aws:events:us-east-1:000000000000:rule/r"}
target = {"Id": "t", "Arn": machine, "RoleArn": "arn:aws:iam::000000000000:role/trusts-nothing"}
eventbridge._invoke_target(target, {"detail": {}, "source": "s", "detail-type": "d"}, rule)
status, _, body = sf._list_executions({"stateMachineArn": machine})
print(json.dumps({"executions": len(json.loads(body)["executions"])}))
"""

#: MiniStack's own EventBridge, unpatched, delivers to a queue whose policy allows nothing.
UNPATCHED_QUEUE = r"""
import json, sys
from ministack.services import eventbridge, sqs

sqs._act_create_queue({"QueueName": "no-policy"}, "")
queue = "arn:aws:sqs:us-east-1:000000000000:no-policy"
rule = {"Name": "r", "Arn": "arn:aws:events:us-east-1:000000000000:rule/r"}
eventbridge._invoke_target({"Id": "t", "Arn": queue},
                           {"detail": {}, "source": "s", "detail-type": "d"}, rule)
print(json.dumps({"messages": len(sqs._queue_by_arn(queue)["messages"])}))
"""


def events_trust(**condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": "events.amazonaws.com"},
    }  # fmt: skip
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def start_policy(machine: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine}]}  # fmt: skip


class World:
    """Rules on the default bus, each matching only its own source, each targeting its own
    machine through its own role."""

    def __init__(self) -> None:
        self.prefix = f"evrole-{uuid.uuid4().hex[:8]}"
        self.iam, self.events, self.sfn = client("iam"), client("events"), client("stepfunctions")
        self.roles: list[str] = []
        self.rules: list[str] = []
        self.machines: list[str] = []
        self.queues: list[str] = []
        self.sqs = client("sqs")

    def rule_arn(self, name: str) -> str:
        return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"

    def machine(self, name: str) -> str:
        arn = str(
            self.sfn.create_state_machine(name=name, definition=json.dumps(PASS), roleArn=ROLE)[
                "stateMachineArn"
            ]
        )
        self.machines.append(arn)
        return arn

    def role(self, name: str, trust: dict[str, Any], policy: dict[str, Any]) -> str:
        self.roles.append(name)
        arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        self.iam.put_role_policy(
            RoleName=name, PolicyName="deliver", PolicyDocument=json.dumps(policy)
        )
        return str(arn["Role"]["Arn"])

    def deliveries(
        self,
        case: str,
        trust: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
        *,
        rule: str | None = None,
        machine: str | None = None,
    ) -> int:
        """Executions one event starts through a rule targeting a machine with a role made
        of ``trust`` and ``policy`` (``{rule}``/``{machine}`` filled in); or, with ``rule``
        and ``machine``, the names the deploy gives them and its own documents."""
        rule = rule or f"{self.prefix}-{case}"
        machine_arn = self.machine(machine or f"{self.prefix}-{case}")
        fill = {"{rule}": self.rule_arn(rule), "{machine}": machine_arn}
        text = json.dumps({"trust": trust, "policy": policy})
        for placeholder, value in fill.items():
            text = text.replace(placeholder, value)
        documents = json.loads(text)
        role = self.role(f"{self.prefix}-{case}", documents["trust"], documents["policy"])
        source = f"{self.prefix}.{case}"
        self.rules.append(rule)
        self.events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
        self.events.put_targets(
            Rule=rule, Targets=[{"Id": "machine", "Arn": machine_arn, "RoleArn": role}]
        )
        answer = self.events.put_events(
            Entries=[{"Source": source, "DetailType": "test", "Detail": "{}"}]
        )
        assert answer["FailedEntryCount"] == 0, answer
        return len(self.sfn.list_executions(stateMachineArn=machine_arn)["executions"])

    def queue(self, name: str, policy: dict[str, Any] | None) -> tuple[str, str]:
        """A queue (url, arn) with ``policy`` (``{rule}`` filled in by the caller)."""
        url = str(self.sqs.create_queue(QueueName=name)["QueueUrl"])
        self.queues.append(url)
        if policy is not None:
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    def queued(
        self,
        case: str,
        policy: Any,
        dead_letter_policy: Any = None,
        *,
        rule: str | None = None,
        queue: str | None = None,
    ) -> tuple[int, int]:
        """Messages one event leaves in a queue target (and in its dead-letter queue) whose
        policies are ``policy`` and ``dead_letter_policy`` (a callable of the queue's ARN and
        the rule's ARN)."""
        rule = rule or f"{self.prefix}-{case}"
        name = queue or f"{self.prefix}-{case}"
        rule_arn = self.rule_arn(rule)
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        dlq_arn = f"{arn}-dlq"
        url, _ = self.queue(name, policy(arn, dlq_arn, rule_arn) if policy else None)
        dlq_url, _ = self.queue(f"{name}-dlq", dead_letter_policy(arn, dlq_arn, rule_arn)
                                if dead_letter_policy else None)  # fmt: skip
        source = f"{self.prefix}.{case}"
        self.rules.append(rule)
        self.events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
        self.events.put_targets(Rule=rule, Targets=[{
            "Id": "machine", "Arn": arn, "DeadLetterConfig": {"Arn": dlq_arn}}])  # fmt: skip
        answer = self.events.put_events(
            Entries=[{"Source": source, "DetailType": "test", "Detail": "{}"}]
        )
        assert answer["FailedEntryCount"] == 0, answer

        def count(queue_url: str) -> int:
            got = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            return len(got.get("Messages", []))

        return count(url), count(dlq_url)

    def close(self) -> None:
        for url in self.queues:
            self.sqs.delete_queue(QueueUrl=url)
        for rule in self.rules:
            self.events.remove_targets(Rule=rule, Ids=["machine"])
            self.events.delete_rule(Name=rule)
        for machine in self.machines:
            self.sfn.delete_state_machine(stateMachineArn=machine)
        for name in self.roles:
            self.iam.delete_role_policy(RoleName=name, PolicyName="deliver")
            self.iam.delete_role(RoleName=name)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    require_ministack()
    ensure_role()
    made = World()
    yield made
    made.close()


def send_policy(*resources: str, rule: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                                 "Action": "sqs:SendMessage", "Resource": list(resources)}  # fmt: skip
    if rule:
        statement["Condition"] = {"ArnEquals": {"aws:SourceArn": rule}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_the_queue_policy_the_deploy_gives_the_stage_delivers_account_events(world: World) -> None:
    target = Target(world.prefix[:12], REGION, ACCOUNT)

    def stage_policy(queue: str, dlq: str, rule: str) -> dict[str, Any]:
        text = json.dumps(account_events_queue_policy(target))
        return json.loads(text.replace("/${StaxEventBusName}/", "/default/"))

    delivered = world.queued("stage", stage_policy, rule=target.account_events_rule_name,
                             queue=target.account_events_queue_name)  # fmt: skip
    assert delivered == (1, 0)


def test_a_queue_whose_policy_does_not_let_the_rule_send_receives_nothing(world: World) -> None:
    def mine(queue: str, dlq: str, rule: str) -> dict[str, Any]:
        return send_policy(queue, rule=rule)

    def another_rule(queue: str, dlq: str, rule: str) -> dict[str, Any]:
        return send_policy(queue, rule=world.rule_arn("another-rule"))

    def dead_letters(queue: str, dlq: str, rule: str) -> dict[str, Any]:
        return send_policy(dlq, rule=rule)

    assert world.queued("own-rule", mine) == (1, 0)
    assert world.queued("no-policy", None) == (0, 0)
    assert world.queued("other-rule", another_rule) == (0, 0)
    # Undelivered, it goes to the target's dead-letter queue when that one lets the rule send.
    assert world.queued("to-dlq", another_rule, dead_letters) == (0, 1)


def test_a_role_that_does_not_trust_eventbridge_for_this_rule_delivers_nothing(
    world: World,
) -> None:
    policy = start_policy("{machine}")
    assert world.deliveries("trusted", events_trust(), policy) == 1
    assert world.deliveries("states", {**events_trust(), "Statement": [{
        **events_trust()["Statement"][0], "Principal": {"Service": "states.amazonaws.com"}}]},
        policy) == 0  # fmt: skip
    other_rule = {"ArnEquals": {"aws:SourceArn": world.rule_arn("another-rule")}}
    assert world.deliveries("other-rule", events_trust(**other_rule), policy) == 0
    other_account = {"StringEquals": {"aws:SourceAccount": "111122223333"}}
    assert world.deliveries("other-account", events_trust(**other_account), policy) == 0
    this_rule = {"ArnEquals": {"aws:SourceArn": "{rule}"}}
    assert world.deliveries("this-rule", events_trust(**this_rule), policy) == 1


def test_a_role_without_start_execution_on_the_machine_delivers_nothing(world: World) -> None:
    other_machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{world.prefix}-other"
    assert world.deliveries("other-machine", events_trust(), start_policy(other_machine)) == 0
    denied = start_policy("{machine}")
    denied["Statement"].append({"Effect": "Deny", "Action": "states:*", "Resource": "*"})
    assert world.deliveries("denied", events_trust(), denied) == 0


def test_ministack_alone_starts_the_machine_through_a_role_that_trusts_nothing() -> None:
    require_ministack()
    nobody = {"Version": "2012-10-17", "Statement": []}
    assert run_unpatched_script(UNPATCHED, {"trust": nobody, "definition": PASS}) == {
        "executions": 1
    }


def test_ministack_alone_delivers_to_a_queue_whose_policy_lets_nobody_send() -> None:
    require_ministack()
    assert run_unpatched_script(UNPATCHED_QUEUE, {}) == {"messages": 1}
