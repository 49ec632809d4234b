"""The benchmark table's pure logic: goal evaluation, rendering, ``goals met``, exit code.

No timings here: benchmarks are not tests (``make bench`` measures).
"""

from __future__ import annotations

import math

import pytest

from bench.table import (
    FAIL,
    HEADERS,
    PASS,
    REPORT,
    Row,
    check_row,
    equal_row,
    error_row,
    exit_code,
    goals,
    goals_line,
    guarded,
    info_row,
    limit_row,
    ratio,
    ratio_row,
    render,
)


def test_ratio_row_passes_at_and_below_the_limit() -> None:
    assert ratio_row("t", 1.5, 10.0, 0.15).passed is True  # exactly 0.15 x
    assert ratio_row("t", 0.5, 10.0, 0.15).passed is True
    assert ratio_row("t", 1.6, 10.0, 0.15).passed is False


def test_ratio_row_texts_show_figures_ratio_and_goal() -> None:
    row = ratio_row("cold start", 0.5, 5.0, 0.15, unit="s")
    assert row.ours == "0.50 s (0.10×)"
    assert row.baseline == "5.00 s"
    assert row.goal == "≤ 0.15 × plain"
    assert row.verdict == PASS


def test_ratio_with_zero_baseline() -> None:
    assert ratio(0, 0) == 0.0
    assert math.isinf(ratio(1, 0))
    assert ratio_row("t", 1, 0, 0.5).passed is False


def test_limit_row_upper_and_lower_bounds() -> None:
    assert limit_row("calls", 45, 45).passed is True
    assert limit_row("calls", 46, 45).passed is False
    assert limit_row("calls", 46, 45).goal == "≤ 45"
    assert limit_row("x", 3, 5, at_least=True).passed is False
    assert limit_row("x", 5, 5, at_least=True).goal == "≥ 5"


def test_equal_row() -> None:
    assert equal_row("calls", 2, 2).passed is True
    assert equal_row("calls", 3, 2).passed is False
    assert equal_row("calls", 2, 2).goal == "= 2"
    assert equal_row("calls", 2, 2, ours_text="2 (a, b)").ours == "2 (a, b)"


def test_check_info_and_error_rows() -> None:
    assert check_row("v", True, "yes").verdict == PASS
    assert check_row("v", False, "no").verdict == FAIL
    info = info_row("size", "27 MB")
    assert info.passed is None and info.verdict == REPORT
    error = error_row("e2e", RuntimeError("stack down"))
    assert error.passed is False
    assert "RuntimeError: stack down" in error.ours
    assert error.metric == "e2e: could not run"


def test_error_row_shortens_long_reasons() -> None:
    assert error_row("x", "a" * 1000).ours == "a" * 157 + "..."
    assert error_row("x", "a" * 160).ours == "a" * 160  # a reason that fits stays whole


def test_goals_count_only_rows_with_a_goal() -> None:
    rows = [
        Row("a", "", "", "", True),
        Row("b", "", "", "", False),
        Row("c", "", "", "", None),
        Row("d", "", "", "", True),
    ]
    assert goals(rows) == (2, 3)
    assert goals_line(rows) == "goals met: 2/3"


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        ([True, True, None], 0),
        ([True, False], 1),
        ([None], 1),  # nothing judged: not a success
        ([], 1),
    ],
)
def test_exit_code(verdicts: list[bool | None], code: int) -> None:
    assert exit_code([Row(str(i), "", "", "", v) for i, v in enumerate(verdicts)]) == code


def test_render_has_headers_rows_and_goals_line_last() -> None:
    rows = [ratio_row("cold | start", 1.0, 10.0, 0.15, unit="s"), info_row("size", "27 MB")]
    text = render(rows, title="title")
    lines = text.splitlines()
    assert lines[0] == "title"
    assert all(h in lines[2] for h in HEADERS)
    assert lines[-1] == "goals met: 1/1"
    assert "cold \\| start" in text  # a pipe in a cell does not break the table
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 4  # header, rule, two rows
    assert len({len(line) for line in table}) == 1  # aligned columns


def test_guarded_turns_an_exception_into_a_failed_row() -> None:
    def boom() -> list[Row]:
        raise ValueError("no deployment")

    [row] = guarded("polling", boom)
    assert row.passed is False
    assert "no deployment" in row.ours
    ok = [info_row("x", "1")]
    assert guarded("x", lambda: ok) == ok
