"""ReadWorkloads / ReadAccounts paging (limit, offset, Paging.NextOffset) and filters."""

from __future__ import annotations

from contract_support import (
    ACCOUNT_DEV,
    ACCOUNT_PROD,
    ACCOUNT_STAGING,
    CATALOGUE_SSM,
    CATALOGUE_VPC,
    SSM_V1,
    StaxApi,
    create_body,
    workload_id_of,
)

from staxsim.control import SimulatorControl

WORKLOADS = "/20190206/workloads"


def _create_many(api: StaxApi, control: SimulatorControl, count: int) -> list[str]:
    control.set_task_durations(started=0, pending=0, running=0)
    ids = []
    for index in range(count):
        account = (ACCOUNT_DEV, ACCOUNT_STAGING, ACCOUNT_PROD)[index % 3]
        catalogue = CATALOGUE_VPC if index % 2 == 0 else CATALOGUE_SSM
        event = api.checked(
            "post",
            WORKLOADS,
            json_body=create_body(f"wl-{index:02d}", AccountId=account, CatalogueId=catalogue),
        )
        ids.append(workload_id_of(event))
    return ids


def test_paging_over_25_workloads(api: StaxApi, control: SimulatorControl) -> None:
    ids = _create_many(api, control, 25)
    seen: list[str] = []
    offsets: list[int] = []
    offset: int | None = 0
    while offset is not None:
        page = api.checked("get", WORKLOADS, params={"limit": 10, "offset": offset})
        offsets.append(offset)
        assert page["Paging"]["Total"] == 25
        assert page["Paging"]["PrevOffset"] == (None if offset == 0 else offset - 10)
        seen.extend(w["Id"] for w in page["Workloads"])
        offset = page["Paging"]["NextOffset"]
    assert offsets == [0, 10, 20]
    assert len(seen) == 25 and set(seen) == set(ids)
    # default order: newest first (CreatedTS DESC); ASC on request
    assert seen == list(reversed(ids))
    ascending = api.checked(
        "get", WORKLOADS, params={"limit": 5, "offset": 0, "sort": "Name", "sort_order": "ASC"}
    )
    assert [w["Name"] for w in ascending["Workloads"]] == [f"wl-{i:02d}" for i in range(5)]
    # no limit/offset: everything, no Paging
    everything = api.checked("get", WORKLOADS)
    assert len(everything["Workloads"]) == 25 and "Paging" not in everything
    # past the end
    empty = api.checked("get", WORKLOADS, params={"limit": 10, "offset": 30})
    assert empty["Workloads"] == [] and empty["Paging"]["NextOffset"] is None


def test_workload_filters(api: StaxApi, control: SimulatorControl) -> None:
    ids = _create_many(api, control, 6)
    assert len(api.checked("get", WORKLOADS, params={"name": "wl-03"})["Workloads"]) == 1
    assert api.checked("get", WORKLOADS, params={"name": "wl-0"})["Workloads"] == []  # exact
    by_account = api.checked("get", WORKLOADS, params={"account_ids": ACCOUNT_DEV})
    assert {w["Name"] for w in by_account["Workloads"]} == {"wl-00", "wl-03"}
    two_accounts = api.checked(
        "get", WORKLOADS, params={"account_ids": f"{ACCOUNT_DEV},{ACCOUNT_PROD}"}
    )
    assert len(two_accounts["Workloads"]) == 4
    by_catalogue = api.checked("get", WORKLOADS, params={"catalogue_ids": CATALOGUE_SSM})
    assert {w["Name"] for w in by_catalogue["Workloads"]} == {"wl-01", "wl-03", "wl-05"}
    by_version = api.checked(
        "get",
        WORKLOADS,
        params={"catalogue_ids": CATALOGUE_SSM, "catalogue_version": "2.0.0"},
    )
    assert len(by_version["Workloads"]) == 3
    assert api.checked("get", WORKLOADS, params={"catalogue_version_id": SSM_V1})["Workloads"] == []
    by_id = api.checked("get", WORKLOADS, params={"id_filter": ",".join(ids[:2])})
    assert {w["Id"] for w in by_id["Workloads"]} == set(ids[:2])
    fuzzy = api.checked("get", WORKLOADS, params={"name_filter": "WL-0"})
    assert len(fuzzy["Workloads"]) == 6

    api.checked("delete", "/20190206/workloads/{workload_id}", path_params={"workload_id": ids[0]})
    active = api.checked("get", WORKLOADS, params={"filter": "ACTIVE"})
    assert len(active["Workloads"]) == 5
    live = api.checked("get", WORKLOADS, params={"filter": "ACTIVE,DELETED"})
    assert len(live["Workloads"]) == 6
    deleted = api.checked("get", WORKLOADS, params={"filter": "DELETED", "name": "wl-00"})
    assert [w["Id"] for w in deleted["Workloads"]] == [ids[0]]
    refused = api.checked("get", WORKLOADS, params={"filter": "GONE"}, expect=400)
    assert refused["Error"].startswith("filter:")
    refused = api.checked("get", WORKLOADS, params={"sort": "Colour"}, expect=400)
    assert refused["Error"].startswith("sort:")


def test_account_paging_and_filters(api: StaxApi) -> None:
    page = api.checked("get", "/20190206/accounts", params={"limit": 2, "offset": 0})
    assert len(page["Accounts"]) == 2 and page["Paging"]["NextOffset"] == 2
    last = api.checked("get", "/20190206/accounts", params={"limit": 2, "offset": 2})
    assert len(last["Accounts"]) == 1 and last["Paging"]["NextOffset"] is None
    named = api.checked("get", "/20190206/accounts", params={"account_names": "workloads-prod"})
    assert [a["Id"] for a in named["Accounts"]] == [ACCOUNT_PROD]
    by_aws = api.checked(
        "get", "/20190206/accounts", params={"aws_account_id_filter": "222222222222"}
    )
    assert [a["Id"] for a in by_aws["Accounts"]] == [ACCOUNT_STAGING]
