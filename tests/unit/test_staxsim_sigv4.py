"""SigV4 header parsing and checks of the simulator (pure, fixed clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from staxsim.sigv4 import SigV4Error, check_request, parse_authorization

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
AMZ = NOW.strftime("%Y%m%dT%H%M%SZ")
SIG = "0123456789abcdef" * 4
#: API Gateway's x-amzn-ErrorType for a header it cannot read (the default refusal).
INCOMPLETE = "IncompleteSignatureException"


def header(
    credential: str = "AKID/20240501/us-east-1/execute-api/aws4_request",
    signed: str = "host;x-amz-date",
    signature: str = SIG,
) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed}, Signature={signature}"
    )


def check(auth: str | None = None, amz: str = AMZ, region: str | None = "us-east-1") -> object:
    headers = {"x-amz-date": amz, "host": "127.0.0.1:8443"}
    if auth is not None:
        headers["authorization"] = auth
    return check_request(headers, region=region, now=NOW)


def test_parse_components() -> None:
    parts = parse_authorization(header())
    assert parts["Credential"].startswith("AKID/")
    assert parts["SignedHeaders"] == "host;x-amz-date"
    assert parts["Signature"] == SIG


def test_valid_header() -> None:
    credential = check(header(signed="content-type;host;x-amz-date;x-amz-security-token"))
    assert credential.access_key_id == "AKID"  # type: ignore[attr-defined]
    assert credential.region == "us-east-1"  # type: ignore[attr-defined]
    assert "x-amz-security-token" in credential.signed_headers  # type: ignore[attr-defined]


def test_botocore_signature_passes() -> None:
    request = AWSRequest(method="GET", url="https://127.0.0.1:8443/20190206/workloads?name=a")
    SigV4Auth(Credentials("AKID", "secret", "token"), "execute-api", "eu-west-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:8443"
    now = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert check_request(headers, region="eu-west-1", now=now).service == "execute-api"


@pytest.mark.parametrize(
    ("auth", "amz", "message", "error_type"),
    [
        (None, AMZ, "Missing Authentication Token", "MissingAuthenticationTokenException"),
        ("Bearer x", AMZ, "requires 'AWS4-HMAC-SHA256'", INCOMPLETE),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/execute-api/aws4_request",
            AMZ,
            "requires 'Signature' parameter",
            INCOMPLETE,
        ),
        (header(credential="AKID/20240501/us-east-1"), AMZ, "malformed", INCOMPLETE),
        (
            header(credential="AKID/20240501/eu-west-1/execute-api/aws4_request"),
            AMZ,
            "not 'eu-west-1'",
            "InvalidSignatureException",
        ),
        (
            header(credential="AKID/20240501/us-east-1/s3/aws4_request"),
            AMZ,
            "correct service: 'execute-api'",
            INCOMPLETE,
        ),
        (
            header(credential="AKID/20240501/us-east-1/execute-api/aws5"),
            AMZ,
            "terminator",
            INCOMPLETE,
        ),
        (header(signed="host"), AMZ, "'x-amz-date' must be a 'SignedHeader'", INCOMPLETE),
        (header(signed="x-amz-date"), AMZ, "'host' must be a 'SignedHeader'", INCOMPLETE),
        (header(signature="XYZ"), AMZ, "64 lower-case hexadecimal", INCOMPLETE),
        (header(), "", "'X-Amz-Date'", INCOMPLETE),
        (header(), "2024-05-01", "ISO-8601 basic format", INCOMPLETE),
        (header(), "20240502T120000Z", "does not match YYYYMMDD", "InvalidSignatureException"),
        (
            header(),
            (NOW - timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ"),
            "Signature expired",
            "InvalidSignatureException",
        ),
        (
            header(),
            (NOW + timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ"),
            "not yet current",
            "InvalidSignatureException",
        ),
    ],
)
def test_refusals(auth: str | None, amz: str, message: str, error_type: str) -> None:
    with pytest.raises(SigV4Error) as caught:
        check(auth, amz)
    assert message in caught.value.message
    assert caught.value.error_type == error_type


def test_within_skew_and_any_region_when_unconfigured() -> None:
    near = (NOW - timedelta(minutes=14)).strftime("%Y%m%dT%H%M%SZ")
    assert check(header(), near)
    other = header(credential="AKID/20240501/ap-southeast-2/execute-api/aws4_request")
    assert check(other, region=None)


def test_signature_is_not_echoed() -> None:
    with pytest.raises(SigV4Error) as caught:
        check(f"AWS4-HMAC-SHA256 Credential=AKID, Signature={SIG}")
    assert SIG not in caught.value.message
