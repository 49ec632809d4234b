"""A function's role must trust Lambda, as on AWS.

AWS: ``CreateFunction`` and ``UpdateFunctionConfiguration`` refuse an execution role Lambda
cannot assume: ``InvalidParameterValueException``, "The role defined for the function
cannot be assumed by Lambda." (the Lambda API reference lists the exception; the message
is the one AWS returns, e.g. aws-cloudformation and Serverless Framework issue threads).
The role's trust policy must let ``lambda.amazonaws.com`` call ``sts:AssumeRole``. Harsher
reading where AWS does not document it: the condition keys are evaluated as when Lambda
assumes the role to run the function, ``aws:SourceAccount`` (the function's account) and
``aws:SourceArn`` (the function's ARN), so a trust naming another account cannot be given.

MiniStack 1.5.33 never reads a function role's trust policy (under ``AUTH=true`` it checks
only that the role exists): a role trusting another service runs the function.

Patched: ``lambda_svc._create_function`` and ``_update_config`` (when the request names a
``Role``) check the trust with MiniStack's own IAM evaluator (``sfn_role_trust.assumable``
with the Lambda principal) before anything is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap
from .sfn_role_trust import assumable

LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."
INVALID = "InvalidParameterValueException"

EXPECTED = {
    "_create_function": Expectation(("data",), "e307eecdf0d8b51c"),
    "_update_config": Expectation(("name", "data"), "6999cb0695dace00"),
    "_func_arn": Expectation(("name",), "0fae69e5f3899f71"),
}


def function_arn(lambda_svc: Any, name: Any) -> str:
    """The function's ARN from a name or an ARN (a qualifier dropped)."""
    text = str(name or "")
    if text.startswith("arn:"):
        return ":".join(text.split(":")[:7])
    return str(lambda_svc._func_arn(text))


def install(lambda_svc: Any, ev: Any, iam: Any) -> None:
    def refused(role: Any, name: Any) -> bool:
        arn = function_arn(lambda_svc, name)
        return not assumable(ev, iam, role, arn, services=(LAMBDA_PRINCIPAL,))

    def checking_create(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_function(data: Any) -> Any:
            named = isinstance(data, dict) and data.get("Role") and data.get("FunctionName")
            if named and refused(data["Role"], data["FunctionName"]):
                return lambda_svc.error_response_json(INVALID, NOT_ASSUMABLE, 400)
            return original(data)

        return create_function

    def checking_update(original: Callable[..., Any]) -> Callable[..., Any]:
        def update_config(name: Any, data: Any) -> Any:
            if isinstance(data, dict) and data.get("Role") and refused(data["Role"], name):
                return lambda_svc.error_response_json(INVALID, NOT_ASSUMABLE, 400)
            return original(name, data)

        return update_config

    wrap(lambda_svc, "_create_function", checking_create)
    wrap(lambda_svc, "_update_config", checking_update)
