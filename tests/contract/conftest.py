"""Fixtures of the simulator contract tests.

The simulator runs in-process on 127.0.0.1 with an ephemeral port, serving HTTPS with a
server certificate from a throw-away ``trustme`` CA; clients verify it against that CA
(never ``verify=False``). API calls are signed with botocore's ``SigV4Auth`` for
``execute-api`` in the configured ApiAuth region, with dummy credentials (the simulator
checks the form of the signature, not its bytes). Each test starts from a reset
simulator with the standard seed (:data:`contract_support.SEED`) and fast tasks.

Realism: the simulator always runs *strict* here. The ``control`` fixture turns the
read-after-write lag and the nulls off (:data:`contract_support.EXACT`) so tests about
other things are deterministic; the ``strict_defaults`` fixture gives a test the
simulator's real defaults (1 s lag, a quarter of responses nulled, seeded RNG).

The orchestrator's own code runs here too (``orchestrator``, ``orchestrator_factory``):
``chalicelib.operations`` through the real SDK and gateway, with only the Cognito login
stubbed, the API token in moto's SSM and the coordination table on moto's DynamoDB
(``orchestrator_support``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import trustme
from baselines_support import ACCOUNTS, TYPES
from contract_support import API_AUTH, EXACT, FAST, REGION, SEED, StaxApi, wait_for
from orchestrator_support import Orchestrator, dummy_login
from staxapp.api import Api
from staxapp.config import Config
from staxapp.contract import StaxContract

import chalicelib.stax
from chalicelib.coordination import CoordinationStore
from chalicelib.credentials import SsmCredentials
from chalicelib.secrets import SsmSecrets, secrets_prefix
from chalicelib.settings import CoordinationSettings, StaxSettings, stax_settings
from chalicelib.stax import StaxAccess, StaxCredentials, StaxGateway
from stax_orchestrator.deploy import Target, table_definition
from staxsim.backend import SimState
from staxsim.control import SimulatorControl
from staxsim.document import StaxDocument, load_document
from staxsim.server import Simulator, SimulatorServer


@dataclass(frozen=True)
class Tls:
    """Paths of the test CA and the simulator's certificate and key."""

    ca: str
    cert: str
    key: str


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    folder: Path = tmp_path_factory.mktemp("staxsim-tls")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    paths = Tls(str(folder / "ca.pem"), str(folder / "server.pem"), str(folder / "server.key"))
    ca.cert_pem.write_to_path(paths.ca)
    server.cert_chain_pems[0].write_to_path(paths.cert)
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(paths.cert, append=True)
    server.private_key_pem.write_to_path(paths.key)
    return paths


@pytest.fixture(scope="session")
def document() -> StaxDocument:
    """The OpenAPI document bundled in the installed staxapp SDK."""
    return load_document()


@pytest.fixture(scope="session")
def sim_log() -> io.StringIO:
    """What the simulator writes to its log stream (stderr when run from the CLI)."""
    return io.StringIO()


@pytest.fixture(scope="session")
def server(tls: Tls, sim_log: io.StringIO) -> Iterator[SimulatorServer]:
    app = Simulator(SimState(), strict_responses=True, log_stream=sim_log)
    simulator = SimulatorServer("127.0.0.1", 0, certfile=tls.cert, keyfile=tls.key, app=app)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture(scope="session")
def control_client(server: SimulatorServer, tls: Tls) -> Iterator[SimulatorControl]:
    client = SimulatorControl(server.base_url, ca_bundle=tls.ca)
    client.wait_ready()
    yield client
    client.close()


@pytest.fixture
def control(control_client: SimulatorControl) -> SimulatorControl:
    """The control API, after a reset to the standard seed and fast tasks."""
    control_client.reset()
    control_client.configure(**API_AUTH)
    control_client.seed(**SEED)
    control_client.set_task_durations(**FAST, update_success_status="UPDATE_COMPLETE")
    control_client.set_realism(**EXACT)
    return control_client


@pytest.fixture
def strict_defaults(control: SimulatorControl) -> SimulatorControl:
    """The control API with the simulator's default (strict) realism, seeded."""
    control.set_realism(strict=True, seed=20190206)
    realism = control.realism()
    assert (realism["read_after_write_lag_seconds"], realism["null_share"]) == (1.0, 0.25)
    return control


@pytest.fixture
def api(
    server: SimulatorServer, tls: Tls, document: StaxDocument, control: SimulatorControl
) -> Iterator[StaxApi]:
    """A signing API client; depends on ``control`` so the simulator is reset first."""
    client = StaxApi(server.base_url, tls.ca, document)
    yield client
    client.session.close()


# -- the orchestrator's own code against the simulator --------------------------------------
#: The coordination table's stage (moto's account).
TARGET = Target("contract", REGION, "123456789012")
ACCESS_KEY_PARAMETER = "/orchestrator/stax/access/key"
SECRET_KEY_PARAMETER = "/orchestrator/stax/access/key/secret"


@pytest.fixture
def orchestrator_factory(
    server: SimulatorServer,
    tls: Tls,
    control: SimulatorControl,
    aws: boto3.session.Session,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., Orchestrator]]:
    """Builds the one warm container of a test, with the settings it names.

    Stax tasks take 0.1 s (STARTED, PENDING, RUNNING: 20, 20, 60 ms), so a test waits
    little for one to end. The SDK trusts the contract CA through ``REQUESTS_CA_BUNDLE``;
    what the gateway sets process-wide (the SDK's HTTP session, its cached config and
    contract) is put back after the test, once every request a fault held has been
    answered (a held write would otherwise land in the next test).
    """
    control.set_task_durations(started=0.02, pending=0.02, running=0.06)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls.ca)
    monkeypatch.setattr(chalicelib.stax, "_bounded_login", dummy_login)
    monkeypatch.setattr(Api, "request_session", Api.__dict__["request_session"])
    monkeypatch.setattr(Config, "cached_api_config", {})
    monkeypatch.setattr(Config, "load_live_schema", Config.load_live_schema)
    monkeypatch.setattr(StaxContract, "_resolved_schema", StaxContract._resolved_schema)
    monkeypatch.setattr(StaxContract, "_swagger_doc", StaxContract._swagger_doc)
    ssm = aws.client("ssm")
    for name, value in ((ACCESS_KEY_PARAMETER, "contract-access-key"),
                        (SECRET_KEY_PARAMETER, "contract-secret-key")):  # fmt: skip
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(**table_definition(TARGET.table_name))
    built: list[Orchestrator] = []

    def build(
        *,
        http_timeout_seconds: float = 5.0,
        http_retries: int = 2,
        write_settle_seconds: float = 2.0,
        visibility_grace_seconds: float = 30.0,
        invocation_seconds: float = 2.0,
    ) -> Orchestrator:
        # The gateway installs its HTTP session for the whole SDK: one container a test.
        assert not built, "one orchestrator per test"
        settings = StaxSettings(
            hostname=f"127.0.0.1:{server.port}",
            access_key_parameter=ACCESS_KEY_PARAMETER,
            secret_key_parameter=SECRET_KEY_PARAMETER,
            credentials_ttl_seconds=300,
            http_connect_timeout_seconds=2.0,
            http_timeout_seconds=http_timeout_seconds,
            http_retries=http_retries,
        )
        credentials = SsmCredentials(
            lambda: ssm, ACCESS_KEY_PARAMETER, SECRET_KEY_PARAMETER, ttl_seconds=300
        )
        coordination = CoordinationSettings(
            TARGET.table_name, write_settle_seconds, visibility_grace_seconds
        )
        orchestrator = Orchestrator(
            StaxAccess(settings, credentials),
            CoordinationStore(lambda: dynamodb, TARGET.table_name),
            coordination,
            invocation_seconds,
            SsmSecrets(lambda: ssm, secrets_prefix(ACCESS_KEY_PARAMETER)),
        )
        built.append(orchestrator)
        return orchestrator

    yield build
    wait_for(
        lambda: (
            sum(rule["triggered"] for rule in control.faults()["rules"])
            <= len([r for r in control.requests() if r["fault"]])
        ),
        timeout=15,
    )


@pytest.fixture
def orchestrator(orchestrator_factory: Callable[..., Orchestrator]) -> Orchestrator:
    """The orchestrator with short settings: 5 s HTTP timeout, 2 s settle window."""
    return orchestrator_factory()


@pytest.fixture
def gateway(
    server: SimulatorServer, tls: Tls, control: SimulatorControl, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StaxGateway]:
    """``chalicelib.stax.StaxGateway`` on the simulator (only the Cognito login stubbed),
    with the baselines tests' organisation: two account types, three typed accounts."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls.ca)
    monkeypatch.setattr(Config, "cached_api_config", {})
    monkeypatch.setattr(chalicelib.stax, "_bounded_login", dummy_login)
    control.seed(account_types=TYPES, accounts=ACCOUNTS)
    settings = stax_settings({"STAX_API_HOST": f"127.0.0.1:{server.port}"})
    yield StaxGateway(settings, StaxCredentials("unused", "unused"))
