"""chalicelib in-process, against the strict simulator with the real SDK and MiniStack's DynamoDB.

The same code the Lambdas run, with the token read from MiniStack's SSM and the
coordination table on MiniStack: the gateway's typed calls and error mapping, one HTTP
connection reused by every call, timeouts that really apply, and the exactly-once rules
of a create, update and delete whose answers were lost.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib import operations
from chalicelib.accounts import resolve_account_ids
from chalicelib.coordination import CoordinationStore
from chalicelib.errors import (
    AwsAccountNotFound,
    StaxApiUnavailable,
    StaxRequestRejected,
    WorkloadAlreadyExists,
    WorkloadBusy,
    WorkloadNotFound,
    WorkloadWriteInDoubt,
)
from chalicelib.polling import PollSchedule
from chalicelib.settings import CoordinationSettings, stax_settings
from chalicelib.stax import SsmCredentials, StaxAccess
from chalicelib.validation import load_operation_request
from stax_orchestrator.deploy import Target, ensure_table
from tests.e2e.conftest import VERSION_2, create_payload, workloads_named

pytestmark = pytest.mark.e2e
TABLE = Target("local", "us-east-1", "000000000000").table_name


def _access(**overrides: Any) -> StaxAccess:
    settings = stax_settings()
    if overrides:
        settings = settings.__class__(**{**settings.__dict__, **overrides})
    credentials = SsmCredentials(
        lambda: boto3.client("ssm"),
        settings.access_key_parameter,
        settings.secret_key_parameter,
        ttl_seconds=300,
    )
    return StaxAccess(settings, credentials)


@pytest.fixture(scope="module")
def table(local_stack: None) -> str:
    ensure_table(boto3.client("dynamodb"), Target("local", "us-east-1", "000000000000"))
    return TABLE


@pytest.fixture()
def access(clean_sim: Any) -> Iterator[StaxAccess]:
    yield _access()


@pytest.fixture()
def services(access: StaxAccess, table: str) -> operations.Services:
    client = boto3.client("dynamodb")
    store = CoordinationStore(lambda: client, table)
    settings = CoordinationSettings(table, write_settle_seconds=3, visibility_grace_seconds=30)
    return operations.Services(access, store, settings, deadline=time.time() + 5)


def _execution() -> str:
    return f"arn:aws:states:us-east-1:000000000000:execution:m:{uuid.uuid4()}"


def _request(operation: str, payload: dict[str, Any], execution: str | None) -> dict[str, Any]:
    request = load_operation_request(operation, payload)
    if execution:
        request["orchestration"] = {"execution_id": execution}
    return request


def _create(services: operations.Services, name: str, execution: str | None) -> dict[str, Any]:
    return operations.create_workload(_request("create", create_payload(name), execution), services)


def _until_visible(sim: Any) -> None:
    """Wait out the simulator's read-after-write lag."""
    time.sleep(float(sim.realism().get("read_after_write_lag_seconds") or 0) + 0.2)


def test_a_retried_create_adopts_its_own_workload_and_never_posts_twice(
    services: operations.Services, clean_sim: Any
) -> None:
    name = f"retry-{uuid.uuid4().hex[:8]}"
    execution = _execution()
    first = _create(services, name, execution)
    again = _create(services, name, execution)  # the Step Functions retry of the same execution
    assert again["workload_id"] == first["workload_id"]
    assert again["task_id"] == first["task_id"]
    assert len(workloads_named(clean_sim, name)) == 1
    with pytest.raises(WorkloadAlreadyExists) as raised:
        _create(services, name, _execution())
    assert raised.value.details["workload_id"] == first["workload_id"]
    assert services.access.gateways_built == 1  # one client, one login, for every call above
    posts = [r for r in clean_sim.requests() if r["method"] == "POST"]
    assert len(posts) == 1


def test_a_create_whose_answer_was_lost_finds_its_workload_by_the_tag_read_by_id(
    services: operations.Services, clean_sim: Any
) -> None:
    clean_sim.set_faults(
        [{"path_regex": "^/20190206/workloads$", "methods": ["POST"], "when": "after",
          "statuses": [502], "count": 1}]
    )  # fmt: skip
    name, execution = f"lost-{uuid.uuid4().hex[:8]}", _execution()
    with pytest.raises(StaxApiUnavailable):
        _create(services, name, execution)
    # The POST landed; until Stax shows it, the retry waits instead of posting again.
    try:
        adopted = _create(services, name, execution)
    except WorkloadWriteInDoubt:
        _until_visible(clean_sim)
        adopted = _create(services, name, execution)
    [workload] = workloads_named(clean_sim, name)
    assert adopted["workload_id"] == workload["Id"]
    assert len([r for r in clean_sim.requests() if r["method"] == "POST"]) == 1
    tag_reads = [
        r for r in clean_sim.requests()
        if r["method"] == "GET" and r["path"] == f"/20190206/workloads/{workload['Id']}"
    ]  # fmt: skip
    assert tag_reads and all(r["query"].get("include_tags") == "true" for r in tag_reads)


def test_a_create_posts_again_only_after_its_settle_window_when_nothing_landed(
    services: operations.Services, clean_sim: Any
) -> None:
    # The POST never reaches Stax (refused before it is applied, answer 503).
    clean_sim.set_faults(
        [{"path_regex": "^/20190206/workloads$", "methods": ["POST"], "when": "before",
          "statuses": [503], "count": 1}]
    )  # fmt: skip
    name, execution = f"settle-{uuid.uuid4().hex[:8]}", _execution()
    with pytest.raises(StaxApiUnavailable):
        _create(services, name, execution)
    with pytest.raises(WorkloadWriteInDoubt) as doubt:
        _create(services, name, execution)
    wait = float(doubt.value.details["settle_seconds_left"])
    assert 0 < wait <= 5 + 3  # the deadline of the attempt plus the settle window
    time.sleep(wait + 0.2)
    created = _create(services, name, execution)
    [workload] = workloads_named(clean_sim, name)
    assert created["workload_id"] == workload["Id"]


def test_a_throttled_create_is_not_in_doubt_and_is_sent_again_at_once(
    services: operations.Services, clean_sim: Any
) -> None:
    # API Gateway throttling refuses before anything is applied: nothing to wait for.
    clean_sim.set_faults(
        [{"path_regex": "^/20190206/workloads$", "methods": ["POST"], "statuses": [429],
          "count": 1}]
    )  # fmt: skip
    name, execution = f"throttled-{uuid.uuid4().hex[:8]}", _execution()
    with pytest.raises(StaxApiUnavailable) as throttled:
        _create(services, name, execution)
    assert throttled.value.details["not_sent"] is True
    created = _create(services, name, execution)
    [workload] = workloads_named(clean_sim, name)
    assert created["workload_id"] == workload["Id"]


def test_an_update_by_another_execution_waits_for_the_first(
    services: operations.Services, clean_sim: Any
) -> None:
    clean_sim.set_task_durations(started=0.2, pending=0.2, running=3)
    created = _create(services, f"busy-{uuid.uuid4().hex[:8]}", _execution())
    _until_visible(clean_sim)
    time.sleep(3.5)
    payload = {"operation": "update", "workload_id": created["workload_id"],
               "catalogue_version_id": VERSION_2}  # fmt: skip
    first = operations.update_workload(_request("update", payload, _execution()), services)
    with pytest.raises(WorkloadBusy) as busy:
        operations.update_workload(_request("update", payload, _execution()), services)
    assert busy.value.details["task_id"] == first["task_id"]
    puts = [r for r in clean_sim.requests() if r["method"] == "PUT"]
    assert len(puts) == 1


def test_a_delete_of_a_workload_stax_no_longer_knows_is_not_found(
    services: operations.Services, clean_sim: Any
) -> None:
    with pytest.raises(WorkloadNotFound):
        operations.delete_workload(
            _request("delete", {"operation": "delete", "workload_id": str(uuid.uuid4())}, None),
            services,
        )


def test_task_status_has_every_field_and_a_new_task_is_not_visible_yet(
    access: StaxAccess, services: operations.Services, clean_sim: Any
) -> None:
    created = _create(services, f"mod-{uuid.uuid4().hex[:8]}", None)
    clean_sim.set_realism(read_after_write_lag_seconds=2)
    try:
        fresh = _create(services, f"lag-{uuid.uuid4().hex[:8]}", None)
        status = operations.get_task_status(
            {"task_id": fresh["task_id"], "polls": 0}, access, PollSchedule(1, 5, 0.2),
            grace_seconds=60,
        )  # fmt: skip
        assert status["status"] == operations.NOT_VISIBLE
        assert set(status) == set(operations.TASK_STATUS_FIELDS)
        assert status["workload_name"] is None and status["execution_id"] is None
    finally:
        clean_sim.set_realism(read_after_write_lag_seconds=1)
    time.sleep(1.2)
    status = operations.get_task_status(
        {"task_id": created["task_id"], "polls": 0}, access, PollSchedule(1, 5, 0.2),
        grace_seconds=60,
    )  # fmt: skip
    assert status["status"] in ("STARTED", "PENDING", "RUNNING", "SUCCEEDED")
    assert status["polls"] == 1 and status["next_wait_seconds"] == 1
    unknown_catalogue = create_payload("unknown-catalogue", catalogue_id=str(uuid.uuid4()))
    with pytest.raises(StaxRequestRejected) as rejected:
        operations.create_workload(load_operation_request("create", unknown_catalogue), services)
    assert rejected.value.details["status"] == 400
    assert "CatalogueId" in rejected.value.details["stax_error"]


def test_every_page_of_a_listing_is_read(services: operations.Services, clean_sim: Any) -> None:
    created = [_create(services, f"page-{i}-{uuid.uuid4().hex[:6]}", None) for i in range(3)]
    _until_visible(clean_sim)
    listed = list(services.access.gateway().list_workloads(page_size=1))  # three pages of one
    assert {w["Id"] for w in listed} == {c["workload_id"] for c in created} and len(listed) == 3


def test_warm_calls_reuse_one_tls_connection(access: StaxAccess, clean_sim: Any) -> None:
    gateway = access.gateway()
    gateway.find_workloads_by_name("warm-up")
    before = clean_sim.stats()["connections"]["tls_established"]
    for _ in range(5):
        gateway.find_workloads_by_name("anything")
        gateway.list_catalogue()
    assert clean_sim.stats()["connections"]["tls_established"] == before


def test_a_held_connection_fails_by_name_within_the_timeout(clean_sim: Any) -> None:
    access = _access(http_timeout_seconds=2.0, http_retries=0)
    gateway = access.gateway()
    clean_sim.set_faults([{"path_regex": "^/20190206/workloads", "latency_ms": 20_000}])
    try:
        started = time.monotonic()
        with pytest.raises(StaxApiUnavailable) as raised:
            gateway.find_workloads_by_name("held")
        elapsed = time.monotonic() - started
    finally:
        clean_sim.clear_faults()
    assert raised.value.details["reason"] in ("ReadTimeout", "ConnectionError")
    assert 1.9 <= elapsed < 4, elapsed


# -- AWS account numbers -------------------------------------------------------------------
def test_a_create_by_aws_account_number_lands_in_that_stax_account(
    services: operations.Services, clean_sim: Any
) -> None:
    dev = next(a for a in clean_sim.state()["accounts"] if a.get("AwsAccountId") == "111111111111")
    name = f"bynumber-{uuid.uuid4().hex[:8]}"
    payload = create_payload(name, aws_account_id="111111111111")
    result = operations.create_workload(_request("create", payload, _execution()), services)
    [workload] = workloads_named(clean_sim, name)
    assert workload["AccountId"] == dev["Id"]
    assert result["workload_id"] == workload["Id"]
    reads = [r for r in clean_sim.requests() if r.get("operation") == "accounts.ReadAccounts"]
    assert [r["query"].get("aws_account_id_filter") for r in reads] == ["111111111111"]


def test_an_unknown_aws_account_number_fails_by_name_and_claims_nothing(
    services: operations.Services, clean_sim: Any
) -> None:
    name = f"nobody-{uuid.uuid4().hex[:8]}"
    payload = create_payload(name, aws_account_id="999999999999")
    with pytest.raises(AwsAccountNotFound) as raised:
        operations.create_workload(_request("create", payload, _execution()), services)
    assert raised.value.details["aws_account_ids"] == ["999999999999"]
    assert "UUID" in raised.value.hint
    assert not [r for r in clean_sim.requests() if r["method"] == "POST"]
    # The name was never claimed: another execution may use it straight away.
    operations.create_workload(_request("create", create_payload(name), _execution()), services)


def test_an_account_without_its_number_in_the_answer_is_never_matched(
    access: StaxAccess, clean_sim: Any
) -> None:
    # The document leaves AwsAccountId optional: an account that does not show it cannot be
    # told apart, so a number is not guessed onto it.
    bare = {"Id": str(uuid.uuid4()), "Name": "no-number"}
    clean_sim.seed(accounts=[bare])
    with access.session() as stax, pytest.raises(AwsAccountNotFound):
        resolve_account_ids(stax, ["444444444444"])
    with access.session() as stax:
        assert resolve_account_ids(stax, ["222222222222", bare["Id"]])[bare["Id"]] == bare["Id"]
