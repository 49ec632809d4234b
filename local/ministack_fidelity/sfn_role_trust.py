"""A state machine's role must trust Step Functions, with its conditions, as on AWS.

On AWS, Step Functions uses a state machine's execution role by assuming it
(``sts:AssumeRole``) as the service principal ``states.amazonaws.com`` (or the regional
``states.REGION.amazonaws.com``). The role's trust policy decides; with the condition keys
AWS recommends against the confused deputy, ``aws:SourceAccount`` (the machine's account)
and ``aws:SourceArn`` (the state machine's ARN): "Prevent cross-service confused deputy
issue", https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html.
MiniStack 1.5.33 never reads the trust policy (and takes a role that does not exist).
Here the role's ``AssumeRolePolicyDocument``, read from MiniStack's IAM store, is evaluated
by MiniStack's own IAM evaluator (``evaluate_resource_policy`` with the service principal,
as its S3 notifications evaluate a policy naming a service; conditions by its shared
``_conditions_met``): a statement counts when its ``Principal`` is ``*`` or names the
service; an explicit Deny wins; no Allow is a refusal. A role that does not exist is
refused as well.

**When.**

- ``CreateStateMachine`` and ``UpdateStateMachine`` (when it names a ``roleArn``), and the
  CloudFormation ``AWS::StepFunctions::StateMachine`` create (its updates go through
  ``UpdateStateMachine``): the call is refused with ``AccessDeniedException``, "Neither the
  global service principal states.amazonaws.com, nor the regional one is authorized to
  assume the provided role." — AWS's words and code for this refusal (the Step Functions
  CloudFormation provider, ``aws-cloudformation/aws-cloudformation-resource-providers-
  stepfunctions``, ``Constants.STS_AUTHORIZED_TO_ASSUME_MESSAGE_SUBSTRING`` with
  ``AccessDeniedException``; Terraform's "Error creating Step Function State Machine:
  AccessDeniedException: Neither the global service principal ..."). Through
  CloudFormation the resource fails (``HandlerErrorCode: AccessDenied``) and the stack
  rolls back. Harsher reading: the conditions are evaluated at creation too, with the
  machine's own ARN as ``aws:SourceArn`` (AWS does not document whether its create-time
  check sets them), so a trust naming another machine cannot be created either. The
  definition is checked first (InvalidDefinition wins, as MiniStack orders its checks).
- Each execution when it starts (``StartExecution``, ``StartSyncExecution``, a child
  started by a ``states:startExecution`` task): ``aws:SourceArn`` is the machine's ARN
  (an execution of a version or alias: its machine's). AWS documents no error for a role
  it cannot assume once the machine exists (seen on AWS: an execution whose trust names
  another region's principal fails with the message above, lumigo-io/lumigo-CLI#83). The
  reading here: ``StartExecution`` answers as usual and the execution fails at once,
  before its first state, with ``States.Runtime`` (neither retried nor caught,
  ``terminal_errors``) and that message as its cause. A parent's ``.sync`` task sees its
  child fail (``child_failure``).
- Each Distributed Map child execution when it starts: it runs with the parent's role,
  and its state machine is the Map Run's, ``arn:aws:states:REGION:ACCOUNT:stateMachine:
  NAME/LABEL`` (``DescribeStateMachineForExecution`` of a child answers "the state machine
  associated with the Map Run", https://docs.aws.amazon.com/step-functions/latest/
  apireference/API_DescribeStateMachineForExecution.html; the child's ``stateMachineArn``
  in ``distributed_map``): that is its ``aws:SourceArn``. A trust that names only
  ``...:stateMachine:NAME`` (``ArnEquals``) refuses the children; ``ArnLike``
  ``...:stateMachine:NAME/*`` lets them run. A refused child fails with ``States.Runtime``
  and the message above; as any failed child it counts against the Map Run's tolerated
  failures (by default the Map Run fails: ``States.ExceedToleratedFailureThreshold``).

Not checked: TestState, a task's ``Credentials`` (another role), session tags, the
caller's ``iam:PassRole``.

Patched: ``_create_state_machine``, ``_update_state_machine``, ``_run_execution`` (the
start of every execution), ``_run_sub_machine`` (the start of a Distributed Map child: the
first run of a record carrying a ``mapRunArn``); CloudFormation's
``_sfn_state_machine_create``. Read from MiniStack's IAM evaluator: ``EvalContext``,
``evaluate_resource_policy``, ``_service_principal_matches``, ``_principal_matches``,
``_conditions_met`` (``IAM_EXPECTED``).
"""

from __future__ import annotations

import contextvars
import functools
import uuid
from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap
from .sfn_role_permissions import arn_parts, region_account, role_account, role_name

STATES_PRINCIPAL = "states.amazonaws.com"
ASSUME_ROLE = "sts:AssumeRole"
NOT_ASSUMABLE = (
    "Neither the global service principal states.amazonaws.com, nor the regional one is "
    "authorized to assume the provided role."
)
ACCESS_DENIED = "AccessDeniedException"
RUNTIME = "States.Runtime"
ALLOW, DENY = "Allow", "Deny"
RESOURCE_TYPE = "AWS::StepFunctions::StateMachine"

EXPECTED = {
    "_create_state_machine": Expectation(("data",), "4bc1231dda6925d2"),
    "_update_state_machine": Expectation(("data",), "476e0deee6a3d66b"),
    "_run_execution": Expectation(("exec_arn",), "996dff84e0e0605a"),
    "_run_sub_machine": Expectation(
        ("states", "start_at", "input_data", "execution", "ctx"), "f8d844168b1459f8"
    ),
    "_validate_definition_jsonata": Expectation(("definition_str",), "a5ec092b2c8d49b8"),
    "_fail_execution": Expectation(("execution", "error", "cause"), "e6da895fa0b74cdd"),
}
IAM_EXPECTED = {
    "evaluate_resource_policy": Expectation(
        ("doc", "ctx", "service", "named_only", "direct_only"), "e49ce7161ad63e35"
    ),
    "_service_principal_matches": Expectation(("principal", "service"), "877a8fc9914bdb89"),
    "_principal_matches": Expectation(("principal", "caller_arn"), "e1370d344db7cdef"),
    "_conditions_met": Expectation(("conditions", "ctx"), "15b4c24a03e3ff17"),
}
CFN_EXPECTED = {
    "_sfn_state_machine_create": Expectation(
        ("logical_id", "props", "stack_name"), "d2ffde42cb0e8dbd"
    ),
    "_sdk_error": Expectation(("message", "service", "status", "request_id"), "c9fd54fb63ffc230"),
}

#: The Distributed Map child whose start was checked in this context (its execution ARN).
CHECKED_CHILD: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ministack_role_trust_child", default=None
)


# ---------------------------------------------------------------- rules, without MiniStack


def principals(region: str) -> tuple[str, str]:
    """The global and the regional Step Functions service principals."""
    return STATES_PRINCIPAL, f"states.{region}.amazonaws.com"


def machine_arn(name: str, region: str, account: str) -> str:
    return f"arn:aws:states:{region}:{account}:stateMachine:{name}"


def base_machine_arn(arn: str) -> str:
    """A version or alias ARN's machine (``...:stateMachine:NAME:1`` -> ``...:NAME``)."""
    parts = arn_parts(arn)
    if not parts or not parts[5].startswith("stateMachine:"):
        return arn
    name = parts[5].split(":")[1]
    return ":".join([*parts[:5], f"stateMachine:{name}"])


def source_keys(source_arn: str, account: str) -> dict[str, str]:
    """The condition keys Step Functions sets when it assumes the role (lower case, as
    MiniStack's evaluator looks them up)."""
    return {"aws:sourcearn": source_arn, "aws:sourceaccount": account}


# ---------------------------------------------------------------- on MiniStack


def assumable(
    ev: Any, iam: Any, role_arn: Any, source_arn: str, services: tuple[str, ...] = ()
) -> bool:
    """Whether Step Functions (or ``services``) may assume ``role_arn`` for ``source_arn``
    (a state machine ARN): the role exists and its trust policy, evaluated by MiniStack's
    evaluator ``ev`` for the global or the regional principal, allows ``sts:AssumeRole``
    (no Deny)."""
    region, account = region_account(source_arn)
    name = role_name(role_arn)
    owner = role_account(role_arn, account)
    role = iam._roles.get_scoped(owner, None, name) if name else None
    if role is None:
        return False
    document = role.get("AssumeRolePolicyDocument") or "{}"
    decisions = set()
    for principal in services or principals(region):
        context = ev.EvalContext(
            principal_arn=principal,
            principal_type="Service",
            principal_account="",
            action=ASSUME_ROLE,
            resource_arn=str(role_arn),
            region=region,
            service_context=source_keys(source_arn, account),
        )
        decisions.add(str(ev.evaluate_resource_policy(document, context, principal).decision))
    return ALLOW in decisions and DENY not in decisions


def install(sf: Any, ev: Any, iam: Any) -> None:
    """Patch ``sf`` (MiniStack's Step Functions) to evaluate the trust policies of ``iam``
    (its IAM service) with ``ev`` (its IAM evaluator)."""

    def refusal() -> Any:
        return sf.error_response_json(ACCESS_DENIED, NOT_ASSUMABLE, 400)

    def checking_create(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_state_machine(data: Any) -> Any:
            name, role = data.get("name"), data.get("roleArn")
            if (
                isinstance(name, str) and name and role_name(role) is not None
                and not sf._validate_definition_jsonata(data.get("definition"))
            ):  # fmt: skip
                arn = machine_arn(name, sf.get_region(), sf.get_account_id())
                if not assumable(ev, iam, role, arn):
                    return refusal()
            return original(data)

        return create_state_machine

    def checking_update(original: Callable[..., Any]) -> Callable[..., Any]:
        def update_state_machine(data: Any) -> Any:
            arn, role = data.get("stateMachineArn"), data.get("roleArn")
            if (
                "roleArn" in data and arn in sf._state_machines
                and not ("definition" in data
                         and sf._validate_definition_jsonata(data["definition"]))
                and not assumable(ev, iam, role, arn)
            ):  # fmt: skip
                return refusal()
            return original(data)

        return update_state_machine

    wrap(sf, "_create_state_machine", checking_create)
    wrap(sf, "_update_state_machine", checking_update)
    _install_execution_checks(sf, ev, iam)


def _install_execution_checks(sf: Any, ev: Any, iam: Any) -> None:
    def checking_start(original: Callable[..., Any]) -> Callable[..., Any]:
        def run_execution(exec_arn: Any) -> Any:
            execution = sf._executions.get(exec_arn)
            machine = sf._state_machines.get(execution["stateMachineArn"]) if execution else None
            if machine is not None and not assumable(
                ev, iam, machine.get("roleArn"), base_machine_arn(machine["stateMachineArn"])
            ):
                sf._fail_execution(execution, RUNTIME, NOT_ASSUMABLE)
                return None
            return original(exec_arn)

        return run_execution

    wrap(sf, "_run_execution", checking_start)

    def checking_map_child(original: Callable[..., Any]) -> Callable[..., Any]:
        def run_sub_machine(*args: Any) -> Any:
            _states, _start_at, _input_data, execution, ctx = args
            child = execution.get("executionArn") if isinstance(execution, dict) else None
            if not (child and execution.get("mapRunArn")) or CHECKED_CHILD.get() == child:
                return original(*args)
            role = ((ctx or {}).get("Execution") or {}).get("RoleArn")
            if not assumable(ev, iam, role, str(execution.get("stateMachineArn"))):
                raise sf._ExecutionError(RUNTIME, NOT_ASSUMABLE)
            token = CHECKED_CHILD.set(child)
            try:
                return original(*args)
            finally:
                CHECKED_CHILD.reset(token)

        return run_sub_machine

    wrap(sf, "_run_sub_machine", checking_map_child)


def install_cloudformation(provisioners: Any, sf: Any, ev: Any, iam: Any) -> None:
    """A template's state machine whose role does not trust Step Functions fails (rolled
    back: the record the provisioner wrote is removed)."""

    def checking_create(original: Callable[..., Any]) -> Callable[..., Any]:
        def sfn_state_machine_create(logical_id: Any, props: Any, stack_name: Any) -> Any:
            arn, attrs = original(logical_id, props, stack_name)
            record = sf._state_machines.get(arn) or {}
            if not assumable(ev, iam, record.get("roleArn"), arn):
                sf._state_machines.pop(arn, None)
                sf._tags.pop(arn, None)
                message = provisioners._sdk_error(NOT_ASSUMABLE, "Sfn", 400)
                raise ValueError(
                    f'Resource handler returned message: "{message}" '
                    f"(RequestToken: {uuid.uuid4()}, HandlerErrorCode: AccessDenied)"
                )
            return arn, attrs

        return sfn_state_machine_create

    # Both ways in: the resource table (a create) and the module function a replacement
    # (a renamed machine) calls.
    handlers = provisioners._RESOURCE_HANDLERS[RESOURCE_TYPE]
    handlers["create"] = functools.wraps(handlers["create"])(checking_create(handlers["create"]))
    wrap(provisioners, "_sfn_state_machine_create", checking_create)
