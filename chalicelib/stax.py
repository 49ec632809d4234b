"""The only module that talks to Stax: credentials, the SDK client, typed calls.

Role: everything about ``staxapp`` lives here, so the rest of the orchestrator
deals in plain dicts and the named errors of ``chalicelib.errors``.

- The API token comes from two SSM SecureString parameters, read with
  decryption and cached per container for a TTL (``chalicelib.credentials``).
- One ``StaxGateway`` per container: the SDK client is built once and reused
  by warm invocations, so the SDK keeps its Cognito session until it nears
  expiry; the workloads and tasks clients share one login.
- One ``requests`` session per container for every Stax call (``StaxHttp``), with
  connect and read timeouts that really apply and keep-alive reuse of the TLS
  connection across warm invocations. The SDK itself builds a new session for
  every call and passes no timeout (``requests`` then ignores
  ``socket.setdefaulttimeout``); its retry rules (never a POST) are kept.
- The SDK's bundled OpenAPI document is given to the SDK pre-resolved for the
  request bodies the orchestrator sends (``prime_sdk_contract``), instead of
  letting the SDK resolve the whole 635 KB document with prance in every cold
  container. Request validation against the document stays in force.
- SDK and HTTP failures become ``StaxAuthenticationFailed``,
  ``StaxApiUnavailable``, ``WorkloadNotFound`` or ``StaxRequestRejected``.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from chalicelib.credentials import SsmCredentials, StaxCredentials
from chalicelib.errors import (
    StaxApiUnavailable,
    StaxAuthenticationFailed,
    StaxConfigurationInvalid,
    StaxPagingStalled,
    StaxRequestRejected,
    WorkloadNotFound,
)
from chalicelib.logs import log_event
from chalicelib.settings import StaxSettings

#: Workload statuses in which a workload no longer blocks its name. Only DELETED: a
#: workload whose create, update or delete failed may still have deployed resources.
NOT_LIVE_STATUSES = frozenset({"DELETED"})

#: Request bodies the orchestrator and its CLI send (component names in the document).
WRITE_COMPONENTS = (
    "workloads.CreateWorkload",
    "workloads.UpdateWorkload",
    "workloads.CreateCatalogueItem",
    "workloads.CreateCatalogueVersion",
)

_RETRYABLE_STATUSES = (429, 500, 502, 503, 504)
_ACCOUNT_FILTER_CHUNK = 50
#: What the SDK's InvalidCredentialsException says when the token itself is refused.
_REFUSED_TOKEN = ("NotAuthorizedException", "UserNotFoundException", "Please provide")


def is_live(workload: Mapping[str, Any]) -> bool:
    """A workload is live unless Stax reports it DELETED (a missing status counts as live)."""
    return str(workload.get("Status") or "") not in NOT_LIVE_STATUSES


class _RetryConfig:
    """The SDK's HTTP retry settings (the shape of ``staxapp.config.StaxAPIRetryConfig``)."""

    def __init__(self, retries: int) -> None:
        # The SDK hands this to urllib3's Retry(total=...): it counts retries, not attempts.
        self.max_attempts = retries
        self.backoff_factor = 0.5
        self.status_codes = _RETRYABLE_STATUSES
        # Only reads are retried here. The SDK never retries a POST (a lost answer must not
        # create twice); it does retry PUT and DELETE, but in Stax those are not
        # idempotent either: a PUT re-sent after a 502 that Stax had applied is refused
        # (the update's task runs), a DELETE re-sent is answered 404. A write whose answer
        # is lost is in doubt, and chalicelib.operations resolves it by reading Stax.
        self.retry_methods = ("GET",)


class StaxHttp:
    """The container's one HTTP session for Stax: pooled keep-alive connections, timeouts.

    ``timeout`` is ``(connect, read)`` seconds and applies to every request the SDK
    makes through it (the SDK passes none). Retries follow the SDK's own rules
    (``staxapp.retry``): 429/5xx and connection errors, for GET/PUT/DELETE only.
    """

    def __init__(self, connect_timeout: float, read_timeout: float, retries: int) -> None:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        retry_config = _RetryConfig(retries)
        default = (connect_timeout, read_timeout)

        class _TimeoutAdapter(HTTPAdapter):
            def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
                # Session.send passes everything by keyword; None means "the SDK set none".
                if kwargs.get("timeout") is None:
                    kwargs["timeout"] = default
                return super().send(request, **kwargs)

        retry = Retry(
            total=retry_config.max_attempts,
            read=retry_config.max_attempts,
            connect=retry_config.max_attempts,
            backoff_factor=retry_config.backoff_factor,
            status_forcelist=retry_config.status_codes,
            allowed_methods=retry_config.retry_methods,
            # As the SDK does: the last response is returned, so ApiException carries it.
            raise_on_status=False,
        )
        self.timeout = default
        self.retry_config = retry_config
        self.session = requests.Session()
        adapter = _TimeoutAdapter(max_retries=retry, pool_connections=2, pool_maxsize=4)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def get_json(self, url: str) -> Any:
        """GET an unsigned URL (the SDK's config document) through the session."""
        response = self.session.get(url)
        response.raise_for_status()
        return response.json()

    def install(self) -> None:
        """Make the SDK send every API call through this session (process-wide)."""
        from staxapp.api import Api

        session = self.session
        Api.request_session = classmethod(lambda cls, config: session)


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

    def __init__(
        self, settings: StaxSettings, credentials: StaxCredentials, http: StaxHttp | None = None
    ) -> None:
        from staxapp.config import Config
        from staxapp.openapi import StaxClient

        self.credentials = credentials
        prime_sdk_contract()
        self.http = http or StaxHttp(
            settings.http_connect_timeout_seconds,
            settings.http_timeout_seconds,
            settings.http_retries,
        )
        self.http.install()
        config = Config(
            hostname=settings.hostname,
            access_key=credentials.access_key,
            secret_key=credentials.secret_key,
            api_retry_config=self.http.retry_config,
        )
        with translate_errors("connect"):
            api_config = _prefetch_api_config(self.http, settings.hostname)
            self._workloads = StaxClient("workloads", config=config)
            self._tasks = StaxClient("tasks", config=config)
        # One login for both clients: the SDK caches the Cognito session on the config.
        self._tasks._config = self._workloads._config
        self._accounts: Any = None  # built on first use: most containers never need it
        # The SDK's own Cognito clients have botocore's 60 s timeouts; ours are bounded.
        self._workloads._config._requests_auth = _bounded_login(
            api_config, settings.http_connect_timeout_seconds, settings.http_timeout_seconds
        )

    # -- workloads ---------------------------------------------------------------
    def find_workloads_by_name(self, name: str) -> list[dict[str, Any]]:
        """Workloads named exactly ``name`` (one ReadWorkloads call with ``name=``; no tags)."""
        with translate_errors("ReadWorkloads"):
            response = self._workloads.ReadWorkloads(name=name)
        return [w for w in response.get("Workloads") or [] if w.get("Name") == name]

    def read_workload(self, workload_id: str, include_tags: bool = False) -> dict[str, Any]:
        """One workload by id; its ``Tags`` only with ``include_tags`` (the document's
        default is false, and even then ``Tags`` may be null).

        Raises: WorkloadNotFound (404, or an empty answer).
        """
        query = {"include_tags": "true"} if include_tags else {}
        with translate_errors("ReadWorkloads", workload_id=workload_id):
            response = self._workloads.ReadWorkloads(workload_id=workload_id, **query)
        workloads = [w for w in response.get("Workloads") or [] if w.get("Id") == workload_id]
        if not workloads:
            raise WorkloadNotFound("Stax has no workload with this id", workload_id=workload_id)
        return dict(workloads[0])

    def list_workloads(self, page_size: int = 100, **filters: str) -> Iterator[dict[str, Any]]:
        """Every workload matching ``filters``, following ``Paging.NextOffset``.

        Raises:
            StaxPagingStalled: a page's NextOffset does not advance.
        """
        read = functools.partial(self._workloads.ReadWorkloads, **filters, limit=page_size)
        for response in pages("ReadWorkloads", read):
            yield from response.get("Workloads") or []

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

    # -- accounts ----------------------------------------------------------------
    def accounts_with_aws_numbers(
        self, numbers: Iterable[str], page_size: int = 100
    ) -> list[dict[str, Any]]:
        """Stax accounts whose ``AwsAccountId`` is one of ``numbers`` (ReadAccounts with
        ``aws_account_id_filter``, every page).

        Only accounts that carry the number themselves count: the document leaves
        ``AwsAccountId`` optional, and an installation that ignored the filter must not
        make every account match.
        """
        wanted = sorted(set(numbers))
        found: list[dict[str, Any]] = []
        # A few dozen numbers per call keep the query string far below URL length limits.
        for start in range(0, len(wanted), _ACCOUNT_FILTER_CHUNK):
            chunk = wanted[start : start + _ACCOUNT_FILTER_CHUNK]
            read = functools.partial(
                self._accounts_client().ReadAccounts,
                aws_account_id_filter=",".join(chunk),
                limit=page_size,
            )
            for response in pages("ReadAccounts", read):
                accounts = response.get("Accounts") or []
                found.extend(a for a in accounts if a.get("AwsAccountId") in chunk)
        return found

    def list_accounts(self, page_size: int = 100, **filters: str) -> Iterator[dict[str, Any]]:
        """Every Stax account matching ``filters`` (ReadAccounts: ``account_type_filter``,
        ``account_names``, ``id_filter``, ``filter`` for statuses), following
        ``Paging.NextOffset``.

        Raises:
            StaxPagingStalled: a page's NextOffset does not advance.
        """
        read = functools.partial(self._accounts_client().ReadAccounts, **filters, limit=page_size)
        for response in pages("ReadAccounts", read):
            yield from response.get("Accounts") or []

    def list_account_types(self) -> list[dict[str, Any]]:
        """The organisation's account types (ReadAccountTypes: ``Id``, ``Name``, ``Status``)."""
        with translate_errors("ReadAccountTypes"):
            response = self._accounts_client().ReadAccountTypes()
        return [dict(t) for t in response.get("AccountTypes") or []]

    def _accounts_client(self) -> Any:
        if self._accounts is None:
            from staxapp.openapi import StaxClient

            with translate_errors("connect"):
                client = StaxClient("accounts", config=self._workloads._config)
            client._config = self._workloads._config  # the same login
            self._accounts = client
        return self._accounts

    # -- tasks -------------------------------------------------------------------
    def read_task(self, task_id: str) -> dict[str, Any]:
        """ReadTask: ``{"Status", "Logs", ...}``."""
        with translate_errors("ReadTask", task_id=task_id):
            return dict(self._tasks.ReadTask(task_id=task_id))


def pages(call: str, read: Callable[..., Any]) -> Iterator[Any]:
    """Every page of a paged Stax read: ``read(offset=...)`` from 0, then each answer's
    ``Paging.NextOffset`` until there is none.

    The document calls ``offset`` a page number in one place and a record offset in
    another, so the value Stax gives is sent back as it is, never computed; but it must
    move forward: a page naming an offset it already served would loop for ever.

    Raises:
        StaxPagingStalled: a NextOffset that is not a number past every offset served.
        as ``translate_errors`` for ``call``.
    """
    offset = 0
    while True:
        with translate_errors(call):
            response = read(offset=offset)
        yield response
        given = (response.get("Paging") or {}).get("NextOffset")
        if given in (None, "", 0):
            return
        try:
            following = int(given)
        except (TypeError, ValueError):
            following = -1
        if following <= offset:
            raise StaxPagingStalled(
                f"Stax's {call} answered NextOffset {given!r} after offset {offset}: the pages "
                "do not advance, so reading them would never end",
                call=call, offset=offset, next_offset=str(given),
            )  # fmt: skip
        offset = following


def _prefetch_api_config(http: StaxHttp, hostname: str) -> dict[str, Any]:
    """Fetch ``/public/config`` through our session and hand it to the SDK's cache.

    The SDK would fetch it with a bare ``requests.get`` (no timeout, a new connection).
    """
    from staxapp.config import Config

    url = f"https://{hostname}/{Config.API_VERSION}/public/config"
    if Config.cached_api_config.get("caching") != url:
        body = dict(http.get_json(url))
        Config.cached_api_config = {**body, "caching": url}
    return dict(Config.cached_api_config)


def _bounded_login(
    api_config: Mapping[str, Any], connect_timeout: float, read_timeout: float
) -> Callable[..., Any]:
    """The SDK's API-token login, with Cognito clients whose timeouts are bounded.

    The clients are built at the first login of the container and reused by later ones
    (the SDK builds new ones every time it logs in).
    """
    from staxapp.auth import ApiTokenAuth

    clients: dict[str, Any] = {}

    def login(config: Any, **kwargs: Any) -> Any:
        if not clients:
            import boto3
            from botocore import UNSIGNED
            from botocore.config import Config as BotoConfig

            boto_config = BotoConfig(
                signature_version=UNSIGNED,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"max_attempts": 3, "mode": "standard"},
            )
            region = (api_config.get("ApiAuth") or {}).get("region")
            for name, service in (
                ("srp_client", "cognito-idp"),
                ("cognito_client", "cognito-identity"),
            ):
                clients[name] = boto3.client(service, region_name=region, config=boto_config)
        return ApiTokenAuth.requests_auth(config, **clients, **kwargs)

    return functools.wraps(ApiTokenAuth.requests_auth)(login)


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
        if status == 403 and call == "DeleteWorkload" and "protect" in stax_error.lower():
            # The document lists 403 for a protected workload; only when Stax says that is
            # it about protection. Any other 403 is the API refusing the signed request.
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
                "Stax is unavailable",
                call=call,
                status=status,
                stax_error=stax_error,
                # Throttling (429) refuses a request before it is applied; a 5xx may come
                # after the write was applied, so a write answered 5xx stays in doubt.
                not_sent=True if status == 429 else None,
                **context,
            ) from None
        raise StaxRequestRejected(
            "Stax rejected the request", call=call, status=status, stax_error=stax_error, **context
        ) from None
    except _configuration_errors() as error:
        raise StaxConfigurationInvalid(
            "The Stax endpoint cannot be used as configured",
            call=call,
            reason=type(error).__name__,
            detail=str(error)[:300],
            **context,
        ) from None
    except (requests.RequestException, BotoCoreError, OSError) as error:
        raise StaxApiUnavailable(
            "Could not reach Stax",
            call=call,
            reason=type(error).__name__,
            not_sent=True if _never_sent(error) else None,
            **context,
        ) from None


def _configuration_errors() -> tuple[type[BaseException], ...]:
    """Failures no retry can fix: TLS verification, a URL that cannot be requested."""
    import requests

    return (
        requests.exceptions.SSLError,
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
        requests.exceptions.InvalidHeader,
    )


def _never_sent(error: BaseException) -> bool:
    """Did the request fail before any byte of it could reach Stax (no connection made)?

    A read timeout, or a connection dropped after the request went out, leaves a write in
    doubt; a refused or timed-out connection does not.
    """
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, ConnectionRefusedError)):
            return True
        reason = getattr(current, "reason", None)
        nested = reason if isinstance(reason, BaseException) else None
        args = [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        current = nested or (args[0] if args else None) or current.__cause__ or current.__context__
    return False


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
