"""SigV4 header checks of the simulator, as API Gateway (IAM auth) performs them.

The real Stax API sits behind API Gateway with ``AWS_IAM`` auth: every call except
``/public/...`` carries ``Authorization: AWS4-HMAC-SHA256 Credential=AKID/yyyymmdd/
region/execute-api/aws4_request, SignedHeaders=..., Signature=<64 hex>`` and
``X-Amz-Date``. This module checks the *form* of that header: algorithm, the three
components, the credential scope (date, region, service, terminator), that ``host`` and
``x-amz-date`` are signed, that the date is within 15 minutes of now and matches the
credential date.

It cannot verify the signature bytes: the credentials are temporary ones that MiniStack's
Cognito identity pool issued, and the secret key is MiniStack's, not ours. A request
signed with a wrong secret therefore passes here; the SDK's wrong-secret case fails
earlier, at the Cognito SRP login.

Failures raise :class:`SigV4Error` with API Gateway's message and error type; the server
answers them with 403 ``{"message": ...}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
MAX_SKEW = timedelta(minutes=15)
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


class SigV4Error(Exception):
    """The request is not acceptably signed; ``error_type`` is API Gateway's header value."""

    def __init__(self, message: str, error_type: str = "IncompleteSignatureException") -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


@dataclass(frozen=True)
class SigV4Credential:
    """The parsed parts of a SigV4 ``Authorization`` header."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str


def parse_authorization(value: str) -> dict[str, str]:
    """Split ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``.

    Returns the components by name; raises :class:`SigV4Error` on a wrong algorithm or a
    missing component (with API Gateway's wording).
    """
    value = value.strip()
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4Error(
            f"Authorization header requires '{ALGORITHM}' as the algorithm. "
            f"Authorization={_redact(value)}"
        )
    parts: dict[str, str] = {}
    for raw_chunk in rest.split(","):
        chunk = raw_chunk.strip()
        if not chunk:
            continue
        key, sep, val = chunk.partition("=")
        if not sep:
            raise SigV4Error(
                f"Authorization header requires each component to be of the form key=value. "
                f"Authorization={_redact(value)}"
            )
        parts[key.strip()] = val.strip()
    missing = [k for k in ("Credential", "Signature", "SignedHeaders") if not parts.get(k)]
    if missing:
        text = " ".join(f"Authorization header requires '{k}' parameter." for k in missing)
        raise SigV4Error(f"{text} Authorization={_redact(value)}")
    return parts


def check_request(
    headers: dict[str, str],
    *,
    region: str | None,
    now: datetime,
) -> SigV4Credential:
    """Check the SigV4 headers of a request (header names lower-cased).

    ``region`` is the configured ApiAuth region (None accepts any region). Returns the
    parsed credential; raises :class:`SigV4Error` otherwise.
    """
    auth = headers.get("authorization")
    if not auth:
        raise SigV4Error("Missing Authentication Token", "MissingAuthenticationTokenException")
    parts = parse_authorization(auth)
    akid, cred_date, cred_region, service = _check_scope(parts["Credential"], region)
    signed = _check_signed_headers(parts)
    amz_date = _check_date(headers.get("x-amz-date", ""), cred_date, now)
    return SigV4Credential(
        access_key_id=akid,
        date=cred_date,
        region=cred_region,
        service=service,
        signed_headers=signed,
        signature=parts["Signature"],
        amz_date=amz_date,
    )


def _check_scope(credential: str, region: str | None) -> tuple[str, str, str, str]:
    """``AKID/yyyymmdd/region/execute-api/aws4_request`` -> its parts (checked)."""
    scope = credential.split("/")
    if len(scope) != 5 or not scope[0]:
        raise SigV4Error(
            "Credential is malformed: expected "
            f"'<AccessKeyId>/<yyyymmdd>/<region>/{SERVICE}/aws4_request'."
        )
    akid, cred_date, cred_region, service, terminator = scope
    if terminator != "aws4_request":
        raise SigV4Error(
            f"Credential should be scoped with a valid terminator: 'aws4_request', "
            f"not '{terminator}'."
        )
    if service != SERVICE:
        raise SigV4Error(f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if region is not None and cred_region != region:
        raise SigV4Error(
            f"Credential should be scoped to a valid region, not '{cred_region}'. "
            f"Expected '{region}'.",
            "InvalidSignatureException",
        )
    return akid, cred_date, cred_region, service


def _check_signed_headers(parts: dict[str, str]) -> tuple[str, ...]:
    """``host`` and ``x-amz-date`` must be signed; the signature must be 64 hex digits."""
    signed = tuple(h.strip().lower() for h in parts["SignedHeaders"].split(";") if h.strip())
    for required in ("host", "x-amz-date"):
        if required not in signed:
            raise SigV4Error(
                f"'{required}' must be a 'SignedHeader' in the AWS Authorization.",
                "IncompleteSignatureException",
            )
    if not _SIGNATURE.match(parts["Signature"]):
        raise SigV4Error(
            "Signature must be 64 lower-case hexadecimal characters.",
            "IncompleteSignatureException",
        )
    return signed


def _check_date(amz_date: str, cred_date: str, now: datetime) -> str:
    """``X-Amz-Date``: present, well-formed, same day as the scope, within 15 minutes."""
    if not amz_date:
        raise SigV4Error(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    if not _AMZ_DATE.match(amz_date):
        raise SigV4Error(f"X-Amz-Date '{amz_date}' is not in ISO-8601 basic format.")
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SigV4Error(f"X-Amz-Date '{amz_date}' is not a valid date.") from None
    if cred_date != amz_date[:8]:
        raise SigV4Error(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{cred_date}' != '{amz_date[:8]}', from '{amz_date}'.",
            "InvalidSignatureException",
        )
    if when < now - MAX_SKEW:
        raise SigV4Error(
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')} "
            f"({now.strftime('%Y%m%dT%H%M%SZ')} - 15 min.)",
            "InvalidSignatureException",
        )
    if when > now + MAX_SKEW:
        raise SigV4Error(
            f"Signature not yet current: {amz_date} is still later than "
            f"{(now + MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')} "
            f"({now.strftime('%Y%m%dT%H%M%SZ')} + 15 min.)",
            "InvalidSignatureException",
        )
    return amz_date


def _redact(value: str) -> str:
    """The header with the signature hidden (it is echoed in messages and logs)."""
    return re.sub(r"Signature=[^,\s]*", "Signature=<redacted>", value)[:200]
