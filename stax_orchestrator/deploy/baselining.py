"""Automatic baselining of a stage: ``deploy.sh --baselines FILE --stax-event-bus NAME``.

Role: the deploy's side of "a new account gets its baselines": the flags
(:func:`parse_options`), the stack parameters they set (the rule on the Stax event bus
that starts the account baseline machine for every successful account creation or
account type change, the role EventBridge starts it with, and the schedule of the drift
check are resources of the stage's template, ``cfn.baselining_resources``), and
:func:`store_file`, which stores the file in the stage's (versioned) bucket. A deploy
without ``--baselines`` sets the parameters empty and CloudFormation removes the rules
and the role (the stored file stays; its replaced versions expire after 90 days).

The rule matches on the event's source by prefix: Stax's events come from its partner
event source, ``aws.partner/stax.io/<installation>/...``, named per installation and
organisation, so the prefix ``aws.partner/stax.io`` (the default) matches any of them;
``--stax-event-source`` narrows or replaces it (the local stack's simulator sends
``stax.simulator``, since PutEvents refuses ``aws.`` sources to anyone but AWS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.baselines.account import ACCOUNT_EVENT_TYPES
from stax_orchestrator.deploy.names import DEFAULT_EVENT_SOURCE, Target
from stax_orchestrator.deploy.templates import DeployError

#: Stax's partner event sources all start so (the harsher reading of its documentation:
#: the rest of the name is the installation's and the organisation's, not fixed).
ACCOUNT_TARGET_ID = "account-baseline"
DRIFT_TARGET_ID = "baseline-drift"
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


def store_file(s3: Any, target: Target, bucket: str, path: Path) -> str | None:
    """Store the baselines file in the stage's bucket (owned by the caller's account:
    ``ExpectedBucketOwner``); its version id."""
    from chalicelib.baselines.automatic import STORED_KEY

    stored = s3.put_object(
        Bucket=bucket,
        Key=STORED_KEY,
        Body=path.read_bytes(),
        ContentType="application/yaml",
        ExpectedBucketOwner=target.account,
    )
    return stored.get("VersionId")


def stack_parameters(options: Baselining | None) -> dict[str, str]:
    """The stack parameters that switch automatic baselining on (empty values: off)."""
    if options is None:
        return {"StaxEventBusName": "", "BaselineDriftSchedule": ""}
    return {
        "StaxEventBusName": options.bus,
        "StaxEventSource": options.source,
        "BaselineDriftSchedule": options.drift_schedule or "",
    }
