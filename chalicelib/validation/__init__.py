"""Validation of every event the Lambdas get, and of fleet requests (marshmallow 4).

Role: the public face of the package; ``app.py``, ``chalicelib.fleet``, the CLI and the
tests import from here. The modules:

* ``limits`` -- every limit, with its source and unit (SDK document, CloudFormation,
  AWS tagging, Step Functions);
* ``problems`` -- :class:`Problems`, the collector that raises one refusal naming every
  bad field, and the whole-payload checks (nesting depth, size in UTF-8 bytes);
* ``fields`` -- the marshmallow fields and the text rules;
* ``workload`` -- workload requests: :func:`load_workload_request`,
  :func:`load_validation_event`,
  :func:`load_operation_request`, :func:`load_task_status_request`;
* ``fleet`` -- fleet requests: :func:`validate_fleet_request`, :func:`load_fleet_event`;
* ``targets`` -- fleet targets from a CSV, JSON Lines or JSON file: :func:`parse_targets`.

Every refusal is an :class:`~chalicelib.errors.InvalidWorkloadRequest` (an
:class:`~chalicelib.errors.InvalidFleetRequest` for a fleet) whose ``details["errors"]``
maps each bad field to messages; no ``ValidationError`` or ``RecursionError`` escapes.
"""

from __future__ import annotations

from chalicelib.validation.fields import (
    NULL_MESSAGE,
    OPERATIONS,
    REQUIRED_MESSAGE,
    text_problem,
)
from chalicelib.validation.fleet import (
    FLEET_OPERATIONS,
    NAME_PLACEHOLDERS,
    TOLERANCE_PATTERN,
    FleetEvent,
    load_fleet_event,
    load_machine_event,
    render_name,
    validate_fleet_request,
)
from chalicelib.validation.limits import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    MAX_FLEET_REQUEST_BYTES,
    MAX_NESTING_DEPTH,
    MAX_PARAMETER_KEY_LENGTH,
    MAX_PARAMETER_VALUE_BYTES,
    MAX_PARAMETERS,
    MAX_PAYLOAD_BYTES,
    MAX_TAG_KEY_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    MAX_TAGS,
    MAX_TARGETS,
    MAX_TARGETS_FILE_BYTES,
    MAX_WATCH_TIMEOUT_SECONDS,
    STARTED_BY_FIELD,
)
from chalicelib.validation.problems import Problems, json_size, too_deep_path
from chalicelib.validation.targets import FORMATS as TARGET_FORMATS
from chalicelib.validation.targets import format_of, parse_targets
from chalicelib.validation.workload import (
    FIELDS_BY_OPERATION,
    load_operation_request,
    load_task_status_request,
    load_validation_event,
    load_workload_request,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "FIELDS_BY_OPERATION",
    "FLEET_OPERATIONS",
    "MAX_CONCURRENCY",
    "MAX_FLEET_REQUEST_BYTES",
    "MAX_NESTING_DEPTH",
    "MAX_PARAMETERS",
    "MAX_PARAMETER_KEY_LENGTH",
    "MAX_PARAMETER_VALUE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "MAX_TAGS",
    "MAX_TAG_KEY_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "MAX_TARGETS",
    "MAX_TARGETS_FILE_BYTES",
    "MAX_WATCH_TIMEOUT_SECONDS",
    "NAME_PLACEHOLDERS",
    "NULL_MESSAGE",
    "OPERATIONS",
    "REQUIRED_MESSAGE",
    "STARTED_BY_FIELD",
    "TARGET_FORMATS",
    "TOLERANCE_PATTERN",
    "FleetEvent",
    "Problems",
    "format_of",
    "json_size",
    "load_fleet_event",
    "load_machine_event",
    "load_operation_request",
    "load_task_status_request",
    "load_validation_event",
    "load_workload_request",
    "parse_targets",
    "render_name",
    "text_problem",
    "too_deep_path",
    "validate_fleet_request",
]
