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
