"""Publish CloudFormation templates to the Stax workload catalogue.

Role: the CLI's ``catalogue`` commands. ``publish`` uploads a template to the artifact
bucket named in SSM, then creates a catalogue item whose manifest points at it, or a new
version of an existing item, and waits until Stax has validated it (the version can only
be deployed once its task SUCCEEDED).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalicelib import settings

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_DESCRIPTION = re.compile(r"^Description:\s*['\"]?(.+?)['\"]?\s*$", re.MULTILINE)
MAX_TEMPLATE_BYTES = 1024 * 1024


class CatalogueError(Exception):
    """Publishing cannot go on; the message says what to fix."""


def artifact_bucket(ssm: Any) -> str:
    """The artifact bucket name from SSM (``/orchestrator/stax/artifact/bucket/name``).

    Raises:
        CatalogueError: the parameter is missing.
    """
    name = settings.artifact_bucket_parameter()
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        raise CatalogueError(
            f"SSM parameter {name} is missing: store the artifact bucket name with "
            "`stax-orchestrator setup --bucket NAME`"
        ) from None


def next_version(existing: list[str]) -> str:
    """The next patch version after the highest ``X.Y.Z`` in ``existing`` (``1.0.0`` if none)."""
    versions = [tuple(int(p) for p in m.groups()) for v in existing if (m := _SEMVER.match(v))]
    if not versions:
        return "1.0.0"
    major, minor, patch = max(versions)
    return f"{major}.{minor}.{patch + 1}"


def manifest_for(name: str, template_url: str) -> str:
    """A Stax workload manifest that deploys one CloudFormation template."""
    resource = re.sub(r"[^A-Za-z0-9]", "", name.title()) or "Workload"
    return (
        "Resources:\n"
        f"  - {resource}:\n"
        "      Type: AWS::CloudFormation\n"
        f"      TemplateURL: {template_url}\n"
    )


def list_items(stax: Any) -> list[dict[str, Any]]:
    """Every catalogue item with its version labels."""
    items = []
    for item in stax.list_catalogue(include_versions=True):
        versions = item.get("Versions") or []
        items.append(
            {
                "catalogue_id": item["Id"],
                "name": item.get("Name"),
                "status": item.get("Status"),
                "versions": [str(v.get("WorkloadVersion")) for v in versions],
                "latest_version_id": item.get("CatalogueVersionId"),
            }
        )
    return items


def _template_text(template: Path) -> str:
    if not template.is_file():
        raise CatalogueError(f"{template} is not a file")
    if template.stat().st_size > MAX_TEMPLATE_BYTES:
        raise CatalogueError(f"{template} is larger than {MAX_TEMPLATE_BYTES} bytes")
    text = template.read_text()
    if "Resources:" not in text:
        raise CatalogueError(
            f"{template} has no Resources section: is it a CloudFormation template?"
        )
    return text


def wait_for_task(
    stax: Any,
    task_id: str,
    timeout: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Wait for a Stax task to end; returns its status (SUCCEEDED or FAILED)."""
    deadline = time.monotonic() + timeout
    while True:
        status = str(stax.read_task(task_id).get("Status"))
        if status in ("SUCCEEDED", "FAILED"):
            return status
        if time.monotonic() > deadline:
            raise CatalogueError(f"Stax task {task_id} still {status} after {timeout:.0f}s")
        sleep(1.0)


def publish(
    stax: Any,
    s3: Any,
    bucket: str,
    template: Path,
    *,
    name: str,
    catalogue_id: str | None = None,
    description: str | None = None,
    version: str | None = None,
    wait: bool = True,
) -> dict[str, Any]:
    """Upload ``template`` and publish it as a new catalogue item or a new version.

    Without ``catalogue_id``, an existing item called ``name`` gets the new version.

    Raises:
        CatalogueError: bad template, unknown item, or Stax did not accept the version.
        StaxRequestRejected, StaxAuthenticationFailed, StaxApiUnavailable.
    """
    text = _template_text(template)
    if description is None:
        found = _DESCRIPTION.search(text)
        description = found.group(1) if found else f"{name} ({template.name})"
    if catalogue_id is None:
        named = [i for i in stax.list_catalogue(name=name) if i.get("Name") == name]
        catalogue_id = named[0]["Id"] if named else None
    existing: list[str] = []
    if catalogue_id:
        items = stax.list_catalogue(catalogue_id, include_versions=True)
        if not items:
            raise CatalogueError(f"no catalogue item {catalogue_id}")
        existing = [str(v.get("WorkloadVersion")) for v in items[0].get("Versions") or []]
    version = version or next_version(existing)
    key = f"catalogue/{name}/{version}/{template.name}"
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    template_url = f"s3://{bucket}/{key}"
    body = {
        "Description": description[:1024],
        "Version": version,
        "ManifestBody": manifest_for(name, template_url),
    }
    if catalogue_id:
        event = stax.create_catalogue_version(catalogue_id, body)
    else:
        event = stax.create_catalogue_item({"Name": name, **body})
    detail = (event.get("Detail") or {}).get("WorkloadCatalogueItem") or {}
    result = {
        "name": name,
        "version": version,
        "catalogue_id": detail.get("CatalogueId") or event.get("CatalogueId") or catalogue_id,
        "catalogue_version_id": detail.get("CatalogueVersionId"),
        "task_id": event.get("TaskId"),
        "template_url": template_url,
        "status": "STARTED",
    }
    if wait and result["task_id"]:
        result["status"] = wait_for_task(stax, result["task_id"])
        if result["status"] != "SUCCEEDED":
            raise CatalogueError(
                f"Stax did not accept {name} {version}: task {result['task_id']} FAILED"
            )
    return result
