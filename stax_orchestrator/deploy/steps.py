"""The steps ``deploy.sh`` runs around ``chalice deploy``, and their command line.

Role: ``python -m stax_orchestrator.deploy STEP --stage S``:

- ``preflight`` -- credentials, the token and its key; the Lambdas' policy files;
- ``post-deploy`` -- after ``chalice deploy``: the functions' roles trust this account
  only and their log groups keep the retention; then the stage's stack
  (``stax-orchestrator-<stage>``, ``template.stage_template`` filled with the ARNs Chalice
  recorded) is brought up to date through a change set (``stack.deploy``); with
  ``--baselines`` the file is stored in the stage's bucket; the stack's outputs go to
  ``.chalice/deployed/<stage>-statemachines.json``;
- ``diff`` -- the change set a post-deploy would execute, shown and deleted;
- ``package`` -- the CloudFormation package (``package``);
- ``delete`` -- the stage's stack, then its Lambdas (``teardown``);
- ``watch-timeout`` -- validates ``--watch-timeout`` (one parser for bash and Python);
- ``lint`` -- statelint and the contract between the state machines and the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stax_orchestrator.deploy import baselining, lambdas, observability, preflight, stack, teardown
from stax_orchestrator.deploy.baselining import Baselining
from stax_orchestrator.deploy.names import (
    CHALICE_DIR,
    FUNCTIONS,
    OUTPUT_KEYS,
    Target,
    stage_name_problem,
)
from stax_orchestrator.deploy.observability import Observability
from stax_orchestrator.deploy.stage import StageConfigError, load_stage
from stax_orchestrator.deploy.template import (
    ALERT_KEY_PARAMETER,
    WRITERS_PARAMETER,
    stage_template,
    writer_arns,
)
from stax_orchestrator.deploy.templates import (
    DEFAULT_WATCH_TIMEOUT,
    DeployError,
    parse_watch_timeout,
)

#: The record of a deployed stage (its stack's outputs), by the names the tests and the
#: demo read.
RECORD_KEYS = {
    **{kind: OUTPUT_KEYS[kind] for kind in ("workload", "task_watcher", "fleet",
                                            "account_baseline")},
    "role": "StatesRoleArn",
    "table": "CoordinationTableArn",
    "fleet_bucket": "FleetBucketName",
    "alert_topic": "AlertTopicArn",
    "dashboard": "DashboardName",
    "account_events_rule": "AccountEventsRuleArn",
}  # fmt: skip


def _function_arns(stage: str, target: Target, recorded_only: bool) -> dict[str, str]:
    """The ARNs Chalice recorded; for a preview without a record, the ARNs Chalice gives."""
    try:
        return lambdas.recorded_function_arns(stage)
    except DeployError:
        if recorded_only:
            raise
        return {f: target.function_arn(f) for f in FUNCTIONS}


def post_deploy(
    stage: str,
    watch_timeout: int = DEFAULT_WATCH_TIMEOUT,
    aws: Any | None = None,
    *,
    emails: tuple[str, ...] = (),
    https: tuple[str, ...] = (),
    alert_kms_key_id: str | None = None,
    obs: Observability | None = None,
    baselines: Baselining | None = None,
    diff: bool = False,
    bucket_writers: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Everything after ``chalice deploy`` (``diff``: only show the change set); the stage's
    record.

    Raises:
        DeployError: the stage was not deployed by Chalice, CloudFormation refused the
            change set, or the change failed (rolled back; the failed resources named).
    """
    aws = aws or preflight.session()
    obs = obs or observability_of(stage)
    target = preflight.resolve_target(stage, aws)
    arns = _function_arns(stage, target, recorded_only=not diff)
    if baselines:
        baselining.check_bus(aws.client("events"), baselines.bus)
    if not diff:
        lambdas.tighten_function_roles(aws.client("iam"), target)
        for group in lambdas.set_log_retention(aws.client("logs"), target, obs.log_retention_days):
            print(f"created log group {group}", file=sys.stderr)
    alert_key = preflight.key_arn(aws.client("kms"), alert_kms_key_id) if alert_kms_key_id else None
    template = stage_template(
        stage, obs, arns, {f: target.log_group(f) for f in FUNCTIONS},
        watch_timeout=watch_timeout, emails=emails, https=https,
    )  # fmt: skip
    parameters = {"WatchTimeoutSeconds": str(watch_timeout), ALERT_KEY_PARAMETER: alert_key or "",
                  WRITERS_PARAMETER: writer_arns(target.caller_arn, bucket_writers),
                  **baselining.stack_parameters(baselines)}  # fmt: skip
    outcome = stack.deploy(aws, target, template, parameters, diff=diff)
    if diff:
        print(f"{'action':<7} {'resource':<40} {'type':<36} replacement")
        for change in outcome.changes:
            print(change.line())
        print(f"{len(outcome.changes)} change(s); nothing was changed", file=sys.stderr)
        return {"stage": stage, "stack": target.stack_name, "changes": len(outcome.changes)}
    outputs = outcome.outputs
    if baselines:
        version = baselining.store_file(aws.client("s3"), target, outputs["FleetBucketName"],
                                        baselines.file)  # fmt: skip
        print(f"stored {baselines.file} as version {version} of the stage's baselines",
              file=sys.stderr)  # fmt: skip
    result: dict[str, Any] = {"stage": stage, "stack": target.stack_name,
                              "changed": outcome.changed}  # fmt: skip
    result.update(
        {key: outputs[output] for key, output in RECORD_KEYS.items() if output in outputs}
    )
    out = CHALICE_DIR / "deployed" / f"{stage}-statemachines.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def observability_of(
    stage: str,
    sfn_log_level: str = observability.DEFAULT_SFN_LOG_LEVEL,
    include_execution_data: bool = False,
    log_retention_days: str | None = None,
    dashboard: bool = False,
) -> Observability:
    """The deploy's observability: the flags, over the stage's Chalice ``xray`` and
    ``log_retention_in_days``.

    Raises:
        DeployError: a flag's value is refused, or the stage is not configured.
    """
    try:
        config = load_stage(stage)
    except StageConfigError as error:
        raise DeployError(str(error)) from None
    retention = (
        observability.parse_retention(log_retention_days)
        if log_retention_days is not None
        else observability.parse_retention(config.log_retention_days)
    )
    return Observability(
        sfn_log_level=observability.parse_log_level(sfn_log_level),
        include_execution_data=include_execution_data,
        log_retention_days=retention,
        xray=config.xray,
        dashboard=dashboard,
    )


def delete(stage: str, force: bool = False, aws: Any | None = None) -> teardown.Report:
    """Delete the stage; prints what was deleted and what was not found."""
    aws = aws or preflight.session()
    target = preflight.resolve_target(stage, aws)
    report = teardown.delete_stage(aws, target, force=force)
    for label in report.deleted:
        print(f"deleted {label}", file=sys.stderr)
    for label in report.not_found:
        print(f"not found {label}", file=sys.stderr)
    for label in report.left:
        print(f"LEFT {label}", file=sys.stderr)
    print(
        f"stage {stage}: {len(report.deleted)} deleted, {len(report.not_found)} not found, "
        f"{len(report.left)} left",
        file=sys.stderr,
    )
    if report.left:
        raise DeployError(f"stage {stage}: {', '.join(report.left)} still there")
    return report


def check_dashboard_key(dashboard: bool, alert_kms_key_id: str | None) -> None:
    """The dashboard's alarms can publish to the (always encrypted) alert topic only under a
    customer-managed key: SNS's AWS-managed key cannot be granted to CloudWatch ("Enable
    compatibility between event sources from AWS services and encrypted topics", SNS
    Developer Guide).

    Raises:
        DeployError: ``--dashboard`` without ``--alert-kms-key-id``.
    """
    if dashboard and not alert_kms_key_id:
        raise DeployError(
            "--dashboard's alarms publish to the alert topic, which is encrypted; CloudWatch "
            "can publish to an encrypted topic only under a customer-managed key whose policy "
            "lets cloudwatch.amazonaws.com use it (alias/aws/sns cannot): add "
            "--alert-kms-key-id KEY (docs/observability.md)"
        )


def deployer_policy_of(stage: str, aws: Any | None = None) -> dict[str, Any]:
    """The policy of the principal that deploys ``stage`` (in the session's account and
    region).

    Raises:
        DeployError: no credentials or region; StageConfigError: no such stage.
    """
    from stax_orchestrator.deploy.deployer import deployer_policy

    try:
        parameters = load_stage(stage).token_parameters
    except StageConfigError as error:
        raise DeployError(str(error)) from None
    return deployer_policy(preflight.resolve_target(stage, aws), parameters)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stax_orchestrator.deploy")
    parser.add_argument(
        "step",
        choices=[
            "preflight",
            "post-deploy",
            "diff",
            "package",
            "delete",
            "watch-timeout",
            "lint",
            "deployer-policy",
        ],
    )
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--watch-timeout", default=str(DEFAULT_WATCH_TIMEOUT))
    parser.add_argument("--alert-email", action="append", default=[])
    parser.add_argument("--alert-https", action="append", default=[])
    parser.add_argument("--kms-key-id", help="the key that encrypts the token parameters")
    parser.add_argument("--alert-kms-key-id", help="encrypt the alert topic with this key")
    parser.add_argument("--force", action="store_true", help="delete with executions running")
    parser.add_argument("--sfn-log-level", default=observability.DEFAULT_SFN_LOG_LEVEL)
    parser.add_argument("--sfn-include-execution-data", action="store_true")
    parser.add_argument("--log-retention-days")
    parser.add_argument("--dashboard", action="store_true")
    parser.add_argument("--package-dir", help="where `package` writes the template")
    parser.add_argument("--sar-source-url", help="SAR HomePageUrl and SourceCodeUrl")
    parser.add_argument("--baselines", help="baseline new accounts with this file")
    parser.add_argument("--stax-event-bus", help="the bus Stax's account events arrive on")
    parser.add_argument("--stax-event-source", help="their source (a prefix)")
    parser.add_argument("--baseline-drift-schedule", help="e.g. 'rate(1 day)'")
    parser.add_argument(
        "--bucket-writer",
        action="append",
        default=[],
        help="a principal ARN that may also write the stage bucket's "
        "baselines/, plans/ and requests/ (an operator who runs big fleets)",
    )
    return parser


def baselines_of(args: argparse.Namespace) -> Baselining | None:
    """Raises DeployError: as ``baselining.parse_options``."""
    return baselining.parse_options(
        args.baselines, args.stax_event_bus, args.stax_event_source, args.baseline_drift_schedule
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        # A call the deploying principal may not make (AccessDenied) or a service refusal no
        # step expected: one line naming the call, never a traceback.
        print(f"deploy: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    """Run ``args.step``; its exit code.

    Raises:
        DeployError, botocore's errors: as each step says.
    """
    # Before anything is created: a name too long for one of the stage's resources would
    # otherwise fail half-way through a deploy (a delete still removes what exists).
    if args.step in ("preflight", "post-deploy", "diff", "package"):
        problem = stage_name_problem(args.stage)
        if problem:
            raise DeployError(problem)
        check_dashboard_key(args.dashboard, args.alert_kms_key_id)
    watch_timeout = parse_watch_timeout(args.watch_timeout)
    if args.step == "watch-timeout":
        print(watch_timeout)
    elif args.step == "preflight":
        # The observability flags are refused here, before anything is created.
        observability_of(args.stage, args.sfn_log_level, args.sfn_include_execution_data,
                         args.log_retention_days, args.dashboard)  # fmt: skip
        options = baselines_of(args)
        writer_arns("", tuple(args.bucket_writer))  # refused before anything is created
        target = preflight.preflight(
            args.stage, args.kms_key_id, args.alert_kms_key_id, dashboard=args.dashboard
        )
        if options:
            baselining.check_bus(preflight.session().client("events"), options.bus)
        print(f"deploying stage {args.stage} to account {target.account} in {target.region}")
    elif args.step in ("post-deploy", "diff", "package"):
        obs = observability_of(
            args.stage,
            args.sfn_log_level,
            args.sfn_include_execution_data,
            args.log_retention_days,
            args.dashboard,
        )
        if args.step == "package":
            from stax_orchestrator.deploy.package import package

            written = package(
                args.stage,
                args.package_dir or "",
                watch_timeout=watch_timeout,
                obs=obs,
                kms_key_id=args.kms_key_id,
                alert_kms_key_id=args.alert_kms_key_id,
                emails=tuple(args.alert_email),
                https=tuple(args.alert_https),
                source_url=args.sar_source_url,
            )
            print(written)
            return 0
        deployed = post_deploy(
            args.stage,
            watch_timeout,
            emails=tuple(args.alert_email),
            https=tuple(args.alert_https),
            alert_kms_key_id=args.alert_kms_key_id,
            obs=obs,
            baselines=baselines_of(args),
            diff=args.step == "diff",
            bucket_writers=tuple(args.bucket_writer),
        )
        if args.step == "post-deploy":  # the diff printed its change set
            print(json.dumps(deployed, indent=2))
    elif args.step == "delete":
        delete(args.stage, force=args.force)
    elif args.step == "deployer-policy":
        print(json.dumps(deployer_policy_of(args.stage), indent=2))
    else:
        from stax_orchestrator.lint import lint

        return lint()
    return 0
