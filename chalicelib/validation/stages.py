"""The brakes of a fleet request: canary ``stages`` and ``halt_on_alarms``.

Role: loaders for the two fields, used by :func:`chalicelib.validation.fleet.
validate_fleet_request`. ``stages`` is a list of cumulative sizes, each a whole number of
targets or a percentage of the targets that run (``[1, "5%", "25%", "100%"]``),
increasing, the last ``"100%"``: a fleet never ends with targets it planned and did not
reach. ``halt_on_alarms`` names CloudWatch alarms: the fleet halts before a stage when
any of them is in ALARM (``chalicelib.fleet.stages``).
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.validation.limits import (
    MAX_ALARM_NAME_LENGTH,
    MAX_HALT_ALARMS,
    MAX_STAGES,
    MAX_TARGETS,
)
from chalicelib.validation.problems import Problems

#: One stage as a percentage ("25%", "12.5%").
STAGE_PERCENT = re.compile(r"^(\d{1,3}(?:\.\d{1,2})?)%$")
#: Control characters have no place in an alarm name (and would garble every message).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
ALL = "100%"


def load_stages(value: Any, problems: Problems) -> list[Any]:
    """The fleet's stages (``["100%"]`` when absent), or ``["100%"]`` with problems added."""
    if value is None:
        return [ALL]
    shape = f"a list of 1 to {MAX_STAGES} increasing sizes, each a number of targets or a " \
        'percentage, the last "100%" (e.g. [1, "25%", "100%"])'  # fmt: skip
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_STAGES:
        problems.add("stages", f"must be {shape}")
        return [ALL]
    counts: list[int] = []
    percents: list[float] = []
    for index, stage in enumerate(value):
        where = f"stages[{index}]"
        if isinstance(stage, int) and not isinstance(stage, bool):
            if not 1 <= stage <= MAX_TARGETS:
                problems.add(where, f"a number of targets must be 1 to {MAX_TARGETS}")
            elif (counts and stage <= counts[-1]) or percents:
                problems.add(where, "must be bigger than the stage before it (numbers first, "
                                    "then percentages)")  # fmt: skip
            counts.append(stage)
        elif isinstance(stage, str) and (match := STAGE_PERCENT.match(stage)):
            share = float(match.group(1))
            if not 0 < share <= 100:
                problems.add(where, "a percentage must be more than 0% and at most 100%")
            elif percents and share <= percents[-1]:
                problems.add(where, "must be bigger than the stage before it")
            percents.append(share)
        else:
            problems.add(where, f'must be a number of targets or a percentage like "25%": {shape}')
    if value[-1] != ALL:
        problems.add(f"stages[{len(value) - 1}]", 'the last stage must be "100%"')
    return list(value)


def load_alarm_names(value: Any, problems: Problems) -> list[str]:
    """The alarm names to halt on ([] when absent)."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_HALT_ALARMS:
        problems.add("halt_on_alarms", f"must be a list of at most {MAX_HALT_ALARMS} "
                                       "CloudWatch alarm names")  # fmt: skip
        return []
    names = []
    for index, name in enumerate(value):
        if (
            not isinstance(name, str)
            or not 1 <= len(name) <= MAX_ALARM_NAME_LENGTH
            or _CONTROL.search(name)
        ):
            problems.add(
                f"halt_on_alarms[{index}]",
                "must be a CloudWatch alarm name "
                f"(1 to {MAX_ALARM_NAME_LENGTH} characters, no control characters)",
            )
            continue
        names.append(name)
    if len(set(names)) != len(names):
        problems.add("halt_on_alarms", "names an alarm twice")
    return names


def stage_ends(stages: list[Any], runnable: int) -> list[int]:
    """Where each stage ends, counted in runnable targets (cumulative), stages that would
    add nothing left out: ``[1, "25%", "100%"]`` of 40 targets is ``[1, 10, 40]``."""
    ends: list[int] = []
    for stage in stages:
        if isinstance(stage, int):
            end = min(stage, runnable)
        else:
            share = float(str(stage).rstrip("%"))
            # Rounded up: "5%" of 10 targets is one target, never none.
            end = min(runnable, -(-int(share * 100) * runnable // 10_000))
        if end > (ends[-1] if ends else 0):
            ends.append(end)
    return ends
