"""Strict realism over HTTPS: what the document allows, given the least helpful way.

Tags only where the document lets a caller ask for them, 404 for writes to deleted
workloads, write events without properties the document does not define,
read-after-write lag for new workloads and tasks, nulls in nullable fields, and the
``/_sim/realism`` settings (with ``--lenient``'s kinder answers on request). Tests that
use ``strict_defaults`` run with the simulator's real defaults.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from contract_support import (
    ACCOUNT_DEV,
    CATALOGUE_VPC,
    VPC_V2,
    StaxApi,
    create_body,
    task_id_of,
    undefined_properties,
    wait_for,
    workload_id_of,
)

from staxsim.control import SimulatorControl, SimulatorControlError
from staxsim.document import StaxDocument

WORKLOADS = "/20190206/workloads"
WORKLOAD = "/20190206/workloads/{workload_id}"
TASK = "/20190206/task/{task_id}"
CATALOGUE = "/20190206/workload-catalogue"
CATALOGUE_ITEM = "/20190206/workload-catalogue/{catalogue_id}"
MANIFEST = {"Description": "d", "ManifestURL": "s3://bucket/manifest.yaml"}


def _create(api: StaxApi, name: str, **overrides: Any) -> str:
    return workload_id_of(api.checked("post", WORKLOADS, json_body=create_body(name, **overrides)))


def _by_id(api: StaxApi, workload_id: str, **params: str) -> dict[str, Any]:
    body = api.checked("get", WORKLOAD, path_params={"workload_id": workload_id}, params=params)
    return dict(body["Workloads"][0])


def _deleted_workload(api: StaxApi, control: SimulatorControl) -> str:
    control.set_task_durations(started=0, pending=0, running=0)
    workload_id = _create(api, "wl-gone")
    api.checked("delete", WORKLOAD, path_params={"workload_id": workload_id})
    assert _by_id(api, workload_id)["Status"] == "DELETED"
    return workload_id


# -- tags ----------------------------------------------------------------------------------
def test_workload_lists_never_carry_tags(api: StaxApi, control: SimulatorControl) -> None:
    _create(api, "wl-tagged", Tags={"CostCode": "1234"})
    for params in ({}, {"name": "wl-tagged"}, {"include_tags": "true"}, {"limit": 5, "offset": 0}):
        for workload in api.checked("get", WORKLOADS, params=params)["Workloads"]:
            assert "Tags" not in workload, params


def test_a_workload_read_by_id_carries_tags_only_with_include_tags_true(
    api: StaxApi, control: SimulatorControl
) -> None:
    workload_id = _create(api, "wl-tagged", Tags={"CostCode": "1234"})
    assert "Tags" not in _by_id(api, workload_id)
    assert "Tags" not in _by_id(api, workload_id, include_tags="false")
    assert _by_id(api, workload_id, include_tags="true")["Tags"] == {"CostCode": "1234"}


# -- deleted workloads -------------------------------------------------------------------
def test_deleting_a_deleted_workload_answers_404(api: StaxApi, control: SimulatorControl) -> None:
    workload_id = _deleted_workload(api, control)
    body = api.checked("delete", WORKLOAD, path_params={"workload_id": workload_id}, expect=404)
    assert workload_id in body["Error"]


def test_updating_a_deleted_workload_answers_404(api: StaxApi, control: SimulatorControl) -> None:
    workload_id = _deleted_workload(api, control)
    api.checked(
        "put",
        WORKLOAD,
        path_params={"workload_id": workload_id},
        json_body={"Tags": {"a": "b"}},
        expect=404,
    )


def test_deleted_workloads_stay_readable_by_id_and_in_lists(
    api: StaxApi, control: SimulatorControl
) -> None:
    workload_id = _deleted_workload(api, control)
    assert _by_id(api, workload_id)["Status"] == "DELETED"
    listed = api.checked("get", WORKLOADS, params={"filter": "DELETED"})["Workloads"]
    assert [w["Id"] for w in listed] == [workload_id]
    assert [w["Status"] for w in api.checked("get", WORKLOADS)["Workloads"]] == ["DELETED"]


# -- write events ------------------------------------------------------------------------
def test_write_events_carry_only_properties_the_document_defines(
    api: StaxApi, control: SimulatorControl, document: StaxDocument
) -> None:
    control.set_task_durations(started=0, pending=0, running=0)
    created = api.checked("post", WORKLOADS, json_body=create_body("wl-events"))
    ids = {"workload_id": workload_id_of(created)}
    updated = api.checked("put", WORKLOAD, path_params=ids, json_body={"Tags": {"a": "b"}})
    deleted = api.checked("delete", WORKLOAD, path_params=ids)
    item = api.checked(
        "post", CATALOGUE, json_body={"Name": "new-item", "Version": "1", **MANIFEST}
    )
    version = api.checked(
        "put",
        CATALOGUE_ITEM,
        path_params={"catalogue_id": CATALOGUE_VPC},
        json_body={"Version": "7.0.0", **MANIFEST},
    )
    events = {
        "CreateWorkloadEvent": created,
        "UpdateWorkloadEvent": updated,
        "DeleteWorkloadEvent": deleted,
        "CreateCatalogueEvent": item,
        "CreateVersionEvent": version,
    }
    for schema, event in events.items():
        assert undefined_properties(document, f"#/components/schemas/{schema}", event) == [], schema
    for event in (created, updated, deleted):
        assert "WorkloadId" not in event  # optional (create/update) or undefined (delete)
        assert "TaskId" not in event["Detail"]  # not in the document's Detail schemas
        workload = event["Detail"]["Workload"]
        # present in practice (the original orchestrator read them from real Stax)
        assert workload["WorkloadId"] == ids["workload_id"] and workload["TaskId"]
        assert "Id" not in workload
    assert "CatalogueVersionId" not in version["Detail"]["WorkloadCatalogueItem"]
    assert version["TaskId"] and item["TaskId"] and item["TraceId"]


# -- read-after-write lag ------------------------------------------------------------------
def test_a_new_workload_is_invisible_to_read_workloads_for_the_default_lag(
    api: StaxApi, strict_defaults: SimulatorControl
) -> None:
    strict_defaults.set_task_durations(started=0, pending=0, running=0)
    posted = time.monotonic()
    workload_id = _create(api, "wl-lagged")
    filters: list[dict[str, Any]] = [
        {},
        {"name": "wl-lagged"},
        {"name_filter": "lagged"},
        {"id_filter": workload_id},
        {"account_ids": ACCOUNT_DEV},
        {"catalogue_ids": CATALOGUE_VPC},
        {"catalogue_version_id": VPC_V2},
        {"filter": "ACTIVE"},
    ]
    seen = [bool(api.checked("get", WORKLOADS, params=params)["Workloads"]) for params in filters]
    seen.append(api.request("GET", f"{WORKLOADS}/{workload_id}").status_code != 404)
    # By the simulator's own clock: every read it served before the workload became
    # visible (its create task's VisibleAt, the same instant) saw nothing, every later one
    # saw it; and the reads began within the lag.
    [created] = [t for t in strict_defaults.state()["tasks"] if t["WorkloadId"] == workload_id]
    reads = [r for r in strict_defaults.requests() if r["method"] == "GET"]
    assert len(reads) == len(seen)
    within = [saw for r, saw in zip(reads, seen, strict=True)
              if r["time"] + r["duration_ms"] / 1000 < created["VisibleAt"]]  # fmt: skip
    later = [saw for r, saw in zip(reads, seen, strict=True) if r["time"] >= created["VisibleAt"]]
    assert within and not any(within), seen
    assert all(later), seen

    def visible() -> bool:
        found = api.checked("get", WORKLOADS, params={"name": "wl-lagged"})["Workloads"]
        return bool(found)

    wait_for(visible, timeout=5, interval=0.05)
    assert time.monotonic() - posted >= 1.0
    for params in filters:
        assert [w["Id"] for w in api.checked("get", WORKLOADS, params=params)["Workloads"]] == [
            workload_id
        ], params
    assert _by_id(api, workload_id)["Id"] == workload_id


def _task_404(api: StaxApi, task_id: str) -> None:
    body = api.checked("get", TASK, path_params={"task_id": task_id}, expect=404)
    assert body == {"Error": f"Task {task_id} not found"}  # the document's Error schema


def test_a_new_task_answers_404_until_the_default_lag_has_passed(
    api: StaxApi, strict_defaults: SimulatorControl
) -> None:
    started = time.monotonic()
    task_id = task_id_of(api.checked("post", WORKLOADS, json_body=create_body("wl-task-lag")))
    _task_404(api, task_id)
    wait_for(
        lambda: api.request("GET", f"/20190206/task/{task_id}").status_code == 200,
        timeout=5,
        interval=0.05,
    )
    assert time.monotonic() - started >= 1.0


@pytest.mark.parametrize("operation", ["update", "delete", "catalogue-create", "catalogue-version"])
def test_every_kind_of_new_task_answers_404_during_the_lag(
    api: StaxApi, control: SimulatorControl, operation: str
) -> None:
    control.set_task_durations(started=0, pending=0, running=0)
    workload_id = _create(api, "wl-lag-ops")
    control.set_realism(read_after_write_lag_seconds=0.3)
    ids = {"workload_id": workload_id}
    if operation == "update":
        task_id = task_id_of(api.checked("put", WORKLOAD, path_params=ids, json_body={}))
    elif operation == "delete":
        task_id = task_id_of(api.checked("delete", WORKLOAD, path_params=ids))
    elif operation == "catalogue-create":
        event = api.checked(
            "post", CATALOGUE, json_body={"Name": "item", "Version": "1", **MANIFEST}
        )
        task_id = event["TaskId"]
    else:
        event = api.checked(
            "put",
            CATALOGUE_ITEM,
            path_params={"catalogue_id": CATALOGUE_VPC},
            json_body={"Version": "8.0.0", **MANIFEST},
        )
        task_id = event["TaskId"]
    _task_404(api, task_id)
    assert _by_id(api, workload_id)["Id"] == workload_id  # the workload itself stays visible
    wait_for(lambda: api.request("GET", f"/20190206/task/{task_id}").status_code == 200)


# -- nulls -------------------------------------------------------------------------------
def test_null_share_one_nulls_every_nullable_field_and_still_matches_the_document(
    api: StaxApi, control: SimulatorControl
) -> None:
    control.set_task_durations(started=0, pending=0, running=0)
    control.set_realism(null_share=1.0)
    event = api.checked("post", WORKLOADS, json_body=create_body("wl-nulls"))
    workload = event["Detail"]["Workload"]
    assert workload["Name"] is None  # WorkloadData.Name is nullable
    assert workload["Tags"] is None and workload["Parameters"] is None
    assert workload["WorkloadId"] and workload["TaskId"]  # not nullable
    read = _by_id(api, workload["WorkloadId"], include_tags="true")
    assert (read["Tags"], read["Parameters"], read["CatalogueVersionId"]) == (None, None, None)
    assert read["CatalogueVersion"] is None and read["Name"] == "wl-nulls"
    items = api.checked("get", CATALOGUE, params={"limit": 1, "offset": 0})["WorkloadCatalogues"]
    assert items[0]["WorkloadCatalogueItems"][0]["CatalogueVersionId"] is None
    assert items[0]["Paging"]["NextOffset"] == 1  # null there would mean "no more pages"


def _null_pattern(api: StaxApi, workload_id: str, calls: int) -> list[bool]:
    return [_by_id(api, workload_id)["Parameters"] is None for _ in range(calls)]


def test_the_null_pattern_repeats_with_the_same_seed(
    api: StaxApi, control: SimulatorControl
) -> None:
    workload_id = _create(api, "wl-seeded")
    control.set_realism(null_share=0.5, seed=11)
    first = _null_pattern(api, workload_id, 30)
    control.set_realism(seed=11)
    assert _null_pattern(api, workload_id, 30) == first
    assert 5 < sum(first) < 25
    control.set_realism(seed=12)
    assert _null_pattern(api, workload_id, 30) != first


def test_the_strict_defaults_null_about_a_quarter_of_responses(
    api: StaxApi, strict_defaults: SimulatorControl
) -> None:
    workload_id = _create(api, "wl-quarter")
    wait_for(lambda: api.request("GET", f"{WORKLOADS}/{workload_id}").status_code == 200)
    nulled = sum(_null_pattern(api, workload_id, 80))
    assert 8 <= nulled <= 35, nulled


# -- the settings themselves ------------------------------------------------------------
def test_realism_settings_are_read_and_changed_through_the_control_api(
    control: SimulatorControl,
) -> None:
    assert control.set_realism(strict=False) == {
        "strict": False,
        "read_after_write_lag_seconds": 0.0,
        "null_share": 0.0,
        "seed": 1,
    }
    control.set_realism(strict=True)
    assert control.realism()["read_after_write_lag_seconds"] == 1.0
    assert control.set_realism(null_share=0.1, seed=None)["seed"] is None
    for body, field in (({"null_share": 2}, "null_share"), ({"lag": 1}, "lag: unknown field")):
        with pytest.raises(SimulatorControlError) as caught:
            control._call("PUT", "/realism", body)
        assert caught.value.status == 400 and field in caught.value.body["error"]


def test_lenient_mode_restores_the_kinder_answers(api: StaxApi, control: SimulatorControl) -> None:
    control.set_task_durations(started=0, pending=0, running=0)
    control.set_realism(strict=False)
    created = api.checked("post", WORKLOADS, json_body=create_body("wl-kind", Tags={"a": "b"}))
    assert created["WorkloadId"] == workload_id_of(created)
    assert created["Detail"]["TaskId"] == task_id_of(created)
    [listed] = api.checked("get", WORKLOADS, params={"name": "wl-kind"})["Workloads"]
    assert listed["Tags"] == {"a": "b"}
    version = api.checked(
        "put",
        CATALOGUE_ITEM,
        path_params={"catalogue_id": CATALOGUE_VPC},
        json_body={"Version": "6.0.0", **MANIFEST},
    )
    assert version["Detail"]["WorkloadCatalogueItem"]["CatalogueVersionId"]
    ids = {"workload_id": created["WorkloadId"]}
    api.checked("delete", WORKLOAD, path_params=ids)
    again = api.checked("delete", WORKLOAD, path_params=ids, expect=400)
    assert "DELETED" in again["Error"]
