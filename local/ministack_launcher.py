"""Start MiniStack with its fidelity gaps closed: Lambda error names, Step Functions limits.

Role: the local stack's MiniStack entry point (run with `.venv-ministack`'s
python, never imported by the product).

Error names (patched here):

On real AWS, when a Python Lambda raises, the invoke result and the Step
Functions task failure carry ``errorType`` = the exception's class name
(e.g. ``WorkloadAlreadyExists``), which is what Retry and Catch match on.
MiniStack 1.5.33 reports every Python exception as ``Runtime.HandlerError``:
its warm worker script writes only ``str(e)`` and the host side hard-codes the
type. This launcher, for the pinned MiniStack version only:

1. makes the worker script also report ``type(e).__name__``;
2. remembers that name per invocation when the worker answers;
3. puts it in place of ``Runtime.HandlerError`` in the invoke result.

Step Functions (patched by ``local/ministack_fidelity/``, one module per rule,
each citing the AWS page it follows): 256 KiB payloads (States.DataLimitExceeded,
and StartExecution refuses a larger input), missing JSONPaths (States.Runtime),
both terminal (no Retry or Catch handles them), error and cause lengths (256 /
32,768 characters), the state machine's TimeoutSeconds (TIMED_OUT), definitions
AWS refuses (not JSON, a transition to a missing state: InvalidDefinition), and the
execution role: each call a task makes (Lambda invoke, StartExecution and what ``.sync``
needs, the DynamoDB item calls), a Distributed Map's child starts and its ItemReader's S3
reads must be allowed by the role's policies, as MiniStack's own IAM evaluator reads them
(a missing role allows nothing), or the task fails with the service's access-denied error
(e.g. ``Lambda.AWSLambdaException``, "... is not authorized to perform:
lambda:InvokeFunction ..."); and the role's trust policy must let ``states.amazonaws.com``
assume it, its ``aws:SourceAccount`` / ``aws:SourceArn`` conditions evaluated (a
Distributed Map child's machine is ``NAME/LABEL``): CreateStateMachine / UpdateStateMachine
refuse it (AccessDeniedException, "Neither the global service principal
states.amazonaws.com, nor the regional one is authorized to assume the provided role."),
an execution or a Map child fails as it starts (States.Runtime).
CloudFormation (same package): a template's IAM resources must be acknowledged with
``CAPABILITY_IAM`` / ``CAPABILITY_NAMED_IAM``, as AWS asks of every caller (MiniStack
checks it only under ``AUTH=true``); a bucket that still holds objects or versions fails
to delete (DELETE_FAILED, so does the stack delete); a new change set is CREATE_PENDING
until described once and cannot be executed before (InvalidChangeSetStatus); an
AWS::StepFunctions::StateMachine with such a definition fails and is rolled back.

Transport: MiniStack serves HTTPS only (``USE_SSL=1`` with the local CA's server certificate,
``MINISTACK_SSL_CERT`` / ``MINISTACK_SSL_KEY``); the launcher refuses to start without them.
AWS's S3 endpoints still answer plain HTTP, which is why the stage bucket's policy denies
``aws:SecureTransport = false``; MiniStack evaluates that key from the connection, so over
plain HTTP every call of the product would be denied -- the local stack runs TLS, as every
AWS SDK does by default. The Lambda workers call back on ``https://127.0.0.1:<port>`` and
trust the CA through their stage's ``REQUESTS_CA_BUNDLE``. MiniStack's extra listener on
port 443 is not opened: the stack binds the one port it was given.

Everything else is MiniStack unchanged. If the pinned version or the patched
source text differs, the launcher refuses to start rather than run a stack
whose error names or Step Functions rules silently differ from AWS.
"""

from __future__ import annotations

import importlib.metadata
import sys
import threading
from typing import Any

PINNED_VERSION = "1.5.33"
WORKER_ERROR_LINE = '{"status": "error", "error": str(e), "trace": traceback.format_exc()}'
PATCHED_ERROR_LINE = (
    '{"status": "error", "error": str(e), "errorType": type(e).__name__, '
    '"trace": traceback.format_exc()}'
)
GENERIC_ERROR_TYPE = "Runtime.HandlerError"


def _patch() -> None:
    version = importlib.metadata.version("ministack")
    if version != PINNED_VERSION:
        sys.exit(
            f"local/ministack_launcher.py is written for ministack=={PINNED_VERSION}, "
            f"found {version}: re-check the patch before changing the pin."
        )

    from ministack.core import lambda_runtime
    from ministack.services import lambda_svc

    script = lambda_runtime._PYTHON_WORKER_SCRIPT
    if script.count(WORKER_ERROR_LINE) != 1:
        sys.exit("MiniStack's Python worker script changed: cannot patch error names.")
    lambda_runtime._PYTHON_WORKER_SCRIPT = script.replace(WORKER_ERROR_LINE, PATCHED_ERROR_LINE)

    last = threading.local()
    original_invoke = lambda_runtime.Worker.invoke
    original_execute = lambda_svc._execute_function_warm

    def invoke(self: Any, *args: Any, **kwargs: Any) -> dict:
        result = original_invoke(self, *args, **kwargs)
        if isinstance(result, dict) and result.get("status") == "error":
            last.error_type = result.get("errorType")
        return result

    def execute_function_warm(*args: Any, **kwargs: Any) -> dict:
        last.error_type = None
        result = original_execute(*args, **kwargs)
        body = result.get("body") if isinstance(result, dict) else None
        error_type = getattr(last, "error_type", None)
        if (
            result.get("error")
            and isinstance(body, dict)
            and body.get("errorType") == GENERIC_ERROR_TYPE
            and error_type
        ):
            body["errorType"] = error_type
        return result

    lambda_runtime.Worker.invoke = invoke
    lambda_svc._execute_function_warm = execute_function_warm

    import ministack_fidelity
    from ministack.services import stepfunctions
    from ministack.services.cloudformation import handlers as cloudformation_handlers

    ministack_fidelity.install(stepfunctions)
    ministack_fidelity.install_cloudformation(cloudformation_handlers)
    ministack_fidelity.install_iam()


def _require_tls() -> None:
    """HTTPS only, on the one port given (see the module docstring)."""
    import os

    cert, key = os.environ.get("MINISTACK_SSL_CERT"), os.environ.get("MINISTACK_SSL_KEY")
    if not (cert and key and os.path.exists(cert) and os.path.exists(key)):
        sys.exit(
            "local/ministack_launcher.py serves HTTPS only: set MINISTACK_SSL_CERT and "
            "MINISTACK_SSL_KEY to the local stack's server certificate and key (local/tls.py)."
        )
    os.environ["USE_SSL"] = "1"
    port = os.environ.get("GATEWAY_PORT", "4566")
    # The workers inherit this: without it MiniStack would write its own CA bundle next to
    # the certificate (over the local stack's) and point the workers at it.
    os.environ["AWS_ENDPOINT_URL"] = f"https://127.0.0.1:{port}"
    from ministack import app

    bindable = app._port_is_bindable
    app._port_is_bindable = lambda host, number: number != 443 and bindable(host, number)


def main() -> None:
    _require_tls()
    _patch()
    from ministack.app import main as ministack_main

    sys.argv = ["ministack"]
    ministack_main()


if __name__ == "__main__":
    main()
