"""``make check``'s state machine step: statelint, and the contract with the code.

Role: renders every template in ``statemachines/`` with example ARNs and runs
``statelint`` on it, then checks the contract of ``stax_orchestrator.asl_contract``
(error names are classes of ``chalicelib.errors``, placeholders are Chalice functions or
deploy values, every path a state reads is present). Exit status 1 on any problem.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from stax_orchestrator.asl_contract import ANY, VALUE, check_templates
from stax_orchestrator.deploy import (
    FUNCTIONS,
    ROOT,
    STATE_MACHINES,
    STATEMACHINES_DIR,
    Target,
    load_template,
    placeholder,
    render,
    template_values,
)

#: Placeholders the deploy fills with values, not ARNs.
DEPLOY_VALUES = frozenset(
    {
        "WatchTimeoutSeconds",
        "WatcherExecutionTimeoutSeconds",
        "FleetBucket",
        "StaxEventSource",
        "StageAccount",
        "CoordinationTable",
    }
)
#: Machines people (or the CLI, or an EventBridge rule) start with their own payloads.
ENTRY_MACHINES = ("workload", "fleet", "account_baseline")


def _fields(names: tuple[str, ...]) -> dict[str, Any]:
    return dict.fromkeys(names, VALUE)


def lambda_outputs() -> dict[str, Any]:
    """What each Lambda returns, as declared next to it in ``chalicelib``."""
    from chalicelib import fleet, operations
    from chalicelib.baselines import automatic

    outputs = {
        # The normalised request: its fields depend on the operation; only this is sure.
        "validate_input": {"operation": VALUE},
        "create_workload": _fields(operations.RESULT_FIELDS),
        "update_workload": _fields(operations.RESULT_FIELDS),
        "delete_workload": _fields(operations.RESULT_FIELDS),
        "get_task_status": _fields(operations.TASK_STATUS_FIELDS),
        # Invoked by the alert rule, the drift schedule and the account events queue, not
        # by a state machine.
        "publish_alert": {},
        "check_baseline_drift": {},
        "start_account_baselines": {},
        "publish_status_event": {},
        "plan_account_baselines": _fields(automatic.PLAN_FIELDS),
        **fleet.OUTPUT_SHAPES,
    }
    return {placeholder(name): shape for name, shape in outputs.items()}


def error_classes() -> set[str]:
    from chalicelib import errors

    return {
        name
        for name, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, errors.OrchestratorError)
    }


def chalice_functions() -> set[str]:
    """The Lambda functions ``app.py`` registers with Chalice."""
    sys.path.insert(0, str(ROOT))
    import app  # the project's own app.py

    return {function.name for function in app.app.pure_lambda_functions}


def contract_problems() -> list[str]:
    problems: list[str] = []
    registered = chalice_functions()
    if registered != set(FUNCTIONS):
        problems.append(
            f"app.py registers {sorted(registered)}, the deploy knows {sorted(FUNCTIONS)}"
        )
    outputs = lambda_outputs()
    missing = [f for f in FUNCTIONS if placeholder(f) not in outputs]
    problems += [f"no declared output for the Lambda {name}" for name in missing]
    templates = {kind: load_template(kind) for kind in STATE_MACHINES}
    machines = {
        "TaskWatcherArn": "task_watcher",
        "WorkloadArn": "workload",
        "FleetArn": "fleet",
        "AccountBaselineArn": "account_baseline",
    }
    problems += check_templates(
        templates,
        machine_placeholders=machines,
        lambda_outputs=outputs,
        deploy_values=set(DEPLOY_VALUES),
        error_classes=error_classes(),
        entry_shapes=dict.fromkeys(ENTRY_MACHINES, ANY),
    )
    return problems


#: ItemReader input types AWS accepts (statelint 3.1.0, the newest, predates them).
ITEM_READER_INPUT_TYPES = ("CSV", "JSON", "JSONL", "MANIFEST", "PARQUET")


def for_statelint(definition: Any) -> tuple[Any, list[str]]:
    """The definition without what statelint 3.1.0 does not know yet, and the problems of
    what was taken out (checked here instead): a Distributed Map's ReaderConfig.InputType."""
    problems: list[str] = []
    copy = json.loads(json.dumps(definition))

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            config = (state.get("ItemReader") or {}).get("ReaderConfig") or {}
            if "InputType" in config:
                kind = config.pop("InputType")
                if kind not in ITEM_READER_INPUT_TYPES:
                    problems.append(f"state {name!r}: ItemReader InputType {kind!r} is unknown")
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                walk(processor.get("States") or {})

    walk(copy.get("States") or {})
    return copy, problems


def lint() -> int:
    """statelint on every rendered template, then the contract; 1 if anything fails."""
    target = Target("lint", "us-east-1", "123456789012")
    arns = {name: target.arn("lambda", f"function:{target.prefix}-{name}") for name in FUNCTIONS}
    values = template_values(arns, target, 7200)
    failed = 0
    for path in sorted(STATEMACHINES_DIR.glob("*.asl.json")):
        kind = path.name.removesuffix(".asl.json")
        checked, extra = for_statelint(render(load_template(kind), values))
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as rendered:
            json.dump(checked, rendered)
        statelint = Path(sys.executable).with_name("statelint")
        run = subprocess.run(  # noqa: S603 - our own venv's statelint on a file we wrote
            [str(statelint), rendered.name], capture_output=True, text=True, check=False
        )
        Path(rendered.name).unlink()
        status = "ok" if run.returncode == 0 and not extra else "FAILED"
        print(f"statelint {path.relative_to(ROOT)}: {status} {run.stdout.strip()} {extra or ''}")
        failed += status != "ok"
    problems = contract_problems()
    for line in problems:
        print(f"contract: {line}")
    print(f"state machine contract: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if failed or problems else 0
