"""Baselines: which workloads every account must have, planned against Stax and applied.

Role: the package behind ``stax-orchestrator plan|apply`` (and, later, the per-account
baseline of a new account). Its modules:

* ``source`` -- the YAML file read with the line of every path;
* ``model`` -- the file's model and validation (:func:`load_baselines`), the baseline
  tag (:data:`BASELINE_TAG`), target requests;
* ``stax_state`` -- what a plan reads from Stax, its records and fingerprint;
* ``planner`` -- the diff (:func:`compute_plan`);
* ``saved`` -- saved plans, their freshness check, the apply fleets;
* ``errors`` -- :class:`InvalidBaselines`, :class:`SavedPlanStale`,
  :class:`BaselineConflict`.
"""

from __future__ import annotations

from chalicelib.baselines.errors import BaselineConflict, InvalidBaselines, SavedPlanStale
from chalicelib.baselines.model import BASELINE_TAG, Baseline, Baselines, load_baselines
from chalicelib.baselines.planner import ACTIONS, CHANGE_ACTIONS, compute_plan, has_changes
from chalicelib.baselines.saved import check_fresh, dumps, fleets, is_saved_plan, load_saved

__all__ = [
    "ACTIONS",
    "BASELINE_TAG",
    "CHANGE_ACTIONS",
    "Baseline",
    "BaselineConflict",
    "Baselines",
    "InvalidBaselines",
    "SavedPlanStale",
    "check_fresh",
    "compute_plan",
    "dumps",
    "fleets",
    "has_changes",
    "is_saved_plan",
    "load_baselines",
    "load_saved",
]
