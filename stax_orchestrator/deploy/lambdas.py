"""What the post-deploy step reads from, and sets on, the Lambdas ``chalice deploy`` made.

Role: the function ARNs Chalice recorded (the state machines' substitutions), the trust
of the roles Chalice made for them (this account only), and their log groups' retention.
These are Chalice's resources, not the stack's: Chalice creates them and never changes
what is set here again, so the step sets it every run (idempotent).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stax_orchestrator.deploy.names import CHALICE_DIR, FUNCTIONS, Target
from stax_orchestrator.deploy.policies import lambda_trust_policy
from stax_orchestrator.deploy.templates import DeployError


def recorded_function_arns(stage: str, chalice_dir: Path = CHALICE_DIR) -> dict[str, str]:
    """The Lambda ARNs Chalice recorded for the stage.

    Raises:
        DeployError: the stage was not deployed, or a function is missing.
    """
    recorded = chalice_dir / "deployed" / f"{stage}.json"
    if not recorded.exists():
        raise DeployError(f"{recorded} not found: run `chalice deploy --stage {stage}` first.")
    resources = json.loads(recorded.read_text()).get("resources", [])
    arns: Mapping[str, str] = {
        r["name"]: r["lambda_arn"]
        for r in resources
        if r.get("resource_type") == "lambda_function" and r.get("name") in FUNCTIONS
    }
    missing = [name for name in FUNCTIONS if name not in arns]
    if missing:
        raise DeployError(f"Chalice recorded no function(s) {', '.join(missing)} for {stage}.")
    return dict(arns)


def tighten_function_roles(iam: Any, target: Target) -> list[str]:
    """Give the roles Chalice made for the functions a trust limited to this account
    (Chalice creates them trusting ``lambda.amazonaws.com`` with no condition)."""
    trust = json.dumps(lambda_trust_policy(target))
    tightened = []
    for function in FUNCTIONS:
        name = target.function_role_name(function)
        try:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
        except iam.exceptions.NoSuchEntityException:
            continue
        tightened.append(name)
    return tightened


def set_log_retention(logs: Any, target: Target, days: int) -> list[str]:
    """The functions' log groups with ``days`` of retention (``--log-retention-days`` over
    Chalice's ``log_retention_in_days``); a group Chalice did not make is made, so that the
    stack's metric filters have a home. The groups made."""
    created = []
    for function in FUNCTIONS:
        group = target.log_group(function)
        try:
            logs.create_log_group(logGroupName=group)
            created.append(group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)
    return created
