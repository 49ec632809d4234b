#!/usr/bin/env bash
# Deploy Stax Orchestrator: the Chalice Lambdas, then both state machines and their role.
#
#   ./deploy.sh [--stage dev|local|...] [--watch-timeout SECONDS]
#               [--alert-email ADDRESS]... [--alert-https URL]... [--delete]
#
# Uses the default AWS credential chain (or the local stack: eval "$(make -s local-env)").
# Running it twice changes nothing the second time; changed definitions are updated in place.
set -euo pipefail

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

STAGE=dev
DELETE=0
WATCH_TIMEOUT=7200
ALERTS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) STAGE=${2:?--stage needs a value}; shift 2 ;;
    --watch-timeout) WATCH_TIMEOUT=${2:?--watch-timeout needs seconds}; shift 2 ;;
    --alert-email) ALERTS+=(--alert-email "${2:?--alert-email needs an address}"); shift 2 ;;
    --alert-https) ALERTS+=(--alert-https "${2:?--alert-https needs a URL}"); shift 2 ;;
    --delete) DELETE=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "deploy.sh: unknown argument $1" >&2; usage 2 ;;
  esac
done
[[ "$STAGE" =~ ^[a-z][a-z0-9-]*$ ]] || { echo "deploy.sh: bad stage name '$STAGE'" >&2; exit 2; }
[[ "$WATCH_TIMEOUT" =~ ^[0-9]+$ ]] && ((WATCH_TIMEOUT >= 10 && WATCH_TIMEOUT <= 86400)) ||
  { echo "deploy.sh: --watch-timeout takes seconds, 10 to 86400" >&2; exit 2; }

cd "$(dirname "${BASH_SOURCE[0]}")"
PYTHON=${PYTHON:-.venv/bin/python}
CHALICE=${CHALICE:-.venv/bin/chalice}
[[ -x "$PYTHON" && -x "$CHALICE" ]] || { echo "deploy.sh: run 'make venv' first" >&2; exit 1; }
mkdir -p .chalice/deployed

if [[ $DELETE -eq 1 ]]; then
  "$PYTHON" -m stax_orchestrator.deploy delete --stage "$STAGE"
  if [[ -f ".chalice/deployed/$STAGE.json" ]]; then
    "$CHALICE" delete --stage "$STAGE"
  fi
  echo "deleted stage $STAGE" >&2
  exit 0
fi

# Credentials and the Stax token in SSM are checked before anything is created.
"$PYTHON" -m stax_orchestrator.deploy preflight --stage "$STAGE"
"$CHALICE" deploy --stage "$STAGE"
"$PYTHON" -m stax_orchestrator.deploy statemachines --stage "$STAGE" --watch-timeout "$WATCH_TIMEOUT" \
  ${ALERTS[@]+"${ALERTS[@]}"}
