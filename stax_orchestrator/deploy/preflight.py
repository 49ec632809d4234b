"""Before anything is created: credentials, the stage's token parameters and their key.

Role: ``deploy.sh``'s first step. It resolves the account and region, reads the two SSM
parameters the stage's Lambdas will read (names from the stage's own environment, as
Chalice resolves it) with decryption, checks that the key they are encrypted with is the
one the stage grants (``--kms-key-id`` or the stage's ``STAX_TOKEN_KMS_KEY_ID``; the
AWS-managed ``aws/ssm`` key needs no grant), and writes each function's least-privilege
policy into the file Chalice gives that function. A missing grant fails here, not at
the first operation.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import Any

from stax_orchestrator.deploy.names import CHALICE_DIR, Target
from stax_orchestrator.deploy.policies import lambda_policy
from stax_orchestrator.deploy.stage import (
    StageConfig,
    StageConfigError,
    load_stage,
    misnamed_settings,
)
from stax_orchestrator.deploy.templates import DeployError

#: The key SSM uses for SecureString when none is named: usable through SSM by anyone
#: who may read the parameter, no KMS grant needed.
AWS_MANAGED_SSM_KEY = "alias/aws/ssm"


def session() -> Any:
    import boto3

    return boto3.session.Session()


def resolve_target(stage: str, aws: Any | None = None) -> Target:
    """The account and region the credentials point at.

    Raises:
        DeployError: no credentials or no region.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    aws = aws or session()
    if not aws.region_name:
        raise DeployError("No AWS region: set AWS_DEFAULT_REGION or configure a profile region.")
    try:
        identity = aws.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise DeployError(
            f"No usable AWS credentials ({type(error).__name__}): configure a profile, "
            'export AWS_PROFILE, or for the local stack run: eval "$(make -s local-env)"'
        ) from None
    partition = str(identity["Arn"]).split(":")[1] if ":" in str(identity["Arn"]) else "aws"
    return Target(
        stage, aws.region_name, str(identity["Account"]), partition, caller_arn=str(identity["Arn"])
    )


def key_arn(kms: Any, key_id: str) -> str:
    """The ARN of a key named by id, ARN or alias.

    Raises:
        DeployError: KMS knows no such key (or refuses to describe it).
    """
    from botocore.exceptions import ClientError

    try:
        return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])
    except ClientError as error:
        raise DeployError(
            f"KMS key {key_id!r} cannot be described ({error.response['Error']['Code']}): "
            "check --kms-key-id / STAX_TOKEN_KMS_KEY_ID and the region"
        ) from None


def _parameter_keys(ssm: Any, names: tuple[str, str]) -> dict[str, str | None]:
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": list(names)}]
    ).get("Parameters", [])
    return {p["Name"]: p.get("KeyId") if p.get("Type") == "SecureString" else None
            for p in described}  # fmt: skip


def check_token(aws: Any, target: Target, stage: StageConfig, kms_key_id: str | None) -> str | None:
    """The token parameters exist, decrypt, and are under the granted key; the key's ARN.

    Raises:
        DeployError: what is missing or mismatched, and how to fix it.
    """
    from botocore.exceptions import ClientError

    names = stage.token_parameters
    ssm, kms = aws.client("ssm"), aws.client("kms")
    try:
        found = ssm.get_parameters(Names=list(names), WithDecryption=True)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        raise DeployError(
            f"Reading the Stax API token ({', '.join(names)}) with decryption failed ({code}): "
            "the deploying credentials (and the Lambdas) need ssm:GetParameters and kms:Decrypt "
            "on the parameters' key"
        ) from None
    present = {p["Name"] for p in found.get("Parameters", [])}
    missing = [name for name in names if name not in present]
    if missing:
        raise DeployError(
            f"Missing SSM parameter(s) {', '.join(missing)} in {target.region}: store the Stax "
            f"API token first with `stax-orchestrator setup --stage {target.stage}` "
            "(or `make local-up` for the local stack)."
        )
    granted = key_arn(kms, kms_key_id) if kms_key_id else None
    for name, key in _parameter_keys(ssm, names).items():
        if key is None:
            raise DeployError(f"SSM parameter {name} is not a SecureString: store it again "
                              f"with `stax-orchestrator setup --stage {target.stage}`")  # fmt: skip
        if key == AWS_MANAGED_SSM_KEY:
            continue
        used = key_arn(kms, key)
        if granted is None:
            raise DeployError(
                f"SSM parameter {name} is encrypted with the customer-managed key {used}, "
                "which the Lambdas would not be allowed to use: deploy with "
                f"--kms-key-id {used} (or set STAX_TOKEN_KMS_KEY_ID in the stage)"
            )
        if used != granted:
            raise DeployError(
                f"SSM parameter {name} is encrypted with key {used}, but the stage grants "
                f"{granted}: re-store the token with that key, or name {used}"
            )
    return granted


def has_read_only_token(aws: Any, stage: StageConfig) -> bool:
    """Whether the stage holds a read-only token (``setup --read-only-token``): both
    parameters, SecureStrings under the token's own key.

    Raises:
        DeployError: only one of the two, or one that is not a SecureString under the key
            the token uses.
    """
    from chalicelib.credentials import read_only_names

    names = read_only_names(stage.token_parameters)
    ssm = aws.client("ssm")
    keys = _parameter_keys(ssm, names)
    if not keys:
        return False
    token_keys = set(_parameter_keys(ssm, stage.token_parameters).values())
    for name in names:
        if name not in keys:
            raise DeployError(f"SSM parameter {name} is missing: store the read-only token "
                              "again with `stax-orchestrator setup --read-only-token`")  # fmt: skip
        if keys[name] is None or keys[name] not in token_keys:
            raise DeployError(f"SSM parameter {name} must be a SecureString under the key of "
                              "the token: store it again with `stax-orchestrator setup "
                              "--read-only-token`")  # fmt: skip
    return True


def write_policies(
    target: Target,
    stage: StageConfig,
    token_key_arn: str | None,
    alert_key_arn: str | None,
    chalice_dir: Any = CHALICE_DIR,
    *,
    read_only_token: bool = False,
) -> dict[str, list[str]]:
    """Each policy file Chalice will use, with exactly what its functions need.

    Raises:
        DeployError: functions that need different permissions share a file.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for function, filename in stage.policy_files.items():
        groups[filename].append(function)
    for filename, functions in groups.items():
        try:
            document = lambda_policy(target, functions, stage.token_parameters, token_key_arn,
                                     alert_key_arn, read_only_token=read_only_token)  # fmt: skip
        except ValueError as error:
            raise DeployError(f".chalice/{filename}: {error}") from None
        (chalice_dir / filename).write_text(json.dumps(document, indent=2) + "\n")
    return dict(groups)


#: What CloudWatch needs of the alert topic's key to publish an alarm to it.
ALARM_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


def _allows(statement: Any, service: str, action: str) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal")
    services = principal.get("Service") if isinstance(principal, dict) else None
    services = [services] if isinstance(services, str) else services or []
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else actions or []
    return service in services and any(a in (action, "kms:*", "*") for a in actions)


def check_alarm_key(kms: Any, key: str) -> None:
    """The alert topic's key lets CloudWatch publish the dashboard's alarms (the stage does
    not own the key, so its policy is the key owner's to change).

    Raises:
        DeployError: the key policy gives cloudwatch.amazonaws.com neither action.
    """
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    statements = policy.get("Statement") or []
    statements = [statements] if isinstance(statements, dict) else statements
    cloudwatch = "cloudwatch.amazonaws.com"
    missing = [
        a for a in ALARM_KEY_ACTIONS if not any(_allows(s, cloudwatch, a) for s in statements)
    ]
    if missing:
        raise DeployError(
            f"the alert key {key} does not let CloudWatch use it ({', '.join(missing)} for "
            "cloudwatch.amazonaws.com): the dashboard's alarms could not publish to the alert "
            "topic. Add the statement of docs/observability.md to the key's policy."
        )


def preflight(
    stage_name: str,
    kms_key_id: str | None = None,
    alert_kms_key_id: str | None = None,
    aws: Any | None = None,
    dashboard: bool = False,
) -> Target:
    """Check credentials, the token and its key; write the policy files.

    Raises:
        DeployError: what is missing and how to add it.
    """
    aws = aws or session()
    try:
        stage = load_stage(stage_name)
    except StageConfigError as error:
        raise DeployError(str(error)) from None
    target = resolve_target(stage_name, aws)
    for variable, setting, expected in misnamed_settings(stage, target):
        raise DeployError(
            f"stage {stage_name} sets {variable} to {setting!r} where the deploy creates "
            f"{expected!r}: set it in .chalice/config.json"
        )
    granted = check_token(aws, target, stage, kms_key_id or stage.kms_key_id)
    read_only = has_read_only_token(aws, stage)
    alert_key = key_arn(aws.client("kms"), alert_kms_key_id) if alert_kms_key_id else None
    if dashboard and alert_key:
        check_alarm_key(aws.client("kms"), alert_key)
    write_policies(target, stage, granted, alert_key, read_only_token=read_only)
    if read_only:
        print("read-only token found: task status, planning and drift read only it",
              file=sys.stderr)  # fmt: skip
    if granted:
        print(f"token key {granted}: kms:Decrypt granted through SSM only", file=sys.stderr)
    return target
