"""The deletion budget of an apply: no baseline deletes more than it allows.

Role: the brake on deletions. A plan's deletes (pruned orphans) and replacements (a failed
create deleted and created again) of one baseline are counted against its ``max_deletes``
(a count, or a share of its targets; default ``10%``), or against ``--max-deletes`` when
the command names one. Over budget, the apply refuses before anything starts and says by
how much (:class:`~chalicelib.baselines.errors.DeletionBudgetExceeded`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from chalicelib.baselines.errors import DeletionBudgetExceeded
from chalicelib.fleet.planning import tolerated_failures
from chalicelib.validation import TOLERANCE_PATTERN

#: The actions that delete a workload.
DELETING = ("delete", "replace")
_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def parse_budget(value: str) -> int | str:
    """``--max-deletes``: a whole number, or a percentage like ``5%``.

    Raises:
        ValueError: neither.
    """
    text = value.strip()
    if text.isdigit():
        return int(text)
    found = _BUDGET.match(text)
    if found and Fraction(found.group(1)) <= 100:
        return f"{found.group(1)}%"  # the shape a baselines file's max_deletes takes
    raise ValueError(f"--max-deletes takes a count or a percentage like 10%, not {value!r}")


def allowed(budget: int | str, targets: int) -> int:
    """Deletes ``budget`` allows for a baseline of ``targets`` targets: the arithmetic of a
    fleet's tolerated failures (a share rounds down: 10% of 9 targets is 0). A value that is
    neither (a hand-edited saved plan) allows none."""
    if isinstance(budget, int) or TOLERANCE_PATTERN.match(str(budget)):
        return tolerated_failures(budget, targets)
    return 0


def over_budget(plan: Mapping[str, Any], override: int | str | None = None) -> list[dict[str, Any]]:
    """Each baseline whose deletes exceed its budget: ``{"baseline", "deletes", "allowed",
    "budget", "targets", "over"}``."""
    over = []
    for name, settings in (plan.get("baselines") or {}).items():
        deletes = sum(
            1 for c in plan["changes"] if c["baseline"] == name and c["action"] in DELETING
        )
        budget = override if override is not None else settings.get("max_deletes", "10%")
        targets = int(settings.get("targets") or 0)
        limit = allowed(budget, targets)
        if deletes > limit:
            over.append({
                "baseline": name, "deletes": deletes, "allowed": limit, "budget": budget,
                "targets": targets, "over": deletes - limit,
            })  # fmt: skip
    return over


def describe(row: Mapping[str, Any]) -> str:
    budget = row["budget"]
    base = f"{budget} of {row['targets']} targets" if isinstance(budget, str) else "max_deletes"
    return (
        f"baseline {row['baseline']!r}: {row['deletes']} delete(s), {row['allowed']} allowed "
        f"({base}): {row['over']} over"
    )


def check_budget(plan: Mapping[str, Any], override: int | str | None = None) -> None:
    """Raises DeletionBudgetExceeded: a baseline's deletes exceed its budget."""
    over = over_budget(plan, override)
    if over:
        raise DeletionBudgetExceeded(
            "The deletes exceed the deletion budget; nothing was started: "
            + "; ".join(describe(row) for row in over),
            baselines=over,
        )
