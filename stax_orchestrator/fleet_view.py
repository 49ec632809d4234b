"""What a fleet is doing, as people read it: counters, throughput, ETA, failures, results.

Role: the half of ``stax-orchestrator fleet`` that talks to no AWS service, so every rule
is tested on plain values. :class:`FleetProgress` folds each look at a running fleet --
the plan, the Map Run's ``itemCounts``, the ``failed#`` items of the coordination store --
into counters (pending, running, succeeded, failed, already done, total), a throughput
(targets finished per minute, recently and overall) and an ETA, and says which failures
are new. The rest turns that, and the stored per-target results, into a live panel (or
plain lines off a terminal), the closing summary, a table, CSV rows and JSON. Whatever a
user or Stax wrote (target names, errors, causes, log lines) reaches rich only through
:func:`~stax_orchestrator.console.literal`, or as plain text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from stax_orchestrator.console import EXIT_FAILED, EXIT_OK, Output, literal

#: The look-back of the recent throughput (targets finish in bursts of max_concurrency,
#: minutes apart: a window of a few looks alone would mostly measure nothing).
RECENT_SECONDS = 120.0
#: A reason is cut to this many characters (one line of a terminal, roughly).
REASON_CHARS = 160
#: ``fleet results --csv``: the columns, in order.
CSV_COLUMNS = (
    "index",
    "status",
    "workload_name",
    "aws_account_id",
    "aws_region",
    "workload_id",
    "task_id",
    "error",
    "duration_seconds",
    "message",
)
#: Keys of a stored result that are the table's, not the result's.
_STORAGE_KEYS = frozenset({"pk", "sk", "expires_at"})
STATUS_STYLES = {
    "SUCCEEDED": "green",
    "ALREADY_DONE": "green",
    "FAILED": "red",
    "NOT_STARTED": "yellow",
    "ABORTED": "yellow",
}


# -- one target, one result --------------------------------------------------------
def target_label(target: Any) -> str:
    """Who a target is: its workload name, else ``<account's first block>/<region>``,
    else its workload id."""
    found = target if isinstance(target, Mapping) else {}
    if found.get("workload_name"):
        return str(found["workload_name"])
    if found.get("aws_account_id") and found.get("aws_region"):
        return f"{str(found['aws_account_id']).split('-', 1)[0]}/{found['aws_region']}"
    if found.get("workload_id"):
        return str(found["workload_id"])
    return "?"


def one_line(text: Any, limit: int = REASON_CHARS) -> str:
    """``text`` on one line (whitespace runs become one space), cut to ``limit``."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def reason(cause: Any) -> str:
    """Why a target failed, in one line: the cause's message, else its last log line."""
    if isinstance(cause, Mapping):
        tail = cause.get("logs_tail")
        for candidate in (
            cause.get("message"),
            tail[-1] if isinstance(tail, list) and tail else None,
            cause.get("error"),
        ):
            if candidate:
                return one_line(candidate)
        return ""
    return one_line(cause) if cause else ""


def failure_markup(result: Mapping[str, Any]) -> str:
    """A failed target as one line of rich markup (user text escaped)."""
    why = reason(result.get("cause"))
    return (
        f"[red]✘[/] target {int(result.get('index', -1)):>5}  "
        f"[bold]{literal(target_label(result.get('target')))}[/]  "
        f"[red]{literal(result.get('error') or 'failed')}[/]" + (f": {literal(why)}" if why else "")
    )


def public(result: Mapping[str, Any]) -> dict[str, Any]:
    """A stored result without the table's own keys (``pk``, ``sk``, ``expires_at``)."""
    return {k: v for k, v in result.items() if k not in _STORAGE_KEYS}


def csv_row(result: Mapping[str, Any]) -> list[Any]:
    """One result as a row of ``CSV_COLUMNS``."""
    given = result.get("target")
    target: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    values = {
        **{k: result.get(k) for k in CSV_COLUMNS},
        "workload_name": target.get("workload_name"),
        "aws_account_id": target.get("aws_account_id"),
        "aws_region": target.get("aws_region"),
        "workload_id": result.get("workload_id") or target.get("workload_id"),
        "message": reason(result.get("cause")) or result.get("detail"),
    }
    return ["" if values[k] is None else values[k] for k in CSV_COLUMNS]


def results_table(results: list[Mapping[str, Any]], title: str) -> Any:
    """``fleet results`` for people: one row per target."""
    from rich.table import Table

    counts: dict[str, int] = {}
    for result in results:
        counts[str(result.get("status"))] = counts.get(str(result.get("status")), 0) + 1
    caption = ", ".join(f"{n} {status.lower().replace('_', ' ')}" for status, n in counts.items())
    table = Table(title=literal(title), caption=literal(caption or "no results"))
    for column in ("index", "target", "status", "workload id", "seconds", "error"):
        table.add_column(column, justify="right" if column in ("index", "seconds") else "left")
    for result in results:
        status = str(result.get("status"))
        style = STATUS_STYLES.get(status)
        shown = literal(status.lower().replace("_", " "))
        seconds = result.get("duration_seconds")
        error = result.get("error") or ""
        why = reason(result.get("cause")) if error else ""
        table.add_row(
            str(result.get("index")),
            literal(target_label(result.get("target"))),
            f"[{style}]{shown}[/]" if style else shown,
            literal(result.get("workload_id") or ""),
            "" if seconds is None else f"{float(seconds):.1f}",
            literal(f"{error}: {why}" if why else error),
        )
    return table


# -- time --------------------------------------------------------------------------
def epoch(value: Any) -> float | None:
    """A timestamp (datetime, epoch number or ISO text) as epoch seconds."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return epoch(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def duration_text(seconds: float | None) -> str:
    """``35s``, ``4m 12s``, ``1h 02m``; ``—`` when unknown."""
    if seconds is None:
        return "—"
    whole = round(max(0.0, seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def rate_text(per_minute: float | None) -> str:
    return "—/min" if per_minute is None else f"{per_minute:.1f}/min"


# -- counting ----------------------------------------------------------------------
@dataclass(frozen=True)
class Counts:
    """The fleet's counters at one look. ``failed`` includes timed-out items."""

    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    aborted: int = 0
    already_done: int = 0
    total: int = 0

    @property
    def finished(self) -> int:
        """Targets that ran to an end (what throughput counts)."""
        return self.succeeded + self.failed

    @property
    def remaining(self) -> int:
        return self.pending + self.running


def counts_of(plan: Mapping[str, Any] | None, item_counts: Mapping[str, Any] | None) -> Counts:
    """The counters from the plan (``total``, ``to_run``, ``already_done``) and the Map
    Run's ``itemCounts``; before the Map Run exists every target to run is pending.
    Pending is what the plan runs and the Map has not started, so the counters add up
    to the total even while the Map is still reading its items."""
    items = {k: int(v or 0) for k, v in (item_counts or {}).items() if isinstance(v, int | float)}
    running, succeeded = items.get("running", 0), items.get("succeeded", 0)
    failed, aborted = items.get("failed", 0) + items.get("timedOut", 0), items.get("aborted", 0)
    if plan is None:
        return Counts(
            pending=items.get("pending", 0), running=running, succeeded=succeeded,
            failed=failed, aborted=aborted, total=items.get("total", 0),
        )  # fmt: skip
    to_run = int(plan.get("to_run") or 0)
    started = running + succeeded + failed + aborted
    return Counts(
        pending=max(0, to_run - started),
        running=running,
        succeeded=succeeded,
        failed=failed,
        aborted=aborted,
        already_done=int(plan.get("already_done") or 0),
        total=int(plan.get("total") or to_run),
    )


@dataclass
class Throughput:
    """Targets finished per minute: over the last ``window`` seconds of looks, and since
    the targets started running."""

    window: float = RECENT_SECONDS
    samples: list[tuple[float, int]] = field(default_factory=list)
    started_at: float | None = None

    def add(self, at: float, finished: int) -> None:
        """One look: at ``at`` (epoch seconds), ``finished`` targets had ended."""
        self.samples.append((at, finished))
        # Keep the newest look at or before the window's start, so the span is a window.
        while len(self.samples) > 2 and self.samples[1][0] <= at - self.window:
            self.samples.pop(0)

    def recent(self) -> float | None:
        """Per minute over the window; None until a target finished in a measured span."""
        if len(self.samples) < 2:
            return None
        (first_at, first), (last_at, last) = self.samples[0], self.samples[-1]
        if last_at <= first_at or last == 0:
            return None
        return max(0, last - first) / (last_at - first_at) * 60

    def overall(self, now: float) -> float | None:
        """Per minute since the targets started (the Map Run's start, else the first look)."""
        if not self.samples:
            return None
        start = self.started_at if self.started_at is not None else self.samples[0][0]
        finished = self.samples[-1][1]
        if finished == 0 or now <= start:
            return None
        return finished / (now - start) * 60


def eta_seconds(remaining: int, per_minute: float | None) -> float | None:
    """Seconds until ``remaining`` targets are done at ``per_minute``; None when unknown."""
    if remaining <= 0:
        return 0.0
    if not per_minute:
        return None
    return remaining / per_minute * 60


@dataclass
class FleetProgress:
    """Everything the live view knows about one fleet, look after look."""

    execution_arn: str
    operation: str = "fleet"
    status: str = "RUNNING"
    started_at: float | None = None
    stopped_at: float | None = None
    plan: dict[str, Any] | None = None
    counts: Counts = field(default_factory=Counts)
    throughput: Throughput = field(default_factory=Throughput)
    item_counts: dict[str, Any] | None = None
    failures: dict[int, dict[str, Any]] = field(default_factory=dict)
    note: str | None = None

    @property
    def name(self) -> str:
        return self.execution_arn.rsplit(":", 1)[-1]

    @property
    def finished(self) -> bool:
        """The execution ended (a redrive pending or under way is not an end)."""
        from stax_orchestrator.follow import FINAL_STATUSES

        return self.status in FINAL_STATUSES

    def update(
        self,
        *,
        now: float,
        status: str,
        started: Any = None,
        stopped: Any = None,
        plan: Mapping[str, Any] | None = None,
        item_counts: Mapping[str, Any] | None = None,
        map_started: Any = None,
    ) -> None:
        """Fold one look in (``plan`` and ``item_counts`` as read, None while unknown)."""
        self.status = status
        self.started_at = epoch(started) or self.started_at
        self.stopped_at = epoch(stopped) or self.stopped_at
        if plan is not None:
            self.plan = dict(plan)
        if item_counts is not None:
            self.item_counts = dict(item_counts)
        # A look that could not read the Map Run keeps the counts of the last one that did.
        self.counts = counts_of(self.plan, self.item_counts)
        if item_counts is not None:
            self.throughput.started_at = epoch(map_started) or self.throughput.started_at
            self.throughput.add(now, self.counts.finished)

    def wants_failures(self) -> bool:
        """Whether the store may hold a failure not yet seen (the Map counted more)."""
        return self.counts.failed > len(self.failures)

    def add_failures(self, results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The failures among ``results`` not seen before (each is new only once)."""
        new = []
        for result in results:
            index = int(result.get("index", -1))
            if index not in self.failures:
                self.failures[index] = dict(result)
                new.append(self.failures[index])
        return sorted(new, key=lambda r: int(r.get("index", -1)))

    def elapsed(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        return max(0.0, (self.stopped_at or now) - self.started_at)

    def eta(self) -> float | None:
        return eta_seconds(self.counts.remaining, self.throughput.recent())

    def key(self) -> tuple[Any, ...]:
        """What a plain line is printed for: a change of status or of a counter."""
        c = self.counts
        planned = self.plan is not None
        return (self.status, planned, c.pending, c.running, c.succeeded, c.failed,
                c.aborted, c.already_done, c.total)  # fmt: skip


def counter_text(progress: FleetProgress) -> str:
    c = progress.counts
    parts = [
        f"pending {c.pending}",
        f"running {c.running}",
        f"succeeded {c.succeeded}",
        f"failed {c.failed}",
        f"already done {c.already_done}",
        f"total {c.total}",
    ]
    if c.aborted:
        parts.insert(4, f"aborted {c.aborted}")
    return " · ".join(parts)


def speed_text(progress: FleetProgress, now: float) -> str:
    recent, overall = progress.throughput.recent(), progress.throughput.overall(now)
    return (
        f"{rate_text(recent)} (overall {rate_text(overall)}) · ETA {duration_text(progress.eta())}"
    )


def plain_line(progress: FleetProgress, now: float) -> str:
    """One line of the plain (non-terminal) view: plain text, no markup."""
    head = f"{duration_text(progress.elapsed(now)):>7}  {progress.status.lower():<9}"
    if progress.plan is None and progress.counts.total == 0:
        return f"{head} planning"
    return f"{head} {counter_text(progress)} · {speed_text(progress, now)}"


def panel(progress: FleetProgress, now: float) -> Any:
    """The live view on a terminal: a rich panel."""
    from rich.panel import Panel
    from rich.progress_bar import ProgressBar
    from rich.spinner import Spinner
    from rich.table import Table

    c = progress.counts
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("status", f"[cyan]{literal(progress.status.lower())}[/]  "
                 f"elapsed {duration_text(progress.elapsed(now))}")  # fmt: skip
    if progress.plan is None and c.total == 0:
        grid.add_row("", Spinner("dots", text="planning the targets"))
    else:
        done = c.finished + c.already_done + c.aborted
        bar = Table.grid(padding=(0, 1))
        bar.add_row(ProgressBar(total=max(c.total, 1), completed=done, width=40),
                    f"{done}/{c.total}")  # fmt: skip
        grid.add_row("progress", bar)
        grid.add_row(
            "targets",
            f"pending {c.pending}  [cyan]running {c.running}[/]  "
            f"[green]succeeded {c.succeeded}[/]  [red]failed {c.failed}[/]  "
            + (f"[yellow]aborted {c.aborted}[/]  " if c.aborted else "")
            + f"[green]already done {c.already_done}[/]  total {c.total}",
        )
        grid.add_row("throughput", literal(speed_text(progress, now)))
        tolerated = (progress.plan or {}).get("tolerated_failures")
        if tolerated is not None:
            style = "red" if c.failed > int(tolerated) else "green"
            grid.add_row("failures", f"[{style}]{c.failed}[/] ({int(tolerated)} tolerated)")
    if progress.note:
        grid.add_row("note", f"[yellow]{literal(progress.note)}[/]")
    title = f"fleet {literal(progress.operation)} · {literal(progress.name)}"
    return Panel(grid, title=title, title_align="left", expand=False)


# -- the end -----------------------------------------------------------------------
def summary_of(progress: FleetProgress, output: Any, cause: Mapping[str, Any]) -> dict[str, Any]:
    """The fleet's summary: its output's, else its failure cause's, else the last counts."""
    for source in (output, cause):
        if isinstance(source, Mapping) and isinstance(source.get("summary"), Mapping):
            return dict(source["summary"])
    if progress.plan is None:
        return {}
    c, plan = progress.counts, progress.plan
    return {
        "operation": plan.get("operation"),
        "total": c.total,
        "to_run": plan.get("to_run"),
        "already_done": c.already_done,
        "succeeded": c.succeeded,
        "failed": c.failed,
        "aborted": c.aborted,
        "not_started": c.pending,
        "max_concurrency": plan.get("max_concurrency"),
        "failure_tolerance": plan.get("failure_tolerance"),
        "tolerated_failures": plan.get("tolerated_failures"),
    }


def summary_markup(
    progress: FleetProgress, summary: Mapping[str, Any], error: Any, now: float
) -> str:
    """The one line that ends a fleet (rich markup, user text escaped)."""
    took = duration_text(progress.elapsed(now))
    operation = literal(progress.operation)
    if progress.status == "SUCCEEDED":
        head = f"[bold green]✔ fleet {operation} succeeded[/] in {took}"
    else:
        head = f"[bold red]✘ fleet {operation} {literal(progress.status)}[/] after {took}" + (
            f" ([bold]{literal(error)}[/])" if error else ""
        )
    if not summary:
        return f"{head}: no target ran"
    return (
        f"{head}: {summary.get('succeeded', 0)} succeeded, {summary.get('failed', 0)} failed, "
        f"{summary.get('already_done', 0)} already done, "
        + (f"{summary['aborted']} aborted, " if summary.get("aborted") else "")
        + f"{summary.get('not_started', 0)} not started "
        f"({summary.get('tolerated_failures', 0)} failures tolerated)"
    )


# -- showing a running fleet, and its end --------------------------------------------
class Quiet:
    """--json: nothing while the fleet runs."""

    wants_failures = False

    def show(self, progress: FleetProgress, new: list[dict[str, Any]], now: float) -> None:
        return None


class Plain(Quiet):
    """Logs and pipes: each new failure, and a line whenever a counter changes."""

    wants_failures = True

    def __init__(self, out: Output) -> None:
        self.out = out
        self.last: tuple[Any, ...] | None = None

    def show(self, progress: FleetProgress, new: list[dict[str, Any]], now: float) -> None:
        for result in new:
            self.out.console.print(failure_markup(result))
        if progress.key() != self.last:
            self.last = progress.key()
            self.out.say(plain_line(progress, now))


class LivePanel(Quiet):
    """A terminal: a live panel, each new failure printed above it."""

    wants_failures = True

    def __init__(self, live: Any) -> None:
        self.live = live

    def show(self, progress: FleetProgress, new: list[dict[str, Any]], now: float) -> None:
        for result in new:
            self.live.console.print(failure_markup(result))
        self.live.update(panel(progress, now))


@contextlib.contextmanager
def display(out: Output) -> Iterator[Quiet]:
    if out.as_json:
        yield Quiet()
    elif not out.live:
        yield Plain(out)
    else:
        from rich.live import Live

        with Live(console=out.console, refresh_per_second=4, transient=True) as live:
            yield LivePanel(live)


def report_fleet(
    progress: FleetProgress,
    *,
    described: Mapping[str, Any],
    failed: list[dict[str, Any]] | None,
    out: Output,
    now: float,
    results_command: str,
) -> int:
    """The end of a fleet: one summary line (or one JSON object); the exit code."""
    from stax_orchestrator.follow import parse_cause

    succeeded = progress.status == "SUCCEEDED"
    cause = parse_cause(described.get("cause"))
    output = json.loads(described["output"]) if succeeded and described.get("output") else None
    summary = summary_of(progress, output, cause)
    code = EXIT_OK if succeeded else EXIT_FAILED
    if out.as_json:
        body: dict[str, Any] = {
            "execution_arn": progress.execution_arn,
            "status": progress.status,
            "duration_seconds": round(progress.elapsed(now), 3),
            "summary": summary,
        }
        if not succeeded:
            body["error"] = described.get("error")
            brief = {k: v for k, v in cause.items() if k not in ("summary", "failed_targets")}
            body["cause"] = brief or described.get("cause")
        body["failed_targets"] = failed
        if failed is None:
            body["failed_targets_unavailable"] = progress.note
        out.json(body)
        return code
    out.console.print(summary_markup(progress, summary, described.get("error"), now))
    if not succeeded:
        if cause.get("message"):
            out.say(f"  {one_line(cause['message'], 500)}")
        errors = cause.get("errors")
        for name, messages in (errors if isinstance(errors, Mapping) else {}).items():
            for message in messages if isinstance(messages, list) else [messages]:
                out.say(f"    {name}: {message}")
        if cause.get("hint"):
            out.say(f"  hint: {cause['hint']}")
        if not cause and described.get("cause"):
            out.say(f"  {one_line(described['cause'], 500)}")
    if failed is None and progress.note:
        out.say(f"  note: {progress.note}")
    out.say(f"  execution: {progress.execution_arn}")
    if progress.plan is not None or summary:
        more = " --status failed" if failed else ""
        out.say(f"  results:   {results_command}{more}")
    return code
