"""Parameters kept in SSM (``{ssm: NAME, secret: true}``): checked, shown ``(sensitive)``,
read only under the stage's own folder."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.baselines import InvalidBaselines, load_baselines
from chalicelib.baselines.planner import SENSITIVE, shown
from chalicelib.errors import InvalidWorkloadRequest, WorkloadParameterUnavailable
from chalicelib.secrets import SsmSecrets, secrets_prefix
from chalicelib.validation import load_validation_event

PREFIX = "/stax-orchestrator/dev/workload-parameters/"
FILE = """\
baselines:
  db:
    catalogue: rds
    version: latest
    parameters:
      DbPassword: {{ssm: {ref}, secret: true}}
      Plain: {{ssm: {ref}}}
      Cidr: 10.0.0.0/16
    targets:
      account_types: [production]
      regions: [us-east-1]
"""
REQUEST = {"operation": "create", "workload_name": "db-1", "aws_region": "us-east-1",
           "aws_account_id": "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11",
           "catalogue_id": "7e3f7d5c-2d0b-4f3a-8b68-1c8f8a0d3b22"}  # fmt: skip


def test_the_secrets_folder_sits_beside_the_stages_token() -> None:
    assert secrets_prefix("/stax-orchestrator/dev/stax-api-token/access-key") == PREFIX


def test_a_baseline_names_a_secret_by_its_ssm_parameter_and_keeps_only_that() -> None:
    [baseline] = load_baselines(FILE.format(ref=f"{PREFIX}db"), "f.yaml").baselines
    assert baseline.parameters == {"DbPassword": {"ssm": f"{PREFIX}db"},
                                   "Plain": {"ssm": f"{PREFIX}db"}, "Cidr": "10.0.0.0/16"}  # fmt: skip
    assert shown("DbPassword", baseline.parameters["DbPassword"]) == SENSITIVE
    assert shown("Cidr", "10.0.0.0/16") == "10.0.0.0/16"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("{secret: true, value: hunter2}", "a secret's value is not written in the file"),
        ("{secret: true}", "keep it in SSM Parameter Store"),
        (f"{{ssm: {PREFIX}db, secret: false}}", "always secret"),
        (f"{{ssm: {PREFIX}db, kms: x}}", "unknown key 'kms'"),
        ("{ssm: not-a-path}", "full path"),
    ],
)
def test_a_secret_written_in_the_file_or_misnamed_is_refused_by_line(value: str, says: str) -> None:
    text = FILE.replace("{{ssm: {ref}, secret: true}}", value).replace("{{ssm: {ref}}}", "x")
    with pytest.raises(InvalidBaselines) as refused:
        load_baselines(text, "f.yaml")
    report = refused.value.text()
    assert "line 6" in report and says in report, report
    assert "hunter2" not in report


def test_a_request_naming_another_stages_secret_is_refused_before_it_runs() -> None:
    request = {**REQUEST, "workload_parameters": {
        "Mine": {"ssm": f"{PREFIX}db"},
        "Theirs": {"ssm": "/stax-orchestrator/prod/workload-parameters/db"},
        "Token": {"ssm": "/stax-orchestrator/dev/stax-api-token/secret-key"}}}  # fmt: skip
    assert load_validation_event(request)["workload_parameters"]["Mine"] == {"ssm": f"{PREFIX}db"}
    with pytest.raises(InvalidWorkloadRequest) as refused:
        load_validation_event(request, PREFIX)
    assert set(refused.value.details["errors"]) == {
        "workload_parameters.Theirs", "workload_parameters.Token"}  # fmt: skip


def test_the_reader_reads_the_folder_only_and_names_what_it_cannot_read(aws: Any) -> None:
    ssm = aws.client("ssm")
    ssm.put_parameter(Name=f"{PREFIX}db", Value="hunter2", Type="SecureString")
    ssm.put_parameter(Name="/stax-orchestrator/dev/stax-api-token/secret-key", Value="T0k3n-v4lue",
                      Type="SecureString")  # fmt: skip
    read = SsmSecrets(lambda: ssm, PREFIX)
    assert read(f"{PREFIX}db") == "hunter2"
    for name in (f"{PREFIX}gone", "/stax-orchestrator/dev/stax-api-token/secret-key"):
        with pytest.raises(WorkloadParameterUnavailable) as refused:
            read(name)
        assert name in str(refused.value) and "T0k3n-v4lue" not in str(refused.value)
