#!/usr/bin/env bash
# `make test`: bring the local stack up, run the whole pytest suite on it, always take it down.
# pytest's exit code 5 ("no tests collected") is a failure here: this suite is never empty.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
trap 'local/stack.sh down' EXIT
local/stack.sh up || exit 1
eval "$(local/stack.sh env)"
export STAX_REQUIRE_LOCAL_STACK=1
.venv/bin/python -m pytest --durations=25 "$@"
rc=$?
if [[ $rc -eq 5 ]]; then
  echo "make test: pytest collected no tests — the suite is broken" >&2
  exit 1
fi
exit $rc
