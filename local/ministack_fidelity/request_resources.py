"""Lambda and EventBridge calls are authorized as the actions, on the resources, AWS names
(``AUTH=true``).

AWS (Service Authorization Reference, "Actions, resources, and condition keys for AWS
Lambda"; the Lambda API reference of each operation):

- ``GetLayerVersion`` and ``GetLayerVersionByArn`` are ``lambda:GetLayerVersion`` on the
  layer version (``layer:NAME:VERSION``); ``DeleteLayerVersion`` is
  ``lambda:DeleteLayerVersion`` on it; ``ListLayerVersions`` and ``PublishLayerVersion``
  act on the layer (``layer:NAME``); ``ListLayers`` on ``*``; the layer version's policy
  calls are ``lambda:GetLayerVersionPolicy``, ``lambda:AddLayerVersionPermission`` and
  ``lambda:RemoveLayerVersionPermission`` on the layer version;
- ``GetFunctionConcurrency``, ``PutFunctionConcurrency`` and ``DeleteFunctionConcurrency``
  are each their own action on the function;
- ``CreateFunction`` acts on the function it creates (``function:NAME``), so a policy
  limited to the stage's function names allows it.

MiniStack 1.5.33 maps every layer ``GET`` to ``lambda:ListLayers`` (``GetLayerVersionByArn``,
which ``chalice deploy`` calls for the stage's managed layer, is refused unless
``ListLayers`` is allowed), every layer ``DELETE`` to no action at all, a layer version to
the layer's ARN, and every concurrency call to ``PutFunctionConcurrency``: it refuses the
least-privilege policy AWS accepts and allows calls AWS would check. It authorizes
``CreateFunction`` on ``*`` (the name is in the body, not the path), so only a policy
allowing every function name passes.

EventBridge (same reference, "Amazon EventBridge"): ``DescribeEventBus`` acts on the bus
(``event-bus/NAME``); ``PutTargets``, ``RemoveTargets`` and ``ListTargetsByRule`` on the rule
their ``Rule`` names; a rule of the default bus is ``rule/NAME``, of another bus
``rule/BUS/NAME``. MiniStack 1.5.33 checks ``DescribeEventBus`` on a rule
(``rule/default/NAME``), the target calls on ``*`` (it reads no ``Rule`` field) and a
default-bus rule as ``rule/default/NAME``.

Patched: ``iam_actions.extract_iam_action`` and ``extract_resource_arn`` (looked up by
MiniStack's request handler at each request) for Lambda's ``CreateFunction``, ``/layers``
and ``/functions/NAME/concurrency`` requests and the EventBridge calls above only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from ._patching import Expectation, wrap

EXPECTED = {
    "extract_iam_action": Expectation(
        ("service", "method", "path", "headers", "body", "query_params"), "ec476b92d969822b"
    ),
    "extract_resource_arn": Expectation(
        ("service", "method", "path", "headers", "body", "query_params", "region", "account_id"),
        "82f51700695c62fd",
    ),
    "_query_param": Expectation(("query_params", "key"), "c540737dbd125bab"),
    "_action_from_target": Expectation(("headers",), "c5279c8ae2ff792f"),
}

CONCURRENCY = {"GET": "GetFunctionConcurrency", "PUT": "PutFunctionConcurrency",
               "DELETE": "DeleteFunctionConcurrency"}  # fmt: skip
LAYER_POLICY = {"GET": "GetLayerVersionPolicy", "POST": "AddLayerVersionPermission",
                "DELETE": "RemoveLayerVersionPermission"}  # fmt: skip


def _parts(path: str) -> list[str]:
    return [unquote(p) for p in path.split("/") if p]


def layer_call(method: str, path: str, find: str, arn: str) -> tuple[str, str | None] | None:
    """(action, the layer's name and version or None) of a ``/layers`` request; ``find`` and
    ``arn`` are its query's ``find`` and ``Arn``. None: not a layer request."""
    parts = _parts(path)
    if "layers" not in parts or "functions" in parts:
        return None
    rest = parts[parts.index("layers") + 1 :]
    if not rest:
        if method == "GET" and find == "LayerVersion":
            return "GetLayerVersion", ":".join(arn.split(":")[6:8]) if arn else None
        return ("ListLayers", None) if method == "GET" else None
    name, version = rest[0], ":".join(rest[0::2][:2])
    shapes = {
        ("versions",): ({"GET": "ListLayerVersions", "POST": "PublishLayerVersion"}, name),
        ("versions", "*"): ({"GET": "GetLayerVersion", "DELETE": "DeleteLayerVersion"}, version),
        ("versions", "*", "policy"): (LAYER_POLICY, version),
        ("versions", "*", "policy", "*"): (LAYER_POLICY, version),
    }
    shape = tuple("*" if i % 2 else part for i, part in enumerate(rest[1:]))
    if shape not in shapes:
        return None
    actions, resource = shapes[shape]
    return actions.get(method, ""), resource


def concurrency_call(method: str, path: str) -> str | None:
    parts = _parts(path)
    if "functions" in parts and parts[-1:] == ["concurrency"]:
        return CONCURRENCY.get(method)
    return None


def created_function(method: str, path: str, body: Any) -> str | None:
    """The ``FunctionName`` of a ``CreateFunction`` request (None: not one, or no name)."""
    if method != "POST" or _parts(path)[-1:] != ["functions"]:
        return None
    try:
        name = json.loads(body or b"{}").get("FunctionName")
    except (ValueError, AttributeError, TypeError):
        return None
    return name if isinstance(name, str) and name else None


EVENTS_RULE_FIELDS = {
    **dict.fromkeys(("PutTargets", "RemoveTargets", "ListTargetsByRule"), "Rule"),
    **dict.fromkeys(("PutRule", "DeleteRule", "DescribeRule", "EnableRule", "DisableRule"), "Name"),
}


def events_resource(action: str, body: Any, region: str, account: str) -> str | None:
    """The ARN AWS authorizes an EventBridge bus or rule call on (None: another call)."""
    try:
        data = json.loads(body or b"{}")
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    if action == "DescribeEventBus":
        bus = data.get("Name") or "default"
        return (
            bus
            if str(bus).startswith("arn:")
            else f"arn:aws:events:{region}:{account}:event-bus/{bus}"
        )
    field = EVENTS_RULE_FIELDS.get(action)
    name = data.get(field) if field else None
    if not isinstance(name, str) or not name:
        return None
    if name.startswith("arn:"):
        return name
    bus = str(data.get("EventBusName") or "default").rsplit("/", 1)[-1]
    rule = name if bus == "default" else f"{bus}/{name}"
    return f"arn:aws:events:{region}:{account}:rule/{rule}"


def install(iam_actions: Any) -> None:
    def query(params: Any, key: str) -> str:
        return str(iam_actions._query_param(params or {}, key) or "")

    def named_action(original: Callable[..., Any]) -> Callable[..., Any]:
        def extract_iam_action(*args: Any) -> Any:
            service, method, path, _headers, _body, query_params = args
            if service == "lambda":
                concurrency = concurrency_call(method, path)
                if concurrency:
                    return f"lambda:{concurrency}"
                layer = layer_call(method, path, query(query_params, "find"),
                                   query(query_params, "Arn"))  # fmt: skip
                if layer and layer[0]:
                    return f"lambda:{layer[0]}"
            return original(*args)

        return extract_iam_action

    def named_resource(original: Callable[..., Any]) -> Callable[..., Any]:
        def extract_resource_arn(*args: Any) -> Any:
            service, method, path, headers, body, query_params, region, account = args
            if service == "events":
                action = iam_actions._action_from_target(headers) or ""
                named = events_resource(action, body, region, account)
                if named:
                    return named
            if service == "lambda":
                function = created_function(method, path, body)
                if function:
                    if function.startswith("arn:"):
                        return function
                    return f"arn:aws:lambda:{region}:{account}:function:{function}"
                layer = layer_call(method, path, query(query_params, "find"),
                                   query(query_params, "Arn"))  # fmt: skip
                if layer and layer[0]:
                    named = layer[1]
                    return f"arn:aws:lambda:{region}:{account}:layer:{named}" if named else "*"
            return original(*args)

        return extract_resource_arn

    wrap(iam_actions, "extract_iam_action", named_action)
    wrap(iam_actions, "extract_resource_arn", named_resource)
