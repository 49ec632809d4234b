"""The simulator's HTTPS server: routing, SigV4 checks, faults, request log, control API.

``Simulator`` is the application (it answers one parsed request); ``SimulatorServer``
runs it on a ``ThreadingHTTPServer`` with TLS (the handshake happens in the connection's
thread, so a slow client never blocks ``accept``), HTTP/1.1 keep-alive, bound to a
loopback address.

API requests (``/20190206/...``) go through:

1. routing against *every* path of the OpenAPI document (most literal segments win):
   unknown path -> 404, method the document does not have -> 405, operation the
   document has but the simulator does not serve -> 501;
2. fault injection (``when: "before"``: latency, status or dropped connection);
3. SigV4 header check (all but ``/public/config``) -> 403 ``{"message"}``;
4. query parameters coerced and checked against the operation's declared parameter
   schemas, path ids checked (400 where the document declares one, else 404), the JSON
   body validated against the operation's request schema -> 400 naming the field;
5. the operation itself (``state.SimState``);
6. fault injection ``when: "after"`` (the write is applied, the response replaced or
   dropped);
7. optionally (``strict_responses``) the response validated against the document.

Every API request is appended to the request log; every request (API or control) gets
one line on stderr - method, path, status, duration, fault - and never any header value
(no Authorization, no X-Amz-Security-Token).

Control requests (``/_sim/...``) need no signature; see :data:`CONTROL_ROUTES`.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30Validator

from staxsim.document import API_PREFIX, StaxDocument, component_name, format_error
from staxsim.faults import FaultDecision, FaultRuleError, fault_body
from staxsim.responses import (
    catalogue_item_event,
    catalogue_version_event,
    error_body,
    gateway_error,
    workload_event,
)
from staxsim.sigv4 import SigV4Error, check_request
from staxsim.state import (
    BadRequest,
    FailRule,
    NotFound,
    SimError,
    SimState,
    TaskDurations,
    is_uuid,
)

CONTROL_PREFIX = "/_sim"
MAX_BODY = 5 * 1024 * 1024
#: Operations the simulator serves: (document path, method) -> handler name.
SERVED: dict[tuple[str, str], str] = {
    (f"{API_PREFIX}/public/config", "get"): "public_config",
    (f"{API_PREFIX}/workloads", "get"): "read_workloads",
    (f"{API_PREFIX}/workloads", "post"): "create_workload",
    (f"{API_PREFIX}/workloads/{{workload_id}}", "get"): "read_workload",
    (f"{API_PREFIX}/workloads/{{workload_id}}", "put"): "update_workload",
    (f"{API_PREFIX}/workloads/{{workload_id}}", "delete"): "delete_workload",
    (f"{API_PREFIX}/workload-catalogue", "get"): "read_catalogue",
    (f"{API_PREFIX}/workload-catalogue", "post"): "create_catalogue_item",
    (f"{API_PREFIX}/workload-catalogue/{{catalogue_id}}", "get"): "read_catalogue_item",
    (f"{API_PREFIX}/workload-catalogue/{{catalogue_id}}", "put"): "create_catalogue_version",
    (
        f"{API_PREFIX}/workload-catalogue/{{catalogue_id}}/{{version_id}}",
        "get",
    ): "read_catalogue_version",
    (f"{API_PREFIX}/task/{{task_id}}", "get"): "read_task",
    (f"{API_PREFIX}/accounts", "get"): "read_accounts",
    (f"{API_PREFIX}/accounts/{{account_id}}", "get"): "read_account",
}
UNSIGNED_PATHS = {f"{API_PREFIX}/public/config"}
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


# -- request / response ----------------------------------------------------------------
@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client: str = ""
    raw_query: str = ""


@dataclass
class Response:
    """What to send back; ``drop`` closes the connection without any response."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    fault: str | None = None

    def encoded(self) -> bytes:
        """The JSON body as bytes."""
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


@dataclass
class Match:
    """A routed API request: the document path, its parameters and the operation id."""

    template: str
    params: dict[str, str]
    methods: tuple[str, ...]


class Router:
    """Matches request paths against every path of the document."""

    def __init__(self, document: StaxDocument) -> None:
        self._routes: list[tuple[re.Pattern[str], str, int, tuple[str, ...]]] = []
        for template, item in document.document["paths"].items():
            pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            literals = sum(1 for s in template.split("/") if s and "{" not in s)
            methods = tuple(m for m in item if m in HTTP_METHODS)
            self._routes.append((re.compile(pattern), template, literals, methods))
        self._routes.sort(key=lambda r: -r[2])

    def match(self, path: str) -> Match | None:
        """The most specific document path matching ``path`` (None if none does)."""
        for pattern, template, _, methods in self._routes:
            found = pattern.match(path)
            if found:
                return Match(template, dict(found.groupdict()), methods)
        return None


# -- the application -------------------------------------------------------------------
class Simulator:
    """The Stax API simulator application (state + document + behaviour switches)."""

    def __init__(
        self,
        state: SimState | None = None,
        *,
        strict_responses: bool = False,
        auth_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        log_stream: TextIO | None = sys.stderr,
    ) -> None:
        self.state = state or SimState()
        self.document = self.state.document
        self.router = Router(self.document)
        self.strict_responses = strict_responses
        self.auth_clock = auth_clock
        self.sleep = sleep
        self.log_stream = log_stream
        self._log_lock = threading.Lock()

    # -- entry point -------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """Answer one request (control or API)."""
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            return self._control(request)
        return self._api(request)

    def log_line(self, request: Request, response: Response, duration_ms: float) -> None:
        """One line on the log stream; never any header value."""
        if self.log_stream is None:
            return
        status = "-" if response.drop else str(response.status)
        fault = f" fault={response.fault}" if response.fault else ""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = (
            f'{stamp} staxsim {request.client} "{request.method} {request.path}'
            f'{"?" + request.raw_query if request.raw_query else ""}" {status} '
            f"{duration_ms:.1f}ms{fault}\n"
        )
        with self._log_lock:
            try:
                self.log_stream.write(line)
                self.log_stream.flush()
            except (OSError, ValueError):
                pass

    # -- API -------------------------------------------------------------------------
    def _api(self, request: Request) -> Response:
        started = time.time()
        match = self.router.match(request.path)
        operation_id = ""
        method = request.method.lower()
        if match is not None and method in match.methods:
            operation_id = self.document.operation_id(match.template, method)
        decision = self.state.faults.decide(request.method, request.path)
        response = self._api_inner(request, match, decision)
        self.state.log_request(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "status": None if response.drop else response.status,
                "time": started,
                "duration_ms": round((time.time() - started) * 1000, 3),
                "fault": response.fault,
                "operation": operation_id or None,
            }
        )
        return response

    def _apply_fault(self, decision: FaultDecision) -> Response | None:
        if decision.latency_s > 0:
            self.sleep(decision.latency_s)
        if decision.latency_only:
            return None
        if decision.mode == "drop":
            return Response(0, drop=True, fault=decision.label())
        assert decision.status is not None
        body, error_type = fault_body(decision.status)
        return Response(
            decision.status,
            body,
            {"x-amzn-ErrorType": error_type},
            fault=decision.label(),
        )

    def _api_inner(
        self, request: Request, match: Match | None, decision: FaultDecision | None
    ) -> Response:
        if decision is not None and decision.when == "before":
            faulted = self._apply_fault(decision)
            if faulted is not None:
                return faulted
        response = self._route(request, match)
        if decision is not None and decision.when == "after":
            faulted = self._apply_fault(decision)
            if faulted is not None:
                return faulted
        if decision is not None and response.fault is None:
            response.fault = decision.label()
        return response

    def _route(self, request: Request, match: Match | None) -> Response:
        if match is None:
            return Response(404, {"Error": f"No such resource: {request.method} {request.path}"})
        method = request.method.lower()
        if method not in match.methods:
            allow = ", ".join(m.upper() for m in match.methods)
            return Response(
                405,
                {"Error": f"Method {request.method} is not allowed on {match.template}"},
                {"Allow": allow},
            )
        handler_name = SERVED.get((match.template, method))
        operation_id = self.document.operation_id(match.template, method)
        if handler_name is None:
            return Response(
                501,
                {
                    "Error": f"{operation_id} ({request.method} {match.template}) is not "
                    "implemented by the Stax simulator"
                },
            )
        if match.template not in UNSIGNED_PATHS:
            try:
                check_request(
                    request.headers,
                    region=self.state.region,
                    now=datetime.fromtimestamp(self.auth_clock(), tz=UTC),
                )
            except SigV4Error as exc:
                return Response(
                    403, gateway_error(exc.message), {"x-amzn-ErrorType": exc.error_type}
                )
        ctx = _Context(self, request, match, method, operation_id)
        try:
            status, body = getattr(self, f"_op_{handler_name}")(ctx)
        except SimError as exc:
            status, body = exc.status, ctx.error(exc.status, exc.message)
        response = Response(status, body, {"x-amzn-RequestId": str(uuid.uuid4())})
        if self.strict_responses:
            problem = self._check_response(match.template, method, status, body)
            if problem:
                return Response(500, {"Error": f"simulator response invalid: {problem}"})
        return response

    def _check_response(self, template: str, method: str, status: int, body: Any) -> str | None:
        validator = self.document.response_validator(template, method, status)
        if validator is None:
            if status >= 400:
                return self.document.component_validator("Error").first_error(body)
            return None
        return validator.first_error(body)

    # -- operations ----------------------------------------------------------------------
    def _op_public_config(self, ctx: _Context) -> tuple[int, Any]:
        host = ctx.request.headers.get("host", "127.0.0.1")
        return 200, self.state.public_config(f"https://{host}{API_PREFIX}")

    def _op_read_workloads(self, ctx: _Context) -> tuple[int, Any]:
        return 200, self.state.query_workloads(ctx.query())

    def _op_read_workload(self, ctx: _Context) -> tuple[int, Any]:
        workload_id = ctx.path_id("workload_id")
        query = ctx.query()
        self.state.get_workload(workload_id)  # 404 before filtering
        return 200, self.state.query_workloads({**query, "id_filter": workload_id})

    def _op_create_workload(self, ctx: _Context) -> tuple[int, Any]:
        body = ctx.json_body()
        workload, task = self.state.create_workload(body)
        return 200, workload_event("create", workload, task, self.state.organisation["CustomerId"])

    def _op_update_workload(self, ctx: _Context) -> tuple[int, Any]:
        workload_id = ctx.path_id("workload_id")
        body = ctx.json_body()
        workload, task = self.state.update_workload(workload_id, body)
        return 200, workload_event("update", workload, task, self.state.organisation["CustomerId"])

    def _op_delete_workload(self, ctx: _Context) -> tuple[int, Any]:
        workload_id = ctx.path_id("workload_id")
        ctx.query()
        workload, task = self.state.delete_workload(workload_id)
        return 200, workload_event("delete", workload, task, self.state.organisation["CustomerId"])

    def _op_read_catalogue(self, ctx: _Context) -> tuple[int, Any]:
        return 200, self.state.query_catalogue(ctx.query())

    def _op_read_catalogue_item(self, ctx: _Context) -> tuple[int, Any]:
        catalogue_id = ctx.path_id("catalogue_id")
        return 200, self.state.query_catalogue(ctx.query(), catalogue_id)

    def _op_create_catalogue_item(self, ctx: _Context) -> tuple[int, Any]:
        body = ctx.json_body()
        item, version, task = self.state.create_catalogue_item(body)
        return 200, catalogue_item_event(item, version, task, self.state.organisation["CustomerId"])

    def _op_create_catalogue_version(self, ctx: _Context) -> tuple[int, Any]:
        catalogue_id = ctx.path_id("catalogue_id")
        body = ctx.json_body()
        item, version, task = self.state.create_catalogue_version(catalogue_id, body)
        return 200, catalogue_version_event(
            item, version, task, self.state.organisation["CustomerId"]
        )

    def _op_read_catalogue_version(self, ctx: _Context) -> tuple[int, Any]:
        catalogue_id = ctx.path_id("catalogue_id")
        version_id = ctx.path_id("version_id")
        ctx.query()
        return 200, self.state.get_catalogue_version(catalogue_id, version_id)

    def _op_read_task(self, ctx: _Context) -> tuple[int, Any]:
        task_id = ctx.path_id("task_id")
        return 200, self.state.get_task(task_id)

    def _op_read_accounts(self, ctx: _Context) -> tuple[int, Any]:
        return 200, self.state.query_accounts(ctx.query())

    def _op_read_account(self, ctx: _Context) -> tuple[int, Any]:
        account_id = ctx.path_id("account_id")
        return 200, self.state.query_accounts(ctx.query(), account_id)

    # -- control API --------------------------------------------------------------------
    def _control(self, request: Request) -> Response:
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
        except (SimError, FaultRuleError, ValueError) as exc:
            message = exc.message if isinstance(exc, SimError) else str(exc)
            return Response(400, {"error": message})
        return Response(status, payload)

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

    def _ctl_get_tasks(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, {
            **self.state.durations.as_dict(),
            "update_success_status": self.state.update_success_status,
        }

    def _ctl_put_tasks(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        _only(
            body,
            {
                "started_seconds",
                "pending_seconds",
                "running_seconds",
                "total_seconds",
                "update_success_status",
            },
        )
        current = self.state.durations
        if "total_seconds" in body:
            if any(k in body for k in ("started_seconds", "pending_seconds", "running_seconds")):
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
        self.state.add_fail_rule(
            FailRule(
                count=count,
                logs=logs,
                operation=match.get("operation"),
                name_regex=match.get("name_regex"),
            )
        )
        return self._ctl_get_fail({}, request)

    def _ctl_clear_fail(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        self.state.clear_fail_rules()
        return 200, {"rules": []}

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

    def _ctl_get_requests(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        entries = self.state.requests()
        since = request.query.get("since")
        if since is not None:
            try:
                threshold = float(since)
            except ValueError:
                raise ValueError("since: must be an epoch timestamp") from None
            entries = [e for e in entries if e["time"] >= threshold]
        return 200, entries

    def _ctl_clear_requests(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        self.state.clear_requests()
        return 200, []

    def _ctl_state(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, self.state.snapshot()

    def _ctl_stats(self, body: dict[str, Any], request: Request) -> tuple[int, Any]:
        return 200, self.state.stats()


#: Control endpoints: path -> {HTTP method: handler suffix}.
CONTROL_ROUTES: dict[str, dict[str, str]] = {
    f"{CONTROL_PREFIX}/health": {"GET": "health"},
    f"{CONTROL_PREFIX}/reset": {"POST": "reset"},
    f"{CONTROL_PREFIX}/config": {"GET": "get_config", "PUT": "put_config"},
    f"{CONTROL_PREFIX}/seed": {"POST": "seed"},
    f"{CONTROL_PREFIX}/tasks": {"GET": "get_tasks", "PUT": "put_tasks"},
    f"{CONTROL_PREFIX}/tasks/fail": {
        "GET": "get_fail",
        "POST": "add_fail",
        "DELETE": "clear_fail",
    },
    f"{CONTROL_PREFIX}/faults": {
        "GET": "get_faults",
        "PUT": "put_faults",
        "DELETE": "clear_faults",
    },
    f"{CONTROL_PREFIX}/requests": {"GET": "get_requests", "DELETE": "clear_requests"},
    f"{CONTROL_PREFIX}/state": {"GET": "state"},
    f"{CONTROL_PREFIX}/stats": {"GET": "stats"},
}


class _Context:
    """Per-request helpers of an API operation: ids, query, body, error shapes."""

    def __init__(
        self, app: Simulator, request: Request, match: Match, method: str, operation_id: str
    ) -> None:
        self.app = app
        self.request = request
        self.match = match
        self.method = method
        self.operation_id = operation_id

    def error(self, status: int, message: str) -> dict[str, Any]:
        """The error body in the schema the document declares for this status."""
        ref = self.app.document.response_schema_ref(self.match.template, self.method, status)
        return error_body(component_name(ref), message, self.operation_id)

    def path_id(self, name: str) -> str:
        """A path id; not a UUID -> 400 where the document declares a 400, else 404."""
        value = self.match.params[name]
        if not is_uuid(value):
            declared = self.app.document.response_statuses(self.match.template, self.method)
            message = f"{name}: '{value}' is not a valid UUID"
            if 400 in declared:
                raise _bad(message)
            raise _not_found(message)
        return value

    def query(self) -> dict[str, str]:
        """Query parameters, each checked against its declared schema (400 if invalid)."""
        declared = {
            p["name"]: p.get("schema", {})
            for p in self.app.document.parameters(self.match.template, self.method)
            if p.get("in") == "query"
        }
        for name, raw in self.request.query.items():
            schema = declared.get(name)
            if schema is None:
                continue
            value: Any = raw
            kind = schema.get("type")
            if kind == "integer":
                try:
                    value = int(raw)
                except ValueError:
                    raise _bad(f"{name}: '{raw}' is not of type 'integer'") from None
            elif kind == "boolean":
                if raw.lower() not in ("true", "false"):
                    raise _bad(f"{name}: '{raw}' is not of type 'boolean'")
                value = raw.lower() == "true"
            errors = list(OAS30Validator(schema).iter_errors(value))
            if errors:
                raise _bad(f"{name}: {errors[0].message}")
        return dict(self.request.query)

    def json_body(self) -> dict[str, Any]:
        """The JSON body, validated against the operation's request schema."""
        raw = self.request.body
        if not raw.strip():
            raise _bad("Request body is required (application/json)")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _bad(f"Request body is not valid JSON: {exc}") from None
        validator = self.app.document.request_validator(self.match.template, self.method)
        if validator is not None:
            errors = validator.errors(body)
            if errors:
                raise _bad(_describe(errors))
        if not isinstance(body, dict):
            raise _bad("Request body must be a JSON object")
        return body


def _describe(errors: list[Any]) -> str:
    first = format_error(best_match(errors))
    if len(errors) > 1:
        others = "; ".join(format_error(e) for e in errors[1:4] if format_error(e) != first)
        if others:
            return f"{first} (also: {others})"
    return first


def _bad(message: str) -> SimError:
    return BadRequest(message)


def _not_found(message: str) -> SimError:
    return NotFound(message)


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


# -- HTTP plumbing -----------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into :class:`Request` objects for the :class:`Simulator`."""

    protocol_version = "HTTP/1.1"
    server_version = "staxsim"
    sys_version = ""
    timeout = 120
    server: SimulatorHTTPServer

    def _dispatch(self) -> None:
        started = time.time()
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            status = 413 if length > MAX_BODY else 400
            self._send(Response(status, {"Error": "Content-Length is invalid or too large"}))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length > 0 else b""
        request = Request(
            method=self.command,
            path=split.path,
            query=query,
            headers=headers,
            body=body,
            client=self.client_address[0],
            raw_query=split.query,
        )
        app = self.server.app
        try:
            response = app.handle(request)
        except Exception as exc:
            response = Response(500, {"Error": f"simulator error: {type(exc).__name__}: {exc}"})
        if response.drop:
            self.close_connection = True
        else:
            self._send(response)
        app.log_line(request, response, (time.time() - started) * 1000)

    def _send(self, response: Response) -> None:
        payload = response.encoded()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default access log (``Simulator.log_line`` writes ours)."""


class SimulatorHTTPServer(ThreadingHTTPServer):
    """Threaded HTTPS server; TLS handshakes happen in the per-connection thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], ssl_context: ssl.SSLContext, app: Simulator
    ) -> None:
        self.ssl_context = ssl_context
        self.app = app
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Handshake, then serve the connection (keep-alive) in this thread."""
        request.settimeout(30)
        # headers and body are separate writes: without NODELAY, Nagle + delayed ACK
        # would add ~40 ms to every response
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            _Handler(tls, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore the usual connection errors; report anything else."""
        kind = sys.exc_info()[0]
        if kind is not None and issubclass(kind, (OSError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


def make_ssl_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """Server TLS context (TLS 1.2+)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


class SimulatorServer:
    """Runs a :class:`Simulator` over HTTPS in a background thread (``start``/``stop``)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8443,
        *,
        certfile: str,
        keyfile: str,
        app: Simulator | None = None,
    ) -> None:
        self.app = app or Simulator()
        self.httpd = SimulatorHTTPServer(
            (host, port), make_ssl_context(certfile, keyfile), self.app
        )
        self.host = host
        self.port = int(self.httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``https://host:port``."""
        return f"https://{self.host}:{self.port}"

    def start(self) -> SimulatorServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="staxsim", kwargs={"poll_interval": 0.2}
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (or KeyboardInterrupt)."""
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
