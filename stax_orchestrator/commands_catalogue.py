"""``stax-orchestrator catalogue list|publish``: the Stax workload catalogue.

Role: the catalogue command group: parses its flags, asks the context for a Stax client
(the token from the stage's SSM parameters) and for S3/SSM clients, and prints what
:mod:`stax_orchestrator.catalogue` did. The Stax client's own log events (``chalicelib``
logs them for CloudWatch) stay behind ``--verbose``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from stax_orchestrator.console import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    CliError,
    Output,
    literal,
)
from stax_orchestrator.context import AwsContext


def _print_items(items: list[dict[str, Any]], out: Output) -> None:
    if out.as_json:
        out.json(items)
        return
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


def _print_published(result: dict[str, Any], out: Output) -> None:
    if out.as_json:
        out.json(result)
        return
    out.console.print(
        f"[bold green]✔ published[/] {literal(result['name'])} "
        f"{literal(result['version'])}  "
        f"catalogue id [bold]{literal(result['catalogue_id'])}[/]  "
        f"version id [bold]{literal(result['catalogue_version_id'])}[/]"
    )
    out.console.print(f"  template: {result['template_url']}", markup=False)


def cmd_catalogue(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    from chalicelib import settings
    from chalicelib.errors import (
        OrchestratorError,
        StaxAuthenticationFailed,
        StaxCredentialsMissing,
    )
    from stax_orchestrator import catalogue

    if args.catalogue_command != "list":
        # Local checks first: a missing or unreadable template is named before any login.
        try:
            catalogue.template_text(Path(args.template))
        except catalogue.CatalogueError as error:
            raise CliError(str(error), EXIT_INVALID) from None
    access = context.stax_access()
    try:
        with access.session() as stax:
            if args.catalogue_command == "list":
                _print_items(catalogue.list_items(stax), out)
                return EXIT_OK
            bucket_parameter = settings.artifact_bucket_parameter(context.stax_environment())
            result = catalogue.publish(
                stax,
                context.client("s3"),
                catalogue.artifact_bucket(context.client("ssm"), bucket_parameter),
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
    _print_published(result, out)
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``catalogue`` and its subcommands to the top-level subparsers."""
    cat = sub.add_parser("catalogue", help="the Stax workload catalogue")
    cat_sub = cat.add_subparsers(dest="catalogue_command", required=True, metavar="SUBCOMMAND")
    publish = cat_sub.add_parser(
        "publish", parents=[common], help="upload a CloudFormation template and publish it"
    )
    publish.add_argument("template", help="the CloudFormation template (YAML or JSON)")
    publish.add_argument("--name", required=True, help="catalogue item name")
    publish.add_argument("--catalogue-id", help="publish a new version of this item")
    publish.add_argument("--description", help="description (default: the template's)")
    publish.add_argument("--version", help="version label (default: next patch version, or 1.0.0)")
    cat_list = cat_sub.add_parser(
        "list", parents=[common], help="catalogue items and their versions"
    )
    for p in (publish, cat_list):
        p.set_defaults(handler=cmd_catalogue)
