"""Automatic baselining of a stage: ``deploy.sh --baselines FILE --stax-event-bus NAME``.

Role: the deploy's side of "a new account gets its baselines". :func:`ensure_baselining`
stores the file in the stage's (versioned) bucket, creates the rule on the Stax event bus
that starts the account baseline machine for every successful account creation or
account type change, the role EventBridge starts it with, and (``--baseline-drift-
schedule``) the schedule of the drift check. A deploy without ``--baselines`` removes the
rules and the role (the stored file's versions stay, as history, until the stage is
deleted), the way a deploy without ``--dashboard`` removes the dashboard.

The rule matches on the event's source by prefix: Stax's events come from its partner
event source, ``aws.partner/stax.io/<installation>/...``, named per installation and
organisation, so the prefix ``aws.partner/stax.io`` (the default) matches any of them;
``--stax-event-source`` narrows or replaces it (the local stack's simulator sends
``stax.simulator``, since PutEvents refuses ``aws.`` sources to anyone but AWS).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.baselines.account import ACCOUNT_EVENT_TYPES
from stax_orchestrator.deploy.alerts import ensure_lambda_rule
from stax_orchestrator.deploy.names import DRIFT_FUNCTION, Target
from stax_orchestrator.deploy.policies import events_policy, events_trust_policy
from stax_orchestrator.deploy.resources import delete_role, delete_rule, ensure_service_role
from stax_orchestrator.deploy.templates import DeployError

#: Stax's partner event sources all start so (the harsher reading of its documentation:
#: the rest of the name is the installation's and the organisation's, not fixed).
DEFAULT_EVENT_SOURCE = "aws.partner/stax.io"
ACCOUNT_TARGET_ID = "account-baseline"
DRIFT_TARGET_ID = "baseline-drift"
DRIFT_PERMISSION_ID = "drift-schedule-invokes"
_SCHEDULE = re.compile(r"^(rate\(\s*\d+\s+(minute|minutes|hour|hours|day|days)\s*\)|cron\(.+\))$")


@dataclass(frozen=True)
class Baselining:
    """What ``--baselines`` asks for (``None`` of it: baselining off)."""

    file: Path
    bus: str
    source: str = DEFAULT_EVENT_SOURCE
    drift_schedule: str | None = None


def parse_options(
    file: str | None, bus: str | None, source: str | None, drift_schedule: str | None
) -> Baselining | None:
    """The flags as one value, the baselines file validated (every problem at once).

    Raises:
        DeployError: a flag without its partner, an unreadable or invalid file, or a
            schedule EventBridge would refuse.
    """
    if not file:
        extra = [f for f, v in (("--stax-event-bus", bus), ("--stax-event-source", source),
                                ("--baseline-drift-schedule", drift_schedule)) if v]  # fmt: skip
        if extra:
            raise DeployError(f"{', '.join(extra)} needs --baselines FILE")
        return None
    if not bus:
        raise DeployError("--baselines needs --stax-event-bus NAME (the Stax partner event bus)")
    if drift_schedule and not _SCHEDULE.match(drift_schedule.strip()):
        raise DeployError(
            f"--baseline-drift-schedule takes an EventBridge schedule such as 'rate(1 day)' "
            f"or 'cron(0 6 * * ? *)', got {drift_schedule!r}"
        )
    path = Path(file)
    from chalicelib.baselines import InvalidBaselines, load_baselines
    from chalicelib.baselines.source import read_file

    try:
        load_baselines(read_file(str(path)), str(path))  # its size checked before it is read
    except OSError as error:
        raise DeployError(f"--baselines {file}: {error.strerror or error}") from None
    except InvalidBaselines as error:
        raise DeployError(error.text()) from None
    return Baselining(path, bus, (source or DEFAULT_EVENT_SOURCE).strip(),
                      drift_schedule.strip() if drift_schedule else None)  # fmt: skip


def account_event_pattern(source: str) -> dict[str, Any]:
    """Successful account creations and updates from Stax's source."""
    return {
        "source": [{"prefix": source}],
        "detail-type": list(ACCOUNT_EVENT_TYPES),
        "detail": {"status": ["SUCCESS"]},
    }


def check_bus(events: Any, bus: str) -> None:
    """Raises DeployError when the bus is not there (before anything is created)."""
    try:
        events.describe_event_bus(Name=bus)
    except events.exceptions.ResourceNotFoundException:
        raise DeployError(
            f"event bus {bus!r} does not exist in this account and region: associate the Stax "
            "partner event source with a bus first (EventBridge console, Partner event sources)"
        ) from None


def _ensure_events_role(iam: Any, target: Target) -> str:
    return ensure_service_role(
        iam, target.events_role_name, events_trust_policy(target), events_policy(target),
        f"EventBridge starts the account baselines of {target.prefix}",
    )  # fmt: skip


def account_rules(events: Any, target: Target) -> list[tuple[str, str]]:
    """``(bus, rule)`` of every rule, on any bus, whose target is the stage's account
    baseline machine (so a changed ``--stax-event-bus`` leaves no rule behind)."""
    machine = target.state_machine_arn("account_baseline")
    found: list[tuple[str, str]] = []
    buses = [b["Name"] for b in events.list_event_buses().get("EventBuses", [])]
    for bus in buses:
        with contextlib.suppress(events.exceptions.ResourceNotFoundException):
            names = events.list_rule_names_by_target(TargetArn=machine, EventBusName=bus)
            found += [(bus, n) for n in names.get("RuleNames", [])]
    return found


def _store_file(s3: Any, target: Target, path: Path) -> str | None:
    from chalicelib.baselines.automatic import STORED_KEY

    stored = s3.put_object(
        Bucket=target.fleet_bucket,
        Key=STORED_KEY,
        Body=path.read_bytes(),
        ContentType="application/yaml",
    )
    return stored.get("VersionId")


def _ensure_drift(events: Any, lam: Any, target: Target, function_arn: str, schedule: str) -> None:
    ensure_lambda_rule(
        events, lam, target,
        rule={"Name": target.drift_rule_name, "ScheduleExpression": schedule,
              "Description": f"Checks Stax against the baselines of {target.prefix}"},
        rule_arn=target.drift_rule_arn, function_arn=function_arn,
        permission_id=DRIFT_PERMISSION_ID, target_id=DRIFT_TARGET_ID,
        target_input=json.dumps({"bucket": target.fleet_bucket}),
    )  # fmt: skip


def remove_baselining(aws: Any, target: Target) -> list[str]:
    """The rules (on any bus) and the events role; what was removed."""
    events, iam = aws.client("events"), aws.client("iam")
    removed = []
    for bus, name in account_rules(events, target):
        delete_rule(events, name, bus)
        removed.append(f"rule {name} on bus {bus}")
    with contextlib.suppress(events.exceptions.ResourceNotFoundException):
        delete_rule(events, target.drift_rule_name)
        removed.append(f"rule {target.drift_rule_name}")
    with contextlib.suppress(iam.exceptions.NoSuchEntityException):
        delete_role(iam, target.events_role_name)
        removed.append(f"role {target.events_role_name}")
    return removed


def ensure_baselining(
    aws: Any, target: Target, options: Baselining | None, function_arns: dict[str, str]
) -> list[str]:
    """Store the file, create or update the rules and the role (or remove them when
    ``options`` is None); one line per thing done, for the deploy's output.

    Raises:
        DeployError: the event bus does not exist.
    """
    if options is None:
        return [f"removed {line}" for line in remove_baselining(aws, target)]
    events, lam = aws.client("events"), aws.client("lambda")
    check_bus(events, options.bus)
    lines = []
    version = _store_file(aws.client("s3"), target, options.file)
    lines.append(f"stored {options.file} as version {version} of the stage's baselines")
    role_arn = _ensure_events_role(aws.client("iam"), target)
    for bus, name in account_rules(events, target):
        if (bus, name) != (options.bus, target.account_events_rule_name):
            delete_rule(events, name, bus)
            lines.append(f"removed rule {name} on bus {bus}")
    events.put_rule(
        Name=target.account_events_rule_name,
        EventBusName=options.bus,
        EventPattern=json.dumps(account_event_pattern(options.source)),
        State="ENABLED",
        Description=f"Stax account events start the account baselines of {target.prefix}",
    )
    events.put_targets(
        Rule=target.account_events_rule_name,
        EventBusName=options.bus,
        Targets=[{"Id": ACCOUNT_TARGET_ID, "Arn": target.state_machine_arn("account_baseline"),
                  "RoleArn": role_arn}],
    )  # fmt: skip
    lines.append(f"rule {target.account_events_rule_name} on bus {options.bus}")
    if options.drift_schedule:
        _ensure_drift(events, lam, target, function_arns[DRIFT_FUNCTION], options.drift_schedule)
        lines.append(f"rule {target.drift_rule_name}: {options.drift_schedule}")
    else:
        with contextlib.suppress(events.exceptions.ResourceNotFoundException):
            delete_rule(events, target.drift_rule_name)
            lines.append(f"removed rule {target.drift_rule_name}")
    return lines
