"""The shell blocks of the README and the docs, and what each says about itself.

Every fenced ``bash``/``console``/``sh`` block of the user-facing documents is preceded by
one marker comment (invisible when rendered):

- ``<!-- docs-test: local -->``: it runs as written on the local stack once
  ``eval "$(make -s local-env)"`` has set the environment (``tests/e2e/test_docs_commands.py``
  runs it there);
- ``<!-- docs-test: not-local: REASON -->``: it cannot (a real AWS account, a transcript
  with its output, the stack's own start and stop…) and says why.

Whatever the marker, each ``stax-orchestrator`` and ``./deploy.sh`` command in every block
must be one the tools accept (``tests/unit/test_docs_commands.py``), so an option renamed
in the code cannot live on in a document.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The documents a user reads: the front door, the docs, the examples' guide, contributing.
DOCUMENTS = (
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "examples" / "README.md",
    ROOT / "CONTRIBUTING.md",
)
SHELL_LANGUAGES = ("bash", "console", "sh", "shell")
MARKER = re.compile(r"<!-- docs-test: (local|not-local: (?P<reason>\S.*?)) -->")
FENCE = re.compile(r"^\s*```(\S*)\s*$")
#: A command substitution or process substitution: its command is a command too.
SUBSTITUTION = re.compile(r"[$<]\(([^()]*)\)")
#: ``NAME=value`` words before a command (its environment), not the command.
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Block:
    """One fenced shell block: where it is, its marker, its text."""

    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    marker: str | None  # "local", "not-local", or None when the block has none
    reason: str | None
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def commands(self) -> list[list[str]]:
        """The block's commands as argument lists: continuation lines joined, comments
        dropped, a console block's ``$ `` lines only, split at ``&&``, ``||``, ``;`` and
        ``|``."""
        lines = [line.strip() for line in self.text.splitlines()]
        if self.language == "console":
            commands, going_on = [], False
            for line in lines:
                if line.startswith("$ ") or going_on:
                    commands.append(line.removeprefix("$ "))
                    going_on = line.endswith("\\")
            lines = commands
        text = re.sub(r"\\\n\s*", " ", "\n".join(lines))
        inner = [m.group(1) for m in SUBSTITUTION.finditer(text)]
        script = _separate(SUBSTITUTION.sub("SUBSTITUTED", text) + "\n" + "\n".join(inner))
        lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = ""
        found: list[list[str]] = [[]]
        for token in lexer:
            if token and set(token) <= set(";&|"):
                found.append([])
            else:
                found[-1].append(token)
        commands = []
        for words in found:
            start = 0
            while start < len(words) and ASSIGNMENT.match(words[start]):
                start += 1
            if words[start:]:
                commands.append(words[start:])
        return commands


def _separate(script: str) -> str:
    """``script`` with its comments dropped and each line break outside quotes made a
    ``;`` (a quoted JSON document may span lines)."""
    out: list[str] = []
    quote: str | None = None
    comment = False
    for index, char in enumerate(script):
        if comment:
            if char == "\n":
                comment = False
                out.append(";")
            continue
        escaped = index > 0 and script[index - 1] == "\\" and quote != "'"
        if quote:
            quote = None if char == quote and not escaped else quote
            out.append(char)
            continue
        if escaped:
            out.append(char)
            continue
        if char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or script[index - 1] in " \t\n"):
            comment = True
            continue
        out.append(";" if char == "\n" else char)
    return "".join(out)


def blocks(documents: tuple[Path, ...] = DOCUMENTS) -> list[Block]:
    """Every fenced shell block of ``documents``, with the marker on the line above it
    (blank lines between them allowed)."""
    found: list[Block] = []
    for path in documents:
        lines = path.read_text(encoding="utf-8").splitlines()
        index = 0
        while index < len(lines):
            fence = FENCE.match(lines[index])
            if not fence:
                index += 1
                continue
            end = next(
                (i for i in range(index + 1, len(lines)) if lines[i].strip().startswith("```")),
                len(lines),
            )
            if fence.group(1) in SHELL_LANGUAGES:
                above = index - 1
                while above >= 0 and not lines[above].strip():
                    above -= 1
                marker = MARKER.search(lines[above]) if above >= 0 else None
                found.append(
                    Block(
                        path=path,
                        line=index + 1,
                        language=fence.group(1),
                        marker=marker.group(1).split(":")[0] if marker else None,
                        reason=marker.group("reason") if marker else None,
                        text="\n".join(lines[index + 1 : end]),
                    )
                )
            index = end + 1
    return found
