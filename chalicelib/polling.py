"""How long the task watcher waits between two ReadTask polls (pure: no I/O, no clock).

The seed polled every 10 s whatever the task's length: 180 ReadTask calls (and Lambda
invocations) for a 30-minute task. Here the wait grows with the time the task has been
running -- ``wait = clamp(growth * elapsed, min_wait, max_wait)`` -- so short tasks are
seen as quickly as before while long ones are polled at most once per ``max_wait``. With
the defaults (10 s, 60 s, 0.2) a 30-minute task takes 41 polls and every task is seen at
most ``max(min_wait, growth * its length)`` and at most ``max_wait`` seconds after it ends.

The wait is rounded *down* to whole seconds (Step Functions Wait states take integers), so
it never exceeds ``growth * elapsed`` once past ``min_wait``: that is what bounds the
detection latency to ``growth`` of the task's length.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

#: Environment variables read by :meth:`PollSchedule.from_env`.
ENV_MIN_WAIT = "POLL_MIN_WAIT_SECONDS"
ENV_MAX_WAIT = "POLL_MAX_WAIT_SECONDS"
ENV_GROWTH = "POLL_GROWTH"


@dataclass(frozen=True)
class PollSchedule:
    """The polling schedule: waits between ``min_wait`` and ``max_wait`` seconds.

    Raises:
        ValueError: a value is not a finite number, ``min_wait`` < 1, ``max_wait`` <
            ``min_wait``, or ``growth`` < 0.
    """

    min_wait: float = 10
    max_wait: float = 60
    growth: float = 0.2

    def __post_init__(self) -> None:
        for name in ("min_wait", "max_wait", "growth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"PollSchedule.{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"PollSchedule.{name} must be finite, got {value!r}")
        if self.min_wait < 1:
            raise ValueError(
                f"PollSchedule.min_wait must be at least 1 second, got {self.min_wait!r}"
            )
        if self.max_wait < self.min_wait:
            raise ValueError(
                f"PollSchedule.max_wait ({self.max_wait!r}) must be at least "
                f"min_wait ({self.min_wait!r})"
            )
        if self.growth < 0:
            raise ValueError(f"PollSchedule.growth must be 0 or more, got {self.growth!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PollSchedule:
        """The schedule configured by ``POLL_MIN_WAIT_SECONDS``, ``POLL_MAX_WAIT_SECONDS``
        and ``POLL_GROWTH`` (each optional; unset or empty means the default).

        ``environ`` defaults to ``os.environ``.

        Raises:
            ValueError: a variable is not a number, or the values do not make a valid
                schedule; the message names the variable.
        """
        env = os.environ if environ is None else environ
        defaults = cls()
        values: dict[str, float] = {}
        for field, variable in (
            ("min_wait", ENV_MIN_WAIT),
            ("max_wait", ENV_MAX_WAIT),
            ("growth", ENV_GROWTH),
        ):
            raw = env.get(variable)
            if raw is None or raw.strip() == "":
                values[field] = getattr(defaults, field)
                continue
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{variable} must be a number of seconds, got {raw!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"{variable} must be a finite number, got {raw!r}")
            values[field] = value
        try:
            return cls(**values)
        except ValueError as error:
            raise ValueError(
                f"invalid polling settings ({ENV_MIN_WAIT}={values['min_wait']:g}, "
                f"{ENV_MAX_WAIT}={values['max_wait']:g}, {ENV_GROWTH}={values['growth']:g}): "
                f"{error}"
            ) from None


DEFAULT_SCHEDULE = PollSchedule()


def next_wait_seconds(polls: int, elapsed_seconds: float, schedule: PollSchedule) -> int:
    """Seconds to wait before the next poll.

    ``polls`` is the number of polls made *before* the current one (0 for the first) and
    ``elapsed_seconds`` the time since the task started. The wait is
    ``clamp(growth * elapsed, min_wait, max_wait)`` rounded down, at least 1 and never
    above ``max_wait``. Because every earlier poll was followed by a wait of at least
    ``floor(min_wait)``, ``polls * floor(min_wait)`` is a lower bound of the elapsed time;
    it is used when ``elapsed_seconds`` is smaller (unknown start time, clock skew), so the
    schedule still grows.

    Raises:
        ValueError: ``polls`` is not a whole number >= 0, or ``elapsed_seconds`` is not a
            finite number.
    """
    if isinstance(polls, bool) or not isinstance(polls, int) or polls < 0:
        raise ValueError(f"polls must be a whole number >= 0, got {polls!r}")
    if (
        isinstance(elapsed_seconds, bool)
        or not isinstance(elapsed_seconds, (int, float))
        or not math.isfinite(elapsed_seconds)
    ):
        raise ValueError(f"elapsed_seconds must be a finite number, got {elapsed_seconds!r}")
    step = max(1, math.floor(schedule.min_wait))
    elapsed = max(float(elapsed_seconds), float(polls * step), 0.0)
    raw = min(max(schedule.growth * elapsed, schedule.min_wait), schedule.max_wait)
    return max(1, min(math.floor(raw), math.floor(schedule.max_wait)))


def simulate(task_seconds: float, schedule: PollSchedule = DEFAULT_SCHEDULE) -> tuple[int, float]:
    """Run the schedule against a task that ends ``task_seconds`` after it started.

    The watcher polls at t=0 (when the task starts), then after each wait, until the
    first poll at or after the task's end. Returns ``(polls, detection_latency_seconds)``:
    the number of ReadTask calls and the time between the task ending and the poll that
    sees it.

    Raises:
        ValueError: ``task_seconds`` is negative or not finite.
    """
    if not math.isfinite(task_seconds) or task_seconds < 0:
        raise ValueError(f"task_seconds must be a finite number >= 0, got {task_seconds!r}")
    polls = 0
    now = 0.0
    while True:
        polls += 1
        if now >= task_seconds:
            return polls, now - task_seconds
        now += next_wait_seconds(polls - 1, now, schedule)
