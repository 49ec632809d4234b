"""A change set lists only the resources whose conditions hold.

AWS CloudFormation User Guide, "Conditions syntax"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/conditions-section-structure.html):
"When the condition evaluates to false, CloudFormation doesn't create the resource" -- a
resource whose ``Condition`` is false is not part of the stack, so a change set
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html)
neither adds it nor counts it as a change; it appears (``Add``) when its condition turns
true and goes (``Remove``) when it turns false.

MiniStack 1.5.33 creates such resources correctly (the engine skips them) but its change
set differ (``changesets._resolve_props_for_diff``) reads every resource of both
templates, conditions ignored: every deploy of a stage with automatic baselining off
lists its account events rule, drift schedule and events role as ``Add`` -- a preview
that says the opposite of what the deploy does. Patched: the resources whose condition
is false (evaluated with the same parameters, by MiniStack's own ``_evaluate_conditions``)
are left out of each side before the two are compared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._patching import Expectation

EXPECTED = {
    "_resolve_props_for_diff": Expectation(
        ("template", "params", "stack_name", "stack_id"), "b0f1a995e91fdb78"
    ),
}


def present(
    resolved: Mapping[str, Any], template: Mapping[str, Any], conditions: Mapping[str, bool]
) -> dict[str, Any]:
    """``resolved`` without the resources whose ``Condition`` is false in ``conditions``
    (a resource without a condition, or with one not evaluated, stays)."""
    definitions = template.get("Resources", {})
    kept = {
        logical: resource
        for logical, resource in resolved.get("Resources", {}).items()
        if conditions.get(definitions.get(logical, {}).get("Condition", ""), True)
    }
    return {**resolved, "Resources": kept}


def _resolve(original: Callable[..., Any], evaluate: Callable[..., Any]) -> Callable[..., Any]:
    def resolve(template: Any, params: Any, stack_name: str, stack_id: str) -> Any:
        resolved = original(template, params, stack_name, stack_id)
        if not template:
            return resolved
        try:
            conditions = evaluate(template, params)
        except Exception:  # MiniStack's own fallback: compare as it did
            return resolved
        return present(resolved, template, conditions)

    return resolve


def install(changesets: Any) -> None:
    changesets._resolve_props_for_diff = _resolve(
        changesets._resolve_props_for_diff, changesets._evaluate_conditions
    )
