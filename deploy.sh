#!/usr/bin/env bash
# Deploy Stax Orchestrator: the Chalice Lambdas, then the stage's CloudFormation stack.
#
#   ./deploy.sh [--stage dev|local|...] [--diff] [--watch-timeout SECONDS] [--kms-key-id KEY]
#               [--alert-email ADDRESS]... [--alert-https URL]... [--alert-kms-key-id KEY]
#               [--sfn-log-level ALL|ERROR|FATAL|OFF] [--sfn-include-execution-data]
#               [--log-retention-days DAYS] [--dashboard]
#               [--baselines FILE --stax-event-bus NAME [--stax-event-source PREFIX]
#                [--baseline-drift-schedule 'rate(1 day)']] [--bucket-writer ARN]...
#   ./deploy.sh --stage S --package DIR [same options] [--sar-source-url URL]
#   ./deploy.sh --stage S --delete [--force]
#
# Uses the default AWS credential chain (or the local stack: eval "$(make -s local-env)").
# `chalice deploy` makes the Lambdas; the stack stax-orchestrator-<stage> holds the rest
# (state machines, their role and log groups, table, bucket, alerts, dashboard, baselining)
# and changes only through a change set: a failed change is rolled back, a run with nothing
# to change says so and changes nothing. --diff shows the stack's change set and changes
# nothing (not even the Lambdas).
# The state machines log to /aws/vendedlogs/states/<machine> at --sfn-log-level (ERROR).
# --sfn-include-execution-data also logs every state's input and output: they carry
# workload parameters, which their owners may consider confidential (off by default).
# Log groups keep --log-retention-days (default: the stage's log_retention_in_days, 60).
# X-Ray tracing follows the stage's Chalice "xray" setting (Lambdas and state machines).
# --dashboard adds a CloudWatch dashboard and alarms to the alert topic; without it they
# are removed. --package writes a CloudFormation template and its artifacts into DIR for
# `aws cloudformation package` / `deploy` (docs/cloudformation.md); it creates nothing.
# --baselines stores FILE with the stage and applies its baselines to every account Stax
# creates or moves to another type, on the events of --stax-event-bus (source prefix
# aws.partner/stax.io unless --stax-event-source); --baseline-drift-schedule alerts when
# Stax drifts from the file (docs/baselines.md). Without --baselines the rules go.
# Only the stage's roles, the principal that deploys it and each --bucket-writer (e.g. the
# role of operators whose fleets are too big for an execution's input) may write what the
# stage reads to decide its Stax writes (the bucket's baselines/, plans/, requests/);
# nobody reaches the bucket without TLS (docs/security.md).
# --delete empties the stage's bucket, deletes its stack, then its Lambdas (any clone, any
# machine); it refuses while executions of the stage run, unless --force.
set -euo pipefail

usage() {
  sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

STAGE=dev
DELETE=0
DIFF=0
FORCE=()
WATCH_TIMEOUT=7200
KMS=()
ALERTS=()
OBSERVE=()
PACKAGE=""
SAR=()
BASELINES=()
WRITERS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) STAGE=${2:?--stage needs a value}; shift 2 ;;
    --watch-timeout) WATCH_TIMEOUT=${2:?--watch-timeout needs seconds}; shift 2 ;;
    --kms-key-id) KMS=(--kms-key-id "${2:?--kms-key-id needs a key id, ARN or alias}"); shift 2 ;;
    --alert-email) ALERTS+=(--alert-email "${2:?--alert-email needs an address}"); shift 2 ;;
    --alert-https) ALERTS+=(--alert-https "${2:?--alert-https needs a URL}"); shift 2 ;;
    --alert-kms-key-id) ALERTS+=(--alert-kms-key-id "${2:?--alert-kms-key-id needs a key}"); shift 2 ;;
    --sfn-log-level) OBSERVE+=(--sfn-log-level "${2:?--sfn-log-level needs ALL, ERROR, FATAL or OFF}"); shift 2 ;;
    --sfn-include-execution-data) OBSERVE+=(--sfn-include-execution-data); shift ;;
    --log-retention-days) OBSERVE+=(--log-retention-days "${2:?--log-retention-days needs days}"); shift 2 ;;
    --dashboard) OBSERVE+=(--dashboard); shift ;;
    --package) PACKAGE=${2:?--package needs a folder}; shift 2 ;;
    --sar-source-url) SAR=(--sar-source-url "${2:?--sar-source-url needs a URL}"); shift 2 ;;
    --baselines) FILE=${2:?--baselines needs a file}; [[ "$FILE" == /* ]] || FILE="$PWD/$FILE"
      BASELINES+=(--baselines "$FILE"); shift 2 ;;
    --stax-event-bus) BASELINES+=(--stax-event-bus "${2:?--stax-event-bus needs a bus name}"); shift 2 ;;
    --stax-event-source) BASELINES+=(--stax-event-source "${2:?--stax-event-source needs a source}"); shift 2 ;;
    --baseline-drift-schedule) BASELINES+=(--baseline-drift-schedule "${2:?--baseline-drift-schedule needs a schedule}"); shift 2 ;;
    --bucket-writer) WRITERS+=(--bucket-writer "${2:?--bucket-writer needs a principal ARN}"); shift 2 ;;
    --delete) DELETE=1; shift ;;
    --diff) DIFF=1; shift ;;
    --force) FORCE=(--force); shift ;;
    -h|--help) usage 0 ;;
    *) echo "deploy.sh: unknown argument $1" >&2; usage 2 ;;
  esac
done
[[ "$STAGE" =~ ^[a-z][a-z0-9-]*$ ]] || { echo "deploy.sh: bad stage name '$STAGE'" >&2; exit 2; }
case "$PACKAGE" in "" | /*) ;; *) PACKAGE="$PWD/$PACKAGE" ;; esac # before the cd below

cd "$(dirname "${BASH_SOURCE[0]}")"
PYTHON=${PYTHON:-.venv/bin/python}
CHALICE=${CHALICE:-.venv/bin/chalice}
[[ -x "$PYTHON" && -x "$CHALICE" ]] || { echo "deploy.sh: run 'make venv' first" >&2; exit 1; }
step() { "$PYTHON" -m stax_orchestrator.deploy "$@"; }

if [[ $DELETE -eq 1 ]]; then
  step delete --stage "$STAGE" ${FORCE[@]+"${FORCE[@]}"}
  exit 0
fi

# One parser for --watch-timeout (bash would read 0100000 as octal): the deploy tooling's.
WATCH_TIMEOUT=$(step watch-timeout --watch-timeout "$WATCH_TIMEOUT") || exit 2

if [[ -n "$PACKAGE" ]]; then
  # No AWS call: the stack's parameters and the token are the deploying pipeline's.
  CHALICE="$CHALICE" step package --stage "$STAGE" --package-dir "$PACKAGE" \
    --watch-timeout "$WATCH_TIMEOUT" ${KMS[@]+"${KMS[@]}"} ${ALERTS[@]+"${ALERTS[@]}"} \
    ${OBSERVE[@]+"${OBSERVE[@]}"} ${SAR[@]+"${SAR[@]}"}
  exit 0
fi
if [[ $DIFF -eq 1 ]]; then
  step diff --stage "$STAGE" --watch-timeout "$WATCH_TIMEOUT" ${ALERTS[@]+"${ALERTS[@]}"} \
    ${OBSERVE[@]+"${OBSERVE[@]}"} ${BASELINES[@]+"${BASELINES[@]}"} ${WRITERS[@]+"${WRITERS[@]}"}
  exit 0
fi
mkdir -p .chalice/deployed
# Credentials, the Stax token in SSM and its key are checked before anything is created.
step preflight --stage "$STAGE" ${KMS[@]+"${KMS[@]}"} ${ALERTS[@]+"${ALERTS[@]}"} \
  ${OBSERVE[@]+"${OBSERVE[@]}"} ${BASELINES[@]+"${BASELINES[@]}"} ${WRITERS[@]+"${WRITERS[@]}"}
"$CHALICE" deploy --stage "$STAGE"
step post-deploy --stage "$STAGE" --watch-timeout "$WATCH_TIMEOUT" ${ALERTS[@]+"${ALERTS[@]}"} \
  ${OBSERVE[@]+"${OBSERVE[@]}"} ${BASELINES[@]+"${BASELINES[@]}"} ${WRITERS[@]+"${WRITERS[@]}"}
