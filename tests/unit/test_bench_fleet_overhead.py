"""The fleet bench's split of each target's overhead (bench/fleet_overhead.py): pure logic.

A target's time outside its Stax task goes to the kind of work running then; what nothing
covers is Step Functions' own (starts, transitions). The parts add up to the overhead.
"""

from __future__ import annotations

import pytest

from bench.fleet_overhead import REST, attribute, fleet_phases, intervals


def _event(kind: str, at: float, **details: object) -> dict[str, object]:
    return {"type": kind, "timestamp": at, **details}


def _lambda(at: float, until: float) -> list[dict[str, object]]:
    scheduled = {"resourceType": "lambda", "resource": "invoke"}
    return [_event("TaskScheduled", at, taskScheduledEventDetails=scheduled),
            _event("TaskSucceeded", until)]  # fmt: skip


def test_a_history_gives_its_lambda_dynamodb_and_wait_spans() -> None:
    events = [
        _event("ExecutionStarted", 0.0),
        _event("TaskScheduled", 0.2, taskScheduledEventDetails={"resourceType": "dynamodb"}),
        _event("TaskSucceeded", 0.3),
        _event("TaskScheduled", 0.4, taskScheduledEventDetails={"resourceType": "states"}),
        _event("TaskSucceeded", 5.0),
        *_lambda(5.1, 5.6),
        _event("WaitStateEntered", 6.0),
        _event("WaitStateExited", 7.0),
    ]
    assert intervals(events) == [
        (0.2, 0.3, "coordination store"),
        (5.1, 5.6, "Lambda"),
        (6.0, 7.0, "polling wait"),
    ]


def test_only_the_time_outside_the_task_counts_and_the_parts_add_up() -> None:
    spans = [(0.0, 0.5, "Lambda"), (1.5, 3.2, "polling wait"), (3.2, 3.6, "Lambda")]
    split = attribute((0.0, 4.0), (1.0, 3.0), spans)
    assert split["Lambda"] == pytest.approx(0.5 + 0.4)
    assert split["polling wait"] == pytest.approx(0.2)  # 3.0 to 3.2: after the task ended
    assert split[REST] == pytest.approx(0.5 + 0.4)  # 0.5 to 1.0, 3.6 to 4.0
    assert sum(split.values()) == pytest.approx((4.0 - 0.0) - (3.0 - 1.0))


def test_a_wait_wholly_inside_the_task_is_the_tasks_time() -> None:
    split = attribute((0.0, 10.0), (2.0, 8.0), [(3.0, 7.0, "polling wait")])
    assert split["polling wait"] == 0.0
    assert split[REST] == pytest.approx(4.0)


def test_spans_beyond_the_targets_window_are_clipped() -> None:
    split = attribute((1.0, 2.0), (5.0, 6.0), [(0.0, 3.0, "Lambda")])
    assert split == {"polling wait": 0.0, "Lambda": 1.0, "coordination store": 0.0, REST: 0.0}


def test_fleet_phases_split_the_execution_at_its_map_runs() -> None:
    events = [
        _event("ExecutionStarted", 0.0),
        _event("MapStateEntered", 3.0),
        _event("MapStateExited", 40.0),
        _event("MapStateEntered", 41.0),
        _event("MapStateExited", 45.0),
        _event("ExecutionSucceeded", 47.0),
    ]
    assert fleet_phases(events) == {"before": 3.0, "maps": 41.0, "between and after": 3.0}


def test_a_task_state_with_a_bare_function_arn_counts_as_lambda() -> None:
    events = [_event("LambdaFunctionScheduled", 1.0), _event("LambdaFunctionSucceeded", 1.4)]
    assert intervals(events) == [(1.0, 1.4, "Lambda")]
