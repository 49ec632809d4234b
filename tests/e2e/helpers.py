"""What several end-to-end test modules share (no test module imports another).

- the installed CLI run as a user runs it, on the local stack (:func:`cli`);
- the coordination table of the ``local`` stage (:data:`TABLE`);
- a copy of the project as a fresh clone holds it, with one more stage
  (:func:`copy_project`), deploy commands run in it (:func:`run_in`), and every resource
  of a stage found by its name prefix (:func:`stage_resources`);
- the baselines file of ``test_baselines`` and ``test_account_baselines`` and the account
  types it needs (:data:`BASELINES_FILE`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3

from chalicelib.stax import is_live
from stax_orchestrator.deploy import Target
from stax_orchestrator.deploy.stage import load_stage
from tests.e2e.conftest import ROOT, SEED, deployer_env

CLI = str(Path(sys.executable).with_name("stax-orchestrator"))
#: The ``local`` stage's token parameters (access key, secret), as its config names them.
LOCAL_TOKEN = load_stage("local").token_parameters
#: The ``local`` stage's coordination table (the name the deploy tooling gives it).
TABLE = Target("local", "us-east-1", "000000000000").table_name


def cli(
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """The installed ``stax-orchestrator`` with ``--local``, run from the checkout."""
    return subprocess.run(
        [CLI, *args, "--local"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


# -- stages of their own --------------------------------------------------------------------
def copy_project(
    destination: Path,
    stage: str,
    environment: dict[str, str] | None = None,
    files: Iterable[str] = ("app.py", "requirements.txt", "deploy.sh", "LICENSE", "README.md"),
) -> Path:
    """What a fresh clone holds (no ``.chalice/deployed``) plus the stage ``stage``: the
    ``local`` stage's settings under the stage's own names, ``environment`` added.

    Chalice's dependency cache (``.chalice/deployments``) is copied in, so the copy does not
    rebuild what the checkout already built. Copying into an existing copy refreshes the
    files and the stage and keeps what is there.
    """
    destination.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copy2(ROOT / name, destination / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("chalicelib", "statemachines", "stax_orchestrator"):
        if not (destination / name).exists():
            shutil.copytree(ROOT / name, destination / name, ignore=ignore)
    chalice = destination / ".chalice"
    (chalice / "deployments").mkdir(parents=True, exist_ok=True)
    for cached in (ROOT / ".chalice" / "deployments").glob("*.zip"):
        shutil.copy2(cached, chalice / "deployments" / cached.name)
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    text = json.dumps(config["stages"]["local"])
    settings = json.loads(text.replace("-local-", f"-{stage}-").replace("/local/", f"/{stage}/"))
    settings["iam_policy_file"] = f"policy-{stage}.json"
    settings["environment_variables"].update(environment or {})
    config["stages"][stage] = settings
    (chalice / "config.json").write_text(json.dumps(config, indent=2))
    env = settings["environment_variables"]
    store_token(env["STAX_ACCESS_KEY_PARAMETER"], env["STAX_SECRET_KEY_PARAMETER"])
    return destination


def store_token(access_key_parameter: str, secret_key_parameter: str) -> None:
    """The local token under a stage's own parameter names (as ``setup --stage S`` would
    store it), unless they hold a value already."""
    ssm = boto3.client("ssm")
    for source, name in zip(LOCAL_TOKEN, (access_key_parameter, secret_key_parameter),
                            strict=True):  # fmt: skip
        try:
            ssm.get_parameter(Name=name)
            continue
        except ssm.exceptions.ParameterNotFound:
            pass
        value = ssm.get_parameter(Name=source, WithDecryption=True)["Parameter"]["Value"]
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")


def run_in(
    project: Path, *args: str, timeout: float = 900, as_deployer: bool = False
) -> subprocess.CompletedProcess[str]:
    """``args`` run in a copy of the project with the checkout's tools and nothing of the
    checkout on the Python path (``as_deployer``: signed by the deploying user)."""
    venv = ROOT / ".venv" / "bin"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHON=str(venv / "python"), CHALICE=str(venv / "chalice"),
               PATH=f"{venv}:/usr/bin:/bin", PYTHONPATH=str(project))  # fmt: skip
    if as_deployer:
        env.update(deployer_env())
    return subprocess.run(
        list(args), cwd=project, env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    """Every item under ``key`` of every page of ``operation``."""
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def stage_resources(stage: str) -> dict[str, list[str]]:
    """Every resource of ``stage`` on the local stack, by kind (all pages read)."""
    prefix = f"stax-orchestrator-{stage}-"
    lam, iam, sfn = boto3.client("lambda"), boto3.client("iam"), boto3.client("stepfunctions")
    sns, events, dynamodb = boto3.client("sns"), boto3.client("events"), boto3.client("dynamodb")
    s3, logs = boto3.client("s3"), boto3.client("logs")
    cloudformation = boto3.client("cloudformation")
    return {
        "functions": [f["FunctionName"] for f in pages(lam, "list_functions", "Functions")
                      if f["FunctionName"].startswith(prefix)],
        "roles": [r["RoleName"] for r in pages(iam, "list_roles", "Roles")
                  if r["RoleName"].startswith(prefix)],
        "state_machines": [m["name"] for m in pages(sfn, "list_state_machines", "stateMachines")
                           if m["name"].startswith(prefix)],
        "tables": [t for t in pages(dynamodb, "list_tables", "TableNames")
                   if t.startswith(prefix)],
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]
                    if b["Name"].startswith(prefix)],
        "topics": [t["TopicArn"] for t in pages(sns, "list_topics", "Topics")
                   if f":{prefix}" in t["TopicArn"]],
        "rules": [r["Name"] for r in events.list_rules(NamePrefix=prefix)["Rules"]],
        "log_groups": [g["logGroupName"] for g in pages(logs, "describe_log_groups", "logGroups")
                       if prefix in g["logGroupName"]],
        "stacks": [s["StackName"] for s in pages(cloudformation, "list_stacks", "StackSummaries")
                   if s["StackName"] == prefix.rstrip("-")
                   and s["StackStatus"] != "DELETE_COMPLETE"],
        "rules_on_other_buses": [
            r["Name"] for b in events.list_event_buses()["EventBuses"] if b["Name"] != "default"
            for r in events.list_rules(NamePrefix=prefix, EventBusName=b["Name"])["Rules"]],
    }  # fmt: skip


# -- baselines ------------------------------------------------------------------------------
#: The seed's account types (local/seed.json), and the type of each seed account.
ACCOUNT_TYPES_SEED = SEED["account_types"]
SEED_CATALOGUE = SEED["catalogue"]
PRODUCTION, DEVELOPMENT = (t["Id"] for t in ACCOUNT_TYPES_SEED)
ACCOUNT_TYPE_OF = {a["Name"]: a["AccountType"] for a in SEED["accounts"]}
BASELINE_REGIONS = ("ap-southeast-2", "us-east-1")
#: Two baselines over two account types and two regions: six workloads.
BASELINES_FILE = """\
baselines:
  network:
    catalogue: baseline-vpc
    version: "1.0.0"
    workload_name: "{baseline}-{account}-{region}"
    parameters: {VpcCidr: 10.0.0.0/16}
    tags: {CostCode: "1234"}
    targets:
      account_types: [production]
      regions: [ap-southeast-2, us-east-1]
    max_concurrency: 2
  params:
    catalogue: ssm-parameters
    version: latest
    workload_name: "{baseline}-{account}-{region}"
    targets:
      account_types: [development]
      regions: [ap-southeast-2, us-east-1]
    max_concurrency: 4
    failure_tolerance: 0
"""


def typed_accounts() -> list[dict[str, Any]]:
    """The seed's accounts, each with its account type."""
    return [{**a, "AccountType": ACCOUNT_TYPE_OF[a["Name"]]} for a in SEED["accounts"]]


def live(sim: Any) -> dict[str, dict[str, Any]]:
    """The simulator's live workloads by name."""
    return {w["Name"]: w for w in sim.state()["workloads"] if is_live(w)}


# -- fleets --------------------------------------------------------------------------------
#: The seed's accounts and fourteen regions: 40 fleet targets, one per account and region.
FLEET_ACCOUNTS = [a["Id"] for a in SEED["accounts"]]
FLEET_REGIONS = ["ap-southeast-2", "us-east-1", "us-west-2", "eu-west-1", "eu-central-1",
                 "ca-central-1", "ap-northeast-1", "eu-west-2", "eu-north-1", "sa-east-1",
                 "ap-south-1", "us-east-2", "us-west-1", "ap-northeast-2"]  # fmt: skip


def forty_targets() -> list[dict[str, str]]:
    return [{"aws_account_id": a, "aws_region": r} for a in FLEET_ACCOUNTS
            for r in FLEET_REGIONS][:40]  # fmt: skip
