"""Publish CloudFormation templates to the Stax workload catalogue.

Role: what the CLI's ``catalogue`` commands do with Stax and S3 (their command line is
:mod:`stax_orchestrator.commands_catalogue`). ``publish`` uploads a template to the
artifact bucket named in SSM, then creates a catalogue item whose manifest points at it,
or a new version of an existing item, and waits until Stax has validated it (the version
can only be deployed once it is ACTIVE).

The Stax API document promises little in the answer of a catalogue write (only
``DetailType``; a new version's id is not in ``CreateVersionEvent`` at all), so the item
and the version are found the documented way: by reading the item's ``Versions`` and
taking the one with the version label just published, until Stax shows it (a new item
or version may not be readable at once).
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


def artifact_bucket(ssm: Any, name: str | None = None) -> str:
    """The artifact bucket name from the SSM parameter ``name`` (default
    ``/orchestrator/stax/artifact/bucket/name``, or ``STAX_ARTIFACT_BUCKET_PARAMETER``).

    Raises:
        CatalogueError: the parameter is missing.
    """
    name = name or settings.artifact_bucket_parameter()
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
    """A Stax workload manifest that deploys one CloudFormation template.

    The resource type is spelled ``AWS::Cloudformation``, as Stax's manifest
    documentation writes it (not CloudFormation's own ``AWS::CloudFormation``).
    """
    resource = re.sub(r"[^A-Za-z0-9]", "", name.title()) or "Workload"
    return (
        "Resources:\n"
        f"  - {resource}:\n"
        "      Type: AWS::Cloudformation\n"
        f"      TemplateURL: {template_url}\n"
    )


def _latest_active(versions: list[dict[str, Any]]) -> str | None:
    active = [v for v in versions if v.get("Status") == "ACTIVE"]
    if not active:
        return None
    return str(max(active, key=lambda v: str(v.get("CreatedTS") or ""))["Id"])


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
                # CatalogueVersionId is nullable in the document: fall back to the newest
                # ACTIVE version the item lists.
                "latest_version_id": item.get("CatalogueVersionId") or _latest_active(versions),
            }
        )
    return items


def template_text(template: Path) -> str:
    """The template's text, checked before anything is called.

    Raises:
        CatalogueError: not a file, too big, not UTF-8, or no Resources section.
    """
    if not template.is_file():
        raise CatalogueError(f"{template} is not a file")
    if template.stat().st_size > MAX_TEMPLATE_BYTES:
        raise CatalogueError(f"{template} is larger than {MAX_TEMPLATE_BYTES} bytes")
    try:
        text = template.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CatalogueError(f"{template} is not UTF-8 text") from None
    if "Resources:" not in text:
        raise CatalogueError(
            f"{template} has no Resources section: is it a CloudFormation template?"
        )
    return text


def _find_item(stax: Any, name: str, catalogue_id: str | None) -> dict[str, Any] | None:
    if catalogue_id:
        items = stax.list_catalogue(catalogue_id, include_versions=True)
    else:
        listed = stax.list_catalogue(name=name, include_versions=True)
        items = [item for item in listed if item.get("Name") == name]
    return dict(items[0]) if items else None


def wait_for_version(
    stax: Any,
    name: str,
    catalogue_id: str | None,
    version: str,
    *,
    timeout: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, str, str]:
    """Wait until the item shows ``version`` ACTIVE or FAILED; ``(catalogue id, version id,
    status)``.

    Raises:
        CatalogueError: the version did not show up or did not finish in time.
    """
    deadline = time.monotonic() + timeout
    seen = "not visible yet"
    while True:
        item = _find_item(stax, name, catalogue_id)
        found = next(
            (
                v
                for v in (item or {}).get("Versions") or []
                if str(v.get("WorkloadVersion")) == version
            ),
            None,
        )
        if item is not None and found is not None:
            seen = str(found.get("Status"))
            if seen in ("ACTIVE", "FAILED"):
                return str(item["Id"]), str(found["Id"]), seen
        if time.monotonic() > deadline:
            raise CatalogueError(
                f"catalogue item {name} version {version} still {seen} after {timeout:.0f}s"
            )
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
    text = template_text(template)
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
    result: dict[str, Any] = {
        "name": name,
        "version": version,
        # The write's answer may name the item (CreateCatalogueEvent.CatalogueId is
        # optional); the version id it never does.
        "catalogue_id": catalogue_id or event.get("CatalogueId"),
        "catalogue_version_id": None,
        "task_id": event.get("TaskId"),
        "template_url": template_url,
        "status": "STARTED",
    }
    if wait:
        found_id, version_id, status = wait_for_version(stax, name, result["catalogue_id"], version)
        result.update(catalogue_id=found_id, catalogue_version_id=version_id, status=status)
        if status != "ACTIVE":
            raise CatalogueError(f"Stax did not accept {name} {version}: the version is {status}")
    return result
