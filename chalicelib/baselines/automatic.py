"""Automatic baselining: the stage's stored baselines file applied to one account when
Stax announces it, and the scheduled drift check of the whole file.

Role: the use cases behind the ``plan_account_baselines`` Lambda (the first state of the
account baseline machine, started by the stage's EventBridge rule on the Stax event
bus) and the ``check_baseline_drift`` Lambda (the optional schedule). ``deploy.sh
--baselines FILE`` stores the file at :data:`STORED_KEY` in the stage's bucket, which is
versioned: each plan names the file version it read, so an alert or a log line says which
file decided. The file was validated when it was deployed; it is validated again here
(a hand upload must not half-apply).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.baselines.account import account_event, plan_account
from chalicelib.baselines.model import Baselines, load_baselines
from chalicelib.baselines.planner import compute_plan, has_changes
from chalicelib.baselines.source import read_bounded
from chalicelib.errors import BaselinesNotStored
from chalicelib.fleet.results import RESULT_DAYS
from chalicelib.logs import log_event
from chalicelib.secrets import Secrets, no_secrets

#: Where the stage keeps its baselines file (in the stage's bucket, versioned).
STORED_KEY = "baselines/baselines.yaml"
#: How many drifted targets an alert names (the counts are always complete).
DRIFT_EXAMPLES = 20
DRIFT_TITLE = "Stax Orchestrator: Stax has drifted from the baselines"
#: What plan_account_baselines returns (the account baseline machine reads these).
PLAN_FIELDS = ("account_id", "baselines", "changes", "fleets", "event_id", "run_prefix",
               "file_version", "expires_at")  # fmt: skip


def read_stored(
    s3: Any, bucket: str, owner: str, key: str = STORED_KEY
) -> tuple[Baselines, str | None]:
    """The stored baselines and the S3 version they were read at, from the bucket
    ``owner`` (this account) owns: a bucket of that name in another account is refused.

    Raises:
        BaselinesNotStored: no file at ``key`` (or no such bucket).
        InvalidBaselines: the stored file is not a valid baselines file.
    """
    from botocore.exceptions import ClientError

    try:
        got = s3.get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=owner)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("NoSuchKey", "NoSuchBucket", "404"):
            raise BaselinesNotStored(
                f"s3://{bucket}/{key} does not exist", bucket=bucket, key=key
            ) from None
        raise
    name = f"s3://{bucket}/{key}"
    # Untrusted until read: refused by its declared length before a byte enters the Lambda.
    text = read_bounded(got["Body"], int(got.get("ContentLength") or 0), name)
    return load_baselines(text, name), got.get("VersionId")


def plan_account_event(
    event: Mapping[str, Any], access: Any, s3: Any, owner: str, secrets: Secrets = no_secrets
) -> dict[str, Any]:
    """plan_account_baselines: the fleets that give the announced account its baselines.

    ``event``: ``{"account_event": <the EventBridge event>, "bucket", "event_source",
    "execution_name"}``; ``event_source`` is the stage's (the machine's definition sets it):
    an event from any other source is refused, whoever started the execution.
    Returns ``{"account_id", "baselines", "changes", "fleets", "event_id", "run_prefix",
    "file_version", "expires_at"}`` (:data:`PLAN_FIELDS`);
    ``fleets`` is empty when the account has every baseline (or none targets it).

    Raises:
        InvalidAccountEvent: not a successful Stax account event, or not from the stage's
            source.
        BaselinesNotStored, InvalidBaselines: as :func:`read_stored`.
        BaselineAccountNotVisible, BaselineConflict, StaxApiUnavailable: as
            :func:`~chalicelib.baselines.account.plan_account`.
    """
    source = event.get("account_event")
    account = account_event(source, str(event.get("event_source") or ""))
    baselines, version = read_stored(s3, str(event.get("bucket") or ""), owner)
    with access.session() as stax:
        planned = plan_account(stax, baselines, account, secrets=secrets)
    log_event(
        "account_baselines_planned",
        account_id=account.account_id,
        event_type=account.event_type,
        baselines=planned["baselines"],
        changes=len(planned["changes"]),
        fleets=len(planned["fleets"]),
        file_version=version,
    )
    return {
        "account_id": planned["account_id"],
        "baselines": planned["baselines"],
        # The changes without their requests: the fleets carry those (and parameters).
        "changes": [{k: v for k, v in c.items() if k != "requests"} for c in planned["changes"]],
        "fleets": planned["fleets"],
        "event_id": str((source or {}).get("id") or "") or None,
        "run_prefix": run_prefix(source, event.get("execution_name")),
        "file_version": version,
        # When the machine's records of the fleets it starts expire (DynamoDB's N, a string).
        "expires_at": str(int(time.time()) + RESULT_DAYS * 86_400),
    }


def run_prefix(source: Any, execution_name: Any) -> str:
    """The prefix of the fleets' execution names: the event's id (EventBridge may deliver
    an event twice; the second delivery's starts find the names taken -- StartExecution
    returns a running execution only when the input matches too, and the input holds the
    caller's execution id -- so it starts nothing), else this execution's name. Only the
    characters execution names allow, short enough for 80."""
    raw = str((source or {}).get("id") or execution_name or "")
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", raw)[:60]
    return f"baseline-{cleaned or 'event'}"


def drift_message(plan: Mapping[str, Any], file_version: str | None) -> dict[str, Any]:
    """The drift alert: totals and the first drifted targets, never a parameter value."""
    drifted = [c for c in plan["changes"] if c["action"] != "noop"]
    examples = [
        {k: c.get(k) for k in ("baseline", "action", "account", "region", "workload_name",
                               "reasons") if c.get(k) is not None}
        for c in drifted[:DRIFT_EXAMPLES]
    ]  # fmt: skip
    return {
        "title": DRIFT_TITLE,
        "totals": dict(plan["totals"]),
        "drifted": len(drifted),
        "examples": examples,
        "file_version": file_version,
        "hint": "Run `stax-orchestrator plan FILE --prune` to review, then `apply`.",
    }


def check_drift(
    event: Mapping[str, Any],
    access: Any,
    s3: Any,
    publish: Callable[..., Any],
    topic_arn: str,
    *,
    owner: str,
    secrets: Secrets = no_secrets,
) -> dict[str, Any]:
    """check_baseline_drift: plan the whole stored file (orphans included); alert when
    Stax differs from it.

    Raises:
        BaselinesNotStored, InvalidBaselines: as :func:`read_stored`.
        BaselineConflict, StaxApiUnavailable: as ``compute_plan``.
    """
    baselines, version = read_stored(s3, str(event.get("bucket") or ""), owner)
    with access.session() as stax:
        plan = compute_plan(stax, baselines, prune=True, secrets=secrets)
    drifted = has_changes(plan)
    log_event("baseline_drift_checked", drifted=drifted, totals=plan["totals"],
              file_version=version)  # fmt: skip
    if drifted:
        message = drift_message(plan, version)
        publish(
            TopicArn=topic_arn,
            Subject=DRIFT_TITLE[:100],
            Message=json.dumps(message, indent=2, default=str),
        )
    return {"drifted": drifted, "totals": plan["totals"], "file_version": version}
