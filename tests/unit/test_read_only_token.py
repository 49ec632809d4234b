"""A read-only Stax token for the functions that only read Stax (``setup
--read-only-token``): named beside the token, preferred when present, granted alone."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.credentials import PreferredCredentials, SsmCredentials, read_only_names
from chalicelib.errors import StaxCredentialsMissing
from stax_orchestrator.deploy import policies
from stax_orchestrator.deploy.names import Target

TOKEN = ("/stax-orchestrator/dev/stax-api-token/access-key",
         "/stax-orchestrator/dev/stax-api-token/secret-key")  # fmt: skip
READ_ONLY = ("/stax-orchestrator/dev/stax-api-token-read-only/access-key",
             "/stax-orchestrator/dev/stax-api-token-read-only/secret-key")  # fmt: skip
TARGET = Target("dev", "us-east-1", "123456789012")


def test_the_read_only_token_sits_in_a_folder_beside_the_token() -> None:
    assert read_only_names(TOKEN) == READ_ONLY


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _credentials(ssm: Any, clock: Clock) -> tuple[PreferredCredentials, SsmCredentials]:
    first = SsmCredentials(lambda: ssm, *READ_ONLY, 300, clock)
    token = SsmCredentials(lambda: ssm, *TOKEN, 300, clock)
    return PreferredCredentials(first, token, 300, clock), first


def test_the_reading_functions_use_the_read_only_token_when_the_stage_has_one(aws: Any) -> None:
    ssm = aws.client("ssm")
    for names, value in ((TOKEN, "full"), (READ_ONLY, "ro")):
        for name in names:
            ssm.put_parameter(Name=name, Value=f"{value}-{name[-3:]}", Type="SecureString")
    preferred, _ = _credentials(ssm, Clock())
    assert preferred.get().access_key == "ro-key" and preferred.using_read_only


def test_without_one_they_use_the_token_and_ask_ssm_again_only_after_the_ttl(aws: Any) -> None:
    ssm = aws.client("ssm")
    for name in TOKEN:
        ssm.put_parameter(Name=name, Value=f"full-{name[-3:]}", Type="SecureString")
    clock = Clock()
    preferred, first = _credentials(ssm, clock)
    assert preferred.get().access_key == "full-key" and preferred.using_read_only is False
    preferred.get()
    assert first.reads == 1  # not asked again within the TTL
    clock.now = 301
    preferred.get()
    assert first.reads == 2


def test_when_neither_can_be_read_both_are_named(aws: Any) -> None:
    preferred, _ = _credentials(aws.client("ssm"), Clock())
    with pytest.raises(StaxCredentialsMissing) as missing:
        preferred.get()
    assert missing.value.details["read_only_parameters"] == list(READ_ONLY)
    assert missing.value.details["parameters"] == list(TOKEN)


@pytest.mark.parametrize("function", policies.READ_ONLY_FUNCTIONS)
def test_with_a_read_only_token_a_reading_function_may_read_only_it(function: str) -> None:
    def token_names(read_only: bool) -> list[str]:
        statements = policies.function_statements(TARGET, function, TOKEN,
                                                  read_only_token=read_only)  # fmt: skip
        [read] = [s for s in statements if s["Sid"] == "ReadStaxApiToken"]
        return [arn.split(":parameter", 1)[1] for arn in read["Resource"]]

    assert token_names(read_only=False) == list(TOKEN)
    assert token_names(read_only=True) == list(READ_ONLY)


@pytest.mark.parametrize("function", ["create_workload", "update_workload", "delete_workload"])
def test_the_writing_functions_keep_the_token(function: str) -> None:
    statements = policies.function_statements(TARGET, function, TOKEN, read_only_token=True)
    [read] = [s for s in statements if s["Sid"] == "ReadStaxApiToken"]
    assert [arn.split(":parameter", 1)[1] for arn in read["Resource"]] == list(TOKEN)


def test_the_deploy_finds_the_read_only_token_or_names_what_is_wrong_with_it(aws: Any) -> None:
    from stax_orchestrator.deploy.preflight import has_read_only_token
    from stax_orchestrator.deploy.stage import load_stage
    from stax_orchestrator.deploy.templates import DeployError

    stage = load_stage("dev")
    token, read_only = stage.token_parameters, read_only_names(stage.token_parameters)
    ssm = aws.client("ssm")
    for name in token:
        ssm.put_parameter(Name=name, Value="v", Type="SecureString")
    assert has_read_only_token(aws, stage) is False
    ssm.put_parameter(Name=read_only[0], Value="v", Type="SecureString")
    with pytest.raises(DeployError, match="is missing"):
        has_read_only_token(aws, stage)
    ssm.put_parameter(Name=read_only[1], Value="v", Type="String")
    with pytest.raises(DeployError, match="must be a SecureString"):
        has_read_only_token(aws, stage)
    ssm.put_parameter(Name=read_only[1], Value="v", Type="SecureString", Overwrite=True)
    assert has_read_only_token(aws, stage) is True


def test_setup_before_the_first_deploy_writes_the_stages_own_names(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No stack yet: the names come from the stage's .chalice/config.json, as the deploy
    will read them (the read-only token beside them)."""
    from stax_orchestrator import cli
    from stax_orchestrator.deploy.stage import load_stage

    monkeypatch.setenv("STAX_ACCESS_KEY", "AKIA-unit")
    monkeypatch.setenv("STAX_SECRET_KEY", "s3cret-unit")
    for flags, names in (([], load_stage("dev").token_parameters),
                         (["--read-only-token"], read_only_names(load_stage("dev").token_parameters))):  # fmt: skip
        code = cli.main(["setup", "--stage", "dev", *flags, "--aws-region", "us-east-1"],
                        session_factory=lambda **_: aws)  # fmt: skip
        assert code == 0, capsys.readouterr().err
        stored = aws.client("ssm").get_parameters(Names=list(names), WithDecryption=True)
        assert sorted(p["Value"] for p in stored["Parameters"]) == ["AKIA-unit", "s3cret-unit"]
    assert "s3cret-unit" not in capsys.readouterr().out
