"""Command line of the simulator: ``python -m staxsim serve``.

Runs the HTTPS simulator until SIGINT/SIGTERM; refuses to bind a non-loopback address
unless ``--allow-non-loopback`` is given. One line per request goes to stderr (never
header values). Strict realism (``staxsim.realism``) is the default; ``--lenient``
restores the kinder answers, and ``--read-after-write-lag``, ``--null-share`` and
``--realism-seed`` override single settings. The TLS material (``local/tls.py``)
defaults to the local stack's fixed folder (docs/local-stack.md).
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

from staxsim.backend import SimState
from staxsim.exceptions import SimError
from staxsim.models.tasks import TaskDurations
from staxsim.realism import Realism, RealismError
from staxsim.server import Simulator, SimulatorServer

#: The local stack's TLS folder (fixed by docs/local-stack.md).
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
        "--validate-responses",
        dest="strict",
        action="store_true",
        help="validate every API response against the document (500 on a mismatch); "
        "unrelated to strict realism, which is the default",
    )
    serve.add_argument(
        "--lenient",
        action="store_true",
        help="kinder answers than the document requires: Tags everywhere, extra event "
        "fields, 400 (not 404) for writes to a DELETED workload, no lag, no nulls",
    )
    serve.add_argument(
        "--read-after-write-lag",
        type=float,
        metavar="SECONDS",
        help="seconds before a new workload/task is readable (strict 1.0, lenient 0)",
    )
    serve.add_argument(
        "--null-share",
        type=float,
        metavar="FRACTION",
        help="share of responses with every nullable field null (strict 0.25, lenient 0)",
    )
    serve.add_argument("--realism-seed", type=int, help="seed of the null RNG (repeatable)")
    serve.add_argument("--task-seconds", type=float, help="total task duration (split 1:1:4)")
    serve.add_argument("--seed-file", help="JSON body for /_sim/seed applied at start")
    serve.add_argument("--config-file", help="JSON body for /_sim/config applied at start")
    serve.add_argument("--quiet", action="store_true", help="no per-request log lines")
    return parser


def _load_json(path: str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def realism_from(args: argparse.Namespace) -> Realism:
    """The realism settings the command line asks for."""
    changes: dict[str, Any] = {}
    if args.read_after_write_lag is not None:
        changes["read_after_write_lag_seconds"] = args.read_after_write_lag
    if args.null_share is not None:
        changes["null_share"] = args.null_share
    if args.realism_seed is not None:
        changes["seed"] = args.realism_seed
    return Realism.for_mode(not args.lenient).updated(changes)


def serve(args: argparse.Namespace) -> int:
    """Run the simulator until a signal arrives."""
    if not is_loopback(args.host) and not args.allow_non_loopback:
        print(
            f"staxsim: refusing to bind non-loopback host {args.host!r} "
            "(use --allow-non-loopback to force)",
            file=sys.stderr,
        )
        return 2
    try:
        state = SimState(realism=realism_from(args))
        if args.task_seconds is not None:
            state.set_durations(TaskDurations.from_total(args.task_seconds))
        if args.config_file:
            state.configure(_load_json(args.config_file)["api_auth"])
        if args.seed_file:
            state.seed(_load_json(args.seed_file))
    except (SimError, RealismError, KeyError, OSError, ValueError) as exc:
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
    realism = state.realism
    mode = "strict" if realism.strict else "lenient"
    print(
        f"staxsim: serving {server.base_url} (API /20190206, control /_sim; realism {mode}, "
        f"lag {realism.read_after_write_lag_seconds:g}s, null share {realism.null_share:g})",
        file=sys.stderr,
    )
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
