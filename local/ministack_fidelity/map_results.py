"""A Distributed Map's results as AWS returns them: failed children in full, 256 KiB at most
in the state, and ``ResultWriter``'s export to S3.

**Without a ResultWriter** the Map state's result is an array with one entry per child
(``COMPACT``, "Default when ResultWriter is not specified", returns each child's output),
but "If a child workflow execution fails, Step Functions returns its execution result
unchanged. The results would be equivalent to having set Transformation to NONE"
(https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html,
"Contents of the ResultWriter field"): a failed child's entry is its whole execution
record, input included. That result is a state result like any other: over 256 KiB it
fails the state with States.DataLimitExceeded, before ``ResultPath`` could drop it
(https://docs.aws.amazon.com/step-functions/latest/dg/limits-overview.html, "Maximum input
or output size for a task, state, or execution"; the ResultWriter page: "Exporting the
results to an Amazon S3 bucket is helpful if your output payload size exceeds 256 KiB").
So a fleet of a few hundred failed targets dies of its results even inside its failure
tolerance. MiniStack 1.5.33 returns ``null`` for a failed child and checks no size.

**With a ResultWriter** (``Resource: arn:aws:states:::s3:putObject``, ``Parameters``:
``Bucket``, ``Prefix``), "Step Functions consolidates all child workflow execution data,
such as execution input and output, ARN, and execution status. It then exports executions
with the same status to their respective files", and the state's result is only
``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}``, the key of a
``manifest.json`` under ``<Prefix>/<map run id>/`` that lists the ``SUCCEEDED_n.json`` /
``FAILED_n.json`` files (each a JSON array of records, Transformation ``NONE``). A bucket
that is not there fails the state with States.ResultWriterFailed ("Make sure that the Amazon
S3 bucket you use to export the results of a Map Run is under the same AWS account and AWS
Region as your state machine. Otherwise, your state machine execution will fail with the
States.ResultWriterFailed error."); the role must allow ``s3:PutObject`` on the keys
(``sfn_role_permissions`` checks it). Readings: one file per status (AWS splits files at
sizes a fleet never reaches); a Map Run that fails exports nothing here (a product must not
count on the export of a failed run). MiniStack 1.5.33 ignores ``ResultWriter``.

Used by ``distributed_map`` (its run calls :func:`result_of_run`); installs
``sf._put_map_result``, the one S3 write, which ``sfn_role_permissions`` wraps.
"""

from __future__ import annotations

import json
from typing import Any

from .payload_size import DATA_LIMIT_EXCEEDED, MAX_PAYLOAD_BYTES, payload_bytes

RESULT_WRITER_FAILED = "States.ResultWriterFailed"
#: Nothing of MiniStack's Step Functions is wrapped here (``distributed_map`` calls in).
EXPECTED: dict[str, Any] = {}


def execution_result(record: dict[str, Any]) -> dict[str, Any]:
    """A child's execution record as a Map's result holds it (Transformation ``NONE``)."""
    failed = record.get("status") != "SUCCEEDED"
    result: dict[str, Any] = {
        "ExecutionArn": record.get("executionArn"),
        "Input": record.get("input"),
        "InputDetails": {"Included": True},
        "Name": record.get("name"),
        "RedriveCount": 0,
        "RedriveStatus": "REDRIVABLE" if failed else "NOT_REDRIVABLE",
        "StartDate": record.get("startDate"),
        "StateMachineArn": record.get("stateMachineArn"),
        "Status": record.get("status"),
        "StopDate": record.get("stopDate"),
    }
    if failed:
        result.update(Error=record.get("error"), Cause=record.get("cause"))
    else:
        result.update(Output=record.get("output"), OutputDetails={"Included": True})
    return result


def compact(records: list[dict[str, Any] | None], outputs: list[Any]) -> list[Any]:
    """The result without a ResultWriter: outputs, and failed children in full."""
    return [
        execution_result(record) if record and record.get("status") == "FAILED" else output
        for record, output in zip(records, outputs, strict=True)
    ]


def result_of_run(
    sf: Any,
    state_def: dict[str, Any],
    *,
    effective: Any,
    ctx: Any,
    map_run_arn: str,
    records: list[dict[str, Any] | None],
    outputs: list[Any],
) -> Any:
    """The Map state's result: exported (ResultWriter) or the array, held to 256 KiB.

    Raises ``sf._ExecutionError``: States.DataLimitExceeded, States.ResultWriterFailed.
    """
    writer = state_def.get("ResultWriter")
    if not writer:
        result = compact(records, outputs)
        size = payload_bytes(result)
        if size > MAX_PAYLOAD_BYTES:
            raise sf._ExecutionError(
                DATA_LIMIT_EXCEEDED,
                f"The state/task '{ctx.get('State', {}).get('Name', 'Map')}' returned a result "
                f"with a size exceeding the maximum number of bytes service limit "
                f"({size} bytes > {MAX_PAYLOAD_BYTES}); use a ResultWriter to export the "
                "results of the Map Run to Amazon S3.",
            )
        return result
    params = sf._resolve_params_obj(writer.get("Parameters") or {}, effective, ctx) or {}
    bucket, prefix = params.get("Bucket"), str(params.get("Prefix") or "").strip("/")
    if not bucket:
        raise sf._ExecutionError(RESULT_WRITER_FAILED, "ResultWriter has no Bucket.")
    folder = "/".join(part for part in (prefix, map_run_arn.rsplit(":", 1)[-1]) if part)
    files: dict[str, list[dict[str, Any]]] = {}
    for status in ("SUCCEEDED", "FAILED"):
        done = [execution_result(r) for r in records if r and r.get("status") == status]
        if done:
            key = f"{folder}/{status}_0.json"
            body = json.dumps(done).encode("utf-8")
            sf._put_map_result(bucket, key, body, ctx)
            files[status] = [{"Key": key, "Size": len(body)}]
    manifest_key = f"{folder}/manifest.json"
    manifest = {
        "DestinationBucket": bucket,
        "MapRunArn": map_run_arn,
        "ResultFiles": {s: files.get(s, []) for s in ("FAILED", "PENDING", "SUCCEEDED")},
    }
    sf._put_map_result(bucket, manifest_key, json.dumps(manifest).encode("utf-8"), ctx)
    details = {"Bucket": bucket, "Key": manifest_key}
    return {"MapRunArn": map_run_arn, "ResultWriterDetails": details}


def install(sf: Any) -> None:
    def put_map_result(bucket: str, key: str, body: bytes, ctx: Any) -> None:
        """Write one object of the export into MiniStack's S3 (``ctx``: for the role
        check ``sfn_role_permissions`` wraps around this)."""
        from ministack.services import s3

        status, _headers, _body = s3._put_object(bucket, key, body, {})
        if status != 200:
            raise sf._ExecutionError(
                RESULT_WRITER_FAILED,
                f"The results of the Map Run could not be written to s3://{bucket}/{key} "
                f"(S3 answered {status}).",
            )

    sf._put_map_result = put_map_result
