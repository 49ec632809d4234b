"""The stage template, evaluated as CloudFormation evaluates it.

The package (``stax_orchestrator.deploy.package``) and the stage's own stack
(``template.stage_template`` with the ARNs Chalice recorded) are evaluated here the way
CloudFormation would for one account and region -- ``Fn::Sub`` with the pseudo
parameters, ``Fn::GetAtt`` of a function's ``Arn``, ``Ref`` of a state machine (its ARN),
``Fn::If`` of the key conditions, ``DefinitionSubstitutions`` -- and compared with what the
code means: the rendered state machine definitions (the ones ``lint`` and the benchmarks
run), every function's policy, the states role's policy, the logging configuration. The
two templates differ only in how they name the functions.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from stax_orchestrator.deploy import observability, package
from stax_orchestrator.deploy.cfn import function_id, machine_id, pascal
from stax_orchestrator.deploy.names import DEFAULT_EVENT_SOURCE, FUNCTIONS, STATE_MACHINES, Target
from stax_orchestrator.deploy.observability import Observability
from stax_orchestrator.deploy.policies import lambda_policy, states_policy
from stax_orchestrator.deploy.stage import load_stage
from stax_orchestrator.deploy.template import (
    TOKEN_KEY_PARAMETER,
    WRITERS_CONDITION,
    WRITERS_PARAMETER,
    stage_template,
)
from stax_orchestrator.deploy.templates import load_template, render, template_values

REGION, ACCOUNT = "eu-west-1", "123456789012"
CONCRETE = Target("local", REGION, ACCOUNT, "aws")
TOKEN_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1b7e0c8e-1111-4222-8333-944445555666"
TIMEOUT = 3600
OBS = Observability(sfn_log_level="ERROR", include_execution_data=False,
                    log_retention_days=60, xray=True, dashboard=False)  # fmt: skip


def _refs(parameters: dict[str, str]) -> dict[str, str]:
    refs = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::Partition": "aws",
        "FleetBucket": CONCRETE.fleet_bucket,
        "AlertTopic": CONCRETE.alert_topic_arn,
        "CoordinationTable": CONCRETE.table_name,
        "AccountEventsQueue": f"https://sqs/{CONCRETE.account_events_queue_name}",
        "AccountEventsDeadLetterQueue": f"https://sqs/{CONCRETE.account_events_dlq_name}",
        **{f"{function_id(f)}LogGroup": CONCRETE.log_group(f) for f in FUNCTIONS},
        **{machine_id(k): CONCRETE.state_machine_arn(k) for k in STATE_MACHINES},
        **{function_id(f): CONCRETE.function_name(f) for f in FUNCTIONS},
    }
    refs.update(parameters)
    return refs


def evaluate(node: Any, refs: dict[str, str], conditions: dict[str, bool]) -> Any:
    """A template fragment as CloudFormation resolves it (the functions the package uses)."""
    if isinstance(node, list):
        items = [evaluate(item, refs, conditions) for item in node]
        return [item for item in items if item is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return _NO_VALUE if node["Ref"] == "AWS::NoValue" else refs[node["Ref"]]
    if set(node) == {"Fn::GetAtt"}:
        logical, attribute = node["Fn::GetAtt"]
        assert attribute == "Arn"
        function = next((f for f in FUNCTIONS if function_id(f) == logical), None)
        if function:
            return CONCRETE.function_arn(function)
        role = next((f for f in FUNCTIONS if function_id(f) + "Role" == logical), None)
        if role:  # the package's role is the one `chalice deploy` names
            return CONCRETE.arn("iam", f"role/{CONCRETE.function_role_name(role)}", region=False)
        return f"arn-of:{logical}"
    if set(node) == {"Fn::If"}:
        condition, then, otherwise = node["Fn::If"]
        return evaluate(then if conditions[condition] else otherwise, refs, conditions)
    if set(node) == {"Fn::Join"}:
        separator, items = node["Fn::Join"]
        return separator.join(evaluate(items, refs, conditions))
    if set(node) == {"Fn::Split"}:
        separator, text = node["Fn::Split"]
        return evaluate(text, refs, conditions).split(separator)
    if set(node) == {"Fn::Sub"}:
        text, variables = (
            (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
        )
        values = {**refs, **{k: evaluate(v, refs, conditions) for k, v in variables.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(values[m.group(1)]), text)
    return {key: evaluate(value, refs, conditions) for key, value in node.items()}


_NO_VALUE = object()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return package.merge_template(load_stage("local"), OBS, watch_timeout=TIMEOUT,
                                  token_key_arn=TOKEN_KEY)  # fmt: skip


@pytest.fixture(scope="module")
def stage_stack() -> dict[str, Any]:
    """The template the post-deploy step deploys: the ARNs Chalice recorded, literally."""
    arns = {f: CONCRETE.function_arn(f) for f in FUNCTIONS}
    groups = {f: CONCRETE.log_group(f) for f in FUNCTIONS}
    return stage_template("local", OBS, arns, groups, watch_timeout=TIMEOUT)


def definition(machine: dict[str, Any], refs: dict[str, str]) -> Any:
    """A machine's definition after ``DefinitionSubstitutions``."""
    values = evaluate(machine["DefinitionSubstitutions"], refs, {})
    text = re.sub(r"\$\{([^}]+)\}", lambda m: str(values[m.group(1)]), machine["DefinitionString"])
    return json.loads(text)


@pytest.mark.parametrize("path", ["package", "stage stack"])
@pytest.mark.parametrize("kind", STATE_MACHINES)
def test_a_templated_state_machine_is_the_definition_the_code_renders(
    template: dict[str, Any], stage_stack: dict[str, Any], kind: str, path: str
) -> None:
    arns = {f: CONCRETE.function_arn(f) for f in FUNCTIONS}
    expected = render(load_template(kind), template_values(arns, CONCRETE, TIMEOUT))
    chosen = template if path == "package" else stage_stack
    machine = chosen["Resources"][machine_id(kind)]["Properties"]
    refs = _refs({"WatchTimeoutSeconds": str(TIMEOUT), "StaxEventSource": DEFAULT_EVENT_SOURCE})
    assert definition(machine, refs) == expected
    assert machine["StateMachineName"] == CONCRETE.state_machine_name(kind)
    logging = observability.logging_configuration(CONCRETE, kind, OBS)
    assert evaluate(machine["LoggingConfiguration"], refs, {}) == pascal(logging)


@pytest.mark.parametrize("with_key", [False, True], ids=["no token key", "a token key"])
def test_every_packaged_function_role_holds_the_policy_deploy_sh_writes(
    template: dict[str, Any], with_key: bool
) -> None:
    stage = load_stage("local")
    refs = _refs({TOKEN_KEY_PARAMETER: TOKEN_KEY if with_key else ""})
    conditions = {"HasTokenKey": with_key, "HasAlertKey": False}
    for function in FUNCTIONS:
        shared = [f for f, file in stage.policy_files.items()
                  if file == stage.policy_files[function]]  # fmt: skip
        expected = lambda_policy(CONCRETE, shared, stage.token_parameters,
                                 TOKEN_KEY if with_key else None)  # fmt: skip
        role = template["Resources"][function_id(function) + "Role"]["Properties"]
        [policy] = role["Policies"]
        assert evaluate(policy["PolicyDocument"], refs, conditions) == expected, function


def test_the_packaged_states_role_holds_the_policy_deploy_sh_writes(
    template: dict[str, Any],
) -> None:
    arns = {f: CONCRETE.function_arn(f) for f in FUNCTIONS}
    expected = states_policy(CONCRETE, arns, log_delivery=True, xray=True)
    [policy] = template["Resources"]["StatesRole"]["Properties"]["Policies"]
    assert evaluate(policy["PolicyDocument"], _refs({}), {}) == expected


def test_the_packaged_account_events_rule_and_drift_schedule_match_deploy_sh(
    template: dict[str, Any],
) -> None:
    from stax_orchestrator.deploy.baselining import account_event_pattern
    from stax_orchestrator.deploy.policies import account_events_queue_policy

    resources = template["Resources"]
    queued = ("AccountEventsQueue", "AccountEventsDeadLetterQueue", "AccountEventsQueuePolicy",
              "AccountEventsMapping", "AccountEventsDeadLetterAlarm", "AccountEventsRule")  # fmt: skip
    assert {resources[n]["Condition"] for n in queued} == {"HasStaxEventBus"}
    refs = _refs({"StaxEventBusName": "stax", "StaxEventSource": "aws.partner/stax.io/au1",
                  "BaselineDriftSchedule": "rate(1 day)"})  # fmt: skip
    rule = evaluate(resources["AccountEventsRule"]["Properties"], refs, {})
    assert json.loads(rule["EventPattern"]) == account_event_pattern("aws.partner/stax.io/au1")
    assert rule["Name"] == CONCRETE.account_events_rule_name and rule["EventBusName"] == "stax"
    # The rule queues the events (no role: the queue's policy lets the rule send).
    [target] = rule["Targets"]
    assert target["Arn"] == "arn-of:AccountEventsQueue" and "RoleArn" not in target
    assert target["DeadLetterConfig"] == {"Arn": "arn-of:AccountEventsDeadLetterQueue"}
    queue = evaluate(resources["AccountEventsQueue"]["Properties"], refs, {})
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": "arn-of:AccountEventsDeadLetterQueue",
                                      "maxReceiveCount": 5}  # fmt: skip
    policy = evaluate(resources["AccountEventsQueuePolicy"]["Properties"], refs, {})
    assert policy["PolicyDocument"] == json.loads(
        json.dumps(account_events_queue_policy(CONCRETE)).replace("${StaxEventBusName}", "stax")
    )
    mapping = evaluate(resources["AccountEventsMapping"]["Properties"], refs, {})
    assert mapping["FunctionName"] == CONCRETE.function_arn("start_account_baselines")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    drift = evaluate(resources["DriftRule"]["Properties"], refs, {})
    assert drift["Targets"][0]["Arn"] == CONCRETE.function_arn("check_baseline_drift")
    assert json.loads(drift["Targets"][0]["Input"]) == {"bucket": CONCRETE.fleet_bucket}


def test_the_package_is_the_stage_stack_plus_the_lambdas(
    template: dict[str, Any], stage_stack: dict[str, Any]
) -> None:
    refs = _refs(
        {
            "WatchTimeoutSeconds": str(TIMEOUT),
            "StaxEventBusName": "stax",
            "StaxEventSource": "aws.partner/stax.io",
            "BaselineDriftSchedule": "",
            "AlertKmsKeyArn": "",
            WRITERS_PARAMETER: "arn:aws:iam::123456789012:user/d",
        }
    )
    conditions = {"HasTokenKey": False, "HasAlertKey": False, WRITERS_CONDITION: True}
    functions_only = {
        logical for logical in template["Resources"]
        if any(logical.startswith(function_id(f)) for f in FUNCTIONS)
    }  # fmt: skip
    assert set(template["Resources"]) - functions_only == set(stage_stack["Resources"])
    for logical, resource in stage_stack["Resources"].items():
        packaged = template["Resources"][logical]
        assert evaluate(packaged, refs, conditions) == evaluate(resource, refs, conditions), logical
    assert set(stage_stack["Outputs"]) <= set(template["Outputs"])


def test_the_table_and_the_bucket_are_deleted_with_the_stage_and_kept_on_replacement(
    stage_stack: dict[str, Any],
) -> None:
    for logical in ("CoordinationTable", "FleetBucket"):
        resource = stage_stack["Resources"][logical]
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == (
            "Delete",
            "Retain",
        ), logical
