"""``stax-orchestrator completion bash|zsh|fish|tcsh``: a shell completion script.

Role: the completion command. The script is generated from the CLI's own parser by
``shtab`` (so it knows every command and option as they are, never a stale hand-written
list) and printed on stdout, to be sourced:

    source <(stax-orchestrator completion bash)          # bash, this shell
    stax-orchestrator completion zsh > "${fpath[1]}/_stax-orchestrator"
    stax-orchestrator completion fish > ~/.config/fish/completions/stax-orchestrator.fish
"""

from __future__ import annotations

import argparse
from typing import Any

from stax_orchestrator.console import EXIT_OK, Output

SHELLS = ("bash", "zsh", "fish", "tcsh")


def cmd_completion(args: argparse.Namespace, context: Any, out: Output) -> int:
    import shtab

    # The whole CLI's parser, which cli.main hands every command (no import of cli here).
    out.stream.write(shtab.complete(args.parser, shell=args.shell))
    out.stream.flush()
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``completion`` to the top-level subparsers."""
    completion = sub.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print the completion script of SHELL, generated from this CLI's own "
        "options: source <(stax-orchestrator completion bash)",
    )
    completion.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    completion.set_defaults(handler=cmd_completion)
