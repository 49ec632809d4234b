"""A stage with no stored baselines file says so, through IAM as AWS evaluates it.

S3 answers a missing object ``NoSuchKey`` only to a caller that may list the bucket
(otherwise ``AccessDenied``); the local stack does the same
(``local/ministack_fidelity/s3_missing_object.py``). The baseline functions may list
exactly the stored key, so the deployed drift check, invoked with no file stored, fails
with the named ``BaselinesNotStored`` and not with a denial.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.e2e

STORED_KEY = "baselines/baselines.yaml"


@pytest.fixture()
def nothing_stored(deployed: dict[str, Any]) -> Iterator[str]:
    """The stage bucket without its stored baselines file (put back afterwards)."""
    s3, bucket = boto3.client("s3"), deployed["fleet_bucket"]
    try:
        kept: bytes | None = s3.get_object(Bucket=bucket, Key=STORED_KEY)["Body"].read()
    except s3.exceptions.NoSuchKey:
        kept = None
    s3.delete_object(Bucket=bucket, Key=STORED_KEY)
    yield bucket
    if kept is not None:
        s3.put_object(Bucket=bucket, Key=STORED_KEY, Body=kept)


def test_the_drift_check_names_a_missing_baselines_file(nothing_stored: str) -> None:
    answer = boto3.client("lambda").invoke(
        FunctionName="stax-orchestrator-local-check_baseline_drift",
        Payload=json.dumps({"bucket": nothing_stored}).encode(),
    )
    failure = json.loads(answer["Payload"].read())
    assert answer.get("FunctionError"), failure
    assert failure["errorType"] == "BaselinesNotStored", failure
    assert STORED_KEY in failure["errorMessage"]
