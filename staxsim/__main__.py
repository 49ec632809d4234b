"""Command line of the simulator: ``python -m staxsim serve``.

Runs the HTTPS simulator until SIGINT/SIGTERM; refuses to bind a non-loopback address
unless ``--allow-non-loopback`` is given. One line per request goes to stderr (never
header values). The TLS material (``local/tls.py``) defaults to the local stack's fixed
folder (docs/CONVENTIONS.md).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from staxsim.server import Simulator, SimulatorServer
from staxsim.state import SimError, SimState, TaskDurations

#: The local stack's TLS folder (fixed by docs/CONVENTIONS.md).
DEFAULT_TLS_DIR = Path("/tmp/stax-orchestrator-local/tls")  # noqa: S108 - fixed by convention


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m staxsim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTPS Stax API simulator")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443)
    serve.add_argument("--certfile", default=str(DEFAULT_TLS_DIR / "server.pem"))
    serve.add_argument("--keyfile", default=str(DEFAULT_TLS_DIR / "server.key"))
    serve.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="bind a non-loopback address (exposes the simulator to the network)",
    )
    serve.add_argument(
        "--strict",
        action="store_true",
        help="validate every API response against the document (500 on a mismatch)",
    )
    serve.add_argument("--task-seconds", type=float, help="total task duration (split 1:1:4)")
    serve.add_argument("--seed-file", help="JSON body for /_sim/seed applied at start")
    serve.add_argument("--config-file", help="JSON body for /_sim/config applied at start")
    serve.add_argument("--quiet", action="store_true", help="no per-request log lines")
    return parser


def _load_json(path: str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def serve(args: argparse.Namespace) -> int:
    """Run the simulator until a signal arrives."""
    if not is_loopback(args.host) and not args.allow_non_loopback:
        print(
            f"staxsim: refusing to bind non-loopback host {args.host!r} "
            "(use --allow-non-loopback to force)",
            file=sys.stderr,
        )
        return 2
    state = SimState()
    try:
        if args.task_seconds is not None:
            state.set_durations(TaskDurations.from_total(args.task_seconds))
        if args.config_file:
            state.configure(_load_json(args.config_file)["api_auth"])
        if args.seed_file:
            state.seed(_load_json(args.seed_file))
    except (SimError, KeyError, OSError, ValueError) as exc:
        print(f"staxsim: bad start-up data: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    app = Simulator(
        state, strict_responses=args.strict, log_stream=None if args.quiet else sys.stderr
    )
    server = SimulatorServer(
        args.host, args.port, certfile=args.certfile, keyfile=args.keyfile, app=app
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server.start()
    print(f"staxsim: serving {server.base_url} (API /20190206, control /_sim)", file=sys.stderr)
    sys.stderr.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        print("staxsim: stopped", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = _parser().parse_args(argv)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
