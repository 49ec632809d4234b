"""``deploy.sh --delete``: remove a stage, from any machine.

Role: the stage's stack (found by its name, ``stax-orchestrator-<stage>``) is deleted by
CloudFormation, after its versioned bucket has been emptied (CloudFormation cannot delete
a bucket that holds anything); then the Lambdas ``chalice deploy`` made -- functions,
their roles, log groups and layer -- by the names Chalice gives them, so a fresh clone
deletes what another clone deployed. It refuses while an execution of the stage runs
(``--force`` stops nothing, it only skips the check), and ends by looking again for
everything of the stage: what is still there is reported, never hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from stax_orchestrator.deploy import stack
from stax_orchestrator.deploy.names import (
    CHALICE_DIR,
    FUNCTIONS,
    OUTPUT_KEYS,
    STATE_MACHINES,
    Target,
)
from stax_orchestrator.deploy.templates import DeployError

_MISSING_CODES = ("ResourceNotFoundException", "NoSuchEntity", "NotFoundException", "NotFound")


@dataclass
class Report:
    """What a delete did, resource by resource, and what is left."""

    deleted: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    def attempt(self, label: str, call: Callable[[], Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            call()
        except _Missing:
            self.not_found.append(label)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] in _MISSING_CODES:
                self.not_found.append(label)
                return
            raise
        self.deleted.append(label)


class _Missing(Exception):
    """A resource looked up by name is not there."""


def delete_role(iam: Any, name: str) -> None:
    """Its inline and attached policies, then the role (NoSuchEntity when it is not there)."""
    for policy in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for attached in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
        iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=name)


def _delete_layer(lam: Any, name: str) -> None:
    versions = lam.list_layer_versions(LayerName=name).get("LayerVersions", [])
    if not versions:
        raise _Missing(name)
    for version in versions:
        lam.delete_layer_version(LayerName=name, VersionNumber=version["Version"])


def _machines(target: Target, outputs: dict[str, str]) -> list[str]:
    return [outputs.get(OUTPUT_KEYS[kind]) or target.state_machine_arn(kind)
            for kind in STATE_MACHINES]  # fmt: skip


def _delete_stack(aws: Any, target: Target, outputs: dict[str, str], report: Report) -> None:
    bucket = outputs.get(OUTPUT_KEYS["fleet_bucket"])
    if bucket:
        emptied = stack.empty_bucket(aws.client("s3"), bucket, target.account)
        report.deleted.append(f"{emptied} object version(s) of bucket {bucket}")
    if stack.delete(aws.client("cloudformation"), target.stack_name):
        report.deleted.append(f"stack {target.stack_name} (state machines, roles, table, "
                              "bucket, topic, rules, log groups, dashboard)")  # fmt: skip
    else:
        report.not_found.append(f"stack {target.stack_name}")


def _delete_lambdas(aws: Any, target: Target, report: Report) -> None:
    lam, iam, logs = aws.client("lambda"), aws.client("iam"), aws.client("logs")
    for function in FUNCTIONS:
        name = target.function_name(function)
        report.attempt(f"function {name}", partial(lam.delete_function, FunctionName=name))
        group = target.log_group(function)
        report.attempt(f"log group {group}", partial(logs.delete_log_group, logGroupName=group))
    roles = {target.function_role_name(f) for f in FUNCTIONS} | {target.prefix}
    for role in sorted(roles):
        report.attempt(f"role {role}", partial(delete_role, iam, role))
    report.attempt(f"layer {target.layer_name}", lambda: _delete_layer(lam, target.layer_name))


def _still_there(label: str, call: Callable[[], Any]) -> list[str]:
    """``[label]`` unless the call answers that it is not there (any other refusal --
    denied, throttled -- goes up: "gone" is never assumed)."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as error:
        if error.response["Error"]["Code"] in (*_MISSING_CODES, "StateMachineDoesNotExist",
                                               "NoSuchBucket", "404"):  # fmt: skip
            return []
        raise
    return [label]


def leftovers(aws: Any, target: Target, outputs: dict[str, str]) -> list[str]:
    """What of the stage is still there: its stack, functions, function roles, machines,
    table, bucket."""
    left = []
    if stack.describe(aws.client("cloudformation"), target.stack_name):
        left.append(f"stack {target.stack_name}")
    lam, sfn, iam = aws.client("lambda"), aws.client("stepfunctions"), aws.client("iam")
    for function in FUNCTIONS:
        name = target.function_name(function)
        left += _still_there(f"function {name}", partial(lam.get_function, FunctionName=name))
        role = target.function_role_name(function)
        left += _still_there(f"role {role}", partial(iam.get_role, RoleName=role))
    for arn in _machines(target, outputs):
        left += _still_there(f"state machine {arn.rsplit(':', 1)[-1]}",
                             partial(sfn.describe_state_machine, stateMachineArn=arn))  # fmt: skip
    table = outputs.get(OUTPUT_KEYS["table"]) or target.table_name
    left += _still_there(f"table {table}", partial(aws.client("dynamodb").describe_table,
                                                   TableName=table))  # fmt: skip
    bucket = outputs.get(OUTPUT_KEYS["fleet_bucket"])
    if bucket:
        left += _still_there(f"bucket {bucket}", partial(aws.client("s3").head_bucket,
                                                         Bucket=bucket))  # fmt: skip
    return left


def delete_stage(
    aws: Any, target: Target, force: bool = False, chalice_dir: Path = CHALICE_DIR
) -> Report:
    """Delete the stage: its stack, then its Lambdas; what was deleted, not found, left.

    The stage's records under ``chalice_dir/deployed`` go too (a later deploy starts afresh).

    Raises:
        DeployError: executions of the stage are running and ``force`` is false, or
            CloudFormation could not delete the stack (its reasons named).
    """
    found = stack.describe(aws.client("cloudformation"), target.stack_name)
    # A stack in the middle of an operation is refused before anything is emptied.
    stack.check_not_busy(found, target.stack_name, updating=False)
    outputs = stack.outputs(found)
    running = stack.running_executions(aws.client("stepfunctions"), _machines(target, outputs))
    if running and not force:
        raise DeployError(
            f"{len(running)} execution(s) of stage {target.stage} are running (e.g. "
            f"{running[0]}): wait for them, stop them, or delete with --force"
        )
    report = Report()
    _delete_stack(aws, target, outputs, report)
    _delete_lambdas(aws, target, report)
    for name in (f"{target.stage}.json", f"{target.stage}-statemachines.json"):
        (chalice_dir / "deployed" / name).unlink(missing_ok=True)
    report.left = leftovers(aws, target, outputs)
    return report
