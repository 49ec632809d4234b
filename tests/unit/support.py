"""Helpers shared by unit test modules (not a test module: nothing here is collected)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from stax_orchestrator.deploy.names import Target

#: moto's region for the unit tier (its account is 123456789012); the ``aws`` fixture's.
REGION = "us-east-1"


def deployed_function(aws: Any, target: Target, function: str) -> str:
    """What ``chalice deploy`` leaves for one of the stage's functions, on moto: its role
    (with an inline policy and an open trust policy) and the Lambda function; its ARN."""
    iam, lam = aws.client("iam"), aws.client("lambda")
    role = iam.create_role(
        RoleName=target.function_role_name(function),
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    statement = {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}
    iam.put_role_policy(RoleName=target.function_role_name(function), PolicyName="p",
                        PolicyDocument=json.dumps({"Version": "2012-10-17",
                                                   "Statement": [statement]}))  # fmt: skip
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("app.py", "def handler(event, context):\n    return event\n")
    return str(
        lam.create_function(
            FunctionName=target.function_name(function), Runtime="python3.11", Role=role,
            Handler="app.handler", Code={"ZipFile": archive.getvalue()},
        )["FunctionArn"]
    )  # fmt: skip


def stage_stack(target: Target, **parts: str) -> None:
    """A stage's stack as the CLI finds it: ``stax-orchestrator-<stage>`` with the Outputs
    the stage template gives (``workload=ARN``, ``table=NAME``... by ``OUTPUT_KEYS``;
    ``function=ARN`` for the token function's output)."""
    import boto3

    from stax_orchestrator.deploy.names import OUTPUT_KEYS, placeholder

    keys = {**OUTPUT_KEYS, "function": placeholder("create_workload")}
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {keys[part]: {"Value": value} for part, value in parts.items()},
    }
    boto3.client("cloudformation", region_name=target.region).create_stack(
        StackName=target.stack_name, TemplateBody=json.dumps(template)
    )
