"""Distributed Map: dynamic settings, the tolerated failure threshold, reader and input limits.

What a fleet orchestrator relies on (``ItemProcessor.ProcessorConfig.Mode: DISTRIBUTED``,
items from an S3 JSONL object, ``MaxConcurrencyPath``, ``ToleratedFailureCountPath``, each
child running ``states:startExecution.sync:2``), as AWS documents it:

**Settings read from the input.** ``MaxConcurrencyPath``, ``ToleratedFailureCountPath`` and
``ToleratedFailurePercentagePath`` are reference paths into the Map state's effective input,
used as ``MaxConcurrency`` / ``ToleratedFailureCount`` / ``ToleratedFailurePercentage``
(https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html,
"Distributed Map state fields": the first two "must select a field whose value is a
non-negative integer", the percentage one "a field whose value is between zero and 100";
"Setting failure thresholds": the percentage path "must resolve to a positive integer
between 0 and 100"). Harsher readings: the percentage path must give a whole number
(that page says integer once), JSON ``true``/``"5"``/``2.0`` are not integers, and a state
holding both a field and its ``...Path`` fails (AWS refuses such a definition at
CreateStateMachine: "A Map state cannot include both MaxConcurrency and
MaxConcurrencyPath"). A path that selects nothing fails with States.Runtime
(``missing_paths``); a value out of range fails with States.Runtime too (the page names
no error; the brief's and LocalStack's reading), worded as LocalStack words it for
MaxConcurrencyPath ("The MaxConcurrencyPath field refers to value ... which is not a valid
integer: $.x", "Expected non-negative integer for MaxConcurrency, got '-1' instead.");
neither is retried or caught (``terminal_errors``). MiniStack 1.5.33 ignores the three
paths.

**The threshold stops the Map Run.** "Your Map Run fails automatically if it exceeds the
threshold", with States.ExceedToleratedFailureThreshold; "Step Functions calculates the
percentage of failed items as the result of the total number of failed or timed out items
divided by the total number of items"; with neither value set the default is 0 %, "the
workflow fails if any one of its child workflow executions fails" (state-map-distributed,
same sections). When a Map Run fails, items not started "remain in Pending status" and
running child executions are stopped: "Step Functions stopped the execution because the Map
Run failed ... the child workflow execution and the status of all 50 items changes to
Aborted" (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-examine-map-run.html,
"Item processing status"; ``aborted`` in
https://docs.aws.amazon.com/step-functions/latest/apireference/API_MapRunExecutionCounts.html).
A child's own ``startExecution.sync`` task, aborted, makes Step Functions call
StopExecution on the execution it started
(https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html, Run a Job).
AWS also says "Step Functions may continue to run child workflows in a Map Run even after
the tolerated failure threshold is exceeded, but before the Map Run fails": here the run
stops at once (no child starts after the failure that crosses the threshold), the
earliest AWS may stop; a product must not count on either exact number. MiniStack 1.5.33
runs every item to the end and only then compares.

Running children are aborted as StopExecution aborts an execution: their record turns
ABORTED at once (with the ``.sync`` executions they started), the Map state fails without
waiting for them, and their threads are stopped at the next state they enter (or the next
state of a nested execution, or the next retry or catch, which an aborted child never
takes). A state already running when the abort comes is not interrupted: a Lambda call or a
Wait in progress finishes in the background and its result is dropped. An aborted
execution stays ABORTED: MiniStack 1.5.33 turns it FAILED if a state fails after
StopExecution.

**Limits of the reader and the child input**
(https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html): "The
execution input used to start a child workflow execution can't exceed 256 KiB",
"Step Functions supports reading an item of up to 8 MB from a text delimited file, JSON, or
JSON Lines file if you then apply the optional ItemSelector field", "Step Functions
supports 10 GB as the maximum size of an individual file in Amazon S3", and ``MaxItems``:
"You can specify a limit of up to 100,000,000" (the Amazon States Language,
https://states-language.net/spec.html, has ``MaxItemsPath`` select "a positive integer").
The page names no error: a file or an item over its limit fails the Map state with
States.ItemReaderFailed ("A Map state failed because it couldn't read from the item
source", https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html),
as does a bad ``MaxItemsPath`` value (LocalStack's reading); a child input over 256 KiB
fails the whole Map state with States.DataLimitExceeded (terminal) rather than one item,
before that child starts. Harsher readings: MB and GB are decimal (8,000,000 and
10,000,000,000 bytes), an item is measured as compact JSON in UTF-8. MiniStack 1.5.33
checks none of these (and a negative ``MaxItemsPath`` drops items from the end).

**The child's context object.** A child workflow execution has its own context: inside it
``$$.Execution.Id``, ``Name``, ``Input``, ``StartTime`` are the child's, ``RedriveCount``
is 0 and ``RoleArn`` the parent's role. ``$$.Map.Item.Index`` / ``Value`` are set where AWS
documents them, in the Map state's ``ItemSelector``: "You must define parameters from the
Context object in the ItemSelector block of the main Map state, not within the states
included in the ItemProcessor section"
(https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html,
"Context object data for Map states"); inside the child they are absent, so a state that
reads them fails (``missing_paths``), the harsher reading. MiniStack 1.5.33 gives the child
the parent's context object (its Execution.Id is the parent's) plus the Map item.

Kept from MiniStack: the Map Run record (ListMapRuns, DescribeMapRun with ``itemCounts`` /
``executionCounts``), child executions carrying ``mapRunArn`` (DescribeExecution,
ListExecutions with ``mapRunArn``), results, ResultSelector / ResultPath / OutputPath,
MiniStack's thread cap (64) when MaxConcurrency is 0; never more threads than items or than
AWS's 10,000 child executions at once
(https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html). The counts
always add up: pending + running + succeeded + failed + aborted = total, for items and for
executions alike (one item per child).

Patched: ``_run_distributed_map`` (replaced: the run above, over MiniStack's records; the
``missing_paths`` check of every ItemSelector, installed after this rule, still runs
first), ``_read_map_items`` (MaxItems), ``_parse_reader_items`` (item size),
``_s3_object_text`` (file size), ``_run_execution`` (a ``.sync`` execution started inside a
child belongs to it), ``_fail_execution`` (ABORTED stays), ``_find_matching_retrier`` /
``_find_matching_catcher`` (an aborted child neither retries nor catches) and the state
handlers (an aborted child enters no new state).
"""

from __future__ import annotations

import contextvars
import copy
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import map_results
from ._patching import Expectation, wrap
from .payload_size import DATA_LIMIT_EXCEEDED, MAX_PAYLOAD_BYTES, payload_bytes, text_bytes

RUNTIME = "States.Runtime"
ITEM_READER_FAILED = "States.ItemReaderFailed"
THRESHOLD_EXCEEDED = "States.ExceedToleratedFailureThreshold"
#: MiniStack's cause, kept (AWS documents none).
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"
#: Never surfaces: an aborted child's errors are dropped, and its executions stay ABORTED.
ABORTED_ERROR = "States.Aborted"

MAX_ITEMS = 100_000_000
MAX_ITEM_BYTES = 8_000_000
MAX_FILE_BYTES = 10_000_000_000
#: AWS runs at most this many child executions of one Map Run at once (service quotas).
MAX_CHILDREN_AT_ONCE = 10_000
#: MiniStack's own thread cap when MaxConcurrency is 0 ("no limit").
UNLIMITED_WORKERS = 64

PENDING, RUNNING, SUCCEEDED, FAILED, ABORTED = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "aborted",
)

#: The settings a path may give: the literal field, and what its value must be.
INTEGER, PERCENTAGE = "non-negative integer", "integer between 0 and 100"
SETTINGS = {
    "MaxConcurrency": INTEGER,
    "ToleratedFailureCount": INTEGER,
    "ToleratedFailurePercentage": PERCENTAGE,
}

#: State handlers an aborted child must not enter.
STATE_HANDLERS = (
    "_execute_pass",
    "_execute_choice",
    "_execute_wait",
    "_execute_task",
    "_execute_parallel",
    "_execute_map",
)

EXPECTED = {
    "_run_distributed_map": Expectation(
        ("state_def", "raw_input", "effective", "iterator", "execution", "ctx"),
        "2b77d3ec0e04f8f1",
    ),
    "_run_map_items": Expectation(
        ("state_def", "raw_input", "execution", "ctx"), "5df19a8074ce768c"
    ),
    "_read_map_items": Expectation(("reader", "effective", "ctx"), "b846851544b897fa"),
    "_parse_reader_items": Expectation(("text", "config"), "80954bad8e260c9b"),
    "_s3_object_text": Expectation(("bucket", "key"), "9351030b682220e3"),
    "_run_execution": Expectation(("exec_arn",), "996dff84e0e0605a"),
    "_start_sync_execution": Expectation(("data",), "8600470a0208036c"),
    "_stop_execution": Expectation(("data",), "44d2d84ccd5c9702"),
    "_fail_execution": Expectation(("execution", "error", "cause"), "e6da895fa0b74cdd"),
    "_find_matching_retrier": Expectation(
        ("retriers", "error", "retry_counts"), "cb494ae8503cce39"
    ),
    "_find_matching_catcher": Expectation(("catchers", "error"), "7fcca16317a49a2b"),
    "_run_sub_machine": Expectation(
        ("states", "start_at", "input_data", "execution", "ctx"), "f8d844168b1459f8"
    ),
    "_resolve_path_or_ctx": Expectation(("path", "data", "ctx"), "39841ce14aefd1c1"),
    "_resolve_params_obj": Expectation(("template", "data", "ctx"), "d41c2e27dd1b00a5"),
    "_apply_result_selector": Expectation(("state_def", "data"), "2c9e674e99b411de"),
    "_apply_result_path": Expectation(("state_def", "original", "result"), "829ba9afcde96ada"),
    "_apply_output_path": Expectation(("state_def", "data", "ctx"), "e9cfd00672448961"),
    "_next_or_end": Expectation(("state_def",), "71350d3777213acc"),
    "_execute_pass": Expectation(("state_def", "raw_input", "ctx"), "b1dff47048bcf8e1"),
    "_execute_choice": Expectation(("state_def", "raw_input", "ctx"), "468955fcd4a438d2"),
    "_execute_wait": Expectation(("state_def", "raw_input", "ctx"), "a1012679c72d1b08"),
    "_execute_task": Expectation(
        ("state_def", "raw_input", "execution", "ctx"), "53c818d247dba62c"
    ),
    "_execute_parallel": Expectation(
        ("state_def", "raw_input", "execution", "ctx"), "2166e1f53e5fd48d"
    ),
    "_execute_map": Expectation(("state_def", "raw_input", "execution", "ctx"), "18ad3965291213ad"),
    "now_iso": Expectation((), "f75b8f2114211a94"),
    "new_uuid": Expectation((), "1a88ffd41fb70e05"),
}


# ---------------------------------------------------------------- rules, without MiniStack


def is_whole(value: Any) -> bool:
    """A JSON integer (``true`` and ``2.0`` are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def setting_problem(field: str, value: Any, path: str) -> str | None:
    """Why AWS would refuse ``value``, read by ``field + "Path"`` at ``path``, or None."""
    if not is_whole(value):
        shown = value if isinstance(value, str) else json.dumps(value)
        return (
            f'The {field}Path field refers to value "{shown}" which is not a valid integer: {path}'
        )
    if value < 0 or (SETTINGS[field] == PERCENTAGE and value > 100):
        return f"Expected {SETTINGS[field]} for {field}, got '{value}' instead."
    return None


def max_items_problem(value: Any, path: str | None) -> str | None:
    """Why AWS would refuse this MaxItems (``path``: read by MaxItemsPath there), or None."""
    lowest = 1 if path else 0  # the ASL: MaxItemsPath selects "a positive integer"
    if path and not is_whole(value):
        return (
            f"The MaxItemsPath field refers to value '{value}' which is not a valid integer: {path}"
        )
    if not is_whole(value) or not lowest <= value <= MAX_ITEMS:
        field = "MaxItemsPath" if path else "MaxItems"
        return f"{field} must be an integer between {lowest} and {MAX_ITEMS}, got '{value}'."
    return None


def exceeds_threshold(failed: int, total: int, count: int | None, percentage: float | None) -> bool:
    """AWS's rule: over either threshold set; with none set, any failure."""
    if failed <= 0:
        return False
    if count is None and percentage is None:
        return True
    over_count = count is not None and failed > count
    over_percentage = percentage is not None and failed * 100 > percentage * total
    return over_count or over_percentage


def empty_counts(total: int) -> dict[str, int]:
    """DescribeMapRun's counts before any child starts (MiniStack's fields)."""
    counts = dict.fromkeys(
        ("pending", "running", "succeeded", "failed", "timedOut", "aborted", "total",
         "resultsWritten", "failuresNotRedrivable", "pendingRedrive"),
        0,
    )  # fmt: skip
    counts.update(total=total, pending=total)
    return counts


class ChildRun:
    """One child execution of a Map Run: whether it was aborted, and the ``.sync``
    executions it started (stopped with it). ``parent``: the child this Map Run runs in."""

    def __init__(self, arn: str, parent: ChildRun | None) -> None:
        self.arn = arn
        self.parent = parent
        self.nested: list[str] = []
        self._aborted = False
        self._lock = threading.Lock()

    def adopt(self, arn: str) -> bool:
        """Record a ``.sync`` execution started inside; False if this child is aborted."""
        with self._lock:
            if self._aborted:
                return False
            self.nested.append(arn)
            return True

    def abort(self, stop: Callable[[str], Any]) -> None:
        """Stop this child and what it started (under the lock, so that nothing running
        in it sees the abort before its executions are ABORTED)."""
        with self._lock:
            if self._aborted:
                return
            self._aborted = True
            for arn in (self.arn, *self.nested):
                stop(arn)

    def is_aborted(self) -> bool:
        with self._lock:
            aborted = self._aborted
        return aborted or (self.parent is not None and self.parent.is_aborted())


#: The child execution the current thread works for (None outside any Distributed Map).
CURRENT: contextvars.ContextVar[ChildRun | None] = contextvars.ContextVar(
    "ministack_distributed_map_child", default=None
)


def aborted_here() -> bool:
    child = CURRENT.get()
    return child is not None and child.is_aborted()


class MapRunProgress:
    """The Map Run's counts and fate, shared by the threads of its children.

    ``record``: MiniStack's Map Run record (``itemCounts``, ``executionCounts``, ...).
    ``stop(error)`` ends the run: running children are aborted, the others stay pending;
    ``wait()`` returns when every item is settled that way or has finished."""

    def __init__(
        self,
        record: dict[str, Any],
        total: int,
        count: int | None,
        percentage: float | None,
        abort: Callable[[str], Any],
    ) -> None:
        self.record = record
        self.total = total
        self.count = count
        self.percentage = percentage
        self._abort = abort
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self.unsettled = total
        self.failed = 0
        self.running: dict[str, ChildRun] = {}
        self.stopped: Exception | None = None

    @property
    def stopping(self) -> bool:
        return self.stopped is not None

    def _move(self, source: str, target: str, number: int = 1) -> None:
        for counts in (self.record["itemCounts"], self.record["executionCounts"]):
            counts[source] -= number
            counts[target] += number

    def begin(self, child: ChildRun, start: Callable[[], Any]) -> bool:
        """Start a child (``start`` creates its execution) unless the run is stopping."""
        with self._lock:
            if child.parent is not None and child.parent.is_aborted():
                # The child execution this Map Run runs in was aborted: so is the run.
                self._stop(ABORTED_ERROR, "The execution running this Map Run was stopped.")
            if self.stopping:
                return False
            start()
            self.running[child.arn] = child
            self._move(PENDING, RUNNING)
            return True

    def end(self, child: ChildRun, outcome: str, finish: Callable[[], Any]) -> None:
        """A child's walk ended (``finish`` records its outcome) unless it was aborted."""
        with self._lock:
            if self.running.pop(child.arn, None) is None:
                return  # aborted: counted and recorded already
            finish()
            self._move(RUNNING, outcome)
            self.unsettled -= 1
            if outcome == FAILED:
                self.failed += 1
                if exceeds_threshold(self.failed, self.total, self.count, self.percentage):
                    self._stop(THRESHOLD_EXCEEDED, THRESHOLD_CAUSE)
            self._settled.notify_all()

    def stop(self, error: Exception) -> None:
        with self._lock:
            self._stop_with(error)

    def _stop(self, error: str, cause: str) -> None:
        self._stop_with(_RunStopped(error, cause))

    def _stop_with(self, error: Exception) -> None:
        if self.stopping:
            return
        self.stopped = error
        for child in self.running.values():
            child.abort(self._abort)
        self._move(RUNNING, ABORTED, len(self.running))
        self.running.clear()
        self.unsettled = 0  # the rest stay pending
        self._settled.notify_all()

    def wait(self) -> None:
        with self._settled:
            while self.unsettled > 0:
                self._settled.wait()


class _RunStopped(Exception):
    """Why the run stopped, before it is raised as MiniStack's _ExecutionError."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


# ---------------------------------------------------------------- on MiniStack


def install(sf: Any) -> None:
    _install_reader_limits(sf)
    _install_aborts(sf)
    wrap(sf, "_run_distributed_map", lambda _original: _distributed_map(sf))


def _runtime(sf: Any, cause: str) -> Any:
    return sf._ExecutionError(RUNTIME, cause)


def _install_reader_limits(sf: Any) -> None:
    def checking_max_items(original: Callable[..., Any]) -> Callable[..., Any]:
        def read_map_items(reader: Any, effective: Any, ctx: Any) -> Any:
            config = (reader.get("ReaderConfig") if isinstance(reader, dict) else None) or {}
            if "MaxItems" in config and "MaxItemsPath" in config:
                raise _runtime(sf, "A ReaderConfig cannot include both MaxItems and MaxItemsPath")
            if "MaxItemsPath" in config:
                path = config["MaxItemsPath"]
                value = sf._resolve_path_or_ctx(path, effective, ctx)
                problem = max_items_problem(value, path)
                if problem:
                    raise sf._ExecutionError(ITEM_READER_FAILED, problem)
            elif "MaxItems" in config:
                problem = max_items_problem(config["MaxItems"], None)
                if problem:  # AWS refuses such a definition at CreateStateMachine
                    raise _runtime(sf, problem)
            return original(reader, effective, ctx)

        return read_map_items

    wrap(sf, "_read_map_items", checking_max_items)

    def checking_item_size(original: Callable[..., Any]) -> Callable[..., Any]:
        def parse_reader_items(text: Any, config: Any) -> Any:
            items = original(text, config)
            for index, item in enumerate(items if isinstance(items, list) else []):
                size = payload_bytes(item)
                if size > MAX_ITEM_BYTES:
                    raise sf._ExecutionError(
                        ITEM_READER_FAILED,
                        f"The item at index {index} has {size} bytes; Step Functions reads "
                        f"items of up to {MAX_ITEM_BYTES} bytes.",
                    )
            return items

        return parse_reader_items

    wrap(sf, "_parse_reader_items", checking_item_size)

    def checking_file_size(original: Callable[..., Any]) -> Callable[..., Any]:
        def s3_object_text(bucket: Any, key: Any) -> Any:
            text = original(bucket, key)
            if isinstance(text, str) and text_bytes(text) > MAX_FILE_BYTES:
                raise sf._ExecutionError(
                    ITEM_READER_FAILED,
                    f"The object s3://{bucket}/{key} is larger than {MAX_FILE_BYTES} bytes.",
                )
            return text

        return s3_object_text

    wrap(sf, "_s3_object_text", checking_file_size)


def _install_aborts(sf: Any) -> None:
    def adopting_sync_executions(original: Callable[..., Any]) -> Callable[..., Any]:
        def run_execution(exec_arn: Any) -> Any:
            child = CURRENT.get()
            if child is None:
                return original(exec_arn)
            execution = sf._executions.get(exec_arn) or {}
            if execution.get("sync"):  # startExecution.sync inside a child: stopped with it
                if not child.adopt(exec_arn):
                    sf._stop_execution({"executionArn": exec_arn})
                return original(exec_arn)
            token = CURRENT.set(None)  # a plain startExecution outlives its starter
            try:
                return original(exec_arn)
            finally:
                CURRENT.reset(token)

        return run_execution

    wrap(sf, "_run_execution", adopting_sync_executions)

    def keeping_aborted(original: Callable[..., Any]) -> Callable[..., Any]:
        def fail_execution(execution: Any, error: Any, cause: Any) -> Any:
            if isinstance(execution, dict) and execution.get("status") == "ABORTED":
                return None
            return original(execution, error, cause)

        return fail_execution

    wrap(sf, "_fail_execution", keeping_aborted)

    def no_retry_when_aborted(original: Callable[..., Any]) -> Callable[..., Any]:
        def find_matching_retrier(retriers: Any, error: Any, retry_counts: Any) -> Any:
            if aborted_here():
                return None, -1
            return original(retriers, error, retry_counts)

        return find_matching_retrier

    wrap(sf, "_find_matching_retrier", no_retry_when_aborted)

    def no_catch_when_aborted(original: Callable[..., Any]) -> Callable[..., Any]:
        def find_matching_catcher(catchers: Any, error: Any) -> Any:
            if aborted_here():
                return None
            return original(catchers, error)

        return find_matching_catcher

    wrap(sf, "_find_matching_catcher", no_catch_when_aborted)

    def entering_no_state_when_aborted(original: Callable[..., Any]) -> Callable[..., Any]:
        def execute(*args: Any) -> Any:
            if aborted_here():
                raise sf._ExecutionError(ABORTED_ERROR, "The Map Run stopped this execution.")
            return original(*args)

        return execute

    for handler in STATE_HANDLERS:
        wrap(sf, handler, entering_no_state_when_aborted)


def _settings(
    sf: Any, state_def: dict[str, Any], effective: Any, ctx: Any
) -> tuple[int, int | None, float | None]:
    """MaxConcurrency, ToleratedFailureCount and ToleratedFailurePercentage (None: not set)."""
    values: dict[str, Any] = {}
    for field in SETTINGS:
        path_field = f"{field}Path"
        if field in state_def and path_field in state_def:
            raise _runtime(sf, f"A Map state cannot include both {field} and {path_field}")
        if path_field in state_def:
            path = state_def[path_field]
            value = sf._resolve_path_or_ctx(path, effective, ctx)
            problem = setting_problem(field, value, path)
            if problem:
                raise _runtime(sf, problem)
            values[field] = value
        elif field in state_def:
            values[field] = state_def[field]
    # Literal fields as MiniStack reads them (AWS validates them at CreateStateMachine).
    concurrency = int(values.get("MaxConcurrency") or 0)
    count = values.get("ToleratedFailureCount")
    percentage = values.get("ToleratedFailurePercentage")
    return (
        concurrency,
        None if count is None else int(count or 0),
        None if percentage is None else float(percentage or 0),
    )


def _distributed_map(sf: Any) -> Callable[..., Any]:
    def run_distributed_map(*args: Any) -> Any:
        # MiniStack's parameters: state_def, raw_input, effective, iterator, execution, ctx.
        state_def, raw_input, effective, iterator, execution, ctx = args
        settings = _settings(sf, state_def, effective, ctx)
        if state_def.get("ItemReader"):
            items = sf._read_map_items(state_def["ItemReader"], effective, ctx)
        else:
            items = sf._resolve_path_or_ctx(state_def.get("ItemsPath", "$"), effective, ctx)
        if not isinstance(items, list):
            items = [items]
        scope = _Scope(state_def, effective, iterator, execution, ctx)
        run = _MapRun(sf, scope, items, settings)
        outputs = run.run()
        # Failed children in full, 256 KiB at most, or exported by a ResultWriter.
        results = map_results.result_of_run(
            sf, state_def, effective=effective, ctx=ctx, map_run_arn=run.map_run_arn,
            records=run.records, outputs=outputs,
        )  # fmt: skip
        result = sf._apply_result_selector(state_def, results)
        output = sf._apply_result_path(state_def, raw_input, result)
        output = sf._apply_output_path(state_def, output, ctx)
        return output, sf._next_or_end(state_def)

    return run_distributed_map


class _Scope:
    """What MiniStack hands ``_run_distributed_map``, kept together."""

    def __init__(
        self, state_def: Any, effective: Any, iterator: Any, execution: Any, ctx: Any
    ) -> None:
        self.state_def: dict[str, Any] = state_def
        self.effective = effective
        self.iterator: dict[str, Any] = iterator
        self.execution: dict[str, Any] = execution
        self.ctx: dict[str, Any] = ctx


class _MapRun:
    """One Distributed Map run over MiniStack's records (names and ARNs as MiniStack's)."""

    def __init__(
        self,
        sf: Any,
        scope: _Scope,
        items: list[Any],
        settings: tuple[int, int | None, float | None],
    ) -> None:
        self.sf = sf
        self.scope = scope
        self.items = items
        self.concurrency, count, percentage = settings
        self.parent_child = CURRENT.get()
        parts = scope.execution["stateMachineArn"].split(":")
        sm_name, region, account = parts[6], parts[3], parts[4]
        label = scope.state_def.get("Label") or sf.new_uuid()
        prefix = f"arn:aws:states:{region}:{account}"
        self.child_sm_arn = f"{prefix}:stateMachine:{sm_name}/{label}"
        self.child_arn_prefix = f"{prefix}:execution:{sm_name}/{label}:"
        self.map_run_arn = f"{prefix}:mapRun:{sm_name}/{label}:{sf.new_uuid()}"
        machine = sf._state_machines.get(scope.execution["stateMachineArn"]) or {}
        self.role_arn = machine.get("roleArn")
        self.selector = scope.state_def.get("ItemSelector") or scope.state_def.get("Parameters")
        self.results: list[Any] = [None] * len(items)
        self.records: list[dict[str, Any] | None] = [None] * len(items)
        total = len(items)
        self.record: dict[str, Any] = {
            "mapRunArn": self.map_run_arn, "executionArn": scope.execution["executionArn"],
            "status": "RUNNING", "startDate": sf.now_iso(), "maxConcurrency": self.concurrency,
            "toleratedFailurePercentage": percentage or 0.0,
            "toleratedFailureCount": count or 0, "itemCounts": empty_counts(total),
            "executionCounts": empty_counts(total), "redriveCount": 0,
            "_stateMachineArn": self.child_sm_arn,
        }  # fmt: skip
        self.progress = MapRunProgress(
            self.record,
            total,
            count,
            percentage,
            lambda arn: sf._stop_execution({"executionArn": arn}),
        )

    def run(self) -> list[Any]:
        sf = self.sf
        sf._map_runs[self.map_run_arn] = self.record
        workers = self.concurrency if self.concurrency > 0 else UNLIMITED_WORKERS
        workers = max(1, min(workers, MAX_CHILDREN_AT_ONCE, len(self.items)))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ministack-map-run")
        for index, item in enumerate(self.items):
            # Each child keeps the request's account and region (contextvars), as MiniStack's.
            pool.submit(contextvars.copy_context().run, self._child, index, item)
        self.progress.wait()
        stopped = self.progress.stopped
        # Aborted children end on their own (their outcome is dropped); queued ones never start.
        pool.shutdown(wait=stopped is None, cancel_futures=True)
        self.record["status"] = "FAILED" if stopped else "SUCCEEDED"
        self.record["stopDate"] = sf.now_iso()
        if isinstance(stopped, _RunStopped):
            raise sf._ExecutionError(stopped.error, stopped.cause)
        if stopped is not None:
            raise stopped
        return self.results

    def _child_input(self, index: int, item: Any) -> Any:
        if not self.selector:
            child_input = item
        else:
            item_ctx = {**self.scope.ctx, "Map": {"Item": {"Index": index, "Value": item}}}
            child_input = self.sf._resolve_params_obj(self.selector, self.scope.effective, item_ctx)
        size = payload_bytes(child_input)
        if size > MAX_PAYLOAD_BYTES:
            raise self.sf._ExecutionError(
                DATA_LIMIT_EXCEEDED,
                f"The input of the child workflow execution for the item at index {index} "
                f"has {size} bytes, more than the {MAX_PAYLOAD_BYTES} bytes of an execution "
                "input.",
            )
        return child_input

    def _child(self, index: int, item: Any) -> None:
        progress = self.progress
        if progress.stopping:
            return
        try:
            child_input = self._child_input(index, item)
        except Exception as error:  # the child cannot start: the Map state fails
            progress.stop(self._as_error(error, RUNTIME))
            return
        try:
            self._walk(index, child_input)
        except Exception as error:  # a fault of this patch: fail the state, never hang
            progress.stop(self._as_error(error, RUNTIME))

    def _walk(self, index: int, child_input: Any) -> None:
        sf, name = self.sf, self.sf.new_uuid()
        arn = self.child_arn_prefix + name
        child = ChildRun(arn, self.parent_child)
        record: dict[str, Any] = {}

        def start() -> None:
            record.update({
                "executionArn": arn, "stateMachineArn": self.child_sm_arn, "name": name,
                "status": "RUNNING", "startDate": sf.now_iso(), "stopDate": None,
                "input": json.dumps(child_input), "inputDetails": {"included": True},
                "output": None, "outputDetails": {"included": True},
                "mapRunArn": self.map_run_arn, "events": [],
                "testCase": self.scope.execution.get("testCase"), "mockAttempts": {},
            })  # fmt: skip
            sf._executions[arn] = record
            self.records[index] = record

        if not self.progress.begin(child, start):
            return
        token = CURRENT.set(child)
        try:
            iterator = self.scope.iterator
            output = sf._run_sub_machine(
                iterator.get("States", {}), iterator.get("StartAt"),
                child_input, record, self._child_context(record, child_input),
            )  # fmt: skip
        except Exception as error:
            failure = self._as_error(error, "States.TaskFailed")

            def failed() -> None:
                record.update(
                    status="FAILED", error=failure.error, cause=failure.cause,
                    stopDate=sf.now_iso(),
                )  # fmt: skip

            self.progress.end(child, FAILED, failed)
        else:

            def succeeded() -> None:
                self.results[index] = output
                record.update(status="SUCCEEDED", output=json.dumps(output), stopDate=sf.now_iso())

            self.progress.end(child, SUCCEEDED, succeeded)
        finally:
            CURRENT.reset(token)

    def _child_context(self, record: dict[str, Any], child_input: Any) -> dict[str, Any]:
        """The child execution's own context object: no Map item (ItemSelector had it)."""
        kept = {k: v for k, v in self.scope.ctx.items() if k not in ("Execution", "Map")}
        ctx: dict[str, Any] = copy.deepcopy(kept)
        ctx["Execution"] = {
            "Id": record["executionArn"],
            "Input": copy.deepcopy(child_input),
            "Name": record["name"],
            "RoleArn": self.role_arn,
            "StartTime": record["startDate"],
            "RedriveCount": 0,
        }
        return ctx

    def _as_error(self, error: Exception, name: str) -> Any:
        if isinstance(error, self.sf._ExecutionError):
            return error
        return self.sf._ExecutionError(name, str(error))
