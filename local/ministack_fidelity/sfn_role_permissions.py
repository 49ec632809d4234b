"""A state machine's execution role must allow each call its tasks make, as on AWS.

On AWS, Step Functions makes every call of a Task state (and of a Distributed Map) with the
credentials of the state machine's execution role: a call the role does not allow fails, as
the call of any other principal would. MiniStack 1.5.33 makes every call whatever the role
says (and whether or not the role exists). Here, before each call, the role's identity-based
policies (inline and attached, limited by its permissions boundary), read from MiniStack's
IAM store, are evaluated by MiniStack's own IAM evaluator (``ministack/core/iam_evaluator.py``,
as ``AUTH=true`` evaluates an assumed role): an explicit Deny wins, no Allow is an implicit
deny. A role that does not exist, or a machine without one, allows nothing.

**The calls checked** (the permissions the Step Functions guide lists for each integration,
https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html and
https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html):

- ``lambda:InvokeFunction`` on the function (qualified when the reference is) for
  ``arn:aws:states:::lambda:invoke`` (``.waitForTaskToken`` too) and a bare Lambda ARN;
- ``states:StartExecution`` on the child machine for ``arn:aws:states:::states:startExecution``
  (any pattern); for ``.sync`` / ``.sync:2`` also ``states:DescribeExecution`` and
  ``states:StopExecution`` on the child's execution and ``events:PutTargets`` /
  ``events:PutRule`` / ``events:DescribeRule`` on
  ``arn:aws:events:REGION:ACCOUNT:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule``
  ("Synchronous" policy of the first page);
- ``dynamodb:PutItem`` / ``GetItem`` / ``UpdateItem`` / ``DeleteItem`` on the table for
  ``arn:aws:states:::dynamodb:putItem`` (and the three others);
- a Distributed Map: ``states:StartExecution`` on the state machine itself and
  ``states:DescribeExecution`` / ``states:StopExecution`` on its child executions
  (``execution:NAME/LABEL:...``) before any child starts; its ``ItemReader``:
  ``s3:GetObject`` on each object read, ``s3:ListBucket`` on the bucket for
  ``s3:listObjectsV2``; its ``ResultWriter``: ``s3:PutObject`` on each object it exports
  (``map_results``; a denial fails the Map state with States.ResultWriterFailed);
- a Distributed Map child's tasks are checked with the parent's role (the child's context
  object carries it, ``distributed_map``).

Not checked (MiniStack's own behaviour): other integrations (``aws-sdk:*``, SQS, SNS,
EventBridge, ECS), a task's ``Credentials`` field, TestState, the role's trust policy and
resource-based policies (a Lambda function policy granting the role is not consulted: the
role's own policies must grant it, the harsher reading).

**The errors.** A denied call fails the task with the error the service's Java SDK raises,
as Step Functions reports a service's error, and the cause is the service's message with the
SDK's suffix (seen on AWS: "User: arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION is not
authorized to perform: lambda:InvokeFunction on resource: FUNCTION because no identity-based
policy allows the lambda:InvokeFunction action (Service: AWSLambda; Status Code: 403; Error
Code: AccessDeniedException; Request ID: ...; Proxy: null)"):

- Lambda: ``Lambda.AWSLambdaException`` (status 403);
- Step Functions: ``StepFunctions.AWSStepFunctionsException`` (status 400); for the managed
  rule of ``.sync`` the message AWS gives: "'ROLE_ARN' is not authorized to create
  managed-rule.";
- DynamoDB: ``DynamoDB.AmazonDynamoDBException`` (status 400, "Service: AmazonDynamoDBv2");
- the ItemReader: the Map state fails with ``States.ItemReaderFailed`` ("A Map state failed
  because it couldn't read from the item source specified in the ItemReader field",
  https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html; an
  access denied is one such failure, https://github.com/floci-io/floci/pull/1588), S3's
  message quoting the resource;
- the Distributed Map's own StartExecution / DescribeExecution / StopExecution: the Map state
  fails with ``States.Runtime`` (AWS documents no error name: the harsher reading, neither
  retried nor caught, ``terminal_errors``).

An error name ``ServiceName.ErrorName`` is what the AWS SDK integrations document
(https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html);
the optimized integrations report the SDK exception's class instead when the service's
code is not modelled (``AWSLambdaException`` as seen on AWS; LocalStack's readings
``DynamoDB.AmazonDynamoDBException``). Every such error is a task failure: Retry and Catch
see it (all but ``States.Runtime``). Harsher readings: every permission of an integration
is checked before its first call (on AWS a ``.sync`` task lacking DescribeExecution starts
the child, then fails; StopExecution is needed only to stop it; the events permissions are
checked by CreateStateMachine, "is not authorized to create managed-rule"), so the task fails
before the child starts; the Distributed Map's permissions are checked when the state
starts, before its reader.

Patched: ``_execute_task`` (the role of the running execution: ``$$.Execution.RoleArn`` of a
Distributed Map child, else the machine's ``roleArn``), ``_invoke_resource`` (also through
``_invoke_resource_with_timeout``, which keeps the context) and ``_invoke_with_callback``
(checked before the call), ``_run_distributed_map`` (the Map's own permissions),
``_read_map_items`` (ListBucket) and ``_s3_object_text`` (GetObject). Read from MiniStack's
IAM evaluator: ``evaluate``, ``EvalContext``, ``_gather_role_policies``,
``_permissions_boundary`` (``IAM_EXPECTED``).
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from . import item_reader_version
from ._patching import Expectation, wrap

LAMBDA, STATES, MANAGED_RULE, DYNAMODB, ITEM_READER, MAP_RUN, RESULT_WRITER = (
    "lambda",
    "states",
    "managed-rule",
    "dynamodb",
    "item-reader",
    "map-run",
    "result-writer",
)
MANAGED_RULE_NAME = "StepFunctionsGetEventsForStepFunctionsExecutionRule"
SYNC_RULE_ACTIONS = ("events:PutTargets", "events:PutRule", "events:DescribeRule")
DYNAMODB_ACTIONS = {
    "putItem": "dynamodb:PutItem",
    "getItem": "dynamodb:GetItem",
    "updateItem": "dynamodb:UpdateItem",
    "deleteItem": "dynamodb:DeleteItem",
}
OPTIMIZED = "arn:aws:states:::"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RUNTIME = "States.Runtime"

#: The Step Functions SDK's suffix of a cause (``{request}``: the request id).
STATES_SUFFIX = (
    "(Service: AWSStepFunctions; Status Code: 400; Error Code: AccessDeniedException; "
    "Request ID: {request}; Proxy: null)"
)
#: The denial each kind of call fails with: (error, the SDK's suffix of the cause) — the
#: suffix names the service, the status and the request; ``{request}`` is filled in.
FAILURES = {
    LAMBDA: (
        "Lambda.AWSLambdaException",
        "(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; "
        "Request ID: {request}; Proxy: null)",
    ),
    STATES: ("StepFunctions.AWSStepFunctionsException", STATES_SUFFIX),
    DYNAMODB: (
        "DynamoDB.AmazonDynamoDBException",
        "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: AccessDeniedException; "
        "Request ID: {request}; Proxy: null)",
    ),
    ITEM_READER: (ITEM_READER_FAILED, "(Service: S3, Status Code: 403, Request ID: {request})"),
    MAP_RUN: (RUNTIME, STATES_SUFFIX),
    RESULT_WRITER: (
        "States.ResultWriterFailed",
        "(Service: S3, Status Code: 403, Request ID: {request})",
    ),
}
FAILURES[MANAGED_RULE] = FAILURES[STATES]

#: The decisions of an evaluation (MiniStack's three, and the boundary's two).
ALLOW, DENY, IMPLICIT_DENY = "Allow", "Deny", "ImplicitDeny"
BOUNDARY_DENY, NO_BOUNDARY_ALLOW = "BoundaryDeny", "NoBoundaryAllow"

EXPECTED = {
    "_execute_task": Expectation(
        ("state_def", "raw_input", "execution", "ctx"), "53c818d247dba62c"
    ),
    "_invoke_resource": Expectation(("resource", "input_data"), "a85d2be9a8584ce0"),
    "_invoke_resource_with_timeout": Expectation(
        ("resource", "input_data", "timeout"), "faeed0bf70d53efc"
    ),
    "_invoke_with_callback": Expectation(
        ("resource", "input_data", "token", "state_def"), "bbb38423156a0d3d"
    ),
    "_nested_start_execution_request": Expectation(("input_data",), "7882a755af3e94be"),
    "_run_distributed_map": Expectation(
        ("state_def", "raw_input", "effective", "iterator", "execution", "ctx"),
        "2b77d3ec0e04f8f1",
    ),
    "_read_map_items": Expectation(("reader", "effective", "ctx"), "b846851544b897fa"),
    "_s3_object_text": Expectation(("bucket", "key"), "9351030b682220e3"),
    "_resolve_params_obj": Expectation(("template", "data", "ctx"), "d41c2e27dd1b00a5"),
}

EVAL_CONTEXT_FIELDS = (
    "principal_arn", "principal_type", "principal_account", "action", "resource_arn", "region",
    "source_ip", "secure_transport", "request_tags", "tag_keys", "service_context",
    "principal_keys",
)  # fmt: skip
#: MiniStack's IAM evaluator (``ministack.core.iam_evaluator``), as AUTH=true uses it.
IAM_EXPECTED = {
    "evaluate": Expectation(("ctx", "policies", "limits"), "2a5dd6932d1aca6a"),
    "EvalContext": Expectation(EVAL_CONTEXT_FIELDS, "f5769904b3fa1d4e"),
    "_gather_role_policies": Expectation(("role_name", "account_id"), "d83d1661b86595ac"),
    "_permissions_boundary": Expectation(("store", "name", "account_id"), "55c125bd0cf5cfe7"),
}


class Call(NamedTuple):
    """One call Step Functions makes with the role: its kind (``FAILURES``), action, resource."""

    kind: str
    action: str
    resource: str


class Scope(NamedTuple):
    """Who makes the calls of the running task: the role, and the machine it runs for."""

    role_arn: str | None
    machine_arn: str


#: The scope of the task (or item reader) the current thread runs (None: outside any).
CURRENT: contextvars.ContextVar[Scope | None] = contextvars.ContextVar(
    "ministack_role_permissions_scope", default=None
)


# ---------------------------------------------------------------- rules, without MiniStack


def arn_parts(arn: Any) -> list[str]:
    """An ARN's six fields (the last one keeps its colons); [] for anything else."""
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return []
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 else []


def region_account(machine_arn: str) -> tuple[str, str]:
    parts = arn_parts(machine_arn)
    return (parts[3], parts[4]) if parts else ("us-east-1", "000000000000")


def role_name(role_arn: Any) -> str | None:
    """``arn:aws:iam::ACCOUNT:role/path/NAME`` -> ``NAME`` (None: not a role ARN)."""
    parts = arn_parts(role_arn)
    if not parts or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    return parts[5].rsplit("/", 1)[-1] or None


def role_account(role_arn: Any, fallback: str) -> str:
    parts = arn_parts(role_arn)
    return parts[4] if parts and parts[4] else fallback


def assumed_role_arn(role_arn: Any, account: str, session: str) -> str:
    """The principal Step Functions calls as: the role's session."""
    return f"arn:aws:sts::{account}:assumed-role/{role_name(role_arn) or '(none)'}/{session}"


def function_arn(reference: Any, region: str, account: str) -> str | None:
    """The ARN IAM evaluates for a Lambda reference (name, partial or full ARN; qualified or
    not). None when there is no reference."""
    if not isinstance(reference, str) or not reference:
        return None
    if reference.startswith("arn:"):
        return reference
    parts = reference.split(":")
    if len(parts) >= 3 and parts[1] == "function":  # ACCOUNT:function:NAME[:QUALIFIER]
        return f"arn:aws:lambda:{region}:{parts[0]}:function:{':'.join(parts[2:])}"
    return f"arn:aws:lambda:{region}:{account}:function:{reference}"


def table_arn(table: Any, region: str, account: str) -> str | None:
    if not isinstance(table, str) or not table:
        return None
    if table.startswith("arn:"):
        return table
    return f"arn:aws:dynamodb:{region}:{account}:table/{table}"


def execution_arn(machine_arn: str, name: str) -> str:
    """The ARN of an execution ``name`` of ``machine_arn`` (a version or alias: its machine)."""
    parts = arn_parts(machine_arn)
    machine = parts[5].split(":")[1] if parts and ":" in parts[5] else machine_arn
    return f"arn:aws:states:{parts[3]}:{parts[4]}:execution:{machine}:{name}" if parts else name


def managed_rule_arn(region: str, account: str) -> str:
    return f"arn:aws:events:{region}:{account}:rule/{MANAGED_RULE_NAME}"


def _param(params: Any, *names: str) -> Any:
    if not isinstance(params, dict):
        return None
    return next((params[name] for name in names if params.get(name)), None)


def start_execution_calls(
    resource: str, params: Any, region: str, account: str, name: str
) -> list[Call]:
    """StartExecution's calls: the rule for ``.sync`` first (AWS checks it before any
    execution: at CreateStateMachine), then the start, then following the child."""
    machine = _param(params, "StateMachineArn", "stateMachineArn")
    if not isinstance(machine, str) or not machine:
        return []
    calls = []
    sync = ".sync" in resource
    if sync:
        rule = managed_rule_arn(region, account)
        calls += [Call(MANAGED_RULE, action, rule) for action in SYNC_RULE_ACTIONS]
    calls.append(Call(STATES, "states:StartExecution", machine))
    if sync:
        execution = execution_arn(machine, str(_param(params, "Name", "name") or name))
        calls += [Call(STATES, "states:DescribeExecution", execution),
                  Call(STATES, "states:StopExecution", execution)]  # fmt: skip
    return calls


def task_calls(resource: Any, params: Any, machine_arn: str, name: str | None = None) -> list[Call]:
    """The calls a Task state with ``resource`` makes with its effective input ``params``
    (``name``: the child execution's name when ``params`` gives none). [] when not checked."""
    if not isinstance(resource, str):
        return []
    region, account = region_account(machine_arn)
    clean = resource.replace(".waitForTaskToken", "")
    if clean.startswith(f"{OPTIMIZED}lambda:invoke"):
        function = function_arn(_param(params, "FunctionName"), region, account)
        return [Call(LAMBDA, "lambda:InvokeFunction", function)] if function else []
    if ":function:" in clean and not clean.startswith(OPTIMIZED):
        function = function_arn(clean, region, account)
        return [Call(LAMBDA, "lambda:InvokeFunction", function)] if function else []
    if clean.startswith(f"{OPTIMIZED}states:startExecution"):
        return start_execution_calls(clean, params, region, account, name or uuid.uuid4().hex)
    for operation, action in DYNAMODB_ACTIONS.items():
        if clean == f"{OPTIMIZED}dynamodb:{operation}":
            table = table_arn(_param(params, "TableName"), region, account)
            return [Call(DYNAMODB, action, table)] if table else []
    return []


def map_run_calls(machine_arn: str, label: str) -> list[Call]:
    """A Distributed Map's own calls: start its children, follow and stop them."""
    region, account = region_account(machine_arn)
    parts = arn_parts(machine_arn)
    machine = parts[5].split(":")[1] if parts and ":" in parts[5] else machine_arn
    child = f"arn:aws:states:{region}:{account}:execution:{machine}/{label}:{uuid.uuid4().hex}"
    return [
        Call(MAP_RUN, "states:StartExecution", machine_arn),
        Call(MAP_RUN, "states:DescribeExecution", child),
        Call(MAP_RUN, "states:StopExecution", child),
    ]


def object_arn(bucket: Any, key: Any) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def reader_parameters(reader: Any) -> Any:
    """The reader's Parameters (JSONPath) or Arguments (JSONata) template, as MiniStack's."""
    if not isinstance(reader, dict):
        return {}
    return reader.get("Parameters") or reader.get("Arguments") or {}


def reader_list_call(reader: Any, params: Any) -> Call | None:
    """The ListBucket of an ``s3:listObjectsV2`` reader (GetObject is checked per object)."""
    resource = reader.get("Resource", "") if isinstance(reader, dict) else ""
    if not str(resource).endswith("s3:listObjectsV2"):
        return None
    return Call(ITEM_READER, "s3:ListBucket", f"arn:aws:s3:::{_param(params, 'Bucket')}")


def denial_reason(action: str, decision: str) -> str:
    if decision == DENY:
        return "with an explicit deny in an identity-based policy"
    if decision == BOUNDARY_DENY:
        return "with an explicit deny in a permissions boundary"
    if decision == NO_BOUNDARY_ALLOW:
        return f"because no permissions boundary allows the {action} action"
    return f"because no identity-based policy allows the {action} action"


def denial(
    call: Call, decision: str, role_arn: Any, principal: str, request: str
) -> tuple[str, str]:
    """The error and cause of a task whose call ``call`` the role does not allow."""
    error, suffix = FAILURES[call.kind]
    suffix = suffix.format(request=request)
    if call.kind == MANAGED_RULE:
        return error, f"'{role_arn}' is not authorized to create managed-rule. {suffix}"
    resource = f'"{call.resource}"' if call.kind in (ITEM_READER, RESULT_WRITER) else call.resource
    message = (
        f"User: {principal} is not authorized to perform: {call.action} on resource: "
        f"{resource} {denial_reason(call.action, decision)}"
    )
    return error, f"{message} {suffix}"


def scope_of(ctx: Any, machines: Any) -> Scope | None:
    """Who runs the task of ``ctx`` (MiniStack's context object): the Distributed Map
    child's ``RoleArn`` when given, else the role of the machine ``$$.StateMachine.Id``
    names in ``machines`` (MiniStack's records). None outside an execution."""
    if not isinstance(ctx, dict):
        return None
    machine = (ctx.get("StateMachine") or {}).get("Id")
    if not isinstance(machine, str):
        return None
    execution = ctx.get("Execution") or {}
    if execution.get("RoleArn"):
        return Scope(execution["RoleArn"], machine)
    record = machines.get(machine) or {}
    return Scope(record.get("roleArn"), machine)


# ---------------------------------------------------------------- on MiniStack


def decide(ev: Any, iam: Any, role_arn: Any, call: Call, *, region: str, account: str) -> str:
    """MiniStack's evaluation of ``call`` by the role (``ev``: its IAM evaluator, ``iam``:
    its IAM service): Allow, Deny, ImplicitDeny, BoundaryDeny or NoBoundaryAllow."""
    name = role_name(role_arn)
    owner = role_account(role_arn, account)
    if name is None or iam._roles.get_scoped(owner, None, name) is None:
        return IMPLICIT_DENY
    policies = ev._gather_role_policies(name, owner)
    context = ev.EvalContext(
        principal_arn=assumed_role_arn(role_arn, owner, "session"),
        principal_type="AssumedRole",
        principal_account=owner,
        action=call.action,
        resource_arn=call.resource,
        region=region,
    )
    identity = str(ev.evaluate(context, policies).decision)
    if identity != ALLOW:
        return identity
    limits = ev._permissions_boundary(iam._roles, name, owner)
    if limits:
        bounded = str(ev.evaluate(context, policies, *limits).decision)
        if bounded == DENY:
            return BOUNDARY_DENY
        if bounded != ALLOW:
            return NO_BOUNDARY_ALLOW
    return ALLOW


def install(sf: Any, ev: Any, iam: Any) -> None:
    """Patch ``sf`` (MiniStack's Step Functions) to check each call with ``ev`` (its IAM
    evaluator) against the roles of ``iam`` (its IAM service)."""

    def authorize(scope: Scope, calls: list[Call]) -> None:
        region, account = region_account(scope.machine_arn)
        for call in calls:
            decision = decide(ev, iam, scope.role_arn, call, region=region, account=account)
            if decision != ALLOW:
                owner = role_account(scope.role_arn, account)
                principal = assumed_role_arn(scope.role_arn, owner, uuid.uuid4().hex)
                error, cause = denial(call, decision, scope.role_arn, principal, str(uuid.uuid4()))
                raise sf._ExecutionError(error, cause)

    def in_scope(original: Callable[..., Any]) -> Callable[..., Any]:
        def execute_task(state_def: Any, raw_input: Any, execution: Any, ctx: Any) -> Any:
            token = CURRENT.set(scope_of(ctx, sf._state_machines))
            try:
                return original(state_def, raw_input, execution, ctx)
            finally:
                CURRENT.reset(token)

        return execute_task

    wrap(sf, "_execute_task", in_scope)
    _install_task_checks(sf, authorize)
    _install_map_checks(sf, authorize)


def _install_task_checks(sf: Any, authorize: Callable[[Scope, list[Call]], None]) -> None:
    def checking_task(original: Callable[..., Any]) -> Callable[..., Any]:
        def invoke(resource: Any, input_data: Any, *args: Any) -> Any:
            scope = CURRENT.get()
            if scope is not None:
                authorize(scope, task_calls(resource, input_data, scope.machine_arn))
            return original(resource, input_data, *args)

        return invoke

    wrap(sf, "_invoke_resource", checking_task)
    wrap(sf, "_invoke_with_callback", checking_task)


def _install_map_checks(sf: Any, authorize: Callable[[Scope, list[Call]], None]) -> None:
    def checking_map_run(original: Callable[..., Any]) -> Callable[..., Any]:
        def run_distributed_map(*args: Any) -> Any:
            state_def, _raw_input, _effective, _iterator, _execution, ctx = args
            scope = scope_of(ctx, sf._state_machines)
            if scope is not None:
                label = (state_def.get("Label") if isinstance(state_def, dict) else None) or "*"
                authorize(scope, map_run_calls(scope.machine_arn, str(label)))
            return original(*args)

        return run_distributed_map

    wrap(sf, "_run_distributed_map", checking_map_run)

    def checking_list(original: Callable[..., Any]) -> Callable[..., Any]:
        def read_map_items(reader: Any, effective: Any, ctx: Any) -> Any:
            scope = scope_of(ctx, sf._state_machines)
            if scope is None:
                return original(reader, effective, ctx)
            template = reader_parameters(reader)
            listing = reader_list_call(reader, sf._resolve_params_obj(template, effective, ctx))
            if listing is not None:
                authorize(scope, [listing])
            token = CURRENT.set(scope)
            try:
                return original(reader, effective, ctx)
            finally:
                CURRENT.reset(token)

        return read_map_items

    wrap(sf, "_read_map_items", checking_list)

    def checking_put(original: Callable[..., Any]) -> Callable[..., Any]:
        def put_map_result(bucket: Any, key: Any, body: Any, ctx: Any) -> Any:
            scope = scope_of(ctx, sf._state_machines)
            if scope is not None:
                authorize(scope, [Call(RESULT_WRITER, "s3:PutObject", object_arn(bucket, key))])
            return original(bucket, key, body, ctx)

        return put_map_result

    wrap(sf, "_put_map_result", checking_put)

    def checking_get(original: Callable[..., Any]) -> Callable[..., Any]:
        def s3_object_text(bucket: Any, key: Any) -> Any:
            scope = CURRENT.get()
            if scope is not None:
                # A pinned version is read through s3:GetObjectVersion (item_reader_version).
                pinned = item_reader_version.VERSION.get()
                action = "s3:GetObjectVersion" if pinned else "s3:GetObject"
                authorize(scope, [Call(ITEM_READER, action, object_arn(bucket, key))])
            return original(bucket, key)

        return s3_object_text

    wrap(sf, "_s3_object_text", checking_get)
