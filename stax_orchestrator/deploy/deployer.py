"""The IAM policy of the principal that runs ``./deploy.sh`` for a stage.

Role: a pure function from a :class:`~stax_orchestrator.deploy.names.Target` to the
identity policy a deploying user or role needs for ``./deploy.sh --stage S`` (preflight,
``chalice deploy``, the post-deploy step's change sets, ``--diff`` and ``--delete``), and
nothing of any other stage: every resource is named exactly (a wildcard on the stage's
prefix would match the resources of a stage whose name starts the same, ``dev`` and
``dev-eu``). Printed by
``python -m stax_orchestrator.deploy deployer-policy --stage S``; the local stack deploys
with a user holding exactly this document (for the stage ``*``), under MiniStack's IAM
evaluation, so a call it lacks fails the e2e tier.

CloudFormation makes the stack's resources with the caller's credentials (no service
role), so the resource statements cover what the template creates as well as what the
deploy tooling calls itself. ``iam:PassRole`` is limited to the stage's roles and to the
services that use them (``iam:PassedToService``). The wildcards that must stay are the
actions AWS authorizes only on ``*``: ``states:ListStateMachines``,
``logs:DescribeLogGroups``, the vended-log delivery actions Step Functions logging needs
(``logs:CreateLogDelivery`` and its siblings, "Logging using CloudWatch Logs", Step
Functions Developer Guide), ``ssm:DescribeParameters``, ``kms:DescribeKey`` and
``kms:GetKeyPolicy`` of a customer-managed key named by alias (the preflight checks) and
``cloudformation:ValidateTemplate``; and the alarms, named ``<prefix>-<subject>-<metric>``
by the dashboard (``alarm:<prefix>-*``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stax_orchestrator.deploy.names import FUNCTIONS, QUEUE_FUNCTION, STATE_MACHINES, Target
from stax_orchestrator.deploy.policies import VERSION, parameter_arn


def _statement(
    sid: str, actions: Iterable[str], resources: Iterable[str], **extra: Any
) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions),
            "Resource": sorted(resources), **extra}  # fmt: skip


def deployer_policy(target: Target, token_parameters: Iterable[str]) -> dict[str, Any]:
    """The deploying principal's policy for ``target`` (a stage ``*`` covers every stage)."""
    parameters = sorted(parameter_arn(target, name) for name in token_parameters)
    functions = [target.function_arn(f) for f in FUNCTIONS]
    layer = target.arn("lambda", f"layer:{target.layer_name}")
    # Chalice's roles: the stage's own (``prefix``) and one per function with its own policy
    # file; the stack's: the state machines' (and the events role of stages deployed before
    # the account events queue, which their next update deletes).
    role_names = [target.prefix, target.role_name, target.events_role_name,
                  *(target.function_role_name(f) for f in FUNCTIONS)]  # fmt: skip
    roles = [target.arn("iam", f"role/{name}", region=False) for name in role_names]
    stack = target.arn("cloudformation", f"stack/{target.stack_name}/*")
    groups = [target.log_group(f) for f in FUNCTIONS]
    groups += [target.state_machine_log_group(kind) for kind in STATE_MACHINES]
    log_groups = [target.log_group_arn(g) + suffix for g in groups for suffix in ("", ":*")]
    rules = [target.alert_rule_name, target.status_rule_name, target.account_events_rule_name,
             target.drift_rule_name]  # fmt: skip
    alarms = target.arn("cloudwatch", f"alarm:{target.prefix}-*")
    return {
        "Version": VERSION,
        "Statement": [
            _statement("Stack", (
                "cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
                "cloudformation:ExecuteChangeSet", "cloudformation:DeleteChangeSet",
                "cloudformation:ListChangeSets", "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackEvents", "cloudformation:DescribeStackResource",
                "cloudformation:DescribeStackResources", "cloudformation:ListStackResources",
                "cloudformation:GetTemplate", "cloudformation:DeleteStack",
                "cloudformation:DetectStackDrift", "cloudformation:DescribeStackResourceDrifts",
                "cloudformation:DescribeStackDriftDetectionStatus",
            ), [stack]),
            _statement("Functions", (
                "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction",
                "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration", "lambda:ListTags", "lambda:TagResource",
                "lambda:UntagResource", "lambda:AddPermission", "lambda:RemovePermission",
                "lambda:GetPolicy", "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency", "lambda:GetFunctionConcurrency",
            ), functions),
            _statement("Layer", (
                "lambda:PublishLayerVersion", "lambda:GetLayerVersion",
                "lambda:DeleteLayerVersion", "lambda:ListLayerVersions",
            ), [layer, f"{layer}:*"]),
            _statement("Roles", (
                "iam:GetRole", "iam:CreateRole", "iam:DeleteRole", "iam:TagRole",
                "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy",
                "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
            ), roles),
            _statement("PassRoles", ("iam:PassRole",), roles, Condition={"StringEquals": {
                "iam:PassedToService": ["lambda.amazonaws.com", "states.amazonaws.com"]}}),
            _statement("StateMachines", (
                "states:CreateStateMachine", "states:UpdateStateMachine",
                "states:DeleteStateMachine", "states:DescribeStateMachine",
                "states:TagResource", "states:UntagResource", "states:ListTagsForResource",
                "states:ListExecutions",
            ), [target.state_machine_arn(kind) for kind in STATE_MACHINES]),
            _statement("Table", (
                "dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeTable",
                "dynamodb:UpdateTable", "dynamodb:DescribeTimeToLive",
                "dynamodb:UpdateTimeToLive", "dynamodb:DescribeContinuousBackups",
                "dynamodb:UpdateContinuousBackups", "dynamodb:TagResource",
                "dynamodb:UntagResource", "dynamodb:ListTagsOfResource",
            ), [target.arn("dynamodb", f"table/{target.table_name}")]),
            _statement("Bucket", (
                "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:ListBucketVersions",
                "s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:PutBucketVersioning",
                "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
                "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration",
                "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
                "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
                "s3:GetBucketOwnershipControls", "s3:PutBucketOwnershipControls",
                "s3:GetBucketTagging", "s3:PutBucketTagging",
            ), [target.fleet_bucket_arn]),
            _statement("BucketObjects", (
                "s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject",
                "s3:DeleteObjectVersion",
            ), [f"{target.fleet_bucket_arn}/*"]),
            _statement("LogGroups", (
                "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy", "logs:TagResource", "logs:UntagResource",
                "logs:ListTagsForResource", "logs:TagLogGroup", "logs:ListTagsLogGroup",
                "logs:PutMetricFilter", "logs:DeleteMetricFilter",
                "logs:DescribeMetricFilters",
            ), log_groups),
            _statement("AlertTopic", (
                "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes",
                "sns:SetTopicAttributes", "sns:Subscribe", "sns:Unsubscribe",
                "sns:ListSubscriptionsByTopic", "sns:TagResource", "sns:UntagResource",
                "sns:ListTagsForResource",
            ), [target.alert_topic_arn]),
            _statement("Rules", (
                "events:PutRule", "events:DeleteRule", "events:DescribeRule",
                "events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule",
                "events:TagResource", "events:UntagResource", "events:ListTagsForResource",
            ), [target.arn("events", f"rule{bus}/{rule}") for rule in rules
                for bus in ("", "/*")]),
            _statement("Queues", (
                "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes",
                "sqs:SetQueueAttributes", "sqs:GetQueueUrl", "sqs:TagQueue", "sqs:UntagQueue",
                "sqs:ListQueueTags",
            ), [target.account_events_queue_arn, target.account_events_dlq_arn]),
            # The account events queue's event source mapping (IAM checks the function
            # named: lambda:FunctionArn).
            _statement("QueueMapping", (
                "lambda:CreateEventSourceMapping", "lambda:UpdateEventSourceMapping",
                "lambda:DeleteEventSourceMapping", "lambda:GetEventSourceMapping",
            ), ["*"], Condition={"ArnLike": {
                "lambda:FunctionArn": target.function_arn(QUEUE_FUNCTION)}}),
            # CloudFormation copies the stack's tags onto the mapping (Lambda: "Using tags
            # on event source mappings").
            _statement("QueueMappingTags", (
                "lambda:TagResource", "lambda:UntagResource", "lambda:ListTags",
            ), [target.arn("lambda", "event-source-mapping:*")]),
            _statement("EventBuses", ("events:DescribeEventBus",),
                       [target.arn("events", "event-bus/*")]),
            _statement("Dashboard", (
                "cloudwatch:PutDashboard", "cloudwatch:GetDashboard",
                "cloudwatch:DeleteDashboards", "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
                "cloudwatch:TagResource", "cloudwatch:ListTagsForResource",
            ), [target.arn("cloudwatch", f"dashboard/{target.dashboard_name}", region=False),
                alarms]),
            _statement("Token", ("ssm:GetParameters", "ssm:GetParameter"), parameters),
            # The preflight reads the token with decryption: a customer-managed key must let
            # SSM decrypt it for these parameters only (SSM's encryption context).
            _statement("TokenKey", ("kms:Decrypt",), ["*"], Condition={
                "StringEquals": {"kms:ViaService": f"ssm.{target.region}.amazonaws.com"},
                "ForAnyValue:StringEquals": {"kms:EncryptionContext:PARAMETER_ARN": parameters},
            }),
            _statement("OnlyOnEveryResource", (
                "states:ListStateMachines", "logs:DescribeLogGroups",
                "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery", "logs:ListLogDeliveries",
                "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
                "ssm:DescribeParameters", "kms:DescribeKey", "kms:GetKeyPolicy",
                "lambda:ListEventSourceMappings",
                "cloudformation:ValidateTemplate",
            ), ["*"]),
        ],
    }  # fmt: skip
