"""The CLI prints what users wrote as it is: rich markup in a key, name or cause is text."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from stax_orchestrator import cli, fleet_view
from stax_orchestrator.commands_workload import report
from stax_orchestrator.console import EXIT_FAILED, EXIT_INVALID, EXIT_OK, Output, literal
from stax_orchestrator.follow import Progress

ACCOUNT = "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11"
CATALOGUE = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00"


def write(tmp_path: Path, payload: Any, name: str = "payload.json") -> str:
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return str(path)


def create(**changes: Any) -> dict[str, Any]:
    return {
        "operation": "create",
        "aws_account_id": ACCOUNT,
        "aws_region": "ap-southeast-2",
        "catalogue_id": CATALOGUE,
        "workload_name": "demo-vpc",
        **changes,
    }


def test_run_prints_a_tag_key_that_looks_like_markup_literally_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = create(workload_tags={"[/x]": 1, "[bold]": 2, ":smile:": 3})
    code = cli.main(["run", write(tmp_path, payload)])
    out = capsys.readouterr().err
    assert code == EXIT_INVALID == 2
    assert "workload_tags.[/x]: value must be a string, not a number" in out
    assert "workload_tags.[bold]: value must be a string" in out
    assert "workload_tags.:smile:: value must be a string" in out
    assert "The workload request has 3 problems: workload_tags.[/x], workload_tags.[bold]" in out
    assert "Nothing was started." in out


def test_run_with_json_output_keeps_the_key_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["run", "--json", write(tmp_path, create(workload_tags={"[/x]": 1}))])
    body = json.loads(capsys.readouterr().err)
    assert code == 2
    assert body["status"] == "INVALID"
    assert list(body["errors"]) == ["workload_tags.[/x]"]


def test_run_refuses_a_parameter_name_with_a_hyphen_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["run", write(tmp_path, create(workload_parameters={"vpc-cidr": "x"}))])
    assert code == 2
    assert "workload_parameters.vpc-cidr: key must be alphanumeric" in capsys.readouterr().err


def test_run_refuses_json_nested_too_deeply_for_python_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[" * 100_000 + "]" * 100_000, "deep.json")
    code = cli.main(["run", path])
    out = capsys.readouterr().err
    assert code == 2
    assert f"error: {path} is nested too deeply to read as JSON" in out


def test_run_refuses_json_nested_too_deeply_for_the_rules_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep: Any = "x"
    for _ in range(200):  # Python reads it; the validation refuses it
        deep = [deep]
    code = cli.main(["run", write(tmp_path, create(workload_parameters={"Subnets": deep}))])
    out = capsys.readouterr().err
    assert code == 2
    assert "workload_parameters.Subnets: is nested too deeply" in out


def test_fleet_run_prints_markup_in_keys_literally_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = {
        "operation": "create",
        "catalogue_id": CATALOGUE,
        "workload_name": "w{index}x",
        "workload_tags": {"[/x]": 1},
        "targets": [{"aws_account_id": ACCOUNT, "aws_region": "ap-southeast-2"}],
    }
    code = cli.main(["fleet", "run", write(tmp_path, request)])
    out = capsys.readouterr().err
    assert code == 2
    assert "✘ invalid fleet request: The fleet request has 1 problem: workload_tags.[/x]." in out
    assert "workload_tags.[/x]: value must be a string" in out


def test_fleet_run_refuses_json_nested_too_deeply_for_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, '{"targets": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert cli.main(["fleet", "run", path]) == 2
    assert "is nested too deeply to read as JSON" in capsys.readouterr().err


def test_a_failed_executions_report_prints_names_errors_and_causes_literally() -> None:
    cause = {
        "error": "InvalidWorkloadRequest",
        "message": "The workload request has 1 problem: workload_tags.[/x].",
        "errors": {"workload_tags.[/x]": ["value must be a string"]},
    }
    progress = Progress(
        execution_arn="arn:aws:states:us-east-1:0:execution:workload:run-1",
        status="FAILED",
        operation="create",
        workload_name="[bold]demo",
        error="[/x]",
        cause=json.dumps(cause),
        logs_tail=["[red]stack failed[/red]"],
    )
    stream = io.StringIO()
    assert report(progress, Output(False, stream)) == EXIT_FAILED
    text = stream.getvalue()
    assert "✘ create FAILED after" in text and ": [/x]" in text
    assert "message: The workload request has 1 problem: workload_tags.[/x]." in text
    assert '"workload_tags.[/x]"' in text
    assert "[red]stack failed[/red]" in text


def test_escape_sequences_from_stax_never_reach_the_terminal() -> None:
    # A task log line or workload name can retitle the window, clear the screen or
    # rewrite earlier lines with escape sequences: none is printed, the text is.
    progress = Progress(
        execution_arn="arn:aws:states:us-east-1:0:execution:workload:run-1",
        status="FAILED",
        operation="create",
        workload_name="demo\x1b]0;owned\x07-vpc",
        error="WorkloadTaskFailed",
        cause="boom\x1b[2J\x1b[1A\rcleared",
        logs_tail=["\x1b[31mstack failed\x1b[0m\x08\x9b2K"],
    )
    stream = io.StringIO()
    report(progress, Output(False, stream))
    text = stream.getvalue()
    assert "\x1b" not in text and "\x9b" not in text and "\r" not in text and "\x08" not in text
    assert "stack failed" in text and "boomcleared" in text


def test_a_cause_that_is_not_json_is_printed_literally() -> None:
    progress = Progress(execution_arn="arn", status="FAILED", cause="boom [/x] [bold]")
    stream = io.StringIO()
    report(progress, Output(False, stream))
    assert "boom [/x] [bold]" in stream.getvalue()


def test_a_succeeded_report_prints_the_workload_name_literally() -> None:
    progress = Progress(execution_arn="arn", status="SUCCEEDED", operation="create",
                        workload_name="[/x]")  # fmt: skip
    stream = io.StringIO()
    assert report(progress, Output(False, stream)) == EXIT_OK
    assert "[/x]" in stream.getvalue()


def test_errors_and_plain_lines_are_not_read_as_markup_and_errors_go_to_stderr() -> None:
    stream, errors = io.StringIO(), io.StringIO()
    out = Output(False, stream, errors)
    out.error("cannot read [/x].json")
    out.say("started [bold]create[/bold]")
    assert stream.getvalue() == "started [bold]create[/bold]\n"
    assert errors.getvalue() == "error: cannot read [/x].json\n"


def test_the_fleet_results_and_failures_print_target_names_and_errors_literally() -> None:
    result = {"index": 0, "target": {"workload_name": "[/x]"}, "status": "FAILED",
              "error": "[bold]Boom", "cause": {"message": "[red]why"}}  # fmt: skip
    stream = io.StringIO()
    out = Output(False, stream)
    out.console.print(fleet_view.results_table([result], "fleet [/x]"))
    out.console.print(fleet_view.failure_markup(result))
    text = stream.getvalue()
    assert "[/x]" in text and "[bold]Boom: [red]why" in text and "fleet [/x]" in text


def test_literal_leaves_ordinary_text_alone() -> None:
    assert literal("demo-vpc") == "demo-vpc"
    assert literal(None) == "None"
