"""The CloudFormation package: ``deploy.sh --stage S --package DIR``.

Role: the stage's template (``template.stage_template``, the same one the post-deploy step
deploys as the stage's stack) plus the Lambdas of ``chalice package``. ``merge_template``
is what Chalice merges into its own template (``chalice package --merge-template``): the
stage template with each function named by ``Fn::GetAtt`` of Chalice's resource, plus
what only the package has -- the functions' names, roles and log groups (Chalice's own
deploy makes those on the post-deploy path), their Outputs, and
``AWS::ServerlessRepo::Application`` metadata. ``package`` runs Chalice and checks the
merge.

What the package cannot check (``deploy.sh``'s preflight does): that the Stax token is
stored in SSM and readable, and that its key is the one granted -- the stack only names
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

from stax_orchestrator import __version__
from stax_orchestrator.deploy.cfn import function_id, sub, symbolic_target
from stax_orchestrator.deploy.names import APP_NAME, CHALICE_DIR, FUNCTIONS, Target
from stax_orchestrator.deploy.observability import Observability
from stax_orchestrator.deploy.policies import lambda_policy, lambda_trust_policy
from stax_orchestrator.deploy.stage import (
    StageConfig,
    StageConfigError,
    load_stage,
    misnamed_settings,
)
from stax_orchestrator.deploy.template import (
    ALERT_KEY_PARAMETER,
    KEY_ARN_PATTERN,
    KEY_CONDITIONS,
    KEY_PARAMETER,
    NO_VALUE,
    TOKEN_KEY_PARAMETER,
    conditions,
    stage_template,
)
from stax_orchestrator.deploy.templates import DeployError

#: The template Chalice writes (its name for it).
TEMPLATE_NAME = "sam.json"


def _conditional(document: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
    """``document`` with each statement that ``plain`` lacks (the ones about a key
    parameter) under ``Fn::If`` of that parameter's condition."""
    statements = []
    for statement in document["Statement"]:
        if statement in plain["Statement"]:
            statements.append(sub(statement))
            continue
        text = json.dumps(statement)
        [condition] = [c for p, c in KEY_CONDITIONS.items() if "${" + p + "}" in text]
        statements.append({"Fn::If": [condition, sub(statement), NO_VALUE]})
    return {**document, "Statement": statements}


def _function_overrides(target: Target, stage: StageConfig, obs: Observability) -> dict[str, Any]:
    """Names, roles and log groups of Chalice's functions, as ``chalice deploy`` and the
    preflight's policy files make them on the post-deploy path."""
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
    functions = {f: {"Fn::GetAtt": [function_id(f), "Arn"]} for f in FUNCTIONS}
    log_groups = {f: {"Ref": function_id(f) + "LogGroup"} for f in FUNCTIONS}
    template = stage_template(
        stage.stage, obs, functions, log_groups, watch_timeout=watch_timeout,
        alert_key_arn=alert_key_arn, emails=emails, https=https,
        roles={f: {"Fn::GetAtt": [function_id(f) + "Role", "Arn"]} for f in FUNCTIONS},
    )  # fmt: skip
    # The functions' roles are the package's: so is the key of the token they read.
    template["Parameters"][TOKEN_KEY_PARAMETER] = {
        **KEY_PARAMETER,
        "Default": token_key_arn or "",
        "Description": "The customer-managed key of the Stax token parameters (empty: the "
        "AWS-managed aws/ssm key)",
    }
    template["Conditions"].update(conditions({TOKEN_KEY_PARAMETER: "HasTokenKey"}))
    template.pop("AWSTemplateFormatVersion")  # Chalice's template has its own
    template["Description"] = template["Description"].replace(": state", ": Lambdas, state")
    template["Metadata"] = _metadata(source_url)
    template["Resources"].update(_function_overrides(target, stage, obs))
    for function in FUNCTIONS:
        template["Outputs"][function_id(function) + "RoleArn"] = {
            "Description": f"The {function} function's role",
            "Value": {"Fn::GetAtt": [function_id(function) + "Role", "Arn"]},
        }
    return template


# -- running Chalice ----------------------------------------------------------------------
def key_arn_option(value: str | None, flag: str) -> str | None:
    """A key for the package: an ARN (it cannot be looked up without AWS).

    Raises:
        DeployError: an alias or a bare key id.
    """
    if not value:
        return None
    if not re.fullmatch(KEY_ARN_PATTERN, value.strip()):
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
    for variable, setting, expected in misnamed_settings(stage, target):
        raise DeployError(
            f"stage {stage_name} sets {variable} to {setting!r} where the package creates "
            f"{expected!r}: set it in .chalice/config.json"
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
