"""The stage bucket's policy: only the stage writes what drives Stax writes, TLS only.

What MiniStack's IAM evaluator makes of it is proven in tests/e2e/test_bucket_policy.py;
here, what the template says for a stage and who it names.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stax_orchestrator.deploy.names import FUNCTIONS, Target
from stax_orchestrator.deploy.observability import Observability
from stax_orchestrator.deploy.template import (
    BUCKET_GUARDED_PREFIXES,
    WRITERS_CONDITION,
    WRITERS_PARAMETER,
    stage_template,
    writer_arns,
)
from stax_orchestrator.deploy.templates import DeployError

OBS = Observability(sfn_log_level="ERROR", include_execution_data=False,
                    log_retention_days=30, xray=False, dashboard=False)  # fmt: skip


def _policy(stage: str) -> dict[str, Any]:
    target = Target(stage, "eu-west-1", "123456789012")
    template = stage_template(
        stage, OBS, {f: target.function_arn(f) for f in FUNCTIONS},
        {f: target.log_group(f) for f in FUNCTIONS}, watch_timeout=3600,
    )  # fmt: skip
    return dict(template["Resources"]["FleetBucketPolicy"]["Properties"]["PolicyDocument"])


def _statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


def test_the_bucket_refuses_every_call_without_tls() -> None:
    tls = _statement(_policy("dev"), "TlsOnly")
    assert (tls["Effect"], tls["Action"], tls["Principal"]) == ("Deny", "s3:*", "*")
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(tls["Resource"]) == 2  # the bucket and every object in it


def test_writes_under_the_prefixes_that_drive_stax_are_denied_to_all_but_the_stage() -> None:
    guard = _statement(_policy("dev"), "OnlyTheStageWritesWhatDrivesStax")
    assert guard["Effect"] == "Deny" and guard["Principal"] == "*"
    assert {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"} <= set(guard["Action"])
    resources = json.dumps(guard["Resource"])
    for prefix in BUCKET_GUARDED_PREFIXES:
        assert "stax-orchestrator-dev-" in resources and f"/{prefix}/*" in resources
    with_writers, roles_only = guard["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::If"][1:]
    assert guard["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::If"][0] == WRITERS_CONDITION
    assert {"Ref": WRITERS_PARAMETER} in with_writers["Fn::Split"][1]["Fn::Join"][1]
    names = json.dumps(roles_only)
    for function in FUNCTIONS:
        assert f':role/stax-orchestrator-dev-{function}"' in names, function
    assert {"Fn::GetAtt": ["StatesRole", "Arn"]} in roles_only


def test_no_role_of_another_stage_may_write_this_stages_bucket() -> None:
    """``dev``'s policy names ``dev``'s roles exactly, never a pattern ``dev-eu``'s match."""
    names = json.dumps(_policy("dev"))
    assert "*" not in json.dumps(
        _statement(_policy("dev"), "OnlyTheStageWritesWhatDrivesStax")["Condition"]
    )
    assert "dev-eu" not in names


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        (
            "arn:aws:iam::123456789012:user/ci/deployer",
            "arn:aws:iam::123456789012:user/ci/deployer",
        ),
        ("arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:root"),
        (
            "arn:aws:sts::123456789012:assumed-role/Deploy/ci-run-7",
            "arn:aws:iam::123456789012:role/Deploy,arn:aws:iam::123456789012:role/*/Deploy",
        ),
        (
            "arn:aws-us-gov:sts::123456789012:assumed-role/Deploy/s",
            "arn:aws-us-gov:iam::123456789012:role/Deploy,"
            "arn:aws-us-gov:iam::123456789012:role/*/Deploy",
        ),
    ],
)
def test_the_deploying_principal_is_named_as_aws_principal_arn_names_it(
    caller: str, expected: str
) -> None:
    assert writer_arns(caller) == expected


def test_bucket_writers_join_the_deploying_principal_once_each() -> None:
    deployer = "arn:aws:iam::123456789012:user/deployer"
    operator = "arn:aws:sts::123456789012:assumed-role/Operator/alice"
    assert writer_arns(deployer, (operator, deployer)) == (
        f"{deployer},arn:aws:iam::123456789012:role/Operator,"
        "arn:aws:iam::123456789012:role/*/Operator"
    )


@pytest.mark.parametrize(
    "writer",
    [
        "*",
        "arn:aws:iam::123456789012:role/*",
        "arn:aws:iam::*:root",
        "arn:aws:iam::123456789012:group/admins",
        "lambda.amazonaws.com",
        "arn:aws:iam::123456789012:role/a,arn:aws:iam::999999999999:root",
        "123456789012",
        "arn:aws:iam::123456789012:role/a,b",
    ],
)
def test_a_bucket_writer_is_one_named_principal_never_a_pattern(writer: str) -> None:
    with pytest.raises(DeployError, match="--bucket-writer takes the ARN"):
        writer_arns("arn:aws:iam::123456789012:user/deployer", (writer,))


def test_replaced_versions_of_the_stored_baselines_file_expire_and_the_current_one_stays() -> None:
    target = Target("dev", "eu-west-1", "123456789012")
    template = stage_template(
        "dev", OBS, {f: target.function_arn(f) for f in FUNCTIONS},
        {f: target.log_group(f) for f in FUNCTIONS}, watch_timeout=3600,
    )  # fmt: skip
    rules = template["Resources"]["FleetBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    [baselines] = [r for r in rules if r["Prefix"] == "baselines/"]
    assert baselines["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
    assert "ExpirationInDays" not in baselines  # the file the stage reads never expires
    for prefix in ("plans/", "requests/", "templates/"):
        [rule] = [r for r in rules if r["Prefix"] == prefix]
        assert rule["ExpirationInDays"] == rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
