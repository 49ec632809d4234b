"""Unit-tier guards and the one moto set-up.

``.chalice/deployed`` holds what ``make deploy-local`` recorded; a unit test that deletes or
rewrites it breaks the next e2e run, bench or demo far from the cause (it happened: a
teardown test once deleted the ``local`` stage's records).

``aws`` (moto, in ``tests/conftest.py``) is the unit tier's AWS; a file's own fixtures (a
store on the table, a bucket, a bus) are built on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

DEPLOYED = Path(__file__).resolve().parents[2] / ".chalice" / "deployed"


def _snapshot() -> dict[str, bytes]:
    if not DEPLOYED.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in sorted(DEPLOYED.glob("*.json"))}


@pytest.fixture(autouse=True)
def deployment_records_untouched() -> Iterator[None]:
    before = _snapshot()
    yield
    assert _snapshot() == before, "a unit test changed .chalice/deployed"


@pytest.fixture(autouse=True)
def no_local_stack_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit tier never reaches the local stack: ``make test`` runs it with the stack's
    environment, and moto only intercepts calls to AWS's own endpoints (a call to
    ``AWS_ENDPOINT_URL`` would go to MiniStack instead)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.delenv(name, raising=False)
