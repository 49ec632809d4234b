"""The deploying principal's policy names one stage's resources, exactly."""

from __future__ import annotations

import fnmatch
from typing import Any

from stax_orchestrator.deploy.deployer import deployer_policy
from stax_orchestrator.deploy.names import FUNCTIONS, STATE_MACHINES, Target

PARAMETERS = ("/dev/stax/key", "/dev/stax/secret")
#: The statements whose actions AWS authorizes only on ``*`` (or by condition).
UNSCOPED = {"OnlyOnEveryResource", "TokenKey", "EventBuses", "QueueMapping"}


def policy(stage: str) -> dict[str, Any]:
    return deployer_policy(Target(stage, "eu-west-1", "111122223333"), PARAMETERS)


def resources_of(stage: str) -> list[str]:
    """Every ARN the deploy of ``stage`` touches (as the template and Chalice name them)."""
    target = Target(stage, "eu-west-1", "111122223333")
    return [
        *(target.function_arn(f) for f in FUNCTIONS),
        *(target.state_machine_arn(k) for k in STATE_MACHINES),
        target.arn("iam", f"role/{target.role_name}", region=False),
        target.arn("dynamodb", f"table/{target.table_name}"),
        target.fleet_bucket_arn,
        target.alert_topic_arn,
        target.account_events_queue_arn,
        target.account_events_dlq_arn,
        target.arn("cloudformation", f"stack/{target.stack_name}/1234"),
    ]


def matches(pattern: str, arn: str) -> bool:
    return fnmatch.fnmatchcase(arn, pattern)


def test_the_policy_covers_every_resource_of_its_stage() -> None:
    patterns = [r for s in policy("dev")["Statement"] for r in s["Resource"]]
    for arn in resources_of("dev"):
        assert any(matches(p, arn) for p in patterns), arn


def test_no_statement_reaches_a_stage_whose_name_starts_the_same() -> None:
    scoped = [s for s in policy("dev")["Statement"] if s["Sid"] not in UNSCOPED]
    for statement in scoped:
        for arn in resources_of("dev-eu"):
            assert not any(matches(p, arn) for p in statement["Resource"]), (statement["Sid"], arn)


def test_roles_are_passed_only_to_the_services_that_use_them() -> None:
    [passing] = [s for s in policy("dev")["Statement"] if "iam:PassRole" in s["Action"]]
    assert passing["Action"] == ["iam:PassRole"]
    assert set(passing["Condition"]["StringEquals"]["iam:PassedToService"]) == {
        "lambda.amazonaws.com", "states.amazonaws.com"}  # fmt: skip


def test_the_queue_mapping_is_managed_only_for_the_stage_s_own_queue_function() -> None:
    [mapping] = [s for s in policy("dev")["Statement"] if s["Sid"] == "QueueMapping"]
    [function] = mapping["Condition"]["ArnLike"].values()
    assert function == Target("dev", "eu-west-1", "111122223333").function_arn(
        "start_account_baselines"
    )
    assert not any(matches(function, arn) for arn in resources_of("dev-eu"))


def test_the_token_is_read_by_its_two_parameters_and_decrypted_only_through_ssm() -> None:
    statements = {s["Sid"]: s for s in policy("dev")["Statement"]}
    assert statements["Token"]["Resource"] == [
        "arn:aws:ssm:eu-west-1:111122223333:parameter/dev/stax/key",
        "arn:aws:ssm:eu-west-1:111122223333:parameter/dev/stax/secret",
    ]
    condition = statements["TokenKey"]["Condition"]
    assert condition["StringEquals"] == {"kms:ViaService": "ssm.eu-west-1.amazonaws.com"}
    assert (
        condition["ForAnyValue:StringEquals"]["kms:EncryptionContext:PARAMETER_ARN"]
        == (statements["Token"]["Resource"])
    )
