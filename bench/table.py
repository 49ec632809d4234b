"""The benchmark table: rows, goal evaluation, rendering, the ``goals met`` line.

Pure logic (no I/O, no clock): unit-tested in ``tests/unit/test_bench_table.py``.

A :class:`Row` holds already formatted figures and ``passed``: ``True``/``False``
for a row with a goal, ``None`` for a row that only reports. The helpers build rows
from numbers so that the comparison and its text always agree:

- :func:`ratio_row`   ours ≤ k × baseline      (cold-start time and memory)
- :func:`limit_row`   value ≤ limit (or ≥)      (calls, latency, overhead)
- :func:`equal_row`   value = expected          (calls per operation)
- :func:`check_row`   a yes/no fact             (validation still in force)
- :func:`info_row`    a figure without goal     (package size)
- :func:`error_row`   a benchmark that could not run counts as a missed goal
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

HEADERS = ("metric", "ours", "plain way / seed", "goal", "pass/fail")
PASS, FAIL, REPORT = "pass", "FAIL", "report"


@dataclass(frozen=True)
class Row:
    """One line of the table. ``passed`` is None for a row without a goal."""

    metric: str
    ours: str
    baseline: str
    goal: str
    passed: bool | None

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return REPORT
        return PASS if self.passed else FAIL


def _num(value: float, unit: str = "", digits: int = 2) -> str:
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and digits == 0):
        text = f"{int(value)}"
    else:
        text = f"{value:.{digits}f}"
    return f"{text} {unit}".rstrip() if unit else text


def ratio(ours: float, baseline: float) -> float:
    """ours / baseline (inf when the baseline is 0 and ours is not)."""
    if baseline == 0:
        return 0.0 if ours == 0 else math.inf
    return ours / baseline


def ratio_row(
    metric: str,
    ours: float,
    baseline: float,
    max_ratio: float,
    unit: str = "",
    digits: int = 2,
    baseline_name: str = "plain",
) -> Row:
    """Passes when ``ours <= max_ratio * baseline``."""
    r = ratio(ours, baseline)
    return Row(
        metric,
        f"{_num(ours, unit, digits)} ({r:.2f}×)",
        _num(baseline, unit, digits),
        f"≤ {max_ratio:g} × {baseline_name}",
        r <= max_ratio,
    )


def limit_row(
    metric: str,
    value: float,
    limit: float,
    unit: str = "",
    baseline: str = "",
    digits: int = 0,
    at_least: bool = False,
    ours_text: str | None = None,
) -> Row:
    """Passes when ``value <= limit`` (``value >= limit`` with ``at_least``)."""
    passed = value >= limit if at_least else value <= limit
    sign = "≥" if at_least else "≤"
    return Row(
        metric,
        ours_text if ours_text is not None else _num(value, unit, digits),
        baseline,
        f"{sign} {_num(limit, unit, digits)}",
        passed,
    )


def equal_row(
    metric: str,
    value: object,
    expected: object,
    baseline: str = "",
    ours_text: str | None = None,
) -> Row:
    """Passes when ``value == expected``."""
    return Row(
        metric,
        ours_text if ours_text is not None else str(value),
        baseline,
        f"= {expected}",
        value == expected,
    )


def check_row(metric: str, ok: bool, ours: str, baseline: str = "", goal: str = "yes") -> Row:
    """A yes/no fact with a goal."""
    return Row(metric, ours, baseline, goal, bool(ok))


def info_row(metric: str, ours: str, baseline: str = "", note: str = "report") -> Row:
    """A figure without goal (not counted in ``goals met``)."""
    return Row(metric, ours, baseline, note, None)


def error_row(section: str, error: BaseException | str) -> Row:
    """A benchmark section that failed to run: a missed goal, with the reason."""
    reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    reason = " ".join(str(reason).split())
    if len(reason) > 160:
        reason = reason[:157] + "..."
    return Row(f"{section}: could not run", reason, "", "runs", False)


def goals(rows: Iterable[Row]) -> tuple[int, int]:
    """(met, total) over the rows that have a goal."""
    judged = [row for row in rows if row.passed is not None]
    return sum(1 for row in judged if row.passed), len(judged)


def goals_line(rows: Iterable[Row]) -> str:
    met, total = goals(rows)
    return f"goals met: {met}/{total}"


def exit_code(rows: Iterable[Row]) -> int:
    """0 when every goal is met (and there is at least one), else 1."""
    met, total = goals(rows)
    return 0 if total > 0 and met == total else 1


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def render(rows: Sequence[Row], title: str | None = None) -> str:
    """The Markdown table, then ``goals met: N/M`` as the last line."""
    raw: list[tuple[str, ...]] = [HEADERS]
    raw += [(row.metric, row.ours, row.baseline, row.goal, row.verdict) for row in rows]
    cells = [tuple(_escape(c) for c in line) for line in raw]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]

    def fmt(line: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"

    out = [] if title is None else [title, ""]
    out.append(fmt(cells[0]))
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out.extend(fmt(line) for line in cells[1:])
    out.append("")
    out.append(goals_line(rows))
    return "\n".join(out)


def guarded(section: str, build: Callable[[], list[Row]]) -> list[Row]:
    """Run one section's row builder; an exception becomes an :func:`error_row`."""
    try:
        return build()
    except Exception as error:
        return [error_row(section, error)]
