"""The parts of the CLI a person meets first: the parser, its help, what reaches the
terminal, and how ``watch`` reads an execution's history (only what is new at each look)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
from typing import Any

import pytest

from stax_orchestrator import __version__, cli
from stax_orchestrator.console import configure_logging
from stax_orchestrator.follow import FINAL_STATUSES, HistoryReader, follow

PARENT = "arn:aws:states:us-east-1:123456789012:execution:stax-orchestrator-unit-workload:op"
CHILD = "arn:aws:states:us-east-1:123456789012:execution:stax-orchestrator-unit-task-watcher:w"


# -- the parser and its help ---------------------------------------------------------
def every_parser(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(parser.prog, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found.extend(every_parser(sub))
    return found


def test_no_help_page_shows_docstring_markup() -> None:
    """Descriptions come from text written for a terminal, not from RST docstrings:
    ``stax-orchestrator`` or :mod:`x` would print as it is written."""
    pages = every_parser(cli.build_parser())
    assert len(pages) > 15  # every command, and the commands of every group
    for prog, parser in pages:
        text = parser.format_help()
        assert "``" not in text, prog
        assert not re.search(r":(mod|class|func|meth|attr):`", text), prog


def test_version_is_the_packages_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.build_parser().parse_args(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"stax-orchestrator {__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        ["--local", "--json", "--aws-region", "eu-west-1", "--stage", "s", "list"],
        ["list", "--local", "--json", "--aws-region", "eu-west-1", "--stage", "s"],
        ["--local", "list", "--json", "--aws-region", "eu-west-1", "--stage", "s"],
    ],
)
def test_global_options_count_before_or_after_the_command(argv: list[str]) -> None:
    options = cli.options_of(cli.build_parser().parse_args(argv))
    assert (options.local, options.aws_region, options.stage) == (True, "eu-west-1", "s")


def test_a_workloads_region_is_not_the_aws_region_of_the_stage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(cli.STAGE_VARIABLE, raising=False)
    argv = ["create", "--account-id", "a", "--region", "ap-southeast-2", "--catalogue-id", "c",
            "--name", "n", "--aws-region", "eu-west-1"]  # fmt: skip
    args = cli.build_parser().parse_args(argv)
    assert args.region == "ap-southeast-2"
    assert cli.options_of(args).aws_region == "eu-west-1"
    assert cli.options_of(cli.build_parser().parse_args(["list"])).stage == "dev"
    assert cli.options_of(cli.build_parser().parse_args(["list", "--local"])).stage == "local"


def test_the_stage_variable_chooses_the_stage_when_no_option_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def stage(*argv: str) -> str:
        return cli.options_of(cli.build_parser().parse_args(["list", *argv])).stage

    monkeypatch.setenv("STAX_ORCHESTRATOR_STAGE", "team-b")
    assert stage() == "team-b"
    assert stage("--stage", "prod") == "prod"  # an option wins over the environment
    assert stage("--local") == "local"


def test_a_stage_variable_that_cannot_name_a_stage_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STAX_ORCHESTRATOR_STAGE", "Prod Stage")
    with pytest.raises(cli.CliError, match="STAX_ORCHESTRATOR_STAGE: bad stage name") as error:
        cli.options_of(cli.build_parser().parse_args(["list"]))
    assert error.value.code == 2


# -- what reaches the terminal ---------------------------------------------------------
def emit_like_the_lambdas() -> None:
    """What chalicelib does in-process when the CLI runs it (e.g. `catalogue list`
    building its Stax client), and a library's warning (urllib3 retrying)."""
    from chalicelib.logs import log_event

    log_event("stax_client_built", region="au1")
    logging.getLogger("urllib3.connectionpool").warning("Retrying (Retry(total=2)) after ...")


def test_log_events_stay_off_the_terminal_without_verbose(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(verbose=False)
    emit_like_the_lambdas()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_shows_log_events_on_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        configure_logging(verbose=True)
        emit_like_the_lambdas()
        captured = capsys.readouterr()
    finally:
        configure_logging(verbose=False)
    assert captured.out == ""  # --json on stdout stays parsable
    assert '"event": "stax_client_built"' in captured.err
    assert "Retrying" in captured.err


def test_main_keeps_the_log_events_behind_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    """Through the entry point: --version exits before any command, so a bad option is
    used as the command that runs after logging is configured."""
    assert cli.main(["list", "--local", "--profile", "p"]) == 2
    emit_like_the_lambdas()
    assert "stax_client_built" not in "".join(capsys.readouterr())
    assert cli.main(["list", "--local", "--profile", "p", "--verbose"]) == 2
    emit_like_the_lambdas()
    assert "stax_client_built" in capsys.readouterr().err
    configure_logging(verbose=False)


# -- watch reads only new history events --------------------------------------------------
class GrowingHistories:
    """Step Functions for one workload execution and its task watcher: each look
    (describe_execution) adds a poll to the watcher's history. GetExecutionHistory pages
    as AWS does (at most maxResults events, a nextToken while more are left, none on the
    last page) and counts every call and every event it returns."""

    def __init__(self, watcher_events: int, looks: int) -> None:
        self.looks_left = looks
        self.parent = [
            event(1, "ExecutionStarted"),
            event(2, "TaskStateEntered", stateEnteredEventDetails={"name": "Watch Task"}),
            event(3, "TaskSubmitted", taskSubmittedEventDetails={
                "output": json.dumps({"ExecutionArn": CHILD})}),
        ]  # fmt: skip
        self.child = [event(1, "ExecutionStarted")]
        for _ in range(watcher_events // 2):
            self.poll()
        self.calls = 0
        self.returned = 0

    def poll(self) -> None:
        polls = len(self.child) // 2 + 1
        output = {"task_id": "t-1", "status": "RUNNING", "polls": polls}
        self.child.append(
            event(
                len(self.child) + 1,
                "TaskStateEntered",
                stateEnteredEventDetails={"name": "Get Task Status"},
            )
        )
        self.child.append(event(len(self.child) + 1, "LambdaFunctionSucceeded",
                                lambdaFunctionSucceededEventDetails={
                                    "output": json.dumps(output)}))  # fmt: skip

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.looks_left -= 1
        self.poll()
        status = "RUNNING" if self.looks_left > 0 else "SUCCEEDED"
        described = {"executionArn": executionArn, "status": status, "input": "{}",
                     "startDate": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)}  # fmt: skip
        if status in FINAL_STATUSES:
            described["stopDate"] = dt.datetime(2026, 12, 1, 0, 5, tzinfo=dt.UTC)
        return described

    def get_execution_history(
        self,
        executionArn: str,
        maxResults: int = 100,
        nextToken: str | None = None,
        reverseOrder: bool = False,
    ) -> dict[str, Any]:
        self.calls += 1
        events = list(self.parent if executionArn == PARENT else self.child)
        if reverseOrder:
            events.reverse()
        start = int(nextToken or 0)
        page = events[start : start + min(maxResults, 1000)]
        self.returned += len(page)
        answer: dict[str, Any] = {"events": page}
        if start + len(page) < len(events):
            answer["nextToken"] = str(start + len(page))
        return answer


def event(number: int, kind: str, **details: Any) -> dict[str, Any]:
    return {"id": number, "type": kind, "timestamp": dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
            **details}  # fmt: skip


def test_watch_reads_each_history_whole_once_then_only_the_new_events() -> None:
    sfn = GrowingHistories(watcher_events=3000, looks=12)
    seen: list[int] = []
    progress = follow(sfn, PARENT, lambda p: seen.append(p.polls), interval=0, sleep=lambda _: None)
    assert progress.status == "SUCCEEDED"
    # Every look saw the poll that look added.
    assert seen == sorted(seen) and len(set(seen)) == len(seen) == 12
    assert progress.polls == len(sfn.child) // 2
    first_read = 1 + 4  # the parent's 3 events, the watcher's 3,001 in pages of 1,000
    later_looks = 11 * 2  # one call per history per look
    assert sfn.calls == first_read + later_looks
    # Whole histories at every look would have returned the watcher's 3,000+ events 12 times.
    assert sfn.returned < len(sfn.child) + len(sfn.parent) + later_looks * 25


def test_the_reader_pages_backwards_when_more_is_new_than_one_small_page() -> None:
    sfn = GrowingHistories(watcher_events=10, looks=100)
    reader = HistoryReader(sfn, CHILD, page_size=4)
    assert [e["id"] for e in reader.read()] == list(range(1, 12))
    for _ in range(5):
        sfn.poll()  # 10 new events: three pages of 4 newest first
    calls = sfn.calls
    new = reader.read()
    assert [e["id"] for e in new] == list(range(12, 22))
    assert sfn.calls - calls == 3
    assert reader.read() == []  # nothing new: one call of one page
    assert [e["id"] for e in reader.events] == list(range(1, 22))
