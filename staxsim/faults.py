"""Fault injection rules of the simulator: error statuses, latency, dropped responses.

A rule matches API requests by path regex (``re.search`` on the path, no query string),
optionally a query regex (``re.search`` on the raw query string, e.g. ``(^|&)name=`` to
slow only look-ups by name) and method, and triggers with a probability drawn from a
seedable RNG, so a test that sets ``seed`` gets the same sequence of faults on every
run. A triggered rule:

* sleeps ``latency_ms`` (a number, or ``[low, high]`` drawn uniformly);
* then, with ``mode: "status"``, answers one of ``statuses`` (API Gateway-shaped body);
  with no ``statuses`` the rule only adds latency and the request proceeds normally;
* with ``mode: "drop"``, closes the connection without any response;
* ``when: "before"`` does this instead of handling the request (nothing is applied) -
  except for a latency-only rule, which holds the request and then handles it, even if
  the client has given up meanwhile (Stax applying a request after its client left);
  ``when: "after"`` handles the request first (a write *is* applied) and then replaces
  the response - the "write applied, response lost" case.

``count`` limits how many times a rule triggers (``None``: unlimited).
Rules are evaluated in order; the first that triggers wins.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

WHEN_VALUES = ("before", "after")
MODE_VALUES = ("status", "drop")
_RULE_KEYS = {
    "path_regex",
    "query_regex",
    "methods",
    "probability",
    "statuses",
    "latency_ms",
    "when",
    "mode",
    "count",
}

#: API Gateway-style bodies of injected statuses.
FAULT_MESSAGES = {
    429: ("Too Many Requests", "TooManyRequestsException"),
    500: ("Internal server error", "InternalServerErrorException"),
    502: ("Internal server error", "BadGatewayException"),
    503: ("Service Unavailable", "ServiceUnavailableException"),
    504: ("Endpoint request timed out", "IntegrationTimeoutException"),
}


class FaultRuleError(ValueError):
    """A fault rule is malformed; the message names the field."""


@dataclass
class FaultRule:
    """One fault rule (see the module docstring for the semantics)."""

    path_regex: str = ""
    query_regex: str | None = None
    methods: frozenset[str] | None = None
    probability: float = 1.0
    statuses: tuple[int, ...] = ()
    latency_ms: tuple[float, float] = (0.0, 0.0)
    when: str = "before"
    mode: str = "status"
    count: int | None = None
    triggered: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)
    _query_pattern: re.Pattern[str] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path_regex)
        self._query_pattern = re.compile(self.query_regex) if self.query_regex else None

    @classmethod
    def from_dict(cls, raw: Any, where: str = "rule") -> FaultRule:
        """Build a rule from its JSON form; raise :class:`FaultRuleError` naming the field."""
        if not isinstance(raw, dict):
            raise FaultRuleError(f"{where}: must be an object")
        unknown = sorted(set(raw) - _RULE_KEYS)
        if unknown:
            raise FaultRuleError(f"{where}.{unknown[0]}: unknown field")
        rule = cls(
            path_regex=_regex(raw.get("path_regex", ""), f"{where}.path_regex"),
            query_regex=(
                None
                if raw.get("query_regex") is None
                else _regex(raw["query_regex"], f"{where}.query_regex")
            ),
            methods=_methods(raw.get("methods"), f"{where}.methods"),
            probability=_probability(raw.get("probability", 1.0), f"{where}.probability"),
            statuses=_statuses(raw.get("statuses"), f"{where}.statuses"),
            latency_ms=_latency(raw.get("latency_ms", 0), f"{where}.latency_ms"),
            when=_choice(raw.get("when", "before"), WHEN_VALUES, f"{where}.when"),
            mode=_choice(raw.get("mode", "status"), MODE_VALUES, f"{where}.mode"),
            count=_count(raw.get("count"), f"{where}.count"),
        )
        if rule.mode == "status" and not rule.statuses and rule.latency_ms == (0.0, 0.0):
            raise FaultRuleError(
                f"{where}: does nothing - give 'statuses', 'latency_ms' or mode 'drop'"
            )
        return rule

    def matches(self, method: str, path: str, query: str = "") -> bool:
        """Whether the rule applies to a request (ignoring probability and count).

        ``query`` is the raw query string (``name=x&limit=5``, no ``?``).
        """
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if self._query_pattern is not None and self._query_pattern.search(query) is None:
            return False
        return self._pattern.search(path) is not None

    @property
    def exhausted(self) -> bool:
        """Whether the rule has used up its ``count``."""
        return self.count is not None and self.triggered >= self.count

    def as_dict(self) -> dict[str, Any]:
        """The rule as JSON, with how many times it triggered."""
        return {
            "path_regex": self.path_regex,
            "query_regex": self.query_regex,
            "methods": sorted(self.methods) if self.methods is not None else None,
            "probability": self.probability,
            "statuses": list(self.statuses),
            "latency_ms": list(self.latency_ms),
            "when": self.when,
            "mode": self.mode,
            "count": self.count,
            "triggered": self.triggered,
        }


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request: when, how, which status, how long to wait first."""

    rule_index: int
    when: str
    mode: str
    status: int | None
    latency_s: float

    @property
    def latency_only(self) -> bool:
        """The rule only delays the request; the real response is sent."""
        return self.mode == "status" and self.status is None

    def label(self) -> str:
        """Short text for the request log: ``before:503``, ``after:drop``, ``latency:120ms``."""
        if self.latency_only:
            return f"latency:{round(self.latency_s * 1000)}ms"
        what = "drop" if self.mode == "drop" else str(self.status)
        return f"{self.when}:{what}"


def _regex(raw: Any, where: str) -> str:
    if not isinstance(raw, str):
        raise FaultRuleError(f"{where}: must be a string")
    try:
        re.compile(raw)
    except re.error as exc:
        raise FaultRuleError(f"{where}: invalid regex ({exc})") from None
    return raw


def _methods(raw: Any, where: str) -> frozenset[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(m, str) for m in raw):
        raise FaultRuleError(f"{where}: must be a list of HTTP methods")
    return frozenset(m.upper() for m in raw)


def _probability(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0.0 <= raw <= 1.0:
        raise FaultRuleError(f"{where}: must be a number between 0 and 1")
    return float(raw)


def _statuses(raw: Any, where: str) -> tuple[int, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and 400 <= s <= 599 for s in raw
    ):
        raise FaultRuleError(f"{where}: must be a list of HTTP statuses 400-599")
    return tuple(raw)


def _choice(raw: Any, allowed: tuple[str, ...], where: str) -> str:
    if raw not in allowed:
        raise FaultRuleError(f"{where}: must be one of {list(allowed)}")
    return str(raw)


def _count(raw: Any, where: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise FaultRuleError(f"{where}: must be null or an integer >= 1")
    return raw


def _latency(raw: Any, where: str) -> tuple[float, float]:
    if isinstance(raw, bool):
        raise FaultRuleError(f"{where}: must be a number or [low, high] in milliseconds")
    if isinstance(raw, (int, float)):
        low = high = float(raw)
    elif (
        isinstance(raw, list)
        and len(raw) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)
    ):
        low, high = float(raw[0]), float(raw[1])
    else:
        raise FaultRuleError(f"{where}: must be a number or [low, high] in milliseconds")
    if not 0 <= low <= high <= 600_000:
        raise FaultRuleError(f"{where}: need 0 <= low <= high <= 600000")
    return (low, high)


def fault_body(status: int) -> tuple[dict[str, str], str]:
    """The API Gateway-style JSON body and ``x-amzn-ErrorType`` of an injected status."""
    message, error_type = FAULT_MESSAGES.get(status, ("Injected fault", "InjectedFault"))
    return {"message": message}, error_type


class FaultInjector:
    """The active fault rules and their RNG (thread-safe)."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._rng = random.Random(seed)  # noqa: S311 - seedable test RNG, not crypto
        self.seed = seed

    def set_rules(self, rules: list[Any], seed: int | None = None) -> list[FaultRule]:
        """Replace the rules (all validated first) and reseed the RNG."""
        if not isinstance(rules, list):
            raise FaultRuleError("rules: must be a list")
        parsed = [FaultRule.from_dict(r, f"rules[{i}]") for i, r in enumerate(rules)]
        with self._lock:
            self._rules = parsed
            self.seed = seed
            self._rng = random.Random(seed)  # noqa: S311 - seedable test RNG, not crypto
        return parsed

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules = []

    def rules(self) -> list[dict[str, Any]]:
        """The rules as JSON."""
        with self._lock:
            return [r.as_dict() for r in self._rules]

    def decide(self, method: str, path: str, query: str = "") -> FaultDecision | None:
        """Whether (and how) to inject a fault into this request; consumes ``count``."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.exhausted or not rule.matches(method, path, query):
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                rule.triggered += 1
                status = self._rng.choice(rule.statuses) if rule.statuses else None
                low, high = rule.latency_ms
                latency = self._rng.uniform(low, high) if high > low else low
                return FaultDecision(
                    rule_index=index,
                    when=rule.when,
                    mode=rule.mode,
                    status=status if rule.mode == "status" else None,
                    latency_s=latency / 1000.0,
                )
        return None
