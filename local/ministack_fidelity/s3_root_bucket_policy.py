"""A bucket policy's explicit Deny binds the account's root user too, as on AWS.

AWS: an explicit deny in any applicable policy overrides every allow (IAM User Guide,
"Policy evaluation logic"), and a bucket policy applies to every principal, the account's
root user included: the S3 User Guide's answer to a bucket policy that denies everyone
("I accidentally denied everyone access to my bucket") is to sign in as the root user and
*delete the bucket policy* -- the root user keeps only the bucket-policy calls
(``GetBucketPolicy``, ``PutBucketPolicy``, ``DeleteBucketPolicy``). MiniStack 1.5.33
(``AUTH=true``) allows its root keys everything before any resource policy is read, so a
Deny that keeps the stage bucket's plans and baselines file out of reach (or refuses plain
HTTP) would never be seen locally from the keys the tests and the local CLI use.

Patched: ``iam_evaluator.enforce``, when it allowed an S3 call by the root keys, reads the
bucket's policy as MiniStack evaluates it for any principal (``evaluate_resource_policy``,
with the request's own ``aws:SecureTransport`` and source) and refuses the call
(AccessDenied, "with an explicit deny in a resource-based policy") when a statement
explicitly denies it. An allow or no statement changes nothing: root needs no grant.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

#: What the root user can always do to a bucket's policy (the way back from a lock-out).
POLICY_CALLS = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})

EVALUATOR_EXPECTED = {
    "enforce": Expectation(
        ("access_key_id", "iam_action", "service", "region", "resource_arn", "service_context"),
        "cf64b1ee5b099c8f",
    ),
    "evaluate_resource_policy": Expectation(
        ("doc", "ctx", "service", "named_only", "direct_only"), "e49ce7161ad63e35"
    ),
    "_resource_policy": Expectation(("service", "resource_arn"), "dec265f9a9030695"),
    "is_root_access_key": Expectation(("access_key_id",), "e6ae3b63335593c0"),
}


def install(iam_evaluator: Any) -> None:
    signature = inspect.signature(iam_evaluator.enforce)

    def root_checked(original: Callable[..., Any]) -> Callable[..., Any]:
        def enforce(*args: Any, **kwargs: Any) -> Any:
            answer = original(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            access_key_id, iam_action, service, region, resource_arn, service_context = (
                bound.arguments[name] for name in EVALUATOR_EXPECTED["enforce"].params
            )
            if (answer is not None or service != "s3" or iam_action in POLICY_CALLS
                    or not iam_evaluator.is_root_access_key(access_key_id or "")):  # fmt: skip
                return answer
            found = iam_evaluator._resource_policy(service, resource_arn)
            if found is None:
                return None
            from ministack.core.responses import get_account_id

            account = get_account_id()
            root = f"arn:aws:iam::{account}:root"
            ctx = iam_evaluator.EvalContext(
                principal_arn=root, principal_type="Root", principal_account=account,
                action=iam_action, resource_arn=resource_arn, region=region,
                service_context={k.lower(): v for k, v in (service_context or {}).items()},
            )  # fmt: skip
            if iam_evaluator.evaluate_resource_policy(found[0], ctx).decision != "Deny":
                return None
            return iam_evaluator.EvalResult(
                "Deny", principal_arn=root, resource_policy_arn=resource_arn
            )

        return enforce

    wrap(iam_evaluator, "enforce", root_checked)
