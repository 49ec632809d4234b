"""How SDK, HTTP and Cognito failures become the orchestrator's named errors."""

from __future__ import annotations

import json

import pytest
import requests
from staxapp.exceptions import ApiException, InvalidCredentialsException

from chalicelib.errors import (
    StaxApiUnavailable,
    StaxAuthenticationFailed,
    StaxRequestRejected,
    WorkloadNotFound,
)
from chalicelib.stax import translate_errors


def _api_error(status: int, body: dict) -> ApiException:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    return ApiException("HTTP error", response)


@pytest.mark.parametrize(
    ("call", "status", "expected"),
    [
        ("DeleteWorkload", 403, StaxRequestRejected),  # the workload is protected
        ("ReadWorkloads", 403, StaxAuthenticationFailed),
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
