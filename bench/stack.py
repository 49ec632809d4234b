"""Where the benchmarks run: the standard local stack, or private instances.

``make bench`` uses the standard local stack (MiniStack on 127.0.0.1:4566, the
simulator on 127.0.0.1:8443, ``make deploy-local`` done). For development every
module can also run on *private* instances that nobody else uses (``--private``):
a simulator on another port with its own throw-away ``trustme`` CA in a temp dir,
and, when Cognito/SSM is needed, a MiniStack of its own on another port,
bootstrapped with the functions of ``local/bootstrap.py``. Everything binds to
127.0.0.1 and TLS is always verified (``REQUESTS_CA_BUNDLE`` names the CA).

Run alone to check a stack:  ``python -m bench.stack [--private]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
MS_PY = ROOT / ".venv-ministack" / "bin" / "python"
SEED_FILE = ROOT / "local" / "seed.json"
REGION = "us-east-1"

STANDARD_MINISTACK = "https://127.0.0.1:4566"
STANDARD_SIM = "https://127.0.0.1:8443"
STANDARD_CA_BUNDLE = "/tmp/stax-orchestrator-local/tls/ca-bundle.pem"

PRIVATE_SIM_PORT = 8453
PRIVATE_MINISTACK_PORT = 4577

#: The simulator's default task durations (staxsim.state.TaskDurations).
DEFAULT_DURATIONS = {"started": 0.5, "pending": 0.5, "running": 2.0}


def seed() -> dict[str, Any]:
    """The local stack's seed data (``local/seed.json``) without its example workloads:
    each benchmark makes and counts its own."""
    data = json.loads(SEED_FILE.read_text())
    return {key: value for key, value in data.items() if key != "workloads"}


@dataclass(frozen=True)
class Deployment:
    """A deployed Chalice stage: its project folder (config, recorded ARNs) and name."""

    project_dir: Path
    stage: str

    def statemachines(self) -> dict[str, str]:
        """``{"workload": arn, "task_watcher": arn, ...}`` recorded by deploy.sh."""
        path = self.project_dir / ".chalice" / "deployed" / f"{self.stage}-statemachines.json"
        if not path.exists():
            raise RuntimeError(f"{path} not found: deploy the stage first (make deploy-local)")
        return dict(json.loads(path.read_text()))

    def environment(self) -> dict[str, str]:
        """The Lambdas' environment variables: top-level config, then the stage's."""
        config = json.loads((self.project_dir / ".chalice" / "config.json").read_text())
        env = dict(config.get("environment_variables", {}))
        env.update(config.get("stages", {}).get(self.stage, {}).get("environment_variables", {}))
        return env

    def poll_schedule(self) -> Any:
        """The stage's polling schedule, as its Lambdas read it."""
        from chalicelib.polling import PollSchedule

        return PollSchedule.from_env(self.environment())


@dataclass
class Stack:
    """Endpoints of one simulator (+ optionally one MiniStack) and the CA to trust."""

    sim_url: str
    ca_bundle: str
    ministack_url: str | None
    private: bool
    region: str = REGION
    deployment: Deployment | None = None
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)
    _started: float = field(default_factory=time.time, repr=False)

    @property
    def api_host(self) -> str:
        """``STAX_API_HOST`` of this simulator (``127.0.0.1:PORT``)."""
        return self.sim_url.split("://", 1)[1].rstrip("/")

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment a client process of this stack needs."""
        from local.bootstrap import ACCESS_KEY_PARAMETER, SECRET_KEY_PARAMETER

        env = dict(os.environ if base is None else base)
        env.update(
            {
                # The local stage's own token parameters (each stage names its own).
                "STAX_ACCESS_KEY_PARAMETER": ACCESS_KEY_PARAMETER,
                "STAX_SECRET_KEY_PARAMETER": SECRET_KEY_PARAMETER,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",  # MiniStack's dummy credentials
                "REQUESTS_CA_BUNDLE": self.ca_bundle,
                "AWS_CA_BUNDLE": self.ca_bundle,
                "STAX_API_HOST": self.api_host,
                "STAX_SIM_URL": self.sim_url,
                "PYTHONPATH": str(ROOT),
            }
        )
        if self.ministack_url:
            env["AWS_ENDPOINT_URL"] = self.ministack_url
            env["STAX_COORDINATION_TABLE"] = self.coordination_target().table_name
        return env

    def coordination_target(self) -> Any:
        """The ``local`` stage's names on this stack (its coordination table above all)."""
        from stax_orchestrator.deploy import Target

        return Target("local", self.region, "000000000000")

    def ensure_coordination_table(self) -> str:
        """The coordination table the in-process handlers write to (made when the stage is
        not deployed); its name."""
        from stax_orchestrator.deploy import table_definition

        target = self.coordination_target()
        dynamodb = self.boto("dynamodb")
        with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
            dynamodb.create_table(**table_definition(target.table_name))  # else the stage's
        return str(target.table_name)

    def apply_env(self) -> None:
        """Point this process at the stack."""
        os.environ.update(self.env({}))

    def sim(self) -> Any:
        from staxsim.control import SimulatorControl

        return SimulatorControl(self.sim_url, ca_bundle=self.ca_bundle)

    def boto(self, service: str) -> Any:
        import boto3

        if not self.ministack_url:
            raise RuntimeError("this stack has no MiniStack")
        return boto3.client(
            service,
            endpoint_url=self.ministack_url,
            region_name=self.region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            verify=self.ca_bundle,  # the stack's CA, whatever AWS_CA_BUNDLE this shell has
        )

    def api_token(self) -> tuple[str, str]:
        """(access key, secret) of the API-token user, read from the stack's SSM."""
        from local.bootstrap import ACCESS_KEY_PARAMETER, SECRET_KEY_PARAMETER

        response = self.boto("ssm").get_parameters(
            Names=[ACCESS_KEY_PARAMETER, SECRET_KEY_PARAMETER], WithDecryption=True
        )
        values = {p["Name"]: p["Value"] for p in response["Parameters"]}
        return values[ACCESS_KEY_PARAMETER], values[SECRET_KEY_PARAMETER]

    def restore_seed(self) -> None:
        """Reset the simulator to its seed: data from local/seed.json, default durations."""
        with self.sim() as sim:
            sim.reset()
            sim.seed(**seed())
            sim.set_task_durations(**DEFAULT_DURATIONS, update_success_status="UPDATE_COMPLETE")

    def stop(self) -> None:
        """Stop the private processes this object started (by process group id)."""
        for process in reversed(self._processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=5)
        self._processes.clear()
        if self.private and self.deployment is not None:
            self._remove_lambda_dirs(self.deployment.stage)

    def _remove_lambda_dirs(self, stage: str) -> None:
        """MiniStack unpacks each Lambda worker in the temp dir (~90 MB each) and leaves
        it there when stopped: remove those of the private stage, made by this run."""
        prefix = f"ministack-lambda-stax-orchestrator-{stage}-"
        for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
            with contextlib.suppress(OSError):
                if folder.stat().st_mtime >= self._started:
                    shutil.rmtree(folder, ignore_errors=True)


def standard_stack() -> Stack:
    """The local stack of ``make local-up`` (checked: both servers must answer)."""
    stack = Stack(
        STANDARD_SIM,
        STANDARD_CA_BUNDLE,
        STANDARD_MINISTACK,
        private=False,
        deployment=Deployment(ROOT, "local"),
    )
    problem = check(stack)
    if problem:
        raise RuntimeError(f"the local stack is not up ({problem}); run `make deploy-local`")
    return stack


def check(stack: Stack) -> str | None:
    """None when the stack answers, else what is wrong."""
    import requests

    if not Path(stack.ca_bundle).exists():
        return f"no CA bundle at {stack.ca_bundle}"
    try:
        requests.get(f"{stack.sim_url}/_sim/health", timeout=3, verify=stack.ca_bundle)
    except requests.RequestException as error:
        return f"simulator at {stack.sim_url}: {type(error).__name__}"
    if stack.ministack_url:
        try:
            health = f"{stack.ministack_url}/_ministack/health"
            requests.get(health, timeout=3, verify=stack.ca_bundle)
        except requests.RequestException as error:
            return f"MiniStack at {stack.ministack_url}: {type(error).__name__}"
    return None


def _wait(url: str, seconds: float, verify: str | bool = True) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while True:
        try:
            requests.get(url, timeout=2, verify=verify).raise_for_status()
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {seconds:.0f}s") from None
            time.sleep(0.2)


def _scratch(workdir: Path) -> Path:
    path = workdir / "tmp"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    # Own session: stop() ends the server and every child it spawned (Lambda workers).
    return subprocess.Popen(
        args,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
        cwd=str(ROOT),
    )


@contextlib.contextmanager
def private_stack(
    with_ministack: bool = True,
    sim_port: int = PRIVATE_SIM_PORT,
    ministack_port: int = PRIVATE_MINISTACK_PORT,
    workdir: Path | None = None,
) -> Iterator[Stack]:
    """Start a private simulator (and MiniStack), bootstrap them, stop them afterwards."""
    from local.tls import ensure_tls

    with contextlib.ExitStack() as cleanup:
        if workdir is None:
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        tls = ensure_tls(workdir / "tls")
        sim_url = f"https://127.0.0.1:{sim_port}"
        ministack_url = f"https://127.0.0.1:{ministack_port}" if with_ministack else None
        # Public CAs + the private one (as the standard stack's bundle): a private
        # deploy's `chalice deploy` still reaches the package index through pip.
        stack = Stack(sim_url, str(tls["bundle"]), ministack_url, private=True)
        cleanup.callback(stack.stop)
        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        stack._processes.append(
            _spawn(
                [
                    str(PY),
                    "-m",
                    "staxsim",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(sim_port),
                    "--certfile",
                    str(tls["cert"]),
                    "--keyfile",
                    str(tls["key"]),
                    "--quiet",
                ],
                workdir / "staxsim.log",
                {
                    **base,
                    "PYTHONPATH": str(ROOT),
                    "REQUESTS_CA_BUNDLE": str(tls["bundle"]),
                    "AWS_CA_BUNDLE": str(tls["bundle"]),
                },
            )
        )
        if with_ministack:
            stack._processes.append(
                _spawn(
                    [str(MS_PY), str(ROOT / "local" / "ministack_launcher.py")],
                    workdir / "ministack.log",
                    {
                        **base,
                        # Its Lambda workers unpack there; removed with the work folder.
                        "TMPDIR": str(_scratch(workdir)),
                        "BIND_HOST": "127.0.0.1",
                        "GATEWAY_PORT": str(ministack_port),
                        "LOG_LEVEL": "WARNING",
                        "MINISTACK_SSL_CERT": str(tls["cert"]),
                        "MINISTACK_SSL_KEY": str(tls["key"]),
                        "AWS_CA_BUNDLE": str(tls["bundle"]),
                        "REQUESTS_CA_BUNDLE": str(tls["bundle"]),
                    },
                )
            )
        _wait(f"{sim_url}/_sim/health", 30, verify=stack.ca_bundle)
        api_auth = {
            "region": REGION,
            "user_pool_id": "us-east-1_NoCognito",
            "client_id": "nocognito",
            "identity_pool_id": "us-east-1:00000000-0000-4000-8000-000000000000",
        }
        if with_ministack:
            assert ministack_url is not None
            _wait(f"{ministack_url}/_ministack/health", 60, verify=stack.ca_bundle)
            api_auth = bootstrap_cognito(stack)
        with stack.sim() as sim:
            sim.configure(**api_auth)
        stack.restore_seed()
        yield stack


def bootstrap_cognito(stack: Stack) -> dict[str, str]:
    """Cognito pools, the API-token user and its SSM parameters (local/bootstrap.py)."""
    from local import bootstrap

    idp, identity, ssm = (stack.boto(s) for s in ("cognito-idp", "cognito-identity", "ssm"))
    pool_id, client_id = bootstrap.ensure_user_pool(idp)
    identity_pool_id = bootstrap.ensure_identity_pool(identity, pool_id, client_id)
    bootstrap.ensure_api_token(idp, ssm, pool_id)
    return {
        "region": REGION,
        "user_pool_id": pool_id,
        "client_id": client_id,
        "identity_pool_id": identity_pool_id,
    }


#: What a private deployment copies of the project (never the shared .chalice/deployed).
PROJECT_FILES = ("app.py", "requirements.txt", "deploy.sh")
PROJECT_DIRS = ("chalicelib", "statemachines", "stax_orchestrator")
PRIVATE_STAGE = "bench"


def deploy_private(stack: Stack, workdir: Path, automatic_layer: bool = False) -> Deployment:
    """Deploy a copy of the project to the private MiniStack, as stage ``bench``.

    The stage is the ``local`` stage pointed at the private simulator and its CA;
    ``./deploy.sh`` runs in the copy, so nothing of the repository's ``.chalice``
    changes. The dependency package cache is copied in to spare a rebuild.
    """
    project = workdir / "project"
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, project / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, project / name, ignore=ignore)
    chalice_dir = project / ".chalice"
    (chalice_dir / "deployments").mkdir(parents=True)
    for cached in sorted((ROOT / ".chalice" / "deployments").glob("*.zip")):
        shutil.copy2(cached, chalice_dir / "deployments" / cached.name)
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    # The local stage's settings under the private stage's names (table, topic, policies).
    stage = json.loads(json.dumps(config["stages"]["local"]).replace("-local", f"-{PRIVATE_STAGE}"))
    stage["environment_variables"].update(
        {
            "STAX_API_HOST": stack.api_host,
            "REQUESTS_CA_BUNDLE": stack.ca_bundle,
            "AWS_CA_BUNDLE": stack.ca_bundle,
        }
    )
    config["stages"][PRIVATE_STAGE] = stage
    if automatic_layer:  # to try Chalice's managed layer on MiniStack (bench/README.md)
        config["automatic_layer"] = True
    (chalice_dir / "config.json").write_text(json.dumps(config, indent=2))
    env = stack.env()
    env.update(
        PYTHON=str(PY),
        CHALICE=str(ROOT / ".venv" / "bin" / "chalice"),
        PATH=f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}",
        PYTHONPATH=str(project),
    )
    done = subprocess.run(
        ["./deploy.sh", "--stage", PRIVATE_STAGE],
        cwd=str(project),
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"private deploy failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    deployment = Deployment(project, PRIVATE_STAGE)
    stack.deployment = deployment
    return deployment


@contextlib.contextmanager
def open_stack(private: bool, with_ministack: bool = True, deploy: bool = False) -> Iterator[Stack]:
    """The standard stack, or private instances (started and stopped here).

    ``deploy`` (private only): also deploy a copy of the project on the private
    MiniStack, for the benchmarks that run state machine executions.
    """
    if private:
        with contextlib.ExitStack() as stacked:
            tmp = Path(stacked.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
            stack = stacked.enter_context(private_stack(with_ministack=with_ministack, workdir=tmp))
            if deploy:
                deploy_private(stack, tmp)
            yield stack
    else:
        yield standard_stack()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="check the stack the benchmarks use")
    parser.add_argument("--private", action="store_true", help="start private instances")
    parser.add_argument("--deploy", action="store_true", help="(private) also deploy a copy")
    args = parser.parse_args(argv)
    with open_stack(args.private, deploy=args.deploy) as stack:
        print(stack)
        access_key, _ = stack.api_token()
        print("API token user:", access_key)
        with stack.sim() as sim:
            print(sim.health())
        if stack.deployment:
            print(stack.deployment.statemachines())
            print(stack.deployment.poll_schedule())
    return 0


if __name__ == "__main__":
    sys.exit(main())
