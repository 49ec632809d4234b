"""Row 1 — cold start: a fresh process, from nothing to a Stax client ready for its first call.

Each measurement is a new ``python -m bench.coldstart --child MODE`` process; the
parent runs them interleaved (ours, plain, plain, ours, ...) so that drifts of a
noisy machine hit both sides alike, and takes medians.

Modes (what the child does before it reports "ready"):

``client-ours``   what a Lambda container does: ``chalicelib.stax.StaxGateway(settings,
                  credentials)`` — ``prime_sdk_contract`` + both SDK clients, which
                  includes the SDK's config fetch (GET /public/config).
``client-plain``  the plain SDK way: ``Config.load_live_schema = False`` (the bundled
                  document), ``StaxClient("workloads")`` + ``StaxClient("tasks")``; the
                  first client resolves the whole document with prance.
``status-ours``   cold process → first ``get_task_status`` result through ``app.py``'s
                  handler (SSM token read, config fetch, Cognito login, ReadTask).
``status-plain``  the same with the plain SDK: SSM token read, ``StaxClient("tasks")``,
                  ``ReadTask``.

Measured:
- time: wall clock from just before the parent spawns the process to the moment the
  child is ready (interpreter start-up included, the same for both sides);
  the child's CPU time is reported too;
- memory: peak RSS (``/proc/self/status`` VmHWM) minus the RSS the child had when its
  code started (VmRSS) — what building the client costs; the absolute peak is kept
  too. Not ``ru_maxrss``: Linux carries the high-water mark of the forked parent
  across ``execve`` into it, so a child of a big parent would report the parent's size.

After a ``client-*`` child has reported, it pushes bad request bodies through its
client's ``CreateWorkload``/``UpdateWorkload``: each must raise the SDK's
``ValidationException`` (before any HTTP call) with the same message on both sides,
which proves that request validation is still in force with the primed contract.

Run alone:  ``python -m bench.coldstart --private [--reps 7]`` (own simulator and
MiniStack), or on the standard local stack without ``--private``;
``--profile MODE`` prints ``-X importtime`` and cProfile summaries of one child.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Nothing heavy is imported at module level: the child's baseline RSS is taken first thing.

MODES = ("client-ours", "client-plain", "status-ours", "status-plain")
#: The local stage's token parameters, read from .chalice/config.json (not through
#: stax_orchestrator.deploy.stage, which imports Chalice).
_LOCAL_ENV = json.loads(
    (Path(__file__).resolve().parent.parent / ".chalice" / "config.json").read_text()
)["stages"]["local"]["environment_variables"]
ACCESS_KEY_PARAMETER = _LOCAL_ENV["STAX_ACCESS_KEY_PARAMETER"]
SECRET_KEY_PARAMETER = _LOCAL_ENV["STAX_SECRET_KEY_PARAMETER"]

#: Valid CreateWorkload body (ids of local/seed.json); each probe breaks one rule.
GOOD_CREATE = {
    "Name": "bench-valid-name",
    "AccountId": "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11",
    "CatalogueId": "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00",
    "Region": "ap-southeast-2",
}
BAD_BODIES: list[tuple[str, str, dict[str, Any]]] = [
    ("CreateWorkload", "name starts with a digit", {**GOOD_CREATE, "Name": "1-bad"}),
    (
        "CreateWorkload",
        "Region missing",
        {k: v for k, v in GOOD_CREATE.items() if k != "Region"},
    ),
    (
        "CreateWorkload",
        "parameter without Value",
        {**GOOD_CREATE, "Parameters": [{"Key": "VpcCidr"}]},
    ),
    (
        "UpdateWorkload",
        "Protection not a boolean",
        {"workload_id": "00000000-0000-4000-8000-000000000000", "Protection": "yes"},
    ),
]


# -- child ---------------------------------------------------------------------------------


def _status_kb(field: str) -> int:
    """A ``/proc/self/status`` figure in kB (``VmRSS``: now, ``VmHWM``: peak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def _probe_validation(workloads: Any) -> dict[str, Any]:
    """Bad bodies through the client: every one must raise ValidationException."""
    from staxapp.contract import StaxContract
    from staxapp.exceptions import ValidationException

    results = []
    for operation, label, body in BAD_BODIES:
        try:
            getattr(workloads, operation)(**dict(body))
        except ValidationException as error:
            results.append({"probe": label, "raised": "ValidationException", "message": str(error)})
        except Exception as error:
            results.append({"probe": label, "raised": type(error).__name__, "message": str(error)})
        else:
            results.append({"probe": label, "raised": "", "message": ""})
    try:
        StaxContract.validate(dict(GOOD_CREATE), "workloads.CreateWorkload")
        good_ok = True
    except Exception:
        good_ok = False
    return {"probes": results, "good_body_accepted": good_ok}


def _plain_config(access_key: str, secret_key: str) -> None:
    from staxapp.config import Config

    Config.load_live_schema = False  # the bundled document, as the plain way is measured
    Config.hostname = os.environ["STAX_API_HOST"]
    Config.access_key = access_key
    Config.secret_key = secret_key


def _ssm_token() -> tuple[str, str]:
    import boto3

    response = boto3.client("ssm").get_parameters(
        Names=[ACCESS_KEY_PARAMETER, SECRET_KEY_PARAMETER], WithDecryption=True
    )
    values = {p["Name"]: p["Value"] for p in response["Parameters"]}
    return values[ACCESS_KEY_PARAMETER], values[SECRET_KEY_PARAMETER]


def child(mode: str, task_id: str | None) -> dict[str, Any]:
    """Run one cold start in this (fresh) process and describe it."""
    base_rss = _status_kb("VmRSS")
    started = time.perf_counter()
    probe: dict[str, Any] | None = None
    workloads: Any = None
    result: Any = None
    if os.environ.get("BENCH_XRAY_SDK"):  # bench.tracing: what the X-Ray SDK would add
        from aws_xray_sdk.core import patch_all, xray_recorder

        xray_recorder.configure(context_missing="IGNORE_ERROR")
        patch_all()
    if mode == "client-ours":
        from chalicelib.settings import stax_settings
        from chalicelib.stax import StaxCredentials, StaxGateway

        gateway = StaxGateway(stax_settings(), StaxCredentials("bench-access", "bench-secret"))
        workloads = gateway._workloads
    elif mode == "client-plain":
        from staxapp.openapi import StaxClient

        _plain_config("bench-access", "bench-secret")
        workloads = StaxClient("workloads")
        StaxClient("tasks")
    elif mode == "status-ours":
        import app

        result = app.get_task_status({"task_id": task_id, "polls": 0}, None)["status"]
    elif mode == "status-plain":
        access_key, secret_key = _ssm_token()
        from staxapp.openapi import StaxClient

        _plain_config(access_key, secret_key)
        result = StaxClient("tasks").ReadTask(task_id=task_id)["Status"]
    else:
        raise SystemExit(f"unknown mode {mode}")
    ready_wall = time.time()
    ready = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out: dict[str, Any] = {
        "mode": mode,
        "ready_wall": ready_wall,
        "in_process_seconds": ready,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "base_rss_kb": base_rss,
        "peak_rss_kb": _status_kb("VmHWM"),
        "result": result,
    }
    if workloads is not None:
        probe = _probe_validation(workloads)
        out["validation"] = probe
    return out


# -- parent --------------------------------------------------------------------------------


def run_child(mode: str, env: dict[str, str], task_id: str | None = None) -> dict[str, Any]:
    """Spawn one fresh child; its wall time counts from just before the spawn."""
    from bench.stack import PY, ROOT

    args = [str(PY), "-m", "bench.coldstart", "--child", mode]
    if task_id:
        args += ["--task-id", task_id]
    spawned = time.time()
    done = subprocess.run(
        args, env=env, cwd=str(ROOT), capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} child failed: {done.stderr.strip()[-800:]}")
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    measured["seconds"] = measured["ready_wall"] - spawned
    measured["rss_delta_kb"] = measured["peak_rss_kb"] - measured["base_rss_kb"]
    return measured


def interleaved(
    pair: tuple[str, str], reps: int, env: dict[str, str], task_id: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``reps`` runs of both modes, alternating which one goes first (ABBA...)."""
    runs: dict[str, list[dict[str, Any]]] = {pair[0]: [], pair[1]: []}
    for i in range(reps):
        order = pair if i % 2 == 0 else pair[::-1]
        for mode in order:
            runs[mode].append(run_child(mode, env, task_id))
    return runs


def median(values: list[float]) -> float:
    import statistics

    return float(statistics.median(values))


def summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {
        "seconds": median([r["seconds"] for r in runs]),
        "cpu_seconds": median([r["cpu_seconds"] for r in runs]),
        "rss_delta_mb": median([r["rss_delta_kb"] for r in runs]) / 1024,
        "peak_rss_mb": median([r["peak_rss_kb"] for r in runs]) / 1024,
        "n": len(runs),
    }


def make_task(stack: Any, name: str) -> str:
    """A Stax task in the simulator (a workload create through our gateway); its id."""
    from bench.polling import create_task
    from chalicelib.settings import stax_settings
    from chalicelib.stax import StaxCredentials, StaxGateway

    stack.apply_env()
    access_key, secret_key = stack.api_token()
    gateway = StaxGateway(stax_settings(), StaxCredentials(access_key, secret_key))
    return create_task(gateway, name)[1]


def measure(stack: Any, reps: int = 7, status_reps: int = 5) -> dict[str, Any]:
    """Both cold-start comparisons on ``stack``; raw runs and medians."""
    env = stack.env()
    client = interleaved(("client-ours", "client-plain"), reps, env)
    result: dict[str, Any] = {
        "client": {mode: summary(runs) for mode, runs in client.items()},
        "validation": {mode: [r["validation"] for r in runs] for mode, runs in client.items()},
        "raw": {"client": client},
    }
    if stack.ministack_url and status_reps > 0:
        stack.ensure_coordination_table()
        task_id = make_task(stack, f"bench-cold-{int(time.time())}")
        status = interleaved(("status-ours", "status-plain"), status_reps, env, task_id)
        result["status"] = {mode: summary(runs) for mode, runs in status.items()}
        result["status_results"] = {
            mode: sorted({str(r["result"]) for r in runs}) for mode, runs in status.items()
        }
        result["raw"]["status"] = status
    return result


def validation_verdict(validation: dict[str, list[dict[str, Any]]]) -> tuple[bool, str, str]:
    """(ok, ours text, plain text): every probe raised ValidationException in every
    'ours' process, the good body passed, and the messages equal the plain SDK's."""
    ours_runs, plain_runs = validation["client-ours"], validation["client-plain"]
    probes = len(BAD_BODIES)

    def raised(run: dict[str, Any]) -> int:
        return sum(1 for p in run["probes"] if p["raised"] == "ValidationException")

    ours_ok = all(raised(r) == probes and r["good_body_accepted"] for r in ours_runs)
    plain_msgs = [p["message"] for p in plain_runs[0]["probes"]] if plain_runs else []
    same = all([p["message"] for p in r["probes"]] == plain_msgs for r in ours_runs)
    ours_text = (
        f"{min(raised(r) for r in ours_runs)}/{probes} bad bodies → ValidationException"
        f" in {len(ours_runs)} processes; good body accepted"
        + ("; messages = plain SDK's" if same else "; MESSAGES DIFFER from plain SDK's")
    )
    plain_text = f"{min(raised(r) for r in plain_runs) if plain_runs else 0}/{probes} raised"
    return ours_ok and same, ours_text, plain_text


def rows(result: dict[str, Any]) -> list[Any]:
    from bench.table import check_row, ratio_row

    ours, plain = result["client"]["client-ours"], result["client"]["client-plain"]
    n = f"median of {ours['n']}"
    out = [
        ratio_row(
            f"cold start → client ready: wall time ({n})",
            ours["seconds"],
            plain["seconds"],
            0.15,
            unit="s",
        ),
        ratio_row(
            "cold start → client ready: CPU time",
            ours["cpu_seconds"],
            plain["cpu_seconds"],
            0.15,
            unit="s",
        ),
        ratio_row(
            "cold start → client ready: peak RSS − RSS at start",
            ours["rss_delta_mb"],
            plain["rss_delta_mb"],
            0.7,
            unit="MB",
            digits=1,
        ),
    ]
    ok, ours_text, plain_text = validation_verdict(result["validation"])
    out.append(
        check_row(
            "write validation in force (bad CreateWorkload/UpdateWorkload bodies)",
            ok,
            ours_text,
            plain_text,
            goal="all raise, same as plain",
        )
    )
    if "status" in result:
        s_ours, s_plain = result["status"]["status-ours"], result["status"]["status-plain"]
        out.append(
            ratio_row(
                f"cold process → first get_task_status result (median of {s_ours['n']})",
                s_ours["seconds"],
                s_plain["seconds"],
                0.3,
                unit="s",
            )
        )
    return out


def profile(stack: Any, mode: str) -> None:
    """Print ``-X importtime`` (top 15 cumulative) and cProfile (top 25) of one child."""
    import pstats
    import tempfile

    from bench.stack import PY, ROOT

    env = stack.env()
    task_id = make_task(stack, f"bench-prof-{int(time.time())}") if "status" in mode else None
    extra = ["--task-id", task_id] if task_id else []
    imports = subprocess.run(
        [str(PY), "-X", "importtime", "-m", "bench.coldstart", "--child", mode, *extra],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [ln for ln in imports.stderr.splitlines() if ln.startswith("import time:")]
    parsed = []
    for line in lines[1:]:  # the first line is the header
        parts = line.split("|")
        parsed.append((int(parts[1]), parts[2].rstrip()))
    print(f"-X importtime, {mode}: top cumulative imports (ms)")
    for cumulative, name in sorted(parsed, reverse=True)[:15]:
        print(f"  {cumulative / 1000:8.1f}  {name}")
    with tempfile.NamedTemporaryFile(suffix=".prof") as out:
        subprocess.run(
            [
                str(PY),
                "-m",
                "cProfile",
                "-o",
                out.name,
                "-m",
                "bench.coldstart",
                "--child",
                mode,
                *extra,
            ],
            env=env,
            cwd=str(ROOT),
            capture_output=True,
            check=True,
        )
        print(f"cProfile, {mode}: top 25 by cumulative time")
        pstats.Stats(out.name).sort_stats("cumulative").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="cold start: ours vs the plain SDK way")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--task-id", help=argparse.SUPPRESS)
    parser.add_argument("--private", action="store_true", help="own simulator + MiniStack")
    parser.add_argument("--reps", type=int, default=7, help="client runs per side (>= 5)")
    parser.add_argument("--status-reps", type=int, default=5, help="get_task_status runs")
    parser.add_argument("--profile", choices=MODES, help="profile one child instead")
    parser.add_argument("--json", action="store_true", help="print the raw result as JSON")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.task_id)))
        return 0

    from bench.stack import open_stack
    from bench.table import exit_code, render

    with open_stack(args.private) as stack:
        if args.profile:
            profile(stack, args.profile)
            return 0
        result = measure(stack, args.reps, args.status_reps)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    table = rows(result)
    print(render(table))
    return exit_code(table)


if __name__ == "__main__":
    sys.exit(main())
