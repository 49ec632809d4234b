"""The Stax API token: two SSM SecureString parameters, read with decryption, cached.

Role: the credentials ``chalicelib.stax`` logs in with. SSM failures are told apart by
meaning: "not now" (throttling, an endpoint that does not answer) is
``StaxCredentialsUnavailable`` and retried; "not there" or "not allowed" is
``StaxCredentialsMissing``, for a person to fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import StaxCredentialsMissing, StaxCredentialsUnavailable

#: SSM error codes that say "not now" rather than "not there" (retried).
_SSM_TRANSIENT_CODES = frozenset(
    {"ThrottlingException", "InternalServerError", "InternalFailure", "ServiceUnavailable",
     "RequestTimeout", "RequestTimeoutException", "TooManyUpdates"}
)  # fmt: skip


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

    @property
    def names(self) -> tuple[str, str]:
        return self._names

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
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _SSM_TRANSIENT_CODES or code.startswith("Throttl"):
                raise StaxCredentialsUnavailable(
                    "SSM could not be asked for the Stax API token right now",
                    parameters=list(self._names),
                    aws_error=code,
                ) from None
            # Access denied, a key SSM may not use, an invalid name: a person must act.
            raise StaxCredentialsMissing(
                "Could not read the Stax API token from SSM",
                parameters=list(self._names),
                aws_error=code or type(error).__name__,
            ) from None
        except BotoCoreError as error:
            # No answer (endpoint unreachable, a timeout): nothing says the token is missing.
            raise StaxCredentialsUnavailable(
                "SSM could not be reached for the Stax API token",
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


#: Where a stage keeps its read-only token: beside the token, in a folder of its own
#: (``/stax-orchestrator/dev/stax-api-token-read-only/access-key``).
READ_ONLY_SUFFIX = "-read-only"


def read_only_names(names: tuple[str, str]) -> tuple[str, str]:
    """The read-only token's parameter names for the token's ``names``."""
    access, secret = (f"{n.rsplit('/', 1)[0]}{READ_ONLY_SUFFIX}/{n.rsplit('/', 1)[1]}"
                      for n in names)  # fmt: skip
    return access, secret


class PreferredCredentials:
    """The read-only token when the stage has one, else the token: for the functions
    that only read Stax (task status, planning, drift).

    When the deploy found a read-only token, those functions' roles may read only it, so
    a missing read-only token then fails by name rather than falling back. A read that
    fails is not tried again for ``ttl_seconds`` (one SSM call per refresh, not per use).
    """

    def __init__(
        self,
        read_only: SsmCredentials,
        token: SsmCredentials,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_only, self._token = read_only, token
        self._ttl, self._clock = ttl_seconds, clock
        self._skip_until = 0.0
        self.using_read_only: bool | None = None

    def get(self) -> StaxCredentials:
        """The read-only token, else the token.

        Raises:
            StaxCredentialsMissing: neither can be read (both named).
            StaxCredentialsUnavailable: SSM did not answer (retried).
        """
        if self._clock() >= self._skip_until:
            try:
                found = self._read_only.get()
            except StaxCredentialsMissing:
                self._skip_until = self._clock() + self._ttl
            else:
                self.using_read_only = True
                return found
        try:
            found = self._token.get()
        except StaxCredentialsMissing as error:
            raise StaxCredentialsMissing(
                "Neither the read-only Stax API token nor the token could be read from SSM",
                read_only_parameters=list(self._read_only.names),
                parameters=list(self._token.names),
                aws_error=error.details.get("aws_error"),
            ) from None
        self.using_read_only = False
        return found

    def clear(self) -> None:
        self._read_only.clear()
        self._token.clear()
        self._skip_until = 0.0
