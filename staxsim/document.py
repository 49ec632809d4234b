"""The Stax OpenAPI document bundled in the installed ``staxapp`` SDK, as validators.

The simulator is only as faithful as the document it follows, so this module reads the
document from the installed SDK (``<site-packages>/staxapp/data/schema.json``) rather
than from a copy, and turns its schemas into OpenAPI 3.0 validators:

* request bodies are checked with ``OAS30WriteValidator`` (``readOnly`` properties such
  as ``Id`` may not be sent), responses with ``OAS30ReadValidator``;
* ``$ref`` pointers (``#/components/schemas/...``) are resolved through a
  ``referencing`` registry holding the whole document, so nothing is inlined by hand;
* OAS 3.0 keywords (``nullable``, ``readOnly``, ``example``) get their OAS meaning.

The contract tests use the same module to fetch the schema of a path/method/status.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30WriteValidator,
    oas30_format_checker,
)
from referencing import Registry
from referencing.jsonschema import DRAFT4

#: Base URI under which the document is registered for ``$ref`` resolution.
DOCUMENT_URI = "urn:staxapp:data:schema.json"
#: Path prefix of every Stax API route (the API version).
API_PREFIX = "/20190206"


def document_path() -> Path:
    """Where the installed ``staxapp`` keeps its bundled OpenAPI document."""
    spec = importlib.util.find_spec("staxapp")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("staxapp is not installed in this interpreter")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schema.json"


def format_error(error: ValidationError, prefix: str = "") -> str:
    """One readable line for a schema error, naming the field path first.

    ``Name: 'x' is too short``; ``Parameters[0]: 'Value' is a required property``;
    a root-level error has no path (the message names the property).
    """
    path = prefix
    for part in error.absolute_path:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return f"{path}: {error.message}" if path else error.message


class SchemaValidator:
    """Validates instances against one schema of the document; errors name the field."""

    def __init__(self, ref: str, validator: Any) -> None:
        self.ref = ref
        self._validator = validator

    def errors(self, instance: Any) -> list[ValidationError]:
        """Every error, in a stable order (by path, then message)."""
        found = list(self._validator.iter_errors(instance))
        return sorted(found, key=lambda e: ([str(p) for p in e.absolute_path], e.message))

    def first_error(self, instance: Any, prefix: str = "") -> str | None:
        """The most relevant error as one line, or ``None`` when the instance is valid."""
        found = list(self._validator.iter_errors(instance))
        if not found:
            return None
        return format_error(best_match(found), prefix)

    def is_valid(self, instance: Any) -> bool:
        """Whether the instance validates."""
        return bool(self._validator.is_valid(instance))

    def validate(self, instance: Any) -> None:
        """Raise ``jsonschema.ValidationError`` (best match) if the instance is invalid."""
        found = list(self._validator.iter_errors(instance))
        if found:
            raise best_match(found)


class StaxDocument:
    """The bundled OpenAPI document: operations, request and response validators."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry: Registry = Registry().with_resource(
            DOCUMENT_URI, DRAFT4.create_resource(document)
        )

    # -- lookup -----------------------------------------------------------------
    def operation(self, path: str, method: str) -> dict[str, Any]:
        """The operation object of ``path`` (template, e.g. ``/20190206/workloads``)."""
        try:
            return self.document["paths"][path][method.lower()]
        except KeyError as exc:
            raise KeyError(f"no operation {method.upper()} {path} in the document") from exc

    def operation_id(self, path: str, method: str) -> str:
        """``x-stax-sdk-operation-id`` of an operation, e.g. ``workloads.CreateWorkload``."""
        return str(self.operation(path, method).get("x-stax-sdk-operation-id", ""))

    def parameters(self, path: str, method: str) -> list[dict[str, Any]]:
        """The declared parameters of an operation."""
        return list(self.operation(path, method).get("parameters", []))

    def request_schema_ref(self, path: str, method: str) -> str | None:
        """The ``$ref`` of the JSON request body schema, if the operation has a body."""
        body = self.operation(path, method).get("requestBody") or {}
        schema = body.get("content", {}).get("application/json", {}).get("schema")
        if not schema:
            return None
        return str(schema.get("$ref")) if "$ref" in schema else None

    def response_statuses(self, path: str, method: str) -> list[int]:
        """The HTTP statuses the document declares for an operation."""
        return sorted(int(s) for s in self.operation(path, method).get("responses", {}))

    def response_schema_ref(self, path: str, method: str, status: int) -> str | None:
        """The ``$ref`` of the JSON response schema for ``status`` (None if undeclared)."""
        responses = self.operation(path, method).get("responses", {})
        response = responses.get(str(status))
        if response is None:
            return None
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if not schema:
            return None
        return str(schema["$ref"]) if "$ref" in schema else None

    def component(self, name: str) -> dict[str, Any]:
        """The raw schema of a component (``#/components/schemas/<name>``)."""
        return self.document["components"]["schemas"][name]

    # -- validators ---------------------------------------------------------------
    @functools.lru_cache(maxsize=256)  # noqa: B019 - one document per process
    def _validator(self, ref: str, direction: str) -> SchemaValidator:
        cls = OAS30WriteValidator if direction == "write" else OAS30ReadValidator
        absolute = ref if ref.startswith("urn:") else f"{DOCUMENT_URI}{ref}"
        schema = {"$ref": absolute}
        return SchemaValidator(
            ref,
            cls(schema, registry=self.registry, format_checker=oas30_format_checker),
        )

    def component_validator(self, name: str, *, request: bool = False) -> SchemaValidator:
        """Validator of a component by name; ``request=True`` uses write semantics."""
        self.component(name)  # KeyError for unknown names
        return self._validator(f"#/components/schemas/{name}", "write" if request else "read")

    def request_validator(self, path: str, method: str) -> SchemaValidator | None:
        """Validator of the request body of an operation (None if it has no body)."""
        ref = self.request_schema_ref(path, method)
        return self._validator(ref, "write") if ref else None

    def response_validator(self, path: str, method: str, status: int) -> SchemaValidator | None:
        """Validator of the response body for ``status`` (None if the doc declares none)."""
        ref = self.response_schema_ref(path, method, status)
        return self._validator(ref, "read") if ref else None


@functools.lru_cache(maxsize=1)
def load_document() -> StaxDocument:
    """The document of the installed SDK (read once per process)."""
    with document_path().open(encoding="utf-8") as handle:
        return StaxDocument(json.load(handle))


def component_name(ref: str | None) -> str | None:
    """``#/components/schemas/Error`` -> ``Error``."""
    if not ref:
        return None
    return ref.rsplit("/", 1)[-1]
