"""A baseline's brakes on its fleets: canary ``stages``, ``halt_on_alarms``, ``region_order``.

Role: loads the three keys of a baseline (the fleet request's own rules,
``chalicelib.validation.stages``, each problem on its line) and turns them into the
``stages`` of each apply fleet (:func:`fleet_stages`). ``region_order: true`` runs the
baseline's regions one after the other, in the file's order: each region is a stage, so
the fleet halts between regions as between canary stages (a region over its failure
tolerance, an alarm in ALARM) and the next region's targets are left untouched. It takes
the place of ``stages``; naming both is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.baselines.source import join
from chalicelib.validation.limits import MAX_STAGES
from chalicelib.validation.stages import ALL, load_alarm_names, load_stages

BRAKE_FIELDS = ("stages", "halt_on_alarms", "region_order")


class _OnLines:
    """The validation's ``Problems.add`` shape, onto a baselines file's lines."""

    def __init__(self, collector: Any, path: str) -> None:
        self._collector, self._path = collector, path

    def add(self, field: str, message: str) -> None:
        name, _, rest = field.partition("[")
        where = join(self._path, name)
        self._collector.add(f"{where}[{rest}" if rest else where, message)


def load_brakes(raw: Mapping[str, Any], path: str, problems: Any) -> dict[str, Any]:
    """``{"stages", "halt_on_alarms", "region_order"}`` of one baseline (``raw``)."""
    lines: Any = _OnLines(problems, path)
    stages = load_stages(raw.get("stages"), lines)
    alarms = load_alarm_names(raw.get("halt_on_alarms"), lines)
    region_order = raw.get("region_order", False)
    if not isinstance(region_order, bool):
        problems.add(join(path, "region_order"), "must be true or false")
        region_order = False
    if region_order and raw.get("stages") is not None:
        problems.add(join(path, "region_order"),
                     "runs each region as a stage: remove stages, or region_order")  # fmt: skip
    return {"stages": stages, "halt_on_alarms": alarms, "region_order": region_order}


def fleet_stages(settings: Mapping[str, Any], requests: list[dict[str, Any]]) -> tuple:
    """``(requests, stages)`` of one apply fleet: with ``region_order``, the requests in the
    baseline's region order and a stage ending at each region's last target."""
    if not settings.get("region_order"):
        return requests, list(settings.get("stages") or [ALL])
    order = {region: index for index, region in enumerate(settings.get("regions") or [])}
    ordered = sorted(requests, key=lambda r: order.get(_region(r), len(order)))
    ends = [
        index + 1
        for index, request in enumerate(ordered)
        if index + 1 == len(ordered) or _region(ordered[index + 1]) != _region(request)
    ]
    # More regions than a fleet has stages: the last stage takes the rest.
    stages: list[Any] = [*ends[:-1][: MAX_STAGES - 1], ALL]
    return ordered, stages


def _region(request: Mapping[str, Any]) -> str:
    return str(request.get("aws_region") or "")
