"""Bodies the simulated Stax API answers with, in the shapes of the OpenAPI document.

* write operations answer "events": ``CreateWorkloadEvent``, ``UpdateWorkloadEvent``,
  ``DeleteWorkloadEvent`` (``DetailType``, ``WorkloadId``, ``Detail`` with ``Operation``,
  ``OperationStatus``, ``Severity``, ``Message`` and ``Workload``: a ``WorkloadData``
  that carries ``WorkloadId``, ``TaskId``, ``TraceId``, ``Name``...), and
  ``CreateCatalogueEvent`` / ``CreateVersionEvent`` for the catalogue;
* errors use the schema the document declares for that operation and status: ``Error``
  (``{"Error", "Cause"?}``) or, where it declares ``StaxEvent`` (the 400 of the workload
  writes, the 403 of DeleteWorkload), a ``StaxEvent`` that *also* carries the ``Error``
  text, so a client can read ``Error`` whatever the operation;
* API Gateway's own refusals (SigV4, injected throttling) are ``{"message": ...}``.

The task id of a workload write is in ``Detail.Workload.TaskId`` (where the document
puts it), and repeated as ``Detail.TaskId`` for convenience.
"""

from __future__ import annotations

from typing import Any

from staxsim.state import STAX_OPERATIONS, CatalogueItem, CatalogueVersion, Task, iso


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
    operation: str, workload: dict[str, Any], task: Task, customer_id: str
) -> dict[str, Any]:
    """``Create/Update/DeleteWorkloadEvent`` for a workload write that started ``task``."""
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
    verb = {"create": "create", "update": "update", "delete": "delete"}[operation]
    return {
        "DetailType": stax_op,
        "WorkloadId": workload["Id"],
        "Detail": {
            "Operation": stax_op,
            "OperationStatus": "STARTED",
            "Severity": "INFO",
            "Message": f"Workload {verb} of '{workload['Name']}' started (task {task.id})",
            "TaskId": task.id,
            "TraceId": task.trace_id,
            "Workload": data,
        },
    }


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
        "Parameters": {p["Key"]: p.get("Default") for p in version.parameters if "Key" in p},
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

    The document's ``WorkloadCatalogueItem`` of this event has no version id property;
    the simulator adds ``CatalogueVersionId`` (extra properties are allowed there).
    """
    stax_op = STAX_OPERATIONS["catalogue-version"]
    data: dict[str, Any] = {
        "CatalogueId": item.id,
        "CatalogueVersionId": version.id,
        "Description": version.description,
        "ManifestURL": version.manifest_url,
        "Operation": stax_op,
        "OrganisationId": item.organisation_id,
        "Parameters": {p["Key"]: p.get("Default") for p in version.parameters if "Key" in p},
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
