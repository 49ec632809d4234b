"""Row 6 — fleets: a 2,000-target plan, and the sliding window's makespan against waves.

- **Plan**: the plan_fleet Lambda's handler (``app.plan_fleet``) in a fresh process, with a
  2,000-target create fleet whose targets are a CSV in the stage's fleet bucket
  (``targets_location``, as the CLI sends a list too big for the execution's input):
  validation of every target, the Stax look-up, the plan written to S3, done targets
  recorded. Wall time, and peak RSS minus RSS at start (``/proc/self/status``), against
  the Lambda's own memory size and timeout.
- **Makespan**: one real fleet on the deployed stage — ``TARGETS`` creates, ``max_concurrency``
  ``CONCURRENCY``, task lengths drawn uniformly between 1 and 6 s (seeded) — from the fleet
  execution's start to its end. From the same targets' measured durations (each target's
  workload operation, from its Map child's start to its result) come the wave design's
  makespan (``CONCURRENCY`` at a time, each wave waiting for its slowest: the design this
  replaced) and the lower bound (``max(total / concurrency, longest)``). The largest state
  of the fleet execution is read from its history.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from typing import Any

TARGETS = 120
REGIONS = (
    "ap-southeast-2",
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ca-central-1",
    "ap-northeast-1",
    "eu-west-2",
    "eu-north-1",
    "sa-east-1",
)
CONCURRENCY = 12
PLAN_TARGETS = 2000
GOAL_OVER_LOWER_BOUND = 1.25
MAX_STATE_BYTES = 8 * 1024


def _status_kb(name: str) -> int:
    from pathlib import Path

    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    return 0


def plan_child() -> dict[str, Any]:
    """In a fresh process: plan a 2,000-target fleet with app.plan_fleet."""
    start_rss = _status_kb("VmRSS")
    import boto3

    import app
    from bench.stack import seed
    from stax_orchestrator.deploy import Target

    data = seed()
    target = Target("local", boto3.session.Session().region_name or "us-east-1", "000000000000")
    regions = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
    rows = ["aws_account_id,aws_region,param:VpcCidr,tag:Owner"] + [
        f"{data['accounts'][i % len(data['accounts'])]['Id']},{regions[i % 5]},"
        f"10.{i % 250}.0.0/16,team-{i}"
        for i in range(PLAN_TARGETS)
    ]
    key = f"requests/bench-{uuid.uuid4().hex[:8]}.csv"
    boto3.client("s3").put_object(
        Bucket=target.fleet_bucket, Key=key, Body="\n".join(rows).encode()
    )
    event = {
        "request": {
            "operation": "create",
            "catalogue_id": data["catalogue"][0]["Id"],
            "name": "bench",
            "workload_name": "{name}-{account_short}-{region}-{index}",
            "targets_location": f"s3://{target.fleet_bucket}/{key}",
            "max_concurrency": 100,
            "failure_tolerance": "5%",
        },
        "execution_id": f"arn:aws:states:us-east-1:000000000000:execution:bench:{uuid.uuid4()}",
        "execution_name": f"bench-plan-{uuid.uuid4().hex[:8]}",
        "bucket": target.fleet_bucket,
    }
    started = time.perf_counter()
    planned = app.plan_fleet(event, None)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": (_status_kb("VmHWM") - start_rss) / 1024,
            "plan": planned, "answer_bytes": len(json.dumps(planned))}  # fmt: skip


def measure_plan(stack: Any) -> dict[str, Any]:
    from bench.stack import PY, ROOT
    from stax_orchestrator.deploy.stage import load_stage

    config = load_stage("local")
    env = {**stack.env(), **config.environment("plan_fleet")}
    done = subprocess.run(
        [str(PY), "-m", "bench.fleet", "--child"], env=env, cwd=str(ROOT),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"plan child failed: {done.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["lambda_memory_mb"] = 256
    result["lambda_timeout_s"] = config.lambda_timeout
    return result


def waves_makespan(durations: list[float], concurrency: int) -> float:
    """The replaced design: ``concurrency`` targets at a time, each wave its slowest."""
    return sum(max(durations[i : i + concurrency]) for i in range(0, len(durations), concurrency))


def lower_bound(durations: list[float], concurrency: int) -> float:
    return max(sum(durations) / concurrency, *durations)


def _start_fleet(stack: Any, count: int, total: tuple[float, float]) -> tuple[Any, list, dict]:
    """Run one create fleet of ``count`` targets (tasks of ``total`` seconds, seeded) to
    its end: its description, its Stax tasks (the simulator's), the simulator's stats."""
    from bench.e2e import run_execution
    from bench.stack import DEFAULT_DURATIONS, seed
    from stax_orchestrator.deploy import Target

    machines = stack.deployment.statemachines()
    data = seed()
    accounts = [a["Id"] for a in data["accounts"]]
    name = f"mk{uuid.uuid4().hex[:6]}"
    targets = [
        {"aws_account_id": accounts[i % len(accounts)], "aws_region": REGIONS[i % len(REGIONS)],
         "workload_name": f"{name}-{i}"}
        for i in range(count)
    ]  # fmt: skip
    # The targets travel as a file in the fleet bucket (as the CLI sends a big list), so the
    # execution's input, too, is the same size whatever the number of targets.
    bucket = Target("local", stack.region, "000000000000").fleet_bucket
    key = f"requests/{name}.jsonl"
    stack.boto("s3").put_object(
        Bucket=bucket, Key=key, Body="\n".join(json.dumps(t) for t in targets).encode()
    )
    request = {"operation": "create", "catalogue_id": data["catalogue"][0]["Id"],
               "workload_name": f"{name}-x", "targets_location": f"s3://{bucket}/{key}",
               "max_concurrency": CONCURRENCY, "failure_tolerance": 0}  # fmt: skip
    with stack.sim() as sim:
        sim.set_task_durations(total=total, seed=120)
    sfn = stack.boto("stepfunctions")
    # Only this fleet's tasks count: earlier sections' tasks may still run in the simulator.
    started = time.time()
    try:
        described = run_execution(sfn, machines["fleet"], request, timeout=1800)
    finally:
        with stack.sim() as sim:
            stats = sim.stats(since=started)
            tasks = [t for t in sim.state()["tasks"] if str(t.get("Name", "")).startswith(name)]
            # (Name: the workload's; this fleet's are "{name}-{i}".)
            sim.set_task_durations(**DEFAULT_DURATIONS)
    return described, tasks, stats


def warm_up(stack: Any) -> float:
    """A fleet of ``CONCURRENCY`` one-second targets before the measured one: the first
    fleet after a deploy waits for a Lambda worker per slot and function (on MiniStack, a
    dozen Python workers starting at once on two cores: tens of seconds). Its makespan."""
    described, _, _ = _start_fleet(stack, CONCURRENCY, (1.0, 1.0))
    return (described["stopDate"] - described["startDate"]).total_seconds()


def measure_makespan(stack: Any) -> dict[str, Any]:
    from bench import fleet_overhead
    from chalicelib import fleet
    from chalicelib.coordination import CoordinationStore
    from stax_orchestrator.follow import largest_state_bytes

    cold = warm_up(stack)
    described, tasks, stats = _start_fleet(stack, TARGETS, (1.0, 6.0))
    sfn = stack.boto("stepfunctions")
    client = stack.boto("dynamodb")
    rows = list(fleet.read_results(CoordinationStore(lambda: client, machines_table(stack)),
                                   described["name"]))  # fmt: skip
    durations = [float(r["duration_seconds"]) for r in sorted(rows, key=lambda r: r["index"])]
    makespan = (described["stopDate"] - described["startDate"]).total_seconds()
    # The Stax tasks' own durations (the simulator's clock: created to ended), by task id.
    task_seconds = {t["Id"]: float(t["EndsAt"]) - float(t["CreatedAt"]) for t in tasks}
    overheads = sorted(float(r["duration_seconds"]) - task_seconds[r["task_id"]]
                       for r in rows if r.get("task_id") in task_seconds)  # fmt: skip
    windows = {t["Id"]: (float(t["CreatedAt"]), float(t["EndsAt"])) for t in tasks}
    where = fleet_overhead.measure(
        sfn, described["executionArn"],
        {r["execution_name"]: windows[r["task_id"]] for r in rows if r.get("task_id") in windows},
        CONCURRENCY,
    )  # fmt: skip
    return {
        "task_durations": sorted(task_seconds.values()),
        "task_bound": lower_bound(list(task_seconds.values()), CONCURRENCY)
        if task_seconds
        else 0.0,
        "overheads": overheads,
        "where": where,
        "warm_up": cold,
        "status": described["status"],
        "makespan": makespan,
        "durations": durations,
        "waves": waves_makespan(durations, CONCURRENCY),
        "lower_bound": lower_bound(durations, CONCURRENCY),
        "max_concurrent_tasks": stats["max_concurrent_tasks"],
        "largest_state": largest_state_bytes(sfn, described["executionArn"]),
    }


def machines_table(stack: Any) -> str:
    from stax_orchestrator.deploy.stage import load_stage

    table = load_stage(stack.deployment.stage, stack.deployment.project_dir / ".chalice")
    return str(table.coordination_table)


def measure(stack: Any) -> dict[str, Any]:
    return {"plan": measure_plan(stack), "makespan": measure_makespan(stack)}


def rows(result: dict[str, Any]) -> list[Any]:
    from bench.table import Row, check_row, info_row, limit_row

    plan, run = result["plan"], result["makespan"]
    out: list[Row] = [
        limit_row(f"plan of {PLAN_TARGETS:,} targets (plan_fleet in-process): wall time",
                  plan["seconds"], plan["lambda_timeout_s"] / 2, "s", digits=1,
                  baseline=f"Lambda timeout {plan['lambda_timeout_s']} s"),
        limit_row(f"plan of {PLAN_TARGETS:,} targets: peak RSS − RSS at start",
                  plan["peak_mb"], plan["lambda_memory_mb"] / 2, "MB", digits=1,
                  baseline=f"Lambda memory {plan['lambda_memory_mb']} MB"),
        limit_row("plan answer (what the fleet execution's state carries)", plan["answer_bytes"],
                  1024, "bytes", baseline="the same for 2 or 10,000 targets"),
    ]  # fmt: skip
    if run["status"] != "SUCCEEDED" or not run["durations"]:
        out.append(check_row("fleet makespan run", False, run["status"], goal="SUCCEEDED"))
        return out
    bound = run["lower_bound"]
    out += [
        Row(f"fleet of {TARGETS} targets, concurrency {CONCURRENCY}, tasks 1–6 s: makespan",
            f"{run['makespan']:.1f} s ({run['makespan'] / bound:.2f}× the lower bound)",
            f"waves: {run['waves']:.1f} s ({run['waves'] / bound:.2f}×); lower bound {bound:.1f} s",
            f"≤ {GOAL_OVER_LOWER_BOUND} × bound, < waves",
            run["makespan"] <= GOAL_OVER_LOWER_BOUND * bound and run["makespan"] < run["waves"]),
        limit_row("fleet run: Stax tasks at once (simulator)", run["max_concurrent_tasks"],
                  CONCURRENCY, baseline=f"max_concurrency {CONCURRENCY}"),
        limit_row("fleet run: largest state in the execution's history", run["largest_state"],
                  MAX_STATE_BYTES, "bytes", baseline=f"{TARGETS} targets"),
        *_task_rows(run),
        info_row("fleet run: target durations (workload operation)",
                 f"min {min(run['durations']):.1f} s, median "
                 f"{sorted(run['durations'])[len(run['durations']) // 2]:.1f} s, "
                 f"max {max(run['durations']):.1f} s", ""),
    ]  # fmt: skip
    return out


#: Issue 24: the makespan against what the Stax tasks alone allow, and each target's
#: overhead (its workload operation minus its Stax task).
GOAL_OVER_TASK_BOUND = 1.3
GOAL_OVERHEAD_P95 = 3.0


def _task_rows(run: dict[str, Any]) -> list[Any]:
    from bench import fleet_overhead
    from bench.table import check_row, info_row

    overheads, bound = run.get("overheads") or [], run.get("task_bound") or 0.0
    if not overheads or not bound:
        return [check_row("fleet run: Stax tasks matched to targets", False, "none", goal="all")]

    def at(share: float) -> float:
        return overheads[min(len(overheads) - 1, int(share * len(overheads)))]

    tasks = run["task_durations"]
    return [
        check_row(f"fleet of {TARGETS}: makespan against the Stax tasks' own bound",
                  run["makespan"] <= GOAL_OVER_TASK_BOUND * bound,
                  f"{run['makespan']:.1f} s ({run['makespan'] / bound:.2f}×)",
                  f"tasks {min(tasks):.1f}–{max(tasks):.1f} s: bound {bound:.1f} s "
                  f"(sum / {CONCURRENCY}, or the longest)", f"≤ {GOAL_OVER_TASK_BOUND}× bound"),
        check_row(f"fleet of {TARGETS}: overhead per target (operation − its Stax task)",
                  at(0.95) < GOAL_OVERHEAD_P95,
                  f"p50 {at(0.5):.1f} / p95 {at(0.95):.1f} / max {overheads[-1]:.1f} s",
                  f"{len(overheads)} targets matched", f"p95 < {GOAL_OVERHEAD_P95:.0f} s"),
        info_row(f"fleet of {CONCURRENCY} one-second targets first (warm-up; cold after a deploy)",
                 f"{run.get('warm_up', 0.0):.1f} s",
                 "the first fleet after a deploy starts a Lambda worker per slot"),
        info_row(f"fleet of {TARGETS}: where the time beyond the Stax tasks goes",
                 fleet_overhead.summary(run["where"]) if run.get("where") else "not measured",
                 "execution histories (Map child, workload, watcher)"),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="fleet plan and makespan")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(plan_child(), default=str))
        return 0
    from bench.stack import open_stack
    from bench.table import exit_code, render

    with open_stack(False) as stack:
        table = rows(measure(stack))
    print(render(table))
    return exit_code(table)


if __name__ == "__main__":
    sys.exit(main())
