"""The CloudFormation package: ``deploy.sh --stage S --package DIR``.

Role: the second deploy path. ``merge_template`` builds what Chalice merges into its own
template (``chalice package --merge-template``): the four state machines (their
``DefinitionString`` is ``Fn::Sub`` of the ASL files, the ASL placeholders mapped to
``Fn::GetAtt`` of Chalice's functions and ``Ref`` of our resources), their role and log
groups, the coordination table, the fleet bucket, the alert topic, rule and permission,
the dashboard and alarms when asked, the account events rule and drift schedule of
automatic baselining when their parameters are set (both in ``cfn``),
``AWS::ServerlessRepo::Application`` metadata and
Outputs for every ARN. It also names Chalice's functions as ``deploy.sh`` names them and
replaces their roles' documents. Every document comes from the functions the
``deploy.sh`` path calls (``policies``, ``templates``, ``observability``, ``resources``,
``alerts``), given a :func:`symbolic_target` whose account, region and partition are
``${AWS::AccountId}``, ``${AWS::Region}`` and ``${AWS::Partition}`` under ``Fn::Sub``:
both paths produce the same resources from the same code (``tests/unit/test_package.py``
proves it). ``package`` runs Chalice and checks the merge.

What the package cannot check (``deploy.sh``'s preflight does): that the Stax token is
stored in SSM and readable, and that its key is the one granted — the stack only names
the parameters; the token is set with ``stax-orchestrator setup``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chalicelib.baselines.automatic import STORED_KEY
from chalicelib.validation import MAX_WATCH_TIMEOUT_SECONDS
from stax_orchestrator import __version__
from stax_orchestrator.deploy import observability
from stax_orchestrator.deploy.alerts import TARGET_ID, alert_event_pattern
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
    APP_NAME,
    CHALICE_DIR,
    FUNCTIONS,
    STATE_MACHINES,
    Target,
)
from stax_orchestrator.deploy.observability import Observability
from stax_orchestrator.deploy.policies import (
    alert_topic_policy,
    lambda_policy,
    lambda_trust_policy,
    states_policy,
    states_trust_policy,
)
from stax_orchestrator.deploy.resources import (
    BUCKET_EXPIRING_PREFIXES,
    BUCKET_EXPIRY_DAYS,
    BUCKET_PUBLIC_ACCESS_BLOCK,
    BUCKET_SSE,
    STAGE_TAG,
    TABLE_ATTRIBUTES,
    TABLE_BILLING_MODE,
    TABLE_KEY_SCHEMA,
    TABLE_TTL_ATTRIBUTE,
)
from stax_orchestrator.deploy.stage import StageConfig, StageConfigError, load_stage
from stax_orchestrator.deploy.templates import (
    MIN_WATCH_TIMEOUT_SECONDS,
    PLACEHOLDER,
    DeployError,
    load_template,
    template_values,
)

#: The template Chalice writes (its name for it).
TEMPLATE_NAME = "sam.json"
#: The keys the CLI reads with ``--stack-name`` (one per resource it needs).
OUTPUT_KEYS = {
    "workload": "WorkloadStateMachineArn",
    "task_watcher": "TaskWatcherStateMachineArn",
    "fleet": "FleetStateMachineArn",
    "account_baseline": "AccountBaselineStateMachineArn",
}
TOKEN_KEY_PARAMETER = "TokenKmsKeyArn"  # noqa: S105 - a parameter name
ALERT_KEY_PARAMETER = "AlertKmsKeyArn"
_KEY_ARN = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+"
_CONDITIONS = {TOKEN_KEY_PARAMETER: "HasTokenKey", ALERT_KEY_PARAMETER: "HasAlertKey"}
_BASELINE_CONDITIONS = {"StaxEventBusName": "HasStaxEventBus",
                        "BaselineDriftSchedule": "HasDriftSchedule"}  # fmt: skip
_NO_VALUE = {"Ref": "AWS::NoValue"}


# -- the state machines -------------------------------------------------------------------
def definition_string(kind: str, target: Target) -> dict[str, Any]:
    """``Fn::Sub`` of the ASL file: what each placeholder is, learnt from the values the
    ``deploy.sh`` path fills in (``template_values`` on the symbolic target).

    Raises:
        DeployError: a placeholder the package cannot express.
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
            variables[name] = {"Fn::GetAtt": [function_id(function), "Arn"]}
        elif machine == kind:  # a machine that runs itself: its own (deterministic) ARN
            text = text.replace("${" + name + "}", target.state_machine_arn(kind))
        elif machine:
            variables[name] = {"Ref": machine_id(machine)}
        elif value == target.fleet_bucket:
            variables[name] = {"Ref": "FleetBucket"}
        elif name == "WatchTimeoutSeconds":
            variables[name] = {"Ref": "WatchTimeoutSeconds"}
        elif isinstance(value, int) and value == longest.get(name):
            variables[name] = str(value)  # derived, and the same for every watch timeout
        else:
            raise DeployError(f"statemachines/{kind}.asl.json: the package cannot fill ${{{name}}}")
        if isinstance(value, int):  # a number in the ASL: the JSON value loses its quotes
            text = text.replace('"${' + name + '}"', "${" + name + "}")
    return {"Fn::Sub": [text, variables] if variables else text}


def _machine(kind: str, target: Target, obs: Observability) -> dict[str, Any]:
    logging = observability.logging_configuration(target, kind, obs)
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "DependsOn": [machine_id(kind) + "LogGroup"],
        "Properties": {
            "StateMachineName": target.state_machine_name(kind),
            "RoleArn": {"Fn::GetAtt": ["StatesRole", "Arn"]},
            "DefinitionString": definition_string(kind, target),
            "LoggingConfiguration": sub(pascal(logging)),
            "TracingConfiguration": pascal(observability.tracing_configuration(obs)),
            "Tags": [{"Key": STAGE_TAG, "Value": target.stage}],
        },
    }


def _conditional(document: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
    """``document`` with each statement that ``plain`` lacks (the ones about a key
    parameter) under ``Fn::If`` of that parameter's condition."""
    statements = []
    for statement in document["Statement"]:
        if statement in plain["Statement"]:
            statements.append(sub(statement))
            continue
        text = json.dumps(statement)
        [condition] = [c for p, c in _CONDITIONS.items() if "${" + p + "}" in text]
        statements.append({"Fn::If": [condition, sub(statement), _NO_VALUE]})
    return {**document, "Statement": statements}


def _function_overrides(target: Target, stage: StageConfig, obs: Observability) -> dict[str, Any]:
    """Names, roles and log groups of Chalice's functions, as ``deploy.sh`` makes them."""
    groups: dict[str, list[str]] = {}
    for function, filename in stage.policy_files.items():
        groups.setdefault(filename, []).append(function)
    keyed = ("${" + TOKEN_KEY_PARAMETER + "}", "${" + ALERT_KEY_PARAMETER + "}")
    resources: dict[str, Any] = {}
    for function in FUNCTIONS:
        shared = groups[stage.policy_files[function]]
        policy = lambda_policy(target, shared, stage.token_parameters, *keyed)
        plain = lambda_policy(target, shared, stage.token_parameters)
        logical = function_id(function)
        resources[logical] = {"Properties": {"FunctionName": target.function_name(function)}}
        resources[logical + "Role"] = {
            "Properties": {
                "AssumeRolePolicyDocument": sub(lambda_trust_policy(target)),
                "Policies": [
                    {"PolicyName": logical + "RolePolicy",
                     "PolicyDocument": _conditional(policy, plain)}
                ],
            }
        }  # fmt: skip
        resources[logical + "LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": "/aws/lambda/${" + logical + "}"},
                "RetentionInDays": obs.log_retention_days,
            },
        }
    return resources


def _stage_resources(
    target: Target, obs: Observability, emails: tuple[str, ...], https: tuple[str, ...]
) -> dict[str, Any]:
    arns = {f: target.function_arn(f) for f in FUNCTIONS}
    tags = [{"Key": STAGE_TAG, "Value": target.stage}]
    resources: dict[str, Any] = {
        "StatesRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": f"Step Functions role of {target.prefix}",
                "AssumeRolePolicyDocument": sub(states_trust_policy(target)),
                "Policies": [{"PolicyName": f"{target.prefix}-states", "PolicyDocument": sub(
                    states_policy(target, arns, log_delivery=obs.sfn_log_level != "OFF",
                                  xray=obs.xray))}],
            },
        },
        "CoordinationTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": target.table_name,
                "KeySchema": [dict(k) for k in TABLE_KEY_SCHEMA],
                "AttributeDefinitions": [dict(a) for a in TABLE_ATTRIBUTES],
                "BillingMode": TABLE_BILLING_MODE,
                "TimeToLiveSpecification": {"AttributeName": TABLE_TTL_ATTRIBUTE, "Enabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "Tags": tags,
            },
        },
        "FleetBucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": sub(target.fleet_bucket),
                "PublicAccessBlockConfiguration": dict(BUCKET_PUBLIC_ACCESS_BLOCK),
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": BUCKET_SSE}}]},
                "VersioningConfiguration": {"Status": "Enabled"},
                "LifecycleConfiguration": {"Rules": [
                    {"Id": f"expire-{prefix}", "Status": "Enabled", "Prefix": f"{prefix}/",
                     "ExpirationInDays": BUCKET_EXPIRY_DAYS,
                     "NoncurrentVersionExpiration": {"NoncurrentDays": BUCKET_EXPIRY_DAYS}}
                    for prefix in BUCKET_EXPIRING_PREFIXES]},
                "Tags": tags,
            },
        },
        "AlertTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": target.alert_topic_name,
                "KmsMasterKeyId": {"Fn::If": ["HasAlertKey", {"Ref": ALERT_KEY_PARAMETER},
                                              _NO_VALUE]},
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
                "Targets": [{"Id": TARGET_ID,
                             "Arn": {"Fn::GetAtt": [function_id(ALERT_FUNCTION), "Arn"]}}],
            },
        },
        "AlertRulePermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": {"Fn::GetAtt": [function_id(ALERT_FUNCTION), "Arn"]},
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": ["AlertRule", "Arn"]},
                "SourceAccount": {"Ref": "AWS::AccountId"},
            },
        },
    }  # fmt: skip
    subscriptions = [("email", e) for e in emails] + [("https", u) for u in https]
    for index, (protocol, endpoint) in enumerate(subscriptions):
        resources[f"AlertSubscription{index}"] = {
            "Type": "AWS::SNS::Subscription",
            "Properties": {"TopicArn": {"Ref": "AlertTopic"}, "Protocol": protocol,
                           "Endpoint": endpoint},
        }  # fmt: skip
    for kind in STATE_MACHINES:
        resources[machine_id(kind) + "LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": target.state_machine_log_group(kind),
                "RetentionInDays": obs.log_retention_days,
                "Tags": tags,
            },
        }
        resources[machine_id(kind)] = _machine(kind, target, obs)
    if obs.dashboard:
        resources.update(dashboard_resources(target))
    resources.update(baselining_resources(target))
    return resources


def _outputs(obs: Observability) -> dict[str, Any]:
    def output(description: str, value: Any) -> dict[str, Any]:
        return {"Description": description, "Value": value}

    outputs = {
        key: output(f"The {kind.replace('_', ' ')} state machine", {"Ref": machine_id(kind)})
        for kind, key in OUTPUT_KEYS.items()
    }
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
    for kind in STATE_MACHINES:
        outputs[machine_id(kind) + "LogGroupArn"] = output(
            f"Execution logs of the {kind.replace('_', ' ')} machine",
            {"Fn::GetAtt": [machine_id(kind) + "LogGroup", "Arn"]},
        )
    for function in FUNCTIONS:
        outputs[function_id(function) + "Arn"] = output(
            f"The {function} function", {"Fn::GetAtt": [function_id(function), "Arn"]}
        )
        outputs[function_id(function) + "RoleArn"] = output(
            f"The {function} function's role",
            {"Fn::GetAtt": [function_id(function) + "Role", "Arn"]},
        )
    if obs.dashboard:
        outputs["DashboardName"] = output("The stage's dashboard", {"Ref": "Dashboard"})
    return outputs


def _metadata(source_url: str | None) -> dict[str, Any]:
    application: dict[str, Any] = {
        "Name": APP_NAME,
        "Description": "Create, update and delete Stax workloads through AWS Step Functions, "
        "following each Stax task to its end.",
        "Author": "stax-orchestrator-contributors",
        "SpdxLicenseId": "Apache-2.0",
        "LicenseUrl": "LICENSE",
        "ReadmeUrl": "README.md",
        "Labels": ["stax", "step-functions", "workloads", "orchestration", "chalice"],
        "SemanticVersion": __version__,
    }
    if source_url:
        application.update(HomePageUrl=source_url, SourceCodeUrl=source_url)
    return {"AWS::ServerlessRepo::Application": application}


def merge_template(
    stage: StageConfig,
    obs: Observability,
    *,
    watch_timeout: int,
    token_key_arn: str | None = None,
    alert_key_arn: str | None = None,
    emails: tuple[str, ...] = (),
    https: tuple[str, ...] = (),
    source_url: str | None = None,
) -> dict[str, Any]:
    """What ``chalice package --merge-template`` merges into Chalice's template."""
    target = symbolic_target(stage.stage)
    key = {
        "Type": "String",
        "AllowedPattern": f"^({_KEY_ARN})?$",
        "ConstraintDescription": "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) or empty",
    }
    return {
        "Description": f"Stax Orchestrator {__version__}, stage {stage.stage}: Lambdas, "
        "state machines, coordination table, fleet bucket, alerts",
        "Metadata": _metadata(source_url),
        "Parameters": {
            "WatchTimeoutSeconds": {
                "Type": "Number",
                "Default": str(watch_timeout),
                "MinValue": MIN_WATCH_TIMEOUT_SECONDS,
                "MaxValue": MAX_WATCH_TIMEOUT_SECONDS,
                "Description": "How long a Stax task is followed when a request names no "
                "watch_timeout_seconds",
            },
            TOKEN_KEY_PARAMETER: {
                **key,
                "Default": token_key_arn or "",
                "Description": "The customer-managed key of the Stax token "
                "parameters (empty: the AWS-managed aws/ssm key)",
            },
            ALERT_KEY_PARAMETER: {
                **key,
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
            "BaselineDriftSchedule": {
                "Type": "String",
                "Default": "",
                "Description": "When to check Stax against the baselines file, e.g. "
                "rate(1 day) (empty: never)",
            },
        },
        "Conditions": {
            condition: {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}
            for parameter, condition in {**_CONDITIONS, **_BASELINE_CONDITIONS}.items()
        },
        "Resources": {
            **_function_overrides(target, stage, obs),
            **_stage_resources(target, obs, emails, https),
        },
        "Outputs": _outputs(obs),
    }


# -- running Chalice ----------------------------------------------------------------------
def key_arn_option(value: str | None, flag: str) -> str | None:
    """A key for the package: an ARN (it cannot be looked up without AWS).

    Raises:
        DeployError: an alias or a bare key id.
    """
    if not value:
        return None
    if not re.fullmatch(_KEY_ARN, value.strip()):
        raise DeployError(
            f"{flag} {value!r}: the package needs the key's ARN (find it with "
            f"`aws kms describe-key --key-id {value} --query KeyMetadata.Arn`)"
        )
    return value.strip()


def _ensure_policy_files(target: Target, stage: StageConfig, chalice_dir: Path) -> None:
    """Chalice reads each function's policy file; a fresh clone has none. The package
    replaces their content with its own documents, so any valid policy does: the
    symbolic one. Files that ``deploy.sh`` wrote are left alone."""
    groups: dict[str, list[str]] = {}
    for function, filename in stage.policy_files.items():
        groups.setdefault(filename, []).append(function)
    for filename, functions in groups.items():
        path = chalice_dir / filename
        if not path.exists():
            document = lambda_policy(target, functions, stage.token_parameters)
            path.write_text(json.dumps(document, indent=2) + "\n")


def _chalice() -> str:
    return os.environ.get("CHALICE") or str(Path(sys.executable).parent / "chalice")


def package(
    stage_name: str,
    out_dir: str | Path,
    *,
    watch_timeout: int,
    obs: Observability,
    kms_key_id: str | None = None,
    alert_kms_key_id: str | None = None,
    emails: tuple[str, ...] = (),
    https: tuple[str, ...] = (),
    source_url: str | None = None,
    chalice_dir: Path = CHALICE_DIR,
) -> Path:
    """Write the package into ``out_dir``; the template's path.

    Raises:
        DeployError: the stage, a key or the merge is not right (the message says what).
    """
    if not str(out_dir):
        raise DeployError("--package needs a folder to write the template into")
    try:
        stage = load_stage(stage_name, chalice_dir)
    except StageConfigError as error:
        raise DeployError(str(error)) from None
    target = symbolic_target(stage_name)
    for setting, expected in (
        (stage.coordination_table, target.table_name),
        (stage.environment(ALERT_FUNCTION).get("STAX_ALERT_TOPIC_NAME"), target.alert_topic_name),
    ):
        if setting != expected:
            raise DeployError(
                f"stage {stage_name} names {setting!r} where the package creates {expected!r}: "
                "set it in .chalice/config.json"
            )
    extras = merge_template(
        stage,
        obs,
        watch_timeout=watch_timeout,
        token_key_arn=key_arn_option(kms_key_id or stage.kms_key_id, "--kms-key-id"),
        alert_key_arn=key_arn_option(alert_kms_key_id, "--alert-kms-key-id"),
        emails=emails,
        https=https,
        source_url=source_url,
    )
    _ensure_policy_files(target, stage, chalice_dir)
    out = Path(out_dir).resolve()
    env = dict(os.environ)
    # Chalice asks for a region even to package; the template itself names none.
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION") or "us-east-1")
    with tempfile.TemporaryDirectory() as tmp:
        merge = Path(tmp) / "extras.json"
        merge.write_text(json.dumps(extras, indent=2))
        run = subprocess.run(  # noqa: S603 - our own Chalice, arguments we built
            [_chalice(), "package", "--stage", stage_name, "--merge-template", str(merge),
             str(out)],
            cwd=chalice_dir.parent, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
    if run.returncode != 0:
        raise DeployError(f"chalice package failed:\n{run.stdout}{run.stderr}")
    path = out / TEMPLATE_NAME
    check_merged(json.loads(path.read_text()), extras)
    for name in ("LICENSE", "README.md"):  # the SAR metadata names them beside the template
        source = chalice_dir.parent / name
        if not source.exists():
            raise DeployError(f"{source} is missing: the SAR metadata needs it")
        shutil.copy2(source, out / name)
    return path


def check_merged(template: Mapping[str, Any], extras: Mapping[str, Any]) -> None:
    """Every resource the merge touched is a whole resource of the template (a Chalice
    that renamed a logical id would leave a resource without a Type).

    Raises:
        DeployError: which logical ids did not meet a Chalice resource.
    """
    resources = template.get("Resources", {})
    partial = sorted(r for r in extras["Resources"] if "Type" not in resources.get(r, {}))
    if partial:
        raise DeployError(
            f"the package's merge met no Chalice resource for {', '.join(partial)}: "
            "Chalice's logical ids have changed"
        )
