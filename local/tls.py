"""Generate the local stack's TLS material: a private CA and a server certificate.

Role: local-stack script. The Stax simulator serves HTTPS with the server
certificate; clients (the SDK, the Lambdas on MiniStack, the CLI, the tests)
trust the CA through ``REQUESTS_CA_BUNDLE`` pointing at ``ca-bundle.pem``: the
system's public CAs plus the local one, so that the same shell can still
reach package registries (pip, and so ``chalice deploy``, honour that variable).
Nothing here turns verification off.

Idempotent: existing material is kept while the certificate is still valid
for more than a day, so a running simulator and deployed Lambdas keep working.

Private: the folder is created 0700 and refused when it is a symbolic link or another user
owns it (or its parent). /tmp is shared: a folder someone else made first
would let them hand us their CA and key, and read or swap what the local stack trusts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import stat
import sys
from pathlib import Path

# A fixed path: the `local` Chalice stage names the CA bundle in its static config.
DEFAULT_DIR = Path("/tmp/stax-orchestrator-local/tls")  # noqa: S108
SYSTEM_BUNDLES = (
    Path("/etc/ssl/certs/ca-certificates.crt"),
    Path("/etc/pki/tls/certs/ca-bundle.crt"),
)


def _public_cas() -> str:
    for bundle in SYSTEM_BUNDLES:
        if bundle.exists():
            return bundle.read_text()
    import certifi

    return Path(certifi.where()).read_text()


def write_bundle(ca: Path, bundle: Path) -> None:
    """``bundle`` = public CAs + the local CA (rewritten each time: cheap, always current)."""
    bundle.write_text(_public_cas().rstrip("\n") + "\n" + ca.read_text())


def _still_valid(cert_path: Path) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    remaining = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return remaining > dt.timedelta(days=1)


class TlsDirectoryNotPrivate(Exception):
    """The TLS folder (or its parent) is not ours alone; the message says what to do."""


def private_directory(directory: Path) -> None:
    """``directory`` exists, is a real folder of ours, mode 0700, in a parent folder that
    only we (or root) own.

    Raises:
        TlsDirectoryNotPrivate: one is a symbolic link or belongs to another user.
    """
    directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.mkdir(mode=0o700, exist_ok=True)
    # Whoever owns the parent can rename our folder away and put theirs in its place.
    for folder, owners in ((directory.parent, {os.getuid(), 0}), (directory, {os.getuid()})):
        info = folder.lstat()
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise TlsDirectoryNotPrivate(f"{folder} is not a folder (a link?): remove it first")
        if info.st_uid not in owners:
            raise TlsDirectoryNotPrivate(
                f"{folder} belongs to user id {info.st_uid}, not to you ({os.getuid()}): "
                "remove it (or set STAX_LOCAL_TLS_DIR to a folder of your own)"
            )
    if stat.S_IMODE(directory.lstat().st_mode) != 0o700:
        directory.chmod(0o700)


def ensure_tls(directory: Path = DEFAULT_DIR) -> dict[str, Path]:
    """Create (or keep) ``ca.pem``, ``server.pem``, ``server.key`` and ``ca-bundle.pem``.

    Raises:
        TlsDirectoryNotPrivate: as :func:`private_directory`.
    """
    import trustme

    private_directory(directory)

    paths = {
        "ca": directory / "ca.pem",
        "cert": directory / "server.pem",
        "key": directory / "server.key",
    }
    if all(p.exists() for p in paths.values()) and _still_valid(paths["cert"]):
        write_bundle(paths["ca"], directory / "ca-bundle.pem")
        return {**paths, "bundle": directory / "ca-bundle.pem"}
    ca = trustme.CA(organization_name="Stax Orchestrator local stack")
    server = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(str(paths["cert"]), append=True)
    server.private_key_pem.write_to_path(str(paths["key"]))
    paths["key"].chmod(0o600)
    write_bundle(paths["ca"], directory / "ca-bundle.pem")
    return {**paths, "bundle": directory / "ca-bundle.pem"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    try:
        paths = ensure_tls(args.dir)
    except TlsDirectoryNotPrivate as error:
        print(f"local stack: {error}", file=sys.stderr)
        return 1
    print(paths["bundle"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
