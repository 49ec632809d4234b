"""``python -m stax_orchestrator.cli_reference`` (``make docs``): print docs/cli-reference.md,
generated from the CLI's parser by :func:`stax_orchestrator.cli_help.reference`."""

from __future__ import annotations

import sys

from stax_orchestrator.cli import build_parser
from stax_orchestrator.cli_help import reference


def main() -> int:
    sys.stdout.write(reference(build_parser()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
