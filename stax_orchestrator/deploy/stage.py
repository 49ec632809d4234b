"""A stage's effective configuration, as Chalice itself resolves ``.chalice/config.json``.

Role: the one place the deploy tooling and ``stax-orchestrator setup`` learn what a
stage's Lambdas will see: their environment (per function over stage over global, by
Chalice's own ``Config``), so the IAM policy names exactly the SSM parameters the
Lambdas read, and the policy file Chalice gives each function. Nothing is read at
import time.

Stage settings beside the Lambdas' own variables (read here, ignored by the Lambdas):
``STAX_TOKEN_KMS_KEY_ID`` — the customer-managed KMS key that encrypts the token
parameters (``deploy.sh --kms-key-id`` overrides it). Chalice's own keys ``xray`` (Lambda
active tracing; the deploy gives the state machines the same) and
``log_retention_in_days`` (the Lambdas' log groups; the state machines' log groups take
the same unless ``deploy.sh --log-retention-days`` says otherwise) are read here with
Chalice's ``Config``, stage over global, as ``chalice deploy`` reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib import settings
from stax_orchestrator.deploy.names import CHALICE_DIR, FUNCTIONS, QUEUE_FUNCTION, Target

KMS_KEY_SETTING = "STAX_TOKEN_KMS_KEY_ID"
#: Log retention when a stage sets no ``log_retention_in_days`` (the original's 60 days).
DEFAULT_LOG_RETENTION_DAYS = 60


class StageConfigError(Exception):
    """The stage is not configured (or not consistently); the message says what to fix."""


@dataclass(frozen=True)
class StageConfig:
    """What the deploy needs to know of one stage."""

    stage: str
    #: Each function's environment, as Chalice will set it.
    environments: Mapping[str, Mapping[str, str]]
    #: Each function's IAM policy file (a name under ``.chalice/``).
    policy_files: Mapping[str, str]
    lambda_timeout: int
    #: Chalice's ``xray`` for the stage (stage over global): tracing of the state machines.
    xray: bool = False
    #: Chalice's ``log_retention_in_days`` for the stage (stage over global).
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS

    def environment(self, function: str = "create_workload") -> Mapping[str, str]:
        return self.environments[function]

    @property
    def token_parameters(self) -> tuple[str, str]:
        """The SSM parameters (access key, secret) the token functions read."""
        env = self.environment()
        stax = settings.stax_settings(env)
        return stax.access_key_parameter, stax.secret_key_parameter

    @property
    def kms_key_id(self) -> str | None:
        return (self.environment().get(KMS_KEY_SETTING) or "").strip() or None

    @property
    def coordination_table(self) -> str | None:
        return (self.environment().get(settings.COORDINATION_TABLE) or "").strip() or None


def _config_file(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "config.json"
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        raise StageConfigError(f"{path} is missing: is this the project folder?") from None
    except ValueError as error:
        raise StageConfigError(f"{path} is not JSON: {error}") from None
    return dict(loaded)


def load_stage(stage: str, chalice_dir: Path = CHALICE_DIR) -> StageConfig:
    """The stage's effective configuration.

    Raises:
        StageConfigError: no such stage, or an invalid config file.
    """
    from chalice.config import Config

    on_disk = _config_file(chalice_dir)
    if stage not in (on_disk.get("stages") or {}):
        known = ", ".join(sorted(on_disk.get("stages") or {})) or "none"
        raise StageConfigError(
            f"stage {stage!r} is not in {chalice_dir / 'config.json'} (stages: {known})"
        )
    environments: dict[str, dict[str, str]] = {}
    policy_files: dict[str, str] = {}
    timeout = 0
    for function in FUNCTIONS:
        config = Config(
            chalice_stage=stage,
            function_name=function,
            config_from_disk=on_disk,
            user_provided_params={"project_dir": str(chalice_dir.parent)},
        )
        environments[function] = dict(config.environment_variables)
        policy_files[function] = str(config.iam_policy_file or f"policy-{stage}.json")
        timeout = max(timeout, int(config.lambda_timeout or 60))
    # The stage's own values (no function name): what the state machines follow.
    scope = Config(
        chalice_stage=stage,
        config_from_disk=on_disk,
        user_provided_params={"project_dir": str(chalice_dir.parent)},
    )
    retention = scope.log_retention_in_days or DEFAULT_LOG_RETENTION_DAYS
    if isinstance(retention, bool) or not isinstance(retention, int):
        raise StageConfigError(
            f"log_retention_in_days of stage {stage!r} is {retention!r}: a whole number of days"
        )
    _check_token_names(stage, environments, on_disk, chalice_dir)
    return StageConfig(
        stage, environments, policy_files, timeout, bool(scope.xray_enabled), retention
    )


def _token_names(environment: Mapping[str, Any]) -> tuple[Any, Any]:
    return (environment.get(settings.ACCESS_KEY_PARAMETER),
            environment.get(settings.SECRET_KEY_PARAMETER))  # fmt: skip


def _check_token_names(
    stage: str,
    environments: Mapping[str, Mapping[str, str]],
    on_disk: Mapping[str, Any],
    chalice_dir: Path,
) -> None:
    """Each stage names its own token parameters: a token shared by two stages would give a
    development stage the production token (and its rotation would break both).

    Raises:
        StageConfigError: a function of the stage has no token names, or another stage of
            the config file uses one of them.
    """
    where = chalice_dir / "config.json"
    mine = {name for env in environments.values() for name in _token_names(env)}
    if None in mine or "" in mine:
        raise StageConfigError(
            f"stage {stage!r} names no token parameters in {where}: set its own "
            f"{settings.ACCESS_KEY_PARAMETER} and {settings.SECRET_KEY_PARAMETER} in the "
            f"stage's environment_variables, e.g. /stax-orchestrator/{stage}/stax-api-token/"
            "access-key and .../secret-key"
        )
    shared_env = on_disk.get("environment_variables") or {}
    for other, config in sorted((on_disk.get("stages") or {}).items()):
        if other == stage or not isinstance(config, Mapping):
            continue
        theirs = {**shared_env, **(config.get("environment_variables") or {})}
        common = sorted(mine & {n for n in _token_names(theirs) if n})
        if common:
            raise StageConfigError(
                f"stages {stage!r} and {other!r} share the token parameter(s) "
                f"{', '.join(common)} in {where}: give each stage its own names"
            )


def misnamed_settings(stage: StageConfig, target: Target) -> list[tuple[str, Any, str]]:
    """``(variable, set, expected)`` for each name the stage's configuration must give as
    the deploy creates it (the table, the alert topic, the account baseline machine)."""
    expected = (
        ("STAX_COORDINATION_TABLE", stage.coordination_table, target.table_name),
        (settings.ALERT_TOPIC_NAME,
         stage.environment("publish_alert").get(settings.ALERT_TOPIC_NAME),
         target.alert_topic_name),
        (settings.ACCOUNT_BASELINE_MACHINE,
         stage.environment(QUEUE_FUNCTION).get(settings.ACCOUNT_BASELINE_MACHINE),
         target.state_machine_name("account_baseline")),
    )  # fmt: skip
    return [(name, value, wanted) for name, value, wanted in expected if value != wanted]
