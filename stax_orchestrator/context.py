"""The AWS and Stax side of one CLI run: one session, its clients, and where a stage is.

Role: the factory every command is handed (the shape of Chalice's ``CLIFactory``). It is
built from the global options -- ``--profile``, ``--aws-region``, ``--stage``,
``--stack-name``, ``--local`` -- and builds nothing until a command asks: one boto3
session, clients with adaptive retries made from it, the caller's account (STS), and a
stage's resources. Nothing is read from a checkout: a stage's state machines, table,
bucket and functions are found in the Outputs of its CloudFormation stack -- the stage's
own (``stax-orchestrator-<stage>``, which ``deploy.sh`` deploys) or the one
``--stack-name`` names (the package, deployed under any name). One way, both paths.

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
from stax_orchestrator.deploy.names import APP_NAME, OUTPUT_KEYS, Target, placeholder

#: The Outputs of a stage's stack the CLI reads.
STACK_OUTPUTS = OUTPUT_KEYS
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
    """The stage's stack is not there, or is not a stack of the orchestrator."""


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
                # As the AWS CLI v2: --aws-region, then AWS_REGION, then AWS_DEFAULT_REGION
                # and the profile (botocore reads only the last two).
                region = self.options.aws_region or os.environ.get("AWS_REGION") or None
                self._session = self._session_factory(
                    profile_name=self.options.profile, region_name=region
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
    @property
    def stack_name(self) -> str:
        """``--stack-name``, else the stage's own stack."""
        return self.options.stack_name or f"{APP_NAME}-{self.stage}"

    def resources(self) -> StageResources:
        """The stage's resources, from its stack's Outputs."""
        if self._resources is None:
            self._resources = self._from_stack(self.stack_name, self.region)
        return self._resources

    def _from_stack(self, stack: str, region: str) -> StageResources:
        from botocore.exceptions import ClientError

        cloudformation = self.client("cloudformation", region)
        where = f"AWS account {self.account}, region {region}"
        try:
            stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
        except ClientError as error:
            # AWS answers a missing stack with the generic ValidationError ("Stack with id
            # X does not exist"); any other code is a real refusal and goes up as it is.
            if _error_code(error) != "ValidationError":
                raise
            stacks = []
        if not stacks:
            how = (
                "deploy the package there, or pass the right --stack-name"
                if self.options.stack_name
                else f"deploy the stage (./deploy.sh --stage {self.stage}), or say where it "
                "is: --stage NAME, --stack-name NAME (a package deployed under another name)"
            )
            raise StackNotFound(
                f"no CloudFormation stack {stack!r} in {where}: {how}, --aws-region REGION, "
                "--profile NAME (another account)"
            )
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs") or []}
        machines = {STACK_OUTPUTS[k]: k for k in STATE_MACHINE_KINDS}
        if not any(outputs.get(key) for key in machines):
            raise StackNotFound(
                f"stack {stack!r} in {where} (status {stacks[0].get('StackStatus')}) "
                f"has none of the outputs {', '.join(machines)}: is it a stack of the "
                "orchestrator, and is it deployed?"
            )
        token_function = outputs.get(placeholder(TOKEN_FUNCTION))
        return StageResources(
            found_by=f"the outputs of stack {stack!r}",
            state_machines={kind: outputs[key] for key, kind in machines.items() if key in outputs},
            table_name=outputs.get(STACK_OUTPUTS["table"]),
            fleet_bucket=outputs.get(STACK_OUTPUTS["fleet_bucket"]),
            alert_topic_arn=outputs.get(STACK_OUTPUTS["alert_topic"]),
            functions={TOKEN_FUNCTION: token_function} if token_function else {},
        )

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
        if found_by == "--state-machine-arn":
            fix = "check the ARN, or leave --state-machine-arn out to use the stage's machine"
        else:
            fix = (
                f"the stack {self.stack_name!r} names a machine that is gone: deploy it again "
                f"(./deploy.sh --stage {self.stage}) and see `stax-orchestrator stage status`"
            )
        return f"no {label} state machine {name} in {where} (looked up by {found_by}): {fix}"

    def results_table(self, execution_arn: str | None = None) -> str:
        """The coordination table that holds a fleet's results: the output of the stack of
        the stage the fleet execution belongs to (its machine's name and ARN tell stage,
        account and region; ``--stack-name`` names the stack itself), else of ``--stage``'s.

        Raises:
            StackNotFound: that stack is not there or names no table; the execution is in
                another account than the caller's (its table cannot be read from here).
        """
        resources = None
        if execution_arn is not None and not self.options.stack_name:
            other = fleet_execution_target(execution_arn)
            if other.account != self.account:
                raise StackNotFound(
                    f"{execution_arn} is an execution in AWS account {other.account}; "
                    f"these credentials are for {self.account}: pass --profile for that account"
                )
            if (other.stage, other.region) != (self.stage, self.region):
                resources = self._from_stack(other.stack_name, other.region)
        resources = resources or self.resources()
        if not resources.table_name:
            raise StackNotFound(
                f"{resources.found_by} name no coordination table (output {STACK_OUTPUTS['table']})"
            )
        return resources.table_name

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

        try:
            name = self.resources().functions.get(TOKEN_FUNCTION)
        except CliError:  # no stack yet: the stage is not deployed
            return {}
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

    def secrets(self) -> Any:
        """Reads the workload parameter values the stage keeps in SSM (under its secrets
        folder only), for plans to compare by digest; never printed."""
        from chalicelib import settings
        from chalicelib.secrets import SsmSecrets

        prefix = settings.workload_secrets_prefix(self.stax_environment())
        return SsmSecrets(lambda: self.client("ssm"), prefix)
