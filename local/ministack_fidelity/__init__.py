"""Rules MiniStack 1.5.33 is kinder about than AWS, enforced from outside.

One module per rule; each names the AWS page it follows, the MiniStack functions it
wraps (``EXPECTED``: parameter names and source digest, checked before anything is
patched) and the readings it chose where AWS's documents are silent:

- ``payload_size``: 256 KiB inputs, outputs and task results (States.DataLimitExceeded),
  StartExecution refuses a larger input (ValidationException);
- ``missing_paths``: a JSONPath that selects nothing fails with States.Runtime;
- ``terminal_errors``: neither of those two errors is retried or caught;
- ``cause_length``: errors cut at 256 characters, causes at 32,768;
- ``execution_timeout``: the state machine's ``TimeoutSeconds`` ends it TIMED_OUT;
- ``child_failure``: a failed child execution reaches its parent as States.TaskFailed with
  the child described in the cause; execution names are held to AWS's rules.
- ``distributed_map``: ``MaxConcurrencyPath`` / ``ToleratedFailureCountPath`` /
  ``ToleratedFailurePercentagePath`` are honoured (a bad value: States.Runtime); crossing
  the tolerated failure threshold stops the Map Run (no new child, running ones ABORTED,
  States.ExceedToleratedFailureThreshold); the reader's 10 GB file, 8 MB item and
  MaxItems limits, a child input's 256 KiB; a child's own context object.
- ``map_results``: a failed child's whole execution record in the Map's result, which
  over 256 KiB fails the state (States.DataLimitExceeded); ``ResultWriter`` exports the
  records to S3 (``manifest.json``, ``SUCCEEDED_0.json``, ``FAILED_0.json``) and leaves
  only their location in the state (States.ResultWriterFailed when it cannot write).
- ``nested_start_names``: a parent's ``startExecution.sync`` task is refused a child name
  already used (``StepFunctions.ExecutionAlreadyExistsException``) unless the child runs
  with the same input, which the task then follows (MiniStack overwrote the record).
- ``nested_status_events``: a Standard execution started by a parent's
  ``startExecution.sync`` sends its status changes to EventBridge (MiniStack sent none for
  it, as if it were Express).
- ``sfn_definition``: a definition must be JSON, and every StartAt, Next, Default,
  Choices[].Next and Catch[].Next must name a state of its own block (Parallel branches,
  Map processors): InvalidDefinition from CreateStateMachine /
  UpdateStateMachine, a failed AWS::StepFunctions::StateMachine (rolled back) through
  CloudFormation.
- ``sfn_role_permissions``: each call a task makes (Lambda invoke, StartExecution and, for
  ``.sync``, DescribeExecution / StopExecution and the managed EventBridge rule, the
  DynamoDB item calls), a Distributed Map's own child starts and its ItemReader's S3 reads
  must be allowed by the execution role's policies (MiniStack's IAM evaluator; a Map child
  uses its parent's role); otherwise the task fails with the service's access-denied error
  (``Lambda.AWSLambdaException``, ``StepFunctions.AWSStepFunctionsException``,
  ``DynamoDB.AmazonDynamoDBException``; States.ItemReaderFailed, States.Runtime).
- ``sfn_role_trust``: the role's trust policy must let ``states.amazonaws.com`` (or the
  regional principal) assume it, with ``aws:SourceAccount`` and ``aws:SourceArn`` (the
  machine; a Distributed Map child: ``...:stateMachine:NAME/LABEL``) evaluated by
  MiniStack's evaluator: CreateStateMachine / UpdateStateMachine and the CloudFormation
  create are refused (AccessDeniedException, "Neither the global service principal
  states.amazonaws.com, nor the regional one is authorized to assume the provided role."),
  an execution or a Map child fails as it starts (States.Runtime, the same message).
- ``ssm_get_parameters`` (request authorization, ``AUTH=true``): ``GetParameters`` is
  authorized on every parameter it names (MiniStack checked the resource ``*``, refusing
  the least-privilege policy AWS accepts).
- ``s3_missing_object`` (request authorization, ``AUTH=true``): a missing object is
  ``AccessDenied`` (403), not ``NoSuchKey``, to a caller without ``s3:ListBucket`` on the
  bucket (for the key's prefix).
- ``item_reader_version``: a Distributed Map's ItemReader reads the ``VersionId`` it names
  (a version that is gone fails the Map), through ``s3:GetObjectVersion`` (MiniStack read
  the latest version).
- ``principal_arn``: ``aws:PrincipalArn`` of a role session is the role's ARN (MiniStack
  gave the session's, so a policy naming a role matched nothing).
- ``s3_expected_bucket_owner``: a request whose ``ExpectedBucketOwner`` is not the bucket's
  owner is refused (403 AccessDenied; MiniStack ignored the header).
- ``s3_root_bucket_policy`` (request authorization, ``AUTH=true``): a bucket policy's
  explicit Deny binds the account's root keys too, all but the bucket-policy calls
  (MiniStack allowed root everything before reading any resource policy).
- ``request_resources`` (request authorization, ``AUTH=true``): Lambda's layer, concurrency
  and ``CreateFunction`` calls and EventBridge's bus and rule calls are checked as the
  actions, on the resources, AWS names (MiniStack made every layer read ``ListLayers``,
  checked ``CreateFunction`` and ``PutTargets`` on ``*``, ``DescribeEventBus`` on a rule).
- ``lambda_role_trust``: a function's role must trust ``lambda.amazonaws.com`` (its
  ``aws:SourceAccount`` / ``aws:SourceArn`` evaluated with the function): CreateFunction and
  UpdateFunctionConfiguration refuse it (InvalidParameterValueException, "The role defined
  for the function cannot be assumed by Lambda.").
- ``events_target_role``: EventBridge delivers to a state machine only through a target
  role that trusts ``events.amazonaws.com`` (``aws:SourceArn``: the rule) and allows
  ``states:StartExecution`` on it, to a queue only when its policy lets the rule send;
  otherwise the event goes to the target's dead-letter queue, or is dropped, not retried.
- ``cfn_capabilities`` (CloudFormation): a template's IAM resources must be acknowledged
  (``CAPABILITY_IAM``, ``CAPABILITY_NAMED_IAM`` for named ones) whatever the IAM mode.
- ``cfn_bucket_not_empty`` (CloudFormation): a bucket that holds objects, versions or
  delete markers fails to delete (DELETE_FAILED, "The bucket you tried to delete is not
  empty"); a stack delete then ends DELETE_FAILED.
- ``cfn_change_set_async`` (CloudFormation): a new change set is CREATE_PENDING (execution
  UNAVAILABLE) until described once, and ExecuteChangeSet refuses it until then
  (InvalidChangeSetStatus).
- ``cfn_change_set_conditions`` (CloudFormation): a change set leaves out the resources
  whose ``Condition`` is false (MiniStack listed them as ``Add`` on every update).
- ``cfn_state_machine_logging`` (CloudFormation): a machine made from a template describes
  its ``loggingConfiguration`` in the API's case, as ``CreateStateMachine`` would.

Used by ``local/ministack_launcher.py`` only (MiniStack's own interpreter); the helpers
at module level do not import MiniStack, so they can be tested anywhere.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import (
    cause_length,
    cfn_bucket_not_empty,
    cfn_capabilities,
    cfn_change_set_async,
    cfn_change_set_conditions,
    cfn_state_machine_logging,
    child_failure,
    distributed_map,
    events_target_role,
    execution_timeout,
    item_reader_version,
    lambda_role_trust,
    map_results,
    missing_paths,
    nested_start_names,
    nested_status_events,
    payload_size,
    principal_arn,
    request_resources,
    s3_expected_bucket_owner,
    s3_missing_object,
    s3_root_bucket_policy,
    sfn_definition,
    sfn_role_permissions,
    sfn_role_trust,
    ssm_get_parameters,
    terminal_errors,
)
from ._patching import verify, verify_callers

RULES = (
    terminal_errors,
    cause_length,
    payload_size,
    map_results,  # the Map's result and its export, which distributed_map's run calls
    distributed_map,  # before missing_paths, whose ItemSelector check must wrap its run
    item_reader_version,
    missing_paths,
    execution_timeout,
    child_failure,
    sfn_definition,
    nested_status_events,
    nested_start_names,
)


def install(sf: Any) -> None:
    """Check every function each rule relies on, then patch ``sf`` (MiniStack's
    ``ministack.services.stepfunctions``) with all of them; refuse to start otherwise."""
    for rule in (*RULES, sfn_role_permissions, sfn_role_trust):
        verify(sf, rule.EXPECTED)
    iam_evaluator = importlib.import_module("ministack.core.iam_evaluator")
    iam = importlib.import_module("ministack.services.iam")
    verify(iam_evaluator, sfn_role_permissions.IAM_EXPECTED)
    verify(iam_evaluator, sfn_role_trust.IAM_EXPECTED)
    for callee, callers in missing_paths.CALLERS.items():
        verify_callers(sf, callee, callers)
    verify_callers(sf, "_validate_definition_jsonata", sfn_definition.CALLERS)
    for rule in RULES:
        rule.install(sf)
    # Last: its checks wrap the others' (a denied call fails before any other rule's work,
    # and its Distributed Map check runs before missing_paths' ItemSelector reads the items).
    sfn_role_permissions.install(sf, iam_evaluator, iam)
    # Outermost: an execution (or Map child) whose role cannot be assumed starts nothing.
    sfn_role_trust.install(sf, iam_evaluator, iam)


def install_cloudformation(handlers: Any) -> None:
    """Check, then patch MiniStack's ``ministack.services.cloudformation.handlers`` (and
    its sibling modules ``changesets`` and ``provisioners``)."""
    package = importlib.import_module(handlers.__package__)
    changesets = importlib.import_module(f"{handlers.__package__}.changesets")
    provisioners = importlib.import_module(f"{handlers.__package__}.provisioners")
    verify(handlers, cfn_capabilities.EXPECTED)
    verify_callers(handlers, "_capabilities_enforced", cfn_capabilities.CALLERS)
    verify(handlers, cfn_change_set_async.EXPECTED)
    verify(changesets, cfn_change_set_async.FIND_EXPECTED)
    verify(provisioners, cfn_bucket_not_empty.EXPECTED)
    verify(provisioners, sfn_definition.CFN_EXPECTED)
    verify(changesets, cfn_change_set_conditions.EXPECTED)
    verify(provisioners, cfn_state_machine_logging.EXPECTED)
    verify_callers(provisioners, "_sfn_definition", sfn_definition.CFN_CALLERS)
    verify(provisioners, sfn_role_trust.CFN_EXPECTED)
    sf = importlib.import_module("ministack.services.stepfunctions")
    iam_evaluator = importlib.import_module("ministack.core.iam_evaluator")
    iam = importlib.import_module("ministack.services.iam")
    verify(iam_evaluator, sfn_role_trust.IAM_EXPECTED)
    cfn_capabilities.install(handlers)
    cfn_change_set_async.install(handlers, changesets, package._change_sets)
    cfn_bucket_not_empty.install(provisioners)
    sfn_definition.install_cloudformation(provisioners)
    cfn_change_set_conditions.install(changesets)
    cfn_state_machine_logging.install(provisioners)
    sfn_role_trust.install_cloudformation(provisioners, sf, iam_evaluator, iam)


def install_iam() -> None:
    """Patch MiniStack's request authorization (``AUTH=true``) where it differs from AWS,
    and the roles AWS services assume (Lambda, EventBridge). Every function is checked
    before any is patched (two rules wrap ``extract_resource_arn``)."""
    iam_actions = importlib.import_module("ministack.core.iam_actions")
    iam_evaluator = importlib.import_module("ministack.core.iam_evaluator")
    s3 = importlib.import_module("ministack.services.s3")
    lambda_svc = importlib.import_module("ministack.services.lambda_svc")
    iam = importlib.import_module("ministack.services.iam")
    eventbridge = importlib.import_module("ministack.services.eventbridge")
    verify(iam_actions, ssm_get_parameters.EXPECTED)
    verify(iam_actions, request_resources.EXPECTED)
    verify(iam_evaluator, ssm_get_parameters.EVALUATOR_EXPECTED)
    verify(iam_evaluator, s3_missing_object.EVALUATOR_EXPECTED)
    verify(iam_evaluator, s3_root_bucket_policy.EVALUATOR_EXPECTED)
    verify(s3, s3_expected_bucket_owner.EXPECTED)
    verify(iam_evaluator, principal_arn.EXPECTED)
    verify(s3, s3_missing_object.S3_EXPECTED)
    verify(lambda_svc, lambda_role_trust.EXPECTED)
    verify(eventbridge, events_target_role.EXPECTED)
    verify(iam_evaluator, sfn_role_permissions.IAM_EXPECTED)
    verify(iam_evaluator, sfn_role_trust.IAM_EXPECTED)
    ssm_get_parameters.install(iam_actions, iam_evaluator)
    request_resources.install(iam_actions)
    s3_missing_object.install(iam_evaluator, s3)
    s3_root_bucket_policy.install(iam_evaluator)
    s3_expected_bucket_owner.install(s3)
    principal_arn.install(iam_evaluator, iam)
    lambda_role_trust.install(lambda_svc, iam_evaluator, iam)
    events_target_role.install(eventbridge, iam_evaluator, iam)
