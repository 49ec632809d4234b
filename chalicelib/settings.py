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
HTTP_CONNECT_TIMEOUT = "STAX_HTTP_CONNECT_TIMEOUT_SECONDS"
HTTP_TIMEOUT = "STAX_HTTP_TIMEOUT_SECONDS"
HTTP_RETRIES = "STAX_HTTP_RETRIES"
COORDINATION_TABLE = "STAX_COORDINATION_TABLE"
WRITE_SETTLE = "STAX_WRITE_SETTLE_SECONDS"
VISIBILITY_GRACE = "STAX_VISIBILITY_GRACE_SECONDS"
ALERT_TOPIC_NAME = "STAX_ALERT_TOPIC_NAME"
ACCOUNT_BASELINE_MACHINE = "STAX_ACCOUNT_BASELINE_MACHINE"
MAX_ACCOUNT_BASELINES = "STAX_MAX_ACCOUNT_BASELINES"
STATUS_EVENTS_BUS = "STAX_STATUS_EVENTS_BUS"
LOG_LEVEL = "LOG_LEVEL"

#: The tag every workload of a baseline carries; its value is the baseline's name. It is
#: how ``plan`` recognises the workloads a baseline owns (and orphans it left behind), and
#: what a create records on its name claim (the inventory's baseline). Not under
#: ``stax-orchestrator:``: that prefix is reserved, and the workload rules that judge every
#: request of an apply refuse it in a request's tags. Adding this tag by hand to a
#: workload is how a team hands an existing workload to a baseline.
BASELINE_TAG = "orchestrator:baseline"

# Defaults.
DEFAULT_STAX_REGION = "au1.staxapp.cloud"
STAX_INSTALLATIONS = ("au1.staxapp.cloud", "us1.staxapp.cloud", "eu1.staxapp.cloud")
DEFAULT_ACCESS_KEY_PARAMETER = "/orchestrator/stax/access/key"
DEFAULT_SECRET_KEY_PARAMETER = "/orchestrator/stax/access/key/secret"  # noqa: S105 - a name
DEFAULT_ARTIFACT_BUCKET_PARAMETER = "/orchestrator/stax/artifact/bucket/name"
# Long enough that warm invocations skip SSM, short enough that a rotated token
# is picked up within minutes.
DEFAULT_CREDENTIALS_TTL = 300.0
# The SDK sets no timeout on its HTTP calls (it passes none to requests, which then
# ignores socket.setdefaulttimeout): a held connection would run until the Lambda dies.
# The orchestrator's own session applies these to every Stax call.
DEFAULT_HTTP_CONNECT_TIMEOUT = 5.0
DEFAULT_HTTP_TIMEOUT = 15.0
# The SDK's own retries (on 429/5xx for GET/PUT/DELETE) before Step Functions'
# Retry takes over; kept small so a Lambda never spends long sleeping.
DEFAULT_HTTP_RETRIES = 2
# How long after the client gave up a write may still be applied by Stax. The Stax API
# document promises nothing; a minute is what has been seen.
DEFAULT_WRITE_SETTLE = 60.0
# How long a workload or task Stax just created may answer 404 (read-after-write lag)
# before the 404 is believed.
DEFAULT_VISIBILITY_GRACE = 120.0
# How many account baselines may run at once (a burst of new accounts waits in the account
# events queue): enough to baseline 300 new accounts in well under an hour, few enough
# that their Stax writes leave room for everyone else's (the fleets' own concurrency
# bounds each one's writes).
DEFAULT_MAX_ACCOUNT_BASELINES = 10
# The account events queue's redrive policy: after this many receives a message that
# keeps failing moves to the dead-letter queue (the starter alerts on the last one).
ACCOUNT_EVENTS_MAX_RECEIVES = 5
DEFAULT_LOG_LEVEL = "INFO"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class StaxSettings:
    """Where Stax is and where its API token lives."""

    hostname: str
    access_key_parameter: str
    secret_key_parameter: str
    credentials_ttl_seconds: float
    http_connect_timeout_seconds: float
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
        http_connect_timeout_seconds=_number(
            environ, HTTP_CONNECT_TIMEOUT, DEFAULT_HTTP_CONNECT_TIMEOUT
        ),
        http_timeout_seconds=_number(environ, HTTP_TIMEOUT, DEFAULT_HTTP_TIMEOUT),
        http_retries=int(_number(environ, HTTP_RETRIES, DEFAULT_HTTP_RETRIES)),
    )


@dataclass(frozen=True)
class CoordinationSettings:
    """Where the coordination store is, and how long a write may stay in doubt."""

    table_name: str
    write_settle_seconds: float
    visibility_grace_seconds: float


def coordination_settings(environ: Mapping[str, str] | None = None) -> CoordinationSettings:
    """Read the coordination settings now.

    Raises:
        ValueError: ``STAX_COORDINATION_TABLE`` is not set (``deploy.sh`` sets it per stage).
    """
    table = _get(environ, COORDINATION_TABLE, "")
    if not table:
        raise ValueError(
            f"{COORDINATION_TABLE} is not set: it names the stage's DynamoDB table "
            "(set in .chalice/config.json, created by deploy.sh)"
        )
    return CoordinationSettings(
        table_name=table,
        write_settle_seconds=_number(environ, WRITE_SETTLE, DEFAULT_WRITE_SETTLE),
        visibility_grace_seconds=_number(environ, VISIBILITY_GRACE, DEFAULT_VISIBILITY_GRACE),
    )


def alert_topic_name(environ: Mapping[str, str] | None = None) -> str:
    """The stage's alert topic (its name; the ARN follows from the publishing function's).

    Raises:
        ValueError: ``STAX_ALERT_TOPIC_NAME`` is not set (``.chalice/config.json`` sets it).
    """
    name = _get(environ, ALERT_TOPIC_NAME, "")
    if not name:
        raise ValueError(f"{ALERT_TOPIC_NAME} is not set: it names the stage's SNS alert topic")
    return name


def account_baseline_machine(environ: Mapping[str, str] | None = None) -> str:
    """The name of the stage's account baseline state machine.

    Raises:
        ValueError: ``STAX_ACCOUNT_BASELINE_MACHINE`` is not set (``.chalice/config.json``).
    """
    name = _get(environ, ACCOUNT_BASELINE_MACHINE, "")
    if not name:
        raise ValueError(
            f"{ACCOUNT_BASELINE_MACHINE} is not set: it names the stage's account baseline machine"
        )
    return name


def status_events_bus(environ: Mapping[str, str] | None = None) -> str:
    """The bus the orchestrator's own status events go to (the account's default bus
    unless ``STAX_STATUS_EVENTS_BUS`` names another)."""
    return _get(environ, STATUS_EVENTS_BUS, "default").strip() or "default"


def stage_prefix(function_name: str, function: str) -> str:
    """``stax-orchestrator-<stage>`` from a function's own name (Chalice names it
    ``<prefix>-<function>``)."""
    return function_name.removesuffix(f"-{function}")


def max_account_baselines(environ: Mapping[str, str] | None = None) -> int:
    """How many account baselines run at once (``STAX_MAX_ACCOUNT_BASELINES``, 1-1000).

    Raises:
        ValueError: not a whole number from 1 to 1000.
    """
    raw = _get(environ, MAX_ACCOUNT_BASELINES, str(DEFAULT_MAX_ACCOUNT_BASELINES)).strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ValueError(f"{MAX_ACCOUNT_BASELINES} must be a whole number from 1 to 1000: {raw!r}")
    return int(raw)


def artifact_bucket_parameter(environ: Mapping[str, str] | None = None) -> str:
    return _get(environ, ARTIFACT_BUCKET_PARAMETER, DEFAULT_ARTIFACT_BUCKET_PARAMETER)


def poll_schedule(environ: Mapping[str, str] | None = None) -> PollSchedule:
    """The task watcher's polling schedule (see ``chalicelib.polling``)."""
    return PollSchedule.from_env(os.environ if environ is None else environ)


def log_level(environ: Mapping[str, str] | None = None) -> str:
    """``LOG_LEVEL`` (case-insensitive), default INFO.

    Raises:
        ValueError: the value names no level (a typo would otherwise silence the logs).
    """
    environ = os.environ if environ is None else environ
    value = (environ.get(LOG_LEVEL) or DEFAULT_LOG_LEVEL).strip().upper()
    if value not in LOG_LEVELS:
        raise ValueError(
            f"{LOG_LEVEL}={value!r} is not a level: use one of {', '.join(LOG_LEVELS)}"
        )
    return value


def account_of(function_arn: str | None) -> str | None:
    """The account a Lambda runs in, from its own ARN (``context.invoked_function_arn``):
    the owner every S3 call on the stage's bucket expects (``ExpectedBucketOwner``). None
    when there is no ARN (``chalice invoke`` and other in-process runs give '')."""
    parts = (function_arn or "").split(":")
    return parts[4] if len(parts) > 4 and parts[4].isdigit() else None


def sibling_arn(function_arn: str, service: str, resource: str) -> str:
    """The ARN of a resource of the stage, in the partition, region and account of the
    function asking (``context.invoked_function_arn``)."""
    parts = function_arn.split(":")
    return f"arn:{parts[1]}:{service}:{parts[3]}:{parts[4]}:{resource}"


def workload_secrets_prefix(environ: Mapping[str, str] | None = None) -> str:
    """The SSM folder of the stage's workload secrets (``{"ssm": NAME}`` parameter values),
    beside its API token parameters (``chalicelib.secrets.secrets_prefix``)."""
    from chalicelib.secrets import secrets_prefix

    return secrets_prefix(_get(environ, ACCESS_KEY_PARAMETER, DEFAULT_ACCESS_KEY_PARAMETER))
