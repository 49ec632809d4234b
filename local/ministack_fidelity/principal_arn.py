"""``aws:PrincipalArn`` of a role session is the role's ARN, as on AWS.

AWS (IAM User Guide, "AWS global condition context keys", ``aws:PrincipalArn``): for an
IAM role, the request context holds the ARN of the role (``arn:aws:iam::ACCOUNT:role/PATH/
NAME``), not the ARN of the assumed-role session (``arn:aws:sts::ACCOUNT:assumed-role/
NAME/SESSION``) -- which is why a bucket or key policy can name the roles it trusts with
``ArnLike``/``ArnNotLike`` on this key. MiniStack 1.5.33 gives the session's ARN, so a
policy naming a Lambda's role matches nothing: the stage bucket's policy would refuse the
stage's own Lambdas locally, and a policy written to pass locally would fail on AWS.

Patched: ``iam_evaluator._resolve_condition_key`` answers ``aws:PrincipalArn`` of an
assumed-role session with the role's ARN (its path read from MiniStack's IAM store).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

EXPECTED = {
    "_resolve_condition_key": Expectation(("key", "ctx"), "15e26964cd38f32c"),
}
_SESSION = re.compile(r"^arn:([\w-]+):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[^/]+$")


def role_arn(session_arn: str, path_of: Callable[[str, str], str | None]) -> str:
    """The role ARN of an assumed-role session ARN (anything else as it is)."""
    found = _SESSION.match(session_arn)
    if not found:
        return session_arn
    partition, account, name = found.groups()
    path = path_of(account, name) or "/"
    return f"arn:{partition}:iam::{account}:role{path}{name}"


def install(iam_evaluator: Any, iam: Any) -> None:
    def path_of(account: str, name: str) -> str | None:
        role = iam._roles.get_scoped(account, None, name)
        return role.get("Path") if isinstance(role, dict) else None

    def role_not_session(original: Callable[..., Any]) -> Callable[..., Any]:
        def resolve(key: str, ctx: Any) -> Any:
            value = original(key, ctx)
            if str(key).lower() == "aws:principalarn" and isinstance(value, str):
                return role_arn(value, path_of)
            return value

        return resolve

    wrap(iam_evaluator, "_resolve_condition_key", role_not_session)
