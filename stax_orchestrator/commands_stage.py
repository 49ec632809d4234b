"""``stax-orchestrator stage status``: where a stage stands, and what was changed by hand.

Role: the stage command group. ``status`` reads the stage's stack (``--stack-name``, else
``stax-orchestrator-<stage>``): its status and reason, its outputs, and -- unless
``--no-drift`` -- a CloudFormation drift detection of its resources, listing each one
changed or deleted outside CloudFormation with the properties that differ. Exit codes:
0 in sync, 1 drifted, detection not complete or the stack in a failed state, 3 no stack.
"""

from __future__ import annotations

import argparse
from typing import Any

from stax_orchestrator.console import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, CliError, Output
from stax_orchestrator.context import AwsContext

#: Stack statuses after which the stage is not as its last deploy left it.
_FAILED = ("FAILED", "ROLLBACK")


def cmd_status(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    from stax_orchestrator.deploy import stack
    from stax_orchestrator.deploy.templates import DeployError

    cloudformation = context.client("cloudformation")
    try:
        found = stack.status(cloudformation, context.stack_name, with_drift=not args.no_drift)
    except DeployError as error:
        raise CliError(str(error)) from None
    if found is None:
        raise CliError(
            f"no CloudFormation stack {context.stack_name!r} in {context.where()}: deploy the "
            f"stage (./deploy.sh --stage {context.stage}), or pass --stage / --stack-name / "
            "--aws-region / --profile",
            EXIT_CONFIG,
        )
    drift = found.get("drift") or {}
    failed = any(word in found["status"] for word in _FAILED) and found["status"] != (
        "UPDATE_ROLLBACK_COMPLETE"
    )
    # In sync only when the detection completed and said so (a failed or partial detection
    # proves nothing).
    in_sync = not drift or (drift["detection"], drift["status"]) == ("DETECTION_COMPLETE",
                                                                     "IN_SYNC")  # fmt: skip
    code = EXIT_OK if in_sync and not failed else EXIT_FAILED
    if out.as_json:
        out.json(found)
        return code
    _show(found, drift, out)
    return code


def _show(found: dict[str, Any], drift: dict[str, Any], out: Output) -> None:
    reason = f" ({found['reason']})" if found.get("reason") else ""
    out.say(f"stack {found['stack']}: {found['status']}{reason}, last change {found['updated']}")
    out.say("outputs:")
    for key, value in sorted(found["outputs"].items()):
        out.say(f"  {key:<42} {value}")
    if not drift:
        return
    reason = f" ({drift['reason']})" if drift.get("reason") else ""
    out.say(f"drift: {drift['status']}, detection {drift['detection']}{reason}")
    for resource in drift["drifted"]:
        out.say(f"  {resource['status']:<8} {resource['resource']} ({resource['type']})")
        for difference in resource["properties"]:
            out.say(
                f"    {difference['path']}: expected {difference['expected']!s}, "
                f"actual {difference['actual']!s}"
            )
    if drift["drifted"]:
        out.say(
            "A deploy changes only what its template changes: set these back by hand (or "
            "change them in the template) to bring the stage in sync."
        )


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``stage`` and its commands to the top-level subparsers."""
    stage = sub.add_parser("stage", help="the deployed stage: its stack, outputs and drift")
    commands = stage.add_subparsers(dest="stage_command", required=True, metavar="COMMAND")
    status = commands.add_parser(
        "status",
        parents=[common],
        help="the stage's stack status, outputs and resources changed by hand",
        description="Show the stage's CloudFormation stack: its status, its outputs and "
        "(DetectStackDrift) every resource changed or deleted outside CloudFormation. "
        "Exit code 0: in sync; 1: drifted or failed; 3: no stack.",
    )
    status.add_argument(
        "--no-drift", action="store_true", help="skip drift detection (status and outputs only)"
    )
    status.set_defaults(handler=cmd_status)
