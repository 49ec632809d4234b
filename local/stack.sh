#!/usr/bin/env bash
# The local stack: MiniStack (AWS emulator) + the Stax API simulator, on loopback only.
#   local/stack.sh up      start both (idempotent), bootstrap, print endpoints and env vars
#   local/stack.sh down    stop both (and MiniStack's Lambda workers)
#   local/stack.sh env     print only `export` lines: eval "$(local/stack.sh env)"
#   local/stack.sh deployer-env   the deploying user's key as `export` lines (after env)
#   local/stack.sh status  say what runs
# Pid files and logs live in .local/ (git-ignored); TLS material in $STAX_LOCAL_TLS_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="$ROOT/.local"
LOG_DIR="$STATE_DIR/logs"
TLS_DIR="${STAX_LOCAL_TLS_DIR:-/tmp/stax-orchestrator-local/tls}"
# MiniStack's scratch space (TMPDIR): each Lambda worker unpacks its code and layer there
# (about 90 MB), and a killed server leaves them behind. `down` removes it, `up` starts
# it empty; short, as a socket path inside it must stay under 108 bytes.
SCRATCH_DIR="$(dirname "$TLS_DIR")/ministack-tmp"
MINISTACK_PORT=4566
SIM_PORT=8443
MINISTACK_URL="https://127.0.0.1:$MINISTACK_PORT"
SIM_URL="https://127.0.0.1:$SIM_PORT"
PY="$ROOT/.venv/bin/python"
MS_PY="$ROOT/.venv-ministack/bin/python"

print_env() { # the single source is stax_orchestrator/local_env.py
  STAX_LOCAL_TLS_DIR="$TLS_DIR" "$PY" -m stax_orchestrator.local_env
}

print_deployer_env() { # the deploying user's key, made by local/bootstrap.py
  [[ -f "$STATE_DIR/deployer.json" ]] || { echo "local stack: no deploying user yet; run: make local-up" >&2; return 1; }
  "$PY" -c 'import json, shlex, sys
key = json.load(open(sys.argv[1]))
print("export AWS_ACCESS_KEY_ID=" + shlex.quote(key["AccessKeyId"]))
print("export AWS_SECRET_ACCESS_KEY=" + shlex.quote(key["SecretAccessKey"]))' "$STATE_DIR/deployer.json"
}

is_running() { # pidfile
  [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

wait_for() { # name url seconds [curl args...]
  local name=$1 url=$2 seconds=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  until curl -fsS -o /dev/null "$@" "$url" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "local stack: $name did not answer at $url within ${seconds}s; see $LOG_DIR" >&2
      return 1
    fi
    sleep 0.2
  done
}

start_detached() { # name pidfile logfile command...
  local name=$1 pidfile=$2 logfile=$3
  shift 3
  # setsid: own process group, so `down` stops the server and every child it spawned.
  # Descriptors 3-9 are closed: a server must not inherit its caller's open files (a
  # `flock FILE make local-up` would otherwise hold that lock for the server's lifetime).
  setsid "$@" >"$logfile" 2>&1 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  echo $! >"$pidfile"
  echo "local stack: started $name (pid $(cat "$pidfile")), log $logfile" >&2
}

stop() { # name pidfile
  local name=$1 pidfile=$2
  if is_running "$pidfile"; then
    local pid
    pid=$(cat "$pidfile")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    echo "local stack: stopped $name" >&2
  fi
  rm -f "$pidfile"
}

up() {
  mkdir -p "$LOG_DIR"
  "$PY" "$ROOT/local/tls.py" --dir "$TLS_DIR" >/dev/null
  if ! is_running "$STATE_DIR/ministack.pid"; then
    if curl -fsS -o /dev/null --cacert "$TLS_DIR/ca.pem" "$MINISTACK_URL/_ministack/health" 2>/dev/null ||
      curl -fsS -o /dev/null "http://127.0.0.1:$MINISTACK_PORT/_ministack/health" 2>/dev/null; then
      echo "local stack: port $MINISTACK_PORT answers but is not ours; stop that process first" >&2
      return 1
    fi
    rm -rf "$SCRATCH_DIR" && mkdir -p -m 700 "$SCRATCH_DIR"
    start_detached MiniStack "$STATE_DIR/ministack.pid" "$LOG_DIR/ministack.log" \
      env TMPDIR="$SCRATCH_DIR" BIND_HOST=127.0.0.1 GATEWAY_PORT=$MINISTACK_PORT LOG_LEVEL=WARNING AUTH=true \
      MINISTACK_SSL_CERT="$TLS_DIR/server.pem" MINISTACK_SSL_KEY="$TLS_DIR/server.key" \
      AWS_CA_BUNDLE="$TLS_DIR/ca-bundle.pem" REQUESTS_CA_BUNDLE="$TLS_DIR/ca-bundle.pem" \
      "$MS_PY" "$ROOT/local/ministack_launcher.py"
  fi
  if ! is_running "$STATE_DIR/staxsim.pid"; then
    start_detached "Stax simulator" "$STATE_DIR/staxsim.pid" "$LOG_DIR/staxsim.log" \
      env PYTHONPATH="$ROOT" REQUESTS_CA_BUNDLE="$TLS_DIR/ca-bundle.pem" AWS_CA_BUNDLE="$TLS_DIR/ca-bundle.pem" "$PY" -m staxsim serve --host 127.0.0.1 --port $SIM_PORT \
      --certfile "$TLS_DIR/server.pem" --keyfile "$TLS_DIR/server.key"
  fi
  wait_for MiniStack "$MINISTACK_URL/_ministack/health" 60 --cacert "$TLS_DIR/ca.pem"
  wait_for "Stax simulator" "$SIM_URL/_sim/health" 30 --cacert "$TLS_DIR/ca.pem"
  # PYTHONPATH: staxsim is a development tool of the checkout, not installed with the CLI.
  (eval "$(print_env)" && PYTHONPATH="$ROOT" "$PY" "$ROOT/local/bootstrap.py") >&2
  cat >&2 <<EOF
local stack is up:
  MiniStack       $MINISTACK_URL   (log $LOG_DIR/ministack.log)
  Stax simulator  $SIM_URL   (API /20190206, control /_sim; log $LOG_DIR/staxsim.log)
  CA bundle       $TLS_DIR/ca.pem
Use it from a shell:  eval "\$(make -s local-env)"
EOF
  print_env >&2
}

down() {
  stop "Stax simulator" "$STATE_DIR/staxsim.pid"
  stop MiniStack "$STATE_DIR/ministack.pid"
  rm -rf "$SCRATCH_DIR"
}

status() {
  for name in ministack staxsim; do
    if is_running "$STATE_DIR/$name.pid"; then
      echo "$name: running (pid $(cat "$STATE_DIR/$name.pid"))"
    else
      echo "$name: stopped"
    fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) print_env ;;
  deployer-env) print_deployer_env ;;
  status) status ;;
  *)
    echo "usage: $0 up|down|env|deployer-env|status" >&2
    exit 2
    ;;
esac
