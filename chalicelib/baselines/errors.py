"""Named errors of baselines, in the style of ``chalicelib.errors``.

``InvalidBaselines`` carries every problem of a baselines file at once, each with its
path (``baselines.logging.targets.regions[1]``) and, where the YAML parser knows it, the
line; ``SavedPlanStale`` refuses a saved plan whose Stax state has changed since.
"""

from __future__ import annotations

from typing import Any

from chalicelib.errors import OrchestratorError


class InvalidBaselines(OrchestratorError):
    """A baselines file (or what it names in Stax) is invalid; nothing was planned.

    ``details["problems"]`` lists ``{"path", "line", "message"}``, line None when unknown.
    """

    hint = "Fix each listed line of the baselines file and run plan again."

    def __init__(self, message: str, **details: Any) -> None:
        problems = details.get("problems")
        if problems:  # in the order of the file; problems without a line last
            details["problems"] = sorted(
                problems, key=lambda p: (p.get("line") is None, p.get("line") or 0)
            )
        super().__init__(message, **details)

    @property
    def problems(self) -> list[dict[str, Any]]:
        return list(self.details.get("problems") or [])

    def text(self) -> str:
        """The refusal for a person: the summary, then one line per problem."""
        lines = [self.message]
        for problem in self.problems:
            where = f"line {problem['line']}: " if problem.get("line") else ""
            lines.append(f"  {where}{problem['path']}: {problem['message']}")
        return "\n".join(lines)


class SavedPlanStale(OrchestratorError):
    """Stax changed since a saved plan was computed; ``details["changes"]`` says what."""

    hint = "Run `stax-orchestrator plan` again and review the new plan before applying it."


class BaselineConflict(OrchestratorError):
    """A workload already holds a baseline's name without the baseline's tag."""

    hint = (
        "Tag the workload with the baseline's tag to adopt it, or change the baseline's "
        "workload_name."
    )


class DeletionBudgetExceeded(OrchestratorError):
    """An apply would delete (or replace) more workloads than a baseline's budget allows;
    ``details["baselines"]`` says by how much. Nothing was started."""

    hint = (
        "Review the deletes in `plan`; raise the baseline's max_deletes (or pass "
        "--max-deletes N|P%) only if they are meant."
    )
