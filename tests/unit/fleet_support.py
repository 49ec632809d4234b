"""The fleet unit tests' world: the stage's bucket and table on moto, a Stax that lists
workloads, and fleet requests (not a test module: nothing here is collected)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib import fleet
from chalicelib.coordination import CoordinationStore
from stax_orchestrator.deploy import Target, table_definition
from tests.unit.support import REGION

ACCOUNTS = ["6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11", "7e3f7d5c-2dab-4f3a-8b68-1c8f8a0d3b22"]
CATALOGUE = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00"
BUCKET = "fleet-bucket"
MOTO_ACCOUNT = "123456789012"  # moto's default account
TARGET = Target("unit", REGION, MOTO_ACCOUNT)


class Cloud:
    """The fleet's bucket and coordination table, on the ``aws`` fixture's moto."""

    def __init__(self, aws: Any) -> None:
        self.s3 = aws.client("s3")
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_bucket_versioning(Bucket=BUCKET,
                                      VersioningConfiguration={"Status": "Enabled"})  # fmt: skip
        dynamodb = aws.client("dynamodb")
        dynamodb.create_table(**table_definition(TARGET.table_name))
        self.store = CoordinationStore(lambda: dynamodb, TARGET.table_name)
        # The Lambdas' own reads and writes of the stage bucket (moto's account owns it).
        self.read, self.write = fleet.bucket_io(lambda: self.s3, MOTO_ACCOUNT)

    def plan_lines(self, plan: dict[str, Any]) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.read(BUCKET, plan["key"]).splitlines() if line]


class Stax:
    """What planning asks of Stax: the workloads of a catalogue (listed, paged)."""

    def __init__(self, workloads: list[dict[str, Any]]) -> None:
        self.workloads = workloads

    def list_workloads(self, **filters: str) -> Iterator[dict[str, Any]]:
        wanted = filters.get("catalogue_ids")
        yield from (w for w in self.workloads if not wanted or w["CatalogueId"] == wanted)


class Access:
    def __init__(self, stax: Stax) -> None:
        self.stax = stax

    @contextmanager
    def session(self) -> Iterator[Stax]:
        yield self.stax


def create_request(count: int = 2, **overrides: Any) -> dict[str, Any]:
    regions = ["ap-southeast-2", "us-east-1", "us-west-2", "eu-west-1", "eu-central-1"]
    request: dict[str, Any] = {
        "operation": "create",
        "catalogue_id": CATALOGUE,
        "name": "baseline",
        "workload_name": "{name}-{account_short}-{region}-{index}",
        "workload_parameters": {"VpcCidr": "10.0.0.0/16"},
        "targets": [
            {"aws_account_id": ACCOUNTS[i % 2], "aws_region": regions[i % 5]} for i in range(count)
        ],
        "max_concurrency": 8,
        "failure_tolerance": "10%",
    }
    request.update(overrides)
    return request
