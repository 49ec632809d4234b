"""EventBridge delivers to a Step Functions target only through a role it may assume and
that may start the machine, as on AWS.

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

Patched: ``eventbridge._invoke_target`` (every rule's and schedule's delivery): for a
``states`` target, the role's trust (``sfn_role_trust.assumable`` with the EventBridge
principal and the rule's ARN as ``aws:SourceArn``) and its identity policy for
``states:StartExecution`` on the target machine (``sfn_role_permissions.decide``, the
permissions boundary included) must both allow, otherwise the event is dropped with a
warning in MiniStack's log (no execution starts). Dead-letter queues are not modelled: the
product configures none (an undelivered account event is caught up by the drift schedule
and ``stax-orchestrator baselines plan``).
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


def refusal(ev: Any, iam: Any, target: Any, rule: Any) -> str | None:
    """Why EventBridge may not deliver to ``target`` for ``rule`` (None: it may, or the
    target is not a state machine)."""
    if not isinstance(target, dict) or not isinstance(rule, dict):
        return None
    arn = target.get("Arn")
    parts = arn_parts(arn)
    if not parts or parts[2] != "states":
        return None
    source = str(rule.get("Arn") or "")
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
                return None
            return original(target, event, rule, view)

        return invoke_target

    wrap(eventbridge, "_invoke_target", checking)
