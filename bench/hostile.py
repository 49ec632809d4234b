"""Row 10 — the hostile baselines corpus: the worst time and memory of a refusal.

Every file of ``tests/unit/hostile_baselines/`` (alias bombs, recursion, deep nesting, a
10 MB file, binary, non-UTF-8, byte-order marks, duplicate keys at every level, tabs,
anchors across baselines, Python and custom tags, a megabyte of keys) goes through the
path the CLI and the Lambdas share and is refused with ``InvalidBaselines``; the slowest
refusal (timed alone) and the largest allocation peak (``tracemalloc``) are reported
against the issue's limits. Run alone: ``python -m bench.hostile``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def measure() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.unit.hostile_baselines import corpus, refuse

    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as folder:
        results = {path.name: refuse(path) for path in corpus(Path(folder))}
    return {name: {"seconds": s, "bytes": b} for name, (s, b) in results.items()}


def rows(result: dict[str, Any]) -> list[Any]:
    from bench.table import limit_row
    from tests.unit.hostile_baselines import BYTES, SECONDS

    slowest = max(result, key=lambda name: result[name]["seconds"])
    largest = max(result, key=lambda name: result[name]["bytes"])
    count = f"{len(result)} hostile files, all refused"
    return [
        limit_row(
            "hostile baselines files: slowest refusal",
            result[slowest]["seconds"],
            SECONDS,
            "s",
            count,
            digits=2,
            ours_text=f"{result[slowest]['seconds']:.2f} s ({slowest})",
        ),
        limit_row(
            "hostile baselines files: largest allocation peak",
            result[largest]["bytes"] / 2**20,
            BYTES / 2**20,
            "MiB",
            count,
            digits=1,
            ours_text=f"{result[largest]['bytes'] / 2**20:.1f} MiB ({largest})",
        ),
    ]


def main() -> int:
    from bench.table import exit_code, render

    found = rows(measure())
    print(render(found))
    return exit_code(found)


if __name__ == "__main__":
    sys.exit(main())
