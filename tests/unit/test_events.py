"""The sample events in events/: valid ones load, invalid ones are refused naming the field."""

from __future__ import annotations

import json
import pathlib

import pytest

from chalicelib.errors import InvalidWorkloadRequest
from chalicelib.validation import (
    load_operation_request,
    load_task_status_request,
    load_workload_request,
)

EVENTS = pathlib.Path(__file__).resolve().parents[2] / "events"
INVALID = EVENTS / "invalid"
EXPECTED: dict[str, list[str]] = json.loads((INVALID / "EXPECTED.json").read_text())

SEED_UPDATE = {
    "operation": "update",
    "workload_id": "b3437e3b-55e3-4060-9dec-042f18dcf789",
    "catalogue_version_id": "69e4a16c-7c7c-48cf-bb8d-312c43fc0563",
}
SEED_DELETE = {"operation": "delete", "workload_id": "b3437e3b-55e3-4060-9dec-042f18dcf789"}
SEEDED_IDS = {
    "aws_account_id": "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11",
    "catalogue_id": "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00",
    "catalogue_version_id": "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a01",
    "aws_region": "ap-southeast-2",
}


def event(relative: str):
    return json.loads((EVENTS / relative).read_text())


@pytest.mark.parametrize(
    ("user_payload", "normalised"),
    [
        ("validate_input/create.json", "create_workload.json"),
        ("validate_input/update_parameters.json", "update_workload.json"),
        # The seed's delete is already normalised; events/delete_workload.json names another
        # seeded workload (the update's makes its workload protected, which Stax refuses
        # to delete).
        ("validate_input/delete.json", "validate_input/delete.json"),
        # Already normalised (the seed's update; no optional field given): loads unchanged.
        ("validate_input/update.json", "validate_input/update.json"),
    ],
)
def test_validate_input_events_load(user_payload, normalised):
    assert load_workload_request(event(user_payload)) == event(normalised)


def test_update_event_is_the_seed_payload_and_unchanged():
    assert event("validate_input/update.json") == SEED_UPDATE
    assert load_workload_request(event("validate_input/update.json")) == SEED_UPDATE


def test_delete_event_is_the_seed_payload():
    assert event("validate_input/delete.json") == SEED_DELETE


def test_create_event_uses_the_seeded_ids():
    payload = event("validate_input/create.json")
    assert {key: payload[key] for key in SEEDED_IDS} == SEEDED_IDS


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
def test_operation_events_are_normalised_requests(operation):
    payload = event(f"{operation}_workload.json")
    assert load_operation_request(operation, payload) == payload
    # Also valid as user input: `chalice invoke -n validate_input < events/create_workload.json`.
    assert load_workload_request(payload) == payload


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
def test_operation_events_accept_the_orchestration_field(operation):
    execution = "arn:aws:states:us-east-1:000000000000:execution:workload:run-1"
    payload = dict(event(f"{operation}_workload.json"), orchestration={"execution_id": execution})
    assert load_operation_request(operation, payload)["orchestration"] == {
        "execution_id": execution
    }


def test_get_task_status_event_loads():
    payload = event("get_task_status.json")
    assert load_task_status_request(payload) == payload


def test_invalid_corpus_is_complete():
    files = {path.name for path in INVALID.glob("*.json")} - {"EXPECTED.json"}
    assert files == set(EXPECTED)
    assert len(files) >= 40
    assert all(EXPECTED.values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_event_is_refused_naming_the_fields(name):
    payload = json.loads((INVALID / name).read_text())
    with pytest.raises(InvalidWorkloadRequest) as caught:
        load_workload_request(payload)
    errors = caught.value.details["errors"]
    assert set(errors) == set(EXPECTED[name])
    assert all(
        messages and all(isinstance(m, str) and m for m in messages) for messages in errors.values()
    )
    body = json.loads(str(caught.value))
    assert body["error"] == "InvalidWorkloadRequest"
    assert body["message"].startswith("The workload request has ")


#: Events of the platform rules, and what their refusal must say.
PLATFORM_RULE_EVENTS = {
    "params_key_hyphen.json": "key must be alphanumeric (A-Z, a-z, 0-9), as CloudFormation",
    "params_key_underscore.json": "key must be alphanumeric",
    "params_key_accented_letter.json": "found U+00E9 (LATIN SMALL LETTER E WITH ACUTE)",
    "update_params_key_dot.json": "found '.'",
    "params_value_multibyte_over_4096_bytes.json": "value is 4,098 bytes as UTF-8 (2,049 ",
    "params_value_emoji_over_4096_bytes.json": "value is 4,100 bytes as UTF-8 (1,025 ",
    "params_value_nested_too_deeply.json": "is nested too deeply",
    "tags_value_nested_too_deeply.json": "is nested too deeply",
    "unknown_field_nested_too_deeply.json": "is nested too deeply",
    "not_object_deep_array.json": "must be a JSON object",
}


@pytest.mark.parametrize(("name", "fragment"), sorted(PLATFORM_RULE_EVENTS.items()))
def test_platform_rule_events_are_refused_by_that_rule(name, fragment):
    payload = json.loads((INVALID / name).read_text())
    with pytest.raises(InvalidWorkloadRequest) as caught:
        load_workload_request(payload)
    [field] = EXPECTED[name]
    assert any(fragment in message for message in caught.value.details["errors"][field])


def test_multibyte_parameter_values_are_short_in_characters_and_long_in_bytes():
    for name in (
        "params_value_multibyte_over_4096_bytes.json",
        "params_value_emoji_over_4096_bytes.json",
    ):
        [value] = json.loads((INVALID / name).read_text())["workload_parameters"].values()
        assert len(value) < 4096 < len(value.encode())
