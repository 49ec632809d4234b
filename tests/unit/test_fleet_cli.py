"""``stax-orchestrator fleet``: live counters, throughput and ETA, failures as they fail,
per-target results, and target files (with moto's STS, S3 and DynamoDB; Step Functions
is a scripted fake, since moto runs no state machine). The CLI gets them through its own
context: the session it is handed makes the clients."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.coordination import CoordinationStore
from chalicelib.fleet.results import partition, put_results, result_item
from chalicelib.validation import MAX_FLEET_REQUEST_BYTES, json_size
from stax_orchestrator import cli, commands_fleet, console
from stax_orchestrator import fleet_view as view
from stax_orchestrator.context import fleet_execution_target
from stax_orchestrator.deploy import Target, table_definition
from tests.unit.support import REGION, stage_stack

ACCOUNT_ID = "123456789012"
STAGE = "unit"  # names come from the stage, STS and the region
TARGET = Target(STAGE, REGION, ACCOUNT_ID)
FLEET_ID = "fleet-0001"
FLEET_ARN = TARGET.state_machine_arn("fleet").replace(":stateMachine:", ":execution:")
EXECUTION_ARN = f"{FLEET_ARN}:{FLEET_ID}"
ACCOUNTS = ["6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11", "7e3f7d5c-2dab-4f3a-8b68-1c8f8a0d3b22"]
CATALOGUE = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00"


# -- fixtures ------------------------------------------------------------------------
class FakeStepFunctions:
    """A fleet execution that goes through scripted looks: each describe_execution moves
    to the next look; the Map Run reports that look's item counts."""

    def __init__(self, looks: list[dict[str, Any]], name: str = FLEET_ID) -> None:
        self.looks, self.at, self.name = looks, -1, name
        self.started: list[dict[str, Any]] = []

    @property
    def look(self) -> dict[str, Any]:
        return self.looks[max(0, min(self.at, len(self.looks) - 1))]

    def start_execution(
        self, stateMachineArn: str, input: str, name: str | None = None
    ) -> dict[str, Any]:
        self.started.append({"stateMachineArn": stateMachineArn, "input": json.loads(input),
                             "name": name})  # fmt: skip
        return {"executionArn": stateMachineArn.replace(":stateMachine:", ":execution:") + ":"
                + (name or self.name)}  # fmt: skip

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.at += 1
        if self.look.get("before"):
            self.look["before"]()
        described = {"executionArn": executionArn, "status": self.look["status"],
                     "startDate": 1_000.0}  # fmt: skip
        if self.look["status"] != "RUNNING":
            described["stopDate"] = 1_000.0 + 252
        for key in ("output", "error", "cause", "input", "stateMachineArn"):
            if key in self.look:
                described[key] = self.look[key]
        return described

    def describe_state_machine(self, stateMachineArn: str) -> dict[str, Any]:
        return {"stateMachineArn": stateMachineArn}

    def get_paginator(self, operation: str) -> Any:
        """One page: a fleet has one Map Run (what boto3's paginator yields for it)."""
        call = getattr(self, operation)

        class OnePage:
            @staticmethod
            def paginate(**kwargs: Any) -> list[dict[str, Any]]:
                return [call(**kwargs)]

        return OnePage()

    def list_map_runs(self, executionArn: str) -> dict[str, Any]:
        if self.look.get("items") is None:
            return {"mapRuns": []}
        return {"mapRuns": [{"mapRunArn": "arn:map-run", "startDate": 1_002.0}]}

    def describe_map_run(self, mapRunArn: str) -> dict[str, Any]:
        return {"itemCounts": self.look["items"], "startDate": 1_002.0}


class FakeSession:
    """The CLI's one boto3 session, handing out the test's clients."""

    region_name = REGION

    def __init__(self, clients: dict[str, Any]) -> None:
        self.clients = clients
        self.configs: list[Any] = []

    def client(self, service: str, region_name: str | None = None, config: Any = None) -> Any:
        self.configs.append(config)
        return self.clients[service]


#: The session the next run_cli hands the CLI (set by the clients fixture).
SESSION: FakeSession | None = None


@pytest.fixture()
def clients(aws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """The stage's table and fleet bucket on moto, and scripted Step Functions."""
    monkeypatch.chdir(tmp_path)
    names = ("dynamodb", "s3", "sts", "cloudformation")
    made: dict[str, Any] = {name: aws.client(name) for name in names}
    made["dynamodb"].create_table(**table_definition(TARGET.table_name))
    made["s3"].create_bucket(Bucket=TARGET.fleet_bucket)
    machines = {kind: TARGET.state_machine_arn(kind) for kind in ("workload", "fleet",
                                                                  "task_watcher")}  # fmt: skip
    stage_stack(TARGET, table=TARGET.table_name, fleet_bucket=TARGET.fleet_bucket, **machines)
    made["stepfunctions"] = FakeStepFunctions([{"status": "SUCCEEDED"}])
    monkeypatch.setattr(sys.modules[__name__], "SESSION", FakeSession(made))
    return made


@pytest.fixture()
def store(clients: dict[str, Any]) -> CoordinationStore:
    return CoordinationStore(lambda: clients["dynamodb"], TARGET.table_name)


def a_plan(**changes: Any) -> dict[str, Any]:
    return {"fleet_id": FLEET_ID, "operation": "create", "bucket": TARGET.fleet_bucket,
            "key": f"plans/{FLEET_ID}.jsonl", "total": 6, "to_run": 5, "already_done": 1,
            "max_concurrency": 2, "failure_tolerance": "1", "tolerated_failures": 1,
            **changes}  # fmt: skip


def store_plan(store: CoordinationStore, **changes: Any) -> None:
    store.put_item(partition(FLEET_ID), "plan", a_plan(**changes))


def a_result(index: int, status: str, **changes: Any) -> dict[str, Any]:
    return result_item({
        "index": index,
        "status": status,
        "target": {"workload_name": f"baseline-{index}", "aws_account_id": ACCOUNTS[0],
                   "aws_region": "ap-southeast-2"},
        "workload_id": f"w-{index}",
        "duration_seconds": 3.5 + index,
        **changes,
    })  # fmt: skip


def a_failure(index: int, **changes: Any) -> dict[str, Any]:
    return a_result(
        index, "FAILED", error="WorkloadTaskFailed",
        cause={"message": f"Stax task failed for {index}", "logs_tail": ["a", "CREATE_FAILED"]},
        **changes,
    )  # fmt: skip


def store_results(store: CoordinationStore) -> None:
    put_results(store, FLEET_ID, [
        a_result(0, "SUCCEEDED", task_id="t-0"),
        a_failure(1),
        a_result(2, "ALREADY_DONE", detail="workload exists (ACTIVE)", duration_seconds=None),
        a_result(3, "FAILED", error="States.Timeout", cause={"logs_tail": ["x", "last line"]}),
        a_result(4, "NOT_STARTED", workload_id=None, duration_seconds=None),
    ])  # fmt: skip


def create_request(**changes: Any) -> dict[str, Any]:
    return {"operation": "create", "catalogue_id": CATALOGUE, "workload_name": "{name}-{index}",
            "name": "baseline", "max_concurrency": 2, **changes}  # fmt: skip


def targets(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"aws_account_id": ACCOUNTS[i % 2], "aws_region": "ap-southeast-2", **extra}
            for i in range(count)]  # fmt: skip


def write(path: Path, content: Any) -> str:
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return str(path)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The exit code, and the results (stdout) -- with the errors (stderr) when it failed."""
    code = cli.main([*argv, "--stage", STAGE], session_factory=lambda **_: SESSION)
    captured = capsys.readouterr()
    return code, captured.out if code == 0 else captured.out + captured.err


# -- fleet results -----------------------------------------------------------------
def test_results_as_json_list_every_target_in_index_order_without_the_tables_keys(
    store: CoordinationStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store_plan(store)
    store_results(store)
    code, out = run_cli(["fleet", "results", EXECUTION_ARN, "--json"], capsys)
    rows = json.loads(out)
    assert code == 0
    assert [r["index"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in rows][:3] == ["SUCCEEDED", "FAILED", "ALREADY_DONE"]
    assert rows[1]["target"]["workload_name"] == "baseline-1"
    assert rows[1]["cause"]["message"] == "Stax task failed for 1"
    assert not {"pk", "sk", "expires_at"} & set(rows[0])


def test_results_of_failed_targets_are_read_from_the_failed_items(
    clients: dict[str, Any], store: CoordinationStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store_plan(store)
    store_results(store)
    # Only the failed# copy of target 1 is left: it is what --status failed reads.
    clients["dynamodb"].delete_item(
        TableName=TARGET.table_name,
        Key={"pk": {"S": partition(FLEET_ID)}, "sk": {"S": "target#000001"}},
    )
    code, out = run_cli(["fleet", "results", EXECUTION_ARN, "--status", "failed", "--json"], capsys)
    assert code == 0
    assert [(r["index"], r["status"]) for r in json.loads(out)] == [(1, "FAILED"), (3, "FAILED")]


def test_results_of_one_other_status_are_filtered_from_all_targets(
    store: CoordinationStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store_plan(store)
    store_results(store)
    code, out = run_cli(
        ["fleet", "results", EXECUTION_ARN, "--status", "already_done", "--json"], capsys
    )
    assert code == 0
    assert [(r["index"], r["detail"]) for r in json.loads(out)] == [(2, "workload exists (ACTIVE)")]


def test_results_as_csv_have_a_header_and_one_row_per_target_with_a_one_line_reason(
    store: CoordinationStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store_plan(store)
    store_results(store)
    code, out = run_cli(["fleet", "results", EXECUTION_ARN, "--csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert out.splitlines()[0] == (
        "index,status,workload_name,aws_account_id,aws_region,workload_id,task_id,error,"
        "duration_seconds,message"
    )
    assert rows[0] == {
        "index": "0", "status": "SUCCEEDED", "workload_name": "baseline-0",
        "aws_account_id": ACCOUNTS[0], "aws_region": "ap-southeast-2", "workload_id": "w-0",
        "task_id": "t-0", "error": "", "duration_seconds": "3.5", "message": "",
    }  # fmt: skip
    assert rows[1]["message"] == "Stax task failed for 1"
    assert rows[2]["message"] == "workload exists (ACTIVE)"
    assert rows[3]["message"] == "last line"  # no message: the last log line
    assert len(rows) == 5


def test_results_page_through_more_targets_than_one_query_returns(
    store: CoordinationStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store_plan(store, total=1200, to_run=1200)
    put_results(store, FLEET_ID, [a_result(i, "SUCCEEDED") for i in range(1200)])
    code, out = run_cli(["fleet", "results", EXECUTION_ARN, "--json"], capsys)
    assert code == 0
    assert [r["index"] for r in json.loads(out)] == list(range(1200))


def test_results_by_execution_name_find_the_stages_fleet_machine(
    store: CoordinationStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store_plan(store)
    store_results(store)
    code, out = run_cli(["fleet", "results", FLEET_ID], capsys)
    assert code == 0
    assert "baseline-1" in out and "WorkloadTaskFailed: Stax task failed for 1" in out
    assert f"execution: {EXECUTION_ARN}" in out


def test_results_print_target_names_and_errors_that_look_like_markup_as_they_are(
    store: CoordinationStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store_plan(store)
    put_results(store, FLEET_ID, [
        a_result(0, "FAILED", target={"workload_name": "[/x]"}, error="[bold]Boom",
                 cause={"message": "[red]why[/red] :smile:"}),
    ])  # fmt: skip
    code, out = run_cli(["fleet", "results", EXECUTION_ARN], capsys)
    assert code == 0
    assert "[/x]" in out and "[bold]Boom: [red]why[/red] :smile:" in out


def test_results_of_an_unknown_fleet_say_so_and_exit_2(
    store: CoordinationStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_cli(["fleet", "results", f"{FLEET_ARN}:nope"], capsys)
    assert code == console.EXIT_INVALID
    assert "no fleet 'nope' in table stax-orchestrator-unit-coordination" in out


def test_results_of_a_fleet_without_failures_are_an_empty_list(
    store: CoordinationStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store_plan(store)
    put_results(store, FLEET_ID, [a_result(0, "SUCCEEDED")])
    code, out = run_cli(["fleet", "results", EXECUTION_ARN, "--status", "failed", "--json"], capsys)
    assert (code, json.loads(out)) == (0, [])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([EXECUTION_ARN, "--json", "--csv"], "give --json or --csv, not both"),
        ([EXECUTION_ARN.replace("-fleet:", "-workload:")], "is not an execution of a fleet"),
        (["arn:aws:states:us-east-1:1:stateMachine:x"], "is not an execution of a fleet"),
    ],
)
def test_results_refuse_what_they_cannot_read_with_exit_2(
    clients: dict[str, Any], argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_cli(["fleet", "results", *argv], capsys)
    assert code == console.EXIT_INVALID
    assert message in out


def test_a_fleet_execution_arn_names_its_stage_region_and_account() -> None:
    arn = "arn:aws-cn:states:cn-north-1:111122223333:execution:stax-orchestrator-my-stage-fleet:f"
    target = fleet_execution_target(arn)
    assert (target.stage, target.region, target.account, target.partition) == (
        "my-stage", "cn-north-1", "111122223333", "aws-cn",
    )  # fmt: skip
    assert target.table_name == "stax-orchestrator-my-stage-coordination"


# -- counting, throughput, ETA (pure) --------------------------------------------------
def test_before_the_map_run_every_target_to_run_is_pending() -> None:
    counts = view.counts_of(a_plan(), None)
    assert counts == view.Counts(pending=5, already_done=1, total=6)


def test_the_map_runs_counts_make_the_counters_and_timed_out_items_count_as_failed() -> None:
    items = {"pending": 0, "running": 2, "succeeded": 1, "failed": 1, "timedOut": 1,
             "aborted": 0, "total": 3}  # fmt: skip
    counts = view.counts_of(a_plan(), items)
    # pending is what the plan runs and the Map has not started (it may still be reading).
    assert counts == view.Counts(pending=0, running=2, succeeded=1, failed=2, already_done=1,
                                 total=6)  # fmt: skip
    assert (counts.finished, counts.remaining) == (3, 2)


def test_without_a_plan_the_map_runs_counts_are_all_there_is() -> None:
    counts = view.counts_of(None, {"pending": 3, "running": 1, "total": 4})
    assert counts == view.Counts(pending=3, running=1, total=4)


def test_throughput_and_eta_are_unknown_until_a_target_finished() -> None:
    speed = view.Throughput()
    speed.add(0.0, 0)
    speed.add(10.0, 0)
    assert speed.recent() is None and speed.overall(10.0) is None
    assert view.eta_seconds(5, speed.recent()) is None
    assert view.duration_text(view.eta_seconds(5, speed.recent())) == "—"


def test_recent_throughput_is_measured_over_the_window_and_overall_since_the_map_started() -> None:
    speed = view.Throughput(window=60.0, started_at=0.0)
    for at, finished in [(0.0, 0), (30.0, 10), (60.0, 20), (90.0, 22), (120.0, 24)]:
        speed.add(at, finished)
    # The window keeps the last look at or before its start (60 s): 4 targets in 60 s.
    assert speed.samples[0] == (60.0, 20)
    assert speed.recent() == pytest.approx(4.0)
    assert speed.overall(120.0) == pytest.approx(12.0)
    assert view.eta_seconds(8, speed.recent()) == pytest.approx(120.0)


def test_a_stalled_fleet_has_no_eta_and_a_finished_one_has_none_left() -> None:
    speed = view.Throughput(window=60.0)
    for at in (0.0, 30.0, 60.0, 90.0):
        speed.add(at, 7)
    assert speed.recent() == 0.0
    assert view.eta_seconds(3, speed.recent()) is None
    assert view.eta_seconds(0, None) == 0.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0.4, "0s"), (35, "35s"), (252, "4m 12s"), (3720, "1h 02m")],
)
def test_durations_read_as_seconds_minutes_or_hours(seconds: float | None, text: str) -> None:
    assert view.duration_text(seconds) == text


def test_progress_counts_throughput_from_the_map_run_and_estimates_what_is_left() -> None:
    progress = view.FleetProgress(EXECUTION_ARN, operation="create")
    progress.update(now=1_000.0, status="RUNNING", started=990.0, plan=a_plan())
    assert progress.counts.pending == 5 and progress.eta() is None
    items = {"running": 2, "succeeded": 0, "failed": 0}
    progress.update(now=1_010.0, status="RUNNING", plan=None, item_counts=items,
                    map_started=1_000.0)  # fmt: skip
    progress.update(now=1_070.0, status="RUNNING", item_counts={**items, "succeeded": 2})
    assert progress.throughput.recent() == pytest.approx(2.0)
    assert progress.eta() == pytest.approx(90.0)  # 3 left at 2 a minute
    line = view.plain_line(progress, 1_070.0)
    assert "pending 1 · running 2 · succeeded 2 · failed 0 · already done 1 · total 6" in line
    assert "2.0/min (overall 1.7/min) · ETA 1m 30s" in line


def test_a_look_without_the_map_run_keeps_the_last_counts() -> None:
    progress = view.FleetProgress(EXECUTION_ARN)
    progress.update(now=1.0, status="RUNNING", plan=a_plan(), item_counts={"succeeded": 3})
    progress.update(now=2.0, status="RUNNING", item_counts=None)
    assert progress.counts.succeeded == 3


def test_each_failure_is_new_once_and_the_store_is_read_only_when_the_map_counted_more() -> None:
    progress = view.FleetProgress(EXECUTION_ARN)
    progress.update(now=1.0, status="RUNNING", plan=a_plan(), item_counts={"failed": 0})
    assert not progress.wants_failures()
    progress.update(now=2.0, status="RUNNING", item_counts={"failed": 2})
    assert progress.wants_failures()
    first = progress.add_failures([a_failure(3)])
    again = progress.add_failures([a_failure(1), a_failure(3)])
    assert [r["index"] for r in first] == [3] and [r["index"] for r in again] == [1]
    assert not progress.wants_failures()


@pytest.mark.parametrize(
    ("target", "label"),
    [
        ({"workload_name": "baseline-1", "aws_account_id": ACCOUNTS[0]}, "baseline-1"),
        ({"aws_account_id": ACCOUNTS[0], "aws_region": "us-east-1"}, "6d2e6c4b/us-east-1"),
        ({"workload_id": "w-9"}, "w-9"),
        (None, "?"),
    ],
)
def test_a_target_reads_as_its_name_else_its_account_and_region_else_its_workload_id(
    target: Any, label: str
) -> None:
    assert view.target_label(target) == label


def test_a_failure_reads_as_one_line_its_message_else_its_last_log_line() -> None:
    assert view.reason({"message": "Stax said\n  no", "logs_tail": ["x"]}) == "Stax said no"
    assert view.reason({"logs_tail": ["first", "CREATE_FAILED quota"]}) == "CREATE_FAILED quota"
    assert view.reason("plain text cause") == "plain text cause"
    assert view.reason(None) == ""
    assert len(view.reason({"message": "x" * 500})) == view.REASON_CHARS


def test_a_failed_target_named_like_markup_prints_as_it_is() -> None:
    stream = io.StringIO()
    failure = {"index": 7, "target": {"workload_name": "[/x]"}, "error": "[bold]",
               "cause": {"message": "[/] :smile:"}}  # fmt: skip
    console.Output(False, stream).console.print(view.failure_markup(failure))
    assert stream.getvalue() == "✘ target     7  [/x]  [bold]: [/] :smile:\n"


def test_the_live_panel_prints_a_fleet_named_like_markup_as_it_is() -> None:
    from rich.console import Console

    progress = view.FleetProgress(f"{FLEET_ARN}:[/x]", operation="[bold]")
    progress.update(now=5.0, status="RUNNING", started=0.0, plan=a_plan(),
                    item_counts={"running": 1, "failed": 1})  # fmt: skip
    progress.note = "[/note]"
    console = Console(file=io.StringIO(), width=120)
    console.print(view.panel(progress, 5.0))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "fleet [bold] · [/x]" in text and "[/note]" in text and "failed 1" in text


def test_plain_lines_are_printed_only_when_a_counter_changes() -> None:
    stream = io.StringIO()
    plain = view.Plain(console.Output(False, stream))
    progress = view.FleetProgress(EXECUTION_ARN)
    for now, items in [(1.0, {"running": 2}), (2.0, {"running": 2}), (3.0, {"succeeded": 1})]:
        progress.update(now=now, status="RUNNING", plan=a_plan(), item_counts=items)
        plain.show(progress, [], now)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert "running 2" in lines[0] and "succeeded 1" in lines[1]


# -- following a fleet to its end ----------------------------------------------------
def follow(
    clients: dict[str, Any], store: CoordinationStore, looks: list[dict[str, Any]], as_json: bool
) -> tuple[int, str]:
    sfn = FakeStepFunctions(looks)
    stream = io.StringIO()
    code = commands_fleet.follow_fleet(
        sfn, store, EXECUTION_ARN, operation="create", out=console.Output(as_json, stream),
        interval=0, results_command=f"stax-orchestrator fleet results {EXECUTION_ARN}",
        sleep=lambda _: None, clock=iter(range(1_000, 2_000, 10)).__next__,
    )  # fmt: skip
    return code, stream.getvalue()


def succeeded_output(**changes: Any) -> str:
    summary = {"operation": "create", "total": 6, "to_run": 5, "already_done": 1,
               "succeeded": 4, "failed": 1, "not_started": 0, "tolerated_failures": 1,
               **changes}  # fmt: skip
    return json.dumps({"summary": summary})


def test_a_followed_fleet_prints_counters_each_failure_once_and_one_summary_line(
    clients: dict[str, Any], store: CoordinationStore
) -> None:
    def plan_and_fail() -> None:
        store_plan(store)
        put_results(store, FLEET_ID, [a_failure(3, target={"workload_name": "[/x]"})])

    looks = [
        {"status": "RUNNING"},
        {"status": "RUNNING", "before": plan_and_fail, "items": {"running": 2}},
        {"status": "RUNNING", "items": {"running": 2, "succeeded": 1, "failed": 1}},
        {"status": "RUNNING", "items": {"running": 2, "succeeded": 1, "failed": 1}},
        {"status": "SUCCEEDED", "items": {"succeeded": 4, "failed": 1},
         "output": succeeded_output()},
    ]  # fmt: skip
    code, text = follow(clients, store, looks, as_json=False)
    lines = text.splitlines()
    assert code == 0
    assert lines[0].endswith("running   planning")
    assert [line for line in lines if "✘ target" in line] == [
        "✘ target     3  [/x]  WorkloadTaskFailed: Stax task failed for 3"
    ]
    assert len([line for line in lines if " · ETA " in line]) == 3  # one per change
    assert (
        "✔ fleet create succeeded in 4m 12s: 4 succeeded, 1 failed, 1 already done, "
        "0 not started (1 failures tolerated)"
    ) in lines
    assert f"  execution: {EXECUTION_ARN}" in lines
    assert f"  results:   stax-orchestrator fleet results {EXECUTION_ARN} --status failed" in lines


def test_a_failure_recorded_after_the_last_look_is_still_printed_before_the_summary(
    clients: dict[str, Any], store: CoordinationStore
) -> None:
    store_plan(store)
    looks = [{"status": "SUCCEEDED", "items": {"succeeded": 4}, "output": succeeded_output(),
              "before": lambda: put_results(store, FLEET_ID, [a_failure(2)])}]  # fmt: skip
    code, text = follow(clients, store, looks, as_json=False)
    assert code == 0
    assert text.index("✘ target     2") < text.index("✔ fleet create succeeded")


def test_a_fleet_past_its_tolerance_reports_json_with_every_failed_target_from_the_store(
    clients: dict[str, Any], store: CoordinationStore
) -> None:
    store_plan(store, total=30, to_run=30, already_done=0)
    put_results(store, FLEET_ID, [a_failure(i) for i in range(25)])
    summary = {"succeeded": 2, "failed": 25, "already_done": 0, "not_started": 3,
               "tolerated_failures": 1}  # fmt: skip
    cause = {"message": "25 of 30 targets failed; 1 tolerated", "summary": summary,
             "failed_targets": [{"index": i} for i in range(20)], "hint": "Fix them"}  # fmt: skip
    looks = [{"status": "FAILED", "error": "FleetFailureToleranceExceeded",
              "cause": json.dumps(cause), "items": {"succeeded": 2, "failed": 25}}]  # fmt: skip
    code, text = follow(clients, store, looks, as_json=True)
    body = json.loads(text)
    assert code == console.EXIT_FAILED
    assert set(body) == {"execution_arn", "status", "duration_seconds", "summary", "error",
                         "cause", "failed_targets"}  # fmt: skip
    assert (body["status"], body["error"]) == ("FAILED", "FleetFailureToleranceExceeded")
    assert body["summary"] == summary
    assert body["cause"] == {"message": "25 of 30 targets failed; 1 tolerated", "hint": "Fix them"}
    assert [r["index"] for r in body["failed_targets"]] == list(range(25))
    assert body["failed_targets"][0]["cause"]["logs_tail"] == ["a", "CREATE_FAILED"]


def test_a_fleet_refused_by_the_plan_lambda_prints_its_problems_and_exits_1(
    clients: dict[str, Any], store: CoordinationStore
) -> None:
    refusal = {"error": "InvalidFleetRequest", "message": "The fleet request has 1 problem",
               "errors": {"targets[0].aws_region": ["[/x] is not a region"]}}  # fmt: skip
    lambda_error = {"errorMessage": json.dumps(refusal), "errorType": "InvalidFleetRequest"}
    looks = [{"status": "FAILED", "error": "InvalidFleetRequest",
              "cause": json.dumps(lambda_error)}]  # fmt: skip
    code, text = follow(clients, store, looks, as_json=False)
    assert code == console.EXIT_FAILED
    assert "✘ fleet create FAILED after 4m 12s (InvalidFleetRequest): no target ran" in text
    assert "    targets[0].aws_region: [/x] is not a region" in text
    assert "results:" not in text


# -- fleet run: the request, the targets file, S3 -------------------------------------
def test_a_csv_targets_file_becomes_the_requests_targets_with_parameters_and_tags(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "targets.csv", "\ufeffaws_account_id,aws_region,param:VpcCidr,tag:Owner\n"
                 f"{ACCOUNTS[0]},ap-southeast-2,10.1.0.0/16,\n{ACCOUNTS[1]},us-east-1,,team\n")  # fmt: skip
    request = commands_fleet.merge_targets(create_request(), commands_fleet.read_targets_file(path))
    assert request["targets"] == [
        {"aws_account_id": ACCOUNTS[0], "aws_region": "ap-southeast-2",
         "workload_parameters": {"VpcCidr": "10.1.0.0/16"}},
        {"aws_account_id": ACCOUNTS[1], "aws_region": "us-east-1",
         "workload_tags": {"Owner": "team"}},
    ]  # fmt: skip
    assert commands_fleet.validate(request)["targets"][1]["target"]["workload_name"] == "baseline-1"


def test_run_with_a_jsonl_targets_file_sends_the_targets_in_the_request(
    clients: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = write(tmp_path / "fleet.json", create_request())
    lines = "\n".join(json.dumps(t) for t in targets(3))
    code, out = run_cli(["fleet", "run", request, "--targets", write(tmp_path / "t.jsonl", lines),
                         "--no-wait"], capsys)  # fmt: skip
    started = clients["stepfunctions"].started
    assert code == 0 and out.strip() == EXECUTION_ARN
    assert started[0]["stateMachineArn"] == TARGET.state_machine_arn("fleet")
    assert started[0]["input"]["targets"] == targets(3)
    assert "targets_location" not in started[0]["input"]


def test_run_refuses_a_targets_file_when_the_request_has_targets(
    clients: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = write(tmp_path / "fleet.json", create_request(targets=targets(1)))
    code, out = run_cli(
        ["fleet", "run", request, "--targets", write(tmp_path / "t.json", targets(1))], capsys
    )
    assert code == console.EXIT_INVALID
    assert "the request has 'targets' and --targets was given" in out
    assert clients["stepfunctions"].started == []


def test_run_validates_every_target_before_anything_starts_or_is_uploaded(
    clients: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = targets(3000, workload_parameters={"Padding": "x" * 60})
    bad[7]["aws_region"] = "mars-1"
    bad[2999]["workload_tags"] = {"[/x]": 1}
    request = write(tmp_path / "fleet.json", create_request())
    code, out = run_cli(["fleet", "run", request, "--targets",
                         write(tmp_path / "t.json", {"targets": bad})], capsys)  # fmt: skip
    assert code == console.EXIT_INVALID
    assert "targets[7].aws_region" in out and "targets[2999].workload_tags.[/x]" in out
    assert "Nothing was started." in out
    assert clients["stepfunctions"].started == []
    assert clients["s3"].list_objects_v2(Bucket=TARGET.fleet_bucket).get("KeyCount") == 0


def test_a_request_travels_in_s3_only_when_it_is_bigger_than_the_execution_input_allows() -> None:
    small = create_request(targets=targets(2))
    padding = MAX_FLEET_REQUEST_BYTES - json_size(small)
    exact = {**small, "name": small["name"] + "x" * padding}
    assert json_size(exact) == MAX_FLEET_REQUEST_BYTES
    assert not commands_fleet.travels_in_s3(exact)
    assert commands_fleet.travels_in_s3({**exact, "name": exact["name"] + "é"})  # 2 bytes in UTF-8
    assert not commands_fleet.travels_in_s3(
        {"operation": "delete", "workload_ids": ["x" * 300_000]}
    )


def test_a_big_request_sends_its_targets_as_jsonl_through_the_stages_fleet_bucket(
    clients: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    many = targets(3000, workload_parameters={"Padding": "x" * 60})
    assert json_size(create_request(targets=many)) > MAX_FLEET_REQUEST_BYTES
    request = write(tmp_path / "fleet.json", create_request())
    code, _ = run_cli(["fleet", "run", request, "--targets",
                       write(tmp_path / "t.json", many), "--no-wait"], capsys)  # fmt: skip
    sent = clients["stepfunctions"].started[0]["input"]
    location = sent["targets_location"]
    bucket, _, key = location.removeprefix("s3://").partition("/")
    body = clients["s3"].get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert code == 0
    assert bucket == TARGET.fleet_bucket
    assert key.startswith("requests/") and key.endswith(".jsonl")
    assert "targets" not in sent and json_size(sent) < 1024
    assert [json.loads(line) for line in body.splitlines()] == many


def test_rollout_flags_make_the_rollout_request(
    clients: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_cli(["fleet", "rollout", "--catalogue-id", CATALOGUE, "--catalogue-version-id",
                       ACCOUNTS[1], "--region", "us-east-1", "--failure-tolerance", "10%",
                       "--no-wait", "--json"], capsys)  # fmt: skip
    assert code == 0
    assert clients["stepfunctions"].started[0]["input"] == {
        "operation": "rollout", "catalogue_id": CATALOGUE, "catalogue_version_id": ACCOUNTS[1],
        "max_concurrency": 5, "regions": ["us-east-1"], "failure_tolerance": "10%",
    }  # fmt: skip


def test_run_follows_the_fleet_it_started_and_exits_with_its_outcome(
    clients: dict[str, Any], store: CoordinationStore, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # --local only adds itself to the results command here: the stack's endpoint is moto.
    monkeypatch.setattr("stax_orchestrator.local_env.apply_local_env", lambda: None)

    def fail() -> None:
        store_plan(store)
        put_results(store, FLEET_ID, [a_failure(1)])

    clients["stepfunctions"].looks = [
        {"status": "RUNNING", "before": fail, "items": {"running": 1, "failed": 1}},
        {"status": "FAILED", "error": "FleetFailureToleranceExceeded", "items": {"failed": 1},
         "cause": json.dumps({"message": "1 of 1 targets failed; 0 tolerated"})},
    ]  # fmt: skip
    request = write(tmp_path / "fleet.json", create_request(targets=targets(1)))
    code, out = run_cli(["fleet", "run", request, "--interval", "0", "--local"], capsys)
    assert code == console.EXIT_FAILED
    assert f"started fleet create: {EXECUTION_ARN}" in out
    assert "✘ target     1  baseline-1  WorkloadTaskFailed: Stax task failed for 1" in out
    assert "✘ fleet create FAILED after 4m 12s (FleetFailureToleranceExceeded)" in out
    assert (
        f"results:   stax-orchestrator fleet results {EXECUTION_ARN} --local --status failed" in out
    )


def test_a_stopped_fleet_names_its_aborted_targets_apart_from_those_never_started(
    clients: dict[str, Any], store: CoordinationStore
) -> None:
    store_plan(store, total=4, to_run=4, already_done=0)
    put_results(store, FLEET_ID, [a_failure(0)])
    summary = {"succeeded": 0, "failed": 1, "already_done": 0, "aborted": 2, "not_started": 1,
               "tolerated_failures": 0}  # fmt: skip
    cause = {"message": "1 of 4 targets failed; 0 tolerated", "summary": summary,
             "failed_targets": [{"index": 0}], "hint": "Run it again"}  # fmt: skip
    looks = [{"status": "FAILED", "error": "FleetFailureToleranceExceeded",
              "cause": json.dumps(cause), "items": {"failed": 1, "aborted": 2}}]  # fmt: skip
    code, text = follow(clients, store, looks, as_json=False)
    assert code == console.EXIT_FAILED
    assert "1 failed, 0 already done, 2 aborted, 1 not started" in " ".join(text.split())


# -- canary stages and resume ----------------------------------------------------------
def test_rollout_stages_and_alarms_make_the_rollout_request(
    clients: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_cli(["fleet", "rollout", "--catalogue-id", CATALOGUE, "--catalogue-version-id",
                       ACCOUNTS[1], "--stages", "1,25%,100%", "--halt-on-alarm", "api-5xx",
                       "--halt-on-alarm", "p99", "--no-wait", "--json"], capsys)  # fmt: skip
    assert code == 0
    sent = clients["stepfunctions"].started[0]["input"]
    assert (sent["stages"], sent["halt_on_alarms"]) == ([1, "25%", "100%"], ["api-5xx", "p99"])


def halted(request: dict[str, Any], status: str = "FAILED") -> dict[str, Any]:
    return {"status": status, "error": "FleetHalted", "input": json.dumps(request),
            "stateMachineArn": TARGET.state_machine_arn("fleet")}  # fmt: skip


def test_resume_starts_the_halted_fleets_request_again_under_a_new_name(
    clients: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    request = create_request(targets=targets(3), stages=[1, "100%"])
    sfn = clients["stepfunctions"]
    sfn.looks = [halted(request), {"status": "SUCCEEDED"}]
    code, _ = run_cli(["fleet", "resume", EXECUTION_ARN, "--no-wait", "--json"], capsys)
    assert code == 0
    [started] = sfn.started
    assert started["input"] == request
    assert started["name"].startswith(f"{FLEET_ID}-resume-")


@pytest.mark.parametrize(
    ("look", "says"),
    [
        ({"status": "RUNNING"}, "is RUNNING: only a fleet that ended without finishing"),
        ({"status": "SUCCEEDED"}, "is SUCCEEDED: only a fleet that ended without finishing"),
        ({"operation": "apply"}, "a baseline's fleet resumes with `stax-orchestrator apply"),
        ({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:other"},
         "is not an execution of the stage's fleet machine"),
    ],
)  # fmt: skip
def test_resume_refuses_what_is_not_a_fleet_that_stopped_short(
    clients: dict[str, Any], capsys: pytest.CaptureFixture[str], look: dict[str, Any], says: str
) -> None:
    request = {"operation": look.pop("operation", "create"), "targets": []}
    clients["stepfunctions"].looks = [{**halted(request), **look}]
    code, out = run_cli(["fleet", "resume", EXECUTION_ARN], capsys)
    assert code == console.EXIT_INVALID and says in out
    assert clients["stepfunctions"].started == []
