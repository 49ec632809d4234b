"""Unit tests of the polling schedule (chalicelib.polling): pure functions, no clock."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.polling import (
    DEFAULT_SCHEDULE,
    PollSchedule,
    next_wait_seconds,
    simulate,
)

TASK_MINUTES = (1, 5, 15, 30, 120)
SEED = PollSchedule(min_wait=10, max_wait=10, growth=0)  # the seed's fixed 10 s poll


def waits(schedule: PollSchedule, task_seconds: float) -> list[int]:
    """The waits the watcher takes for a task of ``task_seconds``."""
    result, now, polls = [], 0.0, 0
    while now < task_seconds:
        wait = next_wait_seconds(polls, now, schedule)
        result.append(wait)
        now += wait
        polls += 1
    return result


def test_defaults():
    assert PollSchedule(min_wait=10, max_wait=60, growth=0.2) == DEFAULT_SCHEDULE


def test_schedule_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_SCHEDULE.min_wait = 1  # type: ignore[misc]


def test_first_wait_is_the_minimum():
    assert next_wait_seconds(0, 0, DEFAULT_SCHEDULE) == 10
    assert next_wait_seconds(0, 0, PollSchedule(min_wait=3, max_wait=9, growth=0.5)) == 3


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (0, 10),
        (49.9, 10),
        (50, 10),
        (60, 12),
        (72, 14),
        (103, 20),
        (299, 59),
        (300, 60),
        (10_000, 60),
    ],
)
def test_wait_is_growth_times_elapsed_clamped_and_rounded_down(elapsed, expected):
    assert next_wait_seconds(0, elapsed, DEFAULT_SCHEDULE) == expected


@pytest.mark.parametrize(
    "schedule", [DEFAULT_SCHEDULE, PollSchedule(1, 3, 0.1), PollSchedule(2.5, 7.5, 1)]
)
def test_waits_are_monotonic_and_capped(schedule):
    sequence = waits(schedule, 4 * 3600)
    assert sequence == sorted(sequence)
    assert max(sequence) <= schedule.max_wait
    assert min(sequence) >= 1
    assert all(isinstance(wait, int) for wait in sequence)


def test_wait_never_exceeds_a_fractional_cap():
    schedule = PollSchedule(min_wait=1.5, max_wait=2.5, growth=10)
    assert next_wait_seconds(5, 100, schedule) == 2


def test_polls_bound_the_elapsed_time_when_it_is_unknown():
    # started_at unknown (elapsed 0) after 30 polls of at least 10 s: at least 300 s passed.
    assert next_wait_seconds(30, 0, DEFAULT_SCHEDULE) == 60
    # Consistent inputs: the real elapsed time wins.
    assert next_wait_seconds(6, 60, DEFAULT_SCHEDULE) == 12


@pytest.mark.parametrize(
    ("polls", "elapsed"),
    [(-1, 0), (True, 0), (1.0, 0), (0, float("nan")), (0, float("inf")), (0, "10"), (0, None)],
)
def test_bad_arguments(polls, elapsed):
    with pytest.raises(ValueError):
        next_wait_seconds(polls, elapsed, DEFAULT_SCHEDULE)


def test_negative_elapsed_counts_as_zero():
    assert next_wait_seconds(0, -5, DEFAULT_SCHEDULE) == 10


def test_thirty_minute_task_needs_at_most_45_polls():
    polls, _ = simulate(30 * 60, DEFAULT_SCHEDULE)
    assert polls <= 45
    assert simulate(30 * 60, SEED)[0] == 181  # t=0 plus 180 waits: the seed's cost


@pytest.mark.parametrize("minutes", TASK_MINUTES)
def test_detection_latency_is_bounded(minutes):
    task = minutes * 60
    _, latency = simulate(task, DEFAULT_SCHEDULE)
    assert latency <= 0.2 * task
    assert latency <= 60


def test_detection_latency_bound_holds_between_the_sample_lengths():
    for task in range(50, 4 * 3600, 7):
        _, latency = simulate(task + 0.5, DEFAULT_SCHEDULE)
        assert latency <= min(0.2 * (task + 0.5), 60)


def test_one_minute_task_is_no_worse_than_the_seed():
    ours = simulate(60, DEFAULT_SCHEDULE)
    seed = simulate(60, SEED)
    assert ours[0] <= seed[0]
    assert ours[1] <= seed[1]


@pytest.mark.parametrize("minutes", TASK_MINUTES)
def test_never_more_polls_than_the_seed(minutes):
    assert simulate(minutes * 60, DEFAULT_SCHEDULE)[0] <= simulate(minutes * 60, SEED)[0]


def test_simulate_counts_the_first_poll_and_stops_at_the_end():
    assert simulate(0, DEFAULT_SCHEDULE) == (1, 0.0)
    assert simulate(10, DEFAULT_SCHEDULE) == (2, 0.0)
    assert simulate(10.5, DEFAULT_SCHEDULE) == (3, 9.5)


def test_simulate_rejects_bad_lengths():
    for task in (-1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="task_seconds"):
            simulate(task, DEFAULT_SCHEDULE)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"min_wait": 0}, "min_wait must be at least 1 second"),
        ({"min_wait": 0.5}, "min_wait must be at least 1 second"),
        ({"min_wait": 30, "max_wait": 20}, "max_wait (20) must be at least min_wait (30)"),
        ({"growth": -0.1}, "growth must be 0 or more"),
        ({"growth": float("nan")}, "growth must be finite"),
        ({"max_wait": float("inf")}, "max_wait must be finite"),
        ({"min_wait": "10"}, "min_wait must be a number"),
        ({"min_wait": True}, "min_wait must be a number"),
    ],
)
def test_invalid_schedule(kwargs, text):
    with pytest.raises(ValueError, match=text.replace("(", r"\(").replace(")", r"\)")):
        PollSchedule(**kwargs)


def test_from_env_defaults():
    assert PollSchedule.from_env({}) == DEFAULT_SCHEDULE
    empty = {"POLL_MIN_WAIT_SECONDS": "", "POLL_MAX_WAIT_SECONDS": " ", "POLL_GROWTH": ""}
    assert PollSchedule.from_env(empty) == DEFAULT_SCHEDULE


def test_from_env_reads_the_three_variables():
    env = {"POLL_MIN_WAIT_SECONDS": "1", "POLL_MAX_WAIT_SECONDS": "3.5", "POLL_GROWTH": "0.05"}
    assert PollSchedule.from_env(env) == PollSchedule(min_wait=1, max_wait=3.5, growth=0.05)


def test_from_env_uses_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("POLL_MIN_WAIT_SECONDS", "2")
    monkeypatch.setenv("POLL_MAX_WAIT_SECONDS", "4")
    monkeypatch.delenv("POLL_GROWTH", raising=False)
    assert PollSchedule.from_env() == PollSchedule(min_wait=2, max_wait=4, growth=0.2)


@pytest.mark.parametrize(
    ("env", "text"),
    [
        (
            {"POLL_MIN_WAIT_SECONDS": "ten"},
            "POLL_MIN_WAIT_SECONDS must be a number of seconds, got 'ten'",
        ),
        ({"POLL_GROWTH": "nan"}, "POLL_GROWTH must be a finite number, got 'nan'"),
        ({"POLL_MAX_WAIT_SECONDS": "inf"}, "POLL_MAX_WAIT_SECONDS must be a finite number"),
        ({"POLL_MAX_WAIT_SECONDS": "5"}, "POLL_MAX_WAIT_SECONDS=5, POLL_GROWTH=0.2): "),
        ({"POLL_MIN_WAIT_SECONDS": "0"}, "min_wait must be at least 1 second"),
        ({"POLL_GROWTH": "-1"}, "growth must be 0 or more"),
    ],
)
def test_from_env_bad_values(env, text):
    with pytest.raises(ValueError) as caught:
        PollSchedule.from_env(env)
    assert text in str(caught.value)
