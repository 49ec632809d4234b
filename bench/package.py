"""Row 5 — the deployment package: what ``chalice deploy`` uploads, with and without a layer.

Everything runs in a temporary copy of the project (``app.py``, ``chalicelib/``,
``requirements.txt``, ``.chalice/config.json`` + the stage's policy file), so the
repository's ``.chalice`` is never written; the dependency package cache of
``.chalice/deployments`` is copied in when it matches, to spare a rebuild.

1. ``chalice package --stage local OUT`` with the project's config: ``deployment.zip``
   is what every function uploads; its entries are split into function code
   (``app.py``, ``chalicelib/``, Chalice's runtime ``chalice/``) and dependencies.
2. The same with ``"automatic_layer": true`` in a copy of the config: the function zip
   holds the code only, dependencies go to ``layer-deployment.zip``.
3. A redeploy after a code change (a comment appended to ``chalicelib/polling.py``):
   the time ``chalice package`` takes to rebuild in each variant, and the bytes a
   ``chalice deploy`` then uploads — one zip per function (5), plus, with the layer,
   the layer (Chalice republishes it on every deploy).

Chalice keys its cached dependency build on requirements.txt *and the app's files*
(``_hash_project_dir``) without a layer, but on requirements.txt only for the managed
layer — so without a layer every code change rebuilds every dependency with pip.

Run alone: ``python -m bench.package`` (no stack needed; pip needs the package index
or the local wheel cache for a rebuild).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from stax_orchestrator.deploy import FUNCTIONS as _FUNCTION_NAMES

ROOT = Path(__file__).resolve().parent.parent
CHALICE = ROOT / ".venv" / "bin" / "chalice"
STAGE = "local"
#: Chalice uploads the zip once per function.
FUNCTIONS = len(_FUNCTION_NAMES)
CODE_PREFIXES = ("app.py", "chalicelib/", "chalice/")


def copy_project(dest: Path, automatic_layer: bool) -> Path:
    """A copy of what Chalice packages, with ``automatic_layer`` set as asked."""
    project = dest / ("with-layer" if automatic_layer else "no-layer")
    (project / ".chalice" / "deployments").mkdir(parents=True)
    shutil.copy2(ROOT / "app.py", project / "app.py")
    shutil.copy2(ROOT / "requirements.txt", project / "requirements.txt")
    shutil.copytree(
        ROOT / "chalicelib",
        project / "chalicelib",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    config["automatic_layer"] = automatic_layer
    (project / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))
    # Every policy file the stage names (deploy.sh writes them; a fresh clone may not have
    # them yet, and Chalice only needs them to exist to package).
    from stax_orchestrator.deploy.stage import load_stage

    for policy_name in sorted(set(load_stage(STAGE).policy_files.values())):
        source = ROOT / ".chalice" / policy_name
        policy = (
            source.read_text()
            if source.exists()
            else json.dumps({"Version": "2012-10-17", "Statement": []})
        )
        (project / ".chalice" / policy_name).write_text(policy)
    for cached in (ROOT / ".chalice" / "deployments").glob("*.zip"):
        shutil.copy2(cached, project / ".chalice" / "deployments" / cached.name)
    return project


def chalice_package(project: Path, out: Path) -> float:
    """Run ``chalice package --stage local OUT``; its wall time."""
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    started = time.monotonic()
    done = subprocess.run(
        [str(CHALICE), "package", "--stage", STAGE, str(out)],
        cwd=str(project),
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"chalice package failed: {done.stderr.strip()[-800:]}")
    return time.monotonic() - started


def zip_breakdown(path: Path) -> dict[str, Any]:
    """Compressed bytes of function code vs dependencies, and the largest packages."""
    code = deps = 0
    packages: dict[str, int] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename
            # Layers unzip under python/lib/pythonX.Y/site-packages/.
            inner = name.split("site-packages/", 1)[1] if "site-packages/" in name else name
            if inner.startswith(CODE_PREFIXES):
                code += info.compress_size
            else:
                deps += info.compress_size
                top = inner.split("/", 1)[0]
                packages[top] = packages.get(top, 0) + info.compress_size
    largest = sorted(packages.items(), key=lambda item: -item[1])[:5]
    return {
        "file_bytes": path.stat().st_size,
        "code_bytes": code,
        "deps_bytes": deps,
        "largest": largest,
    }


def touch_code(project: Path) -> None:
    """A code change, as a developer makes before a redeploy."""
    with (project / "chalicelib" / "polling.py").open("a") as handle:
        handle.write(f"\n# bench: code change {time.time()}\n")


def measure() -> dict[str, Any]:
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp:
        base = Path(tmp)
        for variant, layer in (("no_layer", False), ("automatic_layer", True)):
            project = copy_project(base, layer)
            first = chalice_package(project, base / f"{variant}-1")
            touch_code(project)
            rebuild = chalice_package(project, base / f"{variant}-2")
            out = base / f"{variant}-2"
            function = zip_breakdown(out / "deployment.zip")
            layer_zip = out / "layer-deployment.zip"
            layer_info = zip_breakdown(layer_zip) if layer_zip.exists() else None
            upload = FUNCTIONS * function["file_bytes"] + (
                layer_info["file_bytes"] if layer_info else 0
            )
            result[variant] = {
                "first_package_seconds": first,
                "rebuild_seconds": rebuild,
                "function_zip": function,
                "layer_zip": layer_info,
                "upload_bytes_per_deploy": upload,
            }
    return result


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} KB"


def rows(result: dict[str, Any]) -> list[Any]:
    """Ours is the configured ``automatic_layer``; beside it, the same app without a layer."""
    from bench.table import info_row

    plain, layered = result["no_layer"], result["automatic_layer"]
    fz = plain["function_zip"]
    largest = ", ".join(f"{name} {_mb(size)}" for name, size in fz["largest"][:3])
    lz = layered["layer_zip"] or {"file_bytes": 0}
    return [
        info_row(
            "deployment package (chalice package --stage local)",
            f"function code {_mb(layered['function_zip']['file_bytes'])} per function"
            f" + shared layer {_mb(lz['file_bytes'])}",
            f"no layer: {_mb(fz['file_bytes'])} per function: code {_mb(fz['code_bytes'])}, "
            f"dependencies {_mb(fz['deps_bytes'])} ({largest})",
        ),
        info_row(
            "redeploy after a code change: package rebuild",
            f"{layered['rebuild_seconds']:.1f} s (layer reused)",
            f"no layer: {plain['rebuild_seconds']:.1f} s (dependencies rebuilt with pip)",
        ),
        info_row(
            "redeploy after a code change: bytes uploaded",
            f"{_mb(layered['upload_bytes_per_deploy'])} (layer + {FUNCTIONS} × code zip)",
            f"no layer: {_mb(plain['upload_bytes_per_deploy'])} ({FUNCTIONS} × function zip)",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="deployment package size, with/without layer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from bench.table import render

    result = measure()
    if args.json:
        print(json.dumps(result, indent=2))
    print(render(rows(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
