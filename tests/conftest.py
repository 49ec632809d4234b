"""What every tier shares: time limits per tier, and moto's AWS for the unit and contract tiers.

Time limits (pytest-timeout): a hung test fails by name, not by eating CI's budget.

The limits are generous ceilings, not speed goals (speed lives in ``bench/``): a unit or
contract test gets 30 s, an end-to-end test 300 s — fixture set-up included, so the first
test to need the deployed stage carries the deploy. A test that legitimately runs longer
says so with its own ``@pytest.mark.timeout(SECONDS)``, which wins.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler

#: moto's region (its account is 123456789012).
MOTO_REGION = "us-east-1"

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


@pytest.fixture(scope="session")
def boto_session() -> boto3.session.Session:
    """One session for moto's clients (it caches the service models they load), built
    without the caller's AWS profile."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_PROFILE", raising=False)
        return boto3.session.Session(
            region_name=MOTO_REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )


@pytest.fixture
def aws(
    monkeypatch: pytest.MonkeyPatch, boto_session: boto3.session.Session
) -> Iterator[boto3.session.Session]:
    """moto's AWS, and nothing of the caller's: ``make test`` runs every tier with the local
    stack's environment, and moto only intercepts AWS's own endpoints (a call to
    ``AWS_ENDPOINT_URL`` would go to MiniStack instead); no profile, region or session
    token of the caller leaks in. Code that builds its own clients gets moto too."""
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", MOTO_REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(DynamoHandler, "call_action", _one_at_a_time(DynamoHandler.call_action))
    with mock_aws():
        yield boto_session


def _one_at_a_time(call_action: Any) -> Any:
    """moto's DynamoDB answering one request at a time.

    DynamoDB applies every write, its condition checked, atomically ("Condition
    expressions", DynamoDB Developer Guide: a conditional write succeeds only if the
    condition holds when it is applied); moto does not lock, so two conditional writes
    racing on threads could both pass, and a test of racing writers (the claim of a name,
    the account baselines' slots) would fail or pass by luck. Callers still interleave
    freely between requests.
    """
    lock = threading.Lock()

    @functools.wraps(call_action)
    def atomic(self: DynamoHandler) -> Any:
        with lock:
            return call_action(self)

    return atomic
