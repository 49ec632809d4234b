"""A new change set is CREATE_PENDING before it is complete, and cannot be executed yet.

AWS API reference, CreateChangeSet
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html):
"After the CreateChangeSet call successfully completes, CloudFormation starts creating the
change set. To check the status of the change set or to review it, use the
DescribeChangeSet action." ChangeSetSummary, ``ExecutionStatus``
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ChangeSetSummary.html):
"a change set might be in an UNAVAILABLE state because CloudFormation is still creating
it"; ListChangeSets lists "change sets that are in the CREATE_IN_PROGRESS or
CREATE_PENDING state". ExecuteChangeSet's InvalidChangeSetStatus: "The specified change
set can't be used to update the stack. For example, the change set status might be
CREATE_IN_PROGRESS"; AWS words it "ChangeSet [<arn>] cannot be executed in its current
status of [CREATE_IN_PROGRESS]" (the status is the one it has).

MiniStack 1.5.33 computes a change set inside CreateChangeSet: its first DescribeChangeSet
already answers CREATE_COMPLETE / AVAILABLE (or FAILED), and an ExecuteChangeSet right
after CreateChangeSet runs. Patched, deterministically: a new change set is CREATE_PENDING
(ExecutionStatus UNAVAILABLE, no StatusReason, no changes yet) to every DescribeChangeSet
and ListChangeSets until a DescribeChangeSet has answered that once; the next
DescribeChangeSet answers what MiniStack computed (CREATE_COMPLETE, or FAILED with its
reason, e.g. the no-change one), and from then on so does ListChangeSets. Until that
answer ExecuteChangeSet refuses with InvalidChangeSetStatus: a client must poll until it
sees the change set complete, as on AWS. Not modelled: CREATE_IN_PROGRESS, and a
DeleteChangeSet of a pending change set (allowed here).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from ._patching import Expectation, refuse, wrap

EXPECTED = {
    "_create_change_set": Expectation(("params",), "06b31550065c78d5"),
    "_describe_change_set": Expectation(("params",), "e6d4a62f79218763"),
    "_list_change_sets": Expectation(("params",), "937ee34b9659225c"),
    "_execute_change_set": Expectation(("params",), "a4df5e5031d268f1"),
    "_p": Expectation(("params", "key", "default"), "a36ca8a65991e3e3"),
    "_error": Expectation(("code", "message", "status"), "6db6223a8d968c0d"),
}
#: ``changesets._find_change_set``, which DescribeChangeSet and ExecuteChangeSet look up by.
FIND_EXPECTED = {"_find_change_set": Expectation(("cs_name", "stack_name"), "b583e6bde2bad6e1")}
ACTIONS = {
    "CreateChangeSet": "_create_change_set",
    "DescribeChangeSet": "_describe_change_set",
    "ListChangeSets": "_list_change_sets",
    "ExecuteChangeSet": "_execute_change_set",
}
#: Marks a change set not yet seen complete: NEW (never shown), SHOWN (shown pending once).
PENDING = "_fidelity_pending"
NEW, SHOWN = "new", "shown"
PENDING_VIEW = {"Status": "CREATE_PENDING", "ExecutionStatus": "UNAVAILABLE", "StatusReason": ""}
_ID = re.compile(rb"<Id>([^<]+)</Id>")


def created_id(body: bytes) -> str | None:
    """The change set id in a CreateChangeSet answer."""
    found = _ID.search(body)
    return found.group(1).decode() if found else None


def answer_viewing(
    change_sets: Iterable[dict[str, Any]], answer: Callable[[], Any], describing: bool
) -> Any:
    """``answer()`` (a List, or with ``describing`` a Describe handler) with the pending
    change sets seen as CREATE_PENDING; a DescribeChangeSet moves the one it names on (NEW
    to SHOWN, then SHOWN to what MiniStack computed, answered as it is)."""
    change_sets = list(change_sets)
    hidden = [cs for cs in change_sets if cs.get(PENDING) == NEW or
              (PENDING in cs and not describing)]  # fmt: skip
    saved = [{key: cs.get(key) for key in (*PENDING_VIEW, "Changes")} for cs in hidden]
    for cs in hidden:
        cs.update(PENDING_VIEW, Changes=[])
    try:
        result = answer()
    finally:
        for cs, fields in zip(hidden, saved, strict=True):
            cs.update(fields)
    body = result[2] if isinstance(result, tuple) and len(result) == 3 else b""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    for cs in change_sets if describing else ():
        if PENDING in cs and str(cs.get("ChangeSetId")) in text:
            if cs[PENDING] == NEW:
                cs[PENDING] = SHOWN
            else:
                del cs[PENDING]
    return result


def execute_refusal(change_set: dict[str, Any] | None) -> str | None:
    """Why ExecuteChangeSet must refuse a change set not yet seen complete, or None."""
    if not change_set or PENDING not in change_set:
        return None
    return (
        f"ChangeSet [{change_set['ChangeSetId']}] cannot be executed in its current status "
        f"of [{PENDING_VIEW['Status']}]"
    )


def install(handlers: Any, changesets: Any, change_sets: Any) -> None:
    """Patch the four actions in ``handlers._ACTION_HANDLERS``; ``change_sets`` is the
    package's store (``ministack.services.cloudformation._change_sets``)."""
    registry = handlers._ACTION_HANDLERS
    for action, name in ACTIONS.items():
        if registry.get(action) is not getattr(handlers, name):
            refuse(f"MiniStack's {action} is not handled by {name}.")
    _p, find = handlers._p, changesets._find_change_set

    def create(original: Any) -> Any:
        def create_change_set(params: Any) -> Any:
            result = original(params)
            cs = change_sets.get(created_id(result[2]) or "") if result[0] == 200 else None
            if cs is not None:
                cs[PENDING] = NEW
            return result

        return create_change_set

    def describe(original: Any) -> Any:
        def describe_change_set(params: Any) -> Any:
            _, cs = find(_p(params, "ChangeSetName"), _p(params, "StackName"))
            return answer_viewing([cs] if cs else [], lambda: original(params), True)

        return describe_change_set

    def listing(original: Any) -> Any:
        def list_change_sets(params: Any) -> Any:
            stack = _p(params, "StackName")
            mine = [cs for cs in change_sets.values() if cs.get("StackName") == stack]
            return answer_viewing(mine, lambda: original(params), False)

        return list_change_sets

    def execute(original: Any) -> Any:
        def execute_change_set(params: Any) -> Any:
            _, cs = find(_p(params, "ChangeSetName"), _p(params, "StackName"))
            refusal = execute_refusal(cs)
            if refusal:
                return handlers._error("InvalidChangeSetStatus", refusal, 400)
            return original(params)

        return execute_change_set

    makers = {"CreateChangeSet": create, "DescribeChangeSet": describe,
              "ListChangeSets": listing, "ExecuteChangeSet": execute}  # fmt: skip
    for action, name in ACTIONS.items():
        wrap(handlers, name, makers[action])
        registry[action] = getattr(handlers, name)
