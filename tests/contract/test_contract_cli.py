"""``python -m staxsim serve``: loopback only, serves HTTPS, logs requests, stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]


def _serve(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "staxsim", "serve", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def test_refuses_a_non_loopback_host(tls: Any) -> None:
    process = _serve(
        "--host", "0.0.0.0", "--port", "0", "--certfile", tls.cert, "--keyfile", tls.key
    )
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "refusing to bind non-loopback host" in stderr


def test_serves_logs_and_stops_on_sigterm(tls: Any) -> None:
    process = _serve("--port", "0", "--certfile", tls.cert, "--keyfile", tls.key)
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        found = re.search(r"serving (https://127\.0\.0\.1:\d+)", first)
        assert found, first
        base = found.group(1)
        assert "realism strict, lag 1s, null share 0.25" in first
        health = requests.get(f"{base}/_sim/health", verify=tls.ca, timeout=5)
        assert health.json()["status"] == "ok"
        realism = requests.get(f"{base}/_sim/realism", verify=tls.ca, timeout=5).json()
        assert realism == {
            "strict": True,
            "read_after_write_lag_seconds": 1.0,
            "null_share": 0.25,
            "seed": None,
        }
        refused = requests.get(
            f"{base}/20190206/workloads",
            headers={"Authorization": "AWS4-HMAC-SHA256 secret-looking-value"},
            verify=tls.ca,
            timeout=5,
        )
        assert refused.status_code == 403
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
    assert process.returncode == 0
    assert '"GET /_sim/health" 200' in rest
    assert '"GET /20190206/workloads" 403' in rest
    assert "secret-looking-value" not in rest
    assert "staxsim: stopped" in rest


def test_lenient_and_realism_flags_set_the_realism(tls: Any) -> None:
    process = _serve(
        "--port", "0", "--certfile", tls.cert, "--keyfile", tls.key, "--quiet",
        "--lenient", "--read-after-write-lag", "0.5", "--realism-seed", "3",
    )  # fmt: skip
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert "realism lenient, lag 0.5s, null share 0" in first, first
        found = re.search(r"serving (https://127\.0\.0\.1:\d+)", first)
        assert found, first
        realism = requests.get(f"{found.group(1)}/_sim/realism", verify=tls.ca, timeout=5)
        assert realism.json() == {
            "strict": False,
            "read_after_write_lag_seconds": 0.5,
            "null_share": 0.0,
            "seed": 3,
        }
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
    assert process.returncode == 0


def test_a_bad_realism_flag_is_refused(tls: Any) -> None:
    process = _serve(
        "--port", "0", "--certfile", tls.cert, "--keyfile", tls.key, "--null-share", "2"
    )
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "null_share: must be a number between 0 and 1" in stderr
