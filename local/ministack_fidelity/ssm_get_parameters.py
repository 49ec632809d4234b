"""SSM ``GetParameters`` is authorized on every parameter it names, as on AWS (``AUTH=true``).

AWS: ``GetParameters`` acts on the resource type ``parameter`` (Service Authorization
Reference, "Actions, resources, and condition keys for AWS Systems Manager":
``GetParameters`` — resource types ``parameter*``), so a policy allowing
``ssm:GetParameters`` on exactly the parameters' ARNs lets the call read them, and the
least-privilege policy the SSM guide shows ("Restricting access to Parameter Store
parameters using IAM policies") names parameters, never ``*``. Harsher reading where AWS
does not say: one name the caller may not read refuses the whole call
(``AccessDeniedException``), rather than listing it among ``InvalidParameters``.

MiniStack 1.5.33 authorizes ``GetParameters`` against the resource ``*`` (its
``extract_resource_arn`` reads only a ``Name`` field), so only an allow on ``*`` passes: it
refuses the least-privilege policy AWS accepts, and would teach a project to widen it.

Patched (``iam_actions.extract_resource_arn`` and ``access_denied_response``,
``iam_evaluator.enforce``, all looked up
by MiniStack's request handler at each request): a ``GetParameters`` request is checked
on its first name's ARN and then on each other name's (``access_denied_response``
names the parameter that was refused); a selector (``name:3``,
``name:label``) is not part of the ARN; a name given as an ARN is checked as given.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

ACTION = "ssm:GetParameters"

EXPECTED = {
    "extract_resource_arn": Expectation(
        ("service", "method", "path", "headers", "body", "query_params", "region", "account_id"),
        "82f51700695c62fd",
    ),
    "_action_from_target": Expectation(("headers",), "c5279c8ae2ff792f"),
    "access_denied_response": Expectation(
        (
            "service",
            "action",
            "principal_arn",
            "request_id",
            "error_code",
            "message",
            "headers",
            "resource_arn",
            "explicit_deny",
            "resource_policy_arn",
        ),
        "3cc2e315f91f45da",
    ),
}
EVALUATOR_EXPECTED = {
    "enforce": Expectation(
        ("access_key_id", "iam_action", "service", "region", "resource_arn", "service_context"),
        "cf64b1ee5b099c8f",
    ),
}

#: The ARNs of this request's other names, still to be checked by ``enforce``.
PENDING: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "ministack_ssm_get_parameters", default=()
)
#: The parameter ARN that refused this request (named in the denial, as AWS names it).
DENIED: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ministack_ssm_get_parameters_denied", default=None
)


def parameter_arn(name: str, region: str, account: str) -> str:
    """The ARN IAM checks for a parameter name (its version or label selector dropped)."""
    if name.startswith("arn:"):
        return name
    bare = name.split(":", 1)[0]
    return f"arn:aws:ssm:{region}:{account}:parameter{bare if bare.startswith('/') else '/' + bare}"


def requested_arns(body: Any, region: str, account: str) -> list[str]:
    """The ARNs of the names a ``GetParameters`` body asks for (none if it is malformed)."""
    try:
        data = json.loads(body or b"{}")
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError):
        return []
    names = data.get("Names") if isinstance(data, dict) else None
    if not isinstance(names, list):
        return []
    return [parameter_arn(n, region, account) for n in names if isinstance(n, str) and n]


def install(iam_actions: Any, iam_evaluator: Any) -> None:
    def per_name_resource(original: Callable[..., Any]) -> Callable[..., Any]:
        def extract_resource_arn(*args: Any) -> Any:
            service, _method, _path, headers, body, _query, region, account = args
            PENDING.set(())
            DENIED.set(None)
            if service == "ssm" and iam_actions._action_from_target(headers) == "GetParameters":
                arns = requested_arns(body, region, account)
                if arns:
                    PENDING.set(tuple(arns[1:]))
                    return arns[0]
            return original(*args)

        return extract_resource_arn

    def every_name(original: Callable[..., Any]) -> Callable[..., Any]:
        def enforce(*args: Any, **kwargs: Any) -> Any:
            denied = original(*args, **kwargs)
            action = args[1] if len(args) > 1 else kwargs.get("iam_action")
            if action != ACTION:
                return denied
            others, _ = PENDING.get(), PENDING.set(())
            for arn in () if denied else others:
                denied = original(*args[:4], **{**kwargs, "resource_arn": arn})
                if denied:
                    DENIED.set(arn)
                    break
            return denied

        return enforce

    def naming_the_denied(original: Callable[..., Any]) -> Callable[..., Any]:
        def access_denied_response(*args: Any, **kwargs: Any) -> Any:
            denied, action = DENIED.get(), args[1] if len(args) > 1 else kwargs.get("action")
            if denied and action == ACTION:
                DENIED.set(None)
                kwargs["resource_arn"] = denied
            return original(*args, **kwargs)

        return access_denied_response

    wrap(iam_actions, "extract_resource_arn", per_name_resource)
    wrap(iam_actions, "access_denied_response", naming_the_denied)
    wrap(iam_evaluator, "enforce", every_name)
