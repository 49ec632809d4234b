"""A stage name is checked before anything is created, against the tightest name it feeds."""

from __future__ import annotations

import pytest

from stax_orchestrator.deploy import steps
from stax_orchestrator.deploy.names import (
    ANY_ACCOUNT,
    LONGEST_REGION,
    Target,
    stage_name_problem,
)


def test_the_longest_stage_name_that_fits_makes_a_63_character_bucket_name() -> None:
    stage = "a" * 17
    assert stage_name_problem(stage) is None
    assert len(Target(stage, LONGEST_REGION, ANY_ACCOUNT).fleet_bucket) == 63


def test_one_character_more_is_refused_naming_the_s3_limit_and_the_longest_that_fits() -> None:
    problem = stage_name_problem("a" * 18)
    assert problem is not None
    assert "18 characters; at most 17" in problem
    assert "S3 bucket names" in problem and "63 characters" in problem
    assert LONGEST_REGION in problem


@pytest.mark.parametrize("stage", ["Dev", "9lives", "", "dev_1", "dev.1", "dév"])
def test_a_stage_name_of_the_wrong_form_is_refused_saying_what_is_allowed(stage: str) -> None:
    problem = stage_name_problem(stage)
    assert problem is not None and problem.startswith(f"bad stage name {stage!r}")
    assert "lower-case letters, digits and hyphens" in problem


@pytest.mark.parametrize("stage", ["local", "dev", "prod-eu", "team-a-staging"])
def test_ordinary_stage_names_are_accepted(stage: str) -> None:
    assert stage_name_problem(stage) is None


@pytest.mark.parametrize("step", ["preflight", "post-deploy", "package"])
def test_every_creating_step_refuses_a_long_stage_before_any_aws_call(
    step: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_aws(*args: object, **kwargs: object) -> None:
        raise AssertionError("an AWS call was made for a stage name that cannot be deployed")

    monkeypatch.setattr(steps.preflight, "preflight", no_aws)
    monkeypatch.setattr(steps, "post_deploy", no_aws)
    monkeypatch.setattr("stax_orchestrator.deploy.preflight.session", no_aws)
    assert steps.main([step, "--stage", "s" * 30, "--package-dir", "/nonexistent"]) == 1
    assert "at most 17" in capsys.readouterr().err


@pytest.mark.parametrize("stage", ["prod-states", "prod-events"])
def test_a_stage_named_like_another_stages_role_is_refused(stage: str) -> None:
    problem = stage_name_problem(stage)
    assert problem and "may not end in" in problem
    assert f"stage {stage.rsplit('-', 1)[0]!r}" in problem
