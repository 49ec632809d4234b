"""The orchestrator's write use cases (``chalicelib.operations``) as the Lambdas run them,
against the in-process simulator: helpers of the exactly-once contract tests.

Real: the staxapp SDK through ``chalicelib.stax`` (``StaxAccess`` and ``StaxGateway``: the
``/public/config`` prefetch, the ``StaxHttp`` session with its timeouts and retries, the
error translation), the API token read from SSM by ``SsmCredentials`` and the
``CoordinationStore``, both on moto. Stubbed: the Cognito login only - the gateway gets the
SDK's own ``AWSRequestsAuth`` signer with dummy credentials, as ``test_contract_sdk`` does.

Each call of :meth:`Orchestrator.invoke` is one Lambda invocation (its own deadline, the
container's warm gateway); :func:`run_until_done` invokes again after every error the
workload state machine retries, as its ``Retry`` would.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_requests_auth.aws_auth import AWSRequestsAuth
from contract_support import ACCOUNT_DEV, CATALOGUE_VPC, REGION, VPC_V1, wait_for

from chalicelib import operations
from chalicelib.coordination import CoordinationStore
from chalicelib.errors import OrchestratorError
from chalicelib.polling import PollSchedule
from chalicelib.settings import CoordinationSettings
from chalicelib.stax import StaxAccess
from chalicelib.validation import load_operation_request
from staxsim.control import SimulatorControl

ROOT = Path(__file__).resolve().parents[2]
#: The Task state of each write in the workload state machine.
_WRITE_STATES = {
    "create": "Create Workload",
    "update": "Update Workload",
    "delete": "Delete Workload",
}
#: The Stax write each operation sends.
WRITE_METHOD = {"create": "POST", "update": "PUT", "delete": "DELETE"}
#: The workload status each operation ends in (the ``control`` fixture makes a successful
#: update end UPDATE_COMPLETE).
FINAL_STATUS = {"create": "ACTIVE", "update": "UPDATE_COMPLETE", "delete": "DELETED"}
#: The watcher's schedule in these tests (the shortest one allowed).
SCHEDULE = PollSchedule(1, 5, 0.2)


@functools.cache
def retried_errors(operation: str) -> frozenset[str]:
    """The orchestrator's errors the workload state machine retries for ``operation``,
    read from ``statemachines/workload.asl.json`` (the ``Retry`` of its Task state)."""
    document = json.loads((ROOT / "statemachines" / "workload.asl.json").read_text())
    state = document["States"][_WRITE_STATES[operation]]
    return frozenset(
        name
        for rule in state["Retry"]
        for name in rule["ErrorEquals"]
        if not name.startswith(("Lambda.", "States.", "Sandbox."))
    )


def dummy_signer(config: Any, region: str) -> AWSRequestsAuth:
    """The signer the SDK builds after its Cognito login, with dummy temporary credentials
    (the simulator checks the form of a signature, not its bytes)."""
    return AWSRequestsAuth(
        aws_access_key="ASIAORCHESTRATOR0001",
        aws_secret_access_key="dummy-secret",
        aws_token="dummy-session-token",
        aws_host=config.hostname,
        aws_region=region,
        aws_service="execute-api",
    )


def dummy_login(
    api_config: Mapping[str, Any], connect_timeout: float, read_timeout: float
) -> Callable[..., AWSRequestsAuth]:
    """Stands in for ``chalicelib.stax._bounded_login``: no Cognito, the dummy signer."""
    return lambda config, **kwargs: dummy_signer(config, api_config["ApiAuth"]["region"])


def execution() -> str:
    """A new workload state machine execution id."""
    return f"arn:aws:states:{REGION}:123456789012:execution:workload:{uuid.uuid4()}"


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_payload(name: str, **overrides: Any) -> dict[str, Any]:
    """A valid create request (the workload machine's input)."""
    payload: dict[str, Any] = {
        "operation": "create",
        "aws_account_id": ACCOUNT_DEV,
        "aws_region": REGION,
        "catalogue_id": CATALOGUE_VPC,
        "catalogue_version_id": VPC_V1,
        "workload_name": name,
        "workload_parameters": {"VpcCidr": "10.0.0.0/16"},
        "workload_tags": {"CostCode": "12345"},
    }
    payload.update(overrides)
    return payload


def update_payload(workload_id: str, **changes: Any) -> dict[str, Any]:
    return {"operation": "update", "workload_id": workload_id, **changes}


def delete_payload(workload_id: str) -> dict[str, Any]:
    return {"operation": "delete", "workload_id": workload_id}


@dataclass
class Run:
    """What a retried operation came to: its result, and the errors retried before it."""

    result: dict[str, Any]
    errors: list[OrchestratorError] = field(default_factory=list)

    @property
    def error_names(self) -> list[str]:
        return [type(error).__name__ for error in self.errors]


def run_until_done(
    invoke: Callable[[], dict[str, Any]],
    operation: str,
    *,
    timeout: float = 15.0,
    interval: float = 0.05,
) -> Run:
    """Invoke until it returns, again after every error the state machine retries.

    Any other error is the outcome and is raised. A bounded wait for the write's outcome,
    polled every ``interval`` (the machine's own intervals are seconds; nothing here
    depends on them).
    """
    retried = retried_errors(operation)
    errors: list[OrchestratorError] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            return Run(invoke(), errors)
        except OrchestratorError as error:
            if type(error).__name__ not in retried:
                raise
            errors.append(error)
            if time.monotonic() >= deadline:
                counts = Counter(type(e).__name__ for e in errors)
                raise AssertionError(
                    f"still failing after {timeout}s ({dict(counts)}), last: {error}"
                ) from error
        time.sleep(interval)


@dataclass
class Orchestrator:
    """One warm Lambda container: the gateway and store it reuses, its settings."""

    access: StaxAccess
    store: CoordinationStore
    settings: CoordinationSettings
    invocation_seconds: float
    secrets: Any = None

    def services(self) -> operations.Services:
        """The collaborators of one invocation; its deadline is the invocation's own."""
        return operations.Services(
            self.access, self.store, self.settings, deadline=time.time() + self.invocation_seconds,
            secrets=self.secrets,
        )  # fmt: skip

    def invoke(
        self, operation: str, payload: Mapping[str, Any], execution_id: str | None = None
    ) -> dict[str, Any]:
        """One invocation of the operation's Lambda (its input validated as there)."""
        body = dict(payload)
        if execution_id:
            body["orchestration"] = {"execution_id": execution_id}
        request = load_operation_request(operation, body)
        use_case = {
            "create": operations.create_workload,
            "update": operations.update_workload,
            "delete": operations.delete_workload,
        }[operation]
        return use_case(request, self.services())

    def until_done(
        self,
        operation: str,
        payload: Mapping[str, Any],
        execution_id: str | None,
        timeout: float = 15.0,
    ) -> Run:
        """The operation as one execution's Task state runs it, retries included."""
        return run_until_done(
            lambda: self.invoke(operation, payload, execution_id), operation, timeout=timeout
        )

    def task_status(self, task_id: str, **request: Any) -> dict[str, Any]:
        """One poll of the task watcher."""
        return operations.get_task_status(
            {"task_id": task_id, "polls": 0, **request},
            self.access,
            SCHEDULE,
            grace_seconds=self.settings.visibility_grace_seconds,
            store=self.store,
        )


# -- what the simulator holds and saw -----------------------------------------------------
def workloads_named(control: SimulatorControl, name: str) -> list[dict[str, Any]]:
    """Every workload of that name Stax holds (visible to reads yet or not)."""
    return [w for w in control.state()["workloads"] if w["Name"] == name]


def workload(control: SimulatorControl, workload_id: str) -> dict[str, Any]:
    [found] = [w for w in control.state()["workloads"] if w["Id"] == workload_id]
    return dict(found)


def task(control: SimulatorControl, task_id: str) -> dict[str, Any]:
    [found] = [t for t in control.state()["tasks"] if t["Id"] == task_id]
    return dict(found)


def writes(control: SimulatorControl, method: str) -> list[dict[str, Any]]:
    """The simulator's log entries of every API call with that method."""
    return [r for r in control.requests() if r["method"] == method]


def wait_for_status(
    control: SimulatorControl, workload_id: str, status: str, timeout: float = 5.0
) -> dict[str, Any]:
    """The workload, once Stax holds it in ``status`` (bounded)."""
    return dict(
        wait_for(
            lambda: (w := workload(control, workload_id))["Status"] == status and w,
            timeout=timeout,
        )
    )
