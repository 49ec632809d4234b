"""The AWS and Stax side of one CLI run: one session, its clients, and where a stage is.

Role: the factory every command is handed (the shape of Chalice's ``CLIFactory``). It is
built from the global options -- ``--profile``, ``--aws-region``, ``--stage``,
``--stack-name``, ``--local`` -- and builds nothing until a command asks: one boto3
session, clients with adaptive retries made from it, the caller's account (STS), and a
stage's resources. Nothing is read from a checkout: a stage's state machines, table and
bucket are found

- by their deterministic names (:class:`stax_orchestrator.deploy.names.Target`: stage +
  the caller's account + the region), the way ``deploy.sh`` names them; or
- with ``--stack-name``, from that CloudFormation stack's Outputs (the package path).

A state machine that is not there is a :class:`StateMachineNotFound` naming what was
looked for, in which account and region, and what to do. Stax settings (which
installation, which SSM parameters hold the token) come from the process environment,
else the deployed stage's own Lambda configuration, else the defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stax_orchestrator import __version__
from stax_orchestrator.console import EXIT_CONFIG, EXIT_INVALID, CliError
from stax_orchestrator.deploy.names import Target

#: The Outputs of a stack of the CloudFormation package (``deploy.sh --package``).
STACK_OUTPUTS = {
    "workload": "WorkloadStateMachineArn",
    "task_watcher": "TaskWatcherStateMachineArn",
    "fleet": "FleetStateMachineArn",
    "table": "CoordinationTableName",
    "fleet_bucket": "FleetBucketName",
    "alert_topic": "AlertTopicArn",
}
STATE_MACHINE_KINDS = ("workload", "task_watcher", "fleet")
#: The Lambda whose configuration tells where the stage's Stax token and Stax are.
TOKEN_FUNCTION = "create_workload"  # noqa: S105 - a function name
#: What of a deployed function's environment the CLI takes over (nothing else of it).
STAX_VARIABLES = (
    "STAX_REGION",
    "STAX_API_HOST",
    "STAX_ACCESS_KEY_PARAMETER",
    "STAX_SECRET_KEY_PARAMETER",
    "STAX_ARTIFACT_BUCKET_PARAMETER",
)
#: Adaptive retries: on throttling the client slows itself down (a client-side rate
#: limiter) instead of only backing off per call -- a ``watch`` or ``fleet`` that polls
#: Step Functions every second shares the account's API buckets with the Lambdas.
RETRIES = {"mode": "adaptive", "max_attempts": 8}


class StateMachineNotFound(CliError):
    """A stage's state machine is not where it was looked for."""


class StackNotFound(CliError):
    """The ``--stack-name`` stack is not there, or is not one of the package's stacks."""


@dataclass(frozen=True)
class Options:
    """The global options, as the user gave them."""

    stage: str
    profile: str | None = None
    aws_region: str | None = None
    stack_name: str | None = None
    local: bool = False


@dataclass(frozen=True)
class StageResources:
    """Where one stage's parts are, and how they were found (for messages)."""

    found_by: str
    state_machines: Mapping[str, str]
    table_name: str | None
    fleet_bucket: str | None
    alert_topic_arn: str | None = None
    functions: Mapping[str, str] = field(default_factory=dict)


def _error_code(error: Any) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def arn_region(arn: str) -> str | None:
    """The region field of an ARN (``arn:aws:states:REGION:...``), if it has one."""
    parts = arn.split(":")
    if len(parts) > 3 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None


def fleet_execution_target(execution_arn: str) -> Target:
    """The stage, region and account of a fleet execution, read from its ARN.

    Raises:
        CliError: (exit code 2) the ARN is not an execution of a stage's fleet machine.
    """
    import re

    from stax_orchestrator.deploy.names import APP_NAME

    parts = execution_arn.split(":")
    machine = parts[6] if len(parts) == 8 and parts[2] == "states" else ""
    match = re.fullmatch(rf"{re.escape(APP_NAME)}-(.+)-fleet", machine)
    if parts[5:6] != ["execution"] or not match:
        raise CliError(
            f"{execution_arn!r} is not an execution of a fleet machine ({APP_NAME}-<stage>-fleet)",
            EXIT_INVALID,
        )
    return Target(match.group(1), parts[3], parts[4], parts[1])


def _default_session_factory(**kwargs: Any) -> Any:
    import boto3

    return boto3.session.Session(**kwargs)


class AwsContext:
    """Sessions, clients and a stage's whereabouts, built on first use and kept."""

    def __init__(
        self,
        options: Options,
        *,
        session_factory: Callable[..., Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.options = options
        self._session_factory = session_factory or _default_session_factory
        self._environ = os.environ if environ is None else environ
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._identity: dict[str, Any] | None = None
        self._resources: StageResources | None = None
        self._verified: set[str] = set()
        self._function_environment: dict[str, str] | None = None

    @property
    def stage(self) -> str:
        return self.options.stage

    # -- AWS -------------------------------------------------------------------------
    @property
    def session(self) -> Any:
        """The one boto3 session (``--profile``, ``--aws-region``).

        Raises:
            CliError: the profile does not exist.
        """
        if self._session is None:
            from botocore.exceptions import ProfileNotFound

            try:
                self._session = self._session_factory(
                    profile_name=self.options.profile, region_name=self.options.aws_region
                )
            except ProfileNotFound:
                raise CliError(
                    f"no AWS profile {self.options.profile!r} in the AWS config files: "
                    "pass another --profile, or none for the default credential chain"
                ) from None
        return self._session

    @property
    def region(self) -> str:
        """The region of the orchestrator's resources (not a workload's ``--region``).

        Raises:
            CliError: no region is configured anywhere.
        """
        region = self.session.region_name
        if not region:
            raise CliError(
                "no AWS region: pass --aws-region (the region the stage is deployed in), "
                "or set AWS_REGION or a region in the profile"
            )
        return str(region)

    def client(self, service: str, region: str | None = None) -> Any:
        """A client of ``service`` (in ``region``, default the session's), kept for reuse."""
        from botocore.config import Config

        where = region or self.region
        key = (service, where)
        if key not in self._clients:
            config = Config(retries=RETRIES, user_agent_extra=f"stax-orchestrator/{__version__}")
            self._clients[key] = self.session.client(service, region_name=where, config=config)
        return self._clients[key]

    def client_for(self, service: str, arn: str) -> Any:
        """A client in the region an ARN names (an execution may be in another region)."""
        return self.client(service, arn_region(arn))

    def identity(self) -> dict[str, Any]:
        """The caller (STS GetCallerIdentity), asked once."""
        if self._identity is None:
            self._identity = dict(self.client("sts").get_caller_identity())
        return self._identity

    @property
    def account(self) -> str:
        return str(self.identity()["Account"])

    def target(self) -> Target:
        """The stage in the caller's account and the session's region."""
        partition = str(self.identity()["Arn"]).split(":")[1]
        return Target(self.stage, self.region, self.account, partition)

    def where(self) -> str:
        return f"AWS account {self.account}, region {self.region}"

    # -- the stage ---------------------------------------------------------------------
    def resources(self) -> StageResources:
        """The stage's resources: from the stack's Outputs, or by their names."""
        if self._resources is None:
            if self.options.stack_name:
                self._resources = self._from_stack(self.options.stack_name)
            else:
                target = self.target()
                self._resources = StageResources(
                    found_by=f"the names of stage {self.stage!r}",
                    state_machines={k: target.state_machine_arn(k) for k in STATE_MACHINE_KINDS},
                    table_name=target.table_name,
                    fleet_bucket=target.fleet_bucket,
                    alert_topic_arn=target.alert_topic_arn,
                    functions={TOKEN_FUNCTION: target.function_name(TOKEN_FUNCTION)},
                )
        return self._resources

    def _from_stack(self, stack: str) -> StageResources:
        from botocore.exceptions import ClientError

        cloudformation = self.client("cloudformation")
        try:
            stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
        except ClientError as error:
            # AWS answers a missing stack with the generic ValidationError ("Stack with id
            # X does not exist"); any other code is a real refusal and goes up as it is.
            if _error_code(error) != "ValidationError":
                raise
            stacks = []
        if not stacks:
            raise StackNotFound(
                f"no CloudFormation stack {stack!r} in {self.where()}: deploy the package "
                "there, or pass the right --stack-name / --aws-region / --profile"
            )
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs") or []}
        machines = {STACK_OUTPUTS[k]: k for k in STATE_MACHINE_KINDS}
        if not any(outputs.get(key) for key in machines):
            raise StackNotFound(
                f"stack {stack!r} in {self.where()} (status {stacks[0].get('StackStatus')}) "
                f"has none of the outputs {', '.join(machines)}: is it a stack of the "
                "orchestrator's CloudFormation package, and is it deployed?"
            )
        return StageResources(
            found_by=f"the outputs of stack {stack!r}",
            state_machines={kind: outputs[key] for key, kind in machines.items() if key in outputs},
            table_name=outputs.get(STACK_OUTPUTS["table"]),
            fleet_bucket=outputs.get(STACK_OUTPUTS["fleet_bucket"]),
            alert_topic_arn=outputs.get(STACK_OUTPUTS["alert_topic"]),
            functions=self._stack_functions(stack),
        )

    def _stack_functions(self, stack: str) -> dict[str, str]:
        """The token function's physical name in the stack (Chalice's package names its
        logical id by CamelCase: ``create_workload`` -> ``CreateWorkload``)."""
        from botocore.exceptions import ClientError

        logical = "".join(part.capitalize() for part in TOKEN_FUNCTION.split("_"))
        try:
            paginator = self.client("cloudformation").get_paginator("list_stack_resources")
            for page in paginator.paginate(StackName=stack):
                for resource in page.get("StackResourceSummaries", []):
                    if resource.get("LogicalResourceId") == logical:
                        return {TOKEN_FUNCTION: str(resource["PhysicalResourceId"])}
        except ClientError:
            return {}  # only settings depend on it, and they have defaults
        return {}

    def state_machine_arn(self, kind: str, explicit: str | None = None) -> str:
        """The ARN of one of the stage's machines (or ``explicit``), checked to exist.

        Raises:
            StateMachineNotFound: it is not there; the message says which name was looked
                for, in which account and region, and what to do.
        """
        from botocore.exceptions import ClientError

        label = kind.replace("_", " ")
        if explicit:
            arn, found_by = explicit, "--state-machine-arn"
        else:
            resources = self.resources()
            if kind not in resources.state_machines:
                raise StateMachineNotFound(
                    f"{resources.found_by} name no {label} state machine (no output "
                    f"{STACK_OUTPUTS[kind]}): deploy the package again, or pass --state-machine-arn"
                )
            arn, found_by = resources.state_machines[kind], resources.found_by
        if arn in self._verified:
            return arn
        try:
            self.client_for("stepfunctions", arn).describe_state_machine(stateMachineArn=arn)
        except ClientError as error:
            code = _error_code(error)
            if code in ("StateMachineDoesNotExist", "InvalidArn"):
                raise StateMachineNotFound(self._missing(label, arn, found_by)) from None
            # Allowed to start executions but not to describe the machine: let the call
            # that matters say whether the machine is there.
            if "AccessDenied" not in code:
                raise
        self._verified.add(arn)
        return arn

    def _missing(self, label: str, arn: str, found_by: str) -> str:
        name = arn.rsplit(":", 1)[-1]
        parts = arn.split(":")
        where = f"AWS account {parts[4]}, region {parts[3]}" if len(parts) > 4 else self.where()
        if self.options.stack_name and found_by != "--state-machine-arn":
            fix = f"the stack {self.options.stack_name!r} names a machine that is gone: update it"
        elif found_by == "--state-machine-arn":
            fix = "check the ARN, or leave --state-machine-arn out to use the stage's machine"
        else:
            fix = (
                f"deploy the stage there (./deploy.sh --stage {self.stage}), or say where it "
                "is: --stage NAME, --aws-region REGION, --profile NAME (another account), or "
                "--stack-name NAME for a CloudFormation deployment"
            )
        return f"no {label} state machine {name} in {where} (looked up by {found_by}): {fix}"

    def results_table(self, execution_arn: str | None = None) -> str:
        """The coordination table that holds a fleet's results.

        With ``--stack-name`` the stack's output; else the table of the stage the fleet
        execution belongs to (its machine's name and ARN tell stage, account and region),
        else the table of ``--stage``.
        """
        if self.options.stack_name or execution_arn is None:
            table = self.resources().table_name
            if not table:
                raise StackNotFound(
                    f"{self.resources().found_by} name no coordination table "
                    f"(output {STACK_OUTPUTS['table']})"
                )
            return table
        return fleet_execution_target(execution_arn).table_name

    # -- Stax --------------------------------------------------------------------------
    def function_environment(self) -> dict[str, str]:
        """The Stax variables of the stage's deployed token function, read once; empty
        when it is not deployed (``setup`` runs before the first deploy) or may not be read
        (the defaults then apply, as they would have before)."""
        if self._function_environment is None:
            self._function_environment = self._read_function_environment()
        return dict(self._function_environment)

    def _read_function_environment(self) -> dict[str, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        name = self.resources().functions.get(TOKEN_FUNCTION)
        if not name:
            return {}
        try:
            configuration = self.client("lambda").get_function_configuration(FunctionName=name)
        except (ClientError, BotoCoreError):
            return {}
        variables = (configuration.get("Environment") or {}).get("Variables") or {}
        return {k: str(v) for k, v in variables.items() if k in STAX_VARIABLES}

    def stax_environment(self) -> dict[str, str]:
        """Stax settings' inputs: this process's environment over the deployed stage's."""
        deployed = self.function_environment()
        mine = {k: v for k, v in self._environ.items() if k in STAX_VARIABLES and v.strip()}
        return {**deployed, **mine}

    def stax_access(self) -> Any:
        """A Stax client holder for the token in the stage's SSM parameters.

        Raises:
            CliError: ``STAX_REGION`` names no Stax installation.
        """
        from chalicelib import settings
        from chalicelib.stax import SsmCredentials, StaxAccess

        try:
            config = settings.stax_settings(self.stax_environment())
        except ValueError as error:
            raise CliError(str(error), EXIT_CONFIG) from None
        credentials = SsmCredentials(
            lambda: self.client("ssm"), config.access_key_parameter, config.secret_key_parameter, 0
        )
        return StaxAccess(config, credentials)
