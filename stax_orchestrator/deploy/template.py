"""The one description of a stage: its CloudFormation template.

Role: :func:`stage_template` builds everything of a stage that is not a Lambda -- the four
state machines (the ASL files of ``statemachines/`` as ``DefinitionString``, their
placeholders filled by ``DefinitionSubstitutions``), their role and log groups, the
coordination table, the stage bucket, the alert topic, rule and permission, the dashboard
and alarms when asked, and automatic baselining when its parameters are set. Both deploy
paths use it and nothing else:

- the post-deploy step (``steps``, ``stack``) deploys it as the stack
  ``stax-orchestrator-<stage>``, the functions named by the ARNs Chalice recorded;
- the package (``package``) merges it into ``chalice package``'s template, the functions
  named by ``Fn::GetAtt`` of Chalice's own resources.

Deletion and replacement policies are chosen, not defaulted (:data:`DATA_POLICIES`).
Pure: no AWS call.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from chalicelib.baselines.automatic import STORED_KEY
from chalicelib.validation import MAX_WATCH_TIMEOUT_SECONDS
from stax_orchestrator import __version__
from stax_orchestrator.deploy import observability
from stax_orchestrator.deploy.alerts import (
    STATUS_TARGET_ID,
    TARGET_ID,
    alert_event_pattern,
    status_event_pattern,
)
from stax_orchestrator.deploy.baselining import DEFAULT_EVENT_SOURCE
from stax_orchestrator.deploy.cfn import (
    baselining_resources,
    dashboard_resources,
    function_id,
    machine_id,
    pascal,
    sub,
    symbolic_target,
)
from stax_orchestrator.deploy.names import (
    ALERT_FUNCTION,
    FUNCTIONS,
    OUTPUT_KEYS,
    STATE_MACHINES,
    STATUS_FUNCTION,
    Target,
)
from stax_orchestrator.deploy.observability import Observability
from stax_orchestrator.deploy.policies import alert_topic_policy, states_policy, states_trust_policy
from stax_orchestrator.deploy.templates import (
    MIN_WATCH_TIMEOUT_SECONDS,
    PLACEHOLDER,
    DeployError,
    load_template,
    template_values,
)

TOKEN_KEY_PARAMETER = "TokenKmsKeyArn"  # noqa: S105 - a parameter name
ALERT_KEY_PARAMETER = "AlertKmsKeyArn"
#: The alert topic's key without ``--alert-kms-key-id``.
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
KEY_ARN_PATTERN = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+"
KEY_CONDITIONS = {TOKEN_KEY_PARAMETER: "HasTokenKey", ALERT_KEY_PARAMETER: "HasAlertKey"}
_BASELINE_CONDITIONS = {"StaxEventBusName": "HasStaxEventBus",
                        "BaselineDriftSchedule": "HasDriftSchedule"}  # fmt: skip
NO_VALUE = {"Ref": "AWS::NoValue"}
STAGE_TAG = "stax-orchestrator:stage"

#: The coordination table's schema.
TABLE_KEY_SCHEMA = (
    {"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
)
TABLE_ATTRIBUTES = (
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "S"},
)
TABLE_BILLING_MODE = "PAY_PER_REQUEST"
#: Fleet results expire on their own; claims and locks carry no expires_at.
TABLE_TTL_ATTRIBUTE = "expires_at"

#: The stage bucket's settings.
BUCKET_PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
BUCKET_SSE = "AES256"
#: Fleet plans, target lists and the deploy's own templates expire (old versions too).
BUCKET_EXPIRING_PREFIXES = ("plans", "requests", "templates", "results")
BUCKET_EXPIRY_DAYS = 30
#: How long a replaced version of the stored baselines file is kept (the current one stays):
#: long enough to answer "which file decided?" for an alert or an audit, not forever -- an
#: old file can hold values someone meant to remove.
BASELINES_HISTORY_DAYS = 90
#: What the orchestrator reads to decide what to write to Stax: the stored baselines file
#: (every account event and drift check reads it), fleet plans and fleet requests (target
#: lists the CLI uploads). Not the deploy's own templates: whoever deploys next must be able
#: to upload one (the policy names the previous deployer); the deploy checks instead that
#: the change set holds the template it uploaded (``stack._check_template``).
BUCKET_GUARDED_PREFIXES = ("baselines", "plans", "requests")
#: Every way to put, replace, remove or restore an object (or its ACL or tags, which an
#: object's readers can depend on).
BUCKET_WRITE_ACTIONS = ("s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectVersionAcl",
                        "s3:PutObjectTagging", "s3:PutObjectVersionTagging",
                        "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:RestoreObject",
                        "s3:ReplicateObject")  # fmt: skip
#: The stack parameter naming the principals, besides the stage's roles, that may write
#: under those prefixes: the post-deploy step sets it to the principal that deploys.
WRITERS_PARAMETER = "StageBucketWriters"
WRITERS_CONDITION = "HasStageBucketWriters"

#: Chosen, not defaulted. Deleting the stage (``deploy.sh --delete``, which refuses while
#: executions run) deletes its data: the table holds only in-flight claims and locks and
#: fleet results that expire anyway, and the bucket holds a copy of the user's baselines
#: file and fleet plans that expire in 30 days -- a stage deleted on purpose must leave
#: nothing behind. A *replacement* (a template change that needs a new physical resource)
#: retains the old one: replacing the table under running executions would lose the
#: claims that make every Stax write exactly-once, and the old bucket keeps the stored
#: baselines file's history. Both names are fixed, so CloudFormation refuses such an
#: update anyway; Retain is the second lock on that door.
DATA_POLICIES = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Retain"}


def table_definition(name: str) -> dict[str, Any]:
    """``CreateTable`` arguments of a coordination table (the template declares the same;
    tests and benchmarks create theirs with it)."""
    return {
        "TableName": name,
        "KeySchema": [dict(k) for k in TABLE_KEY_SCHEMA],
        "AttributeDefinitions": [dict(a) for a in TABLE_ATTRIBUTES],
        "BillingMode": TABLE_BILLING_MODE,
    }


# -- the state machines -------------------------------------------------------------------
def substitutions(kind: str, target: Target, functions: Mapping[str, Any]) -> tuple[str, dict]:
    """The ASL text of ``kind`` and its ``DefinitionSubstitutions``: what each placeholder
    is, learnt from the values a rendered machine would have (``template_values``).

    Raises:
        DeployError: a placeholder the template cannot express.
    """
    arns = {f: target.function_arn(f) for f in FUNCTIONS}
    values = template_values(arns, target, MIN_WATCH_TIMEOUT_SECONDS)
    longest = template_values(arns, target, MAX_WATCH_TIMEOUT_SECONDS)
    text = json.dumps(load_template(kind), separators=(",", ":"))
    variables: dict[str, Any] = {}
    for name in sorted(set(PLACEHOLDER.findall(text))):
        value = values.get(name)
        function = next((f for f, arn in arns.items() if arn == value), None)
        machine = next((k for k in STATE_MACHINES if target.state_machine_arn(k) == value), None)
        if function:
            variables[name] = functions[function]
        elif machine == kind:  # a machine that runs itself: its own (deterministic) ARN
            variables[name] = {"Fn::Sub": target.state_machine_arn(kind)}
        elif machine:
            variables[name] = {"Ref": machine_id(machine)}
        elif value == target.fleet_bucket:
            variables[name] = {"Ref": "FleetBucket"}
        elif value == target.account:
            variables[name] = {"Ref": "AWS::AccountId"}
        elif value == target.table_name:
            variables[name] = {"Ref": "CoordinationTable"}
        elif name in ("WatchTimeoutSeconds", "StaxEventSource"):
            variables[name] = {"Ref": name}
        elif isinstance(value, int) and value == longest.get(name):
            variables[name] = str(value)  # derived, and the same for every watch timeout
        else:
            raise DeployError(
                f"statemachines/{kind}.asl.json: the template cannot fill ${{{name}}}"
            )
        if isinstance(value, int):  # a number in the ASL: the JSON value loses its quotes
            text = text.replace('"${' + name + '}"', "${" + name + "}")
    return text, variables


def _machine(kind: str, target: Target, obs: Observability, functions: Mapping[str, Any]):
    text, variables = substitutions(kind, target, functions)
    logging = observability.logging_configuration(target, kind, obs)
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "DependsOn": [machine_id(kind) + "LogGroup"],
        "Properties": {
            "StateMachineName": target.state_machine_name(kind),
            "RoleArn": {"Fn::GetAtt": ["StatesRole", "Arn"]},
            "DefinitionString": text,
            "DefinitionSubstitutions": variables,
            "LoggingConfiguration": sub(pascal(logging)),
            "TracingConfiguration": pascal(observability.tracing_configuration(obs)),
            "Tags": [{"Key": STAGE_TAG, "Value": target.stage}],
        },
    }


# -- the data -----------------------------------------------------------------------------
def bucket_resource(target: Target) -> dict[str, Any]:
    """The stage bucket: private, encrypted, versioned (the stored baselines file keeps its
    replaced versions for 90 days); plans, target lists and templates, and their old
    versions, expire in 30."""
    return {
        "Type": "AWS::S3::Bucket",
        **DATA_POLICIES,
        "Properties": {
            "BucketName": sub(target.fleet_bucket),
            "PublicAccessBlockConfiguration": dict(BUCKET_PUBLIC_ACCESS_BLOCK),
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": BUCKET_SSE}}]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {"Rules": [
                *({"Id": f"expire-{prefix}", "Status": "Enabled", "Prefix": f"{prefix}/",
                   "ExpirationInDays": BUCKET_EXPIRY_DAYS,
                   "NoncurrentVersionExpiration": {"NoncurrentDays": BUCKET_EXPIRY_DAYS}}
                  for prefix in BUCKET_EXPIRING_PREFIXES),
                {"Id": "expire-old-baselines", "Status": "Enabled", "Prefix": "baselines/",
                 "NoncurrentVersionExpiration": {"NoncurrentDays": BASELINES_HISTORY_DAYS}},
            ]},
            "Tags": [{"Key": STAGE_TAG, "Value": target.stage}],
        },
    }  # fmt: skip


def bucket_policy(target: Target, roles: Mapping[str, Any]) -> dict[str, Any]:
    """Only the stage writes what drives Stax writes; nobody reaches the bucket without TLS.

    ``roles`` names each Lambda's role ARN (fixed names on the post-deploy path, ``Fn::GetAtt``
    in the package). A Deny in a bucket policy binds every principal of every account,
    administrators and the root user included, whatever their own policies allow (IAM
    policy evaluation logic: an explicit deny always wins); only changing the policy lifts
    it (docs/security.md, "Break glass").
    """
    bucket = target.fleet_bucket_arn
    roles_arns: list[Any] = [
        {"Fn::GetAtt": ["StatesRole", "Arn"]},
        *(sub(arn) if isinstance(arn, str) else arn for arn in roles.values()),
    ]
    writers = {"Fn::If": [WRITERS_CONDITION, {"Fn::Split": [",", {"Fn::Join": [
        ",", [*roles_arns, {"Ref": WRITERS_PARAMETER}]]}]}, roles_arns]}  # fmt: skip
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": "FleetBucket"},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        # AWS's S3 endpoints still answer plain HTTP; this bucket does not.
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [sub(bucket), sub(f"{bucket}/*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                    {
                        "Sid": "OnlyTheStageWritesWhatDrivesStax",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": list(BUCKET_WRITE_ACTIONS),
                        "Resource": [sub(f"{bucket}/{prefix}/*")
                                     for prefix in BUCKET_GUARDED_PREFIXES],
                        "Condition": {"ArnNotLike": {"aws:PrincipalArn": writers}},
                    },
                ],
            },
        },
    }  # fmt: skip


#: A principal ``--bucket-writer`` may name: the root user, a user or a role of an account
#: (an assumed-role session is named by its role). Never a pattern: ``*`` would let anyone.
#: (IAM allows a comma in a name; the stack parameter is comma-separated, so not here.)
_WRITER = re.compile(r"^arn:aws[a-z-]*:(iam::\d{12}:(root|(user|role)/[\w+=.@/-]{1,512})"
                     r"|sts::\d{12}:assumed-role/[\w+=.@-]{1,64}/[\w+=.@-]{2,64})$")  # fmt: skip
MAX_BUCKET_WRITERS = 10


def writer_arns(caller_arn: str, extra: tuple[str, ...] = ()) -> str:
    """The ``StageBucketWriters`` value: the principal that deploys and those ``extra``
    names (``--bucket-writer``), as ``aws:PrincipalArn`` names them (an assumed role is its
    role, under any path; a user or the root user as it is).

    Raises:
        DeployError: an ``extra`` that is not the ARN of a user, a role or an account's root
            user (a wildcard, a service, a group), or more than :data:`MAX_BUCKET_WRITERS`.
    """
    bad = [arn for arn in extra if not _WRITER.match(arn)]
    if bad:
        raise DeployError(
            f"--bucket-writer takes the ARN of an IAM user, an IAM role or an account's root "
            f"user (no wildcards), e.g. arn:aws:iam::123456789012:role/PlatformOperator; "
            f"got {', '.join(repr(b) for b in bad)}"
        )
    if len(extra) > MAX_BUCKET_WRITERS:
        raise DeployError(f"at most {MAX_BUCKET_WRITERS} --bucket-writer principals")
    names: list[str] = []
    for arn in (caller_arn, *extra):
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
            role = parts[5].split("/")[1]
            prefix = f"arn:{parts[1]}:iam::{parts[4]}:role"
            named = [f"{prefix}/{role}", f"{prefix}/*/{role}"]
        else:
            named = [arn]
        names += [n for n in named if n and n not in names]
    return ",".join(names)


def _table(target: Target) -> dict[str, Any]:
    definition = table_definition(target.table_name)
    return {
        "Type": "AWS::DynamoDB::Table",
        **DATA_POLICIES,
        "Properties": {
            **definition,
            "TimeToLiveSpecification": {"AttributeName": TABLE_TTL_ATTRIBUTE, "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "Tags": [{"Key": STAGE_TAG, "Value": target.stage}],
        },
    }


def _alerts(target: Target, functions: Mapping[str, Any], emails, https) -> dict[str, Any]:
    tags = [{"Key": STAGE_TAG, "Value": target.stage}]
    resources: dict[str, Any] = {
        "AlertTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": target.alert_topic_name,
                # Encrypted always: with the stage's key, or SNS's AWS-managed key (which only
                # principals of the account can use, through SNS).
                "KmsMasterKeyId": {"Fn::If": ["HasAlertKey", {"Ref": ALERT_KEY_PARAMETER},
                                              AWS_MANAGED_SNS_KEY]},
                "Tags": tags,
            },
        },
        "AlertTopicPolicy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {"Topics": [{"Ref": "AlertTopic"}],
                           "PolicyDocument": sub(alert_topic_policy(target))},
        },
        "AlertRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": target.alert_rule_name,
                "Description": "Alerts on failed, timed-out or aborted executions of "
                f"{target.prefix}",
                "EventPattern": sub(alert_event_pattern(target)),
                "State": "ENABLED",
                "Targets": [{"Id": TARGET_ID, "Arn": functions[ALERT_FUNCTION]}],
            },
        },
        "AlertRulePermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": functions[ALERT_FUNCTION],
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": ["AlertRule", "Arn"]},
                "SourceAccount": {"Ref": "AWS::AccountId"},
            },
        },
        # The orchestrator's own events (chalicelib.status_events): every start, success,
        # failure and halt of a workload operation, a fleet, an account baseline.
        "StatusEventsRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": target.status_rule_name,
                "Description": f"The status events of {target.prefix}'s operations",
                "EventPattern": sub(status_event_pattern(target)),
                "State": "ENABLED",
                "Targets": [{"Id": STATUS_TARGET_ID, "Arn": functions[STATUS_FUNCTION]}],
            },
        },
        "StatusEventsRulePermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": functions[STATUS_FUNCTION],
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": ["StatusEventsRule", "Arn"]},
                "SourceAccount": {"Ref": "AWS::AccountId"},
            },
        },
    }  # fmt: skip
    subscriptions = [("email", e) for e in emails] + [("https", u) for u in https]
    for protocol, endpoint in subscriptions:
        # Named by what it is, not by its place in the flags: dropping one address must not
        # replace (and re-confirm) the others.
        digest = hashlib.sha256(f"{protocol}:{endpoint}".encode()).hexdigest()[:12]
        resources[f"AlertSubscription{digest}"] = {
            "Type": "AWS::SNS::Subscription",
            "Properties": {"TopicArn": {"Ref": "AlertTopic"}, "Protocol": protocol,
                           "Endpoint": endpoint},
        }  # fmt: skip
    return resources


def _resources(
    target: Target,
    obs: Observability,
    functions: Mapping[str, Any],
    log_groups: Mapping[str, Any],
    *,
    emails: tuple[str, ...],
    https: tuple[str, ...],
    roles: Mapping[str, Any],
) -> dict[str, Any]:
    arns = {f: target.function_arn(f) for f in FUNCTIONS}
    resources: dict[str, Any] = {
        "StatesRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": target.role_name,
                "Description": f"Step Functions role of {target.prefix}",
                "AssumeRolePolicyDocument": sub(states_trust_policy(target)),
                "Policies": [{"PolicyName": f"{target.prefix}-states", "PolicyDocument": sub(
                    states_policy(target, arns, log_delivery=obs.sfn_log_level != "OFF",
                                  xray=obs.xray))}],
            },
        },
        "CoordinationTable": _table(target),
        "FleetBucket": bucket_resource(target),
        "FleetBucketPolicy": bucket_policy(target, roles),
        **_alerts(target, functions, emails, https),
    }  # fmt: skip
    for kind in STATE_MACHINES:
        resources[machine_id(kind) + "LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": target.state_machine_log_group(kind),
                "RetentionInDays": obs.log_retention_days,
                "Tags": [{"Key": STAGE_TAG, "Value": target.stage}],
            },
        }
        resources[machine_id(kind)] = _machine(kind, target, obs, functions)
    if obs.dashboard:
        resources.update(dashboard_resources(target, log_groups))
    resources.update(baselining_resources(target, functions))
    return resources


def _outputs(obs: Observability, functions: Mapping[str, Any]) -> dict[str, Any]:
    def output(description: str, value: Any) -> dict[str, Any]:
        return {"Description": description, "Value": value}

    outputs = {
        OUTPUT_KEYS[kind]: output(f"The {kind.replace('_', ' ')} state machine",
                                  {"Ref": machine_id(kind)})
        for kind in STATE_MACHINES
    }  # fmt: skip
    outputs.update(
        CoordinationTableName=output("The coordination table", {"Ref": "CoordinationTable"}),
        CoordinationTableArn=output(
            "The coordination table's ARN", {"Fn::GetAtt": ["CoordinationTable", "Arn"]}
        ),
        FleetBucketName=output("Fleet plans and target lists", {"Ref": "FleetBucket"}),
        FleetBucketArn=output("The fleet bucket's ARN", {"Fn::GetAtt": ["FleetBucket", "Arn"]}),
        AlertTopicArn=output("Alerts of failed executions", {"Ref": "AlertTopic"}),
        AlertRuleArn=output("The alert rule", {"Fn::GetAtt": ["AlertRule", "Arn"]}),
        StatesRoleArn=output("The state machines' role", {"Fn::GetAtt": ["StatesRole", "Arn"]}),
        BaselinesObjectUri=output(
            "Where the account baselines read the baselines file (aws s3 cp FILE here)",
            {"Fn::Sub": "s3://${FleetBucket}/" + STORED_KEY},
        ),
    )
    outputs["AccountEventsRuleArn"] = {
        "Condition": "HasStaxEventBus",
        **output("The rule that starts the account baselines",
                 {"Fn::GetAtt": ["AccountEventsRule", "Arn"]}),
    }  # fmt: skip
    for kind in STATE_MACHINES:
        outputs[machine_id(kind) + "LogGroupArn"] = output(
            f"Execution logs of the {kind.replace('_', ' ')} machine",
            {"Fn::GetAtt": [machine_id(kind) + "LogGroup", "Arn"]},
        )
    for function in FUNCTIONS:
        outputs[function_id(function) + "Arn"] = output(
            f"The {function} function", functions[function]
        )
    if obs.dashboard:
        outputs["DashboardName"] = output("The stage's dashboard", {"Ref": "Dashboard"})
    return outputs


#: A KMS key ARN parameter (empty: no key).
KEY_PARAMETER = {
    "Type": "String",
    "AllowedPattern": f"^({KEY_ARN_PATTERN})?$",
    "ConstraintDescription": "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) or empty",
}


def _parameters(watch_timeout: int, alert_key_arn: str | None) -> dict[str, Any]:
    return {
        "WatchTimeoutSeconds": {
            "Type": "Number",
            "Default": str(watch_timeout),
            "MinValue": MIN_WATCH_TIMEOUT_SECONDS,
            "MaxValue": MAX_WATCH_TIMEOUT_SECONDS,
            "Description": "How long a Stax task is followed when a request names no "
            "watch_timeout_seconds",
        },
        ALERT_KEY_PARAMETER: {
            **KEY_PARAMETER,
            "Default": alert_key_arn or "",
            "Description": "The key that encrypts the alert topic (empty: not encrypted)",
        },
        "StaxEventBusName": {
            "Type": "String",
            "Default": "",
            "Description": "The event bus Stax's account events arrive on (empty: no "
            "automatic baselining of new accounts)",
        },
        "StaxEventSource": {
            "Type": "String",
            "Default": DEFAULT_EVENT_SOURCE,
            "Description": "The prefix of the source of Stax's account events",
        },
        WRITERS_PARAMETER: {
            "Type": "String",
            "Default": "",
            "Description": "Comma-separated ARNs of the principals, besides the stage's roles, "
            "that may write the stage bucket's baselines/, plans/ and requests/ (the "
            "deploying principal; empty: only the stage's roles)",
        },
        "BaselineDriftSchedule": {
            "Type": "String",
            "Default": "",
            "Description": "When to check Stax against the baselines file, e.g. "
            "rate(1 day) (empty: never)",
        },
    }


def stage_template(
    stage: str,
    obs: Observability,
    functions: Mapping[str, Any],
    log_groups: Mapping[str, Any],
    *,
    watch_timeout: int,
    alert_key_arn: str | None = None,
    emails: tuple[str, ...] = (),
    https: tuple[str, ...] = (),
    roles: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The stage's template. ``functions`` says how the template names each Lambda's ARN
    (a recorded ARN, or ``Fn::GetAtt`` in the package), ``log_groups`` each Lambda's log
    group (a name, or ``Ref``), ``roles`` each Lambda's role (by default the names
    ``chalice deploy`` gives them with the stage's policy files).

    Raises:
        DeployError: a state machine placeholder the template cannot fill.
    """
    target = symbolic_target(stage)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Stax Orchestrator {__version__}, stage {stage}: state machines, "
        "coordination table, stage bucket, alerts",
        "Parameters": _parameters(watch_timeout, alert_key_arn),
        "Conditions": conditions(
            {
                ALERT_KEY_PARAMETER: "HasAlertKey",
                WRITERS_PARAMETER: WRITERS_CONDITION,
                **_BASELINE_CONDITIONS,
            }
        ),
        "Resources": _resources(
            target,
            obs,
            functions,
            log_groups,
            emails=emails,
            https=https,
            roles=roles
            or {
                f: target.arn("iam", "role/" + target.function_role_name(f), region=False)
                for f in FUNCTIONS
            },
        ),
        "Outputs": _outputs(obs, functions),
    }


def conditions(parameters: Mapping[str, str]) -> dict[str, Any]:
    """``{condition: parameter is not empty}`` for each parameter -> condition name."""
    return {
        condition: {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}
        for parameter, condition in parameters.items()
    }


def bootstrap_template(stage: str) -> dict[str, Any]:
    """The first template of a new stage's stack: only its bucket, so that the whole
    template (larger than the 51,200 bytes a ``TemplateBody`` may have) can be read from a
    bucket the stack itself owns. The bucket is declared exactly as in
    :func:`stage_template`: the next change set leaves it as it is."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Stax Orchestrator {__version__}, stage {stage}: being created",
        "Resources": {"FleetBucket": bucket_resource(symbolic_target(stage))},
        "Outputs": {"FleetBucketName": {"Value": {"Ref": "FleetBucket"}}},
    }
