"""The organisation and baselines file of the baselines contract tests, and builders of
the workloads a converged organisation holds (shared by ``test_contract_baselines`` and
``test_contract_account_baselines``; the ``gateway`` fixture is in conftest)."""

from __future__ import annotations

from typing import Any

from contract_support import (
    ACCOUNT_DEV,
    ACCOUNT_PROD,
    ACCOUNT_STAGING,
    CATALOGUE_SSM,
    CATALOGUE_VPC,
    SSM_V2,
    VPC_V1,
)

from chalicelib.baselines import BASELINE_TAG
from staxsim.control import SimulatorControl

PRODUCTION = "5a1b2c3d-0000-4000-8000-00000000a001"
DEVELOPMENT = "5a1b2c3d-0000-4000-8000-00000000a002"
TYPES = [{"Id": PRODUCTION, "Name": "production"}, {"Id": DEVELOPMENT, "Name": "development"}]
ACCOUNTS = [
    {"Id": ACCOUNT_DEV, "Name": "workloads-dev", "AwsAccountId": "111111111111",
     "AccountType": "development"},
    {"Id": ACCOUNT_STAGING, "Name": "workloads-staging", "AwsAccountId": "222222222222",
     "AccountType": "development"},
    {"Id": ACCOUNT_PROD, "Name": "workloads-prod", "AwsAccountId": "333333333333",
     "AccountType": "production"},
]  # fmt: skip
REGIONS = ("ap-southeast-2", "us-east-1")

FILE = """\
baselines:
  network:
    catalogue: baseline-vpc
    version: "1.0.0"
    workload_name: "{baseline}-{account}-{region}"
    parameters:
      VpcCidr: 10.0.0.0/16
    tags:
      CostCode: "1234"
    overrides:
      regions:
        us-east-1:
          parameters: {VpcCidr: 10.1.0.0/16}
    targets:
      account_types: [production]
      regions: [ap-southeast-2, us-east-1]
    max_concurrency: 2
  params:
    catalogue: ssm-parameters
    version: latest
    workload_name: "{baseline}-{account_short}-{region}"
    targets:
      account_types: [development]
      regions: [ap-southeast-2, us-east-1]
    failure_tolerance: "50%"
"""


def workload(wid: str, name: str, account: str, region: str, **extra: Any) -> dict[str, Any]:
    return {"Id": wid, "Name": name, "AccountId": account, "Region": region, **extra}


def network(account_id: str, region: str, wid: str, **extra: Any) -> dict[str, Any]:
    cidr = "10.1.0.0/16" if region == "us-east-1" else "10.0.0.0/16"
    body = {
        "CatalogueId": CATALOGUE_VPC,
        "CatalogueVersionId": VPC_V1,
        "Parameters": {"VpcCidr": cidr},
        "Tags": {"CostCode": "1234", BASELINE_TAG: "network"},
        **extra,
    }
    return workload(wid, f"network-workloads-prod-{region}", account_id, region, **body)


def params(account_id: str, region: str, wid: str, **extra: Any) -> dict[str, Any]:
    body = {"CatalogueId": CATALOGUE_SSM, "CatalogueVersionId": SSM_V2,
            "Tags": {BASELINE_TAG: "params"}, **extra}  # fmt: skip
    return workload(wid, f"params-{account_id[:8]}-{region}", account_id, region, **body)


def wid(n: int) -> str:
    return f"9e000000-0000-4000-8000-{n:012d}"


def converged(control: SimulatorControl) -> None:
    control.seed(
        workloads=[network(ACCOUNT_PROD, r, wid(i)) for i, r in enumerate(REGIONS)]
        + [
            params(a, r, wid(10 + 2 * j + i))
            for j, a in enumerate((ACCOUNT_DEV, ACCOUNT_STAGING))
            for i, r in enumerate(REGIONS)
        ]
    )
