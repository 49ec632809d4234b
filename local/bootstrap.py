"""Bootstrap the local stack: Cognito, SSM, S3 on MiniStack and seed data in the simulator.

Role: local-stack script, run by ``make local-up`` after both servers answer.
Idempotent: every resource is looked up by name first and reused, and the
Stax API token already stored in SSM is kept (so deployed Lambdas keep
working across re-runs).

What it creates, against MiniStack only (it refuses any other endpoint):
- a Cognito user pool + app client (SRP allowed) + identity pool, the shape
  the Stax SDK logs in to;
- an API-token user: username = access key, password = secret;
- the SSM SecureString parameters the orchestrator reads the token from, and
  the artifact bucket name parameter plus the bucket;
- the simulator's ApiAuth config (pointing at those pools) and seed data;
- the IAM user that deploys every stage (``DEPLOYER``), with exactly the policy
  ``python -m stax_orchestrator.deploy deployer-policy`` prints (for the stage ``*``), and
  its access key in ``.local/deployer.json`` (0600): ``local/stack.sh deployer-env``.

It never prints the secret.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from stax_orchestrator.deploy.stage import load_stage
from staxsim.control import SimulatorControl

ROOT = Path(__file__).resolve().parent.parent
SEED_FILE = ROOT / "local" / "seed.json"

MINISTACK_URL = "https://127.0.0.1:4566"
REGION = "us-east-1"
POOL_NAME = "stax-orchestrator-local"
IDENTITY_POOL_NAME = "stax_orchestrator_local"
#: The local stage's own token parameters, as .chalice/config.json names them.
ACCESS_KEY_PARAMETER, SECRET_KEY_PARAMETER = load_stage("local").token_parameters
BUCKET_PARAMETER = "/orchestrator/stax/artifact/bucket/name"
BUCKET_NAME = "stax-orchestrator-local-artifacts"
DEPLOYER = "stax-orchestrator-deployer"
DEPLOYER_FILE = ROOT / ".local" / "deployer.json"


def _client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=MINISTACK_URL,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - MiniStack's dummy credentials
    )


def ensure_user_pool(idp: Any) -> tuple[str, str]:
    """Return (user pool id, app client id), creating them when missing."""
    pools = idp.list_user_pools(MaxResults=60)["UserPools"]
    pool_id = next((p["Id"] for p in pools if p["Name"] == POOL_NAME), None)
    if pool_id is None:
        pool_id = idp.create_user_pool(PoolName=POOL_NAME)["UserPool"]["Id"]
    clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((c["ClientId"] for c in clients if c["ClientName"] == POOL_NAME), None)
    if client_id is None:
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=POOL_NAME,
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def ensure_identity_pool(identity: Any, pool_id: str, client_id: str) -> str:
    pools = identity.list_identity_pools(MaxResults=60)["IdentityPools"]
    found = next((p for p in pools if p["IdentityPoolName"] == IDENTITY_POOL_NAME), None)
    if found:
        return str(found["IdentityPoolId"])
    created = identity.create_identity_pool(
        IdentityPoolName=IDENTITY_POOL_NAME,
        AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[
            {
                "ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{pool_id}",
                "ClientId": client_id,
            }
        ],
    )
    return str(created["IdentityPoolId"])


def _get_parameter(ssm: Any, name: str) -> str | None:
    try:
        return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise


def ensure_api_token(idp: Any, ssm: Any, pool_id: str) -> str:
    """Make sure an API-token user exists and SSM holds its key and secret; return the key."""
    access_key = _get_parameter(ssm, ACCESS_KEY_PARAMETER) or str(uuid.uuid4())
    secret = _get_parameter(ssm, SECRET_KEY_PARAMETER) or secrets.token_urlsafe(32) + "aA1!"
    try:
        idp.admin_get_user(UserPoolId=pool_id, Username=access_key)
    except ClientError as error:
        if error.response["Error"]["Code"] != "UserNotFoundException":
            raise
        idp.admin_create_user(UserPoolId=pool_id, Username=access_key, MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=access_key, Password=secret, Permanent=True
    )
    for name, value in ((ACCESS_KEY_PARAMETER, access_key), (SECRET_KEY_PARAMETER, secret)):
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    return access_key


def ensure_bucket(s3: Any, ssm: Any) -> None:
    try:
        s3.create_bucket(Bucket=BUCKET_NAME)
    except ClientError as error:
        if error.response["Error"]["Code"] not in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise
    ssm.put_parameter(Name=BUCKET_PARAMETER, Value=BUCKET_NAME, Type="String", Overwrite=True)


def ensure_deployer(iam: Any, path: Path = DEPLOYER_FILE) -> str:
    """The deploying user, its policy (rewritten each time: the code may have changed it)
    and an access key kept in ``path`` (0600); the key's id."""
    from stax_orchestrator.deploy.deployer import deployer_policy
    from stax_orchestrator.deploy.names import Target

    try:
        iam.create_user(UserName=DEPLOYER)
    except ClientError as error:
        if error.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    # Every stage (``*``): the tests deploy stages of their own, each with its own token
    # parameters (``*`` too). A real account gets one stage's exact names from
    # ``python -m stax_orchestrator.deploy deployer-policy --stage S``.
    policy = deployer_policy(Target("*", REGION, "000000000000"), ("*",))
    iam.put_user_policy(UserName=DEPLOYER, PolicyName="deploy-stax-orchestrator",
                        PolicyDocument=json.dumps(policy))  # fmt: skip
    live = {k["AccessKeyId"] for k in iam.list_access_keys(UserName=DEPLOYER)["AccessKeyMetadata"]}
    if path.exists():
        kept = json.loads(path.read_text())
        if kept.get("AccessKeyId") in live:
            return str(kept["AccessKeyId"])
    for old in live:
        iam.delete_access_key(UserName=DEPLOYER, AccessKeyId=old)
    key = iam.create_access_key(UserName=DEPLOYER)["AccessKey"]
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"AccessKeyId": key["AccessKeyId"],
                   "SecretAccessKey": key["SecretAccessKey"]}, handle)  # fmt: skip
    os.chmod(path, 0o600)
    return str(key["AccessKeyId"])


def load_seed() -> dict[str, Any]:
    """The local stack's seed data (organisation, accounts, catalogue, the workloads the
    examples update and delete)."""
    return dict(json.loads(SEED_FILE.read_text()))


def configure_simulator(sim_url: str, ca_bundle: str, api_auth: dict[str, str]) -> None:
    with SimulatorControl(sim_url, ca_bundle=ca_bundle) as sim:
        sim.wait_ready()
        sim.configure(
            region=api_auth["region"],
            user_pool_id=api_auth["userPoolId"],
            client_id=api_auth["userPoolWebClientId"],
            identity_pool_id=api_auth["identityPoolId"],
        )
        sim.seed(**load_seed())


def main() -> int:
    sim_url = os.environ.get("STAX_SIM_URL", "https://127.0.0.1:8443")
    ca_bundle = os.environ["REQUESTS_CA_BUNDLE"]
    idp, identity, ssm, s3 = (_client(s) for s in ("cognito-idp", "cognito-identity", "ssm", "s3"))
    pool_id, client_id = ensure_user_pool(idp)
    identity_pool_id = ensure_identity_pool(identity, pool_id, client_id)
    access_key = ensure_api_token(idp, ssm, pool_id)
    ensure_bucket(s3, ssm)
    deployer_key = ensure_deployer(_client("iam"))
    api_auth = {
        "region": REGION,
        "userPoolId": pool_id,
        "userPoolWebClientId": client_id,
        "identityPoolId": identity_pool_id,
    }
    configure_simulator(sim_url, ca_bundle, api_auth)
    print(f"bootstrap: user pool {pool_id}, identity pool {identity_pool_id}")
    print(f"bootstrap: API token access key {access_key} (secret in SSM {SECRET_KEY_PARAMETER})")
    print(
        f"bootstrap: deploying user {DEPLOYER}, access key {deployer_key} "
        f"(secret in {DEPLOYER_FILE.relative_to(ROOT)})"
    )
    print(f"bootstrap: artifact bucket {BUCKET_NAME}; simulator seeded from {SEED_FILE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
