"""The baselines file: its model and its validation, every problem at once, with lines.

Role: turns the text of a baselines YAML file into :class:`Baselines` (one
:class:`Baseline` per name) or one :class:`InvalidBaselines` naming every problem with
its path and line. Structure is checked here; what a baseline *sends* is checked with the
workload rules of a single operation (``chalicelib.validation.load_workload_request``)
on probe requests built from the baseline -- its parameters and tags alone and under
each override, its workload name in each region -- so a parameter name CloudFormation
refuses or a tag too long is reported on the line that sets it. The planner validates
every real request again once Stax has said which accounts there are.

The file::

    baselines:
      logging:                          # the baseline's name (also its tag's value)
        catalogue: baseline-vpc         # catalogue item name or id
        version: latest                 # version id, version name, or latest
        workload_name: "{baseline}-{account}-{region}"
        parameters: {VpcCidr: 10.0.0.0/16}
        tags: {CostCode: "12345"}
        overrides:                      # most specific wins: regions, account types, accounts
          regions: {us-east-1: {parameters: {VpcCidr: 10.1.0.0/16}}}
          account_types: {production: {tags: {Tier: prod}}}
          accounts: {workloads-prod: {parameters: {...}}}
        targets:
          account_types: [production]   # names or ids
          accounts: [workloads-dev]     # names or Stax ids
          regions: [ap-southeast-2, us-east-1]
        max_concurrency: 4
        failure_tolerance: 0            # a count, or a percentage like "10%"
        max_deletes: "10%"              # deletes and replacements an apply may run
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError

from chalicelib import settings
from chalicelib.baselines.brakes import BRAKE_FIELDS, load_brakes
from chalicelib.baselines.errors import InvalidBaselines
from chalicelib.baselines.source import join, line_of, load_yaml
from chalicelib.errors import InvalidWorkloadRequest
from chalicelib.validation import MAX_CONCURRENCY, TOLERANCE_PATTERN, load_workload_request
from chalicelib.validation.fields import Region, StrictInteger
from chalicelib.validation.limits import MAX_TARGETS

#: The tag every workload of a baseline carries (chalicelib.settings.BASELINE_TAG).
BASELINE_TAG = settings.BASELINE_TAG
#: Placeholders of ``workload_name``.
NAME_PLACEHOLDERS = ("baseline", "account", "account_short", "account_type", "region")
DEFAULT_NAME = "{baseline}-{account}-{region}"
#: A baseline's name: it becomes a tag value and part of workload names.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
#: Override kinds, from least to most specific (a later one wins).
OVERRIDE_KINDS = ("regions", "account_types", "accounts")
TARGET_KINDS = ("account_types", "accounts", "regions")
_BASELINE_FIELDS = (
    "catalogue",
    "version",
    "workload_name",
    "parameters",
    "tags",
    "overrides",
    "targets",
    "max_concurrency",
    "failure_tolerance",
    "max_deletes",
    "depends_on",
    *BRAKE_FIELDS,
)
#: The deletion budget of a baseline that names none: a tenth of its targets.
DEFAULT_MAX_DELETES = "10%"
_OVERRIDE_FIELDS = ("parameters", "tags")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
#: Stand-ins for what only Stax knows, in the probe requests.
_PROBE_UUID = "00000000-0000-4000-8000-000000000000"
_PROBE_VALUES = {
    "account": "account",
    "account_short": "00000000",
    "account_type": "type",
}


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID.match(value) is not None


def render_name(template: str, values: Mapping[str, str]) -> str:
    """Fill the placeholders of a workload name template (all known: validated)."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


@dataclass(frozen=True)
class Baseline:
    """One baseline as the file declares it (names not yet resolved against Stax)."""

    name: str
    catalogue: str
    version: str
    workload_name: str
    parameters: dict[str, Any]
    tags: dict[str, Any]
    overrides: dict[str, dict[str, dict[str, dict[str, Any]]]]
    account_types: list[str]
    accounts: list[str]
    regions: list[str]
    max_concurrency: int
    failure_tolerance: int | str
    #: Deletes and replacements one apply may run: a count, or a share of the targets.
    max_deletes: int | str = DEFAULT_MAX_DELETES
    #: The baselines whose creates and updates run before this one's (deletes: after).
    depends_on: list[str] = field(default_factory=list)
    #: Its fleets' brakes (``chalicelib.baselines.brakes``): stages, alarms, region order.
    brakes: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return join("baselines", self.name)

    def layers(
        self, *, region: str, account_type: str | None, account: tuple[str, ...]
    ) -> list[tuple[str, Mapping[str, Any]]]:
        """``(path, {"parameters", "tags"})`` from base to most specific, for one target.

        ``account_type``: the account's type as the file may name it (name or id tried by
        the caller); ``account``: the names the file may use for the account.
        """
        found: list[tuple[str, Mapping[str, Any]]] = [
            (self.path, {"parameters": self.parameters, "tags": self.tags})
        ]
        keys = {"regions": (region,), "account_types": (account_type,), "accounts": account}
        for kind in OVERRIDE_KINDS:
            entries = self.overrides.get(kind, {})
            for key in keys[kind]:
                if key is not None and key in entries:
                    found.append(
                        (join(join(join(self.path, "overrides"), kind), key), entries[key])
                    )
                    break
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "catalogue": self.catalogue,
            "version": self.version,
            "workload_name": self.workload_name,
            "parameters": self.parameters,
            "tags": self.tags,
            "overrides": self.overrides,
            "targets": {
                "account_types": self.account_types,
                "accounts": self.accounts,
                "regions": self.regions,
            },
            "max_concurrency": self.max_concurrency,
            "failure_tolerance": self.failure_tolerance,
            "max_deletes": self.max_deletes,
            "depends_on": self.depends_on,
            **self.brakes,
        }


@dataclass(frozen=True)
class Baselines:
    """A validated baselines file: its baselines, its text and the line of each path."""

    baselines: list[Baseline]
    source: str = ""
    lines: dict[str, int] = field(default_factory=dict)
    name: str = "baselines file"

    def line(self, path: str) -> int | None:
        return line_of(self.lines, path)


class Collector:
    """Problems with paths and lines; raises one :class:`InvalidBaselines`."""

    def __init__(self, lines: Mapping[str, int], name: str) -> None:
        self.lines = dict(lines)
        self.name = name
        self.problems: list[dict[str, Any]] = []

    def add(self, path: str, message: str) -> None:
        problem = {"path": path, "line": line_of(self.lines, path), "message": message}
        if problem not in self.problems:
            self.problems.append(problem)

    def raise_if_any(self) -> None:
        if self.problems:
            count = len(self.problems)
            raise InvalidBaselines(
                f"The {self.name} has {count} problem{'s' if count != 1 else ''}",
                problems=self.problems,
            )


def load_baselines(text: str, name: str = "baselines file") -> Baselines:
    """Parse and validate a baselines file.

    Raises:
        InvalidBaselines: every problem at once, each with its path and line.
    """
    duplicates: list[dict[str, Any]] = []
    data, lines = load_yaml(text, name, duplicates)
    problems = Collector(lines, name)
    # Reported with every other problem, in the order of the file (the first of each kept).
    problems.problems.extend(duplicates)
    if not isinstance(data, Mapping):
        problems.add("_file", "must be a YAML mapping with a 'baselines' key")
        problems.raise_if_any()
    for key in data:
        if key not in ("baselines", "version"):
            problems.add(join("", key), "unknown key; a baselines file has: baselines, version")
    if data.get("version", 1) != 1:
        problems.add("version", "must be 1 (the only version of the format)")
    declared = data.get("baselines")
    if not isinstance(declared, Mapping) or not declared:
        problems.add("baselines", "must be a mapping of baseline names to baselines")
        problems.raise_if_any()
    baselines = [_baseline(str(key), value, problems) for key, value in declared.items()]
    problems.raise_if_any()
    ordered = _in_dependency_order([b for b in baselines if b is not None], problems)
    problems.raise_if_any()
    return Baselines(ordered, text, lines, name)


def _in_dependency_order(baselines: list[Baseline], problems: Collector) -> list[Baseline]:
    """The baselines with every one after those it ``depends_on`` (the file's order among
    independent ones); an unknown name or a cycle is a problem, the cycle named."""
    by_name = {b.name: b for b in baselines}
    for baseline in baselines:
        for index, other in enumerate(baseline.depends_on):
            where = join(join(baseline.path, "depends_on"), index)
            if other == baseline.name:
                problems.add(where, "a baseline cannot depend on itself")
            elif other not in by_name:
                problems.add(where, f"no baseline {other!r} in this file")
    if problems.problems:
        return baselines
    ordered: list[Baseline] = []
    state: dict[str, str] = {}  # "visiting" / "done"

    def visit(baseline: Baseline, trail: list[str]) -> None:
        if state.get(baseline.name) == "done":
            return
        if state.get(baseline.name) == "visiting":
            cycle = " -> ".join([*trail[trail.index(baseline.name) :], baseline.name])
            problems.add(
                join(baseline.path, "depends_on"),
                f"a cycle: {cycle} (each would wait for the other)",
            )
            return
        state[baseline.name] = "visiting"
        for other in baseline.depends_on:
            visit(by_name[other], [*trail, baseline.name])
        state[baseline.name] = "done"
        ordered.append(baseline)

    for baseline in baselines:
        visit(baseline, [])
    return ordered


def _map(value: Any, path: str, problems: Collector) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.add(path, "must be a mapping of keys to values")
        return {}
    return {str(k): v for k, v in value.items()}


#: What a parameter written as a mapping may hold: the SSM parameter with its value.
_SECRET_KEYS = frozenset({"ssm", "secret"})


def _parameters(value: Any, path: str, problems: Collector) -> dict[str, Any]:
    """``parameters``: values, or ``{ssm: NAME, secret: true}`` for a value kept in SSM
    (normalised to ``{"ssm": NAME}``: shown ``(sensitive)``, read only by the Lambdas that
    send it to Stax). A secret is never written in the file itself: the file is stored in
    the stage bucket and its values travel in fleet plans and execution histories."""
    out = _map(value, path, problems)
    for key, item in list(out.items()):
        if not isinstance(item, Mapping):
            continue
        out.pop(key)  # back below once valid: the problem is named once, here
        where = join(path, key)
        unknown = sorted(str(k) for k in item if k not in _SECRET_KEYS)
        if "ssm" not in item:
            problems.add(where, "a secret's value is not written in the file: keep it in SSM "
                         "Parameter Store under /stax-orchestrator/<stage>/workload-parameters/ "
                         "and name it, e.g. {ssm: /stax-orchestrator/dev/workload-parameters/"
                         "db-password, secret: true}")  # fmt: skip
        elif unknown:
            problems.add(where, f"unknown key {unknown[0]!r}; a secret has: ssm, secret")
        elif item.get("secret", True) is not True:
            problems.add(join(where, "secret"), "a value kept in SSM is always secret: "
                         "leave out secret, or write the value itself in the file")  # fmt: skip
        else:
            out[key] = {"ssm": item["ssm"]}
    return out


def _strings(value: Any, path: str, problems: Collector) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(path, "must be a list")
        return []
    out: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            problems.add(join(path, index), "must be a non-empty string")
        elif item in out:
            problems.add(join(path, index), f"{item!r} is listed twice")
        else:
            out.append(item)
    return out


def _tolerance(value: Any, path: str, problems: Collector, default: int | str = 0) -> int | str:
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TARGETS:
        return value
    if isinstance(value, str) and (m := TOLERANCE_PATTERN.match(value)) and float(m[1]) <= 100:
        return value
    problems.add(path, f"must be a whole number (0-{MAX_TARGETS}) or a percentage like '10%'")
    return 0


def _texts(raw: Mapping[str, Any], path: str, problems: Collector) -> dict[str, str]:
    texts: dict[str, str] = {}
    for key, needed in (
        ("catalogue", "a catalogue item name or id"),
        ("version", "a version id, a version name, or latest"),
    ):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.add(join(path, key), f"is required: {needed}")
        texts[key] = str(value or "").strip()
    return texts


def _template(raw: Mapping[str, Any], path: str, problems: Collector) -> str:
    template = raw.get("workload_name", DEFAULT_NAME)
    if not isinstance(template, str) or not template:
        problems.add(join(path, "workload_name"), f"must be a template like {DEFAULT_NAME!r}")
        return DEFAULT_NAME
    unknown = [p for p in _PLACEHOLDER.findall(template) if p not in NAME_PLACEHOLDERS]
    if unknown:
        problems.add(
            join(path, "workload_name"),
            f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
            f"use {', '.join('{' + p + '}' for p in NAME_PLACEHOLDERS)}",
        )
    return template


def _targets(raw: Mapping[str, Any], path: str, problems: Collector) -> dict[str, list[str]]:
    where = join(path, "targets")
    targets = _map(raw.get("targets"), where, problems)
    for key in targets:
        if key not in TARGET_KINDS:
            problems.add(join(where, key), f"unknown key; targets has: {', '.join(TARGET_KINDS)}")
    lists = {k: _strings(targets.get(k), join(where, k), problems) for k in TARGET_KINDS}
    if "targets" not in raw:
        problems.add(path, "targets is required: account_types and/or accounts, and regions")
    elif not lists["regions"]:
        problems.add(where, "regions is required: at least one region")
    elif not (lists["account_types"] or lists["accounts"]):
        problems.add(where, "needs account_types or accounts (or both)")
    for index, region in enumerate(lists["regions"]):
        try:
            Region().deserialize(region)
        except ValidationError as error:
            for message in _messages(error.messages):
                problems.add(join(join(where, "regions"), index), message)
    return lists


def _concurrency(raw: Mapping[str, Any], path: str, problems: Collector) -> int:
    value = raw.get("max_concurrency", 5)
    try:
        StrictInteger(minimum=1, maximum=MAX_CONCURRENCY).deserialize(value)
    except ValidationError as error:
        for message in _messages(error.messages):
            problems.add(join(path, "max_concurrency"), message)
        return 1
    return int(value)


def _reserved_tag(baseline: Baseline, problems: Collector) -> None:
    where = join(baseline.path, "overrides")
    for tags_path, tags in [(join(baseline.path, "tags"), baseline.tags)] + [
        (join(join(join(where, kind), key), "tags"), entry.get("tags") or {})
        for kind, entries in baseline.overrides.items()
        for key, entry in entries.items()
    ]:
        if BASELINE_TAG in tags:
            problems.add(
                join(tags_path, BASELINE_TAG),
                "is set by the orchestrator to the baseline's name; remove it",
            )


def _baseline(name: str, raw: Any, problems: Collector) -> Baseline | None:
    path = join("baselines", name)
    if not NAME_PATTERN.match(name):
        problems.add(
            path,
            "a baseline's name must be 1-63 letters, digits, '.', '_' or '-' (it becomes a "
            "tag value and part of workload names)",
        )
    if not isinstance(raw, Mapping):
        problems.add(path, "must be a mapping with catalogue, version and targets")
        return None
    for key in raw:
        if key not in _BASELINE_FIELDS:
            problems.add(
                join(path, key), f"unknown key; a baseline has: {', '.join(_BASELINE_FIELDS)}"
            )
    texts = _texts(raw, path, problems)
    lists = _targets(raw, path, problems)
    baseline = Baseline(
        name=name,
        catalogue=texts["catalogue"],
        version=texts["version"],
        workload_name=_template(raw, path, problems),
        parameters=_parameters(raw.get("parameters"), join(path, "parameters"), problems),
        tags=_map(raw.get("tags"), join(path, "tags"), problems),
        overrides=_overrides(raw.get("overrides"), path, problems),
        account_types=lists["account_types"],
        accounts=lists["accounts"],
        regions=lists["regions"],
        max_concurrency=_concurrency(raw, path, problems),
        failure_tolerance=_tolerance(
            raw.get("failure_tolerance"), join(path, "failure_tolerance"), problems
        ),
        max_deletes=_tolerance(
            raw.get("max_deletes"), join(path, "max_deletes"), problems, DEFAULT_MAX_DELETES
        ),
        depends_on=_strings(raw.get("depends_on"), join(path, "depends_on"), problems),
        brakes=load_brakes(raw, path, problems),
    )
    _reserved_tag(baseline, problems)
    _probe(baseline, problems)
    return baseline


def _overrides(raw: Any, path: str, problems: Collector) -> dict[str, dict[str, dict[str, Any]]]:
    where = join(path, "overrides")
    kinds = _map(raw, where, problems)
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, entries in kinds.items():
        if kind not in OVERRIDE_KINDS:
            problems.add(
                join(where, kind), f"unknown key; overrides has: {', '.join(OVERRIDE_KINDS)}"
            )
            continue
        result[kind] = {}
        for key, entry in _map(entries, join(where, kind), problems).items():
            entry_path = join(join(where, kind), key)
            body = _map(entry, entry_path, problems)
            for name in body:
                if name not in _OVERRIDE_FIELDS:
                    problems.add(
                        join(entry_path, name), "unknown key; an override has: parameters, tags"
                    )
            result[kind][key] = {
                "parameters": _parameters(
                    body.get("parameters"), join(entry_path, "parameters"), problems
                ),
                "tags": _map(body.get("tags"), join(entry_path, "tags"), problems),
            }
    return result


def _messages(messages: Any) -> list[str]:
    if isinstance(messages, Mapping):
        return [m for value in messages.values() for m in _messages(value)]
    if isinstance(messages, list):
        return [m for value in messages for m in _messages(value)]
    return [str(messages)]


def merged(layers: list[tuple[str, Mapping[str, Any]]], kind: str) -> tuple[dict, dict[str, str]]:
    """The merged ``parameters`` or ``tags`` of ``layers`` and the path each key came from."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for path, layer in layers:
        for key, value in (layer.get(kind) or {}).items():
            values[key] = value
            origin[key] = join(join(path, kind), key)
    return values, origin


def create_request(
    baseline: Baseline,
    layers: list[tuple[str, Mapping[str, Any]]],
    *,
    account_id: str,
    region: str,
    catalogue_id: str,
    version_id: str | None,
    name_values: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The create request of one target and where each of its fields comes from."""
    parameters, parameter_origin = merged(layers, "parameters")
    tags, tag_origin = merged(layers, "tags")
    request: dict[str, Any] = {
        "operation": "create",
        "aws_account_id": account_id,
        "aws_region": region,
        "catalogue_id": catalogue_id,
        "workload_name": render_name(
            baseline.workload_name, {"baseline": baseline.name, "region": region, **name_values}
        ),
        "workload_parameters": parameters,
        "workload_tags": {**tags, BASELINE_TAG: baseline.name},
    }
    if version_id:
        request["catalogue_version_id"] = version_id
    origin = {
        "workload_name": join(baseline.path, "workload_name"),
        "catalogue_id": join(baseline.path, "catalogue"),
        "catalogue_version_id": join(baseline.path, "version"),
        "aws_region": join(join(baseline.path, "targets"), "regions"),
        "aws_account_id": join(baseline.path, "targets"),
        "workload_parameters": join(baseline.path, "parameters"),
        "workload_tags": join(baseline.path, "tags"),
        "_schema": baseline.path,
        **{f"workload_parameters.{k}": v for k, v in parameter_origin.items()},
        **{f"workload_tags.{k}": v for k, v in tag_origin.items()},
    }
    return request, origin


def report_request_problems(
    error: InvalidWorkloadRequest, origin: Mapping[str, str], problems: Collector, context: str
) -> None:
    """Put the workload rules' refusal of a request on the file's paths."""
    for field_name, messages in (error.details.get("errors") or {}).items():
        where = origin.get(field_name)
        if where is None:
            head = field_name.split(".", 1)[0]
            where = origin.get(head, origin["_schema"])
        for message in messages:
            problems.add(where, f"{message}{context}")


def _probe(baseline: Baseline, problems: Collector) -> None:
    """Judge what the baseline would send with the rules of a single create."""
    catalogue_id = baseline.catalogue if is_uuid(baseline.catalogue) else _PROBE_UUID
    version_id = baseline.version if is_uuid(baseline.version) else None
    regions = [r for r in baseline.regions if _is_region(r)] or ["us-east-1"]
    # A template with unknown placeholders is reported once, by name, not as a bad name.
    name_known = not [p for p in _PLACEHOLDER.findall(baseline.workload_name)
                      if p not in NAME_PLACEHOLDERS]  # fmt: skip
    cases: list[list[tuple[str, Mapping[str, Any]]]] = []
    base = baseline.layers(region=regions[0], account_type=None, account=())
    cases.append(base)
    for kind, entries in baseline.overrides.items():
        for key, entry in entries.items():
            cases.append([*base, (join(join(join(baseline.path, "overrides"), kind), key), entry)])
    for index, layers in enumerate(cases):
        for region in regions if index == 0 else regions[:1]:
            request, origin = create_request(
                baseline,
                layers,
                account_id=_PROBE_UUID,
                region=region,
                catalogue_id=catalogue_id,
                version_id=version_id,
                name_values={**_PROBE_VALUES},
            )
            if not name_known:
                request["workload_name"] = "probe"
            try:
                load_workload_request(request)
            except InvalidWorkloadRequest as error:
                report_request_problems(error, origin, problems, "")


def _is_region(value: str) -> bool:
    try:
        Region().deserialize(value)
    except ValidationError:
        return False
    return True
