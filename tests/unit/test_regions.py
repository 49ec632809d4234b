"""The region constants of chalicelib.regions equal the enums of the SDK's bundled document."""

from __future__ import annotations

import ast
import json
import pathlib

import pytest
import staxapp

from chalicelib import regions


@pytest.fixture(scope="module")
def sdk_schemas() -> dict:
    path = pathlib.Path(staxapp.__file__).parent / "data" / "schema.json"
    return json.loads(path.read_text())["components"]["schemas"]


@pytest.mark.parametrize(
    ("constant", "schema"),
    [
        ("DEFAULT_REGIONS", "DefaultAwsRegion"),
        ("OPT_IN_REGIONS", "OptInAwsRegion"),
        ("DISABLED_REGIONS", "DisabledAwsRegion"),
    ],
)
def test_constant_equals_the_sdk_enum(sdk_schemas, constant, schema):
    assert getattr(regions, constant) == tuple(sdk_schemas[schema]["enum"])


def test_aws_region_is_exactly_the_three_enums(sdk_schemas):
    refs = [item["$ref"] for item in sdk_schemas["AwsRegion"]["oneOf"]]
    assert refs == [
        "#/components/schemas/DefaultAwsRegion",
        "#/components/schemas/OptInAwsRegion",
        "#/components/schemas/DisabledAwsRegion",
    ]


def test_create_workload_uses_aws_region(sdk_schemas):
    region = sdk_schemas["workloads.CreateWorkload"]["properties"]["Region"]
    assert region == {"$ref": "#/components/schemas/AwsRegion"}


def test_workload_regions_are_default_plus_opt_in():
    assert set(regions.DEFAULT_REGIONS) | set(regions.OPT_IN_REGIONS) == regions.WORKLOAD_REGIONS
    assert not regions.WORKLOAD_REGIONS & set(regions.DISABLED_REGIONS)
    assert "ap-northeast-3" in regions.DISABLED_REGIONS


def test_lists_have_no_duplicates():
    everything = regions.DEFAULT_REGIONS + regions.OPT_IN_REGIONS + regions.DISABLED_REGIONS
    assert len(everything) == len(set(everything))


def test_module_does_not_read_the_sdk_document():
    # Cold start: the constants are literals; the module imports nothing but __future__.
    tree = ast.parse(pathlib.Path(regions.__file__).read_text())
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    ]
    assert set(imported) == {"__future__"}
