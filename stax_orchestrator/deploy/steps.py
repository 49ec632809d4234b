"""The steps ``deploy.sh`` runs around ``chalice deploy``, and their command line.

Role: ``python -m stax_orchestrator.deploy STEP --stage S``:

- ``preflight`` — credentials, the token and its key; the Lambdas' policy files;
- ``post-deploy`` — after ``chalice deploy``: the functions' roles trust this account
  only; the coordination table; the state machines' role, log groups and the state
  machines (rendered from ``statemachines/`` with the ARNs Chalice recorded, updated in
  place, with their logging and tracing); the alert topic, rule and subscriptions; the
  dashboard and alarms (``--dashboard``; removed without it); the stored baselines
  file, the rule on the Stax event bus and the drift schedule (``--baselines``; the
  rules removed without it); the ARNs go to
  ``.chalice/deployed/<stage>-statemachines.json``;
- ``package`` — the CloudFormation package (``package``);
- ``delete`` — every resource of the stage, found by name;
- ``watch-timeout`` — validates ``--watch-timeout`` (one parser for bash and Python);
- ``lint`` — statelint and the contract between the state machines and the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from stax_orchestrator.deploy import (
    alerts,
    baselining,
    observability,
    preflight,
    resources,
    teardown,
)
from stax_orchestrator.deploy.baselining import Baselining
from stax_orchestrator.deploy.names import CHALICE_DIR, STATE_MACHINES, stage_name_problem
from stax_orchestrator.deploy.observability import Observability
from stax_orchestrator.deploy.policies import states_policy
from stax_orchestrator.deploy.stage import StageConfigError, load_stage
from stax_orchestrator.deploy.templates import (
    DEFAULT_WATCH_TIMEOUT,
    DeployError,
    load_template,
    parse_watch_timeout,
    render,
    template_values,
)


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
) -> dict[str, str]:
    """Everything after ``chalice deploy``; returns the stage's ARNs.

    Raises:
        DeployError: the stage was not deployed by Chalice, or a step cannot go on.
    """
    aws = aws or preflight.session()
    obs = obs or observability_of(stage)
    target = preflight.resolve_target(stage, aws)
    arns = resources.recorded_function_arns(stage)
    resources.tighten_function_roles(aws.client("iam"), target)
    table_arn = resources.ensure_table(aws.client("dynamodb"), target)
    bucket = resources.ensure_bucket(aws.client("s3"), target)
    policy = states_policy(target, arns, log_delivery=obs.sfn_log_level != "OFF", xray=obs.xray)
    role_arn = resources.ensure_role(aws.client("iam"), target, policy)
    for group in observability.ensure_log_groups(aws.client("logs"), target, obs):
        print(f"created log group {group}", file=sys.stderr)
    values = template_values(arns, target, watch_timeout)
    sfn = aws.client("stepfunctions")
    result = {"stage": stage, "role": role_arn, "table": table_arn, "fleet_bucket": bucket}
    for kind in STATE_MACHINES:
        arn, action = resources.ensure_state_machine(
            sfn, target, kind, render(load_template(kind), values), role_arn,
            logging=observability.logging_configuration(target, kind, obs),
            tracing=observability.tracing_configuration(obs),
        )  # fmt: skip
        result[kind] = arn
        print(f"state machine {target.state_machine_name(kind)}: {action}", file=sys.stderr)
    alert_key = preflight.key_arn(aws.client("kms"), alert_kms_key_id) if alert_kms_key_id else None
    result["alert_topic"] = alerts.ensure_alerts(
        aws, target, arns, emails=emails, https=https, kms_key_arn=alert_key
    )
    for line in observability.ensure_dashboard(aws, target, obs):
        print(("" if obs.dashboard else "removed ") + line, file=sys.stderr)
    if obs.dashboard:
        result["dashboard"] = target.dashboard_name
    for line in baselining.ensure_baselining(aws, target, baselines, arns):
        print(line, file=sys.stderr)
    if baselines:
        result["account_events_rule"] = target.account_events_rule_arn(baselines.bus)
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
    print(
        f"stage {stage}: {len(report.deleted)} deleted, {len(report.not_found)} not found",
        file=sys.stderr,
    )
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stax_orchestrator.deploy")
    parser.add_argument(
        "step",
        choices=["preflight", "post-deploy", "package", "delete", "watch-timeout", "lint"],
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
    return parser


def baselines_of(args: argparse.Namespace) -> Baselining | None:
    """Raises DeployError: as ``baselining.parse_options``."""
    return baselining.parse_options(
        args.baselines, args.stax_event_bus, args.stax_event_source, args.baseline_drift_schedule
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        # Before anything is created: a name too long for one of the stage's resources would
        # otherwise fail half-way through a deploy (a delete still removes what exists).
        if args.step in ("preflight", "post-deploy", "package"):
            problem = stage_name_problem(args.stage)
            if problem:
                raise DeployError(problem)
        watch_timeout = parse_watch_timeout(args.watch_timeout)
        if args.step == "watch-timeout":
            print(watch_timeout)
        elif args.step == "preflight":
            # The observability flags are refused here, before anything is created.
            observability_of(args.stage, args.sfn_log_level, args.sfn_include_execution_data,
                             args.log_retention_days, args.dashboard)  # fmt: skip
            options = baselines_of(args)
            target = preflight.preflight(args.stage, args.kms_key_id, args.alert_kms_key_id)
            if options:
                baselining.check_bus(preflight.session().client("events"), options.bus)
            print(f"deploying stage {args.stage} to account {target.account} in {target.region}")
        elif args.step in ("post-deploy", "package"):
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
            )
            print(json.dumps(deployed, indent=2))
        elif args.step == "delete":
            delete(args.stage, force=args.force)
        else:
            from stax_orchestrator.lint import lint

            return lint()
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 1
    return 0
