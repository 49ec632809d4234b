"""``fleet list``: each fleet with its counters, from its Map Run, or from its summary when
it ran no target."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from stax_orchestrator.fleet_list import fleet_rows

START = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:stax-orchestrator-dev-fleet"


class Sfn:
    """Two fleets: one that ran a Map (3 succeeded, 1 failed, 1 timed out), one with
    nothing to run (its summary says so)."""

    executions = {
        f"{MACHINE.replace(':stateMachine:', ':execution:')}:{name}": (name, request, output)
        for name, request, output in (
            ("rollout-1", {"operation": "rollout"}, None),
            ("noop-2", {"operation": "create"},
             {"summary": {"total": 2, "succeeded": 0, "failed": 0, "aborted": 0}}),
        )
    }  # fmt: skip

    def get_paginator(self, _: str) -> Any:
        executions = [{"executionArn": arn, "name": v[0]} for arn, v in self.executions.items()]

        class Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"executions": executions}]

        return Pages()

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        _, request, output = self.executions[executionArn]
        return {"status": "SUCCEEDED", "input": json.dumps(request), "startDate": START,
                "stopDate": START.replace(minute=1), "output": json.dumps(output)}  # fmt: skip

    def list_map_runs(self, executionArn: str) -> dict[str, Any]:
        return {"mapRuns": [{"mapRunArn": "run"}] if executionArn.endswith("rollout-1") else []}

    def describe_map_run(self, mapRunArn: str) -> dict[str, Any]:
        return {"itemCounts": {"total": 5, "succeeded": 3, "failed": 1, "timedOut": 1,
                               "aborted": 0, "running": 0, "pending": 0}}  # fmt: skip


def test_each_fleet_is_listed_with_its_counters_newest_first() -> None:
    rollout, noop = fleet_rows(Sfn(), MACHINE, limit=20, status=None)
    assert (rollout["fleet"], rollout["operation"], rollout["duration_seconds"]) == (
        "rollout-1", "rollout", 60.0)  # fmt: skip
    assert (rollout["total"], rollout["succeeded"], rollout["failed"]) == (5, 3, 2)
    assert (noop["fleet"], noop["total"], noop["succeeded"]) == ("noop-2", 2, 0)
    assert noop["running"] is None  # the summary does not say: not guessed
