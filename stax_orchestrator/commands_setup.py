"""``stax-orchestrator setup``: store the Stax API token (and the artifact bucket) in SSM.

Role: the setup command. The token comes from ``STAX_ACCESS_KEY`` / ``STAX_SECRET_KEY``
or a prompt (the secret without echo), never from a flag that would sit in the shell's
history; :mod:`stax_orchestrator.token_store` writes it all or nothing. The parameter
names are the stage's: the flags, else what the deployed stage's Lambda is configured
with (the truth of where it reads the token), else the defaults -- ``setup`` usually runs
before the first deploy. Neither value is ever printed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from stax_orchestrator.console import EXIT_CONFIG, EXIT_INVALID, EXIT_OK, CliError, Output, literal
from stax_orchestrator.context import AwsContext


def token_parameters(args: argparse.Namespace, context: AwsContext) -> tuple[Any, str]:
    """The stage's token parameter names, and where they came from (for the output)."""
    from chalicelib import settings
    from stax_orchestrator.token_store import TokenParameters

    deployed = context.function_environment()
    environment = context.stax_environment()  # this process's variables over the stage's
    sources: list[str] = []

    def pick(flag: str | None, variable: str, default: str) -> str:
        if flag:
            found, source = flag, "the flags"
        elif variable in environment and environment[variable] != deployed.get(variable):
            found, source = environment[variable], "the environment"
        elif variable in deployed:
            found, source = deployed[variable], f"the deployed stage {context.stage!r}"
        else:
            found, source = default, default_source
        if source not in sources:
            sources.append(source)
        return found

    configured = _stage_names(context.stage)
    default_source = "the stage's .chalice/config.json" if configured else "the defaults"
    defaults = configured or (
        settings.DEFAULT_ACCESS_KEY_PARAMETER,
        settings.DEFAULT_SECRET_KEY_PARAMETER,
    )
    parameters = TokenParameters(
        pick(args.access_key_parameter, settings.ACCESS_KEY_PARAMETER, defaults[0]),
        pick(args.secret_key_parameter, settings.SECRET_KEY_PARAMETER, defaults[1]),
    )
    return parameters, " and ".join(sources)


def _stage_names(stage: str) -> tuple[str, str] | None:
    """The stage's own token names in this checkout's ``.chalice/config.json`` (what the
    deploy will read), or None outside a checkout or for a stage it does not name."""
    from stax_orchestrator.deploy.stage import StageConfigError, load_stage

    try:
        return load_stage(stage).token_parameters
    except (StageConfigError, OSError):
        return None


def _read_token(args: argparse.Namespace) -> tuple[str, str]:
    # An explicit --access-key wins over the environment (as every option does).
    access_key = args.access_key or os.environ.get("STAX_ACCESS_KEY")
    secret = os.environ.get("STAX_SECRET_KEY")
    interactive = sys.stdin.isatty()
    which = "Stax read-only API token" if args.read_only_token else "Stax API token"
    if not access_key and interactive:
        access_key = input(f"{which} access key: ").strip()
    if not secret and interactive:
        secret = getpass.getpass(f"{which} secret (not shown): ")
    if not access_key or not secret:
        raise CliError(
            "no API token: set STAX_ACCESS_KEY and STAX_SECRET_KEY, or run setup in a terminal",
            EXIT_INVALID,
        )
    return access_key, secret


def cmd_setup(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    from chalicelib import settings
    from stax_orchestrator.token_store import TokenStoreError, store_token

    access_key, secret = _read_token(args)
    names, source = token_parameters(args, context)
    if args.read_only_token:
        from chalicelib.credentials import read_only_names
        from stax_orchestrator.token_store import TokenParameters

        names = TokenParameters(*read_only_names((names.access_key, names.secret)))
        if args.bucket:
            raise CliError("--bucket is stored with the token, not the read-only token",
                           EXIT_INVALID)  # fmt: skip
    ssm = context.client("ssm")
    try:
        written = store_token(ssm, names, access_key, secret, args.kms_key_id)
    except TokenStoreError as error:
        raise CliError(str(error), EXIT_CONFIG) from None
    if args.bucket:
        name = settings.artifact_bucket_parameter(context.stax_environment())
        ssm.put_parameter(Name=name, Value=args.bucket, Type="String", Overwrite=True)
        written.append(name)
    if out.as_json:
        out.json({"written": written, "names_from": source})
    else:
        for name in written:
            out.console.print(f"[green]✔[/] wrote {literal(name)}")
        out.say(f"Parameter names from {source}; {context.where()}.")
        out.console.print("The secret is stored as a SecureString; it is never printed.")
        if args.read_only_token:
            out.say("Deploy the stage again: the reading functions then use this token only.")
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``setup`` to the top-level subparsers."""
    setup = sub.add_parser(
        "setup",
        parents=[common],
        help="store the Stax API token in SSM",
        description="Store the Stax API token in the stage's SSM SecureString parameters "
        "(prompted in a terminal; or STAX_ACCESS_KEY / STAX_SECRET_KEY). Explicit options win "
        "over the environment.",
    )
    setup.add_argument(
        "--access-key", help="the token's access key (default: STAX_ACCESS_KEY, or a prompt)"
    )
    setup.add_argument("--access-key-parameter", help="SSM name (default: the stage's)")
    setup.add_argument("--secret-key-parameter", help="SSM name (default: the stage's)")
    setup.add_argument("--kms-key-id", help="encrypt both with this customer-managed KMS key")
    setup.add_argument("--bucket", help="artifact bucket name to store in SSM")
    setup.add_argument(
        "--read-only-token",
        action="store_true",
        help="store a read-only Stax API token beside the token (the folder's name ends in "
        "-read-only); after the next deploy, task status, planning and drift read only it",
    )
    setup.set_defaults(handler=cmd_setup)
