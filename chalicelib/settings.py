"""Configuration of the Lambdas: every environment variable name in one place.

Precedence everywhere: explicit argument > environment variable > default.
Nothing is read at import time: each getter reads ``os.environ`` (or the
mapping it is given) when called, so tests and warm containers see changes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.polling import PollSchedule

# Environment variable names.
STAX_REGION = "STAX_REGION"
STAX_API_HOST = "STAX_API_HOST"
ACCESS_KEY_PARAMETER = "STAX_ACCESS_KEY_PARAMETER"
SECRET_KEY_PARAMETER = "STAX_SECRET_KEY_PARAMETER"  # noqa: S105 - a variable name
ARTIFACT_BUCKET_PARAMETER = "STAX_ARTIFACT_BUCKET_PARAMETER"
CREDENTIALS_TTL = "STAX_CREDENTIALS_TTL_SECONDS"
HTTP_TIMEOUT = "STAX_HTTP_TIMEOUT_SECONDS"
HTTP_RETRIES = "STAX_HTTP_RETRIES"

# Defaults.
DEFAULT_STAX_REGION = "au1.staxapp.cloud"
STAX_INSTALLATIONS = ("au1.staxapp.cloud", "us1.staxapp.cloud", "eu1.staxapp.cloud")
DEFAULT_ACCESS_KEY_PARAMETER = "/orchestrator/stax/access/key"
DEFAULT_SECRET_KEY_PARAMETER = "/orchestrator/stax/access/key/secret"  # noqa: S105 - a name
DEFAULT_ARTIFACT_BUCKET_PARAMETER = "/orchestrator/stax/artifact/bucket/name"
# Long enough that warm invocations skip SSM, short enough that a rotated token
# is picked up within minutes.
DEFAULT_CREDENTIALS_TTL = 300.0
# The SDK sets no timeout on its HTTP calls; a hung connection would otherwise
# run until the Lambda timeout.
DEFAULT_HTTP_TIMEOUT = 15.0
# The SDK's own retries (on 429/5xx for GET/PUT/DELETE) before Step Functions'
# Retry takes over; kept small so a Lambda never spends long sleeping.
DEFAULT_HTTP_RETRIES = 2


@dataclass(frozen=True)
class StaxSettings:
    """Where Stax is and where its API token lives."""

    hostname: str
    access_key_parameter: str
    secret_key_parameter: str
    credentials_ttl_seconds: float
    http_timeout_seconds: float
    http_retries: int


def _get(environ: Mapping[str, str] | None, name: str, default: str) -> str:
    env = os.environ if environ is None else environ
    value = env.get(name, "").strip()
    return value or default


def _number(environ: Mapping[str, str] | None, name: str, default: float) -> float:
    raw = _get(environ, name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


def stax_hostname(environ: Mapping[str, str] | None = None) -> str:
    """The Stax API host: ``STAX_API_HOST`` when set, else ``api.<STAX_REGION>``.

    Raises:
        ValueError: ``STAX_REGION`` names no Stax installation.
    """
    host = _get(environ, STAX_API_HOST, "")
    if host:
        return host
    region = _get(environ, STAX_REGION, DEFAULT_STAX_REGION)
    if region not in STAX_INSTALLATIONS:
        raise ValueError(f"{STAX_REGION} must be one of {', '.join(STAX_INSTALLATIONS)}")
    return f"api.{region}"


def stax_settings(environ: Mapping[str, str] | None = None) -> StaxSettings:
    """Read the Stax settings now (not at import)."""
    return StaxSettings(
        hostname=stax_hostname(environ),
        access_key_parameter=_get(environ, ACCESS_KEY_PARAMETER, DEFAULT_ACCESS_KEY_PARAMETER),
        secret_key_parameter=_get(environ, SECRET_KEY_PARAMETER, DEFAULT_SECRET_KEY_PARAMETER),
        credentials_ttl_seconds=_number(environ, CREDENTIALS_TTL, DEFAULT_CREDENTIALS_TTL),
        http_timeout_seconds=_number(environ, HTTP_TIMEOUT, DEFAULT_HTTP_TIMEOUT),
        http_retries=int(_number(environ, HTTP_RETRIES, DEFAULT_HTTP_RETRIES)),
    )


def artifact_bucket_parameter(environ: Mapping[str, str] | None = None) -> str:
    return _get(environ, ARTIFACT_BUCKET_PARAMETER, DEFAULT_ARTIFACT_BUCKET_PARAMETER)


def poll_schedule(environ: Mapping[str, str] | None = None) -> PollSchedule:
    """The task watcher's polling schedule (see ``chalicelib.polling``)."""
    return PollSchedule.from_env(os.environ if environ is None else environ)
