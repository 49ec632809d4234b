"""A request naming ``ExpectedBucketOwner`` is refused when another account owns the bucket.

AWS (S3 User Guide, "Verifying bucket ownership with bucket owner condition"): "If the
bucket owner doesn't match the account ID in the condition, the request fails with an
HTTP 403 Access Denied error." It is how a caller keeps from reading, or writing into, a
bucket of the expected name that someone else created (bucket names are global). MiniStack
1.5.33 ignores the ``x-amz-expected-bucket-owner`` header, so a wrong owner passes
locally; the stage's Lambdas, its state machines and the CLI all send it.

Patched: ``s3.handle_request`` answers 403 ``AccessDenied`` when the header names an
account and the bucket (it exists) is another account's. A missing bucket is left to
MiniStack (``NoSuchBucket``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

HEADER = "x-amz-expected-bucket-owner"

EXPECTED = {
    "handle_request": Expectation(
        (
            "method",
            "path",
            "headers",
            "body",
            "query_params",
            "signed_path",
            "enforce_bucket_region",
            "internal",
            "access_point_region",
            "access_point",
        ),
        "0856144f19e733b4",
    ),
    "_bucket_owner_account": Expectation(("name",), "4352c25646a80a31"),
    "_parse_bucket_key": Expectation(("path", "headers"), "06e19cc5df12255c"),
    "_error": Expectation(
        ("code", "message", "status", "resource", "extra", "headers"), "7a708a97c4bd72fb"
    ),
}


def install(s3: Any) -> None:
    def owner_checked(original: Callable[..., Any]) -> Callable[..., Any]:
        async def handle_request(method: str, path: str, headers: dict, *rest: Any,
                                 **kwargs: Any) -> Any:  # fmt: skip
            expected = next((str(v).strip() for k, v in (headers or {}).items()
                             if str(k).lower() == HEADER), "")  # fmt: skip
            if expected:
                bucket, _key = s3._parse_bucket_key(path, headers)
                owner = s3._bucket_owner_account(bucket) if bucket else None
                if owner is not None and owner != expected:
                    return s3._error("AccessDenied", "Access Denied", 403, f"/{bucket}")
            return await original(method, path, headers, *rest, **kwargs)

        return handle_request

    wrap(s3, "handle_request", owner_checked)
