#!/usr/bin/env bash
# Deploy Stax Orchestrator: the Chalice Lambdas, then the state machines, table and alerts.
#
#   ./deploy.sh [--stage dev|local|...] [--watch-timeout SECONDS] [--kms-key-id KEY]
#               [--alert-email ADDRESS]... [--alert-https URL]... [--alert-kms-key-id KEY]
#   ./deploy.sh --stage S --delete [--force]
#
# Uses the default AWS credential chain (or the local stack: eval "$(make -s local-env)").
# Running it twice changes nothing the second time; changed definitions are updated in place.
# --delete removes every resource of the stage, found by name (any clone, any machine);
# it refuses while executions of the stage run, unless --force.
set -euo pipefail

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

STAGE=dev
DELETE=0
FORCE=()
WATCH_TIMEOUT=7200
KMS=()
ALERTS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) STAGE=${2:?--stage needs a value}; shift 2 ;;
    --watch-timeout) WATCH_TIMEOUT=${2:?--watch-timeout needs seconds}; shift 2 ;;
    --kms-key-id) KMS=(--kms-key-id "${2:?--kms-key-id needs a key id, ARN or alias}"); shift 2 ;;
    --alert-email) ALERTS+=(--alert-email "${2:?--alert-email needs an address}"); shift 2 ;;
    --alert-https) ALERTS+=(--alert-https "${2:?--alert-https needs a URL}"); shift 2 ;;
    --alert-kms-key-id) ALERTS+=(--alert-kms-key-id "${2:?--alert-kms-key-id needs a key}"); shift 2 ;;
    --delete) DELETE=1; shift ;;
    --force) FORCE=(--force); shift ;;
    -h|--help) usage 0 ;;
    *) echo "deploy.sh: unknown argument $1" >&2; usage 2 ;;
  esac
done
[[ "$STAGE" =~ ^[a-z][a-z0-9-]*$ ]] || { echo "deploy.sh: bad stage name '$STAGE'" >&2; exit 2; }

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
mkdir -p .chalice/deployed
# Credentials, the Stax token in SSM and its key are checked before anything is created.
step preflight --stage "$STAGE" ${KMS[@]+"${KMS[@]}"} ${ALERTS[@]+"${ALERTS[@]}"}
"$CHALICE" deploy --stage "$STAGE"
step post-deploy --stage "$STAGE" --watch-timeout "$WATCH_TIMEOUT" ${ALERTS[@]+"${ALERTS[@]}"}
