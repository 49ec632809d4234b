"""The simulator's models and backend, driven by an injected clock (no sleeping).

The ``state`` fixture is strict with the read-after-write lag off; the lag tests set it.
"""

from __future__ import annotations

from typing import Any

import pytest

from staxsim.backend import SimState
from staxsim.document import load_document
from staxsim.exceptions import BadRequest, Forbidden, NotConfigured, NotFound
from staxsim.models.catalogue import catalogue_status_for
from staxsim.models.observability import max_overlap
from staxsim.models.tasks import FailRule, TaskDurations, task_status_at
from staxsim.models.workloads import workload_status_for
from staxsim.queries import paginate
from staxsim.realism import Realism

ORG = "0f5e3b2a-8c41-4d7e-9b6a-1c2d3e4f5a60"
ACCOUNT = "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11"
CATALOGUE = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00"
V1 = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a01"
V2 = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a02"
OTHER_CATALOGUE = "3c0b8a1f-6d2e-4a4f-9b7c-0e5d4f3a2b10"
OTHER_V1 = "3c0b8a1f-6d2e-4a4f-9b7c-0e5d4f3a2b11"
DURATIONS = TaskDurations(started=1.0, pending=2.0, running=3.0)
NO_LAG = Realism(strict=True, read_after_write_lag_seconds=0.0, null_share=0.0)


class Clock:
    """A settable clock."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> SimState:
    sim = SimState(clock=clock, durations=DURATIONS, realism=NO_LAG)
    sim.seed(
        {
            "organisation": {"Id": ORG, "Name": "Org"},
            "accounts": [{"Id": ACCOUNT, "Name": "dev", "AwsAccountId": "111111111111"}],
            "catalogue": [
                {
                    "Id": CATALOGUE,
                    "Name": "vpc",
                    "Description": "VPC",
                    "Versions": [{"Id": V1, "Name": "1.0.0"}, {"Id": V2, "Name": "1.1.0"}],
                },
                {
                    "Id": OTHER_CATALOGUE,
                    "Name": "ssm",
                    "Description": "SSM",
                    "Versions": [{"Id": OTHER_V1, "Name": "1.0.0"}],
                },
            ],
        }
    )
    return sim


def create(state: SimState, name: str = "wl-one", **extra: Any) -> tuple[dict, Any]:
    body = {
        "Name": name,
        "AccountId": ACCOUNT,
        "CatalogueId": CATALOGUE,
        "Region": "us-east-1",
        "Parameters": [{"Key": "K", "Value": "V"}],
        **extra,
    }
    return state.create_workload(body)


# -- pure functions ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("elapsed", "failed", "expected"),
    [
        (0.0, False, "STARTED"),
        (0.99, False, "STARTED"),
        (1.0, False, "PENDING"),
        (2.99, False, "PENDING"),
        (3.0, False, "RUNNING"),
        (5.99, True, "RUNNING"),
        (6.0, False, "SUCCEEDED"),
        (6.0, True, "FAILED"),
        (1000.0, True, "FAILED"),
    ],
)
def test_task_status_at(elapsed: float, failed: bool, expected: str) -> None:
    assert task_status_at(elapsed, DURATIONS, failed) == expected


@pytest.mark.parametrize(
    ("operation", "task", "expected"),
    [
        ("create", "STARTED", "NEW"),
        ("create", "PENDING", "INITIALIZING"),
        ("create", "RUNNING", "INITIALIZING"),
        ("create", "SUCCEEDED", "ACTIVE"),
        ("create", "FAILED", "CREATE_FAILED"),
        ("update", "STARTED", "UPDATE_IN_PROGRESS"),
        ("update", "RUNNING", "UPDATE_IN_PROGRESS"),
        ("update", "SUCCEEDED", "UPDATE_COMPLETE"),
        ("update", "FAILED", "UPDATE_FAILED"),
        ("delete", "PENDING", "DELETE_IN_PROGRESS"),
        ("delete", "SUCCEEDED", "DELETED"),
        ("delete", "FAILED", "DELETE_FAILED"),
    ],
)
def test_workload_status_for(operation: str, task: str, expected: str) -> None:
    assert workload_status_for(operation, task) == expected


def test_workload_statuses_are_the_documents() -> None:
    enum = load_document().component("Workload")["properties"]["Status"]["enum"]
    for operation in ("create", "update", "delete"):
        for task in ("STARTED", "PENDING", "RUNNING", "SUCCEEDED", "FAILED"):
            assert workload_status_for(operation, task) in enum
    assert workload_status_for("update", "SUCCEEDED", "ACTIVE") == "ACTIVE"
    catalogue_enum = load_document().component("CatalogueStatus")["enum"]
    for task in ("STARTED", "PENDING", "RUNNING", "SUCCEEDED", "FAILED"):
        assert catalogue_status_for(task) in catalogue_enum


def test_durations_from_total() -> None:
    durations = TaskDurations.from_total(6.0)
    assert (durations.started, durations.pending, durations.running) == (1.0, 1.0, 4.0)


def test_max_overlap() -> None:
    assert max_overlap([]) == 0
    assert max_overlap([(0, 1), (1, 2), (2, 3)]) == 1  # touching is not overlapping
    assert max_overlap([(0, 10), (1, 2), (1.5, 3), (2.5, 4)]) == 3
    assert max_overlap([(0, 0)]) == 0


def testpaginate() -> None:
    items = [{"i": i} for i in range(25)]
    page, paging = paginate(items, 10, 20)
    assert [p["i"] for p in page] == list(range(20, 25))
    assert paging == {"Total": 25, "NextOffset": None, "PrevOffset": 10}
    page, paging = paginate(items, 10, None)
    assert len(page) == 10 and paging == {"Total": 25, "NextOffset": 10, "PrevOffset": None}
    assert paginate(items, None, None) == (items, None)


# -- the model with an injected clock ---------------------------------------------------
def test_create_lifecycle_follows_the_clock(state: SimState, clock: Clock) -> None:
    workload, task = create(state)
    assert workload["CatalogueVersionId"] == V2  # latest version
    assert workload["Parameters"] == {"K": "V"}
    expected = [
        (0.5, "STARTED", "NEW"),
        (1.5, "PENDING", "INITIALIZING"),
        (3.5, "RUNNING", "INITIALIZING"),
        (6.5, "SUCCEEDED", "ACTIVE"),
    ]
    start = clock.now
    sizes = []
    for at, task_status, workload_status in expected:
        clock.now = start + at
        body = state.get_task(task.id)
        assert body["Status"] == task_status
        assert body["Workloads"] == [workload["Id"]]
        assert state.get_workload(workload["Id"])["Status"] == workload_status
        sizes.append(len(body["Logs"]))
    assert sizes == sorted(sizes) and sizes[0] == 1


def test_update_and_delete(state: SimState, clock: Clock) -> None:
    workload, _ = create(state)
    clock.advance(10)
    updated, _task = state.update_workload(
        workload["Id"],
        {"CatalogueVersionId": V1, "Tags": {"a": "b"}, "Protection": True, "Parameters": []},
    )
    assert updated["Status"] == "UPDATE_IN_PROGRESS"
    assert (updated["CatalogueVersionId"], updated["Tags"], updated["Protection"]) == (
        V1,
        {"a": "b"},
        True,
    )
    assert updated["Parameters"] == {}
    with pytest.raises(BadRequest, match="in progress"):
        state.update_workload(workload["Id"], {})
    with pytest.raises(Forbidden):  # protection is checked first
        state.delete_workload(workload["Id"])
    clock.advance(10)
    assert state.get_workload(workload["Id"])["Status"] == "UPDATE_COMPLETE"
    with pytest.raises(Forbidden, match="protected"):
        state.delete_workload(workload["Id"])
    state.update_workload(workload["Id"], {"Protection": False})
    clock.advance(10)
    state.delete_workload(workload["Id"])
    assert state.get_workload(workload["Id"])["Status"] == "DELETE_IN_PROGRESS"
    clock.advance(10)
    assert state.get_workload(workload["Id"])["Status"] == "DELETED"
    with pytest.raises(NotFound):  # strict: a deleted workload is not found for deleting
        state.delete_workload(workload["Id"])


def test_update_rejects_foreign_version_and_catalogue(state: SimState, clock: Clock) -> None:
    workload, _ = create(state)
    clock.advance(10)
    with pytest.raises(BadRequest, match=r"^CatalogueVersionId:"):
        state.update_workload(workload["Id"], {"CatalogueVersionId": OTHER_V1})
    with pytest.raises(BadRequest, match=r"^CatalogueId:"):
        state.update_workload(workload["Id"], {"CatalogueId": OTHER_CATALOGUE})


def test_create_rejections(state: SimState) -> None:
    with pytest.raises(BadRequest, match=r"^AccountId:"):
        create(state, AccountId=OTHER_CATALOGUE)
    with pytest.raises(BadRequest, match=r"^CatalogueId:"):
        create(state, CatalogueId=ACCOUNT)
    with pytest.raises(BadRequest, match=r"^CatalogueVersionId:"):
        create(state, CatalogueVersionId=OTHER_V1)
    assert create(state, CatalogueVersionId=V1)[0]["CatalogueVersionId"] == V1


def test_fail_rules(state: SimState, clock: Clock) -> None:
    state.add_fail_rule(FailRule(count=2, logs=["boom"], operation="create", name_regex="^bad"))
    good, good_task = create(state, "good")
    bad1, bad1_task = create(state, "bad-1")
    bad2, _ = create(state, "bad-2")
    bad3, _ = create(state, "bad-3")
    clock.advance(DURATIONS.total)
    assert state.get_task(good_task.id)["Status"] == "SUCCEEDED"
    failed = state.get_task(bad1_task.id)
    assert failed["Status"] == "FAILED"
    assert any(line.endswith("boom") for line in failed["Logs"])
    statuses = [state.get_workload(w["Id"])["Status"] for w in (good, bad1, bad2, bad3)]
    assert statuses == ["ACTIVE", "CREATE_FAILED", "CREATE_FAILED", "ACTIVE"]
    assert state.fail_rules == []  # used up


def test_unknown_ids_and_unconfigured(state: SimState) -> None:
    with pytest.raises(NotFound):
        state.get_task("00000000-0000-4000-8000-000000000000")
    with pytest.raises(NotFound):
        state.get_workload("00000000-0000-4000-8000-000000000000")
    with pytest.raises(NotConfigured):
        state.public_config("https://127.0.0.1/20190206")


def test_stats_max_concurrent(state: SimState, clock: Clock) -> None:
    create(state, "a")
    clock.advance(1)
    create(state, "b")
    clock.advance(DURATIONS.total)
    create(state, "c")  # a and b are finished
    stats = state.stats()
    assert stats["max_concurrent_tasks"] == 2
    assert stats["active_tasks"] == 1
    assert stats["tasks"]["by_status"] == {"SUCCEEDED": 2, "STARTED": 1}


def test_query_workloads_filters(state: SimState, clock: Clock) -> None:
    first, _ = create(state, "alpha")
    create(state, "beta", CatalogueId=OTHER_CATALOGUE)
    clock.advance(DURATIONS.total)
    assert [w["Name"] for w in state.query_workloads({"name": "alpha"})["Workloads"]] == ["alpha"]
    assert len(state.query_workloads({"catalogue_ids": OTHER_CATALOGUE})["Workloads"]) == 1
    assert len(state.query_workloads({"filter": "ACTIVE"})["Workloads"]) == 2
    assert state.query_workloads({"filter": "NEW"})["Workloads"] == []
    assert len(state.query_workloads({"account_names": "dev"})["Workloads"]) == 2
    assert len(state.query_workloads({"catalogue_names": "vpc"})["Workloads"]) == 1
    assert state.query_workloads({"id_filter": first["Id"]})["Workloads"][0]["Name"] == "alpha"
    with pytest.raises(BadRequest, match=r"^limit:"):
        state.query_workloads({"limit": "x"})


@pytest.mark.parametrize("sort", ["CreatedTS", "ModifiedTS", "Name", "Status", "Region", "Id",
                                  "UserTaskId", "CatalogueVersionId", "CreatedBy"])  # fmt: skip
@pytest.mark.parametrize("order", ["ASC", "DESC"])
def test_a_page_sorted_on_the_model_is_the_page_sorted_on_the_served_workloads(
    state: SimState, clock: Clock, sort: str, order: str
) -> None:
    for index, name in enumerate(["delta", "alpha", "charlie", "bravo", "echo"]):
        create(state, name, Region=["us-east-1", "eu-west-1"][index % 2])
        clock.advance(0.0004 if index % 2 else 0.3)  # some share a millisecond
    clock.advance(DURATIONS.total / 2)
    every = ",".join(["NEW", "INITIALIZING", "ACTIVE", "CREATE_FAILED", "UPDATE_IN_PROGRESS",
                      "UPDATE_COMPLETE", "UPDATE_FAILED", "DELETE_IN_PROGRESS", "DELETED",
                      "DELETE_FAILED"])  # fmt: skip
    for offset in ("0", "2", "4"):
        query = {"sort": sort, "sort_order": order, "limit": "2", "offset": offset}
        by_model = state.query_workloads(query)
        by_body = state.query_workloads({**query, "filter": every})  # served, then sorted
        assert by_model == by_body


def test_seed_replaces_same_ids(state: SimState) -> None:
    counts = state.seed(
        {"accounts": [{"Id": ACCOUNT, "Name": "renamed", "AwsAccountId": "111111111111"}]}
    )
    assert counts["accounts"] == 1
    assert state.query_accounts({})["Accounts"][0]["Name"] == "renamed"
    with pytest.raises(BadRequest, match=r"^organisation\.Id"):
        state.seed({"organisation": {"Id": "x"}})
    with pytest.raises(BadRequest, match="unknown seed section"):
        state.seed({"users": []})


def test_configure_validates_against_document(state: SimState) -> None:
    with pytest.raises(BadRequest, match=r"api_auth\.identityPoolId"):
        state.configure({"region": "us-east-1", "userPoolId": "p", "userPoolWebClientId": "c"})
    config = {
        "region": "ap-southeast-2",
        "userPoolId": "p",
        "userPoolWebClientId": "c",
        "identityPoolId": "i",
    }
    state.configure(config)
    body = state.public_config("https://127.0.0.1:8443/20190206")
    validator = load_document().component_validator("public.ReadConfig")
    assert validator.first_error(body) is None
    assert state.region == "ap-southeast-2"


# -- strict realism: deleted workloads, read-after-write lag --------------------------
def _deleted(state: SimState, clock: Clock) -> str:
    workload, _ = create(state)
    clock.advance(DURATIONS.total)
    state.delete_workload(workload["Id"])
    clock.advance(DURATIONS.total)
    assert state.get_workload(workload["Id"])["Status"] == "DELETED"
    return str(workload["Id"])


def test_deleting_or_updating_a_deleted_workload_is_not_found(
    state: SimState, clock: Clock
) -> None:
    workload_id = _deleted(state, clock)
    with pytest.raises(NotFound):
        state.delete_workload(workload_id)
    with pytest.raises(NotFound):
        state.update_workload(workload_id, {"Tags": {"a": "b"}})
    # still readable, by id and in lists
    assert state.query_workloads({"filter": "DELETED"})["Workloads"][0]["Id"] == workload_id


def test_lenient_mode_refuses_writes_to_a_deleted_workload_with_400(
    state: SimState, clock: Clock
) -> None:
    state.set_realism({"strict": False})
    workload_id = _deleted(state, clock)
    with pytest.raises(BadRequest, match="DELETED"):
        state.delete_workload(workload_id)
    with pytest.raises(BadRequest, match="DELETED"):
        state.update_workload(workload_id, {})


def test_a_new_workload_is_invisible_to_every_read_until_the_lag_has_passed(
    state: SimState, clock: Clock
) -> None:
    state.set_realism({"read_after_write_lag_seconds": 1.0})
    workload, task = create(state, "wl-lagged")
    queries: list[dict[str, str]] = [
        {},
        {"name": "wl-lagged"},
        {"name_filter": "lagged"},
        {"id_filter": workload["Id"]},
        {"account_ids": ACCOUNT},
        {"account_names": "dev"},
        {"catalogue_ids": CATALOGUE},
        {"catalogue_names": "vpc"},
        {"catalogue_version_id": V2},
        {"filter": "NEW"},
    ]
    clock.advance(0.99)
    for query in queries:
        assert state.query_workloads(query)["Workloads"] == [], query
    with pytest.raises(NotFound):
        state.get_workload(workload["Id"])
    with pytest.raises(NotFound):  # harsher reading: not found for writes either
        state.update_workload(workload["Id"], {})
    with pytest.raises(NotFound):
        state.get_task(task.id)
    clock.advance(0.01)
    for query in queries[:-1]:
        assert [w["Id"] for w in state.query_workloads(query)["Workloads"]] == [workload["Id"]]
    assert state.get_workload(workload["Id"])["Id"] == workload["Id"]
    assert state.get_task(task.id)["Status"] == "PENDING"  # phases run from the write


@pytest.mark.parametrize("operation", ["update", "delete", "catalogue-create", "catalogue-version"])
def test_every_new_task_is_not_found_until_the_lag_has_passed(
    state: SimState, clock: Clock, operation: str
) -> None:
    workload, _ = create(state)
    clock.advance(DURATIONS.total)
    state.set_realism({"read_after_write_lag_seconds": 0.5})
    manifest = {"Description": "d", "ManifestURL": "s3://b/k"}
    if operation == "update":
        _, task = state.update_workload(workload["Id"], {"Tags": {"a": "b"}})
    elif operation == "delete":
        _, task = state.delete_workload(workload["Id"])
    elif operation == "catalogue-create":
        _, _, task = state.create_catalogue_item({"Name": "new", "Version": "1", **manifest})
    else:
        _, _, task = state.create_catalogue_version(CATALOGUE, {"Version": "9", **manifest})
    with pytest.raises(NotFound):
        state.get_task(task.id)
    clock.advance(0.5)
    assert state.get_task(task.id)["Status"] == "STARTED"
    # an existing workload stays visible while its new task is not
    assert state.get_workload(workload["Id"])["Id"] == workload["Id"]


def test_the_lag_applies_to_writes_made_after_it_was_set(state: SimState, clock: Clock) -> None:
    before, _ = create(state, "before")
    state.set_realism({"read_after_write_lag_seconds": 5.0})
    assert state.get_workload(before["Id"])["Name"] == "before"


def test_reset_keeps_realism_unless_everything(state: SimState) -> None:
    state.set_realism({"strict": False, "seed": 4})
    state.reset()
    assert state.realism == Realism(
        strict=False, read_after_write_lag_seconds=0.0, null_share=0.0, seed=4
    )
    state.reset(everything=True)
    assert state.realism == Realism()
    assert (state.realism.read_after_write_lag_seconds, state.realism.null_share) == (1.0, 0.25)


def test_update_success_status_is_captured_when_the_task_starts(
    state: SimState, clock: Clock
) -> None:
    workload, _ = create(state)
    clock.advance(DURATIONS.total)
    state.update_workload(workload["Id"], {})
    state.set_durations(DURATIONS, "ACTIVE")  # later tasks only
    clock.advance(DURATIONS.total)
    assert state.get_workload(workload["Id"])["Status"] == "UPDATE_COMPLETE"


def test_connection_counters_are_cleared_by_reset(state: SimState) -> None:
    state.connections.connection_accepted()
    state.connections.tls_handshake_done()
    assert state.stats()["connections"] == {"accepted": 1, "tls_established": 1}
    state.reset()
    assert state.stats()["connections"] == {"accepted": 0, "tls_established": 0}


def test_task_lengths_drawn_from_a_range_stay_in_it_and_repeat_with_the_seed() -> None:
    from staxsim.models.tasks import TaskBackend

    def lengths(seed: int) -> list[float]:
        backend = TaskBackend()
        backend.set_total_range(1.0, 6.0, seed)
        return [backend.start("create", "w", 0.0, {}).durations.total for _ in range(40)]

    first = lengths(7)
    assert first == lengths(7)
    assert first != lengths(8)
    assert all(1.0 <= total <= 6.0 for total in first)
    assert max(first) - min(first) > 3  # spread over the range, not one value
