"""Create or update the stage's own resources: table, roles, state machines (idempotent).

Role: the AWS calls of the post-deploy step. Every function takes boto3 clients and a
:class:`~stax_orchestrator.deploy.names.Target`, so the unit tests run them on moto.
A second run changes nothing; a changed definition is updated in place (same ARNs).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from stax_orchestrator.deploy.names import CHALICE_DIR, FUNCTIONS, Target
from stax_orchestrator.deploy.policies import lambda_trust_policy, states_trust_policy
from stax_orchestrator.deploy.templates import DeployError


def _retry_iam_propagation(call: Callable[[], Any], sleep: Callable[[float], None] = time.sleep):
    """A new role takes seconds to be assumable by Step Functions on AWS."""
    from botocore.exceptions import ClientError

    for attempt in range(10):
        try:
            return call()
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code not in ("AccessDeniedException", "InvalidRoleArn") or attempt == 9:
                raise
            sleep(min(2**attempt, 10))
    raise AssertionError("unreachable")


#: The coordination table's schema (both deploy paths declare exactly this).
TABLE_KEY_SCHEMA = (
    {"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
)
TABLE_ATTRIBUTES = (
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "S"},
)
TABLE_BILLING_MODE = "PAY_PER_REQUEST"
#: Fleet results expire on their own; claims and locks carry no expires_at.
TABLE_TTL_ATTRIBUTE = "expires_at"
STAGE_TAG = "stax-orchestrator:stage"


def ensure_table(dynamodb: Any, target: Target) -> str:
    """Create the coordination table when missing (on-demand, point-in-time recovery)."""
    try:
        table = dynamodb.describe_table(TableName=target.table_name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        table = dynamodb.create_table(
            TableName=target.table_name,
            KeySchema=[dict(k) for k in TABLE_KEY_SCHEMA],
            AttributeDefinitions=[dict(a) for a in TABLE_ATTRIBUTES],
            BillingMode=TABLE_BILLING_MODE,
            Tags=[{"Key": STAGE_TAG, "Value": target.stage}],
        )["TableDescription"]
        dynamodb.get_waiter("table_exists").wait(
            TableName=target.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        print(f"created table {target.table_name}", file=sys.stderr)
    with contextlib.suppress(dynamodb.exceptions.ClientError):
        dynamodb.update_time_to_live(
            TableName=target.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TABLE_TTL_ATTRIBUTE},
        )
    with contextlib.suppress(dynamodb.exceptions.ClientError):
        dynamodb.update_continuous_backups(
            TableName=target.table_name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    return str(table["TableArn"])


def ensure_service_role(
    iam: Any, name: str, trust: dict[str, Any], policy: dict[str, Any], description: str
) -> str:
    """Create or update a role that a service assumes (its trust and its one inline
    policy, named as the role); return its ARN."""
    trust_text = json.dumps(trust)
    try:
        role = iam.get_role(RoleName=name)["Role"]
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust_text)
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=trust_text, Description=description
        )["Role"]
    iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    return str(role["Arn"])


def ensure_role(iam: Any, target: Target, policy: dict[str, Any]) -> str:
    """Create or update the state machines' role; return its ARN."""
    return ensure_service_role(
        iam, target.role_name, states_trust_policy(target), policy,
        f"Step Functions role of {target.prefix}",
    )  # fmt: skip


def delete_role(iam: Any, name: str) -> None:
    """Its inline and attached policies, then the role (NoSuchEntity when it is not there)."""
    for policy in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for attached in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
        iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=name)


def delete_rule(events: Any, name: str, bus: str = "default") -> None:
    """Its targets, then the rule. Raises ResourceNotFoundException when the rule is not
    there (DeleteRule itself answers success for a rule that does not exist: ask first)."""
    events.describe_rule(Name=name, EventBusName=bus)
    targets = events.list_targets_by_rule(Rule=name, EventBusName=bus).get("Targets", [])
    if targets:
        events.remove_targets(Rule=name, EventBusName=bus, Ids=[t["Id"] for t in targets])
    events.delete_rule(Name=name, EventBusName=bus)


def tighten_function_roles(iam: Any, target: Target) -> list[str]:
    """Give the roles Chalice made for the functions a trust limited to this account.

    Chalice creates them trusting ``lambda.amazonaws.com`` with no condition and never
    changes that trust again, so the post-deploy step sets it (every run: idempotent).
    """
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


def wait_until_deleted(sfn: Any, arn: str, timeout: float = 120.0) -> None:
    """A state machine being deleted cannot be created again: wait until it is gone.

    Raises:
        DeployError: it is still DELETING after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = sfn.describe_state_machine(stateMachineArn=arn).get("status")
        except sfn.exceptions.StateMachineDoesNotExist:
            return
        if status != "DELETING":
            return
        if time.monotonic() > deadline:
            raise DeployError(f"state machine {arn} is still DELETING after {timeout:.0f}s")
        time.sleep(2)


def ensure_state_machine(
    sfn: Any,
    target: Target,
    kind: str,
    definition: Any,
    role_arn: str,
    *,
    logging: Mapping[str, Any] | None = None,
    tracing: Mapping[str, Any] | None = None,
) -> tuple[str, str]:
    """Create the state machine, or update it in place when it differs. Returns (arn, action).

    ``logging`` / ``tracing`` are the machine's ``loggingConfiguration`` and
    ``tracingConfiguration`` (``observability``); ``None`` leaves them as they are.
    """
    arn = target.state_machine_arn(kind)
    body = json.dumps(definition, indent=2)
    extra: dict[str, Any] = {}
    if logging is not None:
        extra["loggingConfiguration"] = dict(logging)
    if tracing is not None:
        extra["tracingConfiguration"] = dict(tracing)
    wait_until_deleted(sfn, arn)
    try:
        current = sfn.describe_state_machine(stateMachineArn=arn)
    except sfn.exceptions.StateMachineDoesNotExist:
        created = _retry_iam_propagation(
            lambda: sfn.create_state_machine(
                name=target.state_machine_name(kind), definition=body, roleArn=role_arn, **extra
            )
        )
        return str(created["stateMachineArn"]), "created"
    if (
        json.loads(current["definition"]) == definition
        and current["roleArn"] == role_arn
        and _same_configuration(current, extra)
    ):
        return arn, "unchanged"
    _retry_iam_propagation(
        lambda: sfn.update_state_machine(
            stateMachineArn=arn, definition=body, roleArn=role_arn, **extra
        )
    )
    return arn, "updated"


def _same_configuration(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """The machine already has the wanted logging and tracing configuration.

    A service that does not report a configuration (MiniStack keeps no tracing) is taken
    at its word for tracing only; logging is always reported by AWS.
    """
    for key, value in wanted.items():
        if key == "tracingConfiguration" and key not in current:
            continue
        have = dict(current.get(key) or {})
        if key == "loggingConfiguration":
            have.setdefault("includeExecutionData", False)
            if not have.get("destinations"):
                have.pop("destinations", None)
        if have != value:
            return False
    return True


def recorded_function_arns(stage: str, chalice_dir: Any = CHALICE_DIR) -> dict[str, str]:
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


#: The fleet bucket's settings (both deploy paths declare exactly these).
BUCKET_PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
BUCKET_SSE = "AES256"
BUCKET_EXPIRING_PREFIXES = ("plans", "requests")
BUCKET_EXPIRY_DAYS = 30


def ensure_bucket(s3: Any, target: Target) -> str:
    """The stage's bucket: private, encrypted, versioned (the stored baselines file keeps
    its history); fleet plans and target lists, and their old versions, expire after 30
    days."""
    from botocore.exceptions import ClientError

    name = target.fleet_bucket
    if len(name) > 63:
        raise DeployError(
            f"the fleet bucket name {name} is longer than S3 allows (63): use a shorter stage"
        )
    try:
        s3.head_bucket(Bucket=name)
    except ClientError:
        extra = (
            {}
            if target.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": target.region}}
        )
        s3.create_bucket(Bucket=name, **extra)
        print(f"created bucket {name}", file=sys.stderr)
    s3.put_public_access_block(
        Bucket=name, PublicAccessBlockConfiguration=dict(BUCKET_PUBLIC_ACCESS_BLOCK)
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": BUCKET_SSE}}]
        },
    )
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [
                {"ID": f"expire-{prefix}", "Status": "Enabled",
                 "Filter": {"Prefix": f"{prefix}/"}, "Expiration": {"Days": BUCKET_EXPIRY_DAYS},
                 "NoncurrentVersionExpiration": {"NoncurrentDays": BUCKET_EXPIRY_DAYS}}
                for prefix in BUCKET_EXPIRING_PREFIXES
            ]
        },
    )  # fmt: skip
    return name
