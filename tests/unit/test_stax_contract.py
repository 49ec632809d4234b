"""The SDK gets a pre-resolved contract: same validation as prance's, without prance's cost."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import pytest

from chalicelib import stax
from chalicelib.errors import StaxCredentialsMissing
from chalicelib.settings import stax_settings

DOCUMENT = json.loads(
    (Path(find_spec("staxapp").origin).parent / "data" / "schema.json").read_text()  # type: ignore[arg-type]
)


def test_resolved_components_match_prance() -> None:
    from prance import ResolvingParser

    resolved_by_prance = ResolvingParser(
        spec_string=json.dumps(DOCUMENT), backend="openapi-spec-validator"
    ).specification["components"]["schemas"]
    ours = stax.resolve_components(DOCUMENT, stax.WRITE_COMPONENTS)
    for name in stax.WRITE_COMPONENTS:
        assert ours[name] == resolved_by_prance[name], name


def test_primed_contract_still_validates_writes() -> None:
    from staxapp.contract import StaxContract
    from staxapp.exceptions import ValidationException

    stax.prime_sdk_contract()
    good = {
        "Name": "ok-name",
        "AccountId": "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11",
        "CatalogueId": "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00",
        "Region": "ap-southeast-2",
    }
    StaxContract.validate(good, "workloads.CreateWorkload")
    with pytest.raises(ValidationException, match="does not match"):
        StaxContract.validate({**good, "Name": "1-starts-with-digit"}, "workloads.CreateWorkload")
    with pytest.raises(ValidationException, match="'Region' is a required property"):
        StaxContract.validate(
            {k: v for k, v in good.items() if k != "Region"}, "workloads.CreateWorkload"
        )
    with pytest.raises(ValidationException):
        StaxContract.validate({"Protection": "yes"}, "workloads.UpdateWorkload")


def test_primed_operation_map_covers_what_the_orchestrator_calls() -> None:
    from staxapp.openapi import StaxClient

    stax.prime_sdk_contract()
    workloads = StaxClient._operation_map["workloads"]
    for operation in (
        "ReadWorkloads",
        "CreateWorkload",
        "UpdateWorkload",
        "DeleteWorkload",
        "ReadCatalogueItems",
        "CreateCatalogueItem",
        "CreateCatalogueVersion",
    ):
        assert operation in workloads
    assert "ReadTask" in StaxClient._operation_map["tasks"]


class _FakeSsm:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.calls = 0

    def get_parameters(self, Names: list[str], WithDecryption: bool) -> dict:
        self.calls += 1
        assert WithDecryption is True
        return {
            "Parameters": [{"Name": n, "Value": self.values[n]} for n in Names if n in self.values]
        }


def test_ssm_credentials_are_cached_for_the_ttl_and_reread_after() -> None:
    now = [0.0]
    ssm = _FakeSsm({"/a": "key", "/s": "secret"})
    creds = stax.SsmCredentials(lambda: ssm, "/a", "/s", ttl_seconds=300, clock=lambda: now[0])
    first = creds.get()
    now[0] = 299
    assert creds.get() is first
    assert ssm.calls == 1
    ssm.values["/s"] = "rotated"
    now[0] = 301
    assert creds.get().secret_key == "rotated"
    assert ssm.calls == 2


def test_missing_parameter_is_named_and_secret_never_in_repr() -> None:
    creds = stax.SsmCredentials(lambda: _FakeSsm({"/a": "key"}), "/a", "/s", ttl_seconds=1)
    with pytest.raises(StaxCredentialsMissing) as raised:
        creds.get()
    assert raised.value.details["missing_parameters"] == ["/s"]
    assert "supersecret" not in repr(stax.StaxCredentials("key", "supersecret"))


def test_access_builds_one_gateway_per_token() -> None:
    ssm = _FakeSsm({"/a": "key", "/s": "secret"})
    now = [0.0]
    creds = stax.SsmCredentials(lambda: ssm, "/a", "/s", ttl_seconds=10, clock=lambda: now[0])
    built: list[stax.StaxCredentials] = []

    class Gateway:
        def __init__(self, settings: object, credentials: stax.StaxCredentials) -> None:
            self.credentials = credentials
            built.append(credentials)

    access = stax.StaxAccess(
        stax_settings({"STAX_API_HOST": "127.0.0.1:1"}),
        creds,
        Gateway,  # type: ignore[arg-type]
    )
    first = access.gateway()
    assert access.gateway() is first
    now[0] = 11  # TTL over, same token: same client, no new login
    assert access.gateway() is first
    ssm.values["/s"] = "rotated"
    now[0] = 22
    assert access.gateway() is not first
    assert len(built) == 2
