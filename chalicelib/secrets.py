"""Workload parameter values kept in SSM Parameter Store, never in a request or a file.

Role: a parameter's value may be a *reference*, ``{"ssm": "/stax-orchestrator/<stage>/
workload-parameters/NAME"}`` (a baselines file writes ``{ssm: ..., secret: true}``). What
travels -- the execution's input and history, a fleet's plan in S3, the stored baselines
file, a saved plan -- holds only the reference; the create and update Lambdas read the
value (``GetParameter`` with decryption) just before they send it to Stax, and plans
compare it by digest and show it as ``(sensitive)``.

A reference must name a parameter under the stage's own folder (:func:`secrets_prefix`):
the Lambdas may read nothing else, and a request naming another stage's (or the API
token's) parameter is refused before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.errors import InvalidWorkloadRequest, WorkloadParameterUnavailable

#: Reads the value an SSM parameter name holds (:class:`SsmSecrets`).
Secrets = Callable[[str], str]
REFERENCE_KEY = "ssm"
#: The folder, beside the stage's API token parameters, that holds its workload secrets.
SECRETS_FOLDER = "workload-parameters"
#: An SSM parameter name (a path; SSM allows letters, digits and ``_.-/``).
_NAME = re.compile(r"^/[A-Za-z0-9_.\-/]{1,1010}$")


def is_reference(value: Any) -> bool:
    """Whether a parameter value names an SSM parameter instead of holding a value."""
    return isinstance(value, Mapping) and set(value) == {REFERENCE_KEY}


def reference_problem(value: Mapping[str, Any]) -> str | None:
    """What is wrong with a reference's shape (not where it points), or None."""
    name = value.get(REFERENCE_KEY)
    if not isinstance(name, str) or not _NAME.match(name) or "//" in name or ".." in name:
        return (
            "ssm must name an SSM parameter by its full path, e.g. "
            f"/stax-orchestrator/dev/{SECRETS_FOLDER}/db-password"
        )
    return None


def secrets_prefix(access_key_parameter: str) -> str:
    """The stage's secrets folder, beside its token: ``/stax-orchestrator/dev/stax-api-token/
    access-key`` -> ``/stax-orchestrator/dev/workload-parameters/``."""
    stage_folder = access_key_parameter.rstrip("/").rsplit("/", 2)[0]
    return f"{stage_folder}/{SECRETS_FOLDER}/"


def outside_prefix(parameters: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """``{parameter: problem}`` for each reference that points outside ``prefix``."""
    return {
        key: f"ssm may only name a parameter under {prefix} (the stage's secrets), "
        f"not {value[REFERENCE_KEY]!r}"
        for key, value in parameters.items()
        if is_reference(value) and not str(value[REFERENCE_KEY]).startswith(prefix)
    }


def check_request(request: Mapping[str, Any], prefix: str) -> None:
    """Raises InvalidWorkloadRequest: a reference of ``request`` points outside ``prefix``."""
    problems = outside_prefix(request.get("workload_parameters") or {}, prefix)
    if problems:
        raise InvalidWorkloadRequest(
            "Invalid workload request: a parameter names an SSM parameter the stage may not read",
            errors={f"workload_parameters.{k}": [v] for k, v in problems.items()},
        )


def no_secrets(name: str) -> str:
    """The reader of a caller that may read no SSM parameter.

    Raises:
        WorkloadParameterUnavailable: always, naming ``name``.
    """
    raise WorkloadParameterUnavailable(
        f"{name}: no SSM access was given to read it here", parameter=name
    )


def resolved(parameters: Mapping[str, Any], read: Secrets) -> dict[str, Any]:
    """``parameters`` with each reference replaced by the value it names.

    Raises:
        WorkloadParameterUnavailable: as ``read``.
    """
    return {k: read(v[REFERENCE_KEY]) if is_reference(v) else v for k, v in parameters.items()}


class SsmSecrets:
    """Reads referenced values from SSM (decrypted), under ``prefix`` only; each name once
    per instance (one instance per request or plan)."""

    def __init__(self, client: Callable[[], Any], prefix: str) -> None:
        self._client, self.prefix = client, prefix
        self._read: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        """The value of ``name``.

        Raises:
            WorkloadParameterUnavailable: ``name`` is outside the prefix, missing, or SSM
                refused it; the message names the parameter, never a value.
        """
        if not name.startswith(self.prefix):
            raise WorkloadParameterUnavailable(
                f"{name} is not under {self.prefix}, the stage's secrets", parameter=name
            )
        if name not in self._read:
            self._read[name] = self._get(name)
        return self._read[name]

    def _get(self, name: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client().get_parameter(Name=name, WithDecryption=True)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise WorkloadParameterUnavailable(
                f"SSM parameter {name} cannot be read ({code})", parameter=name, aws_error=code
            ) from None
        except BotoCoreError as error:
            raise WorkloadParameterUnavailable(
                f"SSM parameter {name} cannot be read ({type(error).__name__})", parameter=name
            ) from None
        return str(answer["Parameter"]["Value"])
