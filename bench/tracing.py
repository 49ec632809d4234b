"""Row 7 — what a tracing SDK would cost the cold start, and that none is shipped.

Tracing is the Lambdas' *active tracing* (the stage's ``xray`` option: the Lambda service
records each invocation, Step Functions each state) — no code in the package. The AWS
X-Ray SDK for Python would add subsegments per boto3/requests call, at the price of its
import and ``patch_all()`` in every cold container. Measured here in fresh processes,
interleaved with plain ones (``bench.coldstart``'s ``client-ours`` child, with and without
``aws-xray-sdk`` imported and ``patch_all()`` applied first), medians.

The SDK is installed for the measurement only, into ``.local/bench-xray`` with
``pip install --target --no-deps`` (it needs ``wrapt``; botocore is ours), never into the
project's environment or its package.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / ".local" / "bench-xray"
#: The SDK as the registry holds it today (pinned for a repeatable figure).
SDK = ("aws-xray-sdk==2.15.0", "wrapt==2.1.2")
#: Shipping a tracing SDK would need its cost to be small beside the cold start.
MAX_SHIPPABLE_SHARE = 0.05


def install_sdk() -> Path:
    """The SDK in a directory of its own (installed once; reused by later runs)."""
    marker = TARGET / ".installed"
    if marker.exists() and marker.read_text() == " ".join(SDK):
        return TARGET
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade",
         "--target", str(TARGET), *SDK],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    marker.write_text(" ".join(SDK))
    return TARGET


def shipped_sdks() -> list[str]:
    """Tracing SDKs named in the Lambda package's requirements (should be none)."""
    lines = (ROOT / "requirements.txt").read_text().lower().splitlines()
    return [line.strip() for line in lines if "xray" in line or "opentelemetry" in line]


def measure(stack: Any, reps: int = 5) -> dict[str, Any]:
    from bench.coldstart import run_child, summary

    target = install_sdk()
    env = stack.env()
    traced_env = {**env, "BENCH_XRAY_SDK": "1",
                  "PYTHONPATH": f"{env.get('PYTHONPATH', ROOT)}:{target}"}  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "traced": []}
    for i in range(reps):
        order = ("plain", "traced") if i % 2 == 0 else ("traced", "plain")
        for side in order:
            runs[side].append(run_child("client-ours", traced_env if side == "traced" else env))
    return {
        "plain": summary(runs["plain"]),
        "traced": summary(runs["traced"]),
        "shipped": shipped_sdks(),
    }


def rows(result: dict[str, Any]) -> list[Any]:
    from bench.table import check_row, info_row

    plain, traced = result["plain"], result["traced"]
    extra_s = traced["seconds"] - plain["seconds"]
    extra_mb = traced["rss_delta_mb"] - plain["rss_delta_mb"]
    share = extra_s / plain["seconds"] if plain["seconds"] else 0.0
    shipped = result["shipped"]
    return [
        info_row(
            f"cold start with the X-Ray SDK (import + patch_all), median of {plain['n']}",
            f"+{extra_s:.2f} s (+{share:.0%}), +{extra_mb:.1f} MB",
            f"without: {plain['seconds']:.2f} s, {plain['rss_delta_mb']:.1f} MB",
        ),
        check_row(
            "tracing SDK in the Lambda package",
            not shipped or share < MAX_SHIPPABLE_SHARE,
            ", ".join(shipped) or "none (active tracing needs no code)",
            "",
            goal=f"none while it costs ≥ {MAX_SHIPPABLE_SHARE:.0%} of the cold start",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    import argparse

    from bench.stack import open_stack
    from bench.table import exit_code, render

    parser = argparse.ArgumentParser(description="tracing SDK cost on the cold start")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with open_stack(args.private) as stack:
        result = measure(stack, args.reps)
    if args.json:
        print(json.dumps(result, indent=2))
    table = rows(result)
    print(render(table))
    return exit_code(table)


if __name__ == "__main__":
    sys.exit(main())
