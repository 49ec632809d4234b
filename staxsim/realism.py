"""How truthful (and how unhelpful) the simulator is: the "realism" settings.

The project's rule is *truth over kindness*: where the SDK's OpenAPI document allows
a less helpful answer, the simulator gives it by default (``strict``). The settings:

* ``strict`` (default true) - the response shapes the document allows and no more:
  no ``Tags`` in ReadWorkloads lists (no ``include_tags`` parameter there), ``Tags`` by
  id only with ``include_tags=true``, no property the document does not define, no
  optional top-level ``WorkloadId`` in write events, 404 for writes to a DELETED
  workload. ``strict: false`` ("lenient") restores the kinder answers of earlier
  versions;
* ``read_after_write_lag_seconds`` (strict 1.0, lenient 0) - a new workload is not
  found by ReadWorkloads, and a new task by ReadTask, until this long after the write
  that created it (the document does not rule that out);
* ``null_share`` (strict 0.25, lenient 0) - the share of successful API responses in
  which every field the document marks ``nullable`` is served as null;
* ``seed`` - seeds the RNG that picks those responses (None: not repeatable).

Changing ``strict`` without giving the other two resets them to that mode's defaults.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

#: ``(read_after_write_lag_seconds, null_share)`` per mode.
MODE_DEFAULTS = {True: (1.0, 0.25), False: (0.0, 0.0)}
MAX_LAG_SECONDS = 3600.0
REALISM_FIELDS = ("strict", "read_after_write_lag_seconds", "null_share", "seed")


class RealismError(ValueError):
    """A realism setting is malformed; the message names the field."""


@dataclass(frozen=True)
class Realism:
    """The realism settings (see the module docstring)."""

    strict: bool = True
    read_after_write_lag_seconds: float = MODE_DEFAULTS[True][0]
    null_share: float = MODE_DEFAULTS[True][1]
    seed: int | None = None

    @classmethod
    def for_mode(cls, strict: bool, seed: int | None = None) -> Realism:
        """The defaults of strict (True) or lenient (False) mode."""
        lag, share = MODE_DEFAULTS[strict]
        return cls(strict, lag, share, seed)

    def as_dict(self) -> dict[str, Any]:
        """JSON form used by the control API."""
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> Realism:
        """These settings with ``changes`` applied (validated; see the module docstring)."""
        unknown = sorted(set(changes) - set(REALISM_FIELDS))
        if unknown:
            raise RealismError(f"{unknown[0]}: unknown field (allowed: {list(REALISM_FIELDS)})")
        strict = self.strict
        lag, share = self.read_after_write_lag_seconds, self.null_share
        if "strict" in changes:
            strict = changes["strict"]
            if not isinstance(strict, bool):
                raise RealismError("strict: must be true or false")
            lag, share = MODE_DEFAULTS[strict]
        if "read_after_write_lag_seconds" in changes:
            lag = _number(changes, "read_after_write_lag_seconds", MAX_LAG_SECONDS)
        if "null_share" in changes:
            share = _number(changes, "null_share", 1.0)
        seed = changes.get("seed", self.seed)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise RealismError("seed: must be an integer or null")
        return Realism(strict, lag, share, seed)


def _number(changes: Mapping[str, Any], name: str, high: float) -> float:
    raw = changes[name]
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 <= raw <= high:
        raise RealismError(f"{name}: must be a number between 0 and {high:g}")
    return float(raw)


class NullDice:
    """The seedable RNG that picks which responses get their nullable fields nulled."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - repeatable test RNG, not crypto

    def reseed(self, seed: int | None) -> None:
        """Start the sequence again from ``seed``."""
        with self._lock:
            self._rng = random.Random(seed)  # noqa: S311 - repeatable test RNG, not crypto

    def roll(self, share: float) -> bool:
        """True for a share ``share`` of calls (never for 0, always for 1)."""
        if share <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < share
