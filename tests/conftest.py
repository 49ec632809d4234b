"""Per-tier time limits (pytest-timeout): a hung test fails by name, not by eating CI's budget.

The limits are generous ceilings, not speed goals (speed lives in ``bench/``): a unit or
contract test gets 30 s, an end-to-end test 300 s — fixture set-up included, so the first
test to need the deployed stage carries the deploy. A test that legitimately runs longer
says so with its own ``@pytest.mark.timeout(SECONDS)``, which wins.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TIER_LIMITS = {"unit": 30.0, "contract": 30.0, "e2e": 300.0}
#: The first test that needs the session's deployed stage carries its set-up
#: (``./deploy.sh --stage local``, a few minutes on 2 cores): it may take this much longer.
DEPLOY_ALLOWANCE = 600.0


def _tier(item: pytest.Item) -> str | None:
    parts = Path(str(item.path)).parts
    return next((tier for tier in TIER_LIMITS if tier in parts), None)


@pytest.hookimpl(trylast=True)  # after the tiers' own hooks have ordered the items
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    deploy_paid = False
    for item in items:
        tier = _tier(item)
        if tier is None or item.get_closest_marker("timeout"):
            continue
        limit = TIER_LIMITS[tier]
        if not deploy_paid and "deployed" in getattr(item, "fixturenames", ()):
            limit, deploy_paid = limit + DEPLOY_ALLOWANCE, True
        item.add_marker(pytest.mark.timeout(limit))
