"""``deploy.sh --delete``: remove every resource of a stage, from any machine.

Role: finds the stage's resources by their deterministic names (``names.Target``), not
by a state file of the machine that deployed them, so a fresh clone deletes what another
clone deployed: the state machines with their role and log groups, the dashboard, alarms
and metric filters of ``--dashboard``, the alert rule, function and topic, the
coordination table, the Lambdas with their roles, layer and log groups. It refuses
while an execution of the stage runs (``--force`` stops nothing, it only skips the
check), and reports, resource by resource, what it deleted and what was not there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from stax_orchestrator.deploy import baselining, observability
from stax_orchestrator.deploy.names import (
    CHALICE_DIR,
    FUNCTIONS,
    STATE_MACHINES,
    Target,
)
from stax_orchestrator.deploy.resources import delete_role, delete_rule
from stax_orchestrator.deploy.templates import DeployError


@dataclass
class Report:
    """What a delete did, resource by resource."""

    deleted: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)

    def attempt(self, label: str, call: Callable[[], Any], *missing: type[Exception]) -> None:
        from botocore.exceptions import ClientError

        try:
            call()
        except missing:
            self.not_found.append(label)
            return
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in ("ResourceNotFoundException", "NoSuchEntity", "NotFoundException",
                        "NotFound", "StateMachineDoesNotExist"):  # fmt: skip
                self.not_found.append(label)
                return
            raise
        self.deleted.append(label)


def running_executions(sfn: Any, target: Target) -> list[str]:
    """Executions of the stage's machines still RUNNING (at most a few per machine)."""
    running: list[str] = []
    for kind in STATE_MACHINES:
        with contextlib.suppress(sfn.exceptions.StateMachineDoesNotExist):
            page = sfn.list_executions(
                stateMachineArn=target.state_machine_arn(kind),
                statusFilter="RUNNING",
                maxResults=5,
            )
            running += [e["executionArn"] for e in page.get("executions", [])]
    return running


def _delete_layer(lam: Any, name: str) -> None:
    versions = lam.list_layer_versions(LayerName=name).get("LayerVersions", [])
    if not versions:
        raise _Missing(name)
    for version in versions:
        lam.delete_layer_version(LayerName=name, VersionNumber=version["Version"])


class _Missing(Exception):
    """A resource looked up by name is not there."""


def _delete_state_machine(sfn: Any, arn: str) -> None:
    # DeleteStateMachine answers success for a machine that is not there: ask first.
    sfn.describe_state_machine(stateMachineArn=arn)
    sfn.delete_state_machine(stateMachineArn=arn)


def _delete_bucket(s3: Any, name: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=name)
    except ClientError:
        raise _Missing(name) from None
    # The bucket is versioned: every version and delete marker goes, or S3 refuses.
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=name):
        keys = [{"Key": o["Key"], "VersionId": o["VersionId"]}
                for o in (*page.get("Versions", []), *page.get("DeleteMarkers", []))]  # fmt: skip
        if keys:
            s3.delete_objects(Bucket=name, Delete={"Objects": keys})
    paginator = s3.get_paginator("list_objects_v2")  # an unversioned bucket of an older deploy
    for page in paginator.paginate(Bucket=name):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=name, Delete={"Objects": keys})
    s3.delete_bucket(Bucket=name)


def _delete_topic(sns: Any, arn: str) -> None:
    sns.get_topic_attributes(TopicArn=arn)  # NotFound when it is not there
    sns.delete_topic(TopicArn=arn)


def delete_stage(
    aws: Any, target: Target, force: bool = False, chalice_dir: Path = CHALICE_DIR
) -> Report:
    """Delete everything of the stage; what was deleted and what was not found.

    The stage's records under ``chalice_dir/deployed`` go too (a later deploy starts afresh).

    Raises:
        DeployError: executions of the stage are running and ``force`` is false.
    """
    sfn, iam, lam = (aws.client(s) for s in ("stepfunctions", "iam", "lambda"))
    events, sns, dynamodb = (aws.client(s) for s in ("events", "sns", "dynamodb"))
    logs = aws.client("logs")
    running = running_executions(sfn, target)
    if running and not force:
        raise DeployError(
            f"{len(running)} execution(s) of stage {target.stage} are running (e.g. "
            f"{running[0]}): wait for them, stop them, or delete with --force"
        )
    report = Report()
    for kind in reversed(STATE_MACHINES):
        arn = target.state_machine_arn(kind)
        report.attempt(f"state machine {target.state_machine_name(kind)}",
                       partial(_delete_state_machine, sfn, arn),
                       sfn.exceptions.StateMachineDoesNotExist)  # fmt: skip
    for group in observability.log_groups(target):
        report.attempt(f"log group {group}",
                       partial(logs.delete_log_group, logGroupName=group),
                       logs.exceptions.ResourceNotFoundException)  # fmt: skip
    report.attempt(f"role {target.role_name}", lambda: delete_role(iam, target.role_name),
                   iam.exceptions.NoSuchEntityException)  # fmt: skip
    report.deleted += observability.delete_dashboard(aws, target)
    report.deleted += baselining.remove_baselining(aws, target)
    report.attempt(f"rule {target.alert_rule_name}",
                   lambda: delete_rule(events, target.alert_rule_name),
                   events.exceptions.ResourceNotFoundException)  # fmt: skip
    report.attempt(f"topic {target.alert_topic_name}",
                   lambda: _delete_topic(sns, target.alert_topic_arn),
                   sns.exceptions.NotFoundException)  # fmt: skip
    report.attempt(f"bucket {target.fleet_bucket}", partial(_delete_bucket, aws.client("s3"),
                   target.fleet_bucket), _Missing)  # fmt: skip
    report.attempt(f"table {target.table_name}",
                   lambda: dynamodb.delete_table(TableName=target.table_name),
                   dynamodb.exceptions.ResourceNotFoundException)  # fmt: skip
    roles = {target.function_role_name(f) for f in FUNCTIONS} | {target.prefix}
    for function in FUNCTIONS:
        name = target.function_name(function)
        report.attempt(f"function {name}", partial(lam.delete_function, FunctionName=name),
                       lam.exceptions.ResourceNotFoundException)  # fmt: skip
        group = target.log_group(function)
        report.attempt(f"log group {group}",
                       partial(logs.delete_log_group, logGroupName=group),
                       logs.exceptions.ResourceNotFoundException)  # fmt: skip
    for role in sorted(roles):
        report.attempt(f"role {role}", partial(delete_role, iam, role),
                       iam.exceptions.NoSuchEntityException)  # fmt: skip
    report.attempt(f"layer {target.layer_name}", lambda: _delete_layer(lam, target.layer_name),
                   _Missing, lam.exceptions.ResourceNotFoundException)  # fmt: skip
    for name in (f"{target.stage}.json", f"{target.stage}-statemachines.json"):
        (chalice_dir / "deployed" / name).unlink(missing_ok=True)
    return report
