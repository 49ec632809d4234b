"""Fault rule parsing, matching, probability (seeded), count and labels."""

from __future__ import annotations

import pytest

from staxsim.faults import FaultInjector, FaultRule, FaultRuleError, fault_body


def test_defaults_and_matching() -> None:
    rule = FaultRule.from_dict({"path_regex": "^/20190206/workloads", "statuses": [503]})
    assert (rule.when, rule.mode, rule.probability, rule.count) == ("before", "status", 1.0, None)
    assert rule.matches("POST", "/20190206/workloads")
    assert rule.matches("get", "/20190206/workloads/abc")
    assert not rule.matches("GET", "/20190206/task/abc")
    limited = FaultRule.from_dict({"methods": ["post"], "statuses": [500]})
    assert limited.matches("POST", "/anything") and not limited.matches("GET", "/anything")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("not an object", "rule: must be an object"),
        ({"statuses": [500], "colour": "red"}, "rule.colour: unknown field"),
        ({"statuses": [500], "path_regex": "("}, "rule.path_regex: invalid regex"),
        ({"statuses": [500], "methods": "POST"}, "rule.methods"),
        ({"statuses": [500], "probability": 1.5}, "rule.probability"),
        ({"statuses": [500], "probability": True}, "rule.probability"),
        ({"statuses": [302]}, "rule.statuses"),
        ({"latency_ms": [10]}, "rule.latency_ms"),
        ({"latency_ms": [20, 10]}, "rule.latency_ms"),
        ({"statuses": [500], "when": "during"}, "rule.when"),
        ({"statuses": [500], "mode": "explode"}, "rule.mode"),
        ({"statuses": [500], "count": 0}, "rule.count"),
        ({}, "does nothing"),
    ],
)
def test_invalid_rules_name_the_field(raw: object, field: str) -> None:
    with pytest.raises(FaultRuleError, match=field.replace("(", r"\(").replace("[", r"\[")):
        FaultRule.from_dict(raw)


def test_decide_count_and_labels() -> None:
    injector = FaultInjector()
    injector.set_rules(
        [
            {"path_regex": "/workloads$", "statuses": [502], "when": "after", "count": 2},
            {"path_regex": "/workloads$", "mode": "drop"},
        ]
    )
    first = injector.decide("POST", "/20190206/workloads")
    assert first is not None and first.label() == "after:502" and first.rule_index == 0
    assert injector.decide("POST", "/20190206/workloads").rule_index == 0  # type: ignore[union-attr]
    third = injector.decide("POST", "/20190206/workloads")
    assert third is not None and third.label() == "before:drop" and third.status is None
    assert injector.decide("GET", "/20190206/task/x") is None
    assert injector.rules()[0]["triggered"] == 2


def test_latency_only_rule() -> None:
    injector = FaultInjector()
    injector.set_rules([{"latency_ms": [100, 200]}], seed=3)
    decision = injector.decide("GET", "/20190206/accounts")
    assert decision is not None and decision.latency_only
    assert 0.1 <= decision.latency_s <= 0.2
    assert decision.label().startswith("latency:")


def test_probability_is_seeded() -> None:
    def run(seed: int) -> list[int | None]:
        injector = FaultInjector()
        injector.set_rules([{"probability": 0.3, "statuses": [429, 500, 503]}], seed=seed)
        out = []
        for _ in range(200):
            decision = injector.decide("GET", "/x")
            out.append(decision.status if decision else None)
        return out

    first = run(1)
    assert first == run(1)
    assert first != run(2)
    hits = sum(1 for s in first if s is not None)
    assert 30 < hits < 90  # about 30 %
    assert {s for s in first if s is not None} == {429, 500, 503}


def test_clear_and_fault_body() -> None:
    injector = FaultInjector()
    injector.set_rules([{"statuses": [500]}])
    injector.clear()
    assert injector.decide("GET", "/x") is None
    assert fault_body(429) == ({"message": "Too Many Requests"}, "TooManyRequestsException")
    assert fault_body(418)[0] == {"message": "Injected fault"}


def test_a_query_regex_matches_the_raw_query_string_only() -> None:
    rule = FaultRule.from_dict(
        {
            "path_regex": "^/20190206/workloads$",
            "methods": ["GET"],
            "query_regex": "(^|&)name=",
            "latency_ms": 3000,
        }
    )
    assert rule.matches("GET", "/20190206/workloads", "name=wl-a")
    assert rule.matches("GET", "/20190206/workloads", "limit=5&name=wl-a")
    assert not rule.matches("GET", "/20190206/workloads", "name_filter=wl")
    assert not rule.matches("GET", "/20190206/workloads", "")
    assert rule.as_dict()["query_regex"] == "(^|&)name="
    plain = FaultRule.from_dict({"statuses": [500]})
    assert plain.query_regex is None and plain.matches("GET", "/x", "anything=1")


def test_the_injector_passes_the_query_to_the_rules() -> None:
    injector = FaultInjector()
    injector.set_rules([{"query_regex": "(^|&)name=", "statuses": [503]}])
    assert injector.decide("GET", "/20190206/workloads", "limit=5") is None
    decision = injector.decide("GET", "/20190206/workloads", "name=x")
    assert decision is not None and decision.status == 503


def test_a_bad_query_regex_is_refused_naming_the_field() -> None:
    with pytest.raises(FaultRuleError, match=r"rule\.query_regex: invalid regex"):
        FaultRule.from_dict({"query_regex": "(", "statuses": [500]})
    with pytest.raises(FaultRuleError, match=r"rule\.query_regex: must be a string"):
        FaultRule.from_dict({"query_regex": 5, "statuses": [500]})
