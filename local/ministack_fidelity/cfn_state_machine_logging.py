"""A state machine made by CloudFormation describes its logging as the API does.

AWS CloudFormation User Guide, ``AWS::StepFunctions::StateMachine`` LoggingConfiguration
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-stepfunctions-statemachine-loggingconfiguration.html):
the template says ``Level``, ``IncludeExecutionData``, ``Destinations`` with
``CloudWatchLogsLogGroup.LogGroupArn``; the machine CloudFormation makes is the one
``CreateStateMachine`` makes, and ``DescribeStateMachine`` answers its
``loggingConfiguration`` in the API's own case (``level``, ``includeExecutionData``,
``destinations[].cloudWatchLogsLogGroup.logGroupArn``).

MiniStack 1.5.33 stores the template's block as it is (``provisioners.
_sfn_state_machine_create`` and ``_sfn_state_machine_update``), so boto3 reads no
``loggingConfiguration`` fields of a CloudFormation-made machine: the logging a stage
deploys would look switched off. Patched: the handlers of
``AWS::StepFunctions::StateMachine`` in ``provisioners._RESOURCE_HANDLERS`` are given the
block in the API's case (every key's first letter lowered), before MiniStack stores it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._patching import Expectation

EXPECTED = {
    "_sfn_state_machine_create": Expectation(
        ("logical_id", "props", "stack_name"), "d2ffde42cb0e8dbd"
    ),
    "_sfn_state_machine_update": Expectation(
        ("physical_id", "old_props", "new_props", "stack_name", "logical_id"),
        "e6b56ee6ad599ebf",
    ),
}
RESOURCE_TYPE = "AWS::StepFunctions::StateMachine"


def api_case(value: Any) -> Any:
    """A CloudFormation-cased document in the API's case (``LogGroupArn`` -> ``logGroupArn``)."""
    if isinstance(value, Mapping):
        return {key[:1].lower() + key[1:]: api_case(item) for key, item in value.items()}
    if isinstance(value, list):
        return [api_case(item) for item in value]
    return value


def with_api_logging(props: Mapping[str, Any] | None) -> Any:
    """``props`` with its ``LoggingConfiguration`` in the API's case (the rest as it is)."""
    if not props or "LoggingConfiguration" not in props:
        return props
    return {**props, "LoggingConfiguration": api_case(props["LoggingConfiguration"])}


def _create(original: Callable[..., Any]) -> Callable[..., Any]:
    def create(logical_id: str, props: Any, stack_name: str) -> Any:
        return original(logical_id, with_api_logging(props), stack_name)

    return create


def _update(original: Callable[..., Any]) -> Callable[..., Any]:
    def update(physical_id: str, old_props: Any, new_props: Any, stack_name: str,
               logical_id: str | None = None) -> Any:  # fmt: skip
        return original(physical_id, with_api_logging(old_props), with_api_logging(new_props),
                        stack_name, logical_id)  # fmt: skip

    return update


def install(provisioners: Any) -> None:
    handlers = provisioners._RESOURCE_HANDLERS[RESOURCE_TYPE]
    handlers["create"] = _create(handlers["create"])
    handlers["update"] = _update(handlers["update"])
