"""How SDK, HTTP and Cognito failures become the orchestrator's named errors."""

from __future__ import annotations

import json

import pytest
import requests
from staxapp.exceptions import ApiException, InvalidCredentialsException

from chalicelib.errors import (
    StaxApiUnavailable,
    StaxAuthenticationFailed,
    StaxConfigurationInvalid,
    StaxCredentialsMissing,
    StaxCredentialsUnavailable,
    StaxRequestRejected,
    WorkloadNotFound,
)
from chalicelib.settings import stax_settings
from chalicelib.stax import SsmCredentials, StaxAccess, StaxCredentials, translate_errors


def _api_error(status: int, body: dict) -> ApiException:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    return ApiException("HTTP error", response)


@pytest.mark.parametrize(
    ("call", "status", "expected"),
    [
        ("ReadWorkloads", 403, StaxAuthenticationFailed),
        ("DeleteWorkload", 403, StaxAuthenticationFailed),  # Stax did not say "protected"
        ("UpdateWorkload", 401, StaxAuthenticationFailed),
        ("UpdateWorkload", 404, WorkloadNotFound),
        ("CreateWorkload", 400, StaxRequestRejected),
        ("CreateWorkload", 429, StaxApiUnavailable),
        ("ReadTask", 502, StaxApiUnavailable),
    ],
)
def test_http_statuses(call: str, status: int, expected: type) -> None:
    context = {"workload_id": "w-1"} if "Workload" in call and call != "CreateWorkload" else {}
    with pytest.raises(expected) as raised, translate_errors(call, **context):
        raise _api_error(status, {"Error": "details from Stax"})
    assert raised.value.details["stax_error"] == "details from Stax"


def test_a_protected_workload_says_how_to_delete_it() -> None:
    with (
        pytest.raises(StaxRequestRejected) as raised,
        translate_errors("DeleteWorkload", workload_id="w"),
    ):
        raise _api_error(403, {"Error": "The Workload is Protected"})
    assert "protection: false" in raised.value.as_dict()["hint"]


def test_refused_token_is_auth_failure_but_a_cognito_hiccup_is_retryable() -> None:
    refused = InvalidCredentialsException(
        "An error occurred (NotAuthorizedException) when calling the RespondToAuthChallenge",
        detail="Please check your Secret Key is correct",
    )
    with pytest.raises(StaxAuthenticationFailed), translate_errors("ReadWorkloads"):
        raise refused
    throttled = InvalidCredentialsException(
        "Unexpected Client Error. Error details: An error occurred (TooManyRequestsException)"
    )
    with pytest.raises(StaxApiUnavailable), translate_errors("ReadWorkloads"):
        raise throttled


def test_connection_errors_are_retryable() -> None:
    with pytest.raises(StaxApiUnavailable) as raised, translate_errors("ReadTask", task_id="t"):
        raise requests.ConnectionError("refused")
    assert raised.value.details["reason"] == "ConnectionError"


def test_a_connection_never_made_is_not_sent_but_a_lost_answer_is_in_doubt() -> None:
    from urllib3.exceptions import NewConnectionError

    refused = requests.ConnectionError(NewConnectionError(None, "connection refused"))
    with pytest.raises(StaxApiUnavailable) as never, translate_errors("CreateWorkload"):
        raise refused
    assert never.value.details["not_sent"] is True
    with pytest.raises(StaxApiUnavailable) as lost, translate_errors("CreateWorkload"):
        raise requests.exceptions.ReadTimeout("read timed out")
    assert "not_sent" not in lost.value.details
    with pytest.raises(StaxApiUnavailable) as throttled, translate_errors("CreateWorkload"):
        raise _api_error(429, {"message": "Too Many Requests"})
    assert throttled.value.details["not_sent"] is True


@pytest.mark.parametrize(
    "error",
    [
        requests.exceptions.SSLError("certificate verify failed"),
        requests.exceptions.InvalidURL("bad host"),
        requests.exceptions.MissingSchema("no scheme"),
    ],
    ids=["tls", "invalid-url", "missing-schema"],
)
def test_an_endpoint_that_cannot_be_used_is_a_configuration_error_not_retried(
    error: Exception,
) -> None:
    with pytest.raises(StaxConfigurationInvalid) as raised, translate_errors("ReadTask"):
        raise error
    assert raised.value.details["reason"] == type(error).__name__


class _Ssm:
    """An SSM client whose get_parameters fails as ``code`` (or answers ``values``)."""

    def __init__(self, code: str | None = None, values: dict[str, str] | None = None) -> None:
        self.code, self.values, self.calls = code, values or {}, 0

    def get_parameters(self, Names: list[str], WithDecryption: bool) -> dict:
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.code:
            raise ClientError({"Error": {"Code": self.code, "Message": "m"}}, "GetParameters")
        return {"Parameters": [{"Name": n, "Value": v} for n, v in self.values.items()]}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ThrottlingException", StaxCredentialsUnavailable),
        ("InternalServerError", StaxCredentialsUnavailable),
        ("AccessDeniedException", StaxCredentialsMissing),
        ("KMSAccessDeniedException", StaxCredentialsMissing),
    ],
)
def test_ssm_errors_are_named_by_meaning(code: str, expected: type) -> None:
    credentials = SsmCredentials(lambda: _Ssm(code), "/a", "/b", ttl_seconds=60)
    with pytest.raises(expected) as raised:
        credentials.get()
    assert raised.value.details["aws_error"] == code


def test_an_unreachable_ssm_endpoint_is_retryable() -> None:
    from botocore.exceptions import EndpointConnectionError

    class Down:
        def get_parameters(self, **kwargs: object) -> dict:
            raise EndpointConnectionError(endpoint_url="https://ssm.example")

    with pytest.raises(StaxCredentialsUnavailable):
        SsmCredentials(Down, "/a", "/b", ttl_seconds=60).get()


def test_the_token_is_cached_for_its_ttl_and_read_again_after() -> None:
    now = [100.0]
    ssm = _Ssm(values={"/a": "key", "/b": "secret"})
    credentials = SsmCredentials(lambda: ssm, "/a", "/b", ttl_seconds=60, clock=lambda: now[0])
    assert credentials.get() == StaxCredentials("key", "secret")
    now[0] += 59
    credentials.get()
    assert ssm.calls == 1
    now[0] += 1
    credentials.get()
    assert ssm.calls == 2


def test_an_auth_refusal_forgets_the_token_and_the_client() -> None:
    ssm = _Ssm(values={"/a": "key", "/b": "secret"})
    built: list[StaxCredentials] = []

    def factory(settings: object, credentials: StaxCredentials) -> object:
        built.append(credentials)
        return type("Gateway", (), {"credentials": credentials})()

    access = StaxAccess(
        stax_settings({"STAX_API_HOST": "127.0.0.1:1"}),
        SsmCredentials(lambda: ssm, "/a", "/b", ttl_seconds=600),
        gateway_factory=factory,  # type: ignore[arg-type]
    )
    with pytest.raises(StaxAuthenticationFailed), access.session():
        raise StaxAuthenticationFailed("refused")
    with access.session():
        pass
    assert ssm.calls == 2 and len(built) == 2
