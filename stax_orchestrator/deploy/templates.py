"""The state machine templates and how their ``${...}`` placeholders are filled.

Role: ``statemachines/*.asl.json`` are the single source of the state machines;
``render`` fills them for ``deploy.sh`` (ARNs recorded by Chalice) and for the
CloudFormation package (``Fn::Sub`` references). Pure: no AWS call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from chalicelib.validation import MAX_WATCH_TIMEOUT_SECONDS
from stax_orchestrator.deploy.names import (
    DEFAULT_EVENT_SOURCE,
    STATEMACHINES_DIR,
    Target,
    placeholder,
)

DEFAULT_WATCH_TIMEOUT = 7200
#: The deploy-time default watch is at least this long (a request may ask for less).
MIN_WATCH_TIMEOUT_SECONDS = 10
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


class DeployError(Exception):
    """A deployment step cannot go on; the message says what to fix."""


def render(template: Any, values: Mapping[str, Any]) -> Any:
    """Fill ``${Name}`` placeholders in a parsed ASL document.

    A string that is exactly one placeholder takes the value's JSON type (so
    ``"TimeoutSeconds": "${WatcherExecutionTimeoutSeconds}"`` becomes a number);
    placeholders inside longer strings are replaced as text.

    Raises:
        DeployError: a placeholder has no value.
    """
    if isinstance(template, dict):
        return {key: render(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [render(item, values) for item in template]
    if isinstance(template, str):
        names = PLACEHOLDER.findall(template)
        missing = [name for name in names if name not in values]
        if missing:
            raise DeployError(f"no value for placeholder(s) {', '.join(missing)}")
        whole = PLACEHOLDER.fullmatch(template)
        if whole:
            return values[whole.group(1)]
        return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)
    return template


def load_template(kind: str) -> Any:
    return json.loads((STATEMACHINES_DIR / f"{kind}.asl.json").read_text())


def parse_watch_timeout(text: str) -> int:
    """``--watch-timeout``: decimal seconds, 10 to 86400 (one parser, in Python only:
    bash would read ``0100000`` as octal).

    Raises:
        DeployError: not a decimal whole number in range.
    """
    if not re.fullmatch(r"[0-9]+", text.strip()):
        raise DeployError(f"--watch-timeout takes whole seconds, got {text!r}")
    value = int(text.strip(), 10)
    if not MIN_WATCH_TIMEOUT_SECONDS <= value <= MAX_WATCH_TIMEOUT_SECONDS:
        raise DeployError(
            f"--watch-timeout takes {MIN_WATCH_TIMEOUT_SECONDS} to {MAX_WATCH_TIMEOUT_SECONDS} "
            f"seconds, got {value}"
        )
    return value


def template_values(
    function_arns: Mapping[str, str], target: Target, watch_timeout: int
) -> dict[str, Any]:
    values: dict[str, Any] = {placeholder(name): arn for name, arn in function_arns.items()}
    values.update(
        TaskWatcherArn=target.state_machine_arn("task_watcher"),
        WorkloadArn=target.state_machine_arn("workload"),
        FleetArn=target.state_machine_arn("fleet"),
        AccountBaselineArn=target.state_machine_arn("account_baseline"),
        FleetBucket=target.fleet_bucket,
        # The owner every S3 call of a machine expects (ExpectedBucketOwner).
        StageAccount=target.account,
        # Where the account baseline machine records the fleets it starts.
        CoordinationTable=target.table_name,
        # The stage's Stax event source (the stack parameter; here its default): the account
        # baseline Lambda refuses an event from any other.
        StaxEventSource=DEFAULT_EVENT_SOURCE,
        WatchTimeoutSeconds=watch_timeout,
        # The watcher's own Choice reports WorkloadTaskTimedOut (after the request's
        # watch_timeout_seconds, at most a day, or this default); the execution timeout
        # is only a backstop in case a poll hangs.
        WatcherExecutionTimeoutSeconds=max(watch_timeout, MAX_WATCH_TIMEOUT_SECONDS) + 900,
    )
    return values
