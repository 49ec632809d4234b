"""Response shaping derived from the document: nullable fields, undefined properties,
and every served operation's body with all nulls still matching the document."""

from __future__ import annotations

import json
from typing import Any

import pytest

from staxsim.backend import SimState
from staxsim.document import load_document
from staxsim.messages import Request
from staxsim.realism import Realism
from staxsim.responses import OperationContext, StaxResponses
from staxsim.shaping import ResponseShaper
from staxsim.urls import SERVED, Router

ORG = "0f5e3b2a-8c41-4d7e-9b6a-1c2d3e4f5a60"
ACCOUNT = "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11"
CATALOGUE = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00"
V1 = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a01"
WORKLOADS = "/20190206/workloads"


@pytest.fixture(scope="module")
def shaper() -> ResponseShaper:
    return ResponseShaper(load_document())


def _paths(shaper: ResponseShaper, template: str, method: str) -> list[str]:
    node = shaper.response_node(template, method, 200)
    assert node is not None
    return shaper.nullable_paths(node)


def test_nullable_fields_are_read_from_the_document(shaper: ResponseShaper) -> None:
    read = _paths(shaper, WORKLOADS, "get")
    for path in (
        "Workloads[].Tags",
        "Workloads[].Parameters",
        "Workloads[].CatalogueVersionId",
        "Workloads[].CatalogueVersion",
    ):
        assert path in read
    assert "Workloads[].Id" not in read and "Workloads[].Status" not in read
    created = _paths(shaper, WORKLOADS, "post")
    assert "Detail.Workload.Name" in created
    assert "Detail.Workload.WorkloadId" not in created
    assert "Detail.Workload.TaskId" not in created
    catalogue = _paths(shaper, "/20190206/workload-catalogue", "get")
    assert "WorkloadCatalogues[].WorkloadCatalogueItems[].CatalogueVersionId" in catalogue
    assert _paths(shaper, "/20190206/task/{task_id}", "get") == []


def test_a_null_with_a_documented_meaning_is_never_served_by_chance(
    shaper: ResponseShaper,
) -> None:
    # Pagination.NextOffset: "Null when there are no more pages to fetch"
    read = _paths(shaper, WORKLOADS, "get")
    assert not any(p.startswith("Paging.") for p in read)
    node = shaper.response_node(WORKLOADS, "get", 200)
    assert node is not None
    body = {"Workloads": [], "Paging": {"Total": 30, "NextOffset": 10, "PrevOffset": 0}}
    assert shaper.null_out(body, node)["Paging"] == body["Paging"]


def test_prune_drops_what_the_document_does_not_define_and_keeps_free_form_objects(
    shaper: ResponseShaper,
) -> None:
    node = shaper.response_node(WORKLOADS, "post", 200)
    assert node is not None
    event = {
        "DetailType": "workloads:CreateWorkload",
        "WorkloadId": ACCOUNT,
        "Invented": 1,
        "Detail": {
            "Operation": "workloads:CreateWorkload",
            "OperationStatus": "STARTED",
            "Severity": "INFO",
            "Message": "free text",
            "TaskId": ACCOUNT,
            "TraceId": "x",
            "Workload": {
                "Id": ACCOUNT,
                "WorkloadId": ACCOUNT,
                "TaskId": ACCOUNT,
                "Name": "wl",
                "TraceId": "x",
                "Tags": {"any-key": "kept"},
                "Parameters": {"Anything": 1},
            },
        },
    }
    pruned = shaper.prune(event, node)
    assert set(pruned) == {"DetailType", "WorkloadId", "Detail"}  # WorkloadId is defined
    assert "TaskId" not in pruned["Detail"] and "TraceId" not in pruned["Detail"]
    assert set(pruned["Detail"]["Workload"]) == {
        "WorkloadId",
        "TaskId",
        "Name",
        "TraceId",
        "Tags",
        "Parameters",
    }
    assert pruned["Detail"]["Workload"]["Tags"] == {"any-key": "kept"}
    assert pruned["Detail"]["Message"] == "free text"
    assert event["Detail"]["TaskId"] == ACCOUNT  # the input is not changed


class Driver:
    """Calls the API handlers in-process (no HTTP, no SigV4)."""

    def __init__(self, realism: Realism) -> None:
        self.state = SimState(realism=realism)
        self.state.set_durations(self.state.durations.from_total(0))
        self.state.seed(
            {
                "organisation": {"Id": ORG, "Name": "Org"},
                "accounts": [{"Id": ACCOUNT, "Name": "dev", "AwsAccountId": "111111111111"}],
                "catalogue": [
                    {"Id": CATALOGUE, "Name": "vpc", "Versions": [{"Id": V1, "Name": "1.0.0"}]}
                ],
            }
        )
        self.state.configure(
            {
                "region": "us-east-1",
                "userPoolId": "p",
                "userPoolWebClientId": "c",
                "identityPoolId": "i",
            }
        )
        self.responses = StaxResponses(self.state)
        self.router = Router(self.state.document)

    def call(self, method: str, path: str, body: Any = None, **query: str) -> tuple[str, int, Any]:
        match = self.router.match(path)
        assert match is not None
        raw = json.dumps(body).encode() if body is not None else b""
        request = Request(method, path, dict(query), {"host": "127.0.0.1"}, raw)
        operation = self.state.document.operation_id(match.template, method.lower())
        ctx = OperationContext(self.state.document, request, match, method.lower(), operation)
        status, payload = self.responses.dispatch(SERVED[(match.template, method.lower())], ctx)
        return match.template, status, payload

    def every_operation(self) -> list[tuple[str, str, int, Any]]:
        """One successful call of every served operation."""
        calls: list[tuple[str, str, int, Any]] = []

        def run(method: str, path: str, body: Any = None, **query: str) -> Any:
            template, status, payload = self.call(method, path, body, **query)
            calls.append((method.lower(), template, status, payload))
            return payload

        manifest = {"Description": "d", "ManifestURL": "s3://b/k"}
        run("GET", "/20190206/public/config")
        run(
            "POST",
            WORKLOADS,
            {
                "Name": "wl-one",
                "AccountId": ACCOUNT,
                "CatalogueId": CATALOGUE,
                "Region": "us-east-1",
                "Parameters": [{"Key": "K", "Value": "V"}],
                "Tags": {"T": "1"},
            },
        )
        [workload_id] = list(self.state.workloads)
        [task_id] = list(self.state.tasks)
        run("GET", WORKLOADS, limit="5", offset="0")
        run("GET", f"{WORKLOADS}/{workload_id}", include_tags="true")
        run("PUT", f"{WORKLOADS}/{workload_id}", {"Tags": {"T": "2"}})
        run("DELETE", f"{WORKLOADS}/{workload_id}")
        run("GET", f"/20190206/task/{task_id}")
        run("GET", "/20190206/workload-catalogue", include_versions="true", limit="5")
        run("GET", f"/20190206/workload-catalogue/{CATALOGUE}")
        run("GET", f"/20190206/workload-catalogue/{CATALOGUE}/{V1}")
        run("POST", "/20190206/workload-catalogue", {"Name": "item", "Version": "1", **manifest})
        run("PUT", f"/20190206/workload-catalogue/{CATALOGUE}", {"Version": "2", **manifest})
        run("GET", "/20190206/accounts")
        run("GET", f"/20190206/accounts/{ACCOUNT}")
        run("GET", "/20190206/accounts/types")
        return calls


def test_every_served_operation_with_all_nulls_still_matches_the_document(
    shaper: ResponseShaper,
) -> None:
    driver = Driver(Realism(read_after_write_lag_seconds=0.0, null_share=1.0, seed=1))
    calls = driver.every_operation()
    assert {(t, m) for m, t, _, _ in calls} == set(SERVED)
    document = load_document()
    for method, template, status, payload in calls:
        assert status == 200, (method, template, payload)
        validator = document.response_validator(template, method, 200)
        assert validator is not None
        assert validator.first_error(payload) is None, (method, template, payload)
    by_op = {(m, t): p for m, t, _, p in calls}
    [read] = by_op[("get", f"{WORKLOADS}/{{workload_id}}")]["Workloads"]
    assert (read["Tags"], read["Parameters"], read["CatalogueVersionId"]) == (None, None, None)
    assert read["CatalogueVersion"] is None and read["Id"]
    event = by_op[("post", WORKLOADS)]["Detail"]["Workload"]
    assert event["Name"] is None and event["WorkloadId"] and event["TaskId"]
    items = by_op[("get", "/20190206/workload-catalogue")]["WorkloadCatalogues"][0]
    assert all(i["CatalogueVersionId"] is None for i in items["WorkloadCatalogueItems"])
    assert items["Paging"]["Total"] >= 1  # paging is never nulled


def test_strict_bodies_carry_no_undefined_property_and_lenient_ones_keep_the_extras(
    shaper: ResponseShaper,
) -> None:
    strict = Driver(Realism(read_after_write_lag_seconds=0.0, null_share=0.0))
    lenient = Driver(Realism.for_mode(False))
    for (method, template, _, body), (_, _, _, kind) in zip(
        strict.every_operation(), lenient.every_operation(), strict=True
    ):
        node = shaper.response_node(template, method, 200)
        assert node is not None
        assert shaper.prune(body, node) == body, (method, template)
        if (method, template) == ("put", "/20190206/workload-catalogue/{catalogue_id}"):
            assert "CatalogueVersionId" not in body["Detail"]["WorkloadCatalogueItem"]
            assert "CatalogueVersionId" in kind["Detail"]["WorkloadCatalogueItem"]
