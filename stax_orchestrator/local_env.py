"""The environment of the local stack (MiniStack + Stax simulator): one source of truth.

``local/stack.sh env`` prints these as ``export`` lines; the CLI's ``--local`` applies them.
"""

from __future__ import annotations

import os
import shlex
import sys

MINISTACK_URL = "https://127.0.0.1:4566"
SIM_HOST = "127.0.0.1:8443"
SIM_URL = f"https://{SIM_HOST}"
#: Who the local CLI is (the account's root keys, below): the operator the local stage lets
#: write fleet requests (``deploy.sh --bucket-writer``; docs/security.md).
LOCAL_OPERATOR = "arn:aws:iam::000000000000:root"
TLS_DIR = os.environ.get("STAX_LOCAL_TLS_DIR", "/tmp/stax-orchestrator-local/tls")  # noqa: S108


def local_env() -> dict[str, str]:
    """The variables a client of the local stack needs."""
    return {
        "AWS_ENDPOINT_URL": MINISTACK_URL,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",  # MiniStack's dummy credentials, not a secret
        # Both: botocore prefers AWS_CA_BUNDLE when a machine sets it (many do, to the
        # system's roots, which do not hold the local CA).
        "REQUESTS_CA_BUNDLE": f"{TLS_DIR}/ca-bundle.pem",
        "AWS_CA_BUNDLE": f"{TLS_DIR}/ca-bundle.pem",
        "STAX_API_HOST": SIM_HOST,
        "STAX_SIM_URL": SIM_URL,
        # The CLI's stage when none is named: after eval "$(make -s local-env)" every
        # command of the docs runs on the local stage as written.
        "STAX_ORCHESTRATOR_STAGE": "local",
    }


def apply_local_env() -> None:
    """Point this process at the local stack (what ``eval "$(make -s local-env)"`` does)."""
    os.environ.update(local_env())


def main() -> int:
    if sys.argv[1:] == ["operator"]:
        print(LOCAL_OPERATOR)
        return 0
    for name, value in local_env().items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
