"""Fleet operations: one request, one workload operation per target, on a Distributed Map.

Role: the use cases of the fleet state machine (``statemachines/fleet.asl.json``):
``planning`` (plan_fleet: validate, look up, write the plan to S3) and ``results``
(record_fleet_target: one target's outcome into the coordination store;
summarise_fleet: the counts, and the targets the Map never ran). ``OUTPUT_SHAPES`` is
what those Lambdas return, as the machine reads it (``make check`` holds them to it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.coordination import CoordinationStore
from chalicelib.fleet.planning import load_targets, plan, target_of, tolerated_failures
from chalicelib.fleet.results import read_results, record_target, summarise
from chalicelib.fleet.stages import next_stage
from chalicelib.stax import StaxAccess

# The contract check's sentinels (``stax_orchestrator.asl_contract``), interned: it
# compares them by identity.
_ANY, _VALUE = sys.intern("<any>"), sys.intern("<value>")
#: The fleet summary's fields (the fleet machine's output; the account baseline machine
#: reads some of them).
SUMMARY_FIELDS = ("operation", "total", "to_run", "already_done", "succeeded", "failed",
                  "not_started", "aborted", "max_concurrency", "failure_tolerance",
                  "tolerated_failures", "results", "execution_records", "stages")  # fmt: skip
PLAN_FIELDS = (
    "fleet_id",
    "operation",
    "bucket",
    "key",
    "version_id",
    "total",
    "to_run",
    "already_done",
    "max_concurrency",
    "failure_tolerance",
    "tolerated_failures",
    "table",
    "results_expire_at",
    "stages",
    "halt_on_alarms",
    "first_stage",
)
#: A stage as the fleet machine holds it (``chalicelib.fleet.stages``).
STAGE_SHAPE: dict[str, Any] = dict.fromkeys(
    ("index", "count", "key", "version_id", "results_prefix", "tolerated_failures",
     "manifests", "of", "last", "next", "halt"),
    _VALUE,
)  # fmt: skip
OUTPUT_SHAPES: dict[str, Any] = {
    # The plan; the stage the machine starts from is a stage (Keep The Plan's). On the
    # alarms path it is BEFORE_FIRST (index, manifests, next): Stage Ready? reads its
    # "next" only and sends it to Next Stage, whose answer is a whole stage.
    "plan_fleet": {**dict.fromkeys(PLAN_FIELDS, _VALUE), "first_stage": STAGE_SHAPE},
    "record_fleet_target": {},
    # The stage to run next (or the halt); its fields are the plan's stage's and these.
    "next_fleet_stage": STAGE_SHAPE,
    "summarise_fleet": {
        "summary": dict.fromkeys(SUMMARY_FIELDS, _VALUE),
        "exceeded": _VALUE,
        "error": _VALUE,
        "cause": _VALUE,
    },
}


def bucket_io(
    s3: Callable[[], Any], owner: str
) -> tuple[Callable[[str, str], str], Callable[..., str | None]]:
    """Reads and writes of the stage's bucket, which ``owner`` (this account) must own:
    a bucket of that name in another account is refused, not read (``ExpectedBucketOwner``)."""

    def read(bucket: str, key: str, version: str | None = None) -> str:
        pinned = {"VersionId": version} if version else {}
        got = s3().get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=owner, **pinned)
        return str(got["Body"].read().decode("utf-8"))

    def write(bucket: str, key: str, data: bytes) -> str | None:
        written = s3().put_object(Bucket=bucket, Key=key, Body=data, ExpectedBucketOwner=owner,
                                  ContentType="application/x-ndjson")  # fmt: skip
        return written.get("VersionId")

    return read, write


def plan_event(
    event: Any, access: StaxAccess, store: CoordinationStore, s3: Callable[[], Any], owner: str
) -> dict[str, Any]:
    """plan_fleet: read a big target list in from S3, plan, write the plan to S3.

    Raises:
        InvalidFleetRequest: the event names no bucket, or the fleet is invalid; and as
            :func:`~chalicelib.fleet.planning.plan`.
    """
    assert event.bucket, "load_fleet_event refuses an event without a bucket"
    read, write = bucket_io(s3, owner)
    fleet = load_targets(event.request, read)
    return plan(fleet, access, store, write, bucket=event.bucket, fleet_id=event.execution_name)


def summarise_event(
    request: Mapping[str, Any], store: CoordinationStore, s3: Callable[[], Any], owner: str
) -> dict[str, Any]:
    """summarise_fleet: count the results (reading the plan, the version the fleet ran,
    when the Map stopped early)."""
    return summarise(request, store, bucket_io(s3, owner)[0])


__all__ = [
    "OUTPUT_SHAPES",
    "PLAN_FIELDS",
    "bucket_io",
    "load_targets",
    "next_stage",
    "plan",
    "plan_event",
    "read_results",
    "record_target",
    "summarise",
    "summarise_event",
    "target_of",
    "tolerated_failures",
]
