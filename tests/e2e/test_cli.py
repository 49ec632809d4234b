"""The command-line tool against the local stack: every command, exit codes, --json shapes.

The CLI runs as a user runs it (the installed console script, in a subprocess); every
output it prints during these tests is checked for the Stax API secret.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import (
    ACCOUNT_ID,
    CATALOGUE_ID,
    VERSION_2,
    create_payload,
    unique_name,
    write_calls,
)
from tests.e2e.helpers import LOCAL_TOKEN
from tests.e2e.helpers import cli as run_cli

pytestmark = pytest.mark.e2e
OUTPUTS: list[str] = []


def cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    run = run_cli(*args, stdin=stdin, env=env, timeout=300)
    OUTPUTS.append(run.stdout + run.stderr)
    return run


def cli_json(*args: str, expect: int = 0) -> Any:
    run = cli(*args, "--json")
    assert run.returncode == expect, run.stdout + run.stderr
    # Results on stdout; a refusal or an error (nothing was done) on stderr.
    return json.loads(run.stdout.strip() or run.stderr)


@pytest.fixture(scope="module")
def secret(local_stack: None) -> Iterator[str]:
    value = boto3.client("ssm").get_parameter(Name=LOCAL_TOKEN[1], WithDecryption=True)[
        "Parameter"
    ]["Value"]
    yield value
    leaked = [output for output in OUTPUTS if value in output]
    assert not leaked, "the CLI printed the Stax API secret"


def test_run_follows_to_success_with_json_summary(
    deployed: dict[str, Any], clean_sim: Any, secret: str, tmp_path: Path
) -> None:
    payload = tmp_path / "create.json"
    name = unique_name("cli")
    payload.write_text(json.dumps(create_payload(name)))
    result = cli_json("run", str(payload))
    assert result["status"] == "SUCCEEDED"
    assert result["operation"] == "create"
    assert result["workload_name"] == name
    assert result["task_status"] == "SUCCEEDED"
    assert result["polls"] >= 1
    assert result["execution_arn"].startswith("arn:aws:states:")
    assert result["output"]["workload_id"] == result["workload_id"]
    assert isinstance(result["duration_seconds"], float)


def test_human_output_shows_progress_and_summary(
    deployed: dict[str, Any], clean_sim: Any, secret: str
) -> None:
    name = unique_name("cli-human")
    run = cli(
        "create", "--account-id", ACCOUNT_ID, "--region", "ap-southeast-2",
        "--catalogue-id", CATALOGUE_ID, "--name", name, "--param", "VpcCidr=10.9.0.0/16",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Watch Task" in run.stdout
    assert "task=RUNNING" in run.stdout or "task=SUCCEEDED" in run.stdout
    assert "✔ create succeeded" in run.stdout
    assert name in run.stdout


def test_bad_payload_is_refused_before_anything_starts(
    deployed: dict[str, Any], clean_sim: Any, secret: str, sfn: Any
) -> None:
    before = len(
        sfn.list_executions(stateMachineArn=deployed["workload"], maxResults=1000)["executions"]
    )
    bad = create_payload("9-starts-with-a-digit", aws_region="ap-northeast-3")
    run = cli("run", "-", stdin=json.dumps(bad))
    assert run.returncode == 2
    assert "workload_name" in run.stderr and "aws_region" in run.stderr
    assert "Nothing was started." in run.stderr and run.stdout == ""
    refused = cli_json("run", "events/invalid/not_object_array.json", expect=2)
    assert refused["status"] == "INVALID"
    assert refused["error"] == "InvalidWorkloadRequest"
    after = len(
        sfn.list_executions(stateMachineArn=deployed["workload"], maxResults=1000)["executions"]
    )
    assert after == before
    assert write_calls(clean_sim) == []


def test_failed_operation_exits_1_with_error_and_log_tail(
    deployed: dict[str, Any], clean_sim: Any, secret: str
) -> None:
    clean_sim.fail_next_tasks(1, logs=["AWS::EC2::VPC Vpc CREATE_FAILED quota reached"])
    result = cli_json(
        "create", "--account-id", ACCOUNT_ID, "--region", "ap-southeast-2",
        "--catalogue-id", CATALOGUE_ID, "--name", unique_name("cli-fail"),
        expect=1,
    )  # fmt: skip
    assert result["status"] == "FAILED"
    assert result["error"] == "WorkloadTaskFailed"
    assert result["cause"]["task_id"] == result["task_id"]
    assert any("quota reached" in line for line in result["logs_tail"])
    human = cli(
        "create", "--account-id", ACCOUNT_ID, "--region", "ap-southeast-2",
        "--catalogue-id", CATALOGUE_ID, "--name", result["workload_name"],
    )  # fmt: skip
    # The failed create left a CREATE_FAILED workload: its resources may still be deployed,
    # so it keeps its name until it is deleted.
    assert human.returncode == 1, human.stdout
    assert "WorkloadAlreadyExists" in human.stdout and "CREATE_FAILED" in human.stdout


def test_no_wait_then_watch_list_and_history(
    deployed: dict[str, Any], clean_sim: Any, secret: str
) -> None:
    name = unique_name("cli-nowait")
    started = cli_json(
        "create", "--account-id", ACCOUNT_ID, "--region", "ap-southeast-2",
        "--catalogue-id", CATALOGUE_ID, "--name", name, "--no-wait",
    )  # fmt: skip
    assert started["status"] == "RUNNING"
    arn = started["execution_arn"]
    watched = cli_json("watch", arn)
    assert watched["status"] == "SUCCEEDED"
    assert watched["workload_name"] == name

    listed = cli_json("list", "--limit", "10")
    mine = [row for row in listed if row["execution_arn"] == arn]
    assert mine and mine[0]["operation"] == "create"
    assert mine[0]["workload"] == name and mine[0]["status"] == "SUCCEEDED"
    # As the AWS CLI: a JMESPath selection, printed as tab-separated text or YAML.
    query = f"[?execution_arn=='{arn}'].[workload, status]"
    text = cli("list", "--limit", "10", "--query", query, "--output", "text")
    assert (text.returncode, text.stdout, text.stderr) == (0, f"{name}\tSUCCEEDED\n", "")
    yaml_out = cli("list", "--limit", "10", "--query", f"[?execution_arn=='{arn}'].status",
                   "--output", "yaml")  # fmt: skip
    assert yaml_out.stdout == "- SUCCEEDED\n", yaml_out.stderr

    history = cli_json("history", arn)
    states = [row["state"] for row in history["states"]]
    assert states[:3] == ["Read Request", "Validate Input", "Record Execution"]
    assert "Watch Task" in states
    assert "Get Task Status" in [row["state"] for row in history["task_watcher"]["states"]]
    assert all(row["seconds"] is not None for row in history["states"])

    update = cli_json(
        "update", "--workload-id", watched["workload_id"], "--catalogue-version-id", VERSION_2
    )
    assert update["status"] == "SUCCEEDED" and update["operation"] == "update"
    deleted = cli_json("delete", "--workload-id", watched["workload_id"])
    assert deleted["status"] == "SUCCEEDED" and deleted["operation"] == "delete"


def test_invoke_runs_one_lambda_in_process(local_stack: None, secret: str) -> None:
    ok = cli("invoke", "validate_input", "events/validate_input/update.json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["operation"] == "update"
    refused = cli_json("invoke", "validate_input", "events/invalid/name_too_short.json", expect=1)
    assert refused["errorType"] == "InvalidWorkloadRequest"
    assert "workload_name" in refused["error"]["errors"]


def test_catalogue_publish_and_list(local_stack: None, clean_sim: Any, secret: str) -> None:
    name = unique_name("cat")
    first = cli_json("catalogue", "publish", "cloudformation/ssm-parameters.yaml", "--name", name)
    assert first["version"] == "1.0.0" and first["status"] == "ACTIVE"
    assert first["template_url"].startswith("s3://stax-orchestrator-local-artifacts/catalogue/")
    second = cli_json("catalogue", "publish", "cloudformation/ssm-parameters.yaml", "--name", name)
    assert second["catalogue_id"] == first["catalogue_id"]
    assert second["version"] == "1.0.1"
    assert second["catalogue_version_id"] != first["catalogue_version_id"]
    listed = {item["catalogue_id"]: item for item in cli_json("catalogue", "list")}
    assert listed[first["catalogue_id"]]["versions"] == ["1.0.0", "1.0.1"]
    key = first["template_url"].split("/", 3)[3]
    body = boto3.client("s3").get_object(Bucket="stax-orchestrator-local-artifacts", Key=key)[
        "Body"
    ]
    assert b"AWS::SSM::Parameter" in body.read()
    missing = cli("catalogue", "publish", "no/such/template.yaml", "--name", name)
    assert missing.returncode == 2 and "is not a file" in missing.stderr


def test_setup_stores_the_token_and_never_prints_it(local_stack: None, secret: str) -> None:
    ssm = boto3.client("ssm")
    access_key = ssm.get_parameter(Name=LOCAL_TOKEN[0], WithDecryption=True)["Parameter"]["Value"]
    # Same values as the stack's, so the deployed Lambdas keep working.
    run = cli("setup", env={"STAX_ACCESS_KEY": access_key, "STAX_SECRET_KEY": secret})
    assert run.returncode == 0, run.stdout + run.stderr
    assert LOCAL_TOKEN[1] in run.stdout
    stored = ssm.get_parameter(Name=LOCAL_TOKEN[1], WithDecryption=True)
    assert stored["Parameter"]["Type"] == "SecureString"
    assert stored["Parameter"]["Value"] == secret
    no_token = cli("setup", env={"STAX_ACCESS_KEY": "", "STAX_SECRET_KEY": ""}, stdin="")
    assert no_token.returncode == 2
    assert "no API token" in no_token.stderr


def test_unknown_stage_is_a_configuration_error(local_stack: None, secret: str) -> None:
    run = cli("delete", "--workload-id", "00000000-0000-4000-8000-000000000000", "--stage", "nope")
    assert run.returncode == 3
    assert run.stdout == ""  # errors go to stderr: `... 2>/dev/null` prints nothing
    message = " ".join(run.stderr.split())
    assert "no CloudFormation stack 'stax-orchestrator-nope'" in message
    assert "region us-east-1" in message and "./deploy.sh --stage nope" in message
