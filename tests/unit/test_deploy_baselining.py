"""``deploy.sh --baselines``: the flags, the bus, the stored file (on moto) and the stack
parameters that switch the rules on and off (the rules themselves are the stage
template's: tests/unit/test_package.py evaluates them, the e2e tier deploys them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib.baselines.automatic import STORED_KEY
from stax_orchestrator.deploy import baselining, preflight
from stax_orchestrator.deploy.names import Target
from stax_orchestrator.deploy.templates import DeployError

FILE = """\
baselines:
  guard:
    catalogue: budget-guard
    version: latest
    workload_name: "{baseline}-{account}-{region}"
    targets:
      account_types: [sandbox]
      regions: [ap-southeast-2]
"""


@pytest.fixture()
def target(aws: Any) -> Target:
    return preflight.resolve_target("local", aws)


@pytest.fixture()
def baselines_file(tmp_path: Path) -> Path:
    path = tmp_path / "baselines.yaml"
    path.write_text(FILE)
    return path


def test_the_flags_come_together_and_the_file_is_validated_before_anything(
    baselines_file: Path,
) -> None:
    assert baselining.parse_options(None, None, None, None) is None
    with pytest.raises(DeployError, match="--stax-event-bus needs --baselines"):
        baselining.parse_options(None, "stax", None, None)
    with pytest.raises(DeployError, match="needs --stax-event-bus"):
        baselining.parse_options(str(baselines_file), None, None, None)
    with pytest.raises(DeployError, match="rate\\(1 day\\)"):
        baselining.parse_options(str(baselines_file), "stax", None, "every day")
    baselines_file.write_text(FILE.replace("regions: [ap-southeast-2]", "regions: 3"))
    with pytest.raises(DeployError, match=r"line 8: baselines\.guard\.targets\.regions"):
        baselining.parse_options(str(baselines_file), "stax", None, None)


def test_a_bus_that_is_not_there_is_refused_by_name(aws: Any) -> None:
    with pytest.raises(DeployError, match="event bus 'stax-missing' does not exist"):
        baselining.check_bus(aws.client("events"), "stax-missing")


def test_the_stored_file_keeps_its_history_and_names_the_owner_it_expects(
    aws: Any, target: Target, baselines_file: Path
) -> None:
    s3 = aws.client("s3")
    bucket = "stage-bucket"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    calls: list[dict[str, Any]] = []
    s3.meta.events.register("provide-client-params.s3.PutObject",
                            lambda params, **_: calls.append(dict(params)))  # fmt: skip
    baselining.store_file(s3, target, bucket, baselines_file)
    baselines_file.write_text(FILE.replace("latest", "1.0.0"))
    baselining.store_file(s3, target, bucket, baselines_file)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=STORED_KEY)
    assert len(versions["Versions"]) == 2  # the history stays
    assert b"1.0.0" in s3.get_object(Bucket=bucket, Key=STORED_KEY)["Body"].read()
    assert {call["ExpectedBucketOwner"] for call in calls} == {target.account}


def test_no_baselines_flag_switches_the_stacks_baselining_off() -> None:
    assert baselining.stack_parameters(None) == {"StaxEventBusName": "",
                                                 "BaselineDriftSchedule": ""}  # fmt: skip
    on = baselining.Baselining(Path("b.yaml"), "stax", "stax.simulator", "rate(1 day)")
    assert baselining.stack_parameters(on) == {"StaxEventBusName": "stax",
                                               "StaxEventSource": "stax.simulator",
                                               "BaselineDriftSchedule": "rate(1 day)"}  # fmt: skip
