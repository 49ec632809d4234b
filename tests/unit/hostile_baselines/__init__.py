"""The hostile baselines corpus: the files here, and the large ones made on demand.

Shared by ``tests/unit/test_baselines_hostile_corpus.py`` (each must be refused fast and
small) and ``bench/hostile.py`` (the worst time and memory in the bench table).
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from chalicelib.baselines import InvalidBaselines, load_baselines
from chalicelib.baselines.source import read_file

CORPUS = Path(__file__).parent
SECONDS, BYTES = 1.0, 50 * 1024 * 1024

#: The members too big to keep in the repository, made on demand.
GENERATED: dict[str, Callable[[], bytes]] = {
    "ten_megabytes.yaml": lambda: b"baselines:\n" + b"#" * (10 * 1024 * 1024) + b"\n",
    "nested_brackets.yaml": lambda: b"baselines: " + b"[" * 50_000 + b"]" * 50_000 + b"\n",
    "nested_braces.yaml": lambda: b"baselines: " + b"{a: " * 20_000 + b"1" + b"}" * 20_000,
    "nested_blocks.yaml": lambda: (
        b"baselines:\n" + b"".join(b"  " * (i + 1) + b"k:\n" for i in range(300))
    ),
    "binary_noise.yaml": lambda: os.urandom(64 * 1024),
    "a_megabyte_of_keys.yaml": lambda: (
        b"baselines:\n  one:\n    parameters:\n"
        + b"".join(b"      P%d: v\n" % i for i in range(60_000))
    ),
}


def files() -> list[Path]:
    """The corpus files kept in the repository."""
    return sorted(p for p in CORPUS.iterdir() if p.suffix == ".yaml")


def corpus(tmp_path: Path) -> list[Path]:
    made = []
    for name, make in GENERATED.items():
        path = tmp_path / name
        path.write_bytes(make())
        made.append(path)
    return files() + made


def _refused(path: Path) -> None:
    try:
        load_baselines(read_file(str(path)), path.name)
    except InvalidBaselines:
        return
    raise AssertionError(f"{path.name} was not refused with InvalidBaselines")


def refuse(path: Path) -> tuple[float, int]:
    """Seconds and peak bytes of refusing ``path`` as the CLI and the Lambdas do (timed
    without tracemalloc, which slows Python down; measured with it)."""
    started = time.perf_counter()
    _refused(path)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        _refused(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return seconds, peak
