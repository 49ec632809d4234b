"""``plan|apply --baseline NAME --target ACCOUNT[/REGION]``: a plan narrowed to some of it.

Role: Terraform's ``-target`` for baselines. The plan is computed whole (the Stax state and
its fingerprint stay whole, so a saved narrowed plan is still refused when anything it read
changed), then only the changes of the named baselines and targets are kept: the totals,
the fleets an apply runs and the deletion budget follow. A name that matches nothing is an
error, never an empty plan that looks like "no change".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.baselines.errors import InvalidBaselines
from chalicelib.baselines.planner import totals


def _target(text: str) -> tuple[str, str | None]:
    account, _, region = text.partition("/")
    return account.strip().lower(), (region.strip() or None)


def _matches(change: Mapping[str, Any], account: str, region: str | None) -> bool:
    names = {
        str(change.get("account_id") or "").lower(),
        str(change.get("account_name") or "").lower(),
    }
    return account in names and (region is None or change.get("region") in (region, None))


def narrow(
    plan: Mapping[str, Any], baselines: Iterable[str] = (), targets: Iterable[str] = ()
) -> dict[str, Any]:
    """The plan limited to ``baselines`` (names) and ``targets`` (``ACCOUNT`` or
    ``ACCOUNT/REGION``, the account by Stax id or name); either empty: no limit.

    Raises:
        InvalidBaselines: a baseline the plan does not have, or a target no change is for.
    """
    names, wanted = list(baselines), [_target(t) for t in targets]
    if not names and not wanted:
        return dict(plan)
    problems = [
        {"path": f"--baseline {name}", "line": None,
         "message": f"the file has no baseline {name!r}; it has: "
                    f"{', '.join(sorted(plan['baselines'])) or 'none'}"}
        for name in names if name not in plan["baselines"]
    ]  # fmt: skip
    changes = [c for c in plan["changes"] if not names or c["baseline"] in names]
    if wanted:
        for account, region in wanted:
            if not any(_matches(c, account, region) for c in changes):
                where = f"{account}/{region}" if region else account
                problems.append({"path": f"--target {where}", "line": None,
                                 "message": "no target of the plan is in that account"
                                 + (" and region" if region else "")})  # fmt: skip
        changes = [c for c in changes if any(_matches(c, a, r) for a, r in wanted)]
    if problems:
        raise InvalidBaselines("The plan cannot be narrowed as asked", problems=problems)
    kept = {c["baseline"] for c in changes} | set(names)
    return {
        **plan,
        "changes": changes,
        "totals": totals(changes),
        "baselines": {k: v for k, v in plan["baselines"].items() if k in kept},
        "narrowed": {"baselines": names, "targets": list(targets)},
    }
