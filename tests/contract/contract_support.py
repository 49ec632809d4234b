"""Shared helpers of the simulator contract tests: seed data, a SigV4-signing client, and
the check of a response against the SDK's bundled OpenAPI document.

Every response a test inspects can be checked against the schema the document declares
for that path, method and status (:meth:`StaxApi.checked`); every request body a test
sends through ``checked`` is first checked against the operation's request schema.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from staxsim.document import StaxDocument

REGION = "us-east-1"
ORG_ID = "0f5e3b2a-8c41-4d7e-9b6a-1c2d3e4f5a60"
ACCOUNT_DEV = "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11"
ACCOUNT_STAGING = "7e3f7d5c-2dab-4f3a-8b68-1c8f8a0d3b22"
ACCOUNT_PROD = "8f4a8e6d-3ebc-4a4b-9c79-2d9a9b1e4c33"
CATALOGUE_VPC = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00"
VPC_V1 = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a01"
VPC_V2 = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a02"
CATALOGUE_SSM = "3c0b8a1f-6d2e-4a4f-9b7c-0e5d4f3a2b10"
SSM_V1 = "3c0b8a1f-6d2e-4a4f-9b7c-0e5d4f3a2b11"
SSM_V2 = "3c0b8a1f-6d2e-4a4f-9b7c-0e5d4f3a2b12"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

API_AUTH = {
    "region": REGION,
    "user_pool_id": "us-east-1_SimPool01",
    "client_id": "simclient0123456789",
    "identity_pool_id": "us-east-1:5d7f3c2e-0000-4000-8000-000000000001",
}

SEED: dict[str, Any] = {
    "organisation": {"Id": ORG_ID, "Name": "Contract Test Org"},
    "accounts": [
        {"Id": ACCOUNT_DEV, "Name": "workloads-dev", "AwsAccountId": "111111111111"},
        {"Id": ACCOUNT_STAGING, "Name": "workloads-staging", "AwsAccountId": "222222222222"},
        {"Id": ACCOUNT_PROD, "Name": "workloads-prod", "AwsAccountId": "333333333333"},
    ],
    "catalogue": [
        {
            "Id": CATALOGUE_VPC,
            "Name": "baseline-vpc",
            "Description": "A small VPC",
            "Versions": [{"Id": VPC_V1, "Name": "1.0.0"}, {"Id": VPC_V2, "Name": "1.1.0"}],
        },
        {
            "Id": CATALOGUE_SSM,
            "Name": "ssm-parameters",
            "Description": "SSM parameters",
            "Versions": [{"Id": SSM_V1, "Name": "1.0.0"}, {"Id": SSM_V2, "Name": "2.0.0"}],
        },
    ],
}

#: Short task phases so lifecycle tests finish quickly.
FAST = {"started": 0.05, "pending": 0.05, "running": 0.15}
#: Strict realism without lag or nulls (deterministic tests of other behaviour).
EXACT: dict[str, Any] = {
    "strict": True,
    "read_after_write_lag_seconds": 0,
    "null_share": 0,
    "seed": 1,
}


def workload_id_of(event: dict[str, Any]) -> str:
    """The workload id of a write event (``Detail.Workload.WorkloadId``, as Stax has it)."""
    return str(event["Detail"]["Workload"]["WorkloadId"])


def task_id_of(event: dict[str, Any]) -> str:
    """The task id of a workload write event (``Detail.Workload.TaskId``)."""
    return str(event["Detail"]["Workload"]["TaskId"])


def undefined_properties(document: StaxDocument, ref: str, body: Any, path: str = "") -> list[str]:
    """Paths of ``body`` properties that the schema ``ref`` does not define.

    Follows ``$ref``, ``allOf`` and ``items``; objects that allow extra properties
    (``additionalProperties`` a schema or true) and ``oneOf``/``anyOf`` are not checked.
    Written independently of ``staxsim.shaping`` so the two check each other.
    """
    schemas = document.document["components"]["schemas"]

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def walk(schema: dict[str, Any], value: Any, where: str) -> list[str]:
        parts = [resolve(schema)]
        parts += [resolve(p) for p in parts[0].get("allOf", [])]
        if any("oneOf" in p or "anyOf" in p for p in parts):
            return []
        found: list[str] = []
        if isinstance(value, dict):
            props: dict[str, Any] = {}
            open_ = False
            for part in parts:
                props.update(part.get("properties", {}))
                extra = part.get("additionalProperties")
                open_ = open_ or extra is True or isinstance(extra, dict)
            for key, item in value.items():
                if key in props:
                    found += walk(props[key], item, f"{where}.{key}" if where else key)
                elif props and not open_:
                    found.append(f"{where}.{key}" if where else key)
        elif isinstance(value, list):
            items = next((p["items"] for p in parts if "items" in p), None)
            if items is not None:
                for element in value:
                    found += walk(items, element, f"{where}[]")
        return found

    return sorted(set(walk({"$ref": ref}, body, path)))


class StaxApi:
    """A SigV4-signing client of the simulated Stax API, with contract checks."""

    def __init__(self, base_url: str, ca: str, document: StaxDocument) -> None:
        self.base_url = base_url
        self.ca = ca
        self.document = document
        self.session = requests.Session()
        self.credentials = Credentials("ASIASIMULATEDKEY0001", "dummy-secret", "dummy-token")
        self.region = REGION
        self.service = "execute-api"

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        sign: bool = True,
        raw_body: bytes | None = None,
        timeout: float = 10.0,
        region: str | None = None,
        service: str | None = None,
    ) -> requests.Response:
        url = f"{self.base_url}{path}"
        if params:
            url = f"{url}?{urlencode(params)}"
        data = raw_body
        headers: dict[str, str] = {}
        if json_body is not None:
            data = json.dumps(json_body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        if sign:
            aws = AWSRequest(method=method, url=url, data=data, headers=headers)
            SigV4Auth(self.credentials, service or self.service, region or self.region).add_auth(
                aws
            )
            headers = dict(aws.headers.items())
        return self.session.request(
            method, url, data=data, headers=headers, verify=self.ca, timeout=timeout
        )

    def checked(
        self,
        method: str,
        template: str,
        *,
        path_params: dict[str, str] | None = None,
        expect: int = 200,
        **kwargs: Any,
    ) -> Any:
        """Call the operation of ``template`` and check status and body against the doc.

        The body must validate against the schema the document declares for this path,
        method and status; for a status the document does not declare (e.g. the 404 of
        ReadAccounts) it must be the document's ``Error`` shape with an ``Error`` text.
        Request bodies sent are checked against the request schema first.
        """
        body = kwargs.get("json_body")
        if body is not None and kwargs.pop("valid_body", True):
            validator = self.document.request_validator(template, method)
            assert validator is not None, f"{method} {template} takes no body"
            assert validator.first_error(body) is None, validator.first_error(body)
        kwargs.pop("valid_body", None)
        path = template.format(**(path_params or {}))
        response = self.request(method.upper(), path, **kwargs)
        assert response.status_code == expect, (response.status_code, response.text)
        payload = response.json()
        assert_matches_document(self.document, template, method, response.status_code, payload)
        return payload


def assert_matches_document(
    document: StaxDocument, template: str, method: str, status: int, payload: Any
) -> str:
    """Assert ``payload`` fits the declared response schema; return the schema name used."""
    validator = document.response_validator(template, method.lower(), status)
    if validator is None:
        assert status >= 400, f"{method} {template} declares no schema for {status}"
        validator = document.component_validator("Error")
        assert isinstance(payload.get("Error"), str) and payload["Error"], payload
    error = validator.first_error(payload)
    assert error is None, f"{method.upper()} {template} {status}: {error}\n{payload}"
    return validator.ref


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def create_body(name: str = "wl-contract", **overrides: Any) -> dict[str, Any]:
    """A valid ``workloads.CreateWorkload`` body."""
    body: dict[str, Any] = {
        "Name": name,
        "AccountId": ACCOUNT_DEV,
        "CatalogueId": CATALOGUE_VPC,
        "Region": REGION,
        "Parameters": [{"Key": "VpcCidr", "Value": "10.0.0.0/16"}],
        "Tags": {"CostCode": "1234"},
    }
    body.update(overrides)
    return body


class StaxOnlyContext:
    """The CLI context's Stax side only: the contract gateway instead of SSM + Cognito.
    Anything that would start an execution or make an AWS client fails the test."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    def stax_access(self) -> Any:
        import contextlib

        gateway = self.gateway

        class _Access:
            @contextlib.contextmanager
            def session(self) -> Any:
                yield gateway

        return _Access()

    def secrets(self) -> Any:
        """No SSM here: a file naming a secret fails by name (no baselines file here does)."""
        from chalicelib.secrets import no_secrets

        return no_secrets

    def resources(self) -> Any:
        """No stage here: the plan cache is skipped with a warning."""
        from stax_orchestrator.console import CliError

        raise CliError("no stage in the contract tier")

    def state_machine_arn(self, kind: str) -> str:
        raise AssertionError("the command looked for a state machine to start")

    def client(self, service: str) -> Any:
        raise AssertionError(f"the command made a {service} client")
