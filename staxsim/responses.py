"""The API handlers: one method per served operation (the role of moto's ``responses.py``).

:class:`StaxResponses` answers a routed, signed request: it checks the path ids, query
parameters and JSON body against the operation's declarations in the document
(:class:`OperationContext`), calls the backend (``staxsim.backend.SimState``), turns a
refusal (``staxsim.exceptions``) into the error body the document declares for that
status, and shapes a successful body for the realism settings (``staxsim.realism``):

* strict: drop every property the document does not define for the response
  (``staxsim.shaping``); serve ``Tags`` only where the operation declares an
  ``include_tags`` parameter and it is true (its declared default when absent) - so
  never in ``GET /workloads`` lists, and by id only with ``include_tags=true``;
* in a ``null_share`` of responses, every nullable field the response schema marks
  ``nullable`` is null.

It knows nothing of HTTP: ``staxsim.server`` does routing, SigV4, faults and transport.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30Validator

from staxsim.backend import SimState
from staxsim.document import API_PREFIX, StaxDocument, component_name, format_error
from staxsim.events import catalogue_item_event, catalogue_version_event, error_body, workload_event
from staxsim.exceptions import BadRequest, NotFound, SimError
from staxsim.messages import Request
from staxsim.models.common import is_uuid
from staxsim.queries import bool_param
from staxsim.shaping import ResponseShaper
from staxsim.urls import Match


class OperationContext:
    """Per-request helpers of an API operation: ids, query, body, error shapes."""

    def __init__(
        self,
        document: StaxDocument,
        request: Request,
        match: Match,
        method: str,
        operation_id: str,
    ) -> None:
        self.document = document
        self.request = request
        self.match = match
        self.method = method
        self.operation_id = operation_id

    def error(self, status: int, message: str) -> dict[str, Any]:
        """The error body in the schema the document declares for this status."""
        ref = self.document.response_schema_ref(self.match.template, self.method, status)
        return error_body(component_name(ref), message, self.operation_id)

    def declared_query(self) -> dict[str, dict[str, Any]]:
        """The operation's query parameters: name -> schema."""
        return {
            p["name"]: p.get("schema", {})
            for p in self.document.parameters(self.match.template, self.method)
            if p.get("in") == "query"
        }

    def path_id(self, name: str) -> str:
        """A path id; not a UUID -> 400 where the document declares a 400, else 404."""
        value = self.match.params[name]
        if not is_uuid(value):
            declared = self.document.response_statuses(self.match.template, self.method)
            message = f"{name}: '{value}' is not a valid UUID"
            if 400 in declared:
                raise BadRequest(message)
            raise NotFound(message)
        return value

    def query(self) -> dict[str, str]:
        """Query parameters, each checked against its declared schema (400 if invalid)."""
        declared = self.declared_query()
        for name, raw in self.request.query.items():
            schema = declared.get(name)
            if schema is None:
                continue
            value: Any = raw
            kind = schema.get("type")
            if kind == "integer":
                try:
                    value = int(raw)
                except ValueError:
                    raise BadRequest(f"{name}: '{raw}' is not of type 'integer'") from None
            elif kind == "boolean":
                if raw.lower() not in ("true", "false"):
                    raise BadRequest(f"{name}: '{raw}' is not of type 'boolean'")
                value = raw.lower() == "true"
            errors = list(OAS30Validator(schema).iter_errors(value))
            if errors:
                raise BadRequest(f"{name}: {errors[0].message}")
        return dict(self.request.query)

    def json_body(self) -> dict[str, Any]:
        """The JSON body, validated against the operation's request schema."""
        raw = self.request.body
        if not raw.strip():
            raise BadRequest("Request body is required (application/json)")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"Request body is not valid JSON: {exc}") from None
        validator = self.document.request_validator(self.match.template, self.method)
        if validator is not None:
            errors = validator.errors(body)
            if errors:
                raise BadRequest(_describe(errors))
        if not isinstance(body, dict):
            raise BadRequest("Request body must be a JSON object")
        return body

    def tags_requested(self) -> bool:
        """Whether the caller gets ``Tags``: only if the operation declares
        ``include_tags`` and it is true (absent: the declared default)."""
        # GET /workloads declares no include_tags: the harsher reading of the document
        # is that a caller who cannot ask for Tags does not get them (the property is
        # optional in Workload). GET /workloads/{id} declares it with default false.
        schema = self.declared_query().get("include_tags")
        if schema is None:
            return False
        return bool_param(self.request.query, "include_tags", bool(schema.get("default", False)))


def _describe(errors: list[Any]) -> str:
    first = format_error(best_match(errors))
    if len(errors) > 1:
        others = "; ".join(format_error(e) for e in errors[1:4] if format_error(e) != first)
        if others:
            return f"{first} (also: {others})"
    return first


def _without_tags(body: Any) -> Any:
    """The body with ``Tags`` removed from the records of its top-level lists."""
    if not isinstance(body, dict):
        return body
    out = dict(body)
    for key, value in body.items():
        if isinstance(value, list):
            out[key] = [
                {k: v for k, v in item.items() if k != "Tags"} if isinstance(item, dict) else item
                for item in value
            ]
    return out


class StaxResponses:
    """Answers the served operations (``staxsim.urls.SERVED`` names the methods)."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.document = state.document
        self.shaper = ResponseShaper(state.document)

    def dispatch(self, handler_name: str, ctx: OperationContext) -> tuple[int, Any]:
        """Run ``_op_<handler_name>``: (status, body), errors in the declared schema."""
        try:
            status, body = getattr(self, f"_op_{handler_name}")(ctx)
        except SimError as exc:
            return exc.status, ctx.error(exc.status, exc.message)
        return status, self._shape(ctx, status, body)

    def _shape(self, ctx: OperationContext, status: int, body: Any) -> Any:
        realism = self.state.realism
        node = self.shaper.response_node(ctx.match.template, ctx.method, status)
        if node is None:
            return body
        if realism.strict:
            body = self.shaper.prune(body, node)
            if not ctx.tags_requested():
                body = _without_tags(body)
        if self.state.null_dice.roll(realism.null_share):
            body = self.shaper.null_out(body, node)
        return body

    @property
    def _customer_id(self) -> str:
        return str(self.state.organisation["CustomerId"])

    # -- operations ----------------------------------------------------------------------
    def _op_public_config(self, ctx: OperationContext) -> tuple[int, Any]:
        host = ctx.request.headers.get("host", "127.0.0.1")
        return 200, self.state.public_config(f"https://{host}{API_PREFIX}")

    def _op_read_workloads(self, ctx: OperationContext) -> tuple[int, Any]:
        return 200, self.state.query_workloads(ctx.query())

    def _op_read_workload(self, ctx: OperationContext) -> tuple[int, Any]:
        workload_id = ctx.path_id("workload_id")
        query = ctx.query()
        self.state.get_workload(workload_id)  # 404 before filtering
        return 200, self.state.query_workloads({**query, "id_filter": workload_id})

    def _op_create_workload(self, ctx: OperationContext) -> tuple[int, Any]:
        workload, task = self.state.create_workload(ctx.json_body())
        return 200, workload_event("create", workload, task, strict=self.state.realism.strict)

    def _op_update_workload(self, ctx: OperationContext) -> tuple[int, Any]:
        workload_id = ctx.path_id("workload_id")
        workload, task = self.state.update_workload(workload_id, ctx.json_body())
        return 200, workload_event("update", workload, task, strict=self.state.realism.strict)

    def _op_delete_workload(self, ctx: OperationContext) -> tuple[int, Any]:
        workload_id = ctx.path_id("workload_id")
        ctx.query()
        workload, task = self.state.delete_workload(workload_id)
        return 200, workload_event("delete", workload, task, strict=self.state.realism.strict)

    def _op_read_catalogue(self, ctx: OperationContext) -> tuple[int, Any]:
        return 200, self.state.query_catalogue(ctx.query())

    def _op_read_catalogue_item(self, ctx: OperationContext) -> tuple[int, Any]:
        catalogue_id = ctx.path_id("catalogue_id")
        return 200, self.state.query_catalogue(ctx.query(), catalogue_id)

    def _op_create_catalogue_item(self, ctx: OperationContext) -> tuple[int, Any]:
        item, version, task = self.state.create_catalogue_item(ctx.json_body())
        return 200, catalogue_item_event(item, version, task, self._customer_id)

    def _op_create_catalogue_version(self, ctx: OperationContext) -> tuple[int, Any]:
        catalogue_id = ctx.path_id("catalogue_id")
        body = ctx.json_body()
        item, version, task = self.state.create_catalogue_version(catalogue_id, body)
        return 200, catalogue_version_event(item, version, task, self._customer_id)

    def _op_read_catalogue_version(self, ctx: OperationContext) -> tuple[int, Any]:
        catalogue_id = ctx.path_id("catalogue_id")
        version_id = ctx.path_id("version_id")
        ctx.query()
        return 200, self.state.get_catalogue_version(catalogue_id, version_id)

    def _op_read_task(self, ctx: OperationContext) -> tuple[int, Any]:
        return 200, self.state.get_task(ctx.path_id("task_id"))

    def _op_read_accounts(self, ctx: OperationContext) -> tuple[int, Any]:
        return 200, self.state.query_accounts(ctx.query())

    def _op_read_account_types(self, ctx: OperationContext) -> tuple[int, Any]:
        return 200, self.state.query_account_types(ctx.query())

    def _op_read_account(self, ctx: OperationContext) -> tuple[int, Any]:
        account_id = ctx.path_id("account_id")
        return 200, self.state.query_accounts(ctx.query(), account_id)
