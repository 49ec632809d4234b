"""Workload requests: the schemas and loaders of the workload Lambdas' events.

Role: three entry points, one per kind of event:

* :func:`load_workload_request` -- ``validate_input``: the user's payload (the shapes of
  the seed README) becomes the normalised request of docs/operations.md.
* :func:`load_operation_request` -- ``create_workload`` / ``update_workload`` /
  ``delete_workload``: the normalised request again (same rules), plus the
  ``orchestration`` object the state machine adds.
* :func:`load_task_status_request` -- ``get_task_status``.

Every refusal is one :class:`~chalicelib.errors.InvalidWorkloadRequest` whose
``details["errors"]`` maps each bad field (a dotted path for entries of
``workload_parameters`` / ``workload_tags``, ``_schema`` for the payload as a whole) to
messages that say what to fix. All problems are reported at once; marshmallow's
``ValidationError`` never escapes, and neither does RecursionError: a payload nested
deeper than ``MAX_NESTING_DEPTH`` is refused on the field that holds the deep value
before anything walks it recursively.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, missing, post_load, validates_schema

from chalicelib.validation.fields import (
    OPERATIONS,
    AccountRef,
    Choice,
    Operation,
    Orchestration,
    Region,
    StrictBoolean,
    StrictInteger,
    Text,
    Timestamp,
    UuidText,
    WorkloadName,
    json_type,
    parameters_field,
    tags_field,
)
from chalicelib.validation.limits import (
    MAX_EXECUTION_ID_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_PAYLOAD_BYTES,
    MAX_POLLS,
    MAX_WATCH_TIMEOUT_SECONDS,
    NORMALISED_REQUEST_MARGIN_BYTES,
    STARTED_BY_FIELD,
    UUID_EXAMPLE,
)
from chalicelib.validation.problems import (
    WHOLE,
    Problems,
    Shape,
    nesting_problem,
    payload_size_problem,
    segment,
)

#: The request fields of each operation (besides ``operation``), in output order.
FIELDS_BY_OPERATION: dict[str, tuple[str, ...]] = {
    "create": (
        "aws_account_id",
        "aws_region",
        "catalogue_id",
        "catalogue_version_id",
        "workload_name",
        "workload_parameters",
        "workload_tags",
        "watch_timeout_seconds",
    ),
    "update": (
        "workload_id",
        "catalogue_version_id",
        "workload_parameters",
        "workload_tags",
        "protection",
        "parameters_mode",
        "watch_timeout_seconds",
    ),
    "delete": ("workload_id", "watch_timeout_seconds"),
}

#: How an update's ``workload_parameters`` apply (the first is the default).
PARAMETERS_MODES = ("replace", "merge")

#: update needs at least one of these besides ``workload_id``.
UPDATE_CHANGE_FIELDS: tuple[str, ...] = (
    "catalogue_version_id",
    "workload_parameters",
    "workload_tags",
    "protection",
)

#: Added by the state machine (``$$.Execution.Id``) for the create/update/delete Lambdas.
ORCHESTRATION_FIELD = "orchestration"

#: Fields get_task_status *returns*; the task watcher may feed its output back as the next
#: input, so they are accepted and dropped.
TASK_STATUS_OUTPUT_FIELDS: tuple[str, ...] = (
    "status",
    "logs_tail",
    "next_wait_seconds",
    "elapsed_seconds",
)

#: The fields of a workload request and the map fields' entries, for naming where a
#: payload nests too deeply (see ``problems.field_prefix``).
REQUEST_SHAPE: Shape = {
    "workload_parameters": {str: None},
    "workload_tags": {str: None},
    ORCHESTRATION_FIELD: {str: None},
    str: None,
}


# -- schemas (one per operation; ``operation`` and unknown fields are handled around them)


class _RequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # the loader refuses unknown fields itself, with better messages

    orchestration = Orchestration()
    watch_timeout_seconds = StrictInteger(minimum=1, maximum=MAX_WATCH_TIMEOUT_SECONDS)


class CreateWorkloadSchema(_RequestSchema):
    """create: where, what and how to deploy a new workload."""

    aws_account_id = AccountRef(required=True)
    aws_region = Region(required=True)
    catalogue_id = UuidText(required=True)
    catalogue_version_id = UuidText()
    workload_name = WorkloadName(required=True)
    workload_parameters = parameters_field()
    workload_tags = tags_field()

    @post_load
    def _defaults(self, data: dict[str, Any], **kwargs) -> dict[str, Any]:
        data.setdefault("workload_parameters", {})
        data.setdefault("workload_tags", {})
        return data


class UpdateWorkloadSchema(_RequestSchema):
    """update: the workload and at least one thing to change."""

    workload_id = UuidText(required=True)
    catalogue_version_id = UuidText()
    workload_parameters = parameters_field()
    workload_tags = tags_field()
    protection = StrictBoolean()
    #: ``replace`` (the default): the workload's parameters become ``workload_parameters``;
    #: ``merge``: its other parameters are kept (read from Stax when the update is sent).
    parameters_mode = Choice(PARAMETERS_MODES)

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _something_to_change(self, data, original_data, **kwargs) -> None:
        if not any(name in original_data for name in UPDATE_CHANGE_FIELDS):
            raise ValidationError(
                "update needs at least one of: " + ", ".join(UPDATE_CHANGE_FIELDS)
            )


class DeleteWorkloadSchema(_RequestSchema):
    """delete: the workload only."""

    workload_id = UuidText(required=True)


class TaskStatusSchema(Schema):
    """get_task_status input (docs/operations.md)."""

    class Meta:
        unknown = EXCLUDE

    task_id = UuidText(required=True)
    workload_id = UuidText(allow_none=True)
    workload_name = Text(min_length=1, max_length=MAX_LABEL_LENGTH, allow_none=True)
    operation = Operation(allow_none=True)
    execution_id = Text(min_length=1, max_length=MAX_EXECUTION_ID_LENGTH, allow_none=True)
    # The watcher's own ARN and the workload execution's, for the log lines.
    execution_arn = Text(min_length=1, max_length=MAX_EXECUTION_ID_LENGTH, allow_none=True)
    parent_execution_arn = Text(min_length=1, max_length=MAX_EXECUTION_ID_LENGTH, allow_none=True)
    polls = StrictInteger(minimum=0, maximum=MAX_POLLS, load_default=0)
    started_at = Timestamp(allow_none=True)
    watch_timeout_seconds = StrictInteger(
        minimum=1, maximum=MAX_WATCH_TIMEOUT_SECONDS, allow_none=True
    )

    @post_load
    def _drop_nulls(self, data: dict[str, Any], **kwargs) -> dict[str, Any]:
        return {key: value for key, value in data.items() if value is not None}


_SCHEMAS: dict[str, Schema] = {
    "create": CreateWorkloadSchema(),
    "update": UpdateWorkloadSchema(),
    "delete": DeleteWorkloadSchema(),
}
_TASK_STATUS_SCHEMA = TaskStatusSchema()
_OPERATION_FIELD = Operation(required=True)

_ALL_REQUEST_FIELDS = frozenset(f for names in FIELDS_BY_OPERATION.values() for f in names)


def _unknown_field_message(key: str, accepted: Iterable[str], what: str) -> str:
    accepted = list(accepted)
    message = "unknown field"
    close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.75)
    if not close:
        cleaned = "".join(c for c in key if c.isprintable()).strip().lower()
        if cleaned in accepted:
            close = [cleaned]
    if close:
        message += f" (did you mean {close[0]!r}?)"
    return f"{message}; {what} accepts: {', '.join(accepted)}"


# -- loaders -----------------------------------------------------------------------------


def _require_object(payload: object, problems: Problems, example: str) -> Mapping:
    """``payload`` if it is a JSON object; else raise the refusal at once."""
    if isinstance(payload, Mapping):
        return payload
    problems.refuse(WHOLE, f"must be a JSON object like {example}, not {json_type(payload)}")


def _operation_of(
    payload: Mapping, expected_operation: str | None, problems: Problems
) -> str | None:
    """The operation whose rules apply, or None when it cannot be known."""
    operation: str | None = None
    try:
        operation = _OPERATION_FIELD.deserialize(payload.get("operation", missing))
    except ValidationError as error:
        problems.merge(error, "operation")
    if expected_operation is not None and operation not in (None, expected_operation):
        problems.add(
            "operation",
            f"is {operation!r}, but this is the {expected_operation}_workload function; "
            f"it accepts only {expected_operation!r}",
        )
    return expected_operation or operation


def _field_problem(key: object, rules: str | None, allow_orchestration: bool) -> str | None:
    """Why the top-level ``key`` may not be sent under ``rules``' operation, or None."""
    allowed = FIELDS_BY_OPERATION.get(rules or "", ())
    if key in allowed or key in ("operation", STARTED_BY_FIELD):
        return None
    if key == ORCHESTRATION_FIELD:
        if allow_orchestration:
            return None
        return "is added by the state machine and cannot be set in a request; remove it"
    if key in _ALL_REQUEST_FIELDS:
        if rules is None:  # cannot tell without a valid operation
            return None
        owners = [op for op, names in FIELDS_BY_OPERATION.items() if key in names]
        return f"is not allowed for operation {rules!r}; it belongs to: {', '.join(owners)}"
    accepted = ("operation",) + (allowed if rules else tuple(sorted(_ALL_REQUEST_FIELDS)))
    scope = f"operation {rules!r}" if rules else "a request"
    return _unknown_field_message(str(key), accepted, scope)


def _load_request(
    payload: object, *, expected_operation: str | None, allow_orchestration: bool, what: str
) -> dict[str, Any]:
    problems = Problems(what)
    request = _require_object(payload, problems, '{"operation": "create", ...}')
    # Depth first: measuring the size walks the payload recursively (json.dumps). The
    # depth problem is added last, after what the field's own rules say about it.
    too_deep = nesting_problem(request, REQUEST_SHAPE)
    if too_deep is None:
        if allow_orchestration:
            measured = {k: v for k, v in request.items() if k != ORCHESTRATION_FIELD}
            size_problem = payload_size_problem(
                measured, MAX_PAYLOAD_BYTES + NORMALISED_REQUEST_MARGIN_BYTES
            )
        else:
            size_problem = payload_size_problem(request)
        if size_problem:
            problems.add(WHOLE, f"the request {size_problem}")
    rules = _operation_of(request, expected_operation, problems)

    loadable: dict[str, Any] = {}
    for key, value in request.items():
        problem = _field_problem(key, rules, allow_orchestration)
        if problem:
            problems.add(segment(key), problem)
        elif key not in ("operation", STARTED_BY_FIELD):
            # STARTED_BY_FIELD is how Step Functions links a child to its parent (a fleet):
            # accepted, and not part of the request.
            loadable[key] = value

    result: dict[str, Any] = {}
    if rules is not None:
        try:
            data = _SCHEMAS[rules].load(loadable)
        except ValidationError as error:
            problems.merge(error)
        else:
            orchestration = data.pop(ORCHESTRATION_FIELD, None)
            result = {"operation": rules, **data}
            if orchestration is not None:
                result[ORCHESTRATION_FIELD] = orchestration
    if too_deep is not None:
        problems.add(*too_deep)
    problems.raise_if_any()
    return result


def load_workload_request(payload: object) -> dict[str, Any]:
    """Validate and normalise a user's workload request (the validate_input Lambda).

    Returns the normalised request of docs/operations.md: UUIDs lower-cased; for create,
    ``workload_parameters`` (values as strings) and ``workload_tags`` always present; for
    update, only the optional fields that were given.

    Raises:
        InvalidWorkloadRequest: the payload is not a JSON object, is too big or nested too
            deeply, or any field is missing, unknown, of another operation, or invalid.
            ``details["errors"]`` maps every bad field (dotted for map entries, ``_schema``
            for the whole payload) to messages; the ``orchestration`` field is refused
            here.
    """
    return _load_request(
        payload,
        expected_operation=None,
        allow_orchestration=False,
        what="The workload request",
    )


#: The workload machine's envelope around a request for validate_input.
_VALIDATION_ENVELOPE = frozenset({"request", "execution_arn"})


def load_validation_event(event: object, secrets_prefix: str | None = None) -> dict[str, Any]:
    """The validate_input Lambda's event, validated: ``{"request", "execution_arn"}`` from
    the workload machine (the ARN is for the log lines), or a bare request (``chalice
    invoke``, the CLI's ``invoke``).

    The machine always sends the envelope, so a user's payload shaped like one is still
    judged as a payload there (it arrives inside ``request`` and is refused).

    ``secrets_prefix``: where a parameter naming an SSM parameter (``{"ssm": NAME}``) may
    point (the stage's secrets folder).

    Raises:
        InvalidWorkloadRequest: as for :func:`load_workload_request`; a parameter names an
            SSM parameter outside ``secrets_prefix``.
    """
    from chalicelib.secrets import check_request

    if isinstance(event, Mapping) and "request" in event and set(event) <= _VALIDATION_ENVELOPE:
        request = load_workload_request(event["request"])
    else:
        request = load_workload_request(event)
    if secrets_prefix is not None:
        check_request(request, secrets_prefix)
    return request


def load_operation_request(operation: str, payload: object) -> dict[str, Any]:
    """Validate the input of the create/update/delete_workload Lambda for ``operation``.

    Same rules as :func:`load_workload_request`, plus: ``payload["operation"]`` must equal
    ``operation``, and an optional ``orchestration: {"execution_id": str}`` (added by the
    state machine) is accepted and returned as given.

    Raises:
        ValueError: ``operation`` is not create, update or delete (a programming error).
        InvalidWorkloadRequest: as for :func:`load_workload_request`.
    """
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {OPERATIONS}, got {operation!r}")
    return _load_request(
        payload,
        expected_operation=operation,
        allow_orchestration=True,
        what=f"The {operation}_workload input",
    )


def load_task_status_request(payload: object) -> dict[str, Any]:
    """Validate the input of the get_task_status Lambda.

    Accepts ``{task_id, [workload_id], [workload_name], [operation], [polls],
    [started_at]}``; returns them with ``polls`` defaulting to 0, UUIDs lower-cased,
    ``started_at`` normalised to UTC (``...Z``) and null optional fields dropped. The
    fields get_task_status itself returns (``status``, ``logs_tail``,
    ``next_wait_seconds``, ``elapsed_seconds``) are ignored, so its output can be fed back.

    Raises:
        InvalidWorkloadRequest: not a JSON object, nested too deeply, an unknown field, or
            an invalid value.
    """
    problems = Problems("The get_task_status input")
    request = _require_object(payload, problems, f'{{"task_id": "{UUID_EXAMPLE}"}}')
    too_deep = nesting_problem(request, {str: None})
    accepted = tuple(_TASK_STATUS_SCHEMA.fields)
    loadable = {}
    for key, value in request.items():
        if key in accepted:
            loadable[key] = value
        elif key not in TASK_STATUS_OUTPUT_FIELDS:
            message = _unknown_field_message(str(key), accepted, "get_task_status")
            problems.add(segment(key), message)
    data: dict[str, Any] = {}
    try:
        data = _TASK_STATUS_SCHEMA.load(loadable)
    except ValidationError as error:
        problems.merge(error)
    if too_deep is not None:
        problems.add(*too_deep)
    problems.raise_if_any()
    return data
