"""The only module that talks to Stax: credentials, the SDK client, typed calls.

Role: everything about ``staxapp`` lives here, so the rest of the orchestrator
deals in plain dicts and the named errors of ``chalicelib.errors``.

- The API token comes from two SSM SecureString parameters, read with
  decryption and cached per container for a TTL (``SsmCredentials``).
- One ``StaxGateway`` per container: the SDK client is built once and reused
  by warm invocations, so the SDK keeps its Cognito session until it nears
  expiry; the workloads and tasks clients share one login.
- The SDK's bundled OpenAPI document is given to the SDK pre-resolved for the
  request bodies the orchestrator sends (``prime_sdk_contract``), instead of
  letting the SDK resolve the whole 635 KB document with prance in every cold
  container. Request validation against the document stays in force.
- SDK and HTTP failures become ``StaxAuthenticationFailed``,
  ``StaxApiUnavailable``, ``WorkloadNotFound`` or ``StaxRequestRejected``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import (
    StaxApiUnavailable,
    StaxAuthenticationFailed,
    StaxCredentialsMissing,
    StaxRequestRejected,
    WorkloadNotFound,
)
from chalicelib.logs import log_event
from chalicelib.settings import StaxSettings

#: Workload statuses in which a workload no longer blocks its name.
NOT_LIVE_STATUSES = frozenset({"DELETED", "CREATE_FAILED", "DELETE_FAILED", "UPDATE_FAILED"})

#: Request bodies the orchestrator and its CLI send (component names in the document).
WRITE_COMPONENTS = (
    "workloads.CreateWorkload",
    "workloads.UpdateWorkload",
    "workloads.CreateCatalogueItem",
    "workloads.CreateCatalogueVersion",
)

_RETRYABLE_STATUSES = (429, 500, 502, 503, 504)
#: What the SDK's InvalidCredentialsException says when the token itself is refused.
_REFUSED_TOKEN = ("NotAuthorizedException", "UserNotFoundException", "Please provide")


def is_live(workload: Mapping[str, Any]) -> bool:
    """A workload is live unless it is DELETED or in a *_FAILED status."""
    return str(workload.get("Status", "")) not in NOT_LIVE_STATUSES


@dataclass(frozen=True)
class StaxCredentials:
    """A Stax API token. The secret never shows in ``repr`` or logs."""

    access_key: str
    secret_key: str = field(repr=False)


class SsmCredentials:
    """Reads the API token from SSM SecureString parameters, cached for a TTL."""

    def __init__(
        self,
        ssm_client_factory: Callable[[], Any],
        access_key_parameter: str,
        secret_key_parameter: str,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ssm_client_factory = ssm_client_factory
        self._names = (access_key_parameter, secret_key_parameter)
        self._ttl = ttl_seconds
        self._clock = clock
        self._cached: StaxCredentials | None = None
        self._read_at = 0.0
        self.reads = 0

    def get(self) -> StaxCredentials:
        """The token, from cache while fresh.

        Raises:
            StaxCredentialsMissing: a parameter is missing, empty or unreadable.
        """
        now = self._clock()
        if self._cached is not None and now - self._read_at < self._ttl:
            return self._cached
        self._cached = self._read()
        self._read_at = now
        return self._cached

    def _read(self) -> StaxCredentials:
        from botocore.exceptions import BotoCoreError, ClientError

        self.reads += 1
        try:
            response = self._ssm_client_factory().get_parameters(
                Names=list(self._names), WithDecryption=True
            )
        except (ClientError, BotoCoreError) as error:
            raise StaxCredentialsMissing(
                "Could not read the Stax API token from SSM",
                parameters=list(self._names),
                aws_error=type(error).__name__,
            ) from None
        values = {p["Name"]: p.get("Value", "") for p in response.get("Parameters", [])}
        missing = [name for name in self._names if not values.get(name)]
        if missing:
            raise StaxCredentialsMissing(
                "The Stax API token is not stored in SSM", missing_parameters=missing
            )
        return StaxCredentials(values[self._names[0]], values[self._names[1]])

    def clear(self) -> None:
        """Forget the cached token: the next ``get`` reads SSM again."""
        self._cached = None


class _RetryConfig:
    """The SDK's HTTP retry settings (the shape of ``staxapp.config.StaxAPIRetryConfig``)."""

    def __init__(self, retries: int) -> None:
        # The SDK hands this to urllib3's Retry(total=...): it counts retries, not attempts.
        self.max_attempts = retries
        self.backoff_factor = 0.5
        self.status_codes = _RETRYABLE_STATUSES
        # POST is never retried by the SDK: a lost response must not create twice.
        self.retry_methods = ("GET", "PUT", "DELETE")


_prime_lock = threading.Lock()


def _resolve(node: Any, components: Mapping[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline ``#/components/schemas/...`` references (cycles are left as ``{}``)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[-1]
            if name in seen:
                return {}
            return _resolve(components[name], components, (*seen, name))
        return {key: _resolve(value, components, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, components, seen) for item in node]
    return node


def resolve_components(document: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The named component schemas of ``document`` with every reference inlined."""
    components = document["components"]["schemas"]
    return {name: _resolve(components[name], components, (name,)) for name in names}


def prime_sdk_contract() -> None:
    """Give the SDK its operation map and a pre-resolved contract, once per process.

    The SDK would otherwise resolve its whole bundled document with prance
    when the first client is built (seconds of CPU and tens of MB in a cold
    Lambda). It validates a request body only against the component named by
    the operation, so resolving exactly those components gives the same
    validation at a fraction of the cost.
    """
    from staxapp.config import Config
    from staxapp.contract import StaxContract
    from staxapp.openapi import StaxClient

    with _prime_lock:
        # The document bundled with the pinned SDK, never a live download at cold start.
        Config.load_live_schema = False
        if StaxClient._operation_map and StaxContract._resolved_schema is not None:
            return
        # Builds the operation map from the bundled document (a JSON load, no prance).
        StaxClient._map_paths_to_operations()
        StaxContract._swagger_doc = StaxClient._schema
        StaxContract._resolved_schema = {
            "components": {"schemas": resolve_components(StaxClient._schema, WRITE_COMPONENTS)}
        }


class StaxGateway:
    """Typed Stax calls through one reused SDK client. Built once per container."""

    def __init__(self, settings: StaxSettings, credentials: StaxCredentials) -> None:
        from staxapp.config import Config
        from staxapp.openapi import StaxClient

        self.credentials = credentials
        prime_sdk_contract()
        # The SDK sets no timeout on its requests; a socket default bounds them
        # (urllib3 falls back to it). Process-wide, which is what a Lambda wants.
        socket.setdefaulttimeout(settings.http_timeout_seconds)
        config = Config(
            hostname=settings.hostname,
            access_key=credentials.access_key,
            secret_key=credentials.secret_key,
            api_retry_config=_RetryConfig(settings.http_retries),
        )
        with translate_errors("connect"):
            self._workloads = StaxClient("workloads", config=config)
            self._tasks = StaxClient("tasks", config=config)
        # One login for both clients: the SDK caches the Cognito session on the config.
        self._tasks._config = self._workloads._config

    # -- workloads ---------------------------------------------------------------
    def find_workloads_by_name(self, name: str) -> list[dict[str, Any]]:
        """Workloads named exactly ``name`` (one ReadWorkloads call with ``name=``)."""
        with translate_errors("ReadWorkloads"):
            response = self._workloads.ReadWorkloads(name=name)
        return [w for w in response.get("Workloads", []) if w.get("Name") == name]

    def read_workload(self, workload_id: str) -> dict[str, Any]:
        """Raises: WorkloadNotFound."""
        with translate_errors("ReadWorkloads", workload_id=workload_id):
            response = self._workloads.ReadWorkloads(workload_id=workload_id)
        workloads = response.get("Workloads", [])
        if not workloads:
            raise WorkloadNotFound("Stax has no workload with this id", workload_id=workload_id)
        return dict(workloads[0])

    def list_workloads(self, page_size: int = 100, **filters: str) -> Iterator[dict[str, Any]]:
        """Every workload matching ``filters``, following ``Paging.NextOffset``."""
        offset: int | None = 0
        while offset is not None:
            with translate_errors("ReadWorkloads"):
                response = self._workloads.ReadWorkloads(**filters, limit=page_size, offset=offset)
            yield from response.get("Workloads", [])
            next_offset = (response.get("Paging") or {}).get("NextOffset")
            offset = int(next_offset) if next_offset not in (None, "", 0) else None

    def create_workload(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /workloads with a ``workloads.CreateWorkload`` body; returns the event."""
        with translate_errors("CreateWorkload"):
            return dict(self._workloads.CreateWorkload(**body))

    def update_workload(self, workload_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Raises: WorkloadNotFound."""
        with translate_errors("UpdateWorkload", workload_id=workload_id):
            return dict(self._workloads.UpdateWorkload(workload_id=workload_id, **body))

    def delete_workload(self, workload_id: str) -> dict[str, Any]:
        """Raises: WorkloadNotFound."""
        with translate_errors("DeleteWorkload", workload_id=workload_id):
            return dict(self._workloads.DeleteWorkload(workload_id=workload_id))

    # -- catalogue ---------------------------------------------------------------
    def list_catalogue(
        self,
        catalogue_id: str | None = None,
        include_versions: bool = False,
        name: str | None = None,
    ) -> list[dict[str, Any]]:
        """Catalogue items (all, the one ``catalogue_id``, or those named ``name``)."""
        query = {"include_versions": "true"} if include_versions else {}
        if catalogue_id:
            query["catalogue_id"] = catalogue_id
        if name:
            query["name"] = name
        with translate_errors("ReadCatalogueItems"):
            response = self._workloads.ReadCatalogueItems(**query)
        return [
            item
            for group in response.get("WorkloadCatalogues", [])
            for item in group.get("WorkloadCatalogueItems", [])
        ]

    def create_catalogue_item(self, body: dict[str, Any]) -> dict[str, Any]:
        with translate_errors("CreateCatalogueItem"):
            return dict(self._workloads.CreateCatalogueItem(**body))

    def create_catalogue_version(self, catalogue_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with translate_errors("CreateCatalogueVersion", catalogue_id=catalogue_id):
            return dict(self._workloads.CreateCatalogueVersion(catalogue_id=catalogue_id, **body))

    # -- tasks -------------------------------------------------------------------
    def read_task(self, task_id: str) -> dict[str, Any]:
        """ReadTask: ``{"Status", "Logs", ...}``."""
        with translate_errors("ReadTask", task_id=task_id):
            return dict(self._tasks.ReadTask(task_id=task_id))


def _stax_error_text(error: Any) -> str:
    body = getattr(error, "response", None)
    if isinstance(body, dict):
        return str(body.get("Error") or body.get("message") or json.dumps(body))[:500]
    return str(getattr(error, "message", error))[:500]


@contextmanager
def translate_errors(call: str, **context: str) -> Iterator[None]:
    """Turn SDK, HTTP and Cognito failures into the orchestrator's named errors."""
    import requests
    from botocore.exceptions import BotoCoreError
    from staxapp.exceptions import (
        ApiException,
        InvalidCredentialsException,
        ValidationException,
    )

    try:
        yield
    except InvalidCredentialsException as error:
        text = str(error)
        if not any(reason in text for reason in _REFUSED_TOKEN):
            # The SDK reports any Cognito hiccup (throttling, a service error, its own
            # retries running out) with the same class: those are worth a retry.
            raise StaxApiUnavailable(
                "The Stax login (Cognito) failed", call=call, stax_error=text[:500]
            ) from None
        raise StaxAuthenticationFailed(
            "Stax refused the API token", call=call, stax_error=text[:500]
        ) from None
    except ValidationException as error:
        raise StaxRequestRejected(
            "The request does not match the Stax API document",
            call=call,
            stax_error=str(error.message)[:500],
            **context,
        ) from None
    except ApiException as error:
        status = int(getattr(error, "status_code", 0) or 0)
        stax_error = _stax_error_text(error)
        if status == 403 and call == "DeleteWorkload":
            raise StaxRequestRejected(
                "Stax refused to delete the workload: it is protected",
                call=call,
                status=status,
                stax_error=stax_error,
                hint="Update the workload with protection: false first.",
                **context,
            ) from None
        if status in (401, 403):
            raise StaxAuthenticationFailed(
                "Stax refused the signed request", call=call, status=status, stax_error=stax_error
            ) from None
        if status == 404 and "workload_id" in context:
            raise WorkloadNotFound(
                "Stax has no workload with this id", call=call, stax_error=stax_error, **context
            ) from None
        if status in _RETRYABLE_STATUSES or status >= 500:
            raise StaxApiUnavailable(
                "Stax is unavailable", call=call, status=status, stax_error=stax_error, **context
            ) from None
        raise StaxRequestRejected(
            "Stax rejected the request", call=call, status=status, stax_error=stax_error, **context
        ) from None
    except (requests.RequestException, BotoCoreError, OSError) as error:
        raise StaxApiUnavailable(
            "Could not reach Stax", call=call, reason=type(error).__name__, **context
        ) from None


class StaxAccess:
    """Per-container holder of the credentials cache and the one reused gateway.

    The gateway is rebuilt only when the token in SSM changed (rotation) or
    after Stax refused it, so warm invocations make no SSM or Cognito calls.
    """

    def __init__(
        self,
        settings: StaxSettings,
        credentials: SsmCredentials,
        gateway_factory: Callable[[StaxSettings, StaxCredentials], StaxGateway] = StaxGateway,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self._gateway_factory = gateway_factory
        self._gateway: StaxGateway | None = None
        self.gateways_built = 0

    def gateway(self) -> StaxGateway:
        """The container's gateway, built on first use.

        Raises:
            StaxCredentialsMissing, StaxAuthenticationFailed, StaxApiUnavailable.
        """
        credentials = self.credentials.get()
        if self._gateway is None or self._gateway.credentials != credentials:
            reason = "first use" if self._gateway is None else "token changed"
            self._gateway = self._gateway_factory(self.settings, credentials)
            self.gateways_built += 1
            log_event("stax_client_built", host=self.settings.hostname, reason=reason)
        return self._gateway

    @contextmanager
    def session(self) -> Iterator[StaxGateway]:
        """The gateway for one invocation; a refused token is forgotten.

        After ``StaxAuthenticationFailed`` the next invocation reads SSM again
        and logs in afresh (the token may have been fixed in the meantime).
        """
        try:
            yield self.gateway()
        except StaxAuthenticationFailed:
            self._gateway = None
            self.credentials.clear()
            raise
