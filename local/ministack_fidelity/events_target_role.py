"""EventBridge delivers to a Step Functions target only through a role it may assume and
that may start the machine, and to an SQS queue only when the queue's policy lets the rule
send, as on AWS.

AWS: a rule's target that is a state machine names a ``RoleArn``; EventBridge assumes that
role as ``events.amazonaws.com`` (EventBridge Scheduler: ``scheduler.amazonaws.com``), with
``aws:SourceArn`` the rule's (schedule's) ARN and ``aws:SourceAccount`` its account
("Using resource-based policies for Amazon EventBridge", "Confused deputy prevention"),
and calls ``states:StartExecution`` with it. A delivery the role cannot make is not retried:
"for errors that result from missing permissions to a target ... no retry attempts will
happen until action is taken to resolve the underlying issue. EventBridge sends these
events directly to the target DLQ, if you have specified one" (EventBridge User Guide,
"Using dead-letter queues to process undelivered events"); without a dead-letter queue the
event is dropped and counted in the rule's ``FailedInvocations``.

MiniStack 1.5.33 never reads the target's role: ``_dispatch_to_stepfunctions`` starts the
execution whatever the role trusts or allows.

For an SQS target AWS needs no role: "Amazon SQS queues ... use resource-based policies"
and the queue's policy must allow ``sqs:SendMessage`` to ``events.amazonaws.com`` (the
rule's ARN as ``aws:SourceArn``) ("Using resource-based policies for Amazon EventBridge",
"Amazon SQS permissions"). MiniStack 1.5.33 delivers to any queue of the account whatever
its policy says, and ignores a target's ``DeadLetterConfig``.

Patched: ``eventbridge._invoke_target`` (every rule's and schedule's delivery): for a
``states`` target, the role's trust (``sfn_role_trust.assumable`` with the EventBridge
principal and the rule's ARN as ``aws:SourceArn``) and its identity policy for
``states:StartExecution`` on the target machine (``sfn_role_permissions.decide``, the
permissions boundary included) must both allow; for an ``sqs`` target, the queue's policy
(MiniStack's evaluator, as for a trust policy). Otherwise the event is not delivered, with
a warning in MiniStack's log, and goes to the target's dead-letter queue when it names one
whose policy lets the rule send (the User Guide's rule above), else is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap
from .sfn_role_permissions import ALLOW, STATES, Call, arn_parts, decide, region_account
from .sfn_role_trust import assumable, base_machine_arn

logger = logging.getLogger("ministack_fidelity.events_target_role")

START_EXECUTION = "states:StartExecution"
#: The principal that delivers for each kind of source (the ARN's service).
PRINCIPALS = {"events": "events.amazonaws.com", "scheduler": "scheduler.amazonaws.com"}

EXPECTED = {
    "_invoke_target": Expectation(("target", "event", "rule", "view"), "550e304af0809563"),
}


SEND_MESSAGE = "sqs:SendMessage"


def queue_accepts(ev: Any, sqs: Any, queue_arn: str, source: str) -> bool:
    """Whether the queue's policy lets EventBridge send to it for rule ``source`` (no
    policy: only the account's own principals may, never a service)."""
    queue = sqs._queue_by_arn(queue_arn)
    document = ((queue or {}).get("attributes") or {}).get("Policy")
    if not queue or not document:
        return False
    region, account = region_account(source)
    context = ev.EvalContext(
        principal_arn=PRINCIPALS["events"],
        principal_type="Service",
        principal_account="",
        action=SEND_MESSAGE,
        resource_arn=queue_arn,
        region=region,
        service_context={"aws:sourcearn": source, "aws:sourceaccount": account},
    )
    decision = ev.evaluate_resource_policy(document, context, PRINCIPALS["events"]).decision
    return str(decision) == ALLOW


def refusal(ev: Any, iam: Any, target: Any, rule: Any) -> str | None:
    """Why EventBridge may not deliver to ``target`` for ``rule`` (None: it may, or the
    target is neither a state machine nor a queue)."""
    if not isinstance(target, dict) or not isinstance(rule, dict):
        return None
    arn = target.get("Arn")
    parts = arn_parts(arn)
    source = str(rule.get("Arn") or "")
    if parts and parts[2] == "sqs":
        if (arn_parts(source) or ["", "", "events"])[2] != "events":
            # EventBridge Scheduler sends with the schedule's own role, whatever the queue's
            # policy says: not modelled here (the product has no schedule with a queue).
            return None
        from ministack.services import sqs

        accepted = queue_accepts(ev, sqs, str(arn), source)
        return None if accepted else f"the policy of queue {arn} does not let {source} send"
    if parts and parts[2] == "states":
        return _machine_refusal(ev, iam, target, str(arn), source)
    return None


def _machine_refusal(
    ev: Any, iam: Any, target: dict[str, Any], arn: str, source: str
) -> str | None:
    service = arn_parts(source)[2] if arn_parts(source) else "events"
    role = target.get("RoleArn")
    if not role:
        return "the target names no RoleArn"
    if not assumable(ev, iam, role, source, services=(PRINCIPALS.get(service, service),)):
        return f"{PRINCIPALS.get(service, service)} may not assume {role} for {source}"
    region, account = region_account(str(arn))
    call = Call(STATES, START_EXECUTION, base_machine_arn(str(arn)))
    decision = decide(ev, iam, role, call, region=region, account=account)
    if decision != ALLOW:
        return f"{role} is not authorized to perform {START_EXECUTION} on {call.resource}"
    return None


def install(eventbridge: Any, ev: Any, iam: Any) -> None:
    def checking(original: Callable[..., Any]) -> Callable[..., Any]:
        def invoke_target(target: Any, event: Any, rule: Any, view: Any = None) -> Any:
            reason = refusal(ev, iam, target, rule)
            if reason is not None:
                logger.warning(
                    "EventBridge: target %s of %s not delivered (FailedInvocations, not "
                    "retried): %s",
                    target.get("Arn"),
                    rule.get("Arn"),
                    reason,
                )
                dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
                if dead_letter and refusal(ev, iam, {"Arn": dead_letter}, rule) is None:
                    return original({"Id": target.get("Id"), "Arn": dead_letter}, event, rule,
                                    view)  # fmt: skip
                return None
            return original(target, event, rule, view)

        return invoke_target

    wrap(eventbridge, "_invoke_target", checking)
