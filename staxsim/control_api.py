"""The server side of the control API (``/_sim/...``): JSON in, JSON out, unsigned.

Tests, benchmarks and the local stack's bootstrap drive the simulator through these
endpoints (``staxsim.control.SimulatorControl`` is the Python client): configuration,
seed data, task durations and failures, fault rules, realism settings, and the
observers (request log, state snapshot, stats). Every malformed body is refused with
``400 {"error": "<field>: <reason>"}``; the endpoints are listed in
``staxsim.urls.CONTROL_ROUTES`` and documented in ``staxsim/README.md``.
"""

from __future__ import annotations

import json
from typing import Any

from staxsim.account_events import DEFAULT_SOURCE, BusConfig
from staxsim.backend import SimState
from staxsim.document import API_PREFIX
from staxsim.exceptions import SimError
from staxsim.faults import FaultRuleError
from staxsim.messages import Request, Response
from staxsim.models.tasks import FailRule, TaskDurations
from staxsim.realism import RealismError
from staxsim.urls import CONTROL_PREFIX, CONTROL_ROUTES

_PHASES = ("started_seconds", "pending_seconds", "running_seconds")


def _control_body(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"body: not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ValueError("body: must be a JSON object")
    return body


def _only(body: dict[str, Any], allowed: set[str], prefix: str = "") -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValueError(f"{prefix}{unknown[0]}: unknown field (allowed: {sorted(allowed)})")


def _number(body: dict[str, Any], name: str, default: float | None = None) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: must be a number of seconds")
    if value < 0:
        raise ValueError(f"{name}: must be >= 0")
    return float(value)


def _bool_field(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ValueError(f"{name}: must be true or false")
    return value


class ControlApi:
    """Answers ``/_sim`` requests against one :class:`SimState`."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    def handle(self, request: Request) -> Response:
        """Route and answer one control request."""
        path = request.path.rstrip("/") or CONTROL_PREFIX
        route = CONTROL_ROUTES.get(path)
        if route is None:
            return Response(404, {"error": f"no control endpoint {path}"})
        handler_name = route.get(request.method.upper())
        if handler_name is None:
            return Response(
                405,
                {"error": f"{request.method} not allowed on {path}"},
                {"Allow": ", ".join(sorted(route))},
            )
        try:
            body = _control_body(request)
            status, payload = getattr(self, f"_ctl_{handler_name}")(body, request)
        except (SimError, FaultRuleError, RealismError, ValueError) as exc:
            message = exc.message if isinstance(exc, SimError) else str(exc)
            return Response(400, {"error": message})
        return Response(status, payload)

    # -- lifecycle and configuration --------------------------------------------------
    def _ctl_health(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, {
            "status": "ok",
            "configured": self.state.api_auth is not None,
            "api_version": API_PREFIX.strip("/"),
        }

    def _ctl_reset(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        everything = _bool_field(body, "all", False)
        self.state.reset(everything)
        return 200, {"reset": True, "all": everything}

    def _ctl_get_config(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, {"api_auth": self.state.api_auth}

    def _ctl_put_config(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        _only(body, {"api_auth"})
        api_auth = body.get("api_auth")
        if not isinstance(api_auth, dict):
            raise ValueError("api_auth: must be an object")
        return 200, {"api_auth": self.state.configure(api_auth)}

    def _ctl_seed(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, self.state.seed(body)

    def _ctl_get_events(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, self.state.account_events.stats()

    def _ctl_put_events(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        """``{"bus_name", "endpoint_url", "region", "source"}``; ``{"bus_name": null}``
        stops sending."""
        _only(body, {"bus_name", "endpoint_url", "region", "source"})
        name = body.get("bus_name")
        if name is None:
            self.state.account_events.configure(None)
            return 200, self.state.account_events.stats()
        for key in ("bus_name", "endpoint_url", "region", "source"):
            if (
                key in body
                and body[key] is not None
                and not (isinstance(body[key], str) and body[key])
            ):
                raise ValueError(f"{key}: must be a non-empty string")
        config = BusConfig(
            bus_name=name,
            endpoint_url=body.get("endpoint_url"),
            region=body.get("region") or "us-east-1",
            source=body.get("source") or DEFAULT_SOURCE,
        )
        self.state.account_events.configure(config)
        return 200, self.state.account_events.stats()

    def _ctl_get_realism(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, self.state.realism.as_dict()

    def _ctl_put_realism(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, self.state.set_realism(body).as_dict()

    # -- tasks ----------------------------------------------------------------------------
    def _ctl_get_tasks(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        total_range = self.state.total_range
        return 200, {
            **self.state.durations.as_dict(),
            "total_range_seconds": list(total_range) if total_range else None,
            "update_success_status": self.state.update_success_status,
        }

    def _ctl_put_tasks(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        _only(body, {*_PHASES, "total_seconds", "update_success_status", "seed"})
        current = self.state.durations
        if isinstance(body.get("total_seconds"), list):
            # A range: every new task's length is drawn from it (seeded, for repeatable runs).
            low, high = (float(v) for v in body["total_seconds"])
            self.state.set_durations(current, body.get("update_success_status"))
            self.state.set_total_range(low, high, body.get("seed"))
            return self._ctl_get_tasks({}, request)
        if "total_seconds" in body:
            if any(k in body for k in _PHASES):
                raise ValueError("total_seconds: give either total_seconds or the phases")
            durations = TaskDurations.from_total(_number(body, "total_seconds"))
        else:
            durations = TaskDurations(
                _number(body, "started_seconds", current.started),
                _number(body, "pending_seconds", current.pending),
                _number(body, "running_seconds", current.running),
            )
        self.state.set_durations(durations, body.get("update_success_status"))
        return self._ctl_get_tasks({}, request)

    def _ctl_get_fail(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, {"rules": self.state.list_fail_rules()}

    def _ctl_add_fail(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        _only(body, {"count", "logs", "match"})
        count = body.get("count", 1)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise ValueError("count: must be null or an integer >= 1")
        logs = body.get("logs", [])
        if not isinstance(logs, list) or not all(isinstance(line, str) for line in logs):
            raise ValueError("logs: must be a list of strings")
        match = body.get("match") or {}
        if not isinstance(match, dict):
            raise ValueError("match: must be an object")
        _only(match, {"operation", "name_regex"}, "match.")
        rule = FailRule(
            count=count,
            logs=logs,
            operation=match.get("operation"),
            name_regex=match.get("name_regex"),
        )
        self.state.add_fail_rule(rule)
        return self._ctl_get_fail({}, request)

    def _ctl_clear_fail(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        self.state.clear_fail_rules()
        return 200, {"rules": []}

    # -- faults -----------------------------------------------------------------------------
    def _ctl_get_faults(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, {"seed": self.state.faults.seed, "rules": self.state.faults.rules()}

    def _ctl_put_faults(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        _only(body, {"rules", "seed"})
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed: must be an integer or null")
        self.state.faults.set_rules(body.get("rules", []), seed)
        return self._ctl_get_faults({}, request)

    def _ctl_clear_faults(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        self.state.faults.clear()
        return self._ctl_get_faults({}, request)

    # -- observation ------------------------------------------------------------------------
    @staticmethod
    def _since(request: Request) -> float | None:
        since = request.query.get("since")
        if since is None:
            return None
        try:
            return float(since)
        except ValueError:
            raise ValueError("since: must be an epoch timestamp") from None

    def _ctl_get_requests(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        entries = self.state.requests()
        threshold = self._since(request)
        if threshold is not None:
            entries = [e for e in entries if e["time"] >= threshold]
        return 200, entries

    def _ctl_clear_requests(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        self.state.clear_requests()
        return 200, []

    def _ctl_state(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, self.state.snapshot()

    def _ctl_stats(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, self.state.stats(since=self._since(request))
