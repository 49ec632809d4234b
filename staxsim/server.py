"""The simulator's HTTPS server: routing, SigV4 checks, faults, request log, transport.

``Simulator`` is the application (it answers one parsed request); ``SimulatorServer``
runs it on a ``ThreadingHTTPServer`` with TLS (the handshake happens in the connection's
thread, so a slow client never blocks ``accept``), HTTP/1.1 keep-alive, bound to a
loopback address. It counts accepted TCP connections and completed TLS handshakes
(``/_sim/stats`` ``connections``).

API requests (``/20190206/...``) go through:

1. routing against *every* path of the OpenAPI document (``staxsim.urls``): unknown
   path -> 404, method the document does not have -> 405, operation the document has
   but the simulator does not serve -> 501;
2. fault injection (``when: "before"``: latency, status or dropped connection);
3. SigV4 header check (all but ``/public/config``) -> 403 ``{"message"}``;
4. the operation's handler (``staxsim.responses``): parameters and body checked
   against the document, the backend called, the body shaped for the realism settings;
5. fault injection ``when: "after"`` (the write is applied, the response replaced or
   dropped);
6. optionally (``strict_responses``) the response validated against the document.

A request is applied even if its client has gone away meanwhile (e.g. gave up during
injected latency): nothing here watches the socket before the handler has run.

Every API request is appended to the request log; every request (API or control) gets
one line on the log stream - method, path, status, duration, fault - and never any
header value (no Authorization, no X-Amz-Security-Token). Control requests
(``/_sim/...``) need no signature and go to ``staxsim.control_api``.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from staxsim.backend import SimState
from staxsim.control_api import ControlApi
from staxsim.events import gateway_error
from staxsim.faults import FaultDecision, fault_body
from staxsim.messages import Request, Response
from staxsim.responses import OperationContext, StaxResponses
from staxsim.sigv4 import SigV4Error, check_request
from staxsim.urls import (
    CONTROL_PREFIX,
    CONTROL_ROUTES,
    SERVED,
    UNSIGNED_PATHS,
    Match,
    Router,
    is_control_path,
)

MAX_BODY = 5 * 1024 * 1024

__all__ = [
    "CONTROL_PREFIX",
    "CONTROL_ROUTES",
    "SERVED",
    "UNSIGNED_PATHS",
    "Request",
    "Response",
    "Simulator",
    "SimulatorServer",
    "make_ssl_context",
]


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
        self.responses = StaxResponses(self.state)
        self.control = ControlApi(self.state)
        self.strict_responses = strict_responses
        self.auth_clock = auth_clock
        self.sleep = sleep
        self.log_stream = log_stream
        self._log_lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        """Answer one request (control or API)."""
        if is_control_path(request.path):
            return self.control.handle(request)
        return self._api(request)

    def log_line(self, request: Request, response: Response, duration_ms: float) -> None:
        """One line on the log stream; never any header value."""
        if self.log_stream is None:
            return
        status = "-" if response.drop else str(response.status)
        fault = f" fault={response.fault}" if response.fault else ""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        query = f"?{request.raw_query}" if request.raw_query else ""
        line = (
            f'{stamp} staxsim {request.client} "{request.method} {request.path}{query}" '
            f"{status} {duration_ms:.1f}ms{fault}\n"
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
        decision = self.state.faults.decide(request.method, request.path, request.raw_query)
        response = self._with_faults(request, match, decision)
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
            decision.status, body, {"x-amzn-ErrorType": error_type}, fault=decision.label()
        )

    def _with_faults(
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
        ctx = OperationContext(self.document, request, match, method, operation_id)
        status, body = self.responses.dispatch(handler_name, ctx)
        if self.strict_responses:
            problem = self._check_response(match.template, method, status, body)
            if problem:
                return Response(500, {"Error": f"simulator response invalid: {problem}"})
        return Response(status, body, {"x-amzn-RequestId": str(uuid.uuid4())})

    def _check_response(self, template: str, method: str, status: int, body: Any) -> str | None:
        validator = self.document.response_validator(template, method, status)
        if validator is None:
            if status >= 400:
                return self.document.component_validator("Error").first_error(body)
            return None
        return validator.first_error(body)


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
            try:
                self._send(response)
            except OSError:
                # the client went away (e.g. it gave up during injected latency): the
                # request was applied all the same; log it and close
                self.close_connection = True
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
        self.wfile.flush()

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

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """Count the accepted TCP connection (runs in the accepting thread)."""
        self.app.state.connections.connection_accepted()
        return True

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
        self.app.state.connections.tls_handshake_done()
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
