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
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from contract_support import API_AUTH, EXACT, FAST, SEED, StaxApi

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
