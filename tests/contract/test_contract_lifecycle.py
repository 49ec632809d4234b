"""Workload and task behaviour over HTTPS: statuses, logs, failures, create rejections."""

from __future__ import annotations

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

WORKLOADS = "/20190206/workloads"
WORKLOAD = "/20190206/workloads/{workload_id}"
TASK = "/20190206/task/{task_id}"


def _workload(api: StaxApi, workload_id: str, **params: str) -> dict:
    body = api.checked("get", WORKLOAD, path_params={"workload_id": workload_id}, params=params)
    return body["Workloads"][0]


def _task(api: StaxApi, task_id: str) -> dict:
    return api.checked("get", TASK, path_params={"task_id": task_id})


def _dedupe(values: list[str]) -> list[str]:
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


def _observe(
    api: StaxApi, task_id: str, workload_id: str
) -> tuple[list[str], list[str], list[int]]:
    """Poll task and workload until the task is final.

    Returns the successive distinct task statuses, workload statuses, and log lengths.
    """
    tasks: list[str] = []
    workloads: list[str] = []
    log_sizes: list[int] = []

    def final() -> bool:
        task = _task(api, task_id)
        tasks.append(task["Status"])
        log_sizes.append(len(task["Logs"]))
        workloads.append(_workload(api, workload_id)["Status"])
        return task["Status"] in ("SUCCEEDED", "FAILED")

    wait_for(final, timeout=5, interval=0.005)
    return _dedupe(tasks), _dedupe(workloads), log_sizes


def test_create_update_delete_lifecycle(api: StaxApi, control: SimulatorControl) -> None:
    control.set_task_durations(started=0.1, pending=0.1, running=0.2)
    event = api.checked("post", WORKLOADS, json_body=create_body("wl-life"))
    workload_id = workload_id_of(event)
    task_id = task_id_of(event)
    # no CatalogueVersionId: the catalogue's latest version
    assert event["Detail"]["Workload"]["CatalogueVersionId"] == VPC_V2

    tasks, workloads, log_sizes = _observe(api, task_id, workload_id)
    assert tasks == ["STARTED", "PENDING", "RUNNING", "SUCCEEDED"]
    assert workloads == ["NEW", "INITIALIZING", "ACTIVE"]
    assert log_sizes == sorted(log_sizes) and log_sizes[0] < log_sizes[-1]  # logs grow
    logs = _task(api, task_id)["Logs"]
    assert any("CREATE_IN_PROGRESS" in line for line in logs)
    assert logs[-1].endswith(f"Task {task_id} SUCCEEDED")
    workload = _workload(api, workload_id)
    assert workload["Parameters"] == {"VpcCidr": "10.0.0.0/16"}
    assert workload["UserTaskId"] == task_id

    update = api.checked(
        "put",
        WORKLOAD,
        path_params={"workload_id": workload_id},
        json_body={
            "CatalogueVersionId": VPC_V1,
            "Parameters": [{"Key": "VpcCidr", "Value": "10.1.0.0/16"}],
            "Tags": {"CostCode": "9"},
        },
    )
    update_task = update["Detail"]["Workload"]["TaskId"]
    # applied when accepted
    workload = _workload(api, workload_id, include_tags="true")
    assert workload["Status"] == "UPDATE_IN_PROGRESS"
    assert workload["CatalogueVersionId"] == VPC_V1
    assert workload["Parameters"] == {"VpcCidr": "10.1.0.0/16"}
    assert workload["Tags"] == {"CostCode": "9"}
    tasks, workloads, _ = _observe(api, update_task, workload_id)
    assert tasks == ["STARTED", "PENDING", "RUNNING", "SUCCEEDED"]
    assert workloads == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]

    delete = api.checked("delete", WORKLOAD, path_params={"workload_id": workload_id})
    delete_task = delete["Detail"]["Workload"]["TaskId"]
    tasks, workloads, _ = _observe(api, delete_task, workload_id)
    assert tasks[-1] == "SUCCEEDED"
    assert workloads == ["DELETE_IN_PROGRESS", "DELETED"]
    # deleted workloads stay readable; a second delete does not find it (strict: 404)
    assert _workload(api, workload_id)["Status"] == "DELETED"
    api.checked("delete", WORKLOAD, path_params={"workload_id": workload_id}, expect=404)


def test_update_success_status_can_be_active(api: StaxApi, control: SimulatorControl) -> None:
    control.set_task_durations(started=0, pending=0, running=0, update_success_status="ACTIVE")
    workload_id = workload_id_of(api.checked("post", WORKLOADS, json_body=create_body("wl-upd")))
    api.checked("put", WORKLOAD, path_params={"workload_id": workload_id}, json_body={})
    assert _workload(api, workload_id)["Status"] == "ACTIVE"


def test_busy_workload_refuses_update_and_delete(api: StaxApi, control: SimulatorControl) -> None:
    control.set_task_durations(started=5, pending=5, running=5)
    event = api.checked("post", WORKLOADS, json_body=create_body("wl-busy"))
    ids = {"workload_id": workload_id_of(event)}
    refused = api.checked("put", WORKLOAD, path_params=ids, json_body={}, expect=400)
    assert "in progress" in refused["Error"]
    refused = api.checked("delete", WORKLOAD, path_params=ids, expect=400)
    assert "in progress" in refused["Error"]


def test_failing_tasks(api: StaxApi, control: SimulatorControl) -> None:
    control.set_task_durations(started=0, pending=0, running=0.05)
    control.fail_next_tasks(
        1,
        logs=["AWS::EC2::VPC Vpc CREATE_FAILED The CIDR '10.0.0.0/8' is invalid"],
        operation="create",
        name_regex="^wl-fail",
    )
    skipped = api.checked("post", WORKLOADS, json_body=create_body("wl-ok"))
    failed = api.checked("post", WORKLOADS, json_body=create_body("wl-fail-1"))
    after = api.checked("post", WORKLOADS, json_body=create_body("wl-fail-2"))

    def final(event: dict) -> tuple[dict, dict]:
        task_id = task_id_of(event)
        wait_for(lambda: _task(api, task_id)["Status"] in ("SUCCEEDED", "FAILED"))
        return _task(api, task_id), _workload(api, workload_id_of(event))

    task, workload = final(failed)
    assert (task["Status"], workload["Status"]) == ("FAILED", "CREATE_FAILED")
    assert any("CIDR '10.0.0.0/8' is invalid" in line for line in task["Logs"])
    assert "ROLLBACK_COMPLETE" in task["Logs"][-2]
    assert final(skipped)[1]["Status"] == "ACTIVE"  # name did not match
    assert final(after)[1]["Status"] == "ACTIVE"  # count was 1

    # count=None: every matching task until cleared; update and delete failures
    control.fail_next_tasks(None, logs=["update broke"], operation="update")
    control.fail_next_tasks(None, logs=["delete broke"], operation="delete")
    after_id = workload_id_of(after)
    ids = {"workload_id": after_id}
    for _ in range(2):
        api.checked("put", WORKLOAD, path_params=ids, json_body={"Tags": {"a": "b"}})
        wait_for(lambda: _workload(api, after_id)["Status"] == "UPDATE_FAILED")
    api.checked("delete", WORKLOAD, path_params=ids)
    wait_for(lambda: _workload(api, after_id)["Status"] == "DELETE_FAILED")
    control.clear_task_failures()
    api.checked("delete", WORKLOAD, path_params=ids)
    wait_for(lambda: _workload(api, after_id)["Status"] == "DELETED")


def test_create_rejects_unknown_references(api: StaxApi) -> None:
    cases = {
        "CatalogueId": create_body(CatalogueId=UNKNOWN_ID),
        "AccountId": create_body(AccountId=UNKNOWN_ID),
        "CatalogueVersionId": create_body(CatalogueId=CATALOGUE_VPC, CatalogueVersionId=SSM_V1),
    }
    for field, body in cases.items():
        payload = api.checked("post", WORKLOADS, json_body=body, expect=400)
        assert payload["Error"].startswith(f"{field}:"), payload
        assert payload["Detail"]["OperationStatus"] == "FAILED"
    # a version of the right catalogue is accepted; names need not be unique
    for _ in range(2):
        api.checked(
            "post",
            WORKLOADS,
            json_body=create_body("wl-same", CatalogueId=CATALOGUE_SSM, CatalogueVersionId=SSM_V1),
        )
    listed = api.checked("get", WORKLOADS, params={"name": "wl-same"})
    assert len(listed["Workloads"]) == 2


def test_bad_bodies_name_the_field(api: StaxApi) -> None:
    cases = [
        (create_body("x"), "Name: 'x' is too short"),
        (create_body(Region="mars-1"), "Region:"),
        (create_body(AccountId="not-a-uuid"), "AccountId:"),
        (create_body(Parameters=[{"Key": "a", "Value": 1}]), "Parameters[0].Value:"),
        (create_body(Id=UNKNOWN_ID), "Id:"),  # readOnly in the document
    ]
    for body, text in cases:
        payload = api.checked("post", WORKLOADS, json_body=body, valid_body=False, expect=400)
        assert text in payload["Error"], payload
    response = api.request("POST", WORKLOADS, raw_body=b"{not json")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["Error"]


def test_protected_workload_cannot_be_deleted(api: StaxApi, control: SimulatorControl) -> None:
    control.set_task_durations(started=0, pending=0, running=0)
    workload_id = workload_id_of(api.checked("post", WORKLOADS, json_body=create_body("wl-prot")))
    ids = {"workload_id": workload_id}
    api.checked("put", WORKLOAD, path_params=ids, json_body={"Protection": True})
    assert _workload(api, workload_id)["Protection"] is True
    api.checked("delete", WORKLOAD, path_params=ids, expect=403)
    api.checked("put", WORKLOAD, path_params=ids, json_body={"Protection": False})
    api.checked("delete", WORKLOAD, path_params=ids)
    assert _workload(api, workload_id)["Status"] == "DELETED"
    assert _workload(api, workload_id)["AccountId"] == ACCOUNT_DEV


def test_catalogue_version_lifecycle(api: StaxApi, control: SimulatorControl) -> None:
    control.set_task_durations(started=0.05, pending=0.05, running=0.05)
    event = api.checked(
        "put",
        "/20190206/workload-catalogue/{catalogue_id}",
        path_params={"catalogue_id": CATALOGUE_VPC},
        json_body={"Version": "9.0.0", "Description": "new", "ManifestURL": "s3://b/m.yaml"},
    )
    # the event does not name the new version (the document has no such property):
    # read it from the item's Versions
    assert "CatalogueVersionId" not in event["Detail"]["WorkloadCatalogueItem"]
    item = api.checked(
        "get",
        "/20190206/workload-catalogue/{catalogue_id}",
        path_params={"catalogue_id": CATALOGUE_VPC},
        params={"include_versions": "true"},
    )["WorkloadCatalogues"][0]["WorkloadCatalogueItems"][0]
    [version_id] = [v["Id"] for v in item["Versions"] if v["WorkloadVersion"] == "9.0.0"]
    # a version still validating cannot be deployed
    refused = api.checked(
        "post", WORKLOADS, json_body=create_body(CatalogueVersionId=version_id), expect=400
    )
    assert refused["Error"].startswith("CatalogueVersionId:")
    wait_for(lambda: _task(api, event["TaskId"])["Status"] == "SUCCEEDED")
    created = api.checked("post", WORKLOADS, json_body=create_body())
    assert created["Detail"]["Workload"]["CatalogueVersionId"] == version_id  # now latest
