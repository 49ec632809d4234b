"""The CLI's help and its reference page cannot drift apart."""

from __future__ import annotations

from pathlib import Path

from stax_orchestrator import cli, cli_help

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "cli-reference.md"


def test_every_command_has_a_description_and_an_example() -> None:
    parser = cli.build_parser()
    missing = [
        name
        for name, sub, _ in cli_help.commands(parser)
        if not sub.description or "examples:" not in (sub.epilog or "")
    ]
    assert missing == []


def test_the_reference_in_docs_is_what_the_parser_prints() -> None:
    """Regenerate with `make docs` after changing a command or an option."""
    assert REFERENCE.read_text() == cli_help.reference(cli.build_parser())


def test_every_example_names_a_command_the_parser_knows() -> None:
    parser = cli.build_parser()
    known = {name for name, _, _ in cli_help.commands(parser)}
    assert set(cli_help.EXAMPLES) <= known and set(cli_help.DESCRIPTIONS) <= known
    for name, examples in cli_help.EXAMPLES.items():
        for example in examples:
            assert f"stax-orchestrator {name}" in example or name in example, example
