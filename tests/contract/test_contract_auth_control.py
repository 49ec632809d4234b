"""SigV4 refusals over HTTPS, and the control API (config, seed, reset, task durations)."""

from __future__ import annotations

import copy

import pytest
from contract_support import (
    ACCOUNT_DEV,
    API_AUTH,
    CATALOGUE_VPC,
    SEED,
    VPC_V1,
    StaxApi,
    assert_matches_document,
    create_body,
)

from staxsim.control import SimulatorControl, SimulatorControlError
from staxsim.document import StaxDocument

WORKLOADS = "/20190206/workloads"


def _refusal(response: object) -> str:
    assert response.status_code == 403, response.text  # type: ignore[attr-defined]
    return str(response.json()["message"])  # type: ignore[attr-defined]


def test_signature_scope_is_checked(api: StaxApi) -> None:
    assert "not 'eu-west-1'" in _refusal(api.request("GET", WORKLOADS, region="eu-west-1"))
    assert "execute-api" in _refusal(api.request("GET", WORKLOADS, service="s3"))


def test_malformed_authorization_headers(api: StaxApi) -> None:
    session = api.session
    url = f"{api.base_url}{WORKLOADS}"

    def call(headers: dict[str, str]) -> str:
        return _refusal(session.get(url, headers=headers, verify=api.ca))

    assert "'Signature' parameter" in call(
        {
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/execute-api/"
            "aws4_request, SignedHeaders=host;x-amz-date",
            "X-Amz-Date": "20240101T000000Z",
        }
    )
    assert "algorithm" in call({"Authorization": "Bearer abc"})
    assert "Signature expired" in call(
        {
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20200101/us-east-1/execute-api/"
            f"aws4_request, SignedHeaders=host;x-amz-date, Signature={'a' * 64}",
            "X-Amz-Date": "20200101T000000Z",
        }
    )


def test_sdk_style_signing_is_accepted(api: StaxApi) -> None:
    """The SDK signs with aws_requests_auth (host;x-amz-date;x-amz-security-token)."""
    from aws_requests_auth.aws_auth import AWSRequestsAuth

    host = api.base_url.split("://", 1)[1]
    auth = AWSRequestsAuth(
        aws_access_key="ASIAEXAMPLE",
        aws_secret_access_key="secret",
        aws_token="token",
        aws_host=host,
        aws_region="us-east-1",
        aws_service="execute-api",
    )
    response = api.session.get(
        f"{api.base_url}{WORKLOADS}", params={"name": "x"}, auth=auth, verify=api.ca
    )
    assert response.status_code == 200, response.text


def test_config_is_validated_and_served(
    api: StaxApi, control: SimulatorControl, document: StaxDocument
) -> None:
    with pytest.raises(SimulatorControlError) as caught:
        control.configure(**{**API_AUTH, "region": "mars-north-1"})
    assert caught.value.status == 400 and "region" in caught.value.body["error"]
    body = api.checked("get", "/20190206/public/config", sign=False)
    assert body["ApiAuth"] == {
        "region": API_AUTH["region"],
        "userPoolId": API_AUTH["user_pool_id"],
        "userPoolWebClientId": API_AUTH["client_id"],
        "identityPoolId": API_AUTH["identity_pool_id"],
        "mandatorySignIn": True,
    }
    assert body["API"]["endpoints"][0]["endpoint"] == f"{api.base_url}/20190206"
    assert_matches_document(document, "/20190206/public/config", "get", 200, body)


def test_seed_is_idempotent_and_validated(api: StaxApi, control: SimulatorControl) -> None:
    counts = control.seed(**SEED)
    assert counts == {
        "accounts": 3,
        "account_types": 0,
        "catalogue_items": 2,
        "catalogue_versions": 4,
        "workloads": 0,
    }
    renamed = copy.deepcopy(SEED["accounts"])
    renamed[0]["Name"] = "workloads-dev-renamed"
    assert control.seed(accounts=renamed)["accounts"] == 3
    account = api.checked(
        "get", "/20190206/accounts/{account_id}", path_params={"account_id": ACCOUNT_DEV}
    )
    assert account["Accounts"][0]["Name"] == "workloads-dev-renamed"

    bad_account = [{"Id": ACCOUNT_DEV, "Name": "x", "AwsAccountId": "123"}]
    with pytest.raises(SimulatorControlError) as caught:
        control.seed(accounts=bad_account)
    assert caught.value.body["error"].startswith("accounts[0].AwsAccountId:")
    bad_version = [{"Id": CATALOGUE_VPC, "Name": "vpc", "Versions": [{"Id": "nope"}]}]
    with pytest.raises(SimulatorControlError) as caught:
        control.seed(catalogue=bad_version)
    assert caught.value.body["error"].startswith("catalogue[0].Versions[0].Id:")


def test_seeded_workloads(api: StaxApi, control: SimulatorControl) -> None:
    workload_id = "9a9a9a9a-0000-4000-8000-000000000001"
    control.seed(
        workloads=[
            {
                "Id": workload_id,
                "Name": "existing",
                "AccountId": ACCOUNT_DEV,
                "CatalogueId": CATALOGUE_VPC,
                "CatalogueVersionId": VPC_V1,
                "Region": "us-east-1",
                "Status": "ACTIVE",
                "Parameters": [{"Key": "a", "Value": "b"}],
            }
        ]
    )
    listed = api.checked("get", WORKLOADS, params={"name": "existing"})
    assert listed["Workloads"][0]["Id"] == workload_id
    assert listed["Workloads"][0]["Parameters"] == {"a": "b"}


def test_reset_keeps_config_unless_all(api: StaxApi, control: SimulatorControl) -> None:
    control.set_task_durations(total=1.5)
    control.set_realism(read_after_write_lag_seconds=0.25, null_share=0.5, seed=3)
    api.checked("post", WORKLOADS, json_body=create_body())
    control.reset()
    assert control.state()["workloads"] == []
    assert control.state()["accounts"] == []
    assert control.health()["configured"] is True
    assert control.task_durations()["total_seconds"] == pytest.approx(1.5)
    assert control.realism() == {
        "strict": True,
        "read_after_write_lag_seconds": 0.25,
        "null_share": 0.5,
        "seed": 3,
    }
    control.reset(everything=True)
    assert control.realism() == {
        "strict": True,
        "read_after_write_lag_seconds": 1.0,
        "null_share": 0.25,
        "seed": None,
    }
    assert control.health()["configured"] is False
    defaults = control.task_durations()
    assert (defaults["started_seconds"], defaults["pending_seconds"]) == (0.5, 0.5)
    assert defaults["running_seconds"] == 2.0


def test_task_durations_total_is_split(control: SimulatorControl) -> None:
    durations = control.set_task_durations(total=1.2)
    assert durations["started_seconds"] == pytest.approx(0.2)
    assert durations["pending_seconds"] == pytest.approx(0.2)
    assert durations["running_seconds"] == pytest.approx(0.8)
    with pytest.raises(SimulatorControlError):
        control.set_task_durations(total=-1)


def test_control_errors(control: SimulatorControl, api: StaxApi) -> None:
    response = api.session.post(f"{api.base_url}/_sim/nothing", verify=api.ca)
    assert response.status_code == 404
    response = api.session.get(f"{api.base_url}/_sim/seed", verify=api.ca)
    assert response.status_code == 405
    with pytest.raises(SimulatorControlError) as caught:
        control.fail_next_tasks(1, operation="explode")
    assert "match.operation" in caught.value.body["error"]
    # control calls are not in the API request log
    assert all(not e["path"].startswith("/_sim") for e in control.requests())
