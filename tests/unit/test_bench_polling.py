"""The polling bench's walk of the real task watcher, without a stack.

The walk runs the deployed ``task_watcher.asl.json`` (rendered as deploy.sh renders it)
with the get_task_status Lambda's own code on a virtual clock; a change to either must
keep the bench's row 3 computable.
"""

from __future__ import annotations

import pytest

from bench import polling
from chalicelib.polling import simulate


@pytest.mark.parametrize("minutes", [1, 5, 30])
def test_the_watcher_walk_polls_as_often_and_when_the_schedule_says(minutes: int) -> None:
    ours, _ = polling.schedules()
    seconds = minutes * 60
    walked = polling.watcher_walk(seconds, ours)
    polls, _ = simulate(seconds, ours)
    assert len(walked.task_calls) == polls
    assert walked.poll_times == polling.poll_times(seconds, ours)
    assert walked.entered[-1] == "Task Succeeded"


def test_the_walk_counts_three_transitions_per_poll_after_three_to_start() -> None:
    _, seed = polling.schedules()
    walked = polling.watcher_walk(60, seed)
    assert walked.transitions == 3 + 3 * len(walked.task_calls)
