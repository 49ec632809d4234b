"""Every operation the simulator serves, success and error responses, against the doc.

For each served (path, method) there is a success case, and for each error status in
{400, 403, 404} that the document declares for it there is an error case (or a stated
reason why the simulator cannot produce it). Every case checks the response body against
the schema the SDK's bundled document declares for that path/method/status
(``StaxApi.checked``), and every request body sent against the request schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from contract_support import (
    ACCOUNT_DEV,
    CATALOGUE_SSM,
    CATALOGUE_VPC,
    SSM_V1,
    UNKNOWN_ID,
    VPC_V1,
    VPC_V2,
    StaxApi,
    create_body,
    task_id_of,
    wait_for,
    workload_id_of,
)

from staxsim.control import SimulatorControl
from staxsim.document import StaxDocument
from staxsim.urls import SERVED, UNSIGNED_PATHS

CONFIG = "/20190206/public/config"
WORKLOADS = "/20190206/workloads"
WORKLOAD = "/20190206/workloads/{workload_id}"
CATALOGUE = "/20190206/workload-catalogue"
CATALOGUE_ITEM = "/20190206/workload-catalogue/{catalogue_id}"
CATALOGUE_VERSION = "/20190206/workload-catalogue/{catalogue_id}/{version_id}"
TASK = "/20190206/task/{task_id}"
ACCOUNTS = "/20190206/accounts"
ACCOUNT = "/20190206/accounts/{account_id}"
ACCOUNT_TYPES = "/20190206/accounts/types"


@dataclass
class Ctx:
    """An ACTIVE workload (and its create task) to run the cases against."""

    workload_id: str
    task_id: str


@pytest.fixture
def ctx(api: StaxApi, control: SimulatorControl) -> Ctx:
    """Created with zero-length task phases (ACTIVE at once), then fast tasks again."""
    durations = control.task_durations()
    control.set_task_durations(started=0, pending=0, running=0)
    event = api.checked("post", WORKLOADS, json_body=create_body("wl-ctx"))
    workload_id = workload_id_of(event)
    assert _status(api, workload_id) == "ACTIVE"
    control.set_task_durations(
        started=durations["started_seconds"],
        pending=durations["pending_seconds"],
        running=durations["running_seconds"],
    )
    return Ctx(workload_id, task_id_of(event))


def _status(api: StaxApi, workload_id: str) -> str:
    body = api.checked("get", WORKLOAD, path_params={"workload_id": workload_id})
    return str(body["Workloads"][0]["Status"])


Case = Callable[[StaxApi, Ctx], None]


# -- success cases ------------------------------------------------------------------------
def ok_public_config(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked("get", CONFIG, sign=False)
    assert body["ApiAuth"]["region"] == "us-east-1"


def ok_read_workloads(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked("get", WORKLOADS, params={"name": "wl-ctx"})
    assert [w["Id"] for w in body["Workloads"]] == [ctx.workload_id]


def ok_create_workload(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked("post", WORKLOADS, json_body=create_body("wl-new"))
    assert body["Detail"]["Workload"]["Name"] == "wl-new"
    assert body["Detail"]["Workload"]["TaskId"]


def ok_read_workload(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked("get", WORKLOAD, path_params={"workload_id": ctx.workload_id})
    assert body["Workloads"][0]["Id"] == ctx.workload_id


def ok_update_workload(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked(
        "put",
        WORKLOAD,
        path_params={"workload_id": ctx.workload_id},
        json_body={"CatalogueVersionId": VPC_V1, "Tags": {"Team": "core"}},
    )
    assert body["Detail"]["Workload"]["CatalogueVersionId"] == VPC_V1


def ok_delete_workload(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked("delete", WORKLOAD, path_params={"workload_id": ctx.workload_id})
    assert body["Detail"]["Operation"] == "workloads:DeleteWorkload"


def ok_read_catalogue(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked("get", CATALOGUE, params={"include_versions": "true"})
    items = body["WorkloadCatalogues"][0]["WorkloadCatalogueItems"]
    assert {i["Id"] for i in items} == {CATALOGUE_VPC, CATALOGUE_SSM}


def ok_create_catalogue_item(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked(
        "post",
        CATALOGUE,
        json_body={
            "Name": "new-item",
            "Version": "1.0.0",
            "Description": "created by a contract test",
            "ManifestURL": "s3://bucket/new-item/manifest.yaml",
        },
    )
    assert body["Detail"]["WorkloadCatalogueItem"]["Name"] == "new-item"


def ok_read_catalogue_item(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked("get", CATALOGUE_ITEM, path_params={"catalogue_id": CATALOGUE_VPC})
    assert body["WorkloadCatalogues"][0]["WorkloadCatalogueItems"][0]["Id"] == CATALOGUE_VPC


def ok_create_catalogue_version(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked(
        "put",
        CATALOGUE_ITEM,
        path_params={"catalogue_id": CATALOGUE_VPC},
        json_body={
            "Version": "2.0.0",
            "Description": "new version",
            "ManifestBody": "Resources: []\n",
        },
    )
    assert body["Detail"]["WorkloadCatalogueItem"]["Version"] == "2.0.0"


def ok_read_catalogue_version(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked(
        "get",
        CATALOGUE_VERSION,
        path_params={"catalogue_id": CATALOGUE_VPC, "version_id": VPC_V2},
    )
    assert body["Versions"][0]["WorkloadVersion"] == "1.1.0"


def ok_read_task(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked("get", TASK, path_params={"task_id": ctx.task_id})
    assert body["Status"] == "SUCCEEDED"
    assert body["Workloads"] == [ctx.workload_id]


def ok_read_accounts(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked("get", ACCOUNTS)
    assert len(body["Accounts"]) == 3


def ok_read_account_types(api: StaxApi, ctx: Ctx) -> None:
    types = [{"Id": UNKNOWN_ID, "Name": "production"}]
    with SimulatorControl(api.base_url, ca_bundle=api.ca) as control:
        control.seed(
            account_types=types,
            accounts=[{"Id": ACCOUNT_DEV, "Name": "workloads-dev", "AccountType": "production"}],
        )
    body = api.checked("get", ACCOUNT_TYPES)
    assert [(t["Id"], t["Name"], t["Accounts"]) for t in body["AccountTypes"]] == [
        (UNKNOWN_ID, "production", [ACCOUNT_DEV])
    ]
    # account_type_filter takes type ids (the document), matched to the type's name.
    listed = api.checked("get", ACCOUNTS, params={"account_type_filter": UNKNOWN_ID})
    assert [a["Id"] for a in listed["Accounts"]] == [ACCOUNT_DEV]
    assert api.checked("get", ACCOUNTS, params={"account_type_filter": "production"}) == {
        "Accounts": []
    }


def ok_read_account(api: StaxApi, ctx: Ctx) -> None:
    body = api.checked("get", ACCOUNT, path_params={"account_id": ACCOUNT_DEV})
    assert body["Accounts"][0]["AwsAccountId"] == "111111111111"


SUCCESS: dict[tuple[str, str], Case] = {
    (CONFIG, "get"): ok_public_config,
    (WORKLOADS, "get"): ok_read_workloads,
    (WORKLOADS, "post"): ok_create_workload,
    (WORKLOAD, "get"): ok_read_workload,
    (WORKLOAD, "put"): ok_update_workload,
    (WORKLOAD, "delete"): ok_delete_workload,
    (CATALOGUE, "get"): ok_read_catalogue,
    (CATALOGUE, "post"): ok_create_catalogue_item,
    (CATALOGUE_ITEM, "get"): ok_read_catalogue_item,
    (CATALOGUE_ITEM, "put"): ok_create_catalogue_version,
    (CATALOGUE_VERSION, "get"): ok_read_catalogue_version,
    (TASK, "get"): ok_read_task,
    (ACCOUNTS, "get"): ok_read_accounts,
    (ACCOUNT, "get"): ok_read_account,
    (ACCOUNT_TYPES, "get"): ok_read_account_types,
}


# -- error cases ----------------------------------------------------------------------------
def _bad(api: StaxApi, method: str, template: str, body: Any, field: str, **kw: Any) -> None:
    """A body the document's request schema refuses -> 400 whose text names ``field``."""
    validator = api.document.request_validator(template, method)
    assert validator is not None and validator.first_error(body) is not None
    payload = api.checked(method, template, json_body=body, valid_body=False, expect=400, **kw)
    assert field in payload["Error"], payload


def e400_read_workloads(api: StaxApi, ctx: Ctx) -> None:
    payload = api.checked("get", WORKLOADS, params={"limit": "ten"}, expect=400)
    assert payload["Error"].startswith("limit:")


def e400_create_workload(api: StaxApi, ctx: Ctx) -> None:
    _bad(api, "post", WORKLOADS, create_body("x"), "Name")
    payload = api.checked(
        "post", WORKLOADS, json_body=create_body(CatalogueId=UNKNOWN_ID), expect=400
    )
    assert payload["Error"].startswith("CatalogueId:")


def e400_read_workload(api: StaxApi, ctx: Ctx) -> None:
    payload = api.checked("get", WORKLOAD, path_params={"workload_id": "not-a-uuid"}, expect=400)
    assert "workload_id" in payload["Error"]


def e404_read_workload(api: StaxApi, ctx: Ctx) -> None:
    api.checked("get", WORKLOAD, path_params={"workload_id": UNKNOWN_ID}, expect=404)


def e400_update_workload(api: StaxApi, ctx: Ctx) -> None:
    ids = {"workload_id": ctx.workload_id}
    _bad(api, "put", WORKLOAD, {"Protection": "yes"}, "Protection", path_params=ids)
    _bad(api, "put", WORKLOAD, {"Parameters": [{"Key": "a"}]}, "Parameters[0]", path_params=ids)


def e404_update_workload(api: StaxApi, ctx: Ctx) -> None:
    api.checked(
        "put",
        WORKLOAD,
        path_params={"workload_id": UNKNOWN_ID},
        json_body={"Protection": True},
        expect=404,
    )


def e400_delete_workload(api: StaxApi, ctx: Ctx) -> None:
    payload = api.checked("delete", WORKLOAD, path_params={"workload_id": "not-a-uuid"}, expect=400)
    assert payload["Detail"]["OperationStatus"] == "FAILED"


def e403_delete_workload(api: StaxApi, ctx: Ctx) -> None:
    ids = {"workload_id": ctx.workload_id}
    api.checked("put", WORKLOAD, path_params=ids, json_body={"Protection": True})
    wait_for(lambda: _status(api, ctx.workload_id) == "UPDATE_COMPLETE")
    payload = api.checked("delete", WORKLOAD, path_params=ids, expect=403)
    assert "protected" in payload["Error"]


def e404_delete_workload(api: StaxApi, ctx: Ctx) -> None:
    api.checked("delete", WORKLOAD, path_params={"workload_id": UNKNOWN_ID}, expect=404)


def e400_read_catalogue(api: StaxApi, ctx: Ctx) -> None:
    payload = api.checked("get", CATALOGUE, params={"include_versions": "maybe"}, expect=400)
    assert payload["Error"].startswith("include_versions:")


def e400_create_catalogue_item(api: StaxApi, ctx: Ctx) -> None:
    _bad(api, "post", CATALOGUE, {"Name": "item", "Description": "no version"}, "Version")
    payload = api.checked(
        "post",
        CATALOGUE,
        json_body={"Name": "item", "Version": "1", "Description": "no manifest"},
        expect=400,
    )
    assert "ManifestBody" in payload["Error"]


def e400_read_catalogue_item(api: StaxApi, ctx: Ctx) -> None:
    api.checked("get", CATALOGUE_ITEM, path_params={"catalogue_id": "nope"}, expect=400)


def e404_read_catalogue_item(api: StaxApi, ctx: Ctx) -> None:
    api.checked("get", CATALOGUE_ITEM, path_params={"catalogue_id": UNKNOWN_ID}, expect=404)


def e400_create_catalogue_version(api: StaxApi, ctx: Ctx) -> None:
    ids = {"catalogue_id": CATALOGUE_VPC}
    _bad(api, "put", CATALOGUE_ITEM, {"Version": "3.0.0"}, "Description", path_params=ids)
    payload = api.checked(
        "put",
        CATALOGUE_ITEM,
        path_params=ids,
        json_body={"Version": "1.0.0", "Description": "dup", "ManifestURL": "s3://b/k"},
        expect=400,
    )
    assert payload["Error"].startswith("Version:")


def e404_create_catalogue_version(api: StaxApi, ctx: Ctx) -> None:
    api.checked(
        "put",
        CATALOGUE_ITEM,
        path_params={"catalogue_id": UNKNOWN_ID},
        json_body={"Version": "1", "Description": "d", "ManifestURL": "s3://b/k"},
        expect=404,
    )


def e400_read_catalogue_version(api: StaxApi, ctx: Ctx) -> None:
    api.checked(
        "get",
        CATALOGUE_VERSION,
        path_params={"catalogue_id": CATALOGUE_VPC, "version_id": "v1"},
        expect=400,
    )


def e404_read_catalogue_version(api: StaxApi, ctx: Ctx) -> None:
    # a version of another catalogue item is "not found" under this one
    api.checked(
        "get",
        CATALOGUE_VERSION,
        path_params={"catalogue_id": CATALOGUE_VPC, "version_id": SSM_V1},
        expect=404,
    )


def e404_read_task(api: StaxApi, ctx: Ctx) -> None:
    api.checked("get", TASK, path_params={"task_id": UNKNOWN_ID}, expect=404)


def e404_read_account(api: StaxApi, ctx: Ctx) -> None:
    payload = api.checked("get", ACCOUNT, path_params={"account_id": UNKNOWN_ID}, expect=404)
    assert UNKNOWN_ID in payload["Error"]


ERRORS: dict[tuple[str, str, int], Case] = {
    (WORKLOADS, "get", 400): e400_read_workloads,
    (WORKLOADS, "post", 400): e400_create_workload,
    (WORKLOAD, "get", 400): e400_read_workload,
    (WORKLOAD, "get", 404): e404_read_workload,
    (WORKLOAD, "put", 400): e400_update_workload,
    (WORKLOAD, "put", 404): e404_update_workload,
    (WORKLOAD, "delete", 400): e400_delete_workload,
    (WORKLOAD, "delete", 403): e403_delete_workload,
    (WORKLOAD, "delete", 404): e404_delete_workload,
    (CATALOGUE, "get", 400): e400_read_catalogue,
    (CATALOGUE, "post", 400): e400_create_catalogue_item,
    (CATALOGUE_ITEM, "get", 400): e400_read_catalogue_item,
    (CATALOGUE_ITEM, "get", 404): e404_read_catalogue_item,
    (CATALOGUE_ITEM, "put", 400): e400_create_catalogue_version,
    (CATALOGUE_ITEM, "put", 404): e404_create_catalogue_version,
    (CATALOGUE_VERSION, "get", 400): e400_read_catalogue_version,
    (CATALOGUE_VERSION, "get", 404): e404_read_catalogue_version,
    (TASK, "get", 404): e404_read_task,
    (ACCOUNT, "get", 404): e404_read_account,  # not declared by the doc: Error shape
}

#: Declared error statuses the simulator has no way to produce (and why).
UNREACHABLE: dict[tuple[str, str, int], str] = {
    (WORKLOADS, "get", 404): "the list never 404s; an unknown id is GET /workloads/{id}",
    (CATALOGUE, "get", 404): "the list never 404s; an unknown id is GET .../{catalogue_id}",
    (CATALOGUE, "post", 403): "no permission model in the simulator",
    (CATALOGUE_ITEM, "put", 403): "catalogue items cannot be deleted in the simulator",
}


def test_every_served_operation_has_cases(document: StaxDocument) -> None:
    assert set(SUCCESS) == set(SERVED)
    for template, method in SERVED:
        declared = {s for s in document.response_statuses(template, method) if s in (400, 403, 404)}
        covered = {s for (t, m, s) in ERRORS if (t, m) == (template, method)}
        skipped = {s for (t, m, s) in UNREACHABLE if (t, m) == (template, method)}
        assert declared <= covered | skipped, (template, method, declared - covered - skipped)


@pytest.mark.parametrize("key", sorted(SUCCESS), ids=lambda k: f"{k[1].upper()} {k[0]}")
def test_success_response_matches_document(key: tuple[str, str], api: StaxApi, ctx: Ctx) -> None:
    SUCCESS[key](api, ctx)


@pytest.mark.parametrize("key", sorted(ERRORS), ids=lambda k: f"{k[2]} {k[1].upper()} {k[0]}")
def test_error_response_matches_document(key: tuple[str, str, int], api: StaxApi, ctx: Ctx) -> None:
    ERRORS[key](api, ctx)


SIGNED = sorted(k for k in SERVED if k[0] not in UNSIGNED_PATHS)


@pytest.mark.parametrize("key", SIGNED, ids=lambda k: f"{k[1].upper()} {k[0]}")
def test_unsigned_request_gets_403(key: tuple[str, str], api: StaxApi) -> None:
    template, method = key
    path = template.format(
        workload_id=UNKNOWN_ID,
        catalogue_id=CATALOGUE_VPC,
        version_id=VPC_V1,
        task_id=UNKNOWN_ID,
        account_id=ACCOUNT_DEV,
    )
    body = create_body() if method in ("post", "put") else None
    response = api.request(method.upper(), path, json_body=body, sign=False)
    assert response.status_code == 403
    # API Gateway's own refusal (not an operation response of the document)
    assert response.json() == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_public_config_is_503_until_configured(control: SimulatorControl, api: StaxApi) -> None:
    control.reset(everything=True)
    response = api.request("GET", CONFIG, sign=False)
    assert response.status_code == 503
    assert "PUT /_sim/config" in response.json()["Error"]


def test_routing_errors(api: StaxApi) -> None:
    unknown = api.request("GET", "/20190206/nothing-here")
    assert unknown.status_code == 404 and "Error" in unknown.json()
    wrong_method = api.request("PATCH", "/20190206/workloads")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "GET, POST"
    not_simulated = api.request("DELETE", f"/20190206/workload-catalogue/{CATALOGUE_VPC}")
    assert not_simulated.status_code == 501
    assert "workloads.DeleteCatalogueItem" in not_simulated.json()["Error"]
