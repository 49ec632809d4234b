"""`make demo`: the main job, end to end, on the local stack.

Role: local-stack script. With the stack up and the `local` stage deployed (the Makefile
sees to both), it drives the real command-line tool exactly as a user would:

1. publish a sample CloudFormation template to the Stax catalogue;
2. create a workload from it, with the live display;
3. publish a new version and update the workload to it with a changed parameter;
4. delete the workload;
5. run one operation whose Stax task fails, to show the error report;
6. run a fleet of three targets (``examples/fleet-create.json`` + ``examples/targets.csv``)
   with its live view;
7. ``plan`` and ``apply`` the baselines file ``examples/baselines.yaml``;
8. turn on automatic baselining (the post-deploy step of ``deploy.sh --baselines``), create
   an account in the simulator, and time how long its baselines take with no command run;
9. ``plan`` again: no change;
10. print a summary table: each step, its outcome and seconds.

Single operations use fresh workload names; the fleet and the baselines converge, so running
the demo again works (their second run has nothing to do).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
# staxsim is a development tool of the checkout (not installed with the CLI): run as a
# script, the checkout replaces local/ on the path, as bench/run.py does.
sys.path[0] = str(ROOT)

from stax_orchestrator.local_env import SIM_URL, apply_local_env  # noqa: E402
from staxsim.control import SimulatorControl  # noqa: E402

SEED = json.loads((ROOT / "local" / "seed.json").read_text())
ACCOUNT = SEED["accounts"][0]
REGION = "ap-southeast-2"
CLI = str(ROOT / ".venv" / "bin" / "stax-orchestrator")
console = Console(highlight=False)
if not console.is_terminal:
    console.width = 160  # whole ids in logs and CI output


def cli(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    """Run the CLI with the terminal attached (so the live display shows)."""
    command = [CLI, *args, "--local"]
    console.print(f"\n[bold]$ stax-orchestrator {' '.join(args)} --local[/]")
    run = subprocess.run(command, check=False, text=True)  # noqa: S603 - our own CLI
    if run.returncode != expect:
        console.print(f"[bold red]demo: expected exit {expect}, got {run.returncode}[/]")
        sys.exit(1)
    return run


def cli_json(*args: str) -> Any:
    command = [CLI, *args, "--local", "--json"]
    run = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    return json.loads(run.stdout)


def step(text: str) -> None:
    """One line: what the next step shows."""
    console.print(f"\n[bold cyan]▶ {text}[/]")


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = function(*args, **kwargs)
    return result, time.monotonic() - started


def deploy_baselining(bus: str) -> None:
    """The post-deploy step of ``deploy.sh --baselines``, signed by the deploying user."""
    from stax_orchestrator.local_env import LOCAL_OPERATOR

    key = json.loads((ROOT / ".local" / "deployer.json").read_text())
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}  # fmt: skip
    # As `make deploy-local` runs it: the local operator keeps writing the stage bucket.
    command = [sys.executable, "-m", "stax_orchestrator.deploy", "post-deploy", "--stage",
               "local", "--bucket-writer", LOCAL_OPERATOR,
               "--baselines", "examples/baselines.yaml", "--stax-event-bus", bus,
               "--stax-event-source", "stax.simulator"]  # fmt: skip
    console.print(
        "[bold]$ ./deploy.sh --stage local --baselines examples/baselines.yaml "
        f"--stax-event-bus {bus} --stax-event-source stax.simulator[/]  (its post-deploy step)"
    )
    subprocess.run(command, check=True, env=env, capture_output=True, text=True)  # noqa: S603


def baselined_in(sim: Any, account: dict[str, Any], timeout: float = 180.0) -> float:
    """Seconds until every workload of ``account`` is live and ACTIVE (at least one)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        mine = [
            w
            for w in sim.state()["workloads"]
            if w.get("AccountId") == account["Id"] and w.get("Status") != "DELETED"
        ]
        if mine and all(w.get("Status") == "ACTIVE" for w in mine):
            return time.monotonic() - started
        time.sleep(0.5)
    console.print(f"[bold red]demo: {account['Name']} had no ACTIVE baselines in {timeout}s[/]")
    sys.exit(1)


def publish(name: str) -> dict[str, Any]:
    console.print(
        "\n[bold]$ stax-orchestrator catalogue publish cloudformation/vpc.yaml"
        f" --name {name} --local[/]"
    )
    result: dict[str, Any] = cli_json(
        "catalogue", "publish", "cloudformation/vpc.yaml", "--name", name
    )
    console.print(
        f"[green]✔ published[/] {name} {result['version']}: catalogue id {result['catalogue_id']},"
        f" version id {result['catalogue_version_id']}"
    )
    return result


def output_of(sfn: Any, machine: str, execution_name: str) -> dict[str, Any]:
    arn = machine.replace(":stateMachine:", ":execution:") + f":{execution_name}"
    return dict(json.loads(sfn.describe_execution(executionArn=arn).get("output") or "{}"))


def main() -> int:
    apply_local_env()
    os.chdir(ROOT)
    machine = json.loads((ROOT / ".chalice/deployed/local-statemachines.json").read_text())[
        "workload"
    ]
    sfn = boto3.client("stepfunctions")
    run_id = time.strftime("%H%M%S")
    catalogue_name = "demo-vpc"
    workload = f"demo-vpc-{run_id}"
    names = {step: f"demo-{run_id}-{step}" for step in ("create", "update", "delete", "failing")}

    with SimulatorControl(SIM_URL) as sim:
        # Long enough to watch the task move, short enough for a demo.
        sim.set_task_durations(started=1.0, pending=1.0, running=6.0)
        sim.clear_task_failures()

        v1 = publish(catalogue_name)
        cli(
            "create", "--account-id", ACCOUNT["Id"], "--region", REGION,
            "--catalogue-id", v1["catalogue_id"],
            "--catalogue-version-id", v1["catalogue_version_id"],
            "--name", workload, "--param", "VpcCidr=10.0.0.0/16", "--tag", "Owner=platform-team",
            "--execution-name", names["create"],
        )  # fmt: skip
        workload_id = output_of(sfn, machine, names["create"])["workload_id"]

        v2 = publish(catalogue_name)
        cli(
            "update", "--workload-id", workload_id,
            "--catalogue-version-id", v2["catalogue_version_id"], "--param", "VpcCidr=10.1.0.0/16",
            "--execution-name", names["update"],
        )  # fmt: skip
        cli("delete", "--workload-id", workload_id, "--execution-name", names["delete"])

        sim.fail_next_tasks(
            1,
            logs=[
                "AWS::EC2::VPC Vpc CREATE_FAILED The maximum number of VPCs has been reached.",
                "AWS::CloudFormation::Stack ROLLBACK_COMPLETE",
            ],
            operation="create",
        )
        cli(
            "create", "--account-id", ACCOUNT["Id"], "--region", REGION,
            "--catalogue-id", v2["catalogue_id"], "--name", f"demo-failing-{run_id}",
            "--execution-name", names["failing"],
            expect=1,
        )  # fmt: skip
        sim.set_task_durations(started=0.5, pending=0.5, running=2.0)
        rows = _fleets_and_baselines(sim, run_id)

    table = Table(title="make demo: summary")
    for column in ("step", "operation", "workload", "status", "duration", "error"):
        table.add_column(column)
    for step_name, execution_name in names.items():
        arn = machine.replace(":stateMachine:", ":execution:") + f":{execution_name}"
        described = sfn.describe_execution(executionArn=arn)
        request = json.loads(described["input"])
        output = json.loads(described.get("output") or "{}")
        duration = (described["stopDate"] - described["startDate"]).total_seconds()
        # Stax may leave the name out of an update's or delete's answer (a nullable field):
        # the demo knows the workload it created, so every row names it.
        known = {workload_id: workload}
        table.add_row(
            step_name,
            request["operation"],
            output.get("workload_name")
            or request.get("workload_name")
            or known.get(request.get("workload_id"), request.get("workload_id")),
            described["status"],
            f"{duration:.1f}s",
            described.get("error") or "",
        )
    for row in rows:
        table.add_row(*row)
    console.print()
    console.print(table)
    console.print("Stop the local stack with: make down")
    return 0


def _fleets_and_baselines(sim: Any, run_id: str) -> list[tuple[str, ...]]:
    """Steps 6-9; their summary rows."""
    rows: list[tuple[str, ...]] = []
    step("A fleet: one operation over three accounts, live (what `fleet run` shows)")
    run, seconds = timed(cli, "fleet", "run", "examples/fleet-create.json",
                         "--targets", "examples/targets.csv")  # fmt: skip
    outcome = "SUCCEEDED" if run.returncode == 0 else "FAILED"
    rows.append(("fleet", "fleet create", "3 targets", outcome, f"{seconds:.1f}s", ""))

    step("Baselines: what examples/baselines.yaml would change, then apply it (Terraform-style)")
    cli("plan", "examples/baselines.yaml")
    run, seconds = timed(cli, "apply", "examples/baselines.yaml", "--auto-approve")
    outcome = "SUCCEEDED" if run.returncode == 0 else "FAILED"
    rows.append(("apply", "baselines", "examples/baselines.yaml", outcome, f"{seconds:.1f}s", ""))

    step("A new account gets its baselines with no command run (Stax account event → stage)")
    bus = f"stax-demo-{run_id}"
    events = boto3.client("events")
    if not any(b["Name"] == bus for b in events.list_event_buses()["EventBuses"]):
        events.create_event_bus(Name=bus)
    deploy_baselining(bus)
    sim.set_account_events(bus, endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
                           region=events.meta.region_name, source="stax.simulator")  # fmt: skip
    account = {"Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"stax-demo-{run_id}")),
               "Name": f"workloads-new-{run_id}", "AwsAccountId": f"44{run_id}4444",
               "AccountType": "production"}  # fmt: skip
    console.print(f"[bold]Stax creates account {account['Name']} (type production)[/]")
    sim.seed(accounts=[account])
    seconds = baselined_in(sim, account)
    sim.set_account_events(None)
    console.print(f"[green]✔ {account['Name']} has its baselines, ACTIVE, {seconds:.1f}s "
                  "after Stax announced it[/]")  # fmt: skip
    rows.append(("new account", "baselines", account["Name"], "SUCCEEDED", f"{seconds:.1f}s", ""))

    step("Plan again: Stax matches the baselines (exit 0, 'No changes')")
    run, seconds = timed(cli, "plan", "examples/baselines.yaml", "--detailed-exitcode")
    rows.append(("plan", "baselines", "no change", "SUCCEEDED", f"{seconds:.1f}s", ""))
    return rows


if __name__ == "__main__":
    sys.exit(main())
