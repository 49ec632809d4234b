"""Workload requests (chalicelib.validation.workload): every rule and its message (no mocks)."""

from __future__ import annotations

import json
import pathlib
from pathlib import Path

import pytest
import staxapp

from chalicelib import validation
from chalicelib.errors import InvalidWorkloadRequest
from chalicelib.regions import DEFAULT_REGIONS, DISABLED_REGIONS, OPT_IN_REGIONS
from chalicelib.validation import (
    limits,
    load_operation_request,
    load_task_status_request,
    load_workload_request,
)

ACCOUNT = "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11"
CATALOGUE = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00"
VERSION = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a01"
WORKLOAD = "b3437e3b-55e3-4060-9dec-042f18dcf789"
TASK = "7c1e9a52-3f0b-4d6e-9a8c-5b2d1e0f4a33"
EXECUTION_ARN = "arn:aws:states:us-east-1:000000000000:execution:workload:run-1"
UUID_MESSAGE = "must be a UUID like 3fa85f64-5717-4562-b3fc-2c963f66afa6"

# The three payloads of the seed README, verbatim (the user-facing contract).
SEED_CREATE = {
    "aws_account_id": "asd12e3-7c0e-4807-96ee-asd12ec21r2",
    "aws_region": "ap-southeast-2",
    "operation": "create",
    "catalogue_id": "b3437e3b-55e3-4060-9dec-042f18dcf789",
    "catalogue_version_id": "69e4a16c-7c7c-48cf-bb8d-312c43fc0563",
    "workload_name": "orchestrator-stax-demo-vpc",
    "workload_parameters": {"Param1": "Value1"},
    "workload_tags": {"Tag1": "Value1"},
}
SEED_UPDATE = {
    "operation": "update",
    "workload_id": "b3437e3b-55e3-4060-9dec-042f18dcf789",
    "catalogue_version_id": "69e4a16c-7c7c-48cf-bb8d-312c43fc0563",
}
SEED_DELETE = {"operation": "delete", "workload_id": "b3437e3b-55e3-4060-9dec-042f18dcf789"}


def sdk_schemas() -> dict:
    path = pathlib.Path(staxapp.__file__).parent / "data" / "schema.json"
    return json.loads(path.read_text())["components"]["schemas"]


def create(**changes) -> dict:
    payload = {
        "operation": "create",
        "aws_account_id": ACCOUNT,
        "aws_region": "ap-southeast-2",
        "catalogue_id": CATALOGUE,
        "workload_name": "demo-vpc",
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not ...}


def update(**changes) -> dict:
    payload = {"operation": "update", "workload_id": WORKLOAD}
    payload.update(changes)
    return payload


def refusal(payload, loader=load_workload_request) -> InvalidWorkloadRequest:
    with pytest.raises(InvalidWorkloadRequest) as caught:
        loader(payload)
    return caught.value


def errors_of(payload, loader=load_workload_request) -> dict[str, list[str]]:
    return refusal(payload, loader).details["errors"]


def only_error(payload, field: str, loader=load_workload_request) -> str:
    """The single message for ``field``, asserting nothing else was refused."""
    errors = errors_of(payload, loader)
    assert list(errors) == [field], errors
    assert len(errors[field]) == 1, errors
    return errors[field][0]


# --------------------------------------------------------------------------------------
# The seed contract
# --------------------------------------------------------------------------------------


def test_seed_create_is_refused_only_for_its_invalid_account_id():
    message = only_error(SEED_CREATE, "aws_account_id")
    assert message.startswith(UUID_MESSAGE)
    assert "found 's'" in message


def test_seed_create_with_a_real_account_id_is_normalised():
    payload = dict(SEED_CREATE, aws_account_id=ACCOUNT.upper())
    assert load_workload_request(payload) == {
        "operation": "create",
        "aws_account_id": ACCOUNT,
        "aws_region": "ap-southeast-2",
        "catalogue_id": "b3437e3b-55e3-4060-9dec-042f18dcf789",
        "catalogue_version_id": "69e4a16c-7c7c-48cf-bb8d-312c43fc0563",
        "workload_name": "orchestrator-stax-demo-vpc",
        "workload_parameters": {"Param1": "Value1"},
        "workload_tags": {"Tag1": "Value1"},
    }


def test_seed_update_works_unchanged():
    assert load_workload_request(dict(SEED_UPDATE)) == SEED_UPDATE


def test_seed_delete_works_unchanged():
    assert load_workload_request(dict(SEED_DELETE)) == SEED_DELETE


def test_create_output_key_order_follows_the_conventions():
    result = load_workload_request(create(catalogue_version_id=VERSION))
    assert list(result) == [
        "operation",
        "aws_account_id",
        "aws_region",
        "catalogue_id",
        "catalogue_version_id",
        "workload_name",
        "workload_parameters",
        "workload_tags",
    ]


def test_create_without_optional_fields_gets_empty_maps():
    result = load_workload_request(create())
    assert result["workload_parameters"] == {}
    assert result["workload_tags"] == {}
    assert "catalogue_version_id" not in result


def test_loading_does_not_modify_the_payload():
    payload = create(workload_parameters={"A": 1})
    snapshot = json.loads(json.dumps(payload))
    load_workload_request(payload)
    assert payload == snapshot


# --------------------------------------------------------------------------------------
# Limits come from the SDK's document
# --------------------------------------------------------------------------------------


def test_tag_count_limit_is_the_sdk_documents():
    assert limits.STAX_MAX_TAGS == sdk_schemas()["Tags"]["maxProperties"] == 100
    # One tag is kept for the orchestrator's execution tag.
    assert limits.MAX_TAGS == 99


def test_sdk_document_has_no_string_limits_for_tags_or_parameters():
    # If a future SDK adds limits, this fails and the module constants must follow.
    documents = sdk_schemas()
    assert documents["Tags"]["additionalProperties"] == {"type": "string"}
    assert documents["KeyValueRequestParameter"]["properties"] == {
        "Key": {"type": "string"},
        "Value": {"type": "string"},
    }


def test_workload_name_rules_are_the_sdk_documents():
    name = sdk_schemas()["workloads.CreateWorkload"]["properties"]["Name"]
    assert name["pattern"] == "^" + limits.WORKLOAD_NAME_PATTERN.pattern + "$"
    assert name["minLength"] == limits.WORKLOAD_NAME_MIN_LENGTH
    assert name["maxLength"] == limits.WORKLOAD_NAME_MAX_LENGTH


def test_uuid_pattern_is_the_sdk_documents():
    assert sdk_schemas()["uuidv4"]["pattern"] == "^" + limits.UUID_PATTERN.pattern + "$"


def test_chosen_limits():
    assert limits.MAX_PARAMETERS == 200
    assert limits.MAX_PARAMETER_KEY_LENGTH == 255
    assert limits.MAX_PARAMETER_VALUE_BYTES == 4096
    assert limits.MAX_TAG_KEY_LENGTH == 128
    assert limits.MAX_TAG_VALUE_LENGTH == 256
    assert limits.MAX_PAYLOAD_BYTES == 32 * 1024


# --------------------------------------------------------------------------------------
# The payload as a whole
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "described"),
    [
        ([], "an array"),
        ([SEED_DELETE], "an array"),
        ("create", "a string"),
        (42, "a number"),
        (1.5, "a number"),
        (None, "null"),
        (True, "a boolean"),
    ],
)
def test_non_object_payload_is_refused(payload, described):
    message = only_error(payload, "_schema")
    assert "must be a JSON object" in message
    assert message.endswith(f"not {described}")


def test_error_message_counts_the_problems_and_str_is_json():
    error = refusal(create(aws_account_id="x", aws_region="nowhere", workload_name="1"))
    body = json.loads(str(error))
    assert body["error"] == "InvalidWorkloadRequest"
    assert body["message"].startswith("The workload request has 4 problems: ")
    assert "aws_account_id, aws_region, workload_name" in body["message"]
    assert body["hint"] == InvalidWorkloadRequest.hint
    assert set(body["errors"]) == {"aws_account_id", "aws_region", "workload_name"}


def test_single_problem_is_singular():
    assert "has 1 problem: aws_region." in refusal(create(aws_region="x")).message


def test_all_problems_are_reported_at_once():
    errors = errors_of(
        {
            "operation": "create",
            "aws_account_id": "not-a-uuid",
            "aws_region": "ap-northeast-3",
            "catalogue_id": None,
            "workload_name": "my workload",
            "workload_parameters": {"Param1": ["x"], "Param2": None},
            "workload_tags": {"Tag1": 1},
            "protection": True,
            "colour": "blue",
        }
    )
    assert set(errors) == {
        "aws_account_id",
        "aws_region",
        "catalogue_id",
        "workload_name",
        "workload_parameters.Param1",
        "workload_parameters.Param2",
        "workload_tags.Tag1",
        "protection",
        "colour",
    }


def test_payload_over_32_kib_is_refused():
    parameters = {f"P{i:03}": "x" * 230 for i in range(150)}
    message = only_error(create(workload_parameters=parameters), "_schema")
    assert "at most 32768 bytes" in message
    assert "fewer or shorter parameters and tags" in message


def test_payload_size_counts_utf8_bytes():
    # 100 values of 256 two-byte characters: ~51 KB of UTF-8 but only ~27 K characters.
    tags = {f"T{i:03}": "é" * 256 for i in range(99)}
    as_text = json.dumps(create(workload_tags=tags), ensure_ascii=False, separators=(",", ":"))
    assert len(as_text) < limits.MAX_PAYLOAD_BYTES < len(as_text.encode())
    assert list(errors_of(create(workload_tags=tags))) == ["_schema"]


def test_payload_just_under_the_limit_is_accepted():
    parameters = {f"P{i:03}": "x" * 200 for i in range(140)}
    size = len(json.dumps(create(workload_parameters=parameters), separators=(",", ":")))
    assert size < limits.MAX_PAYLOAD_BYTES
    assert (
        len(load_workload_request(create(workload_parameters=parameters))["workload_parameters"])
        == 140
    )


def compact_size(payload) -> int:
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def test_normalised_request_near_the_limit_passes_the_operation_lambda():
    # Numbers and booleans gain two quotes each when normalised.
    parameters: dict = {f"P{i:03}": (i if i % 2 else True) for i in range(196)}
    tags = {f"T{i:02}": "v" * 256 for i in range(99)}
    payload = create(workload_parameters=parameters, workload_tags=tags)
    padding = limits.MAX_PAYLOAD_BYTES - compact_size(payload) - 40
    for index in range(4):
        parameters[f"Pad{index}"] = "x" * (padding // 4)
    assert compact_size(payload) <= limits.MAX_PAYLOAD_BYTES
    normalised = load_workload_request(payload)
    assert compact_size(normalised) > limits.MAX_PAYLOAD_BYTES
    normalised["orchestration"] = {"execution_id": "a" * 256}
    assert (
        load_operation_request("create", normalised)["workload_parameters"]
        == (normalised["workload_parameters"])
    )


def test_operation_request_size_limit_has_only_a_margin():
    tags = {f"T{i:02}": "v" * 256 for i in range(99)}
    parameters = {f"P{i:03}": "x" * 60 for i in range(200)}
    payload = create(workload_tags=tags, workload_parameters=parameters)
    assert compact_size(payload) > limits.MAX_PAYLOAD_BYTES + 1024
    message = only_error(payload, "_schema", lambda p: load_operation_request("create", p))
    assert f"at most {limits.MAX_PAYLOAD_BYTES + 1024} bytes" in message


def test_absurdly_deep_nesting_is_refused_on_its_field_without_crashing():
    deep: object = "leaf"
    for _ in range(100_000):
        deep = [deep]
    errors = errors_of(create(extra=deep))
    assert list(errors) == ["extra"]
    assert errors["extra"][0].startswith("unknown field")
    assert errors["extra"][1].startswith("is nested too deeply")


def test_report_is_bounded_for_huge_numbers_of_problems():
    tags = {f"Tag{i}": i for i in range(150)}
    error = refusal(create(workload_tags=tags))
    assert len(error.details["errors"]) == limits.MAX_REPORTED_FIELDS
    assert error.details["fields_not_shown"] == 151 - limits.MAX_REPORTED_FIELDS
    assert error.message.startswith("The workload request has 151 problems: ")
    assert "and 141 more" in error.message
    assert len(str(error)) <= limits.MAX_ERROR_CHARS


def test_report_is_bounded_for_long_keys():
    tags = {"K" * 5000 + str(i): 1 for i in range(60)}
    error = refusal(create(workload_tags=tags))
    assert len(str(error)) <= limits.MAX_ERROR_CHARS


@pytest.mark.parametrize(
    "payload",
    [
        {"operation": object()},
        {"operation": "create", "workload_tags": {1: "x"}},
        {"operation": "create", 7: "x"},
        {"operation": "update", "workload_id": WORKLOAD, "workload_parameters": {"a": b"x"}},
        {"operation": "create", "workload_parameters": {"n": 10**5000}},
        {"operation": "create", "workload_parameters": {"n": float("nan")}},
        {"operation": "create", "workload_parameters": {"n": float("-inf")}},
        {"operation": "create", "aws_region": b"ap-southeast-2"},
        {"operation": "delete", "workload_id": {"id": WORKLOAD}},
    ],
)
def test_marshmallow_validation_error_never_escapes(payload):
    refusal(payload)


# --------------------------------------------------------------------------------------
# operation
# --------------------------------------------------------------------------------------


def test_operation_is_required():
    assert only_error({}, "operation") == "is required: one of create, update, delete"


@pytest.mark.parametrize("value", ["upsert", "", "creat", "delete "])
def test_unknown_operation_lists_the_choices(value):
    message = only_error(create(operation=value), "operation")
    assert message.startswith("must be one of: create, update, delete; got ")


def test_operation_in_wrong_case_gets_a_hint():
    message = only_error(create(operation="Create"), "operation")
    assert "use lower case: 'create'" in message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, validation.NULL_MESSAGE),
        (1, "must be a string (text in double quotes), not a number"),
        (True, "must be a string (text in double quotes), not a boolean"),
        (["create"], "must be a string (text in double quotes), not an array"),
    ],
)
def test_operation_of_the_wrong_type(value, text):
    assert only_error(create(operation=value), "operation") == text


def test_without_a_valid_operation_only_unknown_fields_are_judged():
    errors = errors_of({"operation": "upsert", "workload_id": "x", "colour": "blue"})
    assert set(errors) == {"operation", "colour"}
    assert errors["colour"][0].startswith("unknown field; a request accepts: operation, ")


# --------------------------------------------------------------------------------------
# Unknown fields and fields of other operations
# --------------------------------------------------------------------------------------


def test_unknown_field_is_named_with_a_suggestion():
    message = only_error(create(workload_tag={"a": "b"}), "workload_tag")
    assert message.startswith("unknown field (did you mean 'workload_tags'?)")
    assert "operation 'create' accepts: operation, aws_account_id" in message


def test_unknown_field_without_a_close_match():
    message = only_error(create(colour="blue"), "colour")
    assert message.startswith("unknown field; operation 'create' accepts:")


def test_invisible_character_in_a_field_name_is_shown_escaped():
    payload = create(aws_region=...)
    payload["aws_region\u200b"] = "ap-southeast-2"
    errors = errors_of(payload)
    assert set(errors) == {'"aws_region\\u200b"', "aws_region"}
    assert "did you mean 'aws_region'?" in errors['"aws_region\\u200b"'][0]
    assert errors["aws_region"] == ["is required"]


@pytest.mark.parametrize(
    ("payload", "field", "text"),
    [
        (
            dict(SEED_DELETE, aws_region="ap-southeast-2"),
            "aws_region",
            "'delete'; it belongs to: create",
        ),
        (
            dict(SEED_DELETE, catalogue_version_id=VERSION),
            "catalogue_version_id",
            "'delete'; it belongs to: create, update",
        ),
        (dict(SEED_DELETE, protection=True), "protection", "'delete'; it belongs to: update"),
        (create(workload_id=WORKLOAD), "workload_id", "'create'; it belongs to: update, delete"),
        (create(protection=False), "protection", "'create'; it belongs to: update"),
        (
            update(workload_name="renamed", protection=True),
            "workload_name",
            "'update'; it belongs to: create",
        ),
    ],
)
def test_field_of_another_operation_is_refused(payload, field, text):
    assert only_error(payload, field) == f"is not allowed for operation {text}"


def test_users_cannot_send_orchestration():
    message = only_error(create(orchestration={"execution_id": EXECUTION_ARN}), "orchestration")
    assert message == "is added by the state machine and cannot be set in a request; remove it"


# --------------------------------------------------------------------------------------
# create: required fields and UUIDs
# --------------------------------------------------------------------------------------


def test_create_required_fields():
    errors = errors_of({"operation": "create"})
    assert errors == {
        "aws_account_id": ["is required"],
        "aws_region": ["is required"],
        "catalogue_id": ["is required"],
        "workload_name": ["is required"],
    }


@pytest.mark.parametrize("field", ["aws_account_id", "catalogue_id", "catalogue_version_id"])
def test_uuids_are_lower_cased(field):
    assert load_workload_request(create(**{field: VERSION.upper()}))[field] == VERSION


def test_nil_uuid_has_the_right_shape():
    nil = "00000000-0000-0000-0000-000000000000"
    assert load_workload_request(create(catalogue_id=nil))["catalogue_id"] == nil


@pytest.mark.parametrize(
    ("value", "found"),
    [
        (ACCOUNT.replace("-", ""), ""),
        ("{" + ACCOUNT + "}", "; found '{'"),
        ("urn:uuid:" + ACCOUNT, "; found 'u'"),
        (ACCOUNT[:-1], ""),
        (ACCOUNT + "0", ""),
        (ACCOUNT.replace("6", "g", 1), "; found 'g'"),
        (ACCOUNT.replace("6", "\uff16", 1), "; found U+FF16 (FULLWIDTH DIGIT SIX)"),
        (ACCOUNT.replace("-", "\u2010", 1), "; found U+2010 (HYPHEN)"),
        (" " + ACCOUNT, "; found U+0020 (SPACE)"),
        ("", ""),
    ],
)
def test_malformed_uuid_is_refused_with_an_example(value, found):
    """Only a character that is neither a hex digit nor a hyphen is named."""
    message = only_error(create(aws_account_id=value), "aws_account_id")
    assert message == (
        UUID_MESSAGE + " (8-4-4-4-12 hexadecimal digits), or a 12-digit AWS account number" + found
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (12345678, "must be a string (text in double quotes), not a number"),
        (True, "must be a string (text in double quotes), not a boolean"),
        ({"id": ACCOUNT}, "must be a string (text in double quotes), not an object"),
        (None, validation.NULL_MESSAGE),
    ],
)
def test_uuid_of_the_wrong_type(value, text):
    assert only_error(create(catalogue_id=value), "catalogue_id") == text


def test_optional_uuid_must_not_be_null():
    assert only_error(create(catalogue_version_id=None), "catalogue_version_id") == (
        validation.NULL_MESSAGE
    )


def test_uuid_with_a_trailing_newline_is_refused_as_control_character():
    message = only_error(create(catalogue_id=CATALOGUE + "\n"), "catalogue_id")
    assert message.startswith("contains the control character U+000A")


# --------------------------------------------------------------------------------------
# create: region
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("region", DEFAULT_REGIONS + OPT_IN_REGIONS)
def test_default_and_opt_in_regions_are_accepted(region):
    assert load_workload_request(create(aws_region=region))["aws_region"] == region


@pytest.mark.parametrize("region", DISABLED_REGIONS)
def test_disabled_region_is_refused_saying_so(region):
    message = only_error(create(aws_region=region), "aws_region")
    assert message == (
        f"region {region} is disabled in Stax (Stax does not deploy workloads there); "
        "choose another region"
    )


@pytest.mark.parametrize(
    "region", ["mars-east-1", "us-gov-west-1", "cn-north-1", "", "ap-southeast-2 "]
)
def test_unknown_region_is_refused_with_the_list(region):
    message = only_error(create(aws_region=region), "aws_region")
    assert f"{json.dumps(region)} is not a Stax region; use one of: " in message
    assert "ap-southeast-2, " in message and "me-south-1" in message
    assert "ap-northeast-3" not in message


def test_region_in_upper_case_gets_a_hint():
    assert only_error(create(aws_region="AP-SOUTHEAST-2"), "aws_region") == (
        "must be lower case: use 'ap-southeast-2'"
    )


def test_long_unknown_region_is_shortened_in_the_message():
    message = only_error(create(aws_region="x" * 500), "aws_region")
    assert "(+460 more characters)" in message
    assert len(message) < 600


def test_region_of_the_wrong_type():
    assert only_error(create(aws_region=["ap-southeast-2"]), "aws_region") == (
        "must be a string (text in double quotes), not an array"
    )


# --------------------------------------------------------------------------------------
# create: workload name
# --------------------------------------------------------------------------------------

NAME_RULE = (
    "must start with a letter (a-z, A-Z) and contain only letters, digits and hyphens (-), "
    "e.g. 'orchestrator-stax-demo-vpc'"
)


@pytest.mark.parametrize(
    "name", ["ab", "A1", "a-", "x" * 64, "Demo-VPC-2", "orchestrator-stax-demo-vpc"]
)
def test_valid_workload_names(name):
    assert load_workload_request(create(workload_name=name))["workload_name"] == name


@pytest.mark.parametrize(("name", "length"), [("a", 1), ("x" * 65, 65), ("", 0)])
def test_workload_name_length(name, length):
    errors = errors_of(create(workload_name=name))
    assert errors["workload_name"][0] == f"must be 2 to 64 characters long (got {length})"


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("1-demo", "; it starts with '1'"),
        ("-demo", "; it starts with '-'"),
        ("demo_vpc", "; found '_'"),
        ("demo vpc", "; found U+0020 (SPACE)"),
        ("demo.vpc", "; found '.'"),
        ("d\u0435mo", "; found U+0435 (CYRILLIC SMALL LETTER IE)"),
        ("demo\u200bvpc", "; found U+200B (ZERO WIDTH SPACE)"),
        ("\u00e9cole", "; it starts with U+00E9 (LATIN SMALL LETTER E WITH ACUTE)"),
        ("demo\uff11", "; found U+FF11 (FULLWIDTH DIGIT ONE)"),
    ],
)
def test_workload_name_pattern_explained_in_words(name, detail):
    assert only_error(create(workload_name=name), "workload_name") == NAME_RULE + detail


def test_workload_name_too_short_and_bad_pattern_both_reported():
    assert errors_of(create(workload_name="1"))["workload_name"] == [
        "must be 2 to 64 characters long (got 1)",
        NAME_RULE + "; it starts with '1'",
    ]


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("demo-vpc\n", "contains the control character U+000A"),
        ("demo\x00vpc", "contains a NUL character (U+0000); remove it"),
        ("demo-\u202ecpv", "contains the invisible text-direction character U+202E"),
    ],
)
def test_workload_name_with_control_characters(name, start):
    assert only_error(create(workload_name=name), "workload_name").startswith(start)


@pytest.mark.parametrize(("value", "kind"), [(42, "a number"), (True, "a boolean")])
def test_workload_name_must_be_a_string(value, kind):
    assert only_error(create(workload_name=value), "workload_name") == (
        f"must be a string (text in double quotes), not {kind}"
    )


# --------------------------------------------------------------------------------------
# workload_parameters
# --------------------------------------------------------------------------------------


def test_parameter_values_are_normalised_to_strings():
    parameters = {"S": "text", "E": "", "I": 2, "N": -7, "F": 1.5, "T": True, "FF": False}
    result = load_workload_request(create(workload_parameters=parameters))
    assert result["workload_parameters"] == {
        "S": "text",
        "E": "",
        "I": "2",
        "N": "-7",
        "F": "1.5",
        "T": "true",
        "FF": "false",
    }


def test_unicode_text_is_accepted_in_parameters_and_tags():
    result = load_workload_request(
        create(workload_parameters={"Ville": "Zürich 東京"}, workload_tags={"Équipe": "Données"})
    )
    assert result["workload_parameters"] == {"Ville": "Zürich 東京"}
    assert result["workload_tags"] == {"Équipe": "Données"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"Value": "x"}, "value must be a string, number or boolean, not an object; nested"),
        (["a", "b"], "value must be a string, number or boolean, not an array; nested"),
        (None, 'value must not be null; send a string, number or boolean ("" if empty)'),
        (float("nan"), "value must be a finite number (not NaN or Infinity)"),
        (float("inf"), "value must be a finite number (not NaN or Infinity)"),
        pytest.param(10**5000, "value is a number too long; at most 4096 digits", id="10**5000"),
        pytest.param(
            10**4096,
            "value is 4,097 bytes as UTF-8; at most 4,096 bytes are allowed",
            id="10**4096",
        ),
        ("v" * 4097, "value is 4,097 bytes as UTF-8; at most 4,096 bytes are allowed"),
        ("a\x00b", "value contains a NUL character (U+0000); remove it"),
        ("a\nb", "value contains the control character U+000A"),
        ("a\tb", "value contains the control character U+0009"),
        ("a\x7fb", "value contains the control character U+007F"),
        ("a\x85b", "value contains the control character U+0085"),
        ("\u202eabc", "value contains the invisible text-direction character U+202E"),
        ("\u2066abc", "value contains the invisible text-direction character U+2066"),
        ("a\ud800b", "value contains invalid Unicode (a lone surrogate U+D800)"),
    ],
)
def test_bad_parameter_values_are_refused_naming_the_key(value, text):
    message = only_error(
        create(workload_parameters={"Param1": value}), "workload_parameters.Param1"
    )
    assert message.startswith(text)


def test_parameter_values_are_never_echoed():
    secret = "s3cr3t-Passw0rd\x00"
    error = refusal(create(workload_parameters={"DbPassword": secret, "Other": [secret]}))
    assert "s3cr3t" not in str(error)


@pytest.mark.parametrize(
    ("key", "field", "text"),
    [
        ("", 'workload_parameters.""', "key must not be empty"),
        ("K" * 256, "workload_parameters." + "K" * 64 + "...[256 characters]", "key is 256"),
        ("a\x00b", 'workload_parameters."a\\u0000b"', "key contains a NUL character"),
        (
            "a\u200bb",
            'workload_parameters."a\\u200bb"',
            "key contains the invisible character U+200B",
        ),
        (
            "a\u00a0b",
            'workload_parameters."a\\u00a0b"',
            "key contains the invisible character U+00A0",
        ),
        ("a\ud800", 'workload_parameters."a\\ud800"', "key contains invalid Unicode"),
    ],
)
def test_bad_parameter_keys_are_refused(key, field, text):
    assert only_error(create(workload_parameters={key: "v"}), field).startswith(text)


def test_parameter_key_and_value_limits_are_inclusive():
    parameters = {"K" * 255: "v" * 4096}
    assert load_workload_request(create(workload_parameters=parameters))["workload_parameters"] == (
        parameters
    )


def test_at_most_200_parameters():
    accepted = {f"P{i}": "v" for i in range(200)}
    assert (
        len(load_workload_request(create(workload_parameters=accepted))["workload_parameters"])
        == 200
    )
    too_many = {f"P{i}": "v" for i in range(201)}
    assert only_error(create(workload_parameters=too_many), "workload_parameters") == (
        "has 201 parameters; at most 200 are allowed"
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ([{"Key": "Param1", "Value": "Value1"}], "an array"),
        ("Param1=Value1", "a string"),
        (True, "a boolean"),
    ],
)
def test_parameters_must_be_an_object(value, kind):
    assert only_error(create(workload_parameters=value), "workload_parameters") == (
        f'must be an object of name/value pairs like {{"Env": "prod"}}, not {kind}'
    )


def test_parameters_null_is_refused():
    assert only_error(create(workload_parameters=None), "workload_parameters") == (
        validation.NULL_MESSAGE
    )


def test_keys_with_dots_and_quotes_are_quoted_in_paths():
    errors = errors_of(create(workload_tags={"app.kubernetes.io/name": 1, 'say "hi"': 2}))
    assert set(errors) == {'workload_tags."app.kubernetes.io/name"', 'workload_tags."say \\"hi\\""'}


def test_key_and_value_problems_of_one_entry_are_listed_together():
    errors = errors_of(create(workload_tags={"aws:x": 1}))
    assert errors == {
        "workload_tags.aws:x": [
            "key must not start with 'aws:' (reserved by AWS)",
            "value must be a string, not a number; "
            'write numbers and booleans in quotes, e.g. "123"',
        ]
    }


# --------------------------------------------------------------------------------------
# workload_tags
# --------------------------------------------------------------------------------------


def test_tags_are_kept_as_given():
    tags = {"CostCode": "12345", "Empty": "", "with space": "a b", "k:v/x=y+z@w": "ok"}
    assert load_workload_request(create(workload_tags=tags))["workload_tags"] == tags


@pytest.mark.parametrize(
    ("value", "kind"),
    [(12345, "a number"), (1.5, "a number"), (True, "a boolean"), ({}, "an object")],
)
def test_tag_values_must_be_strings(value, kind):
    assert only_error(create(workload_tags={"Tag1": value}), "workload_tags.Tag1") == (
        f'value must be a string, not {kind}; write numbers and booleans in quotes, e.g. "123"'
    )


def test_tag_value_null():
    assert only_error(create(workload_tags={"Tag1": None}), "workload_tags.Tag1") == (
        'value must not be null; send a string ("" if empty)'
    )


def test_at_most_99_tags():
    accepted = {f"T{i}": "v" for i in range(99)}
    assert len(load_workload_request(create(workload_tags=accepted))["workload_tags"]) == 99
    too_many = {f"T{i}": "v" for i in range(100)}
    assert only_error(create(workload_tags=too_many), "workload_tags") == (
        "has 100 tags; at most 99 are allowed "
        "(Stax allows 100; the orchestrator adds one of its own)"
    )


def test_tag_key_and_value_lengths():
    accepted = {"K" * 128: "v" * 256}
    assert load_workload_request(create(workload_tags=accepted))["workload_tags"] == accepted
    assert only_error(create(workload_tags={"T": "v" * 257}), "workload_tags.T") == (
        "value is 257 characters long; at most 256 are allowed"
    )
    assert only_error(
        create(workload_tags={"K" * 129: "v"}), "workload_tags." + "K" * 64 + "...[129 characters]"
    ) == ("key is 129 characters long; at most 128 are allowed")


@pytest.mark.parametrize("key", ["aws:cloudformation:stack-name", "AWS:x", "aws:"])
def test_tag_keys_reserved_by_aws(key):
    errors = errors_of(create(workload_tags={key: "v"}))
    assert errors == {f"workload_tags.{key}": ["key must not start with 'aws:' (reserved by AWS)"]}


@pytest.mark.parametrize("key", ["stax-orchestrator:execution-id", "Stax-Orchestrator:x"])
def test_tag_keys_reserved_for_the_orchestrator(key):
    errors = errors_of(create(workload_tags={key: "v"}))
    assert errors == {
        f"workload_tags.{key}": [
            "key must not start with 'stax-orchestrator:' "
            "(reserved for the orchestrator's own tags)"
        ]
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("team\nadmin", "value contains the control character U+000A"),
        ("\u202etnemtrapeD", "value contains the invisible text-direction character U+202E"),
        ("a\x00", "value contains a NUL character"),
        ("\udc00", "value contains invalid Unicode"),
    ],
)
def test_tag_values_with_control_characters(value, text):
    assert only_error(create(workload_tags={"Owner": value}), "workload_tags.Owner").startswith(
        text
    )


def test_tags_must_be_an_object():
    assert only_error(create(workload_tags=["Tag1"]), "workload_tags").endswith("not an array")


# --------------------------------------------------------------------------------------
# update
# --------------------------------------------------------------------------------------


def test_update_returns_only_the_given_fields():
    result = load_workload_request(
        update(workload_parameters={"A": 1}, workload_tags={"T": "v"}, protection=False)
    )
    assert result == {
        "operation": "update",
        "workload_id": WORKLOAD,
        "workload_parameters": {"A": "1"},
        "workload_tags": {"T": "v"},
        "protection": False,
    }


@pytest.mark.parametrize(
    "change",
    [
        {"catalogue_version_id": VERSION},
        {"workload_parameters": {"A": "b"}},
        {"workload_parameters": {}},
        {"workload_tags": {"T": "v"}},
        {"protection": True},
        {"protection": False},
    ],
)
def test_update_with_any_one_change(change):
    assert load_workload_request(update(**change)) == {
        "operation": "update",
        "workload_id": WORKLOAD,
        **change,
    }


def test_update_with_nothing_to_change():
    assert only_error(update(), "_schema") == (
        "update needs at least one of: catalogue_version_id, workload_parameters, "
        "workload_tags, protection"
    )


def test_update_with_an_invalid_change_reports_only_that_field():
    assert only_error(update(catalogue_version_id="x"), "catalogue_version_id").startswith(
        UUID_MESSAGE
    )


def test_update_reports_bad_id_and_nothing_to_change_together():
    assert set(errors_of(update(workload_id="x"))) == {"workload_id", "_schema"}


@pytest.mark.parametrize(
    ("value", "kind"),
    [("true", "a string"), (1, "a number"), (0, "a number"), ([True], "an array")],
)
def test_protection_is_a_strict_boolean(value, kind):
    assert only_error(update(protection=value), "protection") == (
        f"must be true or false (a JSON boolean without quotes), not {kind}"
    )


def test_protection_null():
    assert only_error(update(protection=None), "protection") == validation.NULL_MESSAGE


def test_update_workload_id_required():
    errors = errors_of({"operation": "update", "catalogue_version_id": VERSION})
    assert errors == {"workload_id": ["is required"]}


# --------------------------------------------------------------------------------------
# delete
# --------------------------------------------------------------------------------------


def test_delete_lower_cases_the_id():
    assert load_workload_request({"operation": "delete", "workload_id": WORKLOAD.upper()}) == (
        SEED_DELETE
    )


@pytest.mark.parametrize(
    ("value", "start"),
    [(None, validation.NULL_MESSAGE), ("x", UUID_MESSAGE), (1, "must be a string")],
)
def test_delete_bad_id(value, start):
    message = only_error({"operation": "delete", "workload_id": value}, "workload_id")
    assert message.startswith(start)


def test_delete_id_required():
    assert only_error({"operation": "delete"}, "workload_id") == "is required"


# --------------------------------------------------------------------------------------
# load_operation_request (create/update/delete_workload Lambdas)
# --------------------------------------------------------------------------------------


def test_operation_request_accepts_and_keeps_orchestration_last():
    payload = create(orchestration={"execution_id": EXECUTION_ARN})
    result = load_operation_request("create", payload)
    assert result["orchestration"] == {"execution_id": EXECUTION_ARN}
    assert list(result)[-1] == "orchestration"
    assert result["workload_parameters"] == {}


def test_operation_request_without_orchestration():
    assert load_operation_request("delete", dict(SEED_DELETE)) == SEED_DELETE
    assert load_operation_request("update", dict(SEED_UPDATE)) == SEED_UPDATE


def test_operation_request_applies_the_same_rules():
    error = refusal(
        create(aws_region="ap-northeast-3"), lambda p: load_operation_request("create", p)
    )
    assert list(error.details["errors"]) == ["aws_region"]
    assert error.message.startswith("The create_workload input has 1 problem")


def test_operation_request_for_the_wrong_function():
    errors = errors_of(dict(SEED_DELETE), lambda p: load_operation_request("update", p))
    assert errors["operation"] == [
        "is 'delete', but this is the update_workload function; it accepts only 'update'"
    ]
    assert "_schema" in errors  # judged by update's rules: nothing to change


def test_operation_request_needs_the_operation_field():
    payload = {"workload_id": WORKLOAD}
    errors = errors_of(payload, lambda p: load_operation_request("delete", p))
    assert errors == {"operation": ["is required: one of create, update, delete"]}


@pytest.mark.parametrize(
    ("orchestration", "field", "text"),
    [
        ("arn", "orchestration", 'must be an object like {"execution_id": "arn:aws:states:..."}'),
        (None, "orchestration", validation.NULL_MESSAGE),
        ({}, "orchestration.execution_id", "is required"),
        ({"execution_id": ""}, "orchestration.execution_id", "must not be empty"),
        ({"execution_id": 7}, "orchestration.execution_id", "must be a string"),
        ({"execution_id": "a" * 257}, "orchestration.execution_id", "is 257 characters long"),
        ({"execution_id": "arn\n"}, "orchestration.execution_id", "contains the control character"),
        (
            {"execution_id": EXECUTION_ARN, "retry": 1},
            "orchestration.retry",
            "unknown field; orchestration holds only execution_id",
        ),
    ],
)
def test_bad_orchestration(orchestration, field, text):
    payload = dict(SEED_DELETE, orchestration=orchestration)
    message = only_error(payload, field, lambda p: load_operation_request("delete", p))
    assert message.startswith(text)


def test_operation_request_with_an_unknown_operation_argument():
    with pytest.raises(ValueError, match="operation must be one of"):
        load_operation_request("upsert", dict(SEED_DELETE))


# --------------------------------------------------------------------------------------
# load_task_status_request (get_task_status Lambda)
# --------------------------------------------------------------------------------------


def test_task_status_minimal_defaults_polls_to_zero():
    assert load_task_status_request({"task_id": TASK.upper()}) == {"task_id": TASK, "polls": 0}


def test_task_status_full_input():
    payload = {
        "task_id": TASK,
        "workload_id": WORKLOAD.upper(),
        "workload_name": "demo-vpc",
        "operation": "create",
        "polls": 3,
        "started_at": "2024-05-01T12:00:00.5+02:00",
    }
    assert load_task_status_request(payload) == {
        "task_id": TASK,
        "workload_id": WORKLOAD,
        "workload_name": "demo-vpc",
        "operation": "create",
        "polls": 3,
        "started_at": "2024-05-01T10:00:00.500Z",
    }


def test_task_status_accepts_step_functions_timestamps():
    result = load_task_status_request({"task_id": TASK, "started_at": "2019-03-26T20:14:13.192Z"})
    assert result["started_at"] == "2019-03-26T20:14:13.192Z"


def test_task_status_feeds_its_own_output_back():
    payload = {
        "task_id": TASK,
        "polls": 4,
        "status": "RUNNING",
        "logs_tail": ["line"],
        "next_wait_seconds": 12,
        "elapsed_seconds": 61.5,
    }
    assert load_task_status_request(payload) == {"task_id": TASK, "polls": 4}


def test_task_status_drops_null_optional_fields():
    payload = {"task_id": TASK, "workload_id": None, "workload_name": None, "started_at": None}
    assert load_task_status_request(payload) == {"task_id": TASK, "polls": 0}


@pytest.mark.parametrize(
    ("payload", "field", "text"),
    [
        ({}, "task_id", "is required"),
        ({"task_id": None}, "task_id", validation.NULL_MESSAGE),
        ({"task_id": "t-1"}, "task_id", UUID_MESSAGE),
        (
            {"task_id": TASK, "polls": True},
            "polls",
            "must be a whole number, e.g. 3, not a boolean",
        ),
        ({"task_id": TASK, "polls": 1.0}, "polls", "must be a whole number, e.g. 3, not a number"),
        ({"task_id": TASK, "polls": "1"}, "polls", "must be a whole number, e.g. 3, not a string"),
        ({"task_id": TASK, "polls": -1}, "polls", "must be between 0 and 100000"),
        ({"task_id": TASK, "polls": 10**6}, "polls", "must be between 0 and 100000"),
        (
            {"task_id": TASK, "started_at": "yesterday"},
            "started_at",
            "must be an ISO-8601 date-time",
        ),
        (
            {"task_id": TASK, "started_at": "2024-05-01T10:00:00"},
            "started_at",
            "must include a time zone",
        ),
        ({"task_id": TASK, "started_at": 1714557600}, "started_at", "must be a string"),
        ({"task_id": TASK, "operation": "upsert"}, "operation", "must be one of: create, update"),
        ({"task_id": TASK, "workload_name": ""}, "workload_name", "must not be empty"),
        (
            {"task_id": TASK, "colour": 1},
            "colour",
            "unknown field; get_task_status accepts: task_id",
        ),
        ({"task_id": TASK, "taskid": 1}, "taskid", "unknown field (did you mean 'task_id'?)"),
    ],
)
def test_bad_task_status_input(payload, field, text):
    message = only_error(payload, field, load_task_status_request)
    assert message.startswith(text)


@pytest.mark.parametrize("payload", [[], "x", 1, None])
def test_task_status_input_must_be_an_object(payload):
    error = refusal(payload, load_task_status_request)
    assert list(error.details["errors"]) == ["_schema"]
    assert "must be a JSON object" in error.details["errors"]["_schema"][0]
    assert error.message.startswith("The get_task_status input has 1 problem")


# --------------------------------------------------------------------------------------
# text_problem, the shared text rule
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "plain", "Zürich", "東京", "emoji 👍🏽", "zero\u200bwidth"])
def test_clean_text(text):
    assert validation.text_problem(text) is None


@pytest.mark.parametrize("text", ["\x00", "\x1b[31m", "\r", "\x9b", "\u200e", "\u2069", "\udfff"])
def test_unclean_text(text):
    assert validation.text_problem(text)


# -- AWS account numbers -----------------------------------------------------------------------
@pytest.mark.parametrize("number", ["012345678901", "123456789012", "000000000000"])
def test_a_twelve_digit_aws_account_number_is_accepted_as_given(number):
    assert load_workload_request(create(aws_account_id=number))["aws_account_id"] == number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("12345678901", "is 11 digits long; an AWS account number has exactly 12"),
        ("1234567890123", "is 13 digits long; an AWS account number has exactly 12"),
        ("1234-5678-9012", "(8-4-4-4-12 hexadecimal digits), or a 12-digit AWS account number"),
        ("１２３４５６７８９０１２", "or a 12-digit AWS account number; found U+FF11"),
    ],
)
def test_a_near_miss_account_number_says_what_an_account_is(value, text):
    assert text in only_error(create(aws_account_id=value), "aws_account_id")


def test_an_account_number_sent_as_a_json_number_says_to_quote_it():
    message = only_error(create(aws_account_id=12345678901), "aws_account_id")
    assert 'in quotes, e.g. "012345678901" (leading zeros are part of it)' in message


def test_the_sample_create_by_account_number_is_valid():
    sample = Path(__file__).resolve().parents[2] / "events/validate_input"
    payload = json.loads((sample / "create_by_aws_account_number.json").read_text())
    assert load_workload_request(payload)["aws_account_id"] == "012345678901"
