"""Validation and normalisation of every Lambda input (marshmallow 4).

Three entry points, one per kind of event:

* :func:`load_workload_request` -- ``validate_input``: the user's payload (the
  shapes of the seed README) becomes the normalised request of
  docs/CONVENTIONS.md.
* :func:`load_operation_request` -- ``create_workload`` / ``update_workload`` /
  ``delete_workload``: the normalised request again (same rules), plus the
  ``orchestration`` object the state machine adds.
* :func:`load_task_status_request` -- ``get_task_status``.

Every refusal is one :class:`~chalicelib.errors.InvalidWorkloadRequest` whose
``details["errors"]`` maps each bad field (a dotted path for entries of
``workload_parameters`` / ``workload_tags``, ``_schema`` for the payload as a
whole) to messages that say what to fix. All problems are reported at once;
marshmallow's ``ValidationError`` never escapes this module.

Nothing here echoes the *values* of parameters or tags in a message (they may
hold secrets); keys, region names and operation names are echoed, shortened.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    missing,
    post_load,
    validates_schema,
)

from chalicelib.errors import InvalidWorkloadRequest
from chalicelib.regions import DEFAULT_REGIONS, DISABLED_REGIONS, OPT_IN_REGIONS, WORKLOAD_REGIONS

# --------------------------------------------------------------------------------------
# Limits. The SDK's OpenAPI document (staxapp/data/schema.json) is the first source; where
# it says nothing, the limit comes from what the request ends up in (CloudFormation, AWS
# tags, Step Functions) with a margin.
# --------------------------------------------------------------------------------------

#: Serialised payload (compact JSON, UTF-8). Step Functions refuses execution input and
#: state data above 256 KiB; the normalised request travels through several states (plus
#: the task watcher's input), so requests are kept far below that.
MAX_PAYLOAD_BYTES = 32 * 1024
#: The create/update/delete Lambdas get the *normalised* request, which can be a little
#: bigger than what validate_input measured (numbers and booleans gain two quotes: at most
#: 400 bytes for 200 parameters; plus the empty maps), so their limit has this margin;
#: ``orchestration`` is not counted.
NORMALISED_REQUEST_MARGIN_BYTES = 1024

#: SDK document, ``components/schemas/Tags``: ``maxProperties: 100`` (values
#: ``type: string``, no length limit or pattern there). One of the 100 is reserved: a
#: create adds the orchestrator's execution tag (see ``RESERVED_TAG_KEY_PREFIXES``).
STAX_MAX_TAGS = 100
MAX_TAGS = STAX_MAX_TAGS - 1
#: AWS tagging limits (the SDK's ``Tags`` schema has none): key 1-128 characters, value
#: 0-256 characters. Stax's own ``StaxTags`` schema in the same document also caps values
#: at 256.
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
#: Tag key prefixes users may not set, with the reason: AWS reserves ``aws:`` (CloudFormation
#: refuses such tags); ``stax-orchestrator:`` is for the orchestrator's own tags (the create
#: Lambda marks each workload with the execution that created it, under a key with this
#: prefix, to adopt it on a retry instead of creating a duplicate).
RESERVED_TAG_KEY_PREFIXES: dict[str, str] = {
    "aws:": "reserved by AWS",
    "stax-orchestrator:": "reserved for the orchestrator's own tags",
}

#: SDK document, ``KeyValueRequestParameter``: ``Key``/``Value`` are plain strings (no
#: limits). The parameters end up as CloudFormation parameters, whose limits apply:
#: at most 200 parameters per template, names up to 255 characters, values up to
#: 4096 (bytes in CloudFormation; counted here in characters).
MAX_PARAMETERS = 200
MAX_PARAMETER_KEY_LENGTH = 255
MAX_PARAMETER_VALUE_LENGTH = 4096

#: SDK document, ``workloads.CreateWorkload`` property ``Name``.
WORKLOAD_NAME_MIN_LENGTH = 2
WORKLOAD_NAME_MAX_LENGTH = 64
WORKLOAD_NAME_PATTERN = re.compile(r"[a-zA-Z][-a-zA-Z0-9]*")

#: SDK document, ``uuidv4``: ``^[0-9a-fA-F]{8}-...-[0-9a-fA-F]{12}$`` (canonical form only).
UUID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
UUID_EXAMPLE = "3fa85f64-5717-4562-b3fc-2c963f66afa6"

#: ``orchestration.execution_id`` is a Step Functions execution ARN (state machine and
#: execution names are at most 80 characters each, so a real ARN stays well below this).
#: It is meant to be stored as a Stax tag value, hence the tag value limit.
MAX_EXECUTION_ID_LENGTH = MAX_TAG_VALUE_LENGTH

#: get_task_status ``polls``: a sanity bound; an execution history (25,000 events) ends far
#: sooner.
MAX_POLLS = 100_000
#: ``watch_timeout_seconds``: how long the task watcher follows one Stax task (the
#: deploy-time default applies when it is absent). A day at most: the watcher
#: execution's own timeout is a backstop above that.
MAX_WATCH_TIMEOUT_SECONDS = 86_400
#: Informational free text of get_task_status (``workload_name``).
MAX_LABEL_LENGTH = 256

#: An error's ``str()`` becomes the Step Functions cause (at most 32,768 characters, after
#: Lambda wraps and escapes it): the report is cut to stay below this many characters.
MAX_ERROR_CHARS = 12_000
#: At most this many fields are listed in ``details["errors"]``; the rest are counted.
MAX_REPORTED_FIELDS = 50

OPERATIONS: tuple[str, ...] = ("create", "update", "delete")

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
        "watch_timeout_seconds",
    ),
    "delete": ("workload_id", "watch_timeout_seconds"),
}

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

#: Invisible characters that reorder how text is displayed ("Trojan Source").
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

NULL_MESSAGE = "must not be null; leave an optional field out instead of sending null"
REQUIRED_MESSAGE = "is required"

# Key in a field's error dict meaning "the field itself" (never a rendered map key: those
# contain no "." unless quoted).
_SELF = "."


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


_JSON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "a boolean"),  # before int: bool is an int in Python
    ((int, float), "a number"),
    (str, "a string"),
    (Mapping, "an object"),
    ((list, tuple), "an array"),
)


def _json_type(value: object) -> str:
    """The JSON name of a value's type, with an article, for messages."""
    for types, name in _JSON_TYPES:
        if isinstance(value, types):
            return name
    return f"a {type(value).__name__}"


def _describe_char(char: str) -> str:
    """``'x'`` for visible ASCII, else ``U+200B (ZERO WIDTH SPACE)``."""
    if " " < char < "\x7f":
        return repr(char)
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def _shorten(text: str, limit: int = 40) -> str:
    """``text`` as a quoted, escaped literal of bounded length, for echoing in messages."""
    rendered = json.dumps(text[:limit])
    return rendered + (f" (+{len(text) - limit} more characters)" if len(text) > limit else "")


def text_problem(value: str, *, allowed_controls: str = "") -> str | None:
    """Why ``value`` is not clean text, or None.

    Refused: lone surrogates (invalid Unicode), NUL and every other control character
    (except those in ``allowed_controls``), and the invisible bidirectional controls.
    """
    for char in value:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return (
                f"contains invalid Unicode (a lone surrogate U+{code:04X}); send valid UTF-8 text"
            )
        if char == "\x00":
            return "contains a NUL character (U+0000); remove it"
        if unicodedata.category(char) == "Cc" and char not in allowed_controls:
            return (
                f"contains the control character {_describe_char(char)}; "
                "remove line breaks, tabs and other control characters"
            )
        if char in BIDI_CONTROLS:
            return (
                f"contains the invisible text-direction character {_describe_char(char)}, "
                "which makes text display differently from what it is; remove it"
            )
    return None


def _segment(key: object) -> str:
    """A map key as one segment of a dotted error path.

    Plain keys appear as they are (``workload_tags.Env``). Keys that are empty, contain a
    dot or a quote, or anything invisible are shown JSON-quoted and escaped
    (``workload_tags."a\\u200bb"``) so the path is unambiguous and printable. Long keys are
    cut.
    """
    text = key if isinstance(key, str) else str(key)
    plain = (
        bool(text)
        and text.isprintable()
        and text.strip() == text
        and not any(c in text for c in '."\\')
    )
    rendered = text if plain else json.dumps(text)
    if len(rendered) > 80:
        rendered = f"{rendered[:64]}...[{len(text)} characters]"
    return rendered


def _flatten(messages: Any, prefix: str, out: dict[str, list[str]]) -> None:
    """Flatten marshmallow's nested error messages into ``{dotted.path: [messages]}``."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == _SELF:
                path = prefix or "_schema"
            elif prefix:
                path = f"{prefix}.{key}"
            else:
                path = str(key)
            _flatten(value, path, out)
    elif isinstance(messages, (list, tuple)):
        for message in messages:
            if isinstance(message, (Mapping, list, tuple)):
                _flatten(message, prefix, out)
            else:
                out.setdefault(prefix or "_schema", []).append(str(message))
    else:
        out.setdefault(prefix or "_schema", []).append(str(messages))


def _payload_size_problem(payload: object, limit: int = MAX_PAYLOAD_BYTES) -> str | None:
    """Why the payload is bigger than ``limit`` bytes as compact JSON (or nested too deeply
    to measure), or None."""
    try:
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    except RecursionError:
        return "is nested too deeply; send a flat JSON object as in the README"
    except ValueError:
        # Only Python callers can build such data (a circular reference, an integer with
        # more digits than Python converts); the field checks report the offending value.
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        return (
            f"is {size} bytes as JSON; at most {limit} bytes are accepted "
            "(send fewer or shorter parameters and tags)"
        )
    return None


class _Problems:
    """Collects ``{field: [messages]}`` and raises one InvalidWorkloadRequest."""

    def __init__(
        self, what: str, error_class: type[InvalidWorkloadRequest] = InvalidWorkloadRequest
    ) -> None:
        self.what = what
        self.error_class = error_class
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def merge(self, error: ValidationError, prefix: str = "") -> None:
        flat: dict[str, list[str]] = {}
        _flatten(error.messages, prefix, flat)
        for field, messages in flat.items():
            for message in messages:
                self.add(field, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise self.build()

    def build(self) -> InvalidWorkloadRequest:
        count = sum(len(m) for m in self.errors.values())
        names = list(self.errors)
        shown = min(len(names), MAX_REPORTED_FIELDS)
        while True:
            error = self._build(count, names, shown)
            if shown <= 1 or len(str(error)) <= MAX_ERROR_CHARS:
                return error
            shown = max(1, shown // 2)

    def _build(self, count: int, names: list[str], shown: int) -> InvalidWorkloadRequest:
        listed = ", ".join(names[: min(shown, 10)])
        if len(names) > min(shown, 10):
            listed += f", and {len(names) - min(shown, 10)} more"
        noun = "problem" if count == 1 else "problems"
        message = f"{self.what} has {count} {noun}: {listed}."
        errors = {name: self.errors[name][:3] for name in names[:shown]}
        omitted = len(names) - shown
        return self.error_class(
            message,
            errors=errors,
            fields_not_shown=omitted if omitted else None,
        )


# --------------------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------------------


class _StrictField(fields.Field):
    """Base of the fields below: messages that say what to do, no type coercion."""

    default_error_messages = {"required": REQUIRED_MESSAGE, "null": NULL_MESSAGE}


class Text(_StrictField):
    """A JSON string (nothing else), clean (see :func:`text_problem`), length-checked."""

    default_error_messages = {"invalid": "must be a string (text in double quotes), not {got}"}

    def __init__(self, *, min_length: int = 0, max_length: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.min_length = min_length
        self.max_length = max_length

    def _deserialize(self, value, attr, data, **kwargs) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid", got=_json_type(value))
        problem = text_problem(value)
        if problem:
            raise ValidationError(problem)
        problems = self._check(value)
        if problems:
            raise ValidationError(problems)
        return self._convert(value)

    def _check(self, value: str) -> list[str]:
        if len(value) < self.min_length:
            return ["must not be empty"] if self.min_length == 1 else [self._length_message(value)]
        if self.max_length is not None and len(value) > self.max_length:
            return [f"is {len(value)} characters long; at most {self.max_length} are allowed"]
        return []

    def _length_message(self, value: str) -> str:
        return f"must be {self.min_length} to {self.max_length} characters long (got {len(value)})"

    def _convert(self, value: str) -> Any:
        return value


class UuidText(Text):
    """A UUID in canonical 8-4-4-4-12 hex form; normalised to lower case."""

    def _check(self, value: str) -> list[str]:
        if UUID_PATTERN.fullmatch(value):
            return []
        message = f"must be a UUID like {UUID_EXAMPLE} (8-4-4-4-12 hexadecimal digits)"
        odd = next((c for c in value if c not in "0123456789abcdefABCDEF-"), None)
        if odd is not None:
            message += f"; found {_describe_char(odd)}"
        return [message]

    def _convert(self, value: str) -> str:
        return value.lower()


class WorkloadName(Text):
    """A Stax workload name: 2-64 characters, ``^[a-zA-Z][-a-zA-Z0-9]*$``."""

    def __init__(self, **kwargs):
        super().__init__(
            min_length=WORKLOAD_NAME_MIN_LENGTH, max_length=WORKLOAD_NAME_MAX_LENGTH, **kwargs
        )

    def _check(self, value: str) -> list[str]:
        problems = []
        if not WORKLOAD_NAME_MIN_LENGTH <= len(value) <= WORKLOAD_NAME_MAX_LENGTH:
            problems.append(self._length_message(value))
        if not WORKLOAD_NAME_PATTERN.fullmatch(value):
            message = (
                "must start with a letter (a-z, A-Z) and contain only letters, digits and "
                "hyphens (-), e.g. 'orchestrator-stax-demo-vpc'"
            )
            if value and not ("a" <= value[0].lower() <= "z"):
                message += f"; it starts with {_describe_char(value[0])}"
            else:
                odd = next(
                    (c for c in value if not (c.isascii() and (c.isalnum() or c == "-"))), None
                )
                if odd is not None:
                    message += f"; found {_describe_char(odd)}"
            problems.append(message)
        return problems


class Region(Text):
    """An AWS region Stax deploys workloads to (a default or an opt-in region)."""

    def _check(self, value: str) -> list[str]:
        if value in WORKLOAD_REGIONS:
            return []
        if value in DISABLED_REGIONS:
            return [
                f"region {value} is disabled in Stax (Stax does not deploy workloads there); "
                "choose another region"
            ]
        if value.lower() in WORKLOAD_REGIONS or value.lower() in DISABLED_REGIONS:
            return [f"must be lower case: use {value.lower()!r}"]
        return [
            f"{_shorten(value)} is not a Stax region; use one of: "
            + ", ".join(sorted(DEFAULT_REGIONS + OPT_IN_REGIONS))
        ]


class Operation(Text):
    """``create`` | ``update`` | ``delete``."""

    default_error_messages = {"required": "is required: one of create, update, delete"}

    def _check(self, value: str) -> list[str]:
        if value in OPERATIONS:
            return []
        hint = f" (use lower case: {value.lower()!r})" if value.lower() in OPERATIONS else ""
        return [f"must be one of: create, update, delete; got {_shorten(value)}{hint}"]


class StrictBoolean(_StrictField):
    """A JSON ``true``/``false``; strings and numbers are refused."""

    default_error_messages = {
        "invalid": "must be true or false (a JSON boolean without quotes), not {got}"
    }

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", got=_json_type(value))
        return value


class StrictInteger(_StrictField):
    """A JSON whole number (booleans and fractions refused) within a range."""

    default_error_messages = {"invalid": "must be a whole number, e.g. 3, not {got}"}

    def __init__(self, *, minimum: int, maximum: int, **kwargs):
        super().__init__(**kwargs)
        self.minimum = minimum
        self.maximum = maximum

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid", got=_json_type(value))
        if not self.minimum <= value <= self.maximum:
            raise ValidationError(f"must be between {self.minimum} and {self.maximum}")
        return value


class Timestamp(Text):
    """An ISO-8601 date-time with a time zone; normalised to UTC with a ``Z``."""

    def _check(self, value: str) -> list[str]:
        example = "e.g. 2024-05-01T10:00:00.000Z (as in $$.Execution.StartTime)"
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return [f"must be an ISO-8601 date-time, {example}"]
        if parsed.tzinfo is None:
            return [f"must include a time zone, {example}"]
        return []

    def _convert(self, value: str) -> str:
        parsed = datetime.fromisoformat(value).astimezone(UTC)
        return parsed.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parameter_text(value: object) -> tuple[str | None, str | None]:
    """A parameter value as text, before the length check: (text, None) or (None, problem)."""
    text: str | None = None
    problem: str | None = None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        try:
            text = str(value)
        except ValueError:  # more digits than Python converts (4300)
            problem = f"value is a number too long; at most {MAX_PARAMETER_VALUE_LENGTH} digits"
    elif isinstance(value, float):
        if math.isfinite(value):
            text = str(value)
        else:
            problem = "value must be a finite number (not NaN or Infinity)"
    elif isinstance(value, str):
        inner = text_problem(value)
        text, problem = (None, f"value {inner}") if inner else (value, None)
    elif value is None:
        problem = 'value must not be null; send a string, number or boolean ("" if empty)'
    else:
        problem = (
            f"value must be a string, number or boolean, not {_json_type(value)}; "
            "nested objects and arrays are not supported"
        )
    return text, problem


def _parameter_value(value: object) -> tuple[str | None, str | None]:
    """(normalised string, None) or (None, problem) for one workload parameter value.

    Strings are kept; booleans become ``"true"``/``"false"``, numbers ``str(number)``.
    """
    text, problem = _parameter_text(value)
    if text is not None and len(text) > MAX_PARAMETER_VALUE_LENGTH:
        return None, (
            f"value is {len(text)} characters long; at most {MAX_PARAMETER_VALUE_LENGTH} "
            "are allowed"
        )
    return text, problem


def _tag_value(value: object) -> tuple[str | None, str | None]:
    """(value, None) or (None, problem) for one workload tag value."""
    if not isinstance(value, str):
        if value is None:
            return None, 'value must not be null; send a string ("" if empty)'
        return None, (
            f"value must be a string, not {_json_type(value)}; "
            'write numbers and booleans in quotes, e.g. "123"'
        )
    problem = text_problem(value)
    if problem:
        return None, f"value {problem}"
    if len(value) > MAX_TAG_VALUE_LENGTH:
        return None, (
            f"value is {len(value)} characters long; at most {MAX_TAG_VALUE_LENGTH} are allowed"
        )
    return value, None


class StringMap(_StrictField):
    """A JSON object of name -> value, normalised to ``{str: str}``.

    Errors are reported per entry (``{rendered key: [messages]}``), the count limit on the
    field itself.
    """

    default_error_messages = {
        "invalid": 'must be an object of name/value pairs like {{"Env": "prod"}}, not {got}'
    }

    def __init__(
        self,
        *,
        noun: str,
        max_entries: int,
        max_key_length: int,
        value_loader: Callable[[object], tuple[str | None, str | None]],
        reserved_prefixes: Mapping[str, str] | None = None,
        limit_reason: str = "",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.noun = noun
        self.max_entries = max_entries
        self.limit_reason = limit_reason
        self.max_key_length = max_key_length
        self.value_loader = value_loader
        self.reserved_prefixes = dict(reserved_prefixes or {})

    def _key_problems(self, key: object) -> list[str]:
        if not isinstance(key, str):
            return ["key must be a string"]
        if key == "":
            return ["key must not be empty"]
        problem = text_problem(key)
        if problem:
            return [f"key {problem}"]
        problems = []
        odd = next((c for c in key if not c.isprintable()), None)
        if odd is not None:
            problems.append(
                f"key contains the invisible character {_describe_char(odd)}; "
                "keys must be visible text"
            )
        if len(key) > self.max_key_length:
            problems.append(
                f"key is {len(key)} characters long; at most {self.max_key_length} are allowed"
            )
        for prefix, reason in self.reserved_prefixes.items():
            if key.lower().startswith(prefix):
                problems.append(f"key must not start with {prefix!r} ({reason})")
        return problems

    def _deserialize(self, value, attr, data, **kwargs) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid", got=_json_type(value))
        errors: dict[str, list[str]] = {}
        if len(value) > self.max_entries:
            errors[_SELF] = [
                f"has {len(value)} {self.noun}s; at most {self.max_entries} are allowed"
                + (f" ({self.limit_reason})" if self.limit_reason else "")
            ]
        result: dict[str, str] = {}
        for key, item in value.items():
            problems = self._key_problems(key)
            normalised, problem = self.value_loader(item)
            if problem:
                problems.append(problem)
            if problems:
                errors.setdefault(_segment(key), []).extend(problems)
            elif normalised is not None:
                result[key] = normalised
        if errors:
            raise ValidationError(errors)
        return result


class Orchestration(_StrictField):
    """``{"execution_id": "<$$.Execution.Id>"}``, added by the workload state machine."""

    default_error_messages = {
        "invalid": 'must be an object like {{"execution_id": "arn:aws:states:..."}}, not {got}'
    }
    _id_field = Text(min_length=1, max_length=MAX_EXECUTION_ID_LENGTH, required=True)

    def _deserialize(self, value, attr, data, **kwargs) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid", got=_json_type(value))
        errors: dict[str, list[str]] = {}
        for key in value:
            if key != "execution_id":
                errors[_segment(key)] = ["unknown field; orchestration holds only execution_id"]
        execution_id = ""
        try:
            execution_id = str(self._id_field.deserialize(value.get("execution_id", missing)))
        except ValidationError as error:
            errors["execution_id"] = [str(message) for message in error.messages]
        if errors:
            raise ValidationError(errors)
        return {"execution_id": execution_id}


def _parameters_field(**kwargs) -> StringMap:
    return StringMap(
        noun="parameter",
        max_entries=MAX_PARAMETERS,
        max_key_length=MAX_PARAMETER_KEY_LENGTH,
        value_loader=_parameter_value,
        **kwargs,
    )


def _tags_field(**kwargs) -> StringMap:
    return StringMap(
        noun="tag",
        max_entries=MAX_TAGS,
        limit_reason=f"Stax allows {STAX_MAX_TAGS}; the orchestrator adds one of its own",
        max_key_length=MAX_TAG_KEY_LENGTH,
        value_loader=_tag_value,
        reserved_prefixes=RESERVED_TAG_KEY_PREFIXES,
        **kwargs,
    )


# --------------------------------------------------------------------------------------
# Schemas (one per operation; ``operation`` and unknown fields are handled around them)
# --------------------------------------------------------------------------------------


class _RequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # the loader refuses unknown fields itself, with better messages

    orchestration = Orchestration()
    watch_timeout_seconds = StrictInteger(minimum=1, maximum=MAX_WATCH_TIMEOUT_SECONDS)


class CreateWorkloadSchema(_RequestSchema):
    """create: where, what and how to deploy a new workload."""

    aws_account_id = UuidText(required=True)
    aws_region = Region(required=True)
    catalogue_id = UuidText(required=True)
    catalogue_version_id = UuidText()
    workload_name = WorkloadName(required=True)
    workload_parameters = _parameters_field()
    workload_tags = _tags_field()

    @post_load
    def _defaults(self, data: dict[str, Any], **kwargs) -> dict[str, Any]:
        data.setdefault("workload_parameters", {})
        data.setdefault("workload_tags", {})
        return data


class UpdateWorkloadSchema(_RequestSchema):
    """update: the workload and at least one thing to change."""

    workload_id = UuidText(required=True)
    catalogue_version_id = UuidText()
    workload_parameters = _parameters_field()
    workload_tags = _tags_field()
    protection = StrictBoolean()

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
    """get_task_status input (docs/CONVENTIONS.md)."""

    class Meta:
        unknown = EXCLUDE

    task_id = UuidText(required=True)
    workload_id = UuidText(allow_none=True)
    workload_name = Text(min_length=1, max_length=MAX_LABEL_LENGTH, allow_none=True)
    operation = Operation(allow_none=True)
    execution_id = Text(min_length=1, max_length=MAX_EXECUTION_ID_LENGTH, allow_none=True)
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


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def _require_object(payload: object, problems: _Problems, example: str) -> Mapping:
    """``payload`` if it is a JSON object; else raise the refusal at once."""
    if isinstance(payload, Mapping):
        return payload
    problems.add("_schema", f"must be a JSON object like {example}, not {_json_type(payload)}")
    raise problems.build()


def _operation_of(
    payload: Mapping, expected_operation: str | None, problems: _Problems
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
    if key in allowed or key == "operation":
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
    problems = _Problems(what)
    request = _require_object(payload, problems, '{"operation": "create", ...}')
    if allow_orchestration:
        measured = {k: v for k, v in request.items() if k != ORCHESTRATION_FIELD}
        size_problem = _payload_size_problem(
            measured, MAX_PAYLOAD_BYTES + NORMALISED_REQUEST_MARGIN_BYTES
        )
    else:
        size_problem = _payload_size_problem(request)
    if size_problem:
        problems.add("_schema", f"the request {size_problem}")
    rules = _operation_of(request, expected_operation, problems)

    loadable: dict[str, Any] = {}
    for key, value in request.items():
        problem = _field_problem(key, rules, allow_orchestration)
        if problem:
            problems.add(_segment(key), problem)
        elif key != "operation":
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
    problems.raise_if_any()
    return result


def load_workload_request(payload: object) -> dict[str, Any]:
    """Validate and normalise a user's workload request (the validate_input Lambda).

    Returns the normalised request of docs/CONVENTIONS.md: UUIDs lower-cased; for create,
    ``workload_parameters`` (values as strings) and ``workload_tags`` always present; for
    update, only the optional fields that were given.

    Raises:
        InvalidWorkloadRequest: the payload is not a JSON object, is too big, or any field
            is missing, unknown, of another operation, or invalid. ``details["errors"]``
            maps every bad field (dotted for map entries, ``_schema`` for the whole
            payload) to messages; the ``orchestration`` field is refused here.
    """
    return _load_request(
        payload,
        expected_operation=None,
        allow_orchestration=False,
        what="The workload request",
    )


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
        InvalidWorkloadRequest: not a JSON object, an unknown field, or an invalid value.
    """
    problems = _Problems("The get_task_status input")
    request = _require_object(payload, problems, f'{{"task_id": "{UUID_EXAMPLE}"}}')
    accepted = tuple(_TASK_STATUS_SCHEMA.fields)
    loadable = {}
    for key, value in request.items():
        if key in accepted:
            loadable[key] = value
        elif key not in TASK_STATUS_OUTPUT_FIELDS:
            message = _unknown_field_message(str(key), accepted, "get_task_status")
            problems.add(_segment(key), message)
    data: dict[str, Any] = {}
    try:
        data = _TASK_STATUS_SCHEMA.load(loadable)
    except ValidationError as error:
        problems.merge(error)
    problems.raise_if_any()
    return data
