"""The alert path of a stage: topic, EventBridge rule, the alert function as its target.

Role: ``ensure_alerts`` (create or update, idempotent) and ``delete_alerts``. The rule
matches Step Functions' own "Execution Status Change" events of the workload and fleet
machines that ended FAILED, TIMED_OUT or ABORTED and invokes ``publish_alert``
(``chalicelib.alerts``), which publishes a message without the execution's input. The
topic can be encrypted with a customer-managed key. The ``--alert-email`` /
``--alert-https`` subscriptions are reconciled: a redeploy with fewer flags removes the
dropped ones (subscriptions of other protocols, made by hand, are left alone).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable
from typing import Any

from stax_orchestrator.deploy.names import ALERT_FUNCTION, ALERTED_MACHINES, Target
from stax_orchestrator.deploy.policies import alert_topic_policy

#: Execution statuses that raise an alert.
ALERT_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
#: Subscription protocols the deploy flags manage.
MANAGED_PROTOCOLS = ("email", "https")
TARGET_ID = "publish-alert"
PERMISSION_ID = "alerts-rule-invokes"


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


def _ensure_topic(sns: Any, target: Target, kms_key_arn: str | None) -> str:
    attributes = {"KmsMasterKeyId": kms_key_arn} if kms_key_arn else {}
    created = sns.create_topic(Name=target.alert_topic_name, Attributes=attributes)
    topic_arn = str(created["TopicArn"])
    # create_topic does not change an existing topic's attributes: set them (a key that is
    # dropped from the flags is removed, i.e. set to the empty string).
    sns.set_topic_attributes(
        TopicArn=topic_arn, AttributeName="KmsMasterKeyId", AttributeValue=kms_key_arn or ""
    )
    sns.set_topic_attributes(
        TopicArn=topic_arn,
        AttributeName="Policy",
        AttributeValue=json.dumps(alert_topic_policy(target)),
    )
    return topic_arn


def reconcile_subscriptions(
    sns: Any, topic_arn: str, wanted: dict[str, Iterable[str]]
) -> dict[str, list[str]]:
    """Subscribe what ``wanted`` lists and remove managed subscriptions it no longer lists.

    Returns ``{"subscribed": [...], "removed": [...], "pending": [...]}`` (endpoints);
    a dropped subscription still pending confirmation cannot be removed (SNS deletes it
    once unconfirmed for three days) and is reported as pending.
    """
    wanted_pairs = {(p, e) for p, endpoints in wanted.items() for e in endpoints}
    existing: dict[tuple[str, str], str] = {}
    token = None
    while True:
        kwargs = {"TopicArn": topic_arn, **({"NextToken": token} if token else {})}
        page = sns.list_subscriptions_by_topic(**kwargs)
        for sub in page.get("Subscriptions", []):
            existing[(sub["Protocol"], sub["Endpoint"])] = sub["SubscriptionArn"]
        token = page.get("NextToken")
        if not token:
            break
    report: dict[str, list[str]] = {"subscribed": [], "removed": [], "pending": []}
    for protocol, endpoint in sorted(wanted_pairs - set(existing)):
        sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint)
        report["subscribed"].append(endpoint)
    for (protocol, endpoint), arn in sorted(existing.items()):
        if protocol not in MANAGED_PROTOCOLS or (protocol, endpoint) in wanted_pairs:
            continue
        if not arn.startswith("arn:"):
            report["pending"].append(endpoint)
            continue
        sns.unsubscribe(SubscriptionArn=arn)
        report["removed"].append(endpoint)
    return report


def ensure_lambda_rule(
    events: Any,
    lam: Any,
    target: Target,
    *,
    rule: dict[str, Any],
    rule_arn: str,
    function_arn: str,
    permission_id: str,
    target_id: str,
    target_input: str | None = None,
) -> None:
    """A default-bus rule (``rule``: PutRule's arguments) whose one target is a function,
    with the permission for this rule only; other targets of it are removed."""
    events.put_rule(State="ENABLED", **rule)
    with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
        lam.remove_permission(FunctionName=function_arn, StatementId=permission_id)
    lam.add_permission(
        FunctionName=function_arn,
        StatementId=permission_id,
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
        SourceAccount=target.account,
    )
    wanted = {"Id": target_id, "Arn": function_arn,
              **({"Input": target_input} if target_input is not None else {})}  # fmt: skip
    events.put_targets(Rule=rule["Name"], Targets=[wanted])
    # An earlier deploy fed the topic straight from the alert rule: drop such targets.
    stale = [
        t["Id"]
        for t in events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", [])
        if t["Id"] != target_id
    ]
    if stale:
        events.remove_targets(Rule=rule["Name"], Ids=stale)


def _ensure_rule(events: Any, lam: Any, target: Target, function_arn: str) -> None:
    ensure_lambda_rule(
        events, lam, target,
        rule={"Name": target.alert_rule_name,
              "EventPattern": json.dumps(alert_event_pattern(target)),
              "Description": "Alerts on failed, timed-out or aborted executions of "
                             f"{target.prefix}"},
        rule_arn=target.alert_rule_arn, function_arn=function_arn,
        permission_id=PERMISSION_ID, target_id=TARGET_ID,
    )  # fmt: skip


def ensure_alerts(
    session: Any,
    target: Target,
    function_arns: dict[str, str],
    *,
    emails: tuple[str, ...] = (),
    https: tuple[str, ...] = (),
    kms_key_arn: str | None = None,
) -> str:
    """The alert topic (encrypted when a key is given), its rule and subscriptions."""
    sns, events, lam = (session.client(s) for s in ("sns", "events", "lambda"))
    topic_arn = _ensure_topic(sns, target, kms_key_arn)
    _ensure_rule(events, lam, target, function_arns[ALERT_FUNCTION])
    report = reconcile_subscriptions(sns, topic_arn, {"email": emails, "https": https})
    for endpoint in report["subscribed"]:
        print(f"subscribed {endpoint} to {target.alert_topic_name}", file=sys.stderr)
    for endpoint in report["removed"]:
        print(f"unsubscribed {endpoint} from {target.alert_topic_name}", file=sys.stderr)
    for endpoint in report["pending"]:
        print(
            f"{endpoint} is no longer wanted but still pending confirmation: SNS removes it",
            file=sys.stderr,
        )
    return topic_arn
