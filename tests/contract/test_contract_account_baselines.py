"""Automatic baselining against the strict simulator: the Lambdas' use cases with the real
SDK, the stored file in (moto) S3, as the account baseline machine and the drift
schedule call them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from baselines_support import FILE, REGIONS, converged, network
from contract_support import ACCOUNT_PROD
from moto import mock_aws

from chalicelib.baselines.automatic import (
    STORED_KEY,
    check_drift,
    plan_account_event,
    run_prefix,
)
from chalicelib.errors import BaselineAccountNotVisible, BaselinesNotStored
from chalicelib.stax import StaxGateway
from staxsim.control import SimulatorControl

BUCKET = "stax-orchestrator-test-000000000000-us-east-1"
OWNER = "123456789012"  # moto's account owns the bucket
NEW = "6f000000-0000-4000-8000-0000000000bb"


class Access:
    """The Lambda's StaxAccess, holding the gateway to the simulator."""

    def __init__(self, gateway: StaxGateway) -> None:
        self.gateway = gateway

    @contextlib.contextmanager
    def session(self) -> Iterator[StaxGateway]:
        yield self.gateway


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def store(s3: Any, text: str = FILE) -> str:
    return str(s3.put_object(Bucket=BUCKET, Key=STORED_KEY, Body=text.encode())["VersionId"])


SAMPLE = json.loads(
    (Path(__file__).parents[2] / "events/account_baseline/account_create_event.json").read_text()
)


def event_for(account_id: str, **detail: Any) -> dict[str, Any]:
    """The sample EventBridge event (Stax's documented shape) about ``account_id``."""
    body = {**SAMPLE, "detail": {**SAMPLE["detail"], "accountId": account_id, **detail}}
    return {
        "account_event": body,
        "bucket": BUCKET,
        "event_source": "aws.partner/stax.io",
        "execution_name": "exec-1",
    }


def test_an_account_event_plans_the_stored_file_for_that_account_alone(
    gateway: StaxGateway, control: SimulatorControl, s3: Any
) -> None:
    converged(control)
    store(s3, FILE.replace("CostCode", "Cost"))  # an older version: not the one read
    version = store(s3)
    control.seed(accounts=[{"Id": NEW, "Name": "workloads-new", "AwsAccountId": "444444444444",
                            "AccountType": "production"}])  # fmt: skip
    planned = plan_account_event(event_for(NEW), Access(gateway), s3, OWNER)
    assert planned["file_version"] == version
    assert sorted((c["action"], c["workload_name"]) for c in planned["changes"]) == [
        ("create", f"network-workloads-new-{r}") for r in REGIONS
    ]
    assert all("requests" not in c for c in planned["changes"])  # parameters ride the fleets
    (fleet,) = planned["fleets"]
    assert fleet["baseline"] == "network"
    assert {t["aws_account_id"] for t in fleet["request"]["targets"]} == {NEW}
    assert planned["run_prefix"] == f"baseline-{SAMPLE['id']}"


def production_accounts(first: int, count: int) -> dict[str, list[dict[str, Any]]]:
    """``count`` production accounts, each with its two network workloads in place."""
    accounts = [
        {"Id": f"6a000000-0000-4000-8000-{n:012d}", "Name": f"prod-{n}",
         "AwsAccountId": f"{500_000_000_000 + n}", "AccountType": "production"}
        for n in range(first, first + count)
    ]  # fmt: skip
    workloads = [
        {**network(a["Id"], region, f"9f000000-0000-4000-8000-{2 * n + i:012d}"),
         "Name": f"network-{a['Name']}-{region}"}
        for n, a in enumerate(accounts, start=first)
        for i, region in enumerate(REGIONS)
    ]  # fmt: skip
    return {"accounts": accounts, "workloads": workloads}


def test_an_account_event_costs_as_many_stax_calls_at_300_accounts_as_at_10(
    gateway: StaxGateway, control: SimulatorControl, s3: Any
) -> None:
    store(s3)
    calls: dict[int, int] = {}
    for first, count in ((0, 10), (10, 290)):
        control.seed(**production_accounts(first, count))
        new = f"6b000000-0000-4000-8000-{first + count:012d}"
        control.seed(accounts=[{"Id": new, "Name": f"new-{first}", "AwsAccountId": "444444444444",
                                "AccountType": "production"}])  # fmt: skip
        control.clear_requests()
        planned = plan_account_event(event_for(new), Access(gateway), s3, OWNER)
        assert [c["action"] for c in planned["changes"]] == ["create", "create"]
        calls[first + count] = len(control.requests())
    # The account's own: catalogue, account types, the account, its workloads -- not the
    # organisation's 600 workloads read one by one.
    assert calls[10] == calls[300] <= 6, calls  # 26 and 614 when it planned them all


def test_an_account_already_baselined_gets_no_fleet(
    gateway: StaxGateway, control: SimulatorControl, s3: Any
) -> None:
    converged(control)
    store(s3)
    planned = plan_account_event(event_for(ACCOUNT_PROD), Access(gateway), s3, OWNER)
    assert planned["fleets"] == [] and {c["action"] for c in planned["changes"]} == {"noop"}


def test_an_account_stax_does_not_list_yet_is_refused_by_name_so_the_machine_retries(
    gateway: StaxGateway, s3: Any
) -> None:
    store(s3)
    with pytest.raises(BaselineAccountNotVisible) as refused:
        plan_account_event(event_for(NEW), Access(gateway), s3, OWNER)
    assert refused.value.details["account_id"] == NEW


def test_an_account_of_a_type_no_baseline_targets_gets_nothing(
    gateway: StaxGateway, s3: Any
) -> None:
    store(s3)
    planned = plan_account_event(event_for(NEW, accountType="sandbox"), Access(gateway), s3, OWNER)
    assert planned["fleets"] == [] and planned["changes"] == []


def test_a_stage_without_a_stored_file_fails_by_name(gateway: StaxGateway, s3: Any) -> None:
    with pytest.raises(BaselinesNotStored) as refused:
        plan_account_event(event_for(NEW), Access(gateway), s3, OWNER)
    assert "--baselines" in refused.value.hint


def test_fleet_names_follow_the_event_so_a_second_delivery_starts_none() -> None:
    assert run_prefix({"id": "a/b c"}, "exec") == "baseline-a-b-c"
    assert run_prefix({}, "exec-9") == "baseline-exec-9"
    assert len(run_prefix({"id": "x" * 200}, None)) + len("-999") <= 80


def test_the_drift_check_alerts_only_when_stax_differs_and_never_with_values(
    gateway: StaxGateway, control: SimulatorControl, s3: Any
) -> None:
    converged(control)
    store(s3)
    sent: list[dict[str, Any]] = []
    quiet = check_drift(
        {"bucket": BUCKET}, Access(gateway), s3, lambda **m: sent.append(m), "t", owner=OWNER
    )
    assert quiet["drifted"] is False and sent == []
    # The file now asks for one more region than Stax has.
    store(
        s3,
        FILE.replace(
            "regions: [ap-southeast-2, us-east-1]",
            "regions: [ap-southeast-2, us-east-1, eu-west-1]",
            1,
        ),
    )
    loud = check_drift(
        {"bucket": BUCKET}, Access(gateway), s3, lambda **m: sent.append(m), "t", owner=OWNER
    )
    assert loud["drifted"] is True and loud["totals"]["create"] == 1
    (alert,) = sent
    message = json.loads(alert["Message"])
    assert message["drifted"] == 1 and message["examples"][0]["action"] == "create"
    assert "10.0.0.0/16" not in alert["Message"]  # a parameter value never travels
