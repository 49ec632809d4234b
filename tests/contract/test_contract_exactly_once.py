"""Exactly one workload per create, one write per update or delete, whatever happens.

The orchestrator's own use cases (``chalicelib.operations``) through the real staxapp SDK
and ``chalicelib.stax`` against the strict in-process simulator, with the API token in
moto's SSM and the coordination table on moto's DynamoDB; only the Cognito login is
stubbed (``orchestrator_support``). A write is retried the way the workload state
machine's ``Retry`` would (``run_until_done``): lost answers of every write, a POST that
Stax applies after the client gave up, races between executions, and the gateway's
reads, timeouts and account look-ups.

The simulator starts without read-after-write lag or nulls (the ``control`` fixture); a
test that needs them sets them, so every test has one right outcome.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from contract_support import ACCOUNT_STAGING, UNKNOWN_ID, VPC_V2, wait_for
from orchestrator_support import (
    FINAL_STATUS,
    WRITE_METHOD,
    Orchestrator,
    create_payload,
    delete_payload,
    execution,
    task,
    unique_name,
    update_payload,
    wait_for_status,
    workloads_named,
    writes,
)

from chalicelib import operations
from chalicelib.accounts import resolve_account_ids
from chalicelib.coordination import CLAIMED, CREATED
from chalicelib.errors import (
    AwsAccountNotFound,
    StaxApiUnavailable,
    StaxRequestRejected,
    WorkloadAlreadyExists,
    WorkloadBusy,
    WorkloadNotFound,
    WorkloadWriteInDoubt,
)
from staxsim.control import SimulatorControl

WORKLOADS = "/20190206/workloads"
#: A write's response lost after Stax applied it: an error status, or no answer at all.
LOST: dict[str, dict[str, Any]] = {
    "502": {"when": "after", "statuses": [502]},
    "drop": {"when": "after", "mode": "drop"},
}


def _created(orchestrator: Orchestrator, control: SimulatorControl, name: str) -> str:
    """The id of an ACTIVE workload created by an execution of its own."""
    run = orchestrator.until_done("create", create_payload(name), execution())
    wait_for_status(control, run.result["workload_id"], "ACTIVE")
    return str(run.result["workload_id"])


# -- lost answers --------------------------------------------------------------------------
@pytest.mark.parametrize("operation", ["create", "update", "delete"])
@pytest.mark.parametrize("loss", ["502", "drop"])
def test_a_write_applied_but_answered_with_a_lost_response_is_sent_once_and_completes(
    orchestrator: Orchestrator, control: SimulatorControl, operation: str, loss: str
) -> None:
    name = unique_name(f"lost-{operation}")
    payload = create_payload(name)
    if operation == "update":
        payload = update_payload(_created(orchestrator, control, name), catalogue_version_id=VPC_V2)
    elif operation == "delete":
        payload = delete_payload(_created(orchestrator, control, name))
    method = WRITE_METHOD[operation]
    control.set_faults(
        [{"path_regex": f"^{WORKLOADS}", "methods": [method], "count": 1, **LOST[loss]}]
    )

    run = orchestrator.until_done(operation, payload, execution())

    [lost] = [r for r in control.requests() if r["fault"]]
    assert (lost["method"], lost["fault"]) == (method, f"after:{loss}")
    # The first attempt could not tell whether Stax applied it; the retry found out.
    assert run.error_names == ["StaxApiUnavailable"]
    [in_doubt] = run.errors
    assert "not_sent" not in in_doubt.details
    if loss == "502":
        assert in_doubt.details["status"] == 502
    else:
        assert in_doubt.details["reason"] == "ConnectionError"
    [workload] = workloads_named(control, name)
    assert run.result["workload_id"] == workload["Id"]
    assert run.result["task_id"] == workload["UserTaskId"]  # the task its own write started
    final = wait_for_status(control, workload["Id"], FINAL_STATUS[operation])
    if operation == "update":
        assert final["CatalogueVersionId"] == VPC_V2
    assert len(writes(control, method)) == 1, f"the {method} was sent again"


def test_a_post_stax_applies_after_the_client_gave_up_is_waited_for_then_adopted(
    orchestrator_factory: Any, control: SimulatorControl
) -> None:
    # Stax holds the POST for 2 s, then applies it. The client gives up after its 1 s read
    # timeout; the settle window (3 s from then) covers the landing.
    orchestrator = orchestrator_factory(
        http_timeout_seconds=1.0, http_retries=0, write_settle_seconds=3.0, invocation_seconds=1.5
    )
    control.set_faults(
        [{"path_regex": f"^{WORKLOADS}$", "methods": ["POST"], "latency_ms": 2000, "count": 1}]
    )
    name, execution_id = unique_name("held"), execution()
    with pytest.raises(StaxApiUnavailable) as gave_up:
        orchestrator.invoke("create", create_payload(name), execution_id)
    assert gave_up.value.details["reason"] == "ReadTimeout"
    assert "not_sent" not in gave_up.value.details
    with pytest.raises(WorkloadWriteInDoubt) as doubt:  # it may still land: not sent again
        orchestrator.invoke("create", create_payload(name), execution_id)
    assert doubt.value.details["workload_name"] == name

    run = orchestrator.until_done("create", create_payload(name), execution_id)

    assert set(run.error_names) <= {"WorkloadWriteInDoubt"}
    [post] = writes(control, "POST")
    assert post["status"] == 200 and post["fault"].startswith("latency:")
    [workload] = workloads_named(control, name)
    assert run.result["workload_id"] == workload["Id"]
    assert run.result["task_id"] == workload["UserTaskId"]


def test_four_concurrent_creates_of_one_name_make_one_workload(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    # Every name look-up takes 1 s: without the claim, all four would look before any
    # of them writes, find nothing and post.
    control.set_faults(
        [{"path_regex": f"^{WORKLOADS}$", "methods": ["GET"], "query_regex": "(^|&)name=",
          "latency_ms": 1000}]
    )  # fmt: skip
    name = unique_name("race")
    orchestrator.access.gateway()  # the warm container's gateway, shared by the four
    start = threading.Barrier(4)

    def create(_: int) -> dict[str, Any] | WorkloadAlreadyExists:
        start.wait()
        try:
            return orchestrator.until_done("create", create_payload(name), execution()).result
        except WorkloadAlreadyExists as refused:
            return refused

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(create, range(4)))

    created = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, WorkloadAlreadyExists)]
    assert (len(created), len(refused)) == (1, 3), outcomes
    [workload] = workloads_named(control, name)
    assert created[0]["workload_id"] == workload["Id"]
    assert len(writes(control, "POST")) == 1


# -- creates -------------------------------------------------------------------------------
def test_a_retried_create_adopts_its_own_workload_and_never_posts_twice(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    name, execution_id = unique_name("retry"), execution()
    first = orchestrator.invoke("create", create_payload(name), execution_id)
    again = orchestrator.invoke("create", create_payload(name), execution_id)  # its retry
    assert (again["workload_id"], again["task_id"]) == (first["workload_id"], first["task_id"])
    with pytest.raises(WorkloadAlreadyExists) as refused:
        orchestrator.invoke("create", create_payload(name), execution())
    assert refused.value.details["workload_id"] == first["workload_id"]
    assert len(workloads_named(control, name)) == 1
    assert len(writes(control, "POST")) == 1
    assert orchestrator.access.gateways_built == 1


def test_a_create_whose_answer_was_lost_finds_its_workload_by_the_tag_read_by_id(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    # Stax shows a new workload 1 s after the write (shorter than the 2 s settle window).
    control.set_realism(read_after_write_lag_seconds=1.0)
    control.set_faults(
        [{"path_regex": f"^{WORKLOADS}$", "methods": ["POST"], "when": "after",
          "statuses": [502], "count": 1}]
    )  # fmt: skip
    name, execution_id = unique_name("lost"), execution()
    with pytest.raises(StaxApiUnavailable):
        orchestrator.invoke("create", create_payload(name), execution_id)
    with pytest.raises(WorkloadWriteInDoubt):  # landed, not shown yet: waits, never posts
        orchestrator.invoke("create", create_payload(name), execution_id)

    run = orchestrator.until_done("create", create_payload(name), execution_id)

    assert set(run.error_names) <= {"WorkloadWriteInDoubt"}
    [workload] = workloads_named(control, name)
    assert run.result["workload_id"] == workload["Id"]
    assert len(writes(control, "POST")) == 1
    by_id = [r for r in writes(control, "GET") if r["path"] == f"{WORKLOADS}/{workload['Id']}"]
    assert by_id and all(r["query"].get("include_tags") == "true" for r in by_id)


def test_a_create_whose_answer_was_lost_is_adopted_by_its_creation_time_when_tags_are_null(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    # The document lets Stax answer Tags null even with include_tags: a workload of the
    # claimed name created after this execution's POST can only be that POST's.
    control.set_realism(null_share=1.0)
    control.set_faults(
        [{"path_regex": f"^{WORKLOADS}$", "methods": ["POST"], "when": "after",
          "statuses": [502], "count": 1}]
    )  # fmt: skip
    name = unique_name("nulltags")

    run = orchestrator.until_done("create", create_payload(name), execution())

    assert run.error_names == ["StaxApiUnavailable"]
    [workload] = workloads_named(control, name)
    assert run.result["workload_id"] == workload["Id"]
    assert len(writes(control, "POST")) == 1


def test_a_create_posts_again_only_after_its_settle_window_when_nothing_landed(
    orchestrator_factory: Any, control: SimulatorControl
) -> None:
    orchestrator = orchestrator_factory(write_settle_seconds=1.0)
    # The POST never reaches Stax (refused before it is applied, answer 503); the client
    # cannot know that.
    control.set_faults(
        [{"path_regex": f"^{WORKLOADS}$", "methods": ["POST"], "when": "before",
          "statuses": [503], "count": 1}]
    )  # fmt: skip
    name, execution_id = unique_name("settle"), execution()
    with pytest.raises(StaxApiUnavailable):
        orchestrator.invoke("create", create_payload(name), execution_id)
    with pytest.raises(WorkloadWriteInDoubt) as doubt:
        orchestrator.invoke("create", create_payload(name), execution_id)
    assert 0 < doubt.value.details["settle_seconds_left"] <= 1.0
    claim = orchestrator.store.get("name", name)
    assert claim is not None and claim.settle_until is not None

    run = orchestrator.until_done("create", create_payload(name), execution_id)

    assert set(run.error_names) <= {"WorkloadWriteInDoubt"}
    refused, posted = writes(control, "POST")
    assert (refused["fault"], posted["fault"]) == ("before:503", None)
    assert posted["time"] >= claim.settle_until, "posted again inside the settle window"
    [workload] = workloads_named(control, name)
    assert run.result["workload_id"] == workload["Id"]


def test_a_throttled_create_is_not_in_doubt_and_is_sent_again_at_once(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    # API Gateway throttling refuses before anything is applied: nothing to wait for.
    control.set_faults(
        [{"path_regex": f"^{WORKLOADS}$", "methods": ["POST"], "statuses": [429], "count": 1}]
    )
    name, execution_id = unique_name("throttled"), execution()
    with pytest.raises(StaxApiUnavailable) as throttled:
        orchestrator.invoke("create", create_payload(name), execution_id)
    assert throttled.value.details["not_sent"] is True
    claim = orchestrator.store.get("name", name)
    assert claim is not None and (claim.state, claim.settle_until) == (CLAIMED, None)

    created = orchestrator.invoke("create", create_payload(name), execution_id)

    assert [r["fault"] for r in writes(control, "POST")] == ["before:429", None]
    [workload] = workloads_named(control, name)
    assert created["workload_id"] == workload["Id"]


def test_a_workload_whose_update_failed_still_holds_its_name(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    name = unique_name("upfail")
    workload_id = _created(orchestrator, control, name)
    control.fail_next_tasks(1, logs=["UPDATE_FAILED: bad parameter"], operation="update")
    updater = execution()
    update = orchestrator.until_done(
        "update", update_payload(workload_id, catalogue_version_id=VPC_V2), updater
    ).result
    watched = {"workload_id": workload_id, "operation": "update", "execution_id": updater}

    def ended() -> dict[str, Any] | None:
        status = orchestrator.task_status(update["task_id"], **watched)
        return status if status["status"] in ("SUCCEEDED", "FAILED") else None

    status = wait_for(ended)
    assert status["status"] == "FAILED"
    assert any(line.endswith("UPDATE_FAILED: bad parameter") for line in status["logs_tail"])
    assert wait_for_status(control, workload_id, "UPDATE_FAILED")
    assert orchestrator.store.get("workload", workload_id) is None  # the watcher let go
    with pytest.raises(WorkloadAlreadyExists) as refused:
        orchestrator.until_done("create", create_payload(name), execution())
    assert refused.value.details["workload_id"] == workload_id
    assert len(workloads_named(control, name)) == 1
    assert len(writes(control, "POST")) == 1


def test_a_deleted_workload_frees_its_name(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    name = unique_name("reuse")
    workload_id = _created(orchestrator, control, name)
    orchestrator.until_done("delete", delete_payload(workload_id), execution())
    wait_for_status(control, workload_id, "DELETED")
    creator = execution()

    again = orchestrator.until_done("create", create_payload(name), creator).result

    assert again["workload_id"] != workload_id
    wait_for_status(control, again["workload_id"], "ACTIVE")
    statuses = {w["Id"]: w["Status"] for w in workloads_named(control, name)}
    assert statuses == {workload_id: "DELETED", again["workload_id"]: "ACTIVE"}
    claim = orchestrator.store.get("name", name)
    assert claim is not None and (claim.owner, claim.state) == (creator, CREATED)


# -- updates and deletes -------------------------------------------------------------------
def test_an_update_by_another_execution_waits_for_the_first_and_never_runs_beside_it(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    workload_id = _created(orchestrator, control, unique_name("busy"))
    control.set_task_durations(started=0.05, pending=0.05, running=0.6)
    first = orchestrator.until_done(
        "update", update_payload(workload_id, catalogue_version_id=VPC_V2), execution()
    ).result
    second_by = execution()
    second_payload = update_payload(workload_id, workload_parameters={"VpcCidr": "10.1.0.0/16"})
    with pytest.raises(WorkloadBusy) as busy:
        orchestrator.invoke("update", second_payload, second_by)
    assert busy.value.details["task_id"] == first["task_id"]
    assert len(writes(control, "PUT")) == 1

    second = orchestrator.until_done("update", second_payload, second_by).result

    assert second["task_id"] != first["task_id"]
    puts = writes(control, "PUT")
    assert [r["status"] for r in puts] == [200, 200]
    assert puts[1]["time"] >= task(control, first["task_id"])["EndsAt"], "ran beside it"
    final = wait_for_status(control, workload_id, "UPDATE_COMPLETE")
    assert (final["CatalogueVersionId"], final["Parameters"]["VpcCidr"]) == (VPC_V2, "10.1.0.0/16")


def test_a_delete_of_a_workload_stax_does_not_know_is_not_found_and_locks_nothing(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    with pytest.raises(WorkloadNotFound) as missing:
        orchestrator.until_done("delete", delete_payload(UNKNOWN_ID), execution())
    assert missing.value.details["workload_id"] == UNKNOWN_ID
    assert orchestrator.store.get("workload", UNKNOWN_ID) is None
    assert [r["status"] for r in writes(control, "DELETE")] == [404]


# -- the task watcher ----------------------------------------------------------------------
def test_task_status_has_every_field_and_a_task_stax_does_not_show_yet_is_not_visible(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    created = orchestrator.until_done("create", create_payload(unique_name("mod")), None).result
    control.set_realism(read_after_write_lag_seconds=60)
    fresh = orchestrator.invoke("create", create_payload(unique_name("lag")))

    status = orchestrator.task_status(fresh["task_id"])

    assert status["status"] == operations.NOT_VISIBLE
    assert set(status) == set(operations.TASK_STATUS_FIELDS)
    assert status["workload_name"] is None and status["execution_id"] is None
    wait_for(lambda: task(control, created["task_id"])["Status"] == "SUCCEEDED")
    status = orchestrator.task_status(created["task_id"])
    assert status["status"] == "SUCCEEDED"
    assert status["polls"] == 1 and status["next_wait_seconds"] == 1


def test_a_task_stax_still_does_not_show_after_the_grace_is_rejected_by_name(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    control.set_realism(read_after_write_lag_seconds=60)
    fresh = orchestrator.invoke("create", create_payload(unique_name("gone")))
    with pytest.raises(StaxRequestRejected) as rejected:
        orchestrator.task_status(fresh["task_id"], started_at="2020-01-01T00:00:00Z")
    assert rejected.value.details["status"] == 404


def test_a_create_of_an_unknown_catalogue_item_is_rejected_naming_the_field(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    name = unique_name("nocatalogue")
    with pytest.raises(StaxRequestRejected) as rejected:
        orchestrator.until_done("create", create_payload(name, catalogue_id=UNKNOWN_ID), None)
    assert rejected.value.details["status"] == 400
    assert "CatalogueId" in rejected.value.details["stax_error"]
    # A definite refusal, not retried: one POST, and the name is free again.
    assert [r["status"] for r in writes(control, "POST")] == [400]
    assert orchestrator.store.get("name", name) is None


# -- the gateway ---------------------------------------------------------------------------
def test_every_page_of_a_listing_is_read(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    created = [
        orchestrator.until_done("create", create_payload(unique_name(f"page-{i}")), None).result
        for i in range(3)
    ]
    listed = list(orchestrator.access.gateway().list_workloads(page_size=1))  # pages of one
    assert sorted(w["Id"] for w in listed) == sorted(c["workload_id"] for c in created)
    pages = [
        r["query"]
        for r in writes(control, "GET")
        if r["path"] == WORKLOADS and r["query"].get("limit") == "1"
    ]
    assert [page["offset"] for page in pages] == ["0", "1", "2"]


def test_a_held_connection_fails_by_name_when_the_read_timeout_passes(
    orchestrator_factory: Any, control: SimulatorControl
) -> None:
    orchestrator = orchestrator_factory(http_timeout_seconds=0.5, http_retries=0)
    gateway = orchestrator.access.gateway()
    control.set_faults([{"path_regex": f"^{WORKLOADS}", "latency_ms": 1500, "count": 1}])

    with pytest.raises(StaxApiUnavailable) as raised:
        gateway.find_workloads_by_name("held")

    # Stax had not answered when the client gave up: the simulator logs a request once it
    # has answered it.
    assert [r for r in control.requests() if r["path"] == WORKLOADS] == []
    assert raised.value.details["call"] == "ReadWorkloads"
    # A GET may be retried: the read timeout used up the (zero) retries, which requests
    # reports as ConnectionError. A read timeout leaves a request in doubt.
    assert raised.value.details["reason"] == "ConnectionError"
    assert "not_sent" not in raised.value.details
    # Stax answered later, as it was told to.
    held = wait_for(lambda: [r for r in control.requests() if r["path"] == WORKLOADS])
    assert [r["fault"] for r in held] == ["latency:1500ms"]


# -- AWS account numbers -------------------------------------------------------------------
def test_a_create_by_aws_account_number_lands_in_that_stax_account(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    name = unique_name("bynumber")
    payload = create_payload(name, aws_account_id="222222222222")
    run = orchestrator.until_done("create", payload, execution())
    [workload] = workloads_named(control, name)
    assert workload["AccountId"] == ACCOUNT_STAGING
    assert run.result["workload_id"] == workload["Id"]
    reads = [r for r in control.requests() if r["operation"] == "accounts.ReadAccounts"]
    assert [r["query"].get("aws_account_id_filter") for r in reads] == ["222222222222"]


def test_an_unknown_aws_account_number_fails_by_name_and_claims_nothing(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    name = unique_name("nobody")
    with pytest.raises(AwsAccountNotFound) as raised:
        orchestrator.until_done(
            "create", create_payload(name, aws_account_id="999999999999"), execution()
        )
    assert raised.value.details["aws_account_ids"] == ["999999999999"]
    assert "UUID" in raised.value.hint
    assert writes(control, "POST") == []
    assert orchestrator.store.get("name", name) is None
    # The name was never claimed: another execution may use it straight away.
    orchestrator.invoke("create", create_payload(name), execution())
    assert len(workloads_named(control, name)) == 1


def test_an_account_without_its_number_in_the_answer_is_never_matched(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    # The document leaves AwsAccountId optional: an account that does not show it cannot be
    # told apart, so a number is not guessed onto it.
    bare = {"Id": "9a5b9f7e-4fcd-4b5c-8d8a-3e0b0c2f5d44", "Name": "no-number"}
    control.seed(accounts=[bare])
    with orchestrator.access.session() as stax, pytest.raises(AwsAccountNotFound):
        resolve_account_ids(stax, ["444444444444"])
    with orchestrator.access.session() as stax:
        resolved = resolve_account_ids(stax, ["222222222222", bare["Id"]])
    assert resolved == {"222222222222": ACCOUNT_STAGING, bare["Id"]: bare["Id"]}


def test_an_update_that_merges_parameters_keeps_the_workloads_other_parameters(
    orchestrator: Orchestrator, control: SimulatorControl
) -> None:
    name = unique_name("merge")
    run = orchestrator.until_done(
        "create",
        create_payload(name, workload_parameters={"VpcCidr": "10.0.0.0/16", "Owner": "team-a"}),
        execution(),
    )
    workload_id = str(run.result["workload_id"])
    wait_for_status(control, workload_id, "ACTIVE")
    payload = update_payload(
        workload_id, workload_parameters={"VpcCidr": "10.9.0.0/16"}, parameters_mode="merge"
    )
    orchestrator.until_done("update", payload, execution())
    final = wait_for_status(control, workload_id, "UPDATE_COMPLETE")
    assert final["Parameters"] == {"VpcCidr": "10.9.0.0/16", "Owner": "team-a"}
    [sent] = [w for w in writes(control, "PUT") if workload_id in w["path"]]
    assert len(writes(control, "PUT")) == 1, sent
