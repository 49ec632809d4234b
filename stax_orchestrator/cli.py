"""``stax-orchestrator``: start workload operations and follow them live.

Role: the command-line tool (not part of the Lambda package). It validates a payload
with the same rules (``chalicelib.validation``) as the ``validate_input`` Lambda before
anything is sent, starts the workload state machine, and follows the execution: current state, the
Stax task's status, poll count and elapsed time. It works against real AWS (the default
credential chain) and against the local stack (``--local``).

Exit codes: 0 succeeded; 1 the operation failed (or timed out / was aborted);
2 bad input (nothing was started); 3 a configuration problem (no state machine, no
credentials, a missing SSM parameter).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stax_orchestrator.deploy import FUNCTIONS

if TYPE_CHECKING:
    from chalicelib.errors import InvalidWorkloadRequest

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_CONFIG = 0, 1, 2, 3
ROOT = Path(__file__).resolve().parent.parent


class CliError(Exception):
    """A problem the user fixes before anything runs; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.code = code


# -- output ----------------------------------------------------------------------
def literal(value: object) -> str:
    """``value`` as text that rich prints as it is, for inserting into markup.

    Whatever a user (or Stax, or a cause) wrote -- field names such as a tag key ``[/x]``,
    workload names, messages, log lines -- is never read as rich markup: ``[bold]`` prints
    as ``[bold]``, and ``[/x]`` does not raise MarkupError.
    """
    from rich.markup import escape

    return escape(str(value))


class Output:
    """Human output (rich on a terminal, plain lines otherwise) or JSON."""

    def __init__(self, as_json: bool, stream: Any = None) -> None:
        from rich.console import Console

        self.as_json = as_json
        self.stream = stream or sys.stdout
        # emoji=False: a ":name:" in user text (a tag key, a cause) stays as it is.
        self.console = Console(file=self.stream, highlight=False, soft_wrap=True, emoji=False)
        if not self.console.is_terminal:
            # Logs and pipes get whole lines (ARNs are long), not an 80-column layout.
            self.console.width = 200
        self.live = self.console.is_terminal and not as_json

    def json(self, body: Any) -> None:
        self.stream.write(json.dumps(body, indent=2, default=str) + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        """Print plain text (no markup is read in it)."""
        if not self.as_json:
            self.console.print(text, markup=False)

    def error(self, text: str) -> None:
        """Print an error; ``text`` is plain (it often quotes the user's input)."""
        if self.as_json:
            self.json({"error": text})
        else:
            self.console.print(f"[bold red]error:[/] {literal(text)}")


# -- configuration ---------------------------------------------------------------
def _aws_client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def state_machine_arn(args: argparse.Namespace, kind: str = "workload") -> str:
    """The ARN from ``--state-machine-arn`` or ``.chalice/deployed/<stage>-statemachines.json``.

    Raises:
        CliError: the stage was never deployed from this checkout.
    """
    explicit = getattr(args, "state_machine_arn", None)
    if explicit and kind == "workload":
        return str(explicit)
    for base in (Path.cwd(), ROOT):
        recorded = base / ".chalice" / "deployed" / f"{args.stage}-statemachines.json"
        if recorded.exists():
            return str(json.loads(recorded.read_text())[kind])
    raise CliError(
        f"no deployed stage {args.stage!r} found "
        f"(.chalice/deployed/{args.stage}-statemachines.json):"
        f" run ./deploy.sh --stage {args.stage}, or pass --state-machine-arn"
    )


# -- payloads --------------------------------------------------------------------
def _pairs(values: Sequence[str] | None, flag: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"{flag} takes KEY=VALUE, got {item!r}", EXIT_INVALID)
        result[key] = value
    return result


def payload_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The workload request the ``create``/``update``/``delete`` flags describe."""
    payload: dict[str, Any] = {"operation": args.command}
    if args.command == "create":
        payload.update(
            aws_account_id=args.account_id,
            aws_region=args.region,
            catalogue_id=args.catalogue_id,
            workload_name=args.name,
            workload_parameters=_pairs(args.param, "--param"),
            workload_tags=_pairs(args.tag, "--tag"),
        )
        if args.catalogue_version_id:
            payload["catalogue_version_id"] = args.catalogue_version_id
        return payload
    payload["workload_id"] = args.workload_id
    if args.command == "update":
        if args.catalogue_version_id:
            payload["catalogue_version_id"] = args.catalogue_version_id
        if args.param:
            payload["workload_parameters"] = _pairs(args.param, "--param")
        if args.tag:
            payload["workload_tags"] = _pairs(args.tag, "--tag")
        if args.protection is not None:
            payload["protection"] = args.protection
    return payload


def load_payload_file(path: str) -> Any:
    """The JSON in ``path`` (``-``: stdin).

    Raises:
        CliError: (exit code 2) the file cannot be read, is not JSON, or is nested too
            deeply for Python's JSON parser (``json.loads`` raises RecursionError near
            1,000 levels; the validation refuses far fewer, so nothing valid is lost).
    """
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}", EXIT_INVALID) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise CliError(
            f"{path} is nested too deeply to read as JSON (objects and arrays inside one "
            "another, hundreds of levels deep); send a flat JSON object as in the README",
            EXIT_INVALID,
        ) from None
    except ValueError as error:
        raise CliError(f"{path} is not JSON: {error}", EXIT_INVALID) from None


def validate_locally(payload: Any, out: Output) -> dict[str, Any]:
    """The same validation as the ``validate_input`` Lambda; nothing starts on failure."""
    from chalicelib.errors import InvalidWorkloadRequest
    from chalicelib.validation import load_workload_request

    try:
        return load_workload_request(payload)
    except InvalidWorkloadRequest as error:
        print_refusal(error, "invalid request", out)
        raise SystemExit(EXIT_INVALID) from None


def print_refusal(error: InvalidWorkloadRequest, title: str, out: Output) -> None:
    """A validation refusal, field by field; nothing of the user's is read as markup."""
    if out.as_json:
        out.json({"status": "INVALID", **error.as_dict()})
        return
    out.console.print(f"[bold red]✘ {title}:[/] {literal(error.message)}")
    for field, messages in (error.details.get("errors") or {}).items():
        for message in messages:
            out.console.print(f"  [bold]{literal(field)}[/]: {literal(message)}")
    out.console.print("Nothing was started.")


# -- following -------------------------------------------------------------------
def _line(progress: Any) -> str:
    task = f"task={progress.task_status}" if progress.task_status else "task=-"
    return (
        f"{progress.elapsed_seconds():7.1f}s  {progress.state or 'starting':<28} "
        f"{task:<16} polls={progress.polls}"
    )


@contextlib.contextmanager
def _display(out: Output) -> Iterator[Any]:
    """A callback that shows progress: a live panel on a terminal, lines otherwise."""
    if out.as_json:
        yield lambda progress: None
        return
    if not out.live:
        last: list[tuple[Any, ...]] = []

        def plain(progress: Any) -> None:
            key = (progress.state, progress.task_status, progress.polls, progress.status)
            if not last or last[-1] != key:
                last.append(key)
                out.say(_line(progress))

        yield plain
        return
    from rich.live import Live
    from rich.spinner import Spinner
    from rich.table import Table

    def view(progress: Any) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_row(
            Spinner("dots"),
            f"[bold]{literal(progress.operation or 'operation')}[/] "
            f"{literal(progress.workload_name or progress.workload_id or '')}",
        )
        grid.add_row("", f"state      [cyan]{literal(progress.state or 'starting')}[/]")
        grid.add_row(
            "",
            f"Stax task  [magenta]{literal(progress.task_status or '-')}[/]  "
            f"polls {progress.polls}",
        )
        grid.add_row("", f"elapsed    {progress.elapsed_seconds():.1f}s")
        return grid

    with Live(console=out.console, refresh_per_second=8, transient=True) as live:
        yield lambda progress: live.update(view(progress))


def report(progress: Any, out: Output) -> int:
    """Print the end of an execution; returns the exit code."""
    if out.as_json:
        out.json(progress.as_dict())
        return EXIT_OK if progress.status == "SUCCEEDED" else EXIT_FAILED
    from rich.table import Table

    duration = progress.elapsed_seconds()
    if progress.status == "SUCCEEDED":
        out.console.print(
            f"[bold green]✔ {literal(progress.operation)} succeeded[/] in {duration:.1f}s"
        )
        table = Table(show_header=False, box=None, padding=(0, 2))
        for label, value in (
            ("workload id", progress.workload_id),
            ("workload name", progress.workload_name),
            ("task id", progress.task_id),
            ("task polls", progress.polls),
            ("execution", progress.execution_arn),
        ):
            table.add_row(label, literal(value))
        out.console.print(table)
        return EXIT_OK
    out.console.print(
        f"[bold red]✘ {literal(progress.operation or 'operation')} {literal(progress.status)}[/] "
        f"after {duration:.1f}s: "
        f"[bold]{literal(progress.error or progress.status)}[/]"
    )
    cause = progress.cause_details()
    if cause:
        for key, value in cause.items():
            if key in ("logs_tail", "error"):
                continue
            shown = value if isinstance(value, str) else json.dumps(value)
            out.console.print(f"  {key}: {shown}", markup=False)
    elif progress.cause:
        out.console.print(f"  {progress.cause}", markup=False)
    if progress.logs_tail:
        out.console.print("  Stax task log (last lines):")
        for line in progress.logs_tail[-10:]:
            out.console.print(f"    {line}", markup=False)
    out.console.print(f"  execution: {progress.execution_arn}", markup=False)
    return EXIT_FAILED


def follow_execution(sfn: Any, arn: str, out: Output, interval: float) -> int:
    from stax_orchestrator.follow import follow

    with _display(out) as show:
        progress = follow(sfn, arn, show, interval=interval)
    return report(progress, out)


# -- commands --------------------------------------------------------------------
def cmd_start(args: argparse.Namespace, out: Output) -> int:
    payload = load_payload_file(args.payload) if args.command == "run" else payload_from_flags(args)
    request = validate_locally(payload, out)
    arn = state_machine_arn(args)
    sfn = _aws_client("stepfunctions")
    kwargs: dict[str, Any] = {"stateMachineArn": arn, "input": json.dumps(payload)}
    if args.execution_name:
        kwargs["name"] = args.execution_name
    execution = sfn.start_execution(**kwargs)["executionArn"]
    if args.no_wait:
        if out.as_json:
            out.json(
                {"execution_arn": execution, "status": "RUNNING", "operation": request["operation"]}
            )
        else:
            print(execution, file=out.stream)
        return EXIT_OK
    out.say(f"started {request['operation']}: {execution}")
    return follow_execution(sfn, execution, out, args.interval)


def cmd_watch(args: argparse.Namespace, out: Output) -> int:
    return follow_execution(_aws_client("stepfunctions"), args.execution_arn, out, args.interval)


def cmd_list(args: argparse.Namespace, out: Output) -> int:
    sfn = _aws_client("stepfunctions")
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn(args), "maxResults": args.limit}
    if args.status:
        kwargs["statusFilter"] = args.status
    executions = sfn.list_executions(**kwargs)["executions"]
    rows = []
    for execution in executions:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        request = json.loads(described.get("input") or "{}")
        succeeded = described["status"] == "SUCCEEDED"
        output = json.loads(described.get("output") or "null") if succeeded else {}
        start, stop = described["startDate"], described.get("stopDate")
        rows.append(
            {
                "execution_arn": execution["executionArn"],
                "name": execution["name"],
                "operation": request.get("operation") if isinstance(request, dict) else None,
                "workload": (
                    output.get("workload_name")
                    or request.get("workload_name")
                    or request.get("workload_id")
                )
                if isinstance(request, dict)
                else None,
                "status": described["status"],
                "error": described.get("error"),
                "started": start.isoformat(),
                "duration_seconds": round((stop - start).total_seconds(), 1) if stop else None,
            }
        )
    if out.as_json:
        out.json(rows)
        return EXIT_OK
    from rich.table import Table

    table = Table(title="recent workload operations")
    for column in ("started", "operation", "workload", "status", "duration", "execution"):
        table.add_column(column)
    for row in rows:
        status = row["status"] + (f" ({row['error']})" if row["error"] else "")
        duration = "-" if row["duration_seconds"] is None else f"{row['duration_seconds']}s"
        table.add_row(
            row["started"][:19],
            literal(row["operation"]),
            literal(row["workload"]),
            literal(status),
            duration,
            literal(row["name"]),
        )
    out.console.print(table)
    return EXIT_OK


def cmd_history(args: argparse.Namespace, out: Output) -> int:
    from stax_orchestrator.follow import child_execution_arn, execution_history, state_timings

    sfn = _aws_client("stepfunctions")
    events = execution_history(sfn, args.execution_arn)
    rows = state_timings(events)
    child = child_execution_arn(events)
    child_rows = state_timings(execution_history(sfn, child)) if child else []
    if out.as_json:
        out.json(
            {
                "execution_arn": args.execution_arn,
                "states": rows,
                "task_watcher": {"execution_arn": child, "states": child_rows},
            }
        )
        return EXIT_OK
    from rich.table import Table

    for title, items in (("workload execution", rows), ("task watcher", child_rows)):
        if not items:
            continue
        table = Table(title=title)
        for column in ("+s", "state", "seconds", "result"):
            table.add_column(column, justify="right" if column in ("+s", "seconds") else "left")
        for row in items:
            seconds = "-" if row["seconds"] is None else f"{row['seconds']:.2f}"
            table.add_row(
                f"{row['entered']:.2f}", literal(row["state"]), seconds, literal(row["result"])
            )
        out.console.print(table)
    return EXIT_OK


def cmd_invoke(args: argparse.Namespace, out: Output) -> int:
    from chalice.test import Client

    from chalicelib.errors import OrchestratorError

    if args.function not in FUNCTIONS:
        raise CliError(
            f"unknown function {args.function!r}; one of {', '.join(FUNCTIONS)}", EXIT_INVALID
        )
    event = load_payload_file(args.event)
    sys.path.insert(0, str(ROOT))
    import app as chalice_app  # the project's own app.py

    try:
        with Client(chalice_app.app, stage_name=args.stage, project_dir=str(ROOT)) as client:
            result = client.lambda_.invoke(args.function, event)
    except OrchestratorError as error:
        if out.as_json:
            out.json({"errorType": type(error).__name__, "error": error.as_dict()})
        else:
            out.console.print(f"[bold red]✘ {type(error).__name__}[/]")
            out.console.print(json.dumps(error.as_dict(), indent=2), markup=False)
        return EXIT_FAILED
    out.json(result.payload)
    return EXIT_OK


def _stax_gateway() -> Any:
    from chalicelib import settings
    from chalicelib.stax import SsmCredentials, StaxAccess

    config = settings.stax_settings()
    credentials = SsmCredentials(
        lambda: _aws_client("ssm"), config.access_key_parameter, config.secret_key_parameter, 0
    )
    return StaxAccess(config, credentials)


def cmd_catalogue(args: argparse.Namespace, out: Output) -> int:
    from chalicelib.errors import (
        OrchestratorError,
        StaxAuthenticationFailed,
        StaxCredentialsMissing,
    )
    from stax_orchestrator import catalogue

    try:
        with _stax_gateway().session() as stax:
            if args.catalogue_command == "list":
                items = catalogue.list_items(stax)
                if out.as_json:
                    out.json(items)
                else:
                    from rich.table import Table

                    table = Table(title="workload catalogue")
                    for column in ("catalogue id", "name", "versions", "latest version id"):
                        table.add_column(column)
                    for item in items:
                        table.add_row(
                            literal(item["catalogue_id"]),
                            literal(item["name"]),
                            literal(", ".join(item["versions"])),
                            literal(item["latest_version_id"]),
                        )
                    out.console.print(table)
                return EXIT_OK
            result = catalogue.publish(
                stax,
                _aws_client("s3"),
                catalogue.artifact_bucket(_aws_client("ssm")),
                Path(args.template),
                name=args.name,
                catalogue_id=args.catalogue_id,
                description=args.description,
                version=args.version,
            )
    except (StaxAuthenticationFailed, StaxCredentialsMissing) as error:
        out.error(f"{type(error).__name__}: {error}")
        return EXIT_CONFIG
    except OrchestratorError as error:
        out.error(f"{type(error).__name__}: {error}")
        return EXIT_FAILED
    except catalogue.CatalogueError as error:
        raise CliError(str(error), EXIT_INVALID) from None
    if out.as_json:
        out.json(result)
    else:
        out.console.print(
            f"[bold green]✔ published[/] {literal(result['name'])} "
            f"{literal(result['version'])}  "
            f"catalogue id [bold]{literal(result['catalogue_id'])}[/]  "
            f"version id [bold]{literal(result['catalogue_version_id'])}[/]"
        )
        out.console.print(f"  template: {result['template_url']}", markup=False)
    return EXIT_OK


def _token_parameters(args: argparse.Namespace) -> Any:
    """The stage's parameter names: flags, else the stage's configuration in this
    checkout (as Chalice resolves it), else the defaults."""
    from chalicelib import settings
    from stax_orchestrator.token_store import TokenParameters

    names = settings.stax_settings({})
    access, secret = names.access_key_parameter, names.secret_key_parameter
    with contextlib.suppress(Exception):  # outside a checkout there is no stage config
        from stax_orchestrator.deploy.stage import load_stage

        access, secret = load_stage(args.stage).token_parameters
    return TokenParameters(args.access_key_parameter or access, args.secret_key_parameter or secret)


def cmd_setup(args: argparse.Namespace, out: Output) -> int:
    from chalicelib import settings
    from stax_orchestrator.token_store import TokenStoreError, store_token

    access_key = os.environ.get("STAX_ACCESS_KEY") or args.access_key
    secret = os.environ.get("STAX_SECRET_KEY")
    interactive = sys.stdin.isatty()
    if not access_key and interactive:
        access_key = input("Stax API token access key: ").strip()
    if not secret and interactive:
        secret = getpass.getpass("Stax API token secret (not shown): ")
    if not access_key or not secret:
        raise CliError(
            "no API token: set STAX_ACCESS_KEY and STAX_SECRET_KEY, or run setup in a terminal",
            EXIT_INVALID,
        )
    names = _token_parameters(args)
    ssm = _aws_client("ssm")
    try:
        written = store_token(ssm, names, access_key, secret, args.kms_key_id)
    except TokenStoreError as error:
        raise CliError(str(error), EXIT_CONFIG) from None
    if args.bucket:
        name = settings.artifact_bucket_parameter({})
        ssm.put_parameter(Name=name, Value=args.bucket, Type="String", Overwrite=True)
        written.append(name)
    if out.as_json:
        out.json({"written": written})
    else:
        for name in written:
            out.console.print(f"[green]✔[/] wrote {literal(name)}")
        out.console.print("The secret is stored as a SecureString; it is never printed.")
    return EXIT_OK


# -- argument parsing ------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:  # noqa: PLR0915 - one statement per option
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--local", action="store_true", help="use the local stack (MiniStack + simulator)"
    )
    common.add_argument(
        "--stage",
        help="Chalice stage whose state machines to use (default: dev, or local with --local)",
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")

    parser = argparse.ArgumentParser(prog="stax-orchestrator", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def starter(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text)
        p.add_argument(
            "--state-machine-arn", help="the workload state machine (default: from the stage)"
        )
        p.add_argument("--no-wait", action="store_true", help="print the execution ARN and return")
        p.add_argument(
            "--execution-name", help="a name for the execution (unique per state machine)"
        )
        p.add_argument(
            "--interval", type=float, default=1.0, help="seconds between looks (default 1)"
        )
        p.set_defaults(handler=cmd_start)
        return p

    run = starter("run", "start an operation from a payload file (- for stdin) and follow it")
    run.add_argument("payload")

    create = starter("create", "create a workload")
    create.add_argument("--account-id", required=True, help="Stax account id (UUID)")
    create.add_argument("--region", required=True, help="AWS region, e.g. ap-southeast-2")
    create.add_argument("--catalogue-id", required=True)
    create.add_argument("--catalogue-version-id")
    create.add_argument("--name", required=True, help="workload name")
    create.add_argument("--param", action="append", metavar="KEY=VALUE")
    create.add_argument("--tag", action="append", metavar="KEY=VALUE")

    update = starter("update", "update a workload")
    update.add_argument("--workload-id", required=True)
    update.add_argument("--catalogue-version-id")
    update.add_argument("--param", action="append", metavar="KEY=VALUE")
    update.add_argument("--tag", action="append", metavar="KEY=VALUE")
    update.add_argument("--protection", action=argparse.BooleanOptionalAction, default=None)

    delete = starter("delete", "delete a workload")
    delete.add_argument("--workload-id", required=True)

    watch = sub.add_parser("watch", parents=[common], help="follow an existing execution")
    watch.add_argument("execution_arn")
    watch.add_argument("--interval", type=float, default=1.0)
    watch.set_defaults(handler=cmd_watch)

    listing = sub.add_parser("list", parents=[common], help="recent workload operations")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument(
        "--status", choices=["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
    )
    listing.add_argument("--state-machine-arn")
    listing.set_defaults(handler=cmd_list)

    hist = sub.add_parser(
        "history", parents=[common], help="states an execution entered, with timings"
    )
    hist.add_argument("execution_arn")
    hist.set_defaults(handler=cmd_history)

    invoke = sub.add_parser(
        "invoke", parents=[common], help="run one Lambda in-process (chalice.test.Client)"
    )
    invoke.add_argument("function", choices=FUNCTIONS)
    invoke.add_argument("event", help="event JSON file (- for stdin)")
    invoke.set_defaults(handler=cmd_invoke)

    cat = sub.add_parser("catalogue", help="the Stax workload catalogue")
    cat_sub = cat.add_subparsers(dest="catalogue_command", required=True, metavar="SUBCOMMAND")
    publish = cat_sub.add_parser(
        "publish", parents=[common], help="upload a CloudFormation template and publish it"
    )
    publish.add_argument("template")
    publish.add_argument("--name", required=True, help="catalogue item name")
    publish.add_argument("--catalogue-id", help="publish a new version of this item")
    publish.add_argument("--description", help="description (default: the template's)")
    publish.add_argument("--version", help="version label (default: next patch version, or 1.0.0)")
    cat_list = cat_sub.add_parser(
        "list", parents=[common], help="catalogue items and their versions"
    )
    for p in (publish, cat_list):
        p.set_defaults(handler=cmd_catalogue)

    from stax_orchestrator import fleet_cli

    fleet_cli.register(sub, common)

    setup = sub.add_parser("setup", parents=[common], help="store the Stax API token in SSM")
    setup.add_argument(
        "--access-key", help="the token's access key (default: STAX_ACCESS_KEY, or a prompt)"
    )
    setup.add_argument("--access-key-parameter", help="SSM name (default: the stage's)")
    setup.add_argument("--secret-key-parameter", help="SSM name (default: the stage's)")
    setup.add_argument("--kms-key-id", help="encrypt both with this customer-managed KMS key")
    setup.add_argument("--bucket", help="artifact bucket name to store in SSM")
    setup.set_defaults(handler=cmd_setup)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.local:
        from stax_orchestrator.local_env import apply_local_env

        apply_local_env()
    args.stage = args.stage or ("local" if args.local else "dev")
    out = Output(args.json)
    try:
        return int(args.handler(args, out))
    except CliError as error:
        out.error(str(error))
        return error.code
    except SystemExit as done:
        return int(done.code or 0)
    except KeyboardInterrupt:
        out.error("interrupted (the execution, if started, goes on; follow it with `watch`)")
        return 130
    except _credential_errors() as error:
        out.error(f"AWS credentials or endpoint problem: {error}")
        return EXIT_CONFIG
    except _client_errors() as error:
        # e.g. a state machine deleted since deploy, expired or denied credentials.
        out.error(f"AWS refused the call: {error}")
        return EXIT_CONFIG


def _client_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import ClientError

    return (ClientError,)


def _credential_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError

    return (NoCredentialsError, NoRegionError, EndpointConnectionError)


if __name__ == "__main__":
    sys.exit(main())
