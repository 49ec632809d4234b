"""Named errors of the orchestrator.

The class names are the contract with the state machines: a Lambda that raises
``WorkloadNotFound`` fails its Step Functions task with the error name
``WorkloadNotFound``, and the ASL templates Retry or Catch on exactly these
names. Renaming a class is therefore a breaking change of the state machines.

Every error carries a ``details`` mapping; ``str(error)`` is that mapping as
JSON, so the Step Functions cause is something a person (or a tool) can read:
which field, which workload, which task, what to do next. Secrets never go in.
"""

from __future__ import annotations

import json
from typing import Any


class OrchestratorError(Exception):
    """Base class of every error the orchestrator raises on purpose."""

    #: What the user should do about it; subclasses override.
    hint: str = ""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = {k: v for k, v in details.items() if v is not None}

    def as_dict(self) -> dict[str, Any]:
        """The error as the JSON object that becomes the Step Functions cause."""
        body: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        body.update(self.details)
        if self.hint and "hint" not in body:
            body["hint"] = self.hint
        return body

    def __str__(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=False, default=str)


class InvalidWorkloadRequest(OrchestratorError):
    """The payload failed validation; ``details['errors']`` maps field -> messages."""

    hint = "Fix the fields listed in 'errors' and start a new execution."


class InvalidFleetRequest(InvalidWorkloadRequest):
    """A fleet request failed validation; nothing was started. ``details['errors']`` as above."""

    hint = "Fix the fields listed in 'errors' (targets[i].field for a target) and run it again."


class FleetFailureToleranceExceeded(OrchestratorError):
    """More fleet targets failed than the request tolerates; no further target was started."""

    hint = (
        "Fix the failed targets, then run the same fleet request again: done targets are skipped."
    )


class FleetTargetFailed(OrchestratorError):
    """One target of a fleet failed (its own error and cause are in the fleet's results)."""

    hint = "Read the target's error with `stax-orchestrator fleet results EXECUTION`."


class WorkloadAlreadyExists(OrchestratorError):
    """A live workload with the requested name exists already."""

    hint = "Choose another workload_name, or update/delete the existing workload."


class WorkloadNotFound(OrchestratorError):
    """The workload id is unknown to Stax (or already deleted)."""

    hint = "Check the workload_id; list workloads with the CLI or the Stax console."


class AwsAccountNotFound(OrchestratorError):
    """No Stax account carries the 12-digit AWS account number the request names."""

    hint = (
        "Check the number (12 digits, leading zeros included) and that the account is in "
        "this Stax organisation, or pass the Stax account id (a UUID) instead."
    )


class AwsAccountAmbiguous(OrchestratorError):
    """More than one Stax account carries the AWS account number the request names."""

    hint = "Pass the Stax account id (a UUID) of the account you mean (see 'stax_account_ids')."


class StaxRequestRejected(OrchestratorError):
    """Stax refused the request (HTTP 4xx other than auth/not found): a bad id or value."""

    hint = "Stax said the request is invalid; see 'stax_error' for the field to fix."


class StaxAuthenticationFailed(OrchestratorError):
    """The Stax API token (SSM parameters) was refused."""

    hint = (
        "Check the Stax API token stored in the SSM SecureString parameters "
        "(access key and secret) and the Stax installation (STAX_REGION / STAX_API_HOST)."
    )


class StaxCredentialsMissing(OrchestratorError):
    """An SSM parameter holding the Stax API token is missing or unreadable."""

    hint = "Create the SSM SecureString parameters with `stax-orchestrator setup`."


class StaxCredentialsUnavailable(OrchestratorError):
    """SSM could not be asked for the Stax API token right now (throttling, an endpoint
    or service error); nothing says the token is missing."""

    hint = "Transient: Step Functions retries this with backoff."


class StaxConfigurationInvalid(OrchestratorError):
    """The Stax endpoint cannot be used as configured (TLS verification failed, an invalid
    URL): retrying would not help."""

    hint = (
        "Check STAX_REGION / STAX_API_HOST and the certificate trust (REQUESTS_CA_BUNDLE) "
        "of the stage in .chalice/config.json, then deploy again."
    )


class StaxApiUnavailable(OrchestratorError):
    """Stax answered 429/5xx or could not be reached, after the SDK's own retries."""

    hint = "Transient: Step Functions retries this with backoff."


class StaxPagingStalled(OrchestratorError):
    """A paged Stax read answered a ``NextOffset`` that does not move past the pages it
    already served: reading on would never end, and stopping would miss records."""

    hint = "Stax's paging misbehaves: retry later, and report it to Stax if it persists."


class CoordinationUnavailable(OrchestratorError):
    """The coordination store (the stage's DynamoDB table) could not be read or written."""

    hint = "Transient: Step Functions retries this with backoff; check the table if it persists."


class WorkloadWriteInDoubt(OrchestratorError):
    """A write this execution sent may still land in Stax; nothing is re-sent until it settles."""

    hint = (
        "Transient: Step Functions retries this until the earlier write is visible in Stax or "
        "its settle window has passed; only then is the write sent again."
    )


class WorkloadBusy(OrchestratorError):
    """Another execution is updating or deleting this workload; this one did not write."""

    hint = "Wait for the other operation (see 'owner') to end, then run this one again."


class WorkloadTaskFailed(OrchestratorError):
    """The Stax task behind a workload operation ended FAILED."""

    hint = "Read 'logs_tail' for the reason Stax gives; fix and run the operation again."


class WorkloadTaskTimedOut(OrchestratorError):
    """The Stax task did not finish within the watch timeout."""

    hint = "The task may still finish in Stax; check it before retrying."


class WorkloadParameterUnavailable(OrchestratorError):
    """A parameter names an SSM parameter (``{"ssm": NAME}``) that cannot be read: missing,
    outside the stage's secrets folder, or refused. Nothing was sent to Stax."""

    hint = (
        "Create it as a SecureString under /stax-orchestrator/<stage>/workload-parameters/ "
        "(aws ssm put-parameter --type SecureString), or fix the name."
    )


class FleetHalted(OrchestratorError):
    """A fleet of canary stages stopped itself between two stages: a stage crossed its
    failure tolerance, or an alarm of ``halt_on_alarms`` was in ALARM (or could not be
    read). The later stages' targets were not touched; the cause names the stage and why.
    Raised by the fleet machine (its summary's error)."""

    hint = "Fix what halted it, then resume: stax-orchestrator fleet resume EXECUTION_ARN."


class FleetPlanChanged(OrchestratorError):
    """The fleet's plan object is not the version written when the fleet was planned.

    Raised by the fleet machine itself (a Fail state after it re-reads the plan object's
    head), before any target starts: only the stage's roles and its deploying principal may
    write plans (the bucket policy), so a new version means someone else did -- or the
    bucket keeps no versions, and no plan can be pinned.
    """

    hint = "Plan the fleet again (start a new execution); find who wrote the plan object."


class BaselinesNotStored(OrchestratorError):
    """The stage holds no baselines file (automatic baselining reads it from S3)."""

    hint = "Deploy the stage with `./deploy.sh --baselines FILE --stax-event-bus NAME`."


class BaselineAccountNotVisible(OrchestratorError):
    """Stax announced an account of a baselined type, but does not list it there (yet).

    Stax may list a new account, or an account's new type, only some time after its
    event (read-after-write lag); the state machine retries this error with backoff.
    """

    hint = (
        "If the account was moved to another type since, nothing is wrong; otherwise run "
        "`stax-orchestrator plan FILE` and `apply` once Stax lists it."
    )


class AccountBaselineFailed(OrchestratorError):
    """A baseline fleet of one account failed (or some of its targets did)."""

    hint = (
        "Read each failed fleet's results (`stax-orchestrator fleet results EXECUTION`), fix "
        "them, then `stax-orchestrator apply FILE` converges the account."
    )
