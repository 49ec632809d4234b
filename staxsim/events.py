"""Bodies the simulated Stax API answers with, in the shapes of the OpenAPI document.

* write operations answer "events": ``CreateWorkloadEvent``, ``UpdateWorkloadEvent``,
  ``DeleteWorkloadEvent`` (``DetailType``, ``Detail`` with ``Operation``,
  ``OperationStatus``, ``Severity``, ``Message`` and ``Workload``: a ``WorkloadData``
  that carries ``WorkloadId``, ``TaskId``, ``TraceId``, ``Name``...), and
  ``CreateCatalogueEvent`` / ``CreateVersionEvent`` for the catalogue;
* errors use the schema the document declares for that operation and status: ``Error``
  (``{"Error", "Cause"?}``) or, where it declares ``StaxEvent`` (the 400 of the workload
  writes, the 403 of DeleteWorkload), a ``StaxEvent`` that *also* carries the ``Error``
  text, so a client can read ``Error`` whatever the operation;
* API Gateway's own refusals (SigV4, injected throttling) are ``{"message": ...}``.

The builders write the *lenient* form, which also carries conveniences the document
does not define (``Detail.TaskId``, ``Detail.TraceId`` of create/update,
``Detail.Workload.Id``, the version event's ``CatalogueVersionId``). In strict mode
``staxsim.responses`` removes every property the document does not define (derived
from the document by ``staxsim.shaping``), and :func:`workload_event` leaves out the
optional top-level ``WorkloadId``. The workload and task ids of a workload write are
always in ``Detail.Workload.WorkloadId``/``TaskId``: the document defines them there
(optional), and real Stax sends them - the original orchestrator, which ran against
real Stax, read them from the create, update and delete responses.
"""

from __future__ import annotations

from typing import Any

from staxsim.models.catalogue import CatalogueItem, CatalogueVersion
from staxsim.models.common import STAX_OPERATIONS, iso
from staxsim.models.tasks import Task


def stax_operation_of(sdk_operation_id: str) -> str:
    """``workloads.CreateWorkload`` -> ``workloads:CreateWorkload`` (``Operation`` enum)."""
    return sdk_operation_id.replace(".", ":", 1)


def error_body(schema_name: str | None, message: str, sdk_operation_id: str) -> dict[str, Any]:
    """An error body valid against the declared schema (``Error`` when undeclared)."""
    if schema_name == "StaxEvent":
        operation = stax_operation_of(sdk_operation_id)
        return {
            "Error": message,
            "DetailType": operation,
            "Detail": {
                "Operation": operation,
                "OperationStatus": "FAILED",
                "Severity": "ERROR",
                "Message": message,
            },
        }
    return {"Error": message}


def gateway_error(message: str) -> dict[str, str]:
    """API Gateway's own error body (SigV4 refusals, throttling)."""
    return {"message": message}


def workload_event(
    operation: str, workload: dict[str, Any], task: Task, *, strict: bool = False
) -> dict[str, Any]:
    """``Create/Update/DeleteWorkloadEvent`` for a workload write that started ``task``.

    ``strict``: no top-level ``WorkloadId``. ``DeleteWorkloadEvent`` does not define
    one; Create/UpdateWorkloadEvent define it but do not require it, so the strict
    answer leaves it out and a client must read ``Detail.Workload.WorkloadId``.
    """
    stax_op = STAX_OPERATIONS[operation]
    data = {
        "WorkloadId": workload["Id"],
        "Id": workload["Id"],
        "Name": workload["Name"],
        "AccountId": workload["AccountId"],
        "CatalogueId": workload["CatalogueId"],
        "CatalogueVersionId": workload["CatalogueVersionId"],
        "Region": workload["Region"],
        "Parameters": dict(workload.get("Parameters") or {}),
        "Tags": dict(workload.get("Tags") or {}),
        "Protection": workload.get("Protection", False),
        "OrganisationId": workload["OrganisationId"],
        "OrgId": workload["OrganisationId"],
        "CreatedBy": workload["CreatedBy"],
        "Operation": stax_op,
        "TaskId": task.id,
        "TraceId": task.trace_id,
    }
    event: dict[str, Any] = {"DetailType": stax_op}
    if not strict:
        event["WorkloadId"] = workload["Id"]
    event["Detail"] = {
        "Operation": stax_op,
        "OperationStatus": "STARTED",
        "Severity": "INFO",
        "Message": f"Workload {operation} of '{workload['Name']}' started (task {task.id})",
        "TaskId": task.id,
        "TraceId": task.trace_id,
        "Workload": data,
    }
    return event


def catalogue_item_event(
    item: CatalogueItem, version: CatalogueVersion, task: Task, customer_id: str
) -> dict[str, Any]:
    """``CreateCatalogueEvent`` for a new catalogue item (and its first version)."""
    stax_op = STAX_OPERATIONS["catalogue-create"]
    data: dict[str, Any] = {
        "Id": item.id,
        "CatalogueId": item.id,
        "CatalogueVersionId": version.id,
        "Name": item.name,
        "Description": item.description,
        "Version": version.workload_version,
        "OrganisationId": item.organisation_id,
        "Parameters": version.parameter_defaults(),
        "Tags": dict(item.tags),
        "Public": item.public,
        "Protection": False,
        "Status": "NEW",
        "Operation": stax_op,
        "UserTaskId": task.id,
        "CreatedTS": iso(item.created_at),
    }
    if version.manifest_body is not None:
        data["ManifestBody"] = version.manifest_body
    return {
        "DetailType": stax_op,
        "TaskId": task.id,
        "TraceId": task.trace_id,
        "CatalogueId": item.id,
        "CustomerId": customer_id,
        "Detail": {
            "Operation": stax_op,
            "OperationStatus": "STARTED",
            "Severity": "INFO",
            "Message": f"Catalogue item '{item.name}' create started (task {task.id})",
            "TraceId": task.trace_id,
            "WorkloadCatalogueItem": data,
        },
    }


def catalogue_version_event(
    item: CatalogueItem, version: CatalogueVersion, task: Task, customer_id: str
) -> dict[str, Any]:
    """``CreateVersionEvent`` for a new version of a catalogue item.

    The document's ``WorkloadCatalogueItem`` of this event has no version id property:
    the lenient form adds ``CatalogueVersionId``; the strict form (pruned to the
    document) does not, so a client reads the new version from the item's ``Versions``.
    """
    stax_op = STAX_OPERATIONS["catalogue-version"]
    data: dict[str, Any] = {
        "CatalogueId": item.id,
        "CatalogueVersionId": version.id,
        "Description": version.description,
        "ManifestURL": version.manifest_url,
        "Operation": stax_op,
        "OrganisationId": item.organisation_id,
        "Parameters": version.parameter_defaults(),
        "Public": version.public,
        "Version": version.workload_version,
    }
    if version.manifest_body is not None:
        data["ManifestBody"] = version.manifest_body
    return {
        "DetailType": stax_op,
        "CustomerId": customer_id,
        "CatalogueId": item.id,
        "TaskId": task.id,
        "TraceId": task.trace_id,
        "Detail": {
            "Operation": stax_op,
            "OperationStatus": "STARTED",
            "Severity": "INFO",
            "Message": (
                f"Catalogue version {version.workload_version} of '{item.name}' create started"
            ),
            "TraceId": task.trace_id,
            "WorkloadCatalogueItem": data,
        },
    }
