"""Fault injection, the request log, stats (tasks, connections) and the stderr log."""

from __future__ import annotations

import io
import socket
import time
from typing import Any

import pytest
import requests
from contract_support import UNKNOWN_ID, StaxApi, create_body, wait_for

from staxsim.control import SimulatorControl, SimulatorControlError
from staxsim.document import StaxDocument
from staxsim.server import SimulatorServer

WORKLOADS = "/20190206/workloads"


def _count(api: StaxApi, name: str) -> int:
    return len(api.checked("get", WORKLOADS, params={"name": name})["Workloads"])


def test_status_fault_before_does_not_apply_the_write(
    api: StaxApi, control: SimulatorControl
) -> None:
    control.set_faults(
        [{"path_regex": "^/20190206/workloads$", "methods": ["POST"], "statuses": [503]}],
        seed=7,
    )
    response = api.request("POST", WORKLOADS, json_body=create_body("wl-before"))
    assert response.status_code == 503
    assert response.json() == {"message": "Service Unavailable"}
    assert response.headers["x-amzn-ErrorType"] == "ServiceUnavailableException"
    assert _count(api, "wl-before") == 0  # GET is not matched by the rule
    control.clear_faults()
    api.checked("post", WORKLOADS, json_body=create_body("wl-before"))
    assert _count(api, "wl-before") == 1


def test_status_fault_after_applies_the_write(api: StaxApi, control: SimulatorControl) -> None:
    control.set_faults(
        [
            {
                "path_regex": "^/20190206/workloads",
                "methods": ["POST"],
                "statuses": [502],
                "when": "after",
                "count": 1,
            }
        ]
    )
    first = api.request("POST", WORKLOADS, json_body=create_body("wl-after"))
    assert first.status_code == 502
    assert _count(api, "wl-after") == 1  # written although the response was lost
    second = api.request("POST", WORKLOADS, json_body=create_body("wl-after"))
    assert second.status_code == 200  # count exhausted
    assert _count(api, "wl-after") == 2
    assert control.faults()["rules"][0]["triggered"] == 1


def test_drop_after_applies_the_write_and_sends_nothing(
    api: StaxApi, control: SimulatorControl
) -> None:
    control.set_faults(
        [{"path_regex": "^/20190206/workloads$", "mode": "drop", "when": "after", "count": 1}]
    )
    with pytest.raises(requests.ConnectionError):
        api.request("POST", WORKLOADS, json_body=create_body("wl-drop"))
    assert _count(api, "wl-drop") == 1
    entry = [e for e in control.requests() if e["method"] == "POST"][-1]
    assert entry["fault"] == "after:drop" and entry["status"] is None


def test_latency_and_probability(api: StaxApi, control: SimulatorControl) -> None:
    control.set_faults([{"path_regex": "/accounts$", "latency_ms": 150}])
    started = time.monotonic()
    api.checked("get", "/20190206/accounts")
    assert time.monotonic() - started >= 0.15
    assert control.requests()[-1]["fault"] == "latency:150ms"

    # a seeded RNG gives the same sequence of faults on every run
    def run() -> list[int]:
        control.set_faults(
            [
                {
                    "path_regex": "/accounts$",
                    "probability": 0.5,
                    "statuses": [429, 500, 503],
                }
            ],
            seed=42,
        )
        return [api.request("GET", "/20190206/accounts").status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert {200} < set(first) and set(first) <= {200, 429, 500, 503}


def test_bad_fault_rules_are_refused(control: SimulatorControl) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"probability": 2, "statuses": [500]}, "rules[0].probability"),
        ({"statuses": [200]}, "rules[0].statuses"),
        ({"path_regex": "("}, "rules[0].path_regex"),
        ({"when": "later", "statuses": [500]}, "rules[0].when"),
        ({"path_regex": "x"}, "rules[0]: does nothing"),
    ]
    for rule, field in cases:
        with pytest.raises(SimulatorControlError) as caught:
            control.set_faults([rule])
        assert caught.value.status == 400
        assert field in caught.value.body["error"]


def test_request_log(api: StaxApi, control: SimulatorControl) -> None:
    control.clear_requests()
    before = time.time()
    api.checked("get", WORKLOADS, params={"name": "nobody"})
    api.checked("get", "/20190206/task/{task_id}", path_params={"task_id": UNKNOWN_ID}, expect=404)
    api.request("GET", WORKLOADS, sign=False)
    entries = control.requests()
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", WORKLOADS, 200),
        ("GET", f"/20190206/task/{UNKNOWN_ID}", 404),
        ("GET", WORKLOADS, 403),
    ]
    first = entries[0]
    assert first["query"] == {"name": "nobody"}
    assert first["operation"] == "workloads.ReadWorkloads"
    assert first["fault"] is None
    assert before <= first["time"] <= time.time()
    assert first["duration_ms"] >= 0
    assert control.requests(since=entries[1]["time"]) == entries[1:]
    control.clear_requests()
    assert control.requests() == []


def test_stats_max_concurrent_tasks(api: StaxApi, control: SimulatorControl) -> None:
    control.set_task_durations(started=0.1, pending=0.1, running=0.3)
    for index in range(3):
        api.checked("post", WORKLOADS, json_body=create_body(f"wl-par-{index}"))
    stats = control.stats()
    assert stats["max_concurrent_tasks"] == 3
    assert stats["active_tasks"] == 3
    wait_for(lambda: control.stats()["active_tasks"] == 0, timeout=3)
    control.set_task_durations(started=0, pending=0, running=0.05)
    sequential_from = time.time()
    for index in range(2):  # one after the other: never more than one at once
        api.checked("post", WORKLOADS, json_body=create_body(f"wl-seq-{index}"))
        wait_for(lambda: control.stats()["active_tasks"] == 0, timeout=3)
    assert control.stats(since=sequential_from)["max_concurrent_tasks"] == 1
    assert control.stats(since=sequential_from)["tasks"]["total"] == 2
    stats = control.stats()
    assert stats["max_concurrent_tasks"] == 3  # the maximum so far
    assert stats["tasks"]["total"] == 5
    assert stats["tasks"]["by_status"] == {"SUCCEEDED": 5}
    assert stats["workloads"]["by_status"] == {"ACTIVE": 5}
    assert stats["requests"]["by_operation"]["workloads.CreateWorkload"] == 5
    control.reset()
    assert control.stats()["max_concurrent_tasks"] == 0


def test_log_lines_carry_no_credentials(api: StaxApi, sim_log: io.StringIO) -> None:
    api.checked("get", WORKLOADS, params={"name": "logged"})
    # the server writes its line after sending the response: wait for it
    wait_for(lambda: "name=logged" in sim_log.getvalue())
    lines = sim_log.getvalue().splitlines()
    line = next(li for li in reversed(lines) if "name=logged" in li)
    assert '"GET /20190206/workloads?name=logged" 200' in line
    text = sim_log.getvalue()
    assert "AWS4-HMAC-SHA256" not in text
    assert "Signature=" not in text
    assert api.credentials.token not in text
    assert api.credentials.access_key not in text


def test_a_fault_rule_with_a_query_regex_slows_only_name_lookups(
    api: StaxApi, control: SimulatorControl
) -> None:
    control.set_faults(
        [
            {
                "path_regex": "^/20190206/workloads$",
                "methods": ["GET"],
                "query_regex": "(^|&)name=",
                "latency_ms": 300,
            }
        ]
    )
    assert control.faults()["rules"][0]["query_regex"] == "(^|&)name="
    control.clear_requests()
    started = time.monotonic()
    api.checked("get", WORKLOADS, params={"name": "wl-slow"})
    assert time.monotonic() - started >= 0.3
    api.checked("get", WORKLOADS, params={"limit": 5, "offset": 0})
    api.checked("get", WORKLOADS, params={"name_filter": "wl"})
    assert [e["fault"] for e in control.requests()] == ["latency:300ms", None, None]


def test_a_held_post_is_still_applied_after_the_client_gave_up(
    api: StaxApi, control: SimulatorControl, sim_log: io.StringIO
) -> None:
    control.set_faults(
        [
            {
                "path_regex": "^/20190206/workloads$",
                "methods": ["POST"],
                "latency_ms": 1000,
                "when": "before",
            }
        ]
    )

    def stored() -> bool:
        return any(w["Name"] == "wl-gave-up" for w in control.state()["workloads"])

    with pytest.raises(requests.ReadTimeout):
        api.request("POST", WORKLOADS, json_body=create_body("wl-gave-up"), timeout=0.2)
    assert not stored()  # still held
    wait_for(stored, timeout=5)  # ... and then applied, the client long gone
    control.clear_faults()
    assert _count(api, "wl-gave-up") == 1
    [entry] = [e for e in control.requests() if e["method"] == "POST"]
    assert (entry["status"], entry["fault"]) == (200, "latency:1000ms")
    wait_for(lambda: '"POST /20190206/workloads" 200' in sim_log.getvalue())


def test_connections_are_counted_once_per_connection_not_per_request(
    server: SimulatorServer, tls: Any, document: StaxDocument, control: SimulatorControl
) -> None:
    before = control.connections()
    client = StaxApi(server.base_url, tls.ca, document)
    try:
        for _ in range(3):  # one keep-alive connection
            client.checked("get", "/20190206/accounts")
    finally:
        client.session.close()
    after = control.connections()
    assert after["accepted"] - before["accepted"] == 1
    assert after["tls_established"] - before["tls_established"] == 1

    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass  # TCP only: no TLS handshake
    wait_for(lambda: control.connections()["accepted"] == after["accepted"] + 1)
    assert control.connections()["tls_established"] == after["tls_established"]

    control.reset()  # this client's connection stays open and uncounted
    assert control.connections() == {"accepted": 0, "tls_established": 0}
    assert control.stats()["connections"] == {"accepted": 0, "tls_established": 0}
