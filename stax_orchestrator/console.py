"""What ``stax-orchestrator`` shows a person, and the exit codes it ends with.

Role: the CLI's output layer, used by every command module and by nothing below them.
:class:`Output` prints human text (rich on a terminal, whole plain lines in a pipe) or
JSON; :func:`literal` keeps whatever a user, Stax or a cause wrote from being read as
rich markup; :func:`configure_logging` keeps log events (the JSON lines ``chalicelib``
writes for CloudWatch when the CLI runs its code in-process) behind ``--verbose``.

Exit codes: 0 succeeded; 1 the operation failed (or timed out / was aborted);
2 bad input (nothing was started); 3 a configuration problem (no state machine, no
credentials, a missing SSM parameter, AWS refused a call).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.errors import InvalidWorkloadRequest

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_CONFIG = 0, 1, 2, 3
#: Ctrl-C: the shell's convention (128 + SIGINT).
EXIT_INTERRUPTED = 130
#: A logger level above every level there is: nothing is logged.
SILENT = logging.CRITICAL + 10
_ROOT_HANDLER = "stax-orchestrator-cli"


class CliError(Exception):
    """A problem the user fixes before anything runs; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.code = code


#: A terminal escape sequence (CSI, OSC, or a two-character one), then any other control
#: character but newline and tab (C0, DEL, C1).
_ESCAPES = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -~]?)|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(value: object) -> str:
    """``value`` as text without terminal escape sequences or control characters.

    Text from Stax (task logs, names, causes) and from files reaches the terminal: an
    escape sequence in it could retitle the window, clear the screen, hide a line or
    rewrite what was printed before, so none passes (newlines and tabs do).
    """
    return _CONTROLS.sub("", _ESCAPES.sub("", str(value)))


def literal(value: object) -> str:
    """``value`` as text that rich prints as it is, for inserting into markup (and
    :func:`clean`: no escape sequence or control character).

    Whatever a user (or Stax, or a cause) wrote -- field names such as a tag key ``[/x]``,
    workload names, messages, log lines -- is never read as rich markup: ``[bold]`` prints
    as ``[bold]``, and ``[/x]`` does not raise MarkupError.
    """
    from rich.markup import escape

    return escape(clean(value))


#: ``--output`` formats: ``table`` is for people; the others print the command's data.
OUTPUT_FORMATS = ("table", "json", "yaml", "text")


class Output:
    """Human output (rich on a terminal, plain lines otherwise) or data (``--output json``,
    ``yaml``, ``text``, each after ``--query``): results on ``stream`` (stdout), errors and
    refusals on ``err_stream`` (stderr), as the AWS CLI."""

    def __init__(
        self,
        as_json: bool = False,
        stream: Any = None,
        err_stream: Any = None,
        *,
        fmt: str | None = None,
        query: Any = None,
    ) -> None:
        from rich.console import Console

        class CleanConsole(Console):
            """A console that prints no escape sequence it was not asked to style with:
            every string printed is :func:`clean` (tables' cells go through literal)."""

            def print(self, *objects: Any, **kwargs: Any) -> None:
                super().print(*(clean(o) if isinstance(o, str) else o for o in objects), **kwargs)

        self.format = fmt or ("json" if as_json else "table")
        #: Data, not tables: json, yaml or text (the commands print their data then).
        self.as_json = self.format != "table"
        self.query = query  # a compiled JMESPath expression (--query), or None
        self.stream = stream or sys.stdout
        # emoji=False: a ":name:" in user text (a tag key, a cause) stays as it is.
        self.console = CleanConsole(file=self.stream, highlight=False, soft_wrap=True, emoji=False)
        self.err_stream = err_stream or sys.stderr
        self.err_console = CleanConsole(
            file=self.err_stream, highlight=False, soft_wrap=True, emoji=False
        )
        if not self.console.is_terminal:
            # Logs and pipes get whole lines (ARNs are long), not an 80-column layout.
            self.console.width = 200
        self.live = self.console.is_terminal and not self.as_json

    def json(self, body: Any) -> None:
        """A command's data, after ``--query``, in the ``--output`` format."""
        data = json.loads(json.dumps(body, default=str))  # what JSON would say, exactly
        if self.query is not None:
            data = self.query.search(data)
        self.stream.write(render(data, self.format))
        self.stream.flush()

    def say(self, text: str) -> None:
        """Print plain text (no markup is read in it)."""
        if not self.as_json:
            self.console.print(text, markup=False)

    def warn(self, text: str) -> None:
        """Print a warning on stderr (plain text); the command goes on."""
        if self.as_json:
            self.err_json({"warning": text})
        else:
            self.err_console.print(f"[bold yellow]warning:[/] {literal(text)}")

    def error(self, text: str) -> None:
        """Print an error on stderr; ``text`` is plain (it often quotes the user's input)."""
        if self.as_json:
            self.err_json({"error": text})
        else:
            self.err_console.print(f"[bold red]error:[/] {literal(text)}")

    def err_json(self, body: Any) -> None:
        """An error in the ``--output`` format, on stderr (stdout holds results only;
        ``--query`` selects from results, never from errors)."""
        self.err_stream.write(render(json.loads(json.dumps(body, default=str)), self.format))
        self.err_stream.flush()


def render(data: Any, fmt: str) -> str:
    """``data`` (JSON values) as ``--output`` prints it: ``json`` indented, ``yaml`` block
    style, ``text`` as the AWS CLI does (tab-separated values: a line per object or list
    item, keys in sorted order; nothing for null)."""
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1_000_000))
    if fmt == "text":
        lines = _text_lines(data)
        return "".join(f"{line}\n" for line in lines)
    return json.dumps(data, indent=2) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"  # as the AWS CLI prints booleans
    return clean(value)


def _text_lines(data: Any) -> list[str]:
    if data is None:
        return []
    if isinstance(data, list):
        if all(not isinstance(item, (dict, list)) for item in data):
            return ["\t".join(_scalar(item) for item in data if item is not None)] if data else []
        return [line for item in data for line in _text_lines(item)]
    if isinstance(data, dict):
        keys = sorted(data)
        flat = [_scalar(data[k]) for k in keys if not isinstance(data[k], (dict, list))
                and data[k] is not None]  # fmt: skip
        nested = [line for k in keys if isinstance(data[k], (dict, list))
                  for line in _text_lines(data[k])]  # fmt: skip
        return (["\t".join(flat)] if flat else []) + nested
    return [_scalar(data)]


def print_refusal(error: InvalidWorkloadRequest, title: str, out: Output) -> None:
    """A validation refusal, field by field; nothing of the user's is read as markup."""
    if out.as_json:
        out.err_json({"status": "INVALID", **error.as_dict()})
        return
    out.err_console.print(f"[bold red]✘ {title}:[/] {literal(error.message)}")
    for field, messages in (error.details.get("errors") or {}).items():
        for message in messages:
            out.err_console.print(f"  [bold]{literal(field)}[/]: {literal(message)}")
    out.err_console.print("Nothing was started.")


def configure_logging(verbose: bool) -> None:
    """Log events only with ``--verbose``, and then only on stderr.

    The CLI runs ``chalicelib`` in-process (local validation, the Stax client of
    ``catalogue``, ``invoke``), and ``chalicelib.logs`` writes every event as a JSON line
    for CloudWatch -- lines meant for Logs Insights, not for a person at a terminal. The
    level of its logger decides: silent by default, DEBUG with ``--verbose`` (its own
    handler writes to stderr, so ``--json`` on stdout stays parsable). Libraries (urllib3's
    retry warnings, botocore) reach the terminal only with ``--verbose`` and only from
    WARNING up: botocore's DEBUG lines would show request bodies, the Stax secret of
    ``setup`` among them.
    """
    from chalicelib.logs import LOGGER_NAME

    logging.getLogger(LOGGER_NAME).setLevel(logging.DEBUG if verbose else SILENT)
    handler: logging.Handler = (
        logging.StreamHandler(sys.stderr) if verbose else logging.NullHandler()
    )
    handler.setLevel(logging.WARNING)
    handler.set_name(_ROOT_HANDLER)
    # A root handler of our own: without one, Python's last-resort handler prints every
    # library WARNING to stderr. One only, however often main() runs in a process.
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _ROOT_HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
