"""The marshmallow fields of every request, and the text rules they share.

Role: one field class per kind of value (a UUID, a workload name, a region, a strict
boolean or integer, a timestamp, a map of parameters or tags, the ``orchestration``
object). Each takes only the JSON type it names (no coercion), applies the limits of
``chalicelib.validation.limits`` in the unit the platform counts (bytes of UTF-8 for
CloudFormation parameter values, Unicode characters for AWS tags), and explains a refusal
in words that say what to fix. Nothing here echoes the *value* of a parameter or tag
(they may hold secrets); keys are echoed, shortened.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields, missing

from chalicelib.regions import DEFAULT_REGIONS, DISABLED_REGIONS, OPT_IN_REGIONS, WORKLOAD_REGIONS
from chalicelib.secrets import REFERENCE_KEY, is_reference, reference_problem
from chalicelib.validation.limits import (
    MAX_EXECUTION_ID_LENGTH,
    MAX_PARAMETER_KEY_LENGTH,
    MAX_PARAMETER_VALUE_BYTES,
    MAX_PARAMETERS,
    MAX_TAG_KEY_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    MAX_TAGS,
    PARAMETER_KEY_PATTERN,
    RESERVED_TAG_KEY_PREFIXES,
    STAX_MAX_TAGS,
    UUID_EXAMPLE,
    UUID_PATTERN,
    WORKLOAD_NAME_MAX_LENGTH,
    WORKLOAD_NAME_MIN_LENGTH,
    WORKLOAD_NAME_PATTERN,
)
from chalicelib.validation.problems import SELF, segment

#: The workload operations (the ``operation`` field of a request).
OPERATIONS: tuple[str, ...] = ("create", "update", "delete")

#: Invisible characters that reorder how text is displayed ("Trojan Source").
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

NULL_MESSAGE = "must not be null; leave an optional field out instead of sending null"
REQUIRED_MESSAGE = "is required"


# -- text ----------------------------------------------------------------------------------


_JSON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "a boolean"),  # before int: bool is an int in Python
    ((int, float), "a number"),
    (str, "a string"),
    (Mapping, "an object"),
    ((list, tuple), "an array"),
)


def json_type(value: object) -> str:
    """The JSON name of a value's type, with an article, for messages."""
    for types, name in _JSON_TYPES:
        if isinstance(value, types):
            return name
    return f"a {type(value).__name__}"


def describe_char(char: str) -> str:
    """``'x'`` for visible ASCII, else ``U+200B (ZERO WIDTH SPACE)``."""
    if " " < char < "\x7f":
        return repr(char)
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def shorten(text: str, limit: int = 40) -> str:
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
                f"contains the control character {describe_char(char)}; "
                "remove line breaks, tabs and other control characters"
            )
        if char in BIDI_CONTROLS:
            return (
                f"contains the invisible text-direction character {describe_char(char)}, "
                "which makes text display differently from what it is; remove it"
            )
    return None


# -- fields --------------------------------------------------------------------------------


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
            raise self.make_error("invalid", got=json_type(value))
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


class Choice(Text):
    """One of a few words (case as given)."""

    def __init__(self, choices: tuple[str, ...], **kwargs):
        super().__init__(**kwargs)
        self.choices = choices

    def _check(self, value: str) -> list[str]:
        if value in self.choices:
            return []
        return [f"must be one of: {', '.join(self.choices)} (got {value[:40]!r})"]


class UuidText(Text):
    """A UUID in canonical 8-4-4-4-12 hex form; normalised to lower case."""

    def _check(self, value: str) -> list[str]:
        if UUID_PATTERN.fullmatch(value):
            return []
        message = f"must be a UUID like {UUID_EXAMPLE} (8-4-4-4-12 hexadecimal digits)"
        odd = next((c for c in value if c not in "0123456789abcdefABCDEF-"), None)
        if odd is not None:
            message += f"; found {describe_char(odd)}"
        return [message]

    def _convert(self, value: str) -> str:
        return value.lower()


#: An AWS account number: exactly 12 ASCII digits (leading zeros are part of it).
AWS_ACCOUNT_NUMBER_PATTERN = re.compile(r"[0-9]{12}")


class AccountRef(UuidText):
    """The account a workload goes to: the Stax account id (a UUID, lower-cased) or the
    12-digit AWS account number as a string (resolved through ReadAccounts when written).
    """

    default_error_messages = {
        "invalid": (
            "must be a string (text in double quotes), not {got}: the Stax account id (a UUID) "
            'or the 12-digit AWS account number in quotes, e.g. "012345678901" (leading '
            "zeros are part of it)"
        )
    }

    def _check(self, value: str) -> list[str]:
        if AWS_ACCOUNT_NUMBER_PATTERN.fullmatch(value):
            return []
        if value.isascii() and value.isdigit():
            return [f"is {len(value)} digits long; an AWS account number has exactly 12"]
        problems = super()._check(value)
        if not problems:
            return []
        uuid_rule, _, found = problems[0].partition("; found")
        return [
            f"{uuid_rule}, or a 12-digit AWS account number" + (f"; found{found}" if found else "")
        ]


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
                message += f"; it starts with {describe_char(value[0])}"
            else:
                odd = next(
                    (c for c in value if not (c.isascii() and (c.isalnum() or c == "-"))), None
                )
                if odd is not None:
                    message += f"; found {describe_char(odd)}"
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
            f"{shorten(value)} is not a Stax region; use one of: "
            + ", ".join(sorted(DEFAULT_REGIONS + OPT_IN_REGIONS))
        ]


class Operation(Text):
    """``create`` | ``update`` | ``delete``."""

    default_error_messages = {"required": "is required: one of create, update, delete"}

    def _check(self, value: str) -> list[str]:
        if value in OPERATIONS:
            return []
        hint = f" (use lower case: {value.lower()!r})" if value.lower() in OPERATIONS else ""
        return [f"must be one of: create, update, delete; got {shorten(value)}{hint}"]


class StrictBoolean(_StrictField):
    """A JSON ``true``/``false``; strings and numbers are refused."""

    default_error_messages = {
        "invalid": "must be true or false (a JSON boolean without quotes), not {got}"
    }

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", got=json_type(value))
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
            raise self.make_error("invalid", got=json_type(value))
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
            problem = f"value is a number too long; at most {MAX_PARAMETER_VALUE_BYTES} digits"
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
            f"value must be a string, number or boolean, not {json_type(value)}; "
            "nested objects and arrays are not supported (an object may only name an SSM "
            'parameter that holds the value: {"ssm": "/stax-orchestrator/<stage>/'
            'workload-parameters/NAME"})'
        )
    return text, problem


def _parameter_value(value: object) -> tuple[Any, str | None]:
    """(normalised value, None) or (None, problem) for one workload parameter value.

    Strings are kept; booleans become ``"true"``/``"false"``, numbers ``str(number)``.
    The length is counted as CloudFormation counts it: bytes of UTF-8, so "é" counts 2.
    ``{"ssm": NAME}`` names an SSM parameter holding the value (``chalicelib.secrets``);
    where it may point is the stage's to check.
    """
    if isinstance(value, Mapping) and REFERENCE_KEY in value:
        if not is_reference(value):
            return None, f"a reference has only the key {REFERENCE_KEY!r}"
        problem = reference_problem(value)
        return (None, problem) if problem else ({REFERENCE_KEY: value[REFERENCE_KEY]}, None)
    text, problem = _parameter_text(value)
    if text is None:
        return None, problem
    size = len(text.encode("utf-8"))  # no lone surrogates: _parameter_text refused them
    if size > MAX_PARAMETER_VALUE_BYTES:
        characters = f" ({len(text):,} characters)" if len(text) != size else ""
        return None, (
            f"value is {size:,} bytes as UTF-8{characters}; at most "
            f"{MAX_PARAMETER_VALUE_BYTES:,} bytes are allowed (CloudFormation counts "
            "parameter values in bytes)"
        )
    return text, None


def _tag_value(value: object) -> tuple[str | None, str | None]:
    """(value, None) or (None, problem) for one workload tag value."""
    if not isinstance(value, str):
        if value is None:
            return None, 'value must not be null; send a string ("" if empty)'
        return None, (
            f"value must be a string, not {json_type(value)}; "
            'write numbers and booleans in quotes, e.g. "123"'
        )
    problem = text_problem(value)
    if problem:
        return None, f"value {problem}"
    # Unicode characters (code points), not bytes: AWS counts tag values so.
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
        value_loader: Callable[[object], tuple[Any, str | None]],
        reserved_prefixes: Mapping[str, str] | None = None,
        limit_reason: str = "",
        key_pattern: re.Pattern[str] | None = None,
        key_rule: str = "",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.noun = noun
        # A key must match key_pattern as a whole; key_rule says so in words.
        self.key_pattern = key_pattern
        self.key_rule = key_rule
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
                f"key contains the invisible character {describe_char(odd)}; "
                "keys must be visible text"
            )
        elif self.key_pattern is not None and not self.key_pattern.fullmatch(key):
            # The first character the pattern refuses (an invisible one is named above).
            odd = next(c for c in key if not self.key_pattern.fullmatch(c))
            problems.append(f"key {self.key_rule}; found {describe_char(odd)}")
        # Characters (code points), as AWS counts tag keys; parameter keys are ASCII.
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
            raise self.make_error("invalid", got=json_type(value))
        errors: dict[str, list[str]] = {}
        if len(value) > self.max_entries:
            errors[SELF] = [
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
                errors.setdefault(segment(key), []).extend(problems)
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
            raise self.make_error("invalid", got=json_type(value))
        errors: dict[str, list[str]] = {}
        for key in value:
            if key != "execution_id":
                errors[segment(key)] = ["unknown field; orchestration holds only execution_id"]
        execution_id = ""
        try:
            execution_id = str(self._id_field.deserialize(value.get("execution_id", missing)))
        except ValidationError as error:
            errors["execution_id"] = [str(message) for message in error.messages]
        if errors:
            raise ValidationError(errors)
        return {"execution_id": execution_id}


#: Says what PARAMETER_KEY_PATTERN means, after "key".
PARAMETER_KEY_RULE = "must be alphanumeric (A-Z, a-z, 0-9), as CloudFormation parameter names are"


def parameters_field(**kwargs) -> StringMap:
    """``workload_parameters``: CloudFormation parameters (alphanumeric names, values of at
    most 4,096 bytes, at most 200)."""
    return StringMap(
        noun="parameter",
        max_entries=MAX_PARAMETERS,
        max_key_length=MAX_PARAMETER_KEY_LENGTH,
        value_loader=_parameter_value,
        key_pattern=PARAMETER_KEY_PATTERN,
        key_rule=PARAMETER_KEY_RULE,
        **kwargs,
    )


def tags_field(**kwargs) -> StringMap:
    """``workload_tags``: Stax/AWS tags (at most 99 here, keys of 128 and values of 256
    characters, no reserved prefixes)."""
    return StringMap(
        noun="tag",
        max_entries=MAX_TAGS,
        limit_reason=f"Stax allows {STAX_MAX_TAGS}; the orchestrator adds one of its own",
        max_key_length=MAX_TAG_KEY_LENGTH,
        value_loader=_tag_value,
        reserved_prefixes=RESERVED_TAG_KEY_PREFIXES,
        **kwargs,
    )
