"""A missing object is ``AccessDenied`` to a caller that may not list the bucket, as on AWS.

AWS (GetObject and HeadObject API reference, "Permissions"): "If the object that you
request doesn't exist, the error that Amazon S3 returns depends on whether you also have
the ``s3:ListBucket`` permission. If you have the ``s3:ListBucket`` permission on the
bucket, Amazon S3 returns an HTTP status code 404 Not Found error. If you don't have the
``s3:ListBucket`` permission, Amazon S3 returns an HTTP status code 403 Access Denied
error." MiniStack 1.5.33 (``AUTH=true``) answers ``NoSuchKey`` (404) to any caller allowed
``s3:GetObject``, so code that maps ``NoSuchKey`` to "not stored yet" passes locally and
fails on AWS with a denial.

Patched: ``iam_evaluator.enforce`` remembers, for this request, the caller whose
``s3:GetObject`` on ``arn:aws:s3:::BUCKET/KEY`` it allowed; ``s3._get_object`` and
``s3._head_object``, when they answer 404 for that object, check ``s3:ListBucket`` on the
bucket for that caller with ``s3:prefix`` = the key (the condition a policy limiting the
listing to one key uses) and answer 403 ``AccessDenied`` when it is not allowed. The
account's root keys (the tests', the deploy's) are allowed everything, as on AWS.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

GET_OBJECT, LIST_BUCKET = "s3:GetObject", "s3:ListBucket"

EVALUATOR_EXPECTED = {
    "enforce": Expectation(
        ("access_key_id", "iam_action", "service", "region", "resource_arn", "service_context"),
        "cf64b1ee5b099c8f",
    ),
}
S3_EXPECTED = {
    "_get_object": Expectation(
        ("bucket_name", "key", "headers", "query_params"), "64ad7071ef0ec45a"
    ),
    "_head_object": Expectation(
        ("bucket_name", "key", "headers", "query_params"), "369c3a8482eadb36"
    ),
    "_error": Expectation(
        ("code", "message", "status", "resource", "extra", "headers"), "7a708a97c4bd72fb"
    ),
}

#: (access key, region, object ARN) of the GetObject this request was allowed.
ALLOWED_READ: contextvars.ContextVar[tuple[str, str, str] | None] = contextvars.ContextVar(
    "ministack_s3_allowed_read", default=None
)


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def install(iam_evaluator: Any, s3: Any) -> None:
    def remembering(original: Callable[..., Any]) -> Callable[..., Any]:
        def enforce(*args: Any, **kwargs: Any) -> Any:
            denied = original(*args, **kwargs)
            action = args[1] if len(args) > 1 else kwargs.get("iam_action")
            if action == GET_OBJECT and not denied:
                resource = args[4] if len(args) > 4 else kwargs.get("resource_arn", "*")
                ALLOWED_READ.set((str(args[0]), str(args[3]), str(resource)))
            return denied

        return enforce

    def listing_checked(original: Callable[..., Any]) -> Callable[..., Any]:
        def read(bucket_name: Any, key: Any, *rest: Any, **kwargs: Any) -> Any:
            answer = original(bucket_name, key, *rest, **kwargs)
            read_by = ALLOWED_READ.get()
            if not (isinstance(answer, tuple) and answer and answer[0] == 404 and read_by):
                return answer
            access_key, region, resource = read_by
            if resource != object_arn(str(bucket_name), str(key)):
                return answer
            ALLOWED_READ.set(None)
            denied = iam_evaluator.enforce(
                access_key, LIST_BUCKET, "s3", region,
                resource_arn=f"arn:aws:s3:::{bucket_name}",
                service_context={"s3:prefix": str(key)},
            )  # fmt: skip
            if not denied:
                return answer
            return s3._error("AccessDenied", "Access Denied", 403, f"/{bucket_name}/{key}")

        return read

    wrap(iam_evaluator, "enforce", remembering)
    wrap(s3, "_get_object", listing_checked)
    wrap(s3, "_head_object", listing_checked)
