"""What raises an alert: the event pattern of the stage's alert rule.

Role: the rule (declared in ``template``) matches Step Functions' own "Execution Status
Change" events of the alerted machines that ended FAILED, TIMED_OUT or ABORTED and invokes
``publish_alert`` (``chalicelib.alerts``), which publishes a message without the
execution's input. The ``--alert-email`` / ``--alert-https`` subscriptions are resources
of the stack: a redeploy with fewer flags removes the dropped ones.
"""

from __future__ import annotations

from typing import Any

from stax_orchestrator.deploy.names import ALERTED_MACHINES, Target

#: Execution statuses that raise an alert.
ALERT_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
TARGET_ID = "publish-alert"


STATUS_TARGET_ID = "publish-status-event"


def status_event_pattern(target: Target) -> dict[str, Any]:
    """Every status change of the stage's workload, fleet and account baseline machines."""
    return {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "stateMachineArn": [target.state_machine_arn(kind) for kind in ALERTED_MACHINES],
        },
    }


def alert_event_pattern(target: Target) -> dict[str, Any]:
    """The stage's alerted machines' executions that did not succeed."""
    return {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "status": list(ALERT_STATUSES),
            "stateMachineArn": [target.state_machine_arn(kind) for kind in ALERTED_MACHINES],
        },
    }
