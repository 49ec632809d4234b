"""Every log line of a Lambda is one JSON object that names its function and execution."""

from __future__ import annotations

import json
import logging
import pathlib
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib import logs
from chalicelib.errors import InvalidWorkloadRequest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
import app  # the project's own app.py, found through the path above

ROOT = pathlib.Path(__file__).resolve().parents[2]

CONTEXT = SimpleNamespace(aws_request_id="req-1234")


def event(name: str) -> Any:
    return json.loads((ROOT / "events" / name).read_text())


@pytest.fixture(autouse=True)
def fresh_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The logger as a new Lambda container has it: not configured yet."""
    logger = logging.getLogger(logs.LOGGER_NAME)
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers = []
    logger.setLevel(logging.NOTSET)
    logger.__dict__.pop("_stax_configured", None)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    yield
    logger.handlers, logger.propagate = saved[0], saved[2]
    logger.setLevel(saved[1])
    logger.__dict__.pop("_stax_configured", None)


def lines(captured: str) -> list[dict[str, Any]]:
    out = []
    for line in captured.splitlines():
        out.append(json.loads(line))  # every line is a whole JSON object
    return out


def test_validate_input_logs_the_execution_it_was_called_from(capsys: Any) -> None:
    sent = event("validate_input/from_workload_machine.json")
    assert app.validate_input(sent, CONTEXT) == {
        "operation": "delete",
        "workload_id": "b3437e3b-55e3-4060-9dec-042f18dcf789",
    }
    [line] = lines(capsys.readouterr().err)
    assert line["event"] == "validated"
    assert line["execution_arn"] == sent["execution_arn"]
    assert line["function"] == "validate_input"
    assert line["request_id"] == "req-1234"
    assert line["level"] == "INFO"


def test_a_bare_request_still_validates_and_logs_no_execution(capsys: Any) -> None:
    assert app.validate_input(event("validate_input/delete.json"), None)["operation"] == "delete"
    [line] = lines(capsys.readouterr().err)
    assert line["execution_arn"] is None


def test_a_refusal_is_logged_by_its_error_name_without_the_payload_values(capsys: Any) -> None:
    sent = {
        "request": {"operation": "create", "workload_name": "9-secret-value-here"},
        "execution_arn": "arn:aws:states:us-east-1:000000000000:execution:m:x",
    }
    with pytest.raises(InvalidWorkloadRequest):
        app.validate_input(sent, CONTEXT)
    [line] = lines(capsys.readouterr().err)
    assert line.pop("timestamp").endswith("+00:00")
    assert line == {
        "level": "ERROR",
        "function": "validate_input",
        "request_id": "req-1234",
        "execution_arn": sent["execution_arn"],
        "event": "invocation_failed",
        "error": "InvalidWorkloadRequest",
    }
    assert "secret-value" not in json.dumps(line)


def test_the_workload_writes_take_the_arn_the_machine_recorded() -> None:
    state = {**event("delete_workload.json"), "orchestration": {"execution_id": "arn:x:1"}}
    assert logs.execution_context(state) == {"execution_arn": "arn:x:1"}


def test_a_watcher_poll_names_the_watcher_and_the_workload_execution() -> None:
    sent = event("get_task_status_from_watcher.json")
    assert logs.execution_context(sent) == {
        "execution_arn": sent["execution_arn"],
        "parent_execution_arn": sent["execution_id"],
    }


def test_an_alert_names_the_execution_it_is_about() -> None:
    alert = json.loads((ROOT / "events/publish_alert/failed_create.json").read_text())
    assert logs.execution_context(alert)["execution_arn"] == alert["detail"]["executionArn"]


def test_lines_stay_whole_json_when_the_runtime_has_a_root_handler(capsys: Any) -> None:
    # The Lambda runtime's root handler prefixes level, time and request id: ours must not
    # go through it, or Logs Insights no longer sees JSON.
    root = logging.getLogger()
    prefixed = logging.StreamHandler(sys.stdout)
    prefixed.setFormatter(logging.Formatter("[%(levelname)s]\t%(message)s"))
    root.addHandler(prefixed)
    try:
        with logs.invocation("plan_fleet", {"execution_arn": "arn:x:2"}, CONTEXT):
            logs.log_event("planned", targets=3)
    finally:
        root.removeHandler(prefixed)
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = lines(captured.err)
    assert (line["event"], line["targets"], line["execution_arn"]) == ("planned", 3, "arn:x:2")


def test_log_level_warning_keeps_info_lines_out(
    capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "warning")
    with logs.invocation("plan_fleet", {}, None):
        logs.log_event("planned")
        logs.log_event("odd", logging.WARNING)
    assert [line["event"] for line in lines(capsys.readouterr().err)] == ["odd"]


def test_an_unknown_log_level_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "verbose")
    with pytest.raises(ValueError, match=r"LOG_LEVEL='VERBOSE' is not a level: use one of DEBUG"):
        logs.log_event("planned")


def test_the_lambda_function_name_comes_from_the_runtime(
    capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "stax-orchestrator-prod-validate_input")
    app.validate_input(event("validate_input/delete.json"), None)
    [line] = lines(capsys.readouterr().err)
    assert line["function"] == "stax-orchestrator-prod-validate_input"


def test_each_recorded_fleet_target_is_one_line_with_its_error_class_and_no_cause(
    aws: Any, capsys: Any
) -> None:
    from chalicelib.fleet import results
    from tests.unit.fleet_support import Cloud

    cloud = Cloud(aws)
    failed = {"fleet_id": "f", "item": {"index": 3, "target": {}, "execution_name": "f-3"},
              "status": "FAILED", "execution_arn": "arn:x:3",
              "failure": {"Error": "StaxTaskFailed", "Cause": "the secret-value said no"}}  # fmt: skip
    with logs.invocation("record_fleet_target", failed, CONTEXT):
        results.record_target(failed, cloud.store)
    [line] = lines(capsys.readouterr().err)
    assert (line["event"], line["index"], line["status"], line["error"]) == (
        "fleet_target_recorded", 3, "FAILED", "StaxTaskFailed")  # fmt: skip
    assert line["execution_arn"] == "arn:x:3"
    assert "secret-value" not in json.dumps(line)
