"""Deployment steps around ``chalice deploy`` (called by ``deploy.sh``).

Role: deploy-time tooling, not part of the Lambda package.

- ``preflight``: AWS credentials and the Stax SSM parameters exist, before
  anything is created; writes the Lambdas' least-privilege policy file that
  the Chalice stage names (account and region filled in).
- ``statemachines``: renders the ASL templates with the function ARNs Chalice
  recorded in ``.chalice/deployed/<stage>.json``, creates or updates the
  state machines' IAM role and both state machines (in place: same ARNs),
  and writes their ARNs to ``.chalice/deployed/<stage>-statemachines.json``.
- ``delete``: removes the state machines and their role.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.schemas import MAX_WATCH_TIMEOUT_SECONDS

APP_NAME = "stax-orchestrator"
ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"
STATEMACHINES_DIR = ROOT / "statemachines"
FUNCTIONS = (
    "validate_input",
    "create_workload",
    "update_workload",
    "delete_workload",
    "get_task_status",
    "plan_fleet",
    "record_fleet_wave",
)
#: State machines in deployment order: each may run the ones before it.
STATE_MACHINES = ("task_watcher", "workload", "fleet")
DEFAULT_WATCH_TIMEOUT = 7200
SSM_PARAMETERS = ("/orchestrator/stax/access/key", "/orchestrator/stax/access/key/secret")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


class DeployError(Exception):
    """A deployment step cannot go on; the message says what to fix."""


def placeholder(function: str) -> str:
    """``validate_input`` -> ``ValidateInputArn`` (the ASL placeholder stem rule)."""
    return "".join(part.capitalize() for part in function.split("_")) + "Arn"


@dataclass(frozen=True)
class Target:
    """Where and what is deployed."""

    stage: str
    region: str
    account: str
    partition: str = "aws"

    @property
    def prefix(self) -> str:
        return f"{APP_NAME}-{self.stage}"

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account}:{resource}"
        )

    @property
    def role_name(self) -> str:
        return f"{self.prefix}-states"

    @property
    def table_name(self) -> str:
        """The coordination store (name claims, workload locks, fleet results)."""
        return f"{self.prefix}-coordination"

    def state_machine_name(self, kind: str) -> str:
        return f"{self.prefix}-{kind.replace('_', '-')}"

    def state_machine_arn(self, kind: str) -> str:
        return self.arn("states", f"stateMachine:{self.state_machine_name(kind)}")


# -- rendering -----------------------------------------------------------------
def render(template: Any, values: Mapping[str, Any]) -> Any:
    """Fill ``${Name}`` placeholders in a parsed ASL document.

    A string that is exactly one placeholder takes the value's JSON type (so
    ``"TimeoutSeconds": "${WatcherExecutionTimeoutSeconds}"`` becomes a number);
    placeholders inside longer strings are replaced as text.

    Raises:
        DeployError: a placeholder has no value.
    """
    if isinstance(template, dict):
        return {key: render(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [render(item, values) for item in template]
    if isinstance(template, str):
        names = _PLACEHOLDER.findall(template)
        missing = [name for name in names if name not in values]
        if missing:
            raise DeployError(f"no value for placeholder(s) {', '.join(missing)}")
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)
    return template


def load_template(kind: str) -> Any:
    return json.loads((STATEMACHINES_DIR / f"{kind}.asl.json").read_text())


def template_values(
    function_arns: Mapping[str, str], target: Target, watch_timeout: int
) -> dict[str, Any]:
    values: dict[str, Any] = {placeholder(name): arn for name, arn in function_arns.items()}
    values.update(
        TaskWatcherArn=target.state_machine_arn("task_watcher"),
        WorkloadArn=target.state_machine_arn("workload"),
        WatchTimeoutSeconds=watch_timeout,
        # The watcher's own Choice reports WorkloadTaskTimedOut (after the request's
        # watch_timeout_seconds, at most a day, or this default); the execution timeout
        # is only a backstop in case a poll hangs.
        WatcherExecutionTimeoutSeconds=max(watch_timeout, MAX_WATCH_TIMEOUT_SECONDS) + 900,
    )
    return values


# -- IAM policy documents ------------------------------------------------------
#: What the Lambdas may do in the coordination store: single-item conditional writes.
TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                 "dynamodb:DeleteItem", "dynamodb:Query")  # fmt: skip


def lambda_policy(target: Target, parameters: tuple[str, ...] = SSM_PARAMETERS) -> dict[str, Any]:
    """The Lambdas' policy: read the two Stax SSM parameters, use the coordination table,
    write their own logs."""
    log_group = f"log-group:/aws/lambda/{target.prefix}-*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadStaxApiToken",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:GetParameters"],
                "Resource": [target.arn("ssm", f"parameter{name}") for name in parameters],
            },
            {
                "Sid": "UseCoordinationTable",
                "Effect": "Allow",
                "Action": list(TABLE_ACTIONS),
                "Resource": target.arn("dynamodb", f"table/{target.table_name}"),
            },
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [
                    target.arn("logs", log_group),
                    target.arn("logs", f"{log_group}:log-stream:*"),
                ],
            },
        ],
    }


def states_trust_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def states_policy(target: Target, function_arns: Mapping[str, str]) -> dict[str, Any]:
    """The state machines' policy: invoke our functions, run only our own state machines."""
    watcher = target.state_machine_name("task_watcher")
    workload = target.state_machine_name("workload")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeOrchestratorFunctions",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": [function_arns[name] for name in FUNCTIONS],
            },
            {
                # The workload machine runs the task watcher; the fleet machine runs the
                # workload machine.
                "Sid": "StartOwnStateMachines",
                "Effect": "Allow",
                "Action": "states:StartExecution",
                "Resource": [
                    target.state_machine_arn("task_watcher"),
                    target.state_machine_arn("workload"),
                ],
            },
            {
                "Sid": "FollowOwnExecutions",
                "Effect": "Allow",
                "Action": ["states:DescribeExecution", "states:StopExecution"],
                "Resource": [
                    target.arn("states", f"execution:{watcher}:*"),
                    target.arn("states", f"execution:{workload}:*"),
                ],
            },
            {
                # startExecution.sync learns of the child's end through this managed rule.
                "Sid": "SyncExecutionEvents",
                "Effect": "Allow",
                "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                "Resource": target.arn(
                    "events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
                ),
            },
        ],
    }


# -- alerts ----------------------------------------------------------------------
#: Execution statuses that raise an alert.
ALERT_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
#: The alert message: one JSON object per failed, timed-out or aborted operation.
ALERT_TEMPLATE = (
    '{"alert": "Stax Orchestrator: a workload operation did not succeed", '
    '"status": <status>, "error": <error>, "cause": <cause>, '
    '"execution_arn": <execution_arn>, "request": <request>, "stopped_at": <stopped_at>}'
)


def alert_topic_name(target: Target) -> str:
    return f"{target.prefix}-alerts"


def alert_rule_name(target: Target) -> str:
    return f"{target.prefix}-operation-alerts"


def alert_event_pattern(workload_state_machine_arn: str) -> dict[str, Any]:
    """The workload machine's executions that did not succeed (Step Functions' own events)."""
    return {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "status": list(ALERT_STATUSES),
            "stateMachineArn": [workload_state_machine_arn],
        },
    }


def alert_input_transformer() -> dict[str, Any]:
    return {
        "InputPathsMap": {
            "status": "$.detail.status",
            "error": "$.detail.error",
            "cause": "$.detail.cause",
            "execution_arn": "$.detail.executionArn",
            "request": "$.detail.input",
            "stopped_at": "$.time",
        },
        "InputTemplate": ALERT_TEMPLATE,
    }


def alert_topic_policy(target: Target) -> dict[str, Any]:
    """Only the alert rule may publish to the topic; the account keeps managing it."""
    topic_arn = target.arn("sns", alert_topic_name(target))
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountManagesTopic",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{target.partition}:iam::{target.account}:root"},
                "Action": [
                    "SNS:GetTopicAttributes",
                    "SNS:SetTopicAttributes",
                    "SNS:Subscribe",
                    "SNS:ListSubscriptionsByTopic",
                    "SNS:DeleteTopic",
                ],
                "Resource": topic_arn,
            },
            {
                "Sid": "AlertRulePublishes",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "ArnEquals": {
                        "aws:SourceArn": target.arn("events", f"rule/{alert_rule_name(target)}")
                    }
                },
            },
        ],
    }


def ensure_alerts(
    session: Any,
    target: Target,
    workload_state_machine_arn: str,
    emails: tuple[str, ...] = (),
    https: tuple[str, ...] = (),
) -> str:
    """The alert topic, its policy, the rule feeding it and any subscriptions; returns the topic."""
    sns, events = session.client("sns"), session.client("events")
    topic_arn = str(sns.create_topic(Name=alert_topic_name(target))["TopicArn"])
    sns.set_topic_attributes(
        TopicArn=topic_arn,
        AttributeName="Policy",
        AttributeValue=json.dumps(alert_topic_policy(target)),
    )
    events.put_rule(
        Name=alert_rule_name(target),
        EventPattern=json.dumps(alert_event_pattern(workload_state_machine_arn)),
        State="ENABLED",
        Description=f"Alerts on failed, timed-out or aborted operations of {target.prefix}",
    )
    events.put_targets(
        Rule=alert_rule_name(target),
        Targets=[
            {"Id": "alert-topic", "Arn": topic_arn, "InputTransformer": alert_input_transformer()}
        ],
    )
    existing = {
        sub["Endpoint"]
        for sub in sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
    }
    for protocol, endpoints in (("email", emails), ("https", https)):
        for endpoint in endpoints:
            if endpoint not in existing:
                sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint)
                print(f"subscribed {endpoint} to {alert_topic_name(target)}", file=sys.stderr)
    return topic_arn


def delete_alerts(session: Any, target: Target) -> None:
    sns, events = session.client("sns"), session.client("events")
    with contextlib.suppress(events.exceptions.ResourceNotFoundException):
        events.remove_targets(Rule=alert_rule_name(target), Ids=["alert-topic"])
        events.delete_rule(Name=alert_rule_name(target))
    sns.delete_topic(TopicArn=target.arn("sns", alert_topic_name(target)))


# -- AWS -------------------------------------------------------------------------
def _session() -> Any:
    import boto3

    return boto3.session.Session()


def resolve_target(stage: str, session: Any | None = None) -> Target:
    """The account and region the credentials point at.

    Raises:
        DeployError: no credentials or no region.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    session = session or _session()
    if not session.region_name:
        raise DeployError("No AWS region: set AWS_DEFAULT_REGION or configure a profile region.")
    try:
        identity = session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise DeployError(
            f"No usable AWS credentials ({type(error).__name__}): configure a profile, "
            'export AWS_PROFILE, or for the local stack run: eval "$(make -s local-env)"'
        ) from None
    partition = str(identity["Arn"]).split(":")[1] if ":" in str(identity["Arn"]) else "aws"
    return Target(stage, session.region_name, str(identity["Account"]), partition)


def preflight(stage: str, session: Any | None = None) -> Target:
    """Check credentials and the SSM parameters; write the Lambdas' policy file.

    Raises:
        DeployError: what is missing and how to add it.
    """
    session = session or _session()
    target = resolve_target(stage, session)
    ssm = session.client("ssm")
    found = ssm.get_parameters(Names=list(SSM_PARAMETERS), WithDecryption=False)
    names = {p["Name"] for p in found.get("Parameters", [])}
    missing = [name for name in SSM_PARAMETERS if name not in names]
    if missing:
        raise DeployError(
            f"Missing SSM parameter(s) {', '.join(missing)} in {target.region}: store the Stax "
            "API token first with `stax-orchestrator setup` (or `make local-up` for the local "
            "stack)."
        )
    policy_file = CHALICE_DIR / f"policy-{stage}.json"
    policy_file.write_text(json.dumps(lambda_policy(target), indent=2) + "\n")
    return target


def function_arns(stage: str) -> dict[str, str]:
    """The Lambda ARNs Chalice recorded for the stage.

    Raises:
        DeployError: the stage was not deployed, or a function is missing.
    """
    recorded = CHALICE_DIR / "deployed" / f"{stage}.json"
    if not recorded.exists():
        raise DeployError(f"{recorded} not found: run `chalice deploy --stage {stage}` first.")
    resources = json.loads(recorded.read_text()).get("resources", [])
    arns = {
        r["name"]: r["lambda_arn"]
        for r in resources
        if r.get("resource_type") == "lambda_function" and r.get("name") in FUNCTIONS
    }
    missing = [name for name in FUNCTIONS if name not in arns]
    if missing:
        raise DeployError(f"Chalice recorded no function(s) {', '.join(missing)} for {stage}.")
    return arns


def _retry_iam_propagation(call: Callable[[], Any]) -> Any:
    """A new role takes seconds to be assumable by Step Functions on AWS."""
    from botocore.exceptions import ClientError

    for attempt in range(10):
        try:
            return call()
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code not in ("AccessDeniedException", "InvalidRoleArn") or attempt == 9:
                raise
            time.sleep(min(2**attempt, 10))
    raise AssertionError("unreachable")


def ensure_table(dynamodb: Any, target: Target) -> str:
    """Create the coordination table when missing (on-demand, point-in-time recovery)."""
    try:
        table = dynamodb.describe_table(TableName=target.table_name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        table = dynamodb.create_table(
            TableName=target.table_name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            Tags=[{"Key": "stax-orchestrator:stage", "Value": target.stage}],
        )["TableDescription"]
        dynamodb.get_waiter("table_exists").wait(
            TableName=target.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        print(f"created table {target.table_name}", file=sys.stderr)
    with contextlib.suppress(dynamodb.exceptions.ClientError):
        # Fleet results expire on their own; claims and locks carry no expires_at.
        dynamodb.update_time_to_live(
            TableName=target.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
    return str(table["TableArn"])


def ensure_role(iam: Any, target: Target, policy: dict[str, Any]) -> str:
    """Create or update the state machines' role; return its ARN."""
    trust = json.dumps(states_trust_policy())
    try:
        role = iam.get_role(RoleName=target.role_name)["Role"]
        iam.update_assume_role_policy(RoleName=target.role_name, PolicyDocument=trust)
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=target.role_name,
            AssumeRolePolicyDocument=trust,
            Description=f"Step Functions role of {target.prefix}",
        )["Role"]
    iam.put_role_policy(
        RoleName=target.role_name,
        PolicyName=f"{target.prefix}-states",
        PolicyDocument=json.dumps(policy),
    )
    return str(role["Arn"])


def ensure_state_machine(
    sfn: Any, target: Target, kind: str, definition: Any, role_arn: str
) -> tuple[str, str]:
    """Create the state machine, or update it in place when it differs. Returns (arn, action)."""
    arn = target.state_machine_arn(kind)
    body = json.dumps(definition, indent=2)
    try:
        current = sfn.describe_state_machine(stateMachineArn=arn)
    except sfn.exceptions.StateMachineDoesNotExist:
        created = _retry_iam_propagation(
            lambda: sfn.create_state_machine(
                name=target.state_machine_name(kind), definition=body, roleArn=role_arn
            )
        )
        return str(created["stateMachineArn"]), "created"
    if json.loads(current["definition"]) == definition and current["roleArn"] == role_arn:
        return arn, "unchanged"
    _retry_iam_propagation(
        lambda: sfn.update_state_machine(stateMachineArn=arn, definition=body, roleArn=role_arn)
    )
    return arn, "updated"


def deploy_statemachines(
    stage: str,
    watch_timeout: int = DEFAULT_WATCH_TIMEOUT,
    session: Any | None = None,
    emails: tuple[str, ...] = (),
    https: tuple[str, ...] = (),
) -> dict[str, str]:
    session = session or _session()
    target = resolve_target(stage, session)
    arns = function_arns(stage)
    table_arn = ensure_table(session.client("dynamodb"), target)
    role_arn = ensure_role(session.client("iam"), target, states_policy(target, arns))
    values = template_values(arns, target, watch_timeout)
    sfn = session.client("stepfunctions")
    result = {"stage": stage, "role": role_arn, "table": table_arn}
    for kind in STATE_MACHINES:
        arn, action = ensure_state_machine(
            sfn, target, kind, render(load_template(kind), values), role_arn
        )
        result[kind] = arn
        print(f"state machine {target.state_machine_name(kind)}: {action}", file=sys.stderr)
    result["alert_topic"] = ensure_alerts(session, target, result["workload"], emails, https)
    out = CHALICE_DIR / "deployed" / f"{stage}-statemachines.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def delete_statemachines(stage: str, session: Any | None = None) -> None:
    session = session or _session()
    target = resolve_target(stage, session)
    sfn, iam = session.client("stepfunctions"), session.client("iam")
    for kind in reversed(STATE_MACHINES):
        with contextlib.suppress(sfn.exceptions.StateMachineDoesNotExist):
            sfn.delete_state_machine(stateMachineArn=target.state_machine_arn(kind))
            print(f"deleted state machine {target.state_machine_name(kind)}", file=sys.stderr)
    with contextlib.suppress(iam.exceptions.NoSuchEntityException):
        iam.delete_role_policy(RoleName=target.role_name, PolicyName=f"{target.prefix}-states")
    try:
        iam.delete_role(RoleName=target.role_name)
        print(f"deleted role {target.role_name}", file=sys.stderr)
    except iam.exceptions.NoSuchEntityException:
        pass
    delete_alerts(session, target)
    dynamodb = session.client("dynamodb")
    with contextlib.suppress(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.delete_table(TableName=target.table_name)
        print(f"deleted table {target.table_name}", file=sys.stderr)
    (CHALICE_DIR / "deployed" / f"{stage}-statemachines.json").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stax_orchestrator.deploy")
    parser.add_argument("step", choices=["preflight", "statemachines", "delete", "lint"])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--watch-timeout", type=int, default=DEFAULT_WATCH_TIMEOUT)
    parser.add_argument("--alert-email", action="append", default=[])
    parser.add_argument("--alert-https", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        if args.step == "preflight":
            target = preflight(args.stage)
            print(f"deploying stage {args.stage} to account {target.account} in {target.region}")
        elif args.step == "statemachines":
            deployed = deploy_statemachines(
                args.stage,
                args.watch_timeout,
                emails=tuple(args.alert_email),
                https=tuple(args.alert_https),
            )
            print(json.dumps(deployed, indent=2))
        elif args.step == "delete":
            delete_statemachines(args.stage)
        else:
            from stax_orchestrator.lint import lint

            return lint()
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
