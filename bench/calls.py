"""Row 2 — calls per operation: Stax calls, config fetches, Cognito and SSM calls.

The Lambdas run in-process exactly as deployed: ``app.py``'s handlers
(``app.create_workload(event, None)``, ...), which wire ``StaxAccess`` +
``SsmCredentials`` (SSM on the stack's MiniStack) into ``chalicelib.operations``.
Each handler is its own Lambda, so each operation starts in a *fresh container*:
``app.stax_access``/``app.ssm_client`` caches and the SDK's per-process config cache
(``staxapp.config.Config.cached_api_config``) are cleared — then 1 cold and 2 warm
invocations follow.

The plain way (beside it) makes the same Stax calls but builds a new client per
invocation, as the plain SDK examples do: SSM read, ``StaxClient(...)`` with the
token, the call — so it logs in to Cognito on every invocation.

Counting:
- Stax calls and config fetches: the simulator's request log
  (``GET /_sim/requests?since=<time before the invocation>``; ``public.ReadConfig`` is
  the config fetch), so the count is what reached the server, retries included;
- Cognito, SSM and DynamoDB: a botocore ``before-call`` handler registered on boto3's
  default session before any client exists (the Cognito clients, ``app.ssm_client`` and
  ``app.dynamodb_client`` are built from it and copy its handlers). It counts API calls
  per service (``cognito-idp``, ``cognito-identity``, ``ssm``, ``dynamodb``) in this
  process, whatever endpoint they go to. (Not MiniStack's log: it is shared.)
- New TLS connections: the simulator's ``connections.tls_established`` counter before and
  after the invocation (the control client's own keep-alive connection is already open).

Each side runs in its own fresh process: ``python -m bench.calls --child ours|plain``.
Run alone: ``python -m bench.calls --private`` (own simulator + MiniStack).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

OPERATIONS = ("create_workload", "update_workload", "get_task_status", "delete_workload")
WARM_INVOCATIONS = 2
TASK_SECONDS = 0.3
#: Expected Stax calls of a warm invocation (the goal of issue 5).
EXPECTED_WARM = {
    "create_workload": 2,
    "update_workload": 1,
    "delete_workload": 1,
    "get_task_status": 1,
}
CONFIG_OPERATION = "public.ReadConfig"


class BotoCounter:
    """Counts botocore API calls per service on boto3's default session."""

    def __init__(self) -> None:
        import boto3

        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        self.calls: Counter[str] = Counter()
        boto3.DEFAULT_SESSION.events.register("before-call", self._count)

    def _count(self, model: Any = None, **_: Any) -> None:
        self.calls[model.service_model.endpoint_prefix] += 1

    def take(self) -> dict[str, int]:
        taken = dict(self.calls)
        self.calls.clear()
        return taken


# -- child -----------------------------------------------------------------------------------


class Bench:
    """What one child process needs: the simulator's control API, counters, the seed."""

    def __init__(self) -> None:
        import os

        from bench.stack import seed
        from staxsim.control import SimulatorControl

        self.counter = BotoCounter()
        self.sim = SimulatorControl(os.environ["STAX_SIM_URL"])
        self.seed = seed()
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, operation: str, phase: str, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)`` as one invocation; records what it cost."""
        self.counter.take()
        connections = self.sim.stats()["connections"]["tls_established"]
        since = time.time()
        result = call(*args)
        boto = self.counter.take()
        new_tls = self.sim.stats()["connections"]["tls_established"] - connections
        log = self.sim.requests(since=since)
        stax = [r for r in log if r.get("operation") != CONFIG_OPERATION]
        self.invocations.append(
            {
                "operation": operation,
                "phase": phase,
                "stax_calls": [
                    {
                        "operation": r.get("operation"),
                        "query": r.get("query"),
                        "status": r["status"],
                    }
                    for r in stax
                ],
                "config_fetches": sum(1 for r in log if r.get("operation") == CONFIG_OPERATION),
                "cognito_idp": boto.get("cognito-idp", 0),
                "cognito_identity": boto.get("cognito-identity", 0),
                "ssm": boto.get("ssm", 0),
                "dynamodb": boto.get("dynamodb", 0),
                "new_tls_connections": new_tls,
            }
        )
        return result

    @property
    def new_version(self) -> str:
        """The catalogue version the updates move to."""
        return str(self.seed["catalogue"][0]["Versions"][1]["Id"])

    def create_requests(self, names: list[str]) -> list[dict[str, Any]]:
        """Normalised create requests (validate_input's output)."""
        from chalicelib.operations import validate_input

        account, catalogue = self.seed["accounts"][0], self.seed["catalogue"][0]
        return [
            validate_input(
                {
                    "operation": "create",
                    "aws_account_id": account["Id"],
                    "aws_region": "ap-southeast-2",
                    "catalogue_id": catalogue["Id"],
                    "catalogue_version_id": catalogue["Versions"][0]["Id"],
                    "workload_name": name,
                    "workload_parameters": {"VpcCidr": "10.0.0.0/16"},
                    "workload_tags": {"CostCode": "bench"},
                }
            )
            for name in names
        ]


def _wait_tasks() -> None:
    # The tasks end, and the new workloads become visible (the simulator's 1 s
    # read-after-write lag), before the next operation uses them.
    time.sleep(max(TASK_SECONDS, 1.0) + 0.5)


def run_ours(bench: Bench) -> None:
    """app.py's handlers: one fresh container per Lambda, cold then warm."""
    from staxapp.config import Config

    import app
    from chalicelib.operations import validate_input

    def fresh_container() -> None:
        for getter in (app.stax_access, app.ssm_client, app.dynamodb_client,
                       app.coordination_store):  # fmt: skip
            getter.cache_clear()
        Config.cached_api_config = {}

    names = [f"bench-calls-ours-{int(time.time())}-{i}" for i in range(1 + WARM_INVOCATIONS)]
    created: list[dict[str, Any]] = []
    fresh_container()
    for i, request in enumerate(bench.create_requests(names)):
        phase = "cold" if i == 0 else "warm"
        created.append(bench.invoke("create_workload", phase, app.create_workload, request, None))
    _wait_tasks()
    fresh_container()
    updated = []
    executions = [f"arn:aws:states:us-east-1:000000000000:execution:bench:u{i}-{time.time()}"
                  for i in range(len(created))]  # fmt: skip
    for i, workload in enumerate(created):
        request = validate_input(
            {
                "operation": "update",
                "workload_id": workload["workload_id"],
                "catalogue_version_id": bench.new_version,
            }
        )
        request["orchestration"] = {"execution_id": executions[i]}
        phase = "cold" if i == 0 else "warm"
        updated.append(bench.invoke("update_workload", phase, app.update_workload, request, None))
    _wait_tasks()
    fresh_container()
    for i, result in enumerate(updated):
        # What the task watcher sends: the poll that sees the task end releases the lock.
        event = {"task_id": result["task_id"], "polls": 0, "operation": "update",
                 "workload_id": result["workload_id"], "execution_id": executions[i]}  # fmt: skip
        phase = "cold" if i == 0 else "warm"
        bench.invoke("get_task_status", phase, app.get_task_status, event, None)
    fresh_container()
    for i, workload in enumerate(created):
        request = validate_input({"operation": "delete", "workload_id": workload["workload_id"]})
        phase = "cold" if i == 0 else "warm"
        bench.invoke("delete_workload", phase, app.delete_workload, request, None)


def run_plain(bench: Bench) -> None:
    """The plain SDK way: a new client (and so a new login) in every invocation."""
    from staxapp.config import Config
    from staxapp.openapi import StaxClient

    from bench.coldstart import _plain_config, _ssm_token

    def client(kind: str) -> Any:
        access_key, secret_key = _ssm_token()
        _plain_config(access_key, secret_key)
        return StaxClient(kind)

    def create(request: dict[str, Any]) -> dict[str, Any]:
        workloads = client("workloads")
        workloads.ReadWorkloads(name=request["workload_name"])
        event = workloads.CreateWorkload(
            Name=request["workload_name"],
            AccountId=request["aws_account_id"],
            CatalogueId=request["catalogue_id"],
            CatalogueVersionId=request["catalogue_version_id"],
            Region=request["aws_region"],
            Parameters=[{"Key": k, "Value": v} for k, v in request["workload_parameters"].items()],
            Tags=request["workload_tags"],
        )
        return {"workload_id": event["Detail"]["Workload"]["WorkloadId"]}

    def update(workload_id: str, version: str) -> dict[str, Any]:
        event = client("workloads").UpdateWorkload(
            workload_id=workload_id, CatalogueVersionId=version
        )
        return {"task_id": event["Detail"]["Workload"]["TaskId"]}

    def status(task_id: str) -> dict[str, Any]:
        return dict(client("tasks").ReadTask(task_id=task_id))

    def delete(workload_id: str) -> dict[str, Any]:
        return dict(client("workloads").DeleteWorkload(workload_id=workload_id))

    names = [f"bench-calls-plain-{int(time.time())}-{i}" for i in range(1 + WARM_INVOCATIONS)]
    Config.cached_api_config = {}
    created = [
        bench.invoke("create_workload", "cold" if i == 0 else "warm", create, r)
        for i, r in enumerate(bench.create_requests(names))
    ]
    _wait_tasks()
    Config.cached_api_config = {}
    updated = [
        bench.invoke(
            "update_workload",
            "cold" if i == 0 else "warm",
            update,
            w["workload_id"],
            bench.new_version,
        )
        for i, w in enumerate(created)
    ]
    _wait_tasks()
    Config.cached_api_config = {}
    for i, u in enumerate(updated):
        bench.invoke("get_task_status", "cold" if i == 0 else "warm", status, u["task_id"])
    Config.cached_api_config = {}
    for i, w in enumerate(created):
        bench.invoke("delete_workload", "cold" if i == 0 else "warm", delete, w["workload_id"])


def child(side: str) -> list[dict[str, Any]]:
    bench = Bench()
    (run_ours if side == "ours" else run_plain)(bench)
    return bench.invocations


# -- parent ------------------------------------------------------------------------------------


def run_child(side: str, env: dict[str, str]) -> list[dict[str, Any]]:
    from bench.stack import PY, ROOT

    done = subprocess.run(
        [str(PY), "-m", "bench.calls", "--child", side],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"calls child {side} failed: {done.stderr.strip()[-800:]}")
    result: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(stack: Any) -> dict[str, list[dict[str, Any]]]:
    """Both sides, each in a fresh process (tasks shortened to TASK_SECONDS meanwhile)."""
    stack.ensure_coordination_table()
    with stack.sim() as sim:
        sim.set_task_durations(total=TASK_SECONDS)
    try:
        env = stack.env()
        return {"ours": run_child("ours", env), "plain": run_child("plain", env)}
    finally:
        with stack.sim() as sim:
            from bench.stack import DEFAULT_DURATIONS

            sim.set_task_durations(**DEFAULT_DURATIONS)


def _select(invocations: list[dict[str, Any]], operation: str, phase: str) -> list[dict[str, Any]]:
    return [i for i in invocations if i["operation"] == operation and i["phase"] == phase]


def _stax_names(invocation: dict[str, Any]) -> str:
    names = []
    for call in invocation["stax_calls"]:
        name = str(call["operation"]).split(".")[-1]
        if call.get("query"):
            name += "?" + ",".join(f"{k}=" for k in sorted(call["query"]))
        names.append(name)
    return ", ".join(names)


def _cold_extra(invocation: dict[str, Any]) -> tuple[int, int, int, int]:
    return (
        invocation["config_fetches"],
        invocation["cognito_idp"],
        invocation["cognito_identity"],
        invocation["ssm"],
    )


def rows(result: dict[str, list[dict[str, Any]]]) -> list[Any]:
    from bench.table import Row, check_row, equal_row, info_row

    ours, plain = result["ours"], result["plain"]
    out: list[Row] = []
    for operation in ("create_workload", "update_workload", "delete_workload", "get_task_status"):
        warm = _select(ours, operation, "warm")
        plain_warm = _select(plain, operation, "warm")
        counts = {len(i["stax_calls"]) for i in warm}
        value = counts.pop() if len(counts) == 1 else sorted(counts)
        ok_value: object = value
        if operation == "create_workload":
            # The name lookup must use the name= filter (no full listing).
            filtered = all(
                i["stax_calls"]
                and i["stax_calls"][0]["operation"] == "workloads.ReadWorkloads"
                and "name" in (i["stax_calls"][0]["query"] or {})
                for i in warm
            )
            ok_value = value if filtered else f"{value} (no name= filter)"
        plain_counts = sorted({len(i["stax_calls"]) for i in plain_warm})
        out.append(
            equal_row(
                f"warm {operation}: Stax calls per invocation",
                ok_value,
                EXPECTED_WARM[operation],
                baseline=", ".join(map(str, plain_counts)),
                ours_text=f"{value} ({_stax_names(warm[0])})" if warm else "none measured",
            )
        )
    warm_all = [i for i in ours if i["phase"] == "warm"]
    plain_warm_all = [i for i in plain if i["phase"] == "warm"]
    cognito = sum(i["cognito_idp"] + i["cognito_identity"] for i in warm_all)
    plain_cognito = sum(i["cognito_idp"] + i["cognito_identity"] for i in plain_warm_all)
    per_invocation = plain_cognito / max(1, len(plain_warm_all))
    out.append(
        equal_row(
            f"warm invocations: Cognito calls (total over {len(warm_all)})",
            cognito,
            0,
            baseline=f"{plain_cognito} ({per_invocation:g} per invocation)",
        )
    )
    cold = [i for i in ours if i["phase"] == "cold"]
    worst = tuple(max(_cold_extra(i)[k] for i in cold) for k in range(4)) if cold else (9, 9, 9, 9)
    plain_cold = [i for i in plain if i["phase"] == "cold"]
    plain_worst = (
        tuple(max(_cold_extra(i)[k] for i in plain_cold) for k in range(4))
        if plain_cold
        else (0, 0, 0, 0)
    )

    def extra(t: tuple[int, ...]) -> str:
        return f"{t[0]} config + {t[1]} cognito-idp + {t[2]} cognito-identity"

    out.append(
        check_row(
            "cold container: extra calls (worst operation)",
            worst[0] <= 1 and worst[1] <= 2 and worst[2] <= 2,
            extra(worst),
            extra(plain_worst),
            goal="≤ 1 config + 2 + 2",
        )
    )
    for operation in ("create_workload", "update_workload", "delete_workload", "get_task_status"):
        warm = _select(ours, operation, "warm")
        plain_warm = _select(plain, operation, "warm")
        out.append(
            equal_row(
                f"warm {operation}: new TLS connections per invocation",
                max((i["new_tls_connections"] for i in warm), default=-1),
                0,
                baseline=", ".join(
                    str(n) for n in sorted({i["new_tls_connections"] for i in plain_warm})
                ),
            )
        )
    dynamo = {
        operation: sorted({i["dynamodb"] for i in _select(ours, operation, "warm")})
        for operation in ("create_workload", "update_workload", "delete_workload")
    }
    out.append(
        info_row(
            "warm writes: coordination store (DynamoDB) calls per invocation",
            ", ".join(f"{op.split('_')[0]} {'/'.join(map(str, n))}" for op, n in dynamo.items()),
            "none (no coordination)",
        )
    )
    ssm_warm = sum(i["ssm"] for i in warm_all)
    plain_ssm = sum(i["ssm"] for i in plain_warm_all)
    out.append(
        info_row(
            "SSM token reads: cold / warm invocations",
            f"{worst[3]} per cold container / {ssm_warm} in {len(warm_all)} warm",
            f"{plain_worst[3]} / {plain_ssm} in {len(plain_warm_all)} warm",
        )
    )
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="calls per operation: ours vs the plain way")
    parser.add_argument("--child", choices=("ours", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--private", action="store_true", help="own simulator + MiniStack")
    parser.add_argument("--json", action="store_true", help="print the raw result as JSON")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0

    from bench.stack import open_stack
    from bench.table import exit_code, render

    with open_stack(args.private) as stack:
        result = measure(stack)
    if args.json:
        print(json.dumps(result, indent=2))
    table = rows(result)
    print(render(table))
    return exit_code(table)


if __name__ == "__main__":
    sys.exit(main())
