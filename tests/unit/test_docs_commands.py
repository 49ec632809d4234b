"""Every shell block of the README and the docs says whether it runs on the local stack,
and every ``stax-orchestrator`` and ``./deploy.sh`` command in them is one the tools
accept as written (``tests/e2e/test_docs_commands.py`` runs the local ones)."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from stax_orchestrator.cli import build_parser
from tests.docs_blocks import ROOT, Block, blocks

ALL = blocks()
#: The options ``deploy.sh`` parses (its ``case`` arms).
DEPLOY_OPTIONS = set(
    re.findall(r"^\s+(--[a-z0-9-]+)\)", (ROOT / "deploy.sh").read_text(), re.MULTILINE)
) | {"--help", "-h"}


def commands_of(program: str) -> list[tuple[Block, list[str]]]:
    return [
        (block, command[1:])
        for block in ALL
        for command in block.commands()
        if command[0] == program
    ]


def test_the_documents_have_shell_blocks_to_check() -> None:
    # A reader that found nothing would pass every test below.
    assert len(ALL) > 30
    assert len(commands_of("stax-orchestrator")) > 50
    assert any(block.marker == "local" for block in ALL)


def test_every_shell_block_says_whether_it_runs_on_the_local_stack() -> None:
    unmarked = [block.where for block in ALL if block.marker is None]
    assert not unmarked, (
        "add <!-- docs-test: local --> or <!-- docs-test: not-local: REASON --> above: "
        + ", ".join(unmarked)
    )


@pytest.mark.parametrize(
    ("where", "argv"),
    [(block.where, argv) for block, argv in commands_of("stax-orchestrator")],
    ids=lambda value: value if isinstance(value, str) else " ".join(value)[:60],
)
def test_every_documented_cli_command_parses(where: str, argv: list[str]) -> None:
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(argv)
        except SystemExit as stop:
            # --help exits 0 after printing; anything else is a usage error.
            assert stop.code == 0, (
                f"{where}: stax-orchestrator {' '.join(argv)}\n{errors.getvalue()}"
            )


def test_a_renamed_option_in_a_document_would_be_caught() -> None:
    # The check above is only as good as this: the parser refuses an option it lacks.
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit):
        build_parser().parse_args(["list", "--region", "us-east-1"])


def test_every_documented_deploy_option_is_one_deploy_sh_parses() -> None:
    unknown = [
        f"{block.where}: {token}"
        for block, argv in commands_of("./deploy.sh")
        for token in (t.strip("[]") for t in argv)
        if token.startswith("-") and token not in DEPLOY_OPTIONS
    ]
    assert commands_of("./deploy.sh"), "no ./deploy.sh command found in the documents"
    assert not unknown, unknown
