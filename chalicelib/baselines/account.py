"""The baselines of one account: what a new account (or one moved to another account
type) must get, as one ``apply`` fleet request.

Role: the use case of the per-account baseline (started by a Stax account event:
``AccountManagement: AccountCreateEvent`` / ``AccountUpdateEvent`` with status SUCCESS).
:func:`account_event` reads the event in Stax's documented shape (``detail.accountId``,
``detail.accountType``, ``detail.awsAccountId``, ``detail.status``);
:func:`plan_account` plans the baselines that target the account -- by its type (name
or id) or by its name or id -- with the same planner as ``stax-orchestrator plan``, and
keeps that account's changes only. Nothing is pruned: an event says what an account
*is*, not what it stopped being, so deletes stay a person's ``apply --prune``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.baselines.model import Baselines
from chalicelib.baselines.planner import compute_plan
from chalicelib.baselines.saved import fleets
from chalicelib.errors import BaselineAccountNotVisible, InvalidWorkloadRequest
from chalicelib.secrets import Secrets, no_secrets

ACCOUNT_EVENT_TYPES = (
    "AccountManagement: AccountCreateEvent",
    "AccountManagement: AccountUpdateEvent",
)


class InvalidAccountEvent(InvalidWorkloadRequest):
    """The event is not a successful Stax account event; ``details["errors"]`` as usual."""

    hint = "Route only Stax AccountCreateEvent / AccountUpdateEvent with status SUCCESS here."


@dataclass(frozen=True)
class AccountEvent:
    account_id: str
    account_type: str | None
    aws_account_id: str | None
    event_type: str
    account_name: str | None = None


def account_event(event: Any, source: str) -> AccountEvent:
    """The account an EventBridge event from Stax is about.

    Stax documents the fields in camelCase under ``detail``; the type may be missing (an
    account of no type gets no baseline by type). The harsher reading: anything but
    ``status: SUCCESS`` is refused -- a failed creation has no account to baseline.

    ``source``: the stage's event source (a prefix, as the rule matches it). The rule
    already filters, but the account baseline machine can be started by anyone allowed to,
    with any input: the Lambda checks again.

    Raises:
        InvalidAccountEvent: not an object, from another source, another detail-type, not
            SUCCESS, no accountId.
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(event, Mapping):
        raise InvalidAccountEvent(
            "The account event is not an object",
            errors={"_schema": ["must be an EventBridge event"]},
        )
    detail = event.get("detail")
    kind = event.get("detail-type")
    origin = event.get("source")
    if not source or not isinstance(origin, str) or not origin.startswith(source):
        errors["source"] = [
            f"is {str(origin)[:80]!r}; only events from {source or '(no source configured)'!r} "
            "are baselined"
        ]
    if kind not in ACCOUNT_EVENT_TYPES:
        errors["detail-type"] = [f"must be one of: {', '.join(ACCOUNT_EVENT_TYPES)}"]
    if not isinstance(detail, Mapping):
        errors["detail"] = ["must be an object with accountId, accountType, status"]
        detail = {}
    if detail.get("status") != "SUCCESS":
        errors["detail.status"] = [
            f"is {detail.get('status')!r}; only SUCCESS events are baselined"
        ]
    account_id = detail.get("accountId")
    if not isinstance(account_id, str) or not account_id:
        errors["detail.accountId"] = ["is required: the Stax account id"]
    if errors:
        raise InvalidAccountEvent(f"The account event has {len(errors)} problem(s)", errors=errors)
    account_type = detail.get("accountType")
    aws_account_id = detail.get("awsAccountId")
    account_name = detail.get("accountName")
    return AccountEvent(
        account_id=str(account_id).lower(),
        account_type=str(account_type) if account_type else None,
        aws_account_id=str(aws_account_id) if aws_account_id else None,
        event_type=str(kind),
        account_name=str(account_name) if account_name else None,
    )


def _for_account(
    baselines: Baselines, account: AccountEvent, account_name: str | None
) -> Baselines:
    """The baselines that can target this account: those that target account types (the
    account's type *now*, as Stax reports it, decides -- the event may name the type by
    name or id, or be older than a later move), and those that name it."""
    chosen = []
    for baseline in baselines.baselines:
        named = [
            a for a in baseline.accounts if a.lower() == account.account_id or a == account_name
        ]
        if baseline.account_types or named:
            chosen.append(replace(baseline, accounts=named[:1]))
    return replace(baselines, baselines=chosen)


def _expected(plan: Mapping[str, Any], relevant: Baselines, account: AccountEvent) -> bool:
    """Whether Stax should list the account for these baselines: it is named by one, or
    the event's type (a name or an id) is one the baselines target."""
    if any(b.accounts for b in relevant.baselines):
        return True
    if not account.account_type:
        return False
    wanted = {t for b in relevant.baselines for t in b.account_types}
    for key, record in plan["state"].items():
        if key.startswith("account_type:"):
            type_id = key.removeprefix("account_type:")
            if account.account_type in (type_id, record.get("Name")) and (
                type_id in wanted or record.get("Name") in wanted
            ):
                return True
    return account.account_type in wanted


def plan_account(
    stax: Any,
    baselines: Baselines,
    account: AccountEvent,
    account_name: str | None = None,
    secrets: Secrets = no_secrets,
) -> dict[str, Any]:
    """The plan of the baselines that target ``account``, reduced to that account, and
    the ``apply`` fleet requests that carry it out (deletes never: no prune).

    Raises:
        BaselineAccountNotVisible: the event's type is baselined (or the account is
            named) but Stax does not list the account there: read-after-write lag, or
            the account moved on. Retried by the state machine.
        InvalidBaselines, BaselineConflict, StaxApiUnavailable: as ``compute_plan``.
    """
    name = account_name or account.account_name
    relevant = _for_account(baselines, account, name)
    empty = {"account_id": account.account_id, "changes": [], "fleets": [], "baselines": []}
    if not relevant.baselines:
        return empty
    # That account alone: its calls to Stax do not grow with the organisation.
    plan = compute_plan(stax, relevant, prune=False, secrets=secrets, account_id=account.account_id)
    if f"account:{account.account_id}" not in {k.lower() for k in plan["state"]}:
        if _expected(plan, relevant, account):
            raise BaselineAccountNotVisible(
                f"Stax announced account {account.account_id} ({account.event_type}, type "
                f"{account.account_type!r}) but does not list it for the baselines",
                account_id=account.account_id,
                account_type=account.account_type,
            )
        return {**empty, "fingerprint": plan["fingerprint"]}
    changes = [c for c in plan["changes"] if c.get("account_id") == account.account_id]
    mine = {**plan, "changes": changes}
    return {
        "account_id": account.account_id,
        "baselines": [b.name for b in relevant.baselines],
        "changes": changes,
        "fleets": fleets(mine),
        "fingerprint": plan["fingerprint"],
    }
