"""The ``stax-orchestrator`` command line: its parser and its entry point, nothing else.

Role: the console script (not part of the Lambda package). ``build_parser`` puts the
global options and the command groups together -- workload operations
(:mod:`~stax_orchestrator.commands_workload`), ``catalogue``, ``setup``, ``fleet``,
``baseline``, ``stage`` -- and
``main`` parses, keeps log events behind ``--verbose``, builds the one
:class:`~stax_orchestrator.context.AwsContext` from the global options, runs the
command with it and turns what went wrong into a message and an exit code
(:mod:`~stax_orchestrator.console`). It works against real AWS (the default credential
chain, or ``--profile``) and against the local stack (``--local``), from any directory.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from stax_orchestrator import (
    __version__,
    cli_help,
    commands_baseline,
    commands_catalogue,
    commands_completion,
    commands_fleet,
    commands_setup,
    commands_stage,
    commands_workload,
    inventory,
)
from stax_orchestrator.console import (
    EXIT_CONFIG,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    OUTPUT_FORMATS,
    CliError,
    Output,
    configure_logging,
)
from stax_orchestrator.context import AwsContext, Options

DESCRIPTION = """\
Create, update and delete Stax workloads through the orchestrator's AWS Step
Functions state machines, and follow each operation live."""
EPILOG = """\
The global options may also follow the command (stax-orchestrator list --local).
A stage's state machines, table and bucket are found in the Outputs of its
CloudFormation stack: stax-orchestrator-<stage> in the caller's AWS account and region,
or the stack --stack-name names (stax-orchestrator stage status shows it).

exit codes: 0 succeeded; 1 the operation failed; 2 bad input (nothing was started);
3 configuration (no deployed stage, no credentials, AWS refused a call)."""


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes, before or after its name.

    After the name they are ``SUPPRESS``-ed: argparse copies a subcommand's defaults
    over what the top level parsed, so ``--local list`` would otherwise lose ``--local``.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--profile", default=default(None), help="AWS profile (default: the credential chain)"
    )
    group.add_argument(
        "--aws-region",
        default=default(None),
        metavar="REGION",
        help="the AWS region the stage is deployed in (not a workload's --region)",
    )
    group.add_argument(
        "--stage",
        default=default(None),
        help="the stage whose state machines to use (default: STAX_ORCHESTRATOR_STAGE, else dev; "
        "local with --local)",
    )
    group.add_argument(
        "--stack-name",
        default=default(None),
        metavar="NAME",
        help="the stage's CloudFormation stack (default: stax-orchestrator-<stage>)",
    )
    group.add_argument(
        "--local",
        action="store_true",
        default=default(False),
        help="use the local stack (MiniStack + the Stax simulator)",
    )
    group.add_argument(
        "--output",
        choices=OUTPUT_FORMATS,
        default=default(None),
        help="table (default, for people), or the command's data as json, yaml or text "
        "(tab-separated, as the AWS CLI's)",
    )
    group.add_argument(
        "--json", action="store_true", default=default(False), help="the same as --output json"
    )
    group.add_argument(
        "--query",
        default=default(None),
        metavar="JMESPATH",
        help="print only what this JMESPath expression selects from the data (as the AWS "
        "CLI's --query; implies --output json unless another format is named)",
    )
    group.add_argument(
        "--no-color",
        action="store_true",
        default=default(False),
        help="no colour or styles (as NO_COLOR=1 does)",
    )
    group.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        default=default(False),
        help="also show log events and library warnings (on stderr)",
    )


class Parser(argparse.ArgumentParser):
    """argparse without abbreviations of long options (``--aws-reg`` is not
    ``--aws-region``): an option added later must not change what a script meant. Every
    sub-command's parser is one too (argparse makes them of the parent's class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """A usage error: exit 2, except under ``plan --detailed-exitcode``, where 2 means
        "changes" and every error is 1 (as Terraform)."""
        self.print_usage(sys.stderr)
        code = 1 if "--detailed-exitcode" in sys.argv[1:] else 2
        self.exit(code, f"{self.prog}: error: {message}\n{_habit_hint(message)}")


#: AWS CLI habits this CLI spells differently: the option, and what to use instead.
_HABITS = {
    "--region": "the stage's region is --aws-region (--region is a workload's, on create "
    "and fleet rollout)",
    "--endpoint-url": "set AWS_ENDPOINT_URL, or --local for the local stack",
}


def _habit_hint(message: str) -> str:
    """A pointer for an AWS CLI habit the error names (empty when none)."""
    for option, hint in _HABITS.items():
        if re.search(rf"(^|\s|: ){re.escape(option)}(\s|=|$)", message):
            return f"hint: {option}: {hint}\n"
    return ""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="stax-orchestrator",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _global_options(parser, suppress=False)
    common = Parser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands_workload.register(sub, common)
    commands_catalogue.register(sub, common)
    commands_fleet.register(sub, common)
    commands_baseline.register(sub, common)
    commands_setup.register(sub, common)
    commands_completion.register(sub, common)
    commands_stage.register(sub, common)
    inventory.register(sub, common)
    cli_help.apply(parser)
    return parser


def output_of(args: argparse.Namespace) -> Output:
    """``--output`` / ``--json`` / ``--query`` as the Output of this run.

    Raises:
        CliError: (exit code 2) ``--json`` with another ``--output``, or a ``--query``
            that is not JMESPath.
    """
    fmt = args.output
    if args.json and fmt not in (None, "json"):
        raise CliError(f"--json is --output json: leave out one of --json, --output {fmt}",
                       EXIT_INVALID)  # fmt: skip
    query = None
    if args.query is not None:
        import jmespath
        from jmespath.exceptions import JMESPathError

        try:
            query = jmespath.compile(args.query)
        except JMESPathError as error:
            raise CliError(f"--query is not a JMESPath expression: {error}", EXIT_INVALID) from None
        if fmt == "table":
            raise CliError("--query selects from the data: use --output json, yaml or text",
                           EXIT_INVALID)  # fmt: skip
    chosen = fmt or ("json" if args.json or query is not None else "table")
    return Output(fmt=chosen, query=query)


#: The stage when no --stage (or --local) is given, as AWS_PROFILE is the profile; the
#: local stack's environment (``make -s local-env``) sets it to ``local``.
STAGE_VARIABLE = "STAX_ORCHESTRATOR_STAGE"


def options_of(args: argparse.Namespace) -> Options:
    """The global options as the context takes them.

    Raises:
        CliError: (exit code 2) options that contradict each other.
    """
    if args.local and args.profile:
        raise CliError(
            "--local uses the local stack's own credentials: leave out --profile", EXIT_INVALID
        )
    stage = args.stage or ("local" if args.local else os.environ.get(STAGE_VARIABLE) or "dev")
    if not args.stage and not args.local and os.environ.get(STAGE_VARIABLE):
        from stax_orchestrator.deploy.names import stage_name_problem

        problem = stage_name_problem(stage)
        if problem:
            raise CliError(f"{STAGE_VARIABLE}: {problem}", EXIT_INVALID)
    return Options(
        stage=stage,
        profile=args.profile,
        aws_region=args.aws_region,
        stack_name=args.stack_name,
        local=args.local,
    )


def main(
    argv: Sequence[str] | None = None, *, session_factory: Callable[..., Any] | None = None
) -> int:
    """Run one command; its exit code. ``session_factory`` makes the boto3 session
    (``boto3.session.Session`` unless a test hands in another)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.parser = parser  # for the commands that read the CLI itself (completion)
    configure_logging(args.verbose)
    if args.no_color:
        os.environ["NO_COLOR"] = "1"  # rich reads it: every console of this process
    out = Output(args.json)
    try:
        out = output_of(args)
        options = options_of(args)
        args.stage = options.stage
        if options.local:
            from stax_orchestrator.local_env import apply_local_env

            apply_local_env()
        context = AwsContext(options, session_factory=session_factory)
        return int(args.handler(args, context, out))
    except CliError as error:
        out.error(str(error))
        return error.code
    except SystemExit as done:
        return int(done.code or 0)
    except KeyboardInterrupt:
        out.error("interrupted (the execution, if started, goes on; follow it with `watch`)")
        return EXIT_INTERRUPTED
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
    from botocore.exceptions import (
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        TokenRetrievalError,
    )

    return (
        NoCredentialsError,
        PartialCredentialsError,
        NoRegionError,
        EndpointConnectionError,
        TokenRetrievalError,
    )


if __name__ == "__main__":
    sys.exit(main())
