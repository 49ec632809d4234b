"""The IAM documents of a stage: each Lambda's policy, the state machines' role, trust.

Role: pure functions from a :class:`~stax_orchestrator.deploy.names.Target` (and the
stage's settings) to policy documents; the tests assert these exactly, as deployed.

Least privilege, function by function:

- the token functions read exactly the two SSM parameters their environment names (and,
  when a customer-managed key encrypts them, ``kms:Decrypt`` on that key only, through
  SSM only) and use single items of the coordination table;
- ``validate_input`` and ``record_fleet_wave`` touch no secret: their own logs only;
- ``publish_alert`` may publish to the alert topic only (and use its key), and read items
  of the coordination table (the records that prove a failed execution's parent);
- the baseline functions read Stax (the token) and the stage's baselines file only
  (``s3:GetObject`` on that one key, any version); the drift check also publishes to
  the alert topic;
- every function writes its own log group only, named exactly (a wildcard on the stage
  prefix would match the functions of a stage whose name starts the same);
- every role trusts its service only for this account (``aws:SourceAccount``), the
  state machines' role only for the stage's own machines (``aws:SourceArn``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stax_orchestrator.deploy.names import (
    ALERT_FUNCTION,
    DRIFT_FUNCTION,
    EVENT_FUNCTIONS,
    FUNCTIONS,
    QUEUE_FUNCTION,
    STATE_MACHINES,
    STATUS_FUNCTION,
    TOKEN_FUNCTIONS,
    Target,
)

VERSION = "2012-10-17"
#: What the workload Lambdas do in the coordination store: single-item conditional writes
#: (no Query: only the fleet summary reads a partition).
TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                 "dynamodb:DeleteItem")  # fmt: skip
#: The task status function only releases the claim of a finished task (conditional delete).
TASK_STATUS_TABLE_ACTIONS = ("dynamodb:DeleteItem",)
#: What each fleet function does in the table: the plan records done targets and the
#: plan (batches of puts), a target records its result, the summary reads them all and
#: marks the targets that never ran.
FLEET_TABLE_ACTIONS = {
    "plan_fleet": ("dynamodb:PutItem", "dynamodb:BatchWriteItem"),
    # Counts the failures so far (a count tolerance spans the stages).
    "next_fleet_stage": ("dynamodb:Query",),
    "record_fleet_target": ("dynamodb:BatchWriteItem",),
    "summarise_fleet": ("dynamodb:Query", "dynamodb:BatchWriteItem"),
}


def parameter_arn(target: Target, name: str) -> str:
    return target.arn("ssm", "parameter" + (name if name.startswith("/") else f"/{name}"))


def kms_statement(sid: str, actions: list[str], key_arn: str, via: str) -> dict[str, Any]:
    """Use of one customer-managed key, only through the named service."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": via}},
    }


def _logs(target: Target, functions: Iterable[str]) -> dict[str, Any]:
    groups = [target.arn("logs", f"log-group:{target.log_group(f)}") for f in functions]
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [resource for group in groups for resource in (group, f"{group}:log-stream:*")],
    }


#: The functions that only read Stax: with a read-only token in the stage, they read only it.
READ_ONLY_FUNCTIONS = ("get_task_status", "plan_fleet", "plan_account_baselines",
                       DRIFT_FUNCTION)  # fmt: skip


def _token_statements(
    target: Target, parameters: tuple[str, str], token_key_arn: str | None
) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadStaxApiToken",
            "Effect": "Allow",
            # GetParameters only: the token is read in one call (credentials.py), and IAM
            # checks it on each parameter named (the local stack too: ssm_get_parameters).
            "Action": "ssm:GetParameters",
            "Resource": [parameter_arn(target, name) for name in parameters],
        }
    ]
    if token_key_arn:
        statements.append(
            kms_statement(
                "DecryptStaxApiToken",
                ["kms:Decrypt"],
                token_key_arn,
                f"ssm.{target.region}.amazonaws.com",
            )
        )
    return statements


#: The functions that read workload parameter values kept in SSM: the writes send them,
#: the baseline planners compare them with Stax's by digest.
SECRETS_FUNCTIONS = ("create_workload", "update_workload", "plan_account_baselines",
                     DRIFT_FUNCTION)  # fmt: skip


def _secrets_statement(target: Target, parameters: tuple[str, str]) -> dict[str, Any]:
    """``GetParameter`` on the stage's secrets folder only (``chalicelib.secrets``): a
    request naming any other parameter (another stage's, the token's) is refused by IAM
    too. The values are decrypted through SSM (the AWS-managed key, or the token's key
    when the stage has one: the statement above)."""
    from chalicelib.secrets import secrets_prefix

    return {
        "Sid": "ReadWorkloadSecrets",
        "Effect": "Allow",
        "Action": "ssm:GetParameter",
        "Resource": parameter_arn(target, secrets_prefix(parameters[0]) + "*"),
    }


def _fleet_statements(
    target: Target, function: str, parameters: tuple[str, str], token_key_arn: str | None
) -> list[dict[str, Any]]:
    """plan_fleet reads Stax (the token) and writes the plan; the other two never see it."""
    bucket = target.fleet_bucket_arn
    statements = (
        _token_statements(target, parameters, token_key_arn) if function in TOKEN_FUNCTIONS else []
    )
    statements.append(
        {
            "Sid": "UseFleetResults",
            "Effect": "Allow",
            "Action": list(FLEET_TABLE_ACTIONS[function]),
            "Resource": target.arn("dynamodb", f"table/{target.table_name}"),
        }
    )
    if function == "plan_fleet":
        statements += [
            {"Sid": "WriteFleetPlans", "Effect": "Allow", "Action": "s3:PutObject",
             "Resource": f"{bucket}/plans/*"},
            {"Sid": "ReadTargetLists", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": f"{bucket}/requests/*"},
        ]  # fmt: skip
    elif function == "next_fleet_stage":
        statements.append(
            # halt_on_alarms: reads the state of the alarms a request names (a read only).
            # "*": the DescribeAlarms API reference -- composite alarms are returned only to
            # a cloudwatch:DescribeAlarms permission scoped to *.
            {"Sid": "ReadHaltAlarms", "Effect": "Allow", "Action": "cloudwatch:DescribeAlarms",
             "Resource": "*"}
        )  # fmt: skip
    elif function == "summarise_fleet":
        statements.append(
            # The version the fleet ran (GetObject with a VersionId is s3:GetObjectVersion).
            {"Sid": "ReadFleetPlans", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": f"{bucket}/plans/*"}
        )  # fmt: skip
    return statements


#: The baseline functions: the stored baselines file is all they read besides Stax.
BASELINE_FUNCTIONS = ("plan_account_baselines", DRIFT_FUNCTION)


def _stored_key() -> str:
    from chalicelib.baselines.automatic import STORED_KEY

    return STORED_KEY


def baselines_object_arn(target: Target) -> str:
    return f"{target.fleet_bucket_arn}/{_stored_key()}"


def _publish_statements(target: Target, alert_key_arn: str | None) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "PublishAlerts",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": target.alert_topic_arn,
        }
    ]
    if alert_key_arn:
        statements.append(
            kms_statement(
                "EncryptAlerts",
                ["kms:GenerateDataKey", "kms:Decrypt"],
                alert_key_arn,
                f"sns.{target.region}.amazonaws.com",
            )
        )
    return statements


def _baseline_statements(
    target: Target,
    function: str,
    parameters: tuple[str, str],
    token_key_arn: str | None,
    alert_key_arn: str | None,
) -> list[dict[str, Any]]:
    statements = _token_statements(target, parameters, token_key_arn)
    bucket = target.fleet_bucket_arn
    statements += [
        _secrets_statement(target, parameters),
        {
            "Sid": "ReadStoredBaselines",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": baselines_object_arn(target),
        },
        {
            # Without s3:ListBucket, S3 answers a missing object 403 AccessDenied, not
            # 404 NoSuchKey (GetObject API reference, "Permissions"), and a stage with no
            # stored file would fail as a denial instead of BaselinesNotStored. Listing is
            # limited to the one key.
            "Sid": "TellMissingBaselines",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket,
            "Condition": {"StringEquals": {"s3:prefix": _stored_key()}},
        },
    ]
    if function == DRIFT_FUNCTION:
        statements += _publish_statements(target, alert_key_arn)
    return statements


def slots_condition() -> dict[str, Any]:
    """Only the account baselines' slots item of the coordination table (its partition
    key: ``dynamodb:LeadingKeys``, which IAM checks on GetItem, PutItem and UpdateItem)."""
    from chalicelib.baselines.slots import SLOTS_PK

    return {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [SLOTS_PK]}}


def _queue_statements(target: Target, alert_key_arn: str | None) -> list[dict[str, Any]]:
    """start_account_baselines: fed by the account events queue (what Lambda's event
    source mapping needs), sends a waiting event back to it, takes and gives back slots,
    starts and follows account baselines, alerts on a dead-lettered event."""
    queue = target.account_events_queue_arn
    return [
        {"Sid": "ConsumeAccountEvents", "Effect": "Allow",
         "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                    "sqs:ChangeMessageVisibility"], "Resource": queue},
        {"Sid": "RequeueWaitingEvents", "Effect": "Allow",
         "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"], "Resource": queue},
        {"Sid": "UseBaselineSlots", "Effect": "Allow",
         "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
         "Resource": target.arn("dynamodb", f"table/{target.table_name}"),
         "Condition": slots_condition()},
        {"Sid": "StartAccountBaselines", "Effect": "Allow", "Action": "states:StartExecution",
         "Resource": target.state_machine_arn("account_baseline")},
        {"Sid": "FollowAccountBaselines", "Effect": "Allow",
         "Action": "states:DescribeExecution",
         "Resource": target.execution_arns("account_baseline")},
        *_publish_statements(target, alert_key_arn),
    ]  # fmt: skip


def function_statements(
    target: Target,
    function: str,
    parameters: tuple[str, str],
    token_key_arn: str | None = None,
    alert_key_arn: str | None = None,
    *,
    read_only_token: bool = False,
) -> list[dict[str, Any]]:
    """What one function needs besides its logs (``read_only_token``: the stage has one, and
    the functions that only read Stax may read that token and not the other)."""
    if read_only_token and function in READ_ONLY_FUNCTIONS:
        from chalicelib.credentials import read_only_names

        parameters = read_only_names(parameters)
    event_statements = _event_function_statements(target, function, alert_key_arn)
    if event_statements is not None:
        return event_statements
    if function in FLEET_TABLE_ACTIONS:
        return _fleet_statements(target, function, parameters, token_key_arn)
    if function in BASELINE_FUNCTIONS:
        return _baseline_statements(target, function, parameters, token_key_arn, alert_key_arn)
    if function in TOKEN_FUNCTIONS:
        statements = _token_statements(target, parameters, token_key_arn)
        statements.append(
            {
                "Sid": "UseCoordinationTable",
                "Effect": "Allow",
                "Action": list(
                    TASK_STATUS_TABLE_ACTIONS if function == "get_task_status" else TABLE_ACTIONS
                ),
                "Resource": target.arn("dynamodb", f"table/{target.table_name}"),
            }
        )
        if function in SECRETS_FUNCTIONS:
            statements.append(_secrets_statement(target, parameters))
        return statements
    return []


def _event_function_statements(
    target: Target, function: str, alert_key_arn: str | None
) -> list[dict[str, Any]] | None:
    """What the functions EventBridge or the queue invoke need (None: not one of them)."""
    if function == QUEUE_FUNCTION:
        return _queue_statements(target, alert_key_arn)
    if function == STATUS_FUNCTION:
        # Any bus of the account and region: the stage names its own in
        # STAX_STATUS_EVENTS_BUS (the default bus unless it does).
        return [{"Sid": "PutStatusEvents", "Effect": "Allow", "Action": "events:PutEvents",
                 "Resource": target.arn("events", "event-bus/*")}]  # fmt: skip
    if function == ALERT_FUNCTION:
        # Whether a parent started the failed execution is read from the parent's record.
        return [*_publish_statements(target, alert_key_arn), {
            "Sid": "ReadParentRecords", "Effect": "Allow", "Action": "dynamodb:GetItem",
            "Resource": target.arn("dynamodb", f"table/{target.table_name}")}]  # fmt: skip
    return None


def lambda_policy(
    target: Target,
    functions: Iterable[str],
    parameters: tuple[str, str],
    token_key_arn: str | None = None,
    alert_key_arn: str | None = None,
    *,
    read_only_token: bool = False,
) -> dict[str, Any]:
    """The policy of the functions that share one policy file (they need the same).

    Raises:
        ValueError: the functions need different permissions.
    """
    functions = list(functions)
    needs = {
        f: function_statements(
            target, f, parameters, token_key_arn, alert_key_arn, read_only_token=read_only_token
        )
        for f in functions
    }
    first = needs[functions[0]]
    differing = [f for f in functions if needs[f] != first]
    if differing:
        raise ValueError(
            f"{', '.join(functions)} share one policy file but need different permissions "
            f"({', '.join(differing)} differs from {functions[0]}): give each its own "
            "iam_policy_file in .chalice/config.json"
        )
    return {"Version": VERSION, "Statement": [*first, _logs(target, functions)]}


def lambda_trust_policy(target: Target) -> dict[str, Any]:
    """Lambda may assume a function's role, for this account only."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": target.account}},
            }
        ],
    }


#: The machines whose Distributed Map runs children (as ``stateMachine:NAME/LABEL``).
DISTRIBUTED_MAP_MACHINES = ("fleet",)


def states_trust_policy(target: Target) -> dict[str, Any]:
    """Step Functions may assume the role, for the stage's own state machines only.

    ``ArnLike``, not ``ArnEquals``: a Distributed Map's children run under the Map Run's
    state machine, ``...:stateMachine:NAME/LABEL`` ("DescribeStateMachineForExecution" of
    a child answers the Map Run's machine; the Map Run guide), and Step Functions assumes
    the role with that ARN as ``aws:SourceArn``, so the fleet's children need
    ``fleet/*``. The other machines are named exactly (no wildcard they do not use)."""
    sources = [target.state_machine_arn(k) for k in STATE_MACHINES]
    sources += [f"{target.state_machine_arn(k)}/*" for k in DISTRIBUTED_MAP_MACHINES]
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": target.account},
                    "ArnLike": {"aws:SourceArn": sources},
                },
            }
        ],
    }


#: What Step Functions needs to deliver a machine's logs to CloudWatch Logs, as the Step
#: Functions guide's logging policy lists it: these take no resource ("*").
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
#: The guide lists these too; they take a log group, so only the machines' own are named.
LOG_WRITE_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
#: What a traced state machine sends to X-Ray.
XRAY_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)


def states_policy(
    target: Target,
    function_arns: Mapping[str, str],
    *,
    log_delivery: bool = True,
    xray: bool = False,
) -> dict[str, Any]:
    """The state machines' policy: invoke the stage's functions that run in a machine,
    run only the stage's own state machines; deliver their logs (unless logging is
    ``OFF``) and traces (with X-Ray on); read the alarms a fleet halts on. Those take
    ``"*"``: the log delivery and X-Ray actions support no resource-level permission, and
    DescribeAlarms returns composite alarms only to a permission scoped to ``*`` (its API
    reference); it reads, and only alarm states."""
    observe: list[dict[str, Any]] = [
        # A fleet's targets check halt_on_alarms as each is about to start.
        {"Sid": "ReadHaltAlarms", "Effect": "Allow", "Action": "cloudwatch:DescribeAlarms",
         "Resource": "*"}
    ]  # fmt: skip
    if log_delivery:
        groups = [target.log_group_arn(target.state_machine_log_group(k)) for k in STATE_MACHINES]
        observe.append({"Sid": "DeliverExecutionLogs", "Effect": "Allow",
                        "Action": list(LOG_DELIVERY_ACTIONS), "Resource": "*"})  # fmt: skip
        observe.append({"Sid": "WriteExecutionLogs", "Effect": "Allow",
                        "Action": list(LOG_WRITE_ACTIONS),
                        "Resource": [f"{g}:log-stream:*" for g in groups]})  # fmt: skip
    if xray:
        observe.append({"Sid": "SendTraces", "Effect": "Allow",
                        "Action": list(XRAY_ACTIONS), "Resource": "*"})  # fmt: skip
    return {
        "Version": VERSION,
        "Statement": [*_states_statements(target, function_arns), *observe],
    }


def _states_statements(target: Target, function_arns: Mapping[str, str]) -> list[dict[str, Any]]:
    in_machines = [name for name in FUNCTIONS if name not in EVENT_FUNCTIONS]
    return [
        {
            "Sid": "InvokeOrchestratorFunctions",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [function_arns[name] for name in in_machines],
        },
        {
            # The workload machine runs the task watcher; the fleet machine runs the
            # workload machine (and the account baseline machine the fleet machine:
            # RunFleetMapChildren allows that start).
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
                target.execution_arns("task_watcher"),
                target.execution_arns("workload"),
                target.execution_arns("fleet"),
            ],
        },
        {
            # The fleet's Distributed Map runs each target as a child execution of the
            # fleet machine itself, reads the plan from S3, and follows its Map Run.
            "Sid": "RunFleetMapChildren",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": target.state_machine_arn("fleet"),
        },
        {
            "Sid": "FollowFleetMapChildren",
            "Effect": "Allow",
            "Action": ["states:DescribeExecution", "states:StopExecution"],
            "Resource": target.arn("states", f"execution:{target.state_machine_name('fleet')}/*"),
        },
        {
            # The fleet's item processor marks each target started (dynamodb:putItem),
            # so a stopped fleet tells aborted targets from never started ones.
            "Sid": "MarkFleetTargetsStarted",
            "Effect": "Allow",
            "Action": "dynamodb:PutItem",
            "Resource": target.arn("dynamodb", f"table/{target.table_name}"),
        },
        {
            # The account baseline machine gives its slot back as it ends.
            "Sid": "GiveBackBaselineSlots",
            "Effect": "Allow",
            "Action": "dynamodb:UpdateItem",
            "Resource": target.arn("dynamodb", f"table/{target.table_name}"),
            "Condition": slots_condition(),
        },
        {
            # The account baseline machine reads its own marks of failed baselines
            # (dynamodb:getItem) before a dependent's fleet, to skip it.
            "Sid": "ReadBaselineFailureMarks",
            "Effect": "Allow",
            "Action": "dynamodb:GetItem",
            "Resource": target.arn("dynamodb", f"table/{target.table_name}"),
        },
        {
            # The plan's head (its latest version) and the version the fleet planned: an
            # ItemReader with a VersionId reads through s3:GetObjectVersion.
            "Sid": "ReadFleetPlans",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"{target.fleet_bucket_arn}/plans/*",
        },
        {
            # The Map's ResultWriter exports the children's records under results/ (the
            # permissions the Step Functions guide lists for ResultWriter: the upload may
            # be multipart).
            "Sid": "ExportFleetResults",
            "Effect": "Allow",
            "Action": [
                "s3:PutObject",
                "s3:GetObject",
                "s3:ListMultipartUploadParts",
                "s3:AbortMultipartUpload",
            ],
            "Resource": f"{target.fleet_bucket_arn}/results/*",
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
    ]


#: The stack parameter naming the bus the account events rule listens on.
EVENT_BUS_PARAMETER = "${StaxEventBusName}"


def account_events_queue_policy(target: Target) -> dict[str, Any]:
    """Only the stage's account events rule may send to its queue and its dead-letter queue
    (EventBridge's own dead-letter queue for deliveries it could not make).

    ``aws:SourceArn`` is the rule's ARN, which names its bus unless it is the default one
    (``rule/NAME`` or ``rule/BUS/NAME``); the bus is the stack parameter, so the document
    holds ``${StaxEventBusName}`` for the template's ``Fn::Sub``."""
    rule = target.account_events_rule_name
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AccountEventsRuleSends",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": [target.account_events_queue_arn, target.account_events_dlq_arn],
                "Condition": {
                    "ArnEquals": {
                        "aws:SourceArn": [
                            target.arn("events", f"rule/{rule}"),
                            target.arn("events", f"rule/{EVENT_BUS_PARAMETER}/{rule}"),
                        ]
                    },
                },
            }
        ],
    }


def alert_topic_policy(target: Target) -> dict[str, Any]:
    """The account manages the topic; publishing takes an identity policy that allows it
    (only the stage's alert function has one), or is the stage's own CloudWatch alarms
    (``--dashboard``: ``aws:SourceArn`` their names, ``aws:SourceAccount`` this account).
    A policy set on a topic replaces SNS's default one, which let CloudWatch publish."""
    return {
        "Version": VERSION,
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
                "Resource": target.alert_topic_arn,
            },
            {
                "Sid": "StageAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": target.alert_topic_arn,
                "Condition": {
                    "ArnLike": {
                        "aws:SourceArn": target.arn("cloudwatch", f"alarm:{target.prefix}-*")
                    },
                    "StringEquals": {"aws:SourceAccount": target.account},
                },
            },
        ],
    }
