"""Python client of the simulator's control API (``/_sim/...``).

Used by the bootstrap script, the tests and the benchmarks::

    sim = SimulatorControl("https://127.0.0.1:8443", ca_bundle="/tmp/.../ca.pem")
    sim.wait_ready()
    sim.configure(region="us-east-1", user_pool_id=..., client_id=..., identity_pool_id=...)
    sim.seed(organisation={...}, accounts=[...], catalogue=[...])
    sim.set_task_durations(total=1.0)
    sim.fail_next_tasks(2, logs=["boom"], operation="create")
    sim.set_faults([{"path_regex": "^/20190206/workloads", "statuses": [503]}], seed=1)
    sim.set_realism(read_after_write_lag_seconds=0, null_share=1.0, seed=7)
    sim.requests()
    sim.connections()

TLS is always verified: against ``ca_bundle`` when given, else the default trust store
(which honours ``REQUESTS_CA_BUNDLE``).
"""

from __future__ import annotations

import time
from types import EllipsisType
from typing import Any

import requests


class SimulatorControlError(RuntimeError):
    """The control API refused a call; ``status`` and ``body`` say why."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("error") if isinstance(body, dict) else body
        super().__init__(f"simulator control call failed ({status}): {message}")
        self.status = status
        self.body = body


class SimulatorControl:
    """Client of ``/_sim``; every method returns the decoded JSON answer."""

    def __init__(
        self,
        base_url: str = "https://127.0.0.1:8443",
        ca_bundle: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        # Passed on every call: a per-call ``verify`` wins over REQUESTS_CA_BUNDLE, a
        # session attribute would not. ``True`` = the default trust store (env honoured).
        self._verify: str | bool = ca_bundle if ca_bundle is not None else True

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def __enter__(self) -> SimulatorControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        response = self._session.request(
            method,
            f"{self.base_url}/_sim{path}",
            json=body,
            params=params,
            timeout=self.timeout,
            verify=self._verify,
        )
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        if response.status_code >= 400:
            raise SimulatorControlError(response.status_code, payload)
        return payload

    # -- lifecycle ---------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """``GET /_sim/health``."""
        return self._call("GET", "/health")

    def wait_ready(self, timeout: float = 15.0, interval: float = 0.1) -> dict[str, Any]:
        """Poll ``/health`` until the simulator answers (raise TimeoutError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                return self.health()
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = exc
                time.sleep(interval)
        raise TimeoutError(f"simulator at {self.base_url} not ready: {last}")

    def reset(self, everything: bool = False) -> dict[str, Any]:
        """``POST /_sim/reset`` (``everything`` also forgets ApiAuth, durations and
        realism settings)."""
        return self._call("POST", "/reset", {"all": everything})

    # -- configuration and data ------------------------------------------------------------
    def configure(
        self,
        *,
        region: str,
        user_pool_id: str,
        client_id: str,
        identity_pool_id: str,
    ) -> dict[str, Any]:
        """``PUT /_sim/config``: the ApiAuth values ``/public/config`` serves."""
        api_auth = {
            "region": region,
            "userPoolId": user_pool_id,
            "userPoolWebClientId": client_id,
            "identityPoolId": identity_pool_id,
        }
        return self._call("PUT", "/config", {"api_auth": api_auth})

    def config(self) -> dict[str, Any]:
        """``GET /_sim/config``."""
        return self._call("GET", "/config")

    def seed(
        self,
        *,
        organisation: dict[str, Any] | None = None,
        account_types: list[dict[str, Any]] | None = None,
        accounts: list[dict[str, Any]] | None = None,
        catalogue: list[dict[str, Any]] | None = None,
        workloads: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``POST /_sim/seed`` (idempotent: same ids are replaced)."""
        body: dict[str, Any] = {}
        if organisation is not None:
            body["organisation"] = organisation
        if account_types is not None:
            body["account_types"] = account_types
        if accounts is not None:
            body["accounts"] = accounts
        if catalogue is not None:
            body["catalogue"] = catalogue
        if workloads is not None:
            body["workloads"] = workloads
        return self._call("POST", "/seed", body)

    # -- tasks --------------------------------------------------------------------------
    def set_task_durations(
        self,
        *,
        started: float | None = None,
        pending: float | None = None,
        running: float | None = None,
        total: float | tuple[float, float] | None = None,
        update_success_status: str | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """``PUT /_sim/tasks``: phase seconds, or ``total`` split 1:1:4 (a ``(low, high)``
        pair: each new task's total drawn uniformly from it, ``seed`` for repeatability)."""
        body: dict[str, Any] = {}
        if total is not None:
            body["total_seconds"] = list(total) if isinstance(total, tuple) else total
        if seed is not None:
            body["seed"] = seed
        for key, value in (
            ("started_seconds", started),
            ("pending_seconds", pending),
            ("running_seconds", running),
        ):
            if value is not None:
                body[key] = value
        if update_success_status is not None:
            body["update_success_status"] = update_success_status
        return self._call("PUT", "/tasks", body)

    def task_durations(self) -> dict[str, Any]:
        """``GET /_sim/tasks``."""
        return self._call("GET", "/tasks")

    def fail_next_tasks(
        self,
        count: int | None = 1,
        *,
        logs: list[str] | None = None,
        operation: str | None = None,
        name_regex: str | None = None,
    ) -> dict[str, Any]:
        """``POST /_sim/tasks/fail``: the next ``count`` matching tasks (None: all) fail."""
        body: dict[str, Any] = {"count": count, "logs": logs or []}
        match = {k: v for k, v in (("operation", operation), ("name_regex", name_regex)) if v}
        if match:
            body["match"] = match
        return self._call("POST", "/tasks/fail", body)

    def clear_task_failures(self) -> dict[str, Any]:
        """``DELETE /_sim/tasks/fail``."""
        return self._call("DELETE", "/tasks/fail")

    # -- realism ------------------------------------------------------------------------
    def set_realism(
        self,
        *,
        strict: bool | None = None,
        read_after_write_lag_seconds: float | None = None,
        null_share: float | None = None,
        seed: int | EllipsisType | None = ...,
    ) -> dict[str, Any]:
        """``PUT /_sim/realism``: only the arguments given are sent (``seed=None`` sends
        null: an unseeded RNG). Changing ``strict`` alone resets lag and null share to
        that mode's defaults."""
        body: dict[str, Any] = {}
        if strict is not None:
            body["strict"] = strict
        if read_after_write_lag_seconds is not None:
            body["read_after_write_lag_seconds"] = read_after_write_lag_seconds
        if null_share is not None:
            body["null_share"] = null_share
        if not isinstance(seed, EllipsisType):
            body["seed"] = seed
        return self._call("PUT", "/realism", body)

    def realism(self) -> dict[str, Any]:
        """``GET /_sim/realism``: ``{"strict", "read_after_write_lag_seconds",
        "null_share", "seed"}``."""
        return self._call("GET", "/realism")

    # -- faults -------------------------------------------------------------------------
    def set_faults(self, rules: list[dict[str, Any]], seed: int | None = None) -> dict[str, Any]:
        """``PUT /_sim/faults`` (replaces every rule)."""
        return self._call("PUT", "/faults", {"rules": rules, "seed": seed})

    def faults(self) -> dict[str, Any]:
        """``GET /_sim/faults``."""
        return self._call("GET", "/faults")

    def clear_faults(self) -> dict[str, Any]:
        """``DELETE /_sim/faults``."""
        return self._call("DELETE", "/faults")

    # -- observation ---------------------------------------------------------------------
    def requests(self, since: float | None = None) -> list[dict[str, Any]]:
        """``GET /_sim/requests``: the API request log (optionally from ``since`` on)."""
        params = {"since": since} if since is not None else None
        return self._call("GET", "/requests", params=params)

    def clear_requests(self) -> None:
        """``DELETE /_sim/requests``."""
        self._call("DELETE", "/requests")

    def state(self) -> dict[str, Any]:
        """``GET /_sim/state``."""
        return self._call("GET", "/state")

    def set_account_events(
        self,
        bus_name: str | None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        source: str | None = None,
    ) -> dict[str, Any]:
        """``PUT /_sim/events``: send account events to this EventBridge bus (None: stop).

        ``source``: Stax's is an ``aws.partner/stax.io/...`` partner source, which
        PutEvents refuses (on AWS and on MiniStack: only the partner delivers there), so
        a local bus takes the events under a source of its own.
        """
        body = {"bus_name": bus_name, "endpoint_url": endpoint_url, "region": region,
                "source": source}  # fmt: skip
        sent = {k: v for k, v in body.items() if v is not None}
        return self._call("PUT", "/events", sent if bus_name else {"bus_name": None})

    def stats(self, since: float | None = None) -> dict[str, Any]:
        """``GET /_sim/stats`` (task figures only for tasks created from ``since`` on)."""
        params = {"since": since} if since is not None else None
        return self._call("GET", "/stats", params=params)

    def connections(self) -> dict[str, int]:
        """``{"accepted", "tls_established"}`` from ``GET /_sim/stats`` (this client's own
        connection counts too: it is opened once and kept alive)."""
        return dict(self.stats()["connections"])
