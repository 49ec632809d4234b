"""``stax-orchestrator fleet run|rollout|results``: one operation over many targets, live.

Role: the fleet command group. ``fleet run REQUEST.json [--targets FILE]`` and ``fleet
rollout`` validate the whole request locally (the plan_fleet Lambda's rules), send a
target list too big for the execution's input through the stage's fleet bucket
(``targets_location``), start the fleet machine and follow it: counters from the Map Run
(``ListMapRuns`` / ``DescribeMapRun``), throughput and ETA, and each failed target as it
fails (the ``failed#`` items of the coordination store, read only when the Map counted a
new failure). ``fleet results EXECUTION`` lists the per-target results the store keeps.

Counting and drawing are :mod:`stax_orchestrator.fleet_view`, which talks to no AWS
service; this module holds what does, through the clients of the context
(:mod:`stax_orchestrator.context`): S3, Step Functions and the stage's table.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stax_orchestrator import fleet_list
from stax_orchestrator import fleet_view as view
from stax_orchestrator.console import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    CliError,
    Output,
    print_refusal,
)
from stax_orchestrator.context import AwsContext, arn_region
from stax_orchestrator.inputs import load_json_file

if TYPE_CHECKING:
    from chalicelib.coordination import CoordinationStore

#: Where ``fleet run`` puts a target list too big for the execution's input.
REQUESTS_PREFIX = "requests/"
RESULT_STATUSES = ("succeeded", "failed", "already_done", "aborted", "not_started")


# -- where a fleet's things are --------------------------------------------------------
def execution_arn_of(context: AwsContext, execution: str) -> str:
    """``execution`` as an ARN: an ARN as it is, a name under the stage's fleet machine."""
    if execution.startswith("arn:"):
        return execution
    machine = context.state_machine_arn("fleet")
    return f"{machine.replace(':stateMachine:', ':execution:', 1)}:{execution}"


def results_store(context: AwsContext, execution_arn: str) -> CoordinationStore:
    """The coordination store that holds this fleet's results (in the fleet's region)."""
    from chalicelib.coordination import CoordinationStore

    client = context.client("dynamodb", arn_region(execution_arn))
    return CoordinationStore(lambda: client, context.results_table(execution_arn))


def _unreadable(error: Any) -> str:
    details = getattr(error, "details", {}) or {}
    return (
        f"cannot read the fleet results in DynamoDB table {details.get('table')} "
        f"({details.get('aws_error')})"
    )


# -- the request -----------------------------------------------------------------------
def read_targets_file(path: str) -> list[Any]:
    """The targets of a .csv, .jsonl or .json file (not yet validated as targets).

    Raises:
        CliError: (exit code 2) the file cannot be read.
        InvalidFleetRequest: its name or content is not one of the formats.
    """
    from chalicelib.validation import format_of, parse_targets

    kind = format_of(path)
    try:
        # utf-8-sig: a spreadsheet's CSV export starts with a byte-order mark.
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}", EXIT_INVALID) from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text", EXIT_INVALID) from None
    return parse_targets(text, kind)


def merge_targets(request: Any, targets: list[Any]) -> Any:
    """The request with ``targets`` from a file (a non-object is left to validation).

    Raises:
        CliError: (exit code 2) the request names targets of its own.
    """
    if not isinstance(request, Mapping):
        return request
    for key in ("targets", "targets_location"):
        if key in request:
            raise CliError(
                f"the request has {key!r} and --targets was given: give the targets in one place",
                EXIT_INVALID,
            )
    return {**request, "targets": targets}


def travels_in_s3(request: Any) -> bool:
    """Whether the request's targets are too big for the execution's input (as the
    validation counts it: compact UTF-8 JSON), so they go to the fleet bucket."""
    from chalicelib.validation import MAX_FLEET_REQUEST_BYTES, json_size

    if not (isinstance(request, Mapping) and isinstance(request.get("targets"), list)):
        return False
    try:
        return json_size(request) > MAX_FLEET_REQUEST_BYTES
    except (RecursionError, ValueError):
        return False  # the validation names what is wrong with it


def validate(request: Any) -> dict[str, Any]:
    """The fleet request validated as the plan Lambda does; one whose targets travel in
    S3 (:func:`travels_in_s3`) is held to the targets file's size instead.

    Raises:
        InvalidFleetRequest: every problem at once.
    """
    from chalicelib.validation import MAX_TARGETS_FILE_BYTES, validate_fleet_request

    if travels_in_s3(request):
        return validate_fleet_request(request, max_bytes=MAX_TARGETS_FILE_BYTES)
    return validate_fleet_request(request)


def targets_jsonl(targets: list[Any]) -> bytes:
    lines = (json.dumps(t, ensure_ascii=False, separators=(",", ":")) for t in targets)
    return ("\n".join(lines) + "\n").encode("utf-8")


def with_location(request: Mapping[str, Any], bucket: str, key: str) -> dict[str, Any]:
    """The request to send: its targets replaced by where they are in S3."""
    sent = {k: v for k, v in request.items() if k != "targets"}
    sent["targets_location"] = f"s3://{bucket}/{key}"
    return sent


def upload_targets(s3: Any, bucket: str, request: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """Put the targets in ``s3://bucket/requests/<uuid>.jsonl`` (the bucket ``owner``, the
    caller's account, must own: ``ExpectedBucketOwner``); the request to send.

    Raises:
        CliError: the JSONL is bigger than a targets file may be (exit code 2), or S3
            refused it (exit code 3).
        InvalidFleetRequest: the request to send is invalid (checked before the upload).
    """
    from botocore.exceptions import ClientError

    from chalicelib.validation import MAX_TARGETS_FILE_BYTES, validate_fleet_request

    key = f"{REQUESTS_PREFIX}{uuid.uuid4()}.jsonl"
    body = targets_jsonl(list(request["targets"]))
    if len(body) > MAX_TARGETS_FILE_BYTES:
        raise CliError(
            f"the targets are {len(body):,} bytes as JSON Lines; at most "
            f"{MAX_TARGETS_FILE_BYTES:,} are accepted: split them into smaller fleets",
            EXIT_INVALID,
        )
    sent = with_location(request, bucket, key)
    validate_fleet_request(sent)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson",
                      ExpectedBucketOwner=owner)  # fmt: skip
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise CliError(
            f"cannot put the targets in s3://{bucket}/{key} ({code}): "
            "is the stage deployed in this account and region? Only the stage's roles, the "
            "principal that deployed it and those named by deploy.sh --bucket-writer may "
            "write fleet requests (docs/security.md)"
        ) from None
    return sent


def _rollout_request(args: argparse.Namespace) -> dict[str, Any]:
    request: dict[str, Any] = {
        "operation": "rollout",
        "catalogue_id": args.catalogue_id,
        "catalogue_version_id": args.catalogue_version_id,
        "max_concurrency": args.max_concurrency,
    }
    if args.account_id:
        request["accounts"] = args.account_id
    if args.region:
        request["regions"] = args.region
    if args.failure_tolerance is not None:
        tolerance = args.failure_tolerance
        request["failure_tolerance"] = int(tolerance) if tolerance.isdigit() else tolerance
    if args.stages:
        request["stages"] = [int(s) if s.isdigit() else s for s in args.stages.split(",")]
    if args.halt_on_alarm:
        request["halt_on_alarms"] = args.halt_on_alarm
    return request


def _request(args: argparse.Namespace) -> Any:
    if args.fleet_command == "rollout":
        return _rollout_request(args)
    request = load_json_file(args.request)
    if args.targets:
        request = merge_targets(request, read_targets_file(args.targets))
    return request


# -- following -------------------------------------------------------------------------
class FleetReader:
    """Looks at one fleet: its execution, its plan, its Map Run and its failures. What
    cannot be read (a Map Run API an emulator lacks, a table one may not read) becomes a
    note on the view, not an end: the fleet goes on either way."""

    def __init__(self, sfn: Any, store: CoordinationStore | None, execution_arn: str) -> None:
        self.sfn, self.store, self.execution_arn = sfn, store, execution_arn
        self.fleet_id = execution_arn.rsplit(":", 1)[-1]
        self.plan: dict[str, Any] | None = None
        self.note: str | None = None

    def describe(self) -> dict[str, Any]:
        return dict(self.sfn.describe_execution(executionArn=self.execution_arn))

    def read_plan(self) -> dict[str, Any] | None:
        from chalicelib.errors import CoordinationUnavailable
        from chalicelib.fleet.results import partition

        if self.plan is None and self.store is not None:
            try:
                found = list(self.store.query(partition(self.fleet_id), sort_prefix="plan"))
            except CoordinationUnavailable as error:
                self.note = _unreadable(error)
                return None
            self.plan = next((view.public(p) for p in found if p.get("sk") == "plan"), None)
        return self.plan

    def map_run(self) -> tuple[dict[str, Any] | None, Any]:
        """The ``itemCounts`` of the fleet's Map Runs so far (one per canary stage, summed)
        and when the first started, or ``(None, None)`` before one exists."""
        from botocore.exceptions import ClientError

        try:
            pages = self.sfn.get_paginator("list_map_runs").paginate(
                executionArn=self.execution_arn
            )
            runs = [run for page in pages for run in page.get("mapRuns", [])]
            if not runs:
                return None, None
            counts: dict[str, Any] = {}
            for run in runs:
                described = self.sfn.describe_map_run(mapRunArn=run["mapRunArn"])
                for key, value in (described.get("itemCounts") or {}).items():
                    if isinstance(value, int):
                        counts[key] = counts.get(key, 0) + value
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            self.note = f"the Map Run cannot be read ({code}): counts are the plan's"
            return None, None
        first = min(runs, key=lambda r: view.epoch(r.get("startDate")) or 0.0)
        return counts, first.get("startDate")

    def failures(self) -> list[dict[str, Any]] | None:
        """Every failed target recorded so far (the ``failed#`` items), or None."""
        from chalicelib.errors import CoordinationUnavailable
        from chalicelib.fleet import read_results

        if self.store is None:
            return None
        try:
            return [view.public(r) for r in read_results(self.store, self.fleet_id, True)]
        except CoordinationUnavailable as error:
            self.note = _unreadable(error)
            return None


def watch(
    reader: FleetReader,
    progress: view.FleetProgress,
    display: view.Quiet,
    *,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Look at the fleet every ``interval`` seconds until it ends; its last description."""
    while True:
        described = reader.describe()
        plan = reader.read_plan()
        counts, started = reader.map_run() if plan and plan.get("to_run") else (None, None)
        progress.update(
            now=clock(),
            status=str(described["status"]),
            started=described.get("startDate"),
            stopped=described.get("stopDate"),
            plan=plan,
            item_counts=counts,
            map_started=started,
        )
        progress.note = reader.note
        new: list[dict[str, Any]] = []
        if display.wants_failures and progress.wants_failures():
            new = progress.add_failures(reader.failures() or [])
        display.show(progress, new, clock())
        if progress.finished:
            return described
        sleep(interval)


def follow_fleet(
    sfn: Any,
    store: CoordinationStore | None,
    execution_arn: str,
    *,
    operation: str,
    out: Output,
    interval: float,
    results_command: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> int:
    """Show the fleet live until it ends, then its end; the exit code."""
    reader = FleetReader(sfn, store, execution_arn)
    progress = view.FleetProgress(execution_arn, operation=operation)
    with view.display(out) as display:
        described = watch(reader, progress, display, interval=interval, sleep=sleep, clock=clock)
        failed = reader.failures()
        display.show(progress, progress.add_failures(failed or []), clock())
    if failed is not None:
        failed = sorted(progress.failures.values(), key=lambda r: int(r.get("index", -1)))
    progress.note = reader.note
    return view.report_fleet(
        progress,
        described=described,
        failed=failed,
        out=out,
        now=clock(),
        results_command=results_command,
    )


# -- commands --------------------------------------------------------------------------
def _flags(context: AwsContext) -> str:
    """The global options the results of this fleet are read with (the stage comes from
    the execution's ARN)."""
    options = context.options
    flags = [" --local"] if options.local else []
    for flag, value in (
        ("--profile", options.profile),
        ("--aws-region", options.aws_region),
        ("--stack-name", options.stack_name),
    ):
        if value:
            flags.append(f" {flag} {value}")
    return "".join(flags)


def _fleet_bucket(context: AwsContext) -> str:
    bucket = context.resources().fleet_bucket
    if not bucket:
        raise CliError(f"{context.resources().found_by} name no fleet bucket (FleetBucketName)")
    return bucket


def cmd_fleet(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    from chalicelib.errors import InvalidFleetRequest

    try:
        request = _request(args)
        fleet = validate(request)
        if args.dry_run:
            from stax_orchestrator.fleet_dry_run import dry_run

            return dry_run(fleet, context, out)
        machine = context.state_machine_arn("fleet")
        if travels_in_s3(request):
            request = upload_targets(
                context.client("s3"), _fleet_bucket(context), request, context.account
            )
    except InvalidFleetRequest as error:
        print_refusal(error, "invalid fleet request", out)
        return EXIT_INVALID
    return _start_and_follow(context, out, args, machine, request, operation=fleet["operation"])


def _start_and_follow(
    context: AwsContext,
    out: Output,
    args: argparse.Namespace,
    machine: str,
    request: Mapping[str, Any],
    *,
    operation: str,
    name: str | None = None,
) -> int:
    """Start the fleet machine with ``request`` (named ``name``) and follow it."""
    sfn = context.client_for("stepfunctions", machine)
    body = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
    named = {"name": name} if name else {}
    arn = str(sfn.start_execution(stateMachineArn=machine, input=body, **named)["executionArn"])
    if args.no_wait:
        if out.as_json:
            out.json({"execution_arn": arn, "status": "RUNNING"})
        else:
            print(arn, file=out.stream)
        return EXIT_OK
    location = request.get("targets_location")
    out.say(f"started fleet {operation}: {arn}" + (f" (targets: {location})" if location else ""))
    command = f"stax-orchestrator fleet results {arn}{_flags(context)}"
    try:
        store = None
        with contextlib.suppress(CliError):  # a machine of another name: no results
            store = results_store(context, arn)
        return follow_fleet(
            sfn,
            store,
            arn,
            operation=operation,
            out=out,
            interval=args.interval,
            results_command=command,
        )
    except KeyboardInterrupt:
        out.error(f"interrupted: the fleet goes on; its results: {command}")
        return EXIT_INTERRUPTED


#: The execution statuses a fleet can be resumed from (it ended without finishing).
RESUMABLE = ("FAILED", "ABORTED", "TIMED_OUT")


def cmd_resume(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    """``fleet resume EXECUTION``: the same request again, as a new execution of the stage's
    fleet machine: the targets already done are skipped (the plan finds them in Stax),
    the stages and brakes of the request apply again to what is left."""
    from chalicelib.errors import InvalidFleetRequest

    arn = execution_arn_of(context, args.execution)
    machine = context.state_machine_arn("fleet")
    described = context.client_for("stepfunctions", arn).describe_execution(executionArn=arn)
    if described.get("stateMachineArn") != machine:
        raise CliError(f"{arn} is not an execution of the stage's fleet machine ({machine})",
                       EXIT_INVALID)  # fmt: skip
    status = described.get("status")
    if status not in RESUMABLE:
        raise CliError(
            f"{arn} is {status}: only a fleet that ended without finishing ("
            f"{', '.join(RESUMABLE)}) can be resumed", EXIT_INVALID,
        )  # fmt: skip
    try:
        request = json.loads(described.get("input") or "null")
    except ValueError:
        request = None
    if isinstance(request, Mapping) and request.get("operation") == "apply":
        raise CliError(
            "a baseline's fleet resumes with `stax-orchestrator apply FILE` (it plans again "
            "from what Stax holds now)", EXIT_INVALID,
        )  # fmt: skip
    try:
        fleet = validate(request)
    except InvalidFleetRequest as error:
        print_refusal(error, "the fleet's request can no longer run", out)
        return EXIT_INVALID
    name = f"{arn.rsplit(':', 1)[-1][:60]}-resume-{uuid.uuid4().hex[:8]}"
    return _start_and_follow(
        context, out, args, machine, request, operation=fleet["operation"], name=name
    )


def read_fleet_results(store: CoordinationStore, fleet_id: str, status: str | None) -> list:
    """The fleet's results (all pages), of one status if given (failures: ``failed#``).

    Raises:
        CliError: (exit code 2) the store knows no such fleet; (3) it cannot be read.
    """
    from chalicelib.errors import CoordinationUnavailable
    from chalicelib.fleet import read_results
    from chalicelib.fleet.results import FAILED, partition

    try:
        rows = [
            view.public(r)
            for r in read_results(store, fleet_id, failed_only=status == FAILED)
            if status is None or r.get("status") == status
        ]
        if not rows and not any(store.query(partition(fleet_id), sort_prefix="plan")):
            raise CliError(
                f"no fleet {fleet_id!r} in table {store.table_name} (results are kept "
                "90 days; is the stage right?)",
                EXIT_INVALID,
            )
    except CoordinationUnavailable as error:
        raise CliError(_unreadable(error)) from None
    return rows


def cmd_results(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    if out.as_json and args.csv:
        raise CliError("give --json or --csv, not both", EXIT_INVALID)
    arn = execution_arn_of(context, args.execution)
    store = results_store(context, arn)
    fleet_id = arn.rsplit(":", 1)[-1]
    rows = read_fleet_results(store, fleet_id, args.status.upper() if args.status else None)
    if out.as_json:
        out.json(rows)
    elif args.csv:
        writer = csv.writer(out.stream, lineterminator="\n")
        writer.writerow(view.CSV_COLUMNS)
        writer.writerows(view.csv_row(row) for row in rows)
    else:
        which = f" ({args.status.replace('_', ' ')})" if args.status else ""
        out.console.print(view.results_table(rows, f"fleet {fleet_id}{which}"))
        out.say(f"execution: {arn}")
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``fleet`` and its subcommands to the top-level subparsers."""
    fleet = sub.add_parser("fleet", help="one operation over many accounts and regions")
    fleet_sub = fleet.add_subparsers(dest="fleet_command", required=True, metavar="SUBCOMMAND")
    run = fleet_sub.add_parser("run", parents=[common], help="run a fleet request, live")
    run.add_argument("request", help="the fleet request (JSON; - for stdin)")
    run.add_argument(
        "--targets", metavar="FILE", help="the targets of a create, from a .csv, .jsonl or .json"
    )
    rollout = fleet_sub.add_parser(
        "rollout", parents=[common], help="update every live workload of a catalogue to a version"
    )
    rollout.add_argument("--catalogue-id", required=True, help="the catalogue item (UUID)")
    rollout.add_argument(
        "--catalogue-version-id", required=True, help="the version to roll out (UUID)"
    )
    rollout.add_argument(
        "--account-id", action="append", help="only workloads in this account (repeatable)"
    )
    rollout.add_argument(
        "--region", action="append", help="only workloads in this region (repeatable)"
    )
    rollout.add_argument(
        "--max-concurrency", type=int, default=5, help="targets at a time (default 5)"
    )
    rollout.add_argument("--failure-tolerance", help="a count, or a percentage like 20%%")
    rollout.add_argument(
        "--stages",
        metavar="N,P%,...,100%",
        help="canary stages: cumulative sizes, the last 100%% (e.g. 1,25%%,100%%)",
    )
    rollout.add_argument(
        "--halt-on-alarm",
        action="append",
        metavar="ALARM",
        help="halt before a stage while this CloudWatch alarm is in ALARM (repeatable)",
    )
    resume = fleet_sub.add_parser(
        "resume", parents=[common], help="run a halted or failed fleet again, for what is left"
    )
    resume.add_argument("execution", metavar="EXECUTION", help="fleet execution ARN, or name")
    resume.add_argument("--no-wait", action="store_true", help="print the ARN and return")
    resume.add_argument(
        "--interval", type=float, default=2.0, help="seconds between looks (default 2)"
    )
    resume.set_defaults(handler=cmd_resume)
    for parser in (run, rollout):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print what each target would do (read from Stax); start nothing",
        )
        parser.add_argument("--no-wait", action="store_true", help="print the ARN and return")
        parser.add_argument(
            "--interval", type=float, default=2.0, help="seconds between looks (default 2)"
        )
        parser.set_defaults(handler=cmd_fleet)
    results = fleet_sub.add_parser(
        "results", parents=[common], help="the per-target results of a fleet"
    )
    results.add_argument("execution", metavar="EXECUTION", help="fleet execution ARN, or name")
    results.add_argument(
        "--status",
        choices=RESULT_STATUSES,
        type=str.lower,  # FAILED as Step Functions writes statuses, failed as the table does
        help="only targets of this status (any case)",
    )
    results.add_argument("--csv", action="store_true", help="CSV with a header row")
    results.set_defaults(handler=cmd_results)
    fleet_list.register(fleet_sub, common)
