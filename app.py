"""Stax Orchestrator: the Chalice app. Routing only.

Each Lambda loads its event with ``chalicelib.validation`` (a refusal is an
``InvalidWorkloadRequest`` / ``InvalidFleetRequest`` naming every bad field), makes one
call into ``chalicelib`` and returns the result. ``lambda_function`` registers a handler
with Chalice inside ``chalicelib.logs.invocation``: every log line of the invocation
names the function and the execution, and a failure is logged by its error name.
Clients are built by lazy, cached getters (once per container) and injected, so warm
invocations reuse the SSM token cache, the logged-in Stax client and its HTTP connection.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from chalice import Chalice

from chalicelib import alerts, fleet, operations, settings, status_events, validation
from chalicelib.baselines import automatic, event_queue
from chalicelib.baselines.slots import Slots
from chalicelib.coordination import CoordinationStore
from chalicelib.credentials import PreferredCredentials, read_only_names
from chalicelib.logs import log_event, observed
from chalicelib.secrets import SsmSecrets
from chalicelib.stax import SsmCredentials, StaxAccess

app = Chalice(app_name="stax-orchestrator")


def lambda_function(name: str) -> Any:
    """``app.lambda_function(name=name)`` around the handler, observed (chalicelib.logs)."""

    def register(handler: Any) -> Any:
        return app.lambda_function(name=name)(observed(name)(handler))

    return register


@functools.cache
def ssm_client() -> Any:
    import boto3

    return boto3.client("ssm")


@functools.cache
def dynamodb_client() -> Any:
    import boto3

    return boto3.client("dynamodb")


@functools.cache
def s3_client() -> Any:
    import boto3

    return boto3.client("s3")


@functools.cache
def sns_client() -> Any:
    import boto3

    return boto3.client("sns")


@functools.cache
def cloudwatch_client() -> Any:
    import boto3

    return boto3.client("cloudwatch")


@functools.cache
def states_client() -> Any:
    import boto3

    return boto3.client("stepfunctions")


@functools.cache
def sqs_client() -> Any:
    import boto3

    return boto3.client("sqs")


@functools.cache
def events_client() -> Any:
    import boto3

    return boto3.client("events")


@functools.cache
def stax_access(read_only: bool = False) -> StaxAccess:
    """Stax with the stage's token; ``read_only``: with its read-only token when it has one
    (the functions that only read Stax)."""
    config = settings.stax_settings()
    names = (config.access_key_parameter, config.secret_key_parameter)
    ttl = config.credentials_ttl_seconds
    credentials: Any = SsmCredentials(ssm_client, *names, ttl)
    if read_only:
        first = SsmCredentials(ssm_client, *read_only_names(names), ttl)
        credentials = PreferredCredentials(first, credentials, ttl)
    return StaxAccess(config, credentials)


def workload_secrets() -> SsmSecrets:
    """A reader of the stage's workload secrets in SSM, fresh per invocation (it keeps
    what it read for that invocation only)."""
    return SsmSecrets(ssm_client, settings.workload_secrets_prefix())


@functools.cache
def caller_account() -> str:
    import boto3

    return str(boto3.client("sts").get_caller_identity()["Account"])


def bucket_owner(context: Any) -> str:
    """The account every S3 call on the stage's bucket expects: the function's own (its
    ARN), else, in an in-process run without one, the caller's (STS)."""
    return settings.account_of(getattr(context, "invoked_function_arn", None)) or caller_account()


@functools.cache
def coordination_store() -> CoordinationStore:
    return CoordinationStore(dynamodb_client, settings.coordination_settings().table_name)


def services(context: Any) -> operations.Services:
    """The collaborators of one write; its deadline is the invocation's own."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    deadline = time.time() + remaining() / 1000 if callable(remaining) else None
    secrets = workload_secrets()
    return operations.Services(
        stax_access(), coordination_store(), settings.coordination_settings(), deadline, secrets
    )


@lambda_function("validate_input")
def validate_input(event: Any, context: Any) -> dict[str, Any]:
    request = validation.load_validation_event(event, settings.workload_secrets_prefix())
    log_event("validated", operation=request["operation"])
    return request


@lambda_function("create_workload")
def create_workload(event: Any, context: Any) -> dict[str, Any]:
    request = validation.load_operation_request("create", event)
    return operations.create_workload(request, services(context))


@lambda_function("update_workload")
def update_workload(event: Any, context: Any) -> dict[str, Any]:
    request = validation.load_operation_request("update", event)
    return operations.update_workload(request, services(context))


@lambda_function("delete_workload")
def delete_workload(event: Any, context: Any) -> dict[str, Any]:
    request = validation.load_operation_request("delete", event)
    return operations.delete_workload(request, services(context))


@lambda_function("get_task_status")
def get_task_status(event: Any, context: Any) -> dict[str, Any]:
    request = validation.load_task_status_request(event)
    return operations.get_task_status(
        request,
        stax_access(read_only=True),
        settings.poll_schedule(),
        grace_seconds=settings.coordination_settings().visibility_grace_seconds,
        store=coordination_store(),
    )


@lambda_function("plan_fleet")
def plan_fleet(event: Any, context: Any) -> dict[str, Any]:
    loaded = validation.load_fleet_event(event)
    owner = bucket_owner(context)
    return fleet.plan_event(
        loaded, stax_access(read_only=True), coordination_store(), s3_client, owner
    )


@lambda_function("record_fleet_target")
def record_fleet_target(event: Any, context: Any) -> dict[str, Any]:
    outcome = validation.load_machine_event("record_fleet_target", event)
    return fleet.record_target(outcome, coordination_store())


@lambda_function("next_fleet_stage")
def next_fleet_stage(event: Any, context: Any) -> dict[str, Any]:
    request = validation.load_machine_event("next_fleet_stage", event)
    return fleet.next_stage(request, coordination_store(), cloudwatch_client)


@lambda_function("summarise_fleet")
def summarise_fleet(event: Any, context: Any) -> dict[str, Any]:
    request = validation.load_machine_event("summarise_fleet", event)
    owner = bucket_owner(context)
    return fleet.summarise_event(request, coordination_store(), s3_client, owner)


@lambda_function("publish_alert")
def publish_alert(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise TypeError("publish_alert takes an EventBridge event (a JSON object)")
    topic = alerts.topic_arn(context.invoked_function_arn, settings.alert_topic_name())
    return alerts.publish_alert(event, sns_client().publish, topic, coordination_store().get_item)


@lambda_function("plan_account_baselines")
def plan_account_baselines(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise TypeError("plan_account_baselines takes {account_event, bucket} (a JSON object)")
    owner = bucket_owner(context)
    secrets = workload_secrets()
    return automatic.plan_account_event(
        event, stax_access(read_only=True), s3_client(), owner, secrets
    )


@lambda_function("check_baseline_drift")
def check_baseline_drift(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise TypeError("check_baseline_drift takes {bucket} (a JSON object)")
    topic = alerts.topic_arn(context.invoked_function_arn, settings.alert_topic_name())
    owner = bucket_owner(context)
    return automatic.check_drift(
        event, stax_access(read_only=True), s3_client(), sns_client().publish, topic, owner=owner,
        secrets=workload_secrets(),
    )  # fmt: skip


def account_event_starter(context: Any) -> event_queue.Starter:
    """What start_account_baselines needs, for the stage the function runs in."""
    function_arn = context.invoked_function_arn
    machine = settings.account_baseline_machine()
    table = settings.coordination_settings().table_name
    return event_queue.Starter(
        slots=Slots(dynamodb_client(), table, settings.max_account_baselines()),
        states=states_client(),
        sqs=sqs_client(),
        machine_arn=settings.sibling_arn(function_arn, "states", f"stateMachine:{machine}"),
        publish=sns_client().publish,
        topic_arn=alerts.topic_arn(function_arn, settings.alert_topic_name()),
        max_receives=settings.ACCOUNT_EVENTS_MAX_RECEIVES,
    )


@lambda_function("start_account_baselines")
def start_account_baselines(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise TypeError("start_account_baselines takes an SQS batch ({Records: [...]})")
    return event_queue.start_from_queue(event, account_event_starter(context))


@lambda_function("publish_status_event")
def publish_status_event(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise TypeError("publish_status_event takes a Step Functions status change event")
    prefix = settings.stage_prefix(context.function_name, "publish_status_event")
    return status_events.publish_status_event(
        event, events_client().put_events, settings.status_events_bus(), prefix
    )
