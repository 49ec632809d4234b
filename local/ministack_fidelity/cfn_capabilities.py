"""CloudFormation capabilities: a template with IAM resources must be acknowledged, always.

AWS API reference, CreateStack / UpdateStack / CreateChangeSet, ``Capabilities``
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html):
"If you have IAM resources, you can specify either capability. If you have IAM resources
with custom names, you must specify CAPABILITY_NAMED_IAM. If you don't specify either of
these capabilities, CloudFormation returns an InsufficientCapabilities error." AWS checks
this for every caller: it is an acknowledgement, not an IAM permission.

MiniStack 1.5.33 implements the whole check (``handlers._check_capabilities``, the nested
stack check in ``provisioners``) but runs it only under ``AUTH=true``
(``handlers._capabilities_enforced``). Patched: ``_capabilities_enforced`` answers True, so
a stack whose named role is acknowledged with ``CAPABILITY_IAM`` alone is refused here as
on AWS, whatever the IAM mode. Its callers import it by name at call time from
``handlers``, so the one attribute covers all of them.
"""

from __future__ import annotations

from typing import Any

from ._patching import Expectation

EXPECTED = {
    "_capabilities_enforced": Expectation((), "1e9f8980819321c1"),
}
#: Where ``_capabilities_enforced`` is called from in ``handlers`` (the nested-stack
#: checks in ``provisioners`` import it from there when they run).
CALLERS = ("_check_capabilities",)


def capabilities_enforced() -> bool:
    """Capabilities are acknowledged on every call, as on AWS."""
    return True


def install(handlers: Any) -> None:
    handlers._capabilities_enforced = capabilities_enforced
