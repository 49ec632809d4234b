"""The baselines file: what it accepts, and every problem at once with its line.

Also the ``apply`` fleet operation the baselines run on: explicit per-target workload
requests, each judged by the workload rules of a single operation.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.baselines import BASELINE_TAG, InvalidBaselines, load_baselines
from chalicelib.baselines.model import create_request
from chalicelib.errors import InvalidFleetRequest
from chalicelib.validation import validate_fleet_request

GOOD = """\
baselines:
  network:
    catalogue: baseline-vpc
    version: latest
    parameters: {VpcCidr: 10.0.0.0/16, Size: 3}
    tags: {CostCode: "1234"}
    overrides:
      regions:
        us-east-1: {parameters: {VpcCidr: 10.1.0.0/16}}
      account_types:
        production: {tags: {Tier: prod}, parameters: {Size: 5}}
      accounts:
        workloads-prod: {parameters: {VpcCidr: 10.9.0.0/16}}
    targets:
      account_types: [production, development]
      regions: [ap-southeast-2, us-east-1]
"""
ACCOUNT = "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11"
CATALOGUE = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00"


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(InvalidBaselines) as refused:
        load_baselines(text)
    return [(p["line"], p["path"], p["message"]) for p in refused.value.problems]


def test_a_good_file_loads_with_its_defaults() -> None:
    (baseline,) = load_baselines(GOOD).baselines
    assert (baseline.name, baseline.catalogue, baseline.version) == (
        "network",
        "baseline-vpc",
        "latest",
    )
    assert baseline.workload_name == "{baseline}-{account}-{region}"
    assert (baseline.max_concurrency, baseline.failure_tolerance) == (5, 0)
    assert baseline.regions == ["ap-southeast-2", "us-east-1"]


def test_the_most_specific_override_wins_and_the_baseline_tag_is_added() -> None:
    (baseline,) = load_baselines(GOOD).baselines
    layers = baseline.layers(region="us-east-1", account_type="production",
                             account=("workloads-prod", ACCOUNT))  # fmt: skip
    request, origin = create_request(
        baseline, layers, account_id=ACCOUNT, region="us-east-1", catalogue_id=CATALOGUE,
        version_id=None, name_values={"account": "workloads-prod", "account_short": "6d2e6c4b",
                                      "account_type": "production"},
    )  # fmt: skip
    assert request["workload_parameters"] == {"VpcCidr": "10.9.0.0/16", "Size": 5}
    assert request["workload_tags"] == {"CostCode": "1234", "Tier": "prod", BASELINE_TAG: "network"}
    assert request["workload_name"] == "network-workloads-prod-us-east-1"
    assert origin["workload_parameters.VpcCidr"] == (
        "baselines.network.overrides.accounts.workloads-prod.parameters.VpcCidr"
    )
    east_dev = baseline.layers(region="us-east-1", account_type="development", account=("d",))
    assert [path for path, _ in east_dev] == [
        "baselines.network",
        "baselines.network.overrides.regions.us-east-1",
    ]


def test_every_problem_is_reported_at_once_with_its_line_and_path() -> None:
    text = """\
baselines:
  logging:
    catalogue: baseline-vpc
    workload_name: "{baseline}-{acount}-{region}"
    parameters: {"bad-name": x}
    tags: {CostCode: 12345, "orchestrator:baseline": x}
    targets:
      account_types: [production, production]
      regions: [ap-southeast-2, mars-1]
    max_concurrency: 0
    failure_tolerance: "120%"
    colour: blue
"""
    found = problems(text)
    paths = [(line, path) for line, path, _ in found]
    assert paths == [  # in the order of the file
        (2, "baselines.logging.version"),
        (4, "baselines.logging.workload_name"),
        (5, "baselines.logging.parameters.bad-name"),
        (6, "baselines.logging.tags.orchestrator:baseline"),
        (6, "baselines.logging.tags.CostCode"),
        (8, "baselines.logging.targets.account_types[1]"),
        (9, "baselines.logging.targets.regions[1]"),
        (10, "baselines.logging.max_concurrency"),
        (11, "baselines.logging.failure_tolerance"),
        (12, "baselines.logging.colour"),
    ]
    messages = {(line, path): message for line, path, message in found}
    assert "unknown placeholder(s) {acount}" in messages[(4, "baselines.logging.workload_name")]
    assert (
        "is required: a version id, a version name, or latest"
        in messages[(2, "baselines.logging.version")]
    )
    # The workload rules of a single operation, on the line that sets the value.
    assert "CloudFormation" in messages[(5, "baselines.logging.parameters.bad-name")]
    assert "in quotes" in messages[(6, "baselines.logging.tags.CostCode")]


def test_the_summary_says_how_many_problems_and_each_line_what_to_fix() -> None:
    with pytest.raises(InvalidBaselines) as refused:
        load_baselines("baselines:\n  x:\n    catalogue: c\n    version: latest\n")
    assert refused.value.message == "The baselines file has 1 problem"
    assert refused.value.text().splitlines()[1] == (
        "  line 2: baselines.x: targets is required: account_types and/or accounts, and regions"
    )


def test_duplicate_keys_and_broken_yaml_are_named_by_line() -> None:
    found = problems("baselines:\n  a: {}\n  a: {}\n")
    assert (3, "baselines.a", "duplicate key (first at line 2); keep one") in found
    assert found == sorted(found, key=lambda p: p[0] or 0)
    ((line, path, message),) = problems("baselines:\n  a: [1, 2\n  b: c\n")
    # The line where the unclosed list opens, and the file's name, never an internal path.
    assert (line, path) == (2, "baselines file") and "expected" in message
    assert problems("- a\n- b\n")[0][1:] == (
        "_file",
        "must be a YAML mapping with a 'baselines' key",
    )


def test_a_name_too_long_for_stax_is_refused_by_the_workload_rules() -> None:
    long_name = GOOD.replace(
        "    version: latest\n",
        "    version: latest\n    workload_name: " + "x" * 90 + "-{region}\n",
    )
    # Each region makes a name of its own length: both are named.
    assert problems(long_name) == [
        (5, "baselines.network.workload_name", "must be 2 to 64 characters long (got 105)"),
        (5, "baselines.network.workload_name", "must be 2 to 64 characters long (got 100)"),
    ]


def apply_fleet(targets: list[Any]) -> dict[str, Any]:
    return {"operation": "apply", "targets": targets, "max_concurrency": 2}


def test_an_apply_fleet_takes_whole_workload_requests_of_any_operation() -> None:
    create = {
        "operation": "create", "aws_account_id": ACCOUNT, "aws_region": "us-east-1",
        "catalogue_id": CATALOGUE, "workload_name": "a-b", "workload_tags": {BASELINE_TAG: "x"},
    }  # fmt: skip
    update = {"operation": "update", "workload_id": CATALOGUE, "workload_tags": {"A": "b"}}
    fleet = validate_fleet_request(apply_fleet([create, update]))
    assert [t["request"]["operation"] for t in fleet["targets"]] == ["create", "update"]
    assert fleet["targets"][0]["request"]["workload_parameters"] == {}


def test_an_apply_fleet_names_each_bad_target_and_a_workload_written_twice() -> None:
    delete = {"operation": "delete", "workload_id": CATALOGUE}
    with pytest.raises(InvalidFleetRequest) as refused:
        validate_fleet_request(
            apply_fleet([delete, {"operation": "update", "workload_id": "x"}, delete, 7])
        )
    errors = refused.value.details["errors"]
    assert set(errors) == {"targets[1].workload_id", "targets[1]", "targets[2]", "targets[3]"}
    assert errors["targets[1]"] == [
        "update needs at least one of: catalogue_version_id, workload_parameters, "
        "workload_tags, protection"
    ]
    assert "same workload as targets[0]" in errors["targets[2]"][0]
    assert "must be a JSON object" in errors["targets[3]"][0]


def test_the_example_file_loads_and_the_editor_schema_agrees_with_the_loader() -> None:
    import json
    from pathlib import Path

    import yaml
    from jsonschema import Draft202012Validator

    root = Path(__file__).resolve().parents[2]
    text = (root / "examples" / "baselines.yaml").read_text()
    names = [b.name for b in load_baselines(text).baselines]
    assert names == ["network", "parameters"]
    schema = json.loads((root / "schemas" / "baselines.schema.json").read_text())
    validator = Draft202012Validator(schema)
    assert list(validator.iter_errors(yaml.safe_load(text))) == []
    # What the loader refuses by name, the schema refuses too.
    for bad in (GOOD.replace("    version: latest\n", ""),
                GOOD + "    colour: blue\n",
                GOOD.replace("targets:", "workload_name: '{acount}'\n    targets:")):  # fmt: skip
        with pytest.raises(InvalidBaselines):
            load_baselines(bad)
        assert list(validator.iter_errors(yaml.safe_load(bad)))


def test_a_duplicate_key_is_reported_with_every_other_problem_of_the_file_in_one_run() -> None:
    broken = """\
baselines:
  network:
    catalogue: baseline-vpc
    version: latest
    workload_name: "{baseline}-{acount}-{region}"
    parameters: {Vpc-Cidr: 10.0.0.0/16}
    targets:
      account_types: [production]
      regions: [mars-1]
    targets:
      regions: [us-east-1]
"""
    found = problems(broken)
    assert [line for line, _, _ in found] == sorted(line or 0 for line, _, _ in found)
    assert (10, "baselines.network.targets", "duplicate key (first at line 7); keep one") in found
    messages = " | ".join(f"{line}:{message}" for line, _, message in found)
    assert "{acount}" in messages  # the unknown placeholder
    assert "Vpc-Cidr" in messages or any(p == "baselines.network.parameters.Vpc-Cidr"
                                         for _, p, _ in found)  # fmt: skip
    assert any("mars-1" in message for _, _, message in found)  # the unknown region
