"""A stage's CloudFormation stack: deploy by change set, preview, delete, status and drift.

Role: the only code that changes a stage's resources (besides ``chalice deploy`` for the
Lambdas). Every change is a change set -- created, described, then executed or, for
``--diff``, deleted -- so a deploy shows what it changes, a deploy with nothing to change
leaves nothing behind, and a failed deploy is rolled back by CloudFormation and reported
with the failing resources' reasons.

A new stage's stack is created with only its bucket (:func:`template.bootstrap_template`)
and then updated to the whole template, read from that bucket: the whole template is
larger than the 51,200 bytes a ``TemplateBody`` may carry (CloudFormation quotas, "Template
body size in a request"), and a bucket the stack itself created cannot have been created
first by anyone else (a name squatted by another account makes the create fail instead
of being adopted). Waits poll ``Describe*`` with a growing interval (no fixed sleeps).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stax_orchestrator import __version__
from stax_orchestrator.deploy.names import Target
from stax_orchestrator.deploy.template import STAGE_TAG, bootstrap_template
from stax_orchestrator.deploy.templates import DeployError

#: Named IAM resources (the events role) need the named capability; it covers CAPABILITY_IAM.
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
#: What CloudFormation answers for a change set that changes nothing (CreateChangeSet,
#: "The submitted information didn't contain changes..."; UpdateStack's wording too).
NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")
#: A stack operation can take long on AWS (a table, a role's propagation): the deploy waits.
WAIT_SECONDS = 1800.0
TEMPLATE_PREFIX = "templates/"
_BUSY_SUFFIX = "_IN_PROGRESS"
_GONE = ("DELETE_COMPLETE",)


@dataclass(frozen=True)
class Change:
    """One line of a change set."""

    action: str
    logical_id: str
    resource_type: str
    replacement: str = ""

    def line(self) -> str:
        replacement = {"True": "yes", "False": "no", "Conditional": "maybe"}.get(
            self.replacement, "-"
        )
        return f"{self.action:<7} {self.logical_id:<40} {self.resource_type:<36} {replacement}"


@dataclass
class Outcome:
    """What a deploy did."""

    changes: list[Change] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    created: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.changes) or self.created


def _code(error: Any) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def _message(error: Any) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Message", ""))


def describe(cfn: Any, name: str) -> dict[str, Any] | None:
    """The stack, or None when there is none (AWS answers a missing stack with a
    ValidationError "Stack with id X does not exist"; other errors go up)."""
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if _code(error) == "ValidationError" and "does not exist" in _message(error):
            return None
        raise
    if not stacks or stacks[0]["StackStatus"] in _GONE:
        return None
    return dict(stacks[0])


def outputs(stack: Mapping[str, Any] | None) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs") or []}


def wait(
    poll: Callable[[], Any],
    done: Callable[[Any], bool],
    what: str,
    timeout: float = WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Poll until ``done`` (0.5 s, growing to 5 s between polls).

    Raises:
        DeployError: still not done after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    interval = 0.5
    while True:
        answer = poll()
        if done(answer):
            return answer
        if time.monotonic() > deadline:
            raise DeployError(f"{what}: still not done after {timeout:.0f} s")
        sleep(interval)
        interval = min(interval * 1.5, 5.0)


def _status(cfn: Any, name: str) -> str:
    stack = describe(cfn, name)
    return stack["StackStatus"] if stack else "DELETE_COMPLETE"


def failure_reasons(cfn: Any, name: str, since: Any) -> list[str]:
    """The failed resources of the operations after the event at ``since`` (None: all),
    oldest first."""
    reasons: list[str] = []
    paginator = cfn.get_paginator("describe_stack_events")
    for page in paginator.paginate(StackName=name):  # newest first
        for event in page.get("StackEvents", []):
            if since is not None and event["Timestamp"] <= since:
                return list(reversed(reasons))  # the operations before this one
            if event.get("ResourceStatus", "").endswith("_FAILED"):
                reasons.append(
                    f"{event['LogicalResourceId']} ({event.get('ResourceType', '?')}): "
                    f"{event['ResourceStatus']}: {event.get('ResourceStatusReason', '')}"
                )
    return list(reversed(reasons))


def check_not_busy(stack: Mapping[str, Any] | None, name: str, updating: bool = True) -> None:
    """Raises DeployError: the stack is in the middle of an operation, or (``updating``)
    stuck in a failed rollback that only ``continue-update-rollback`` ends (a stack in that
    state can still be deleted)."""
    status = (stack or {}).get("StackStatus", "")
    if status.endswith(_BUSY_SUFFIX) and status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {name} is busy ({status}): wait for it to finish, then retry")
    if updating and status == "UPDATE_ROLLBACK_FAILED":
        raise DeployError(
            f"stack {name} is {status}: fix what its events name, then run "
            f"`aws cloudformation continue-update-rollback --stack-name {name}`"
        )


def _create_change_set(
    cfn: Any, target: Target, kind: str, parameters: Mapping[str, str], template: Mapping[str, str]
) -> Any:
    return cfn.create_change_set(
        StackName=target.stack_name,
        ChangeSetName=f"deploy-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}",
        ChangeSetType=kind,
        Capabilities=CAPABILITIES,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Tags=[{"Key": STAGE_TAG, "Value": target.stage}],
        Description=f"stax-orchestrator {__version__}",
        **template,
    )


def _change_set(
    cfn: Any, target: Target, kind: str, parameters: Mapping[str, str], **template: Any
) -> tuple[str, list[Change] | None]:
    """Create a change set and wait for it; (its id, its changes), or (id, None) when it
    changes nothing (then it has been deleted: no empty change set is left behind).

    Raises:
        DeployError: CloudFormation refused it (the reason is in the message).
    """
    from botocore.exceptions import ClientError

    name = target.stack_name
    try:
        created = _create_change_set(cfn, target, kind, parameters, template)
    except ClientError as error:
        raise DeployError(
            f"CloudFormation refused the change set of stack {name}: {_code(error)}: "
            f"{_message(error)}"
        ) from None
    change_set = created["Id"]
    described = wait(
        lambda: cfn.describe_change_set(ChangeSetName=change_set, StackName=name),
        lambda d: d["Status"] in ("CREATE_COMPLETE", "FAILED"),
        f"change set of stack {name}",
    )
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if any(text in reason for text in NO_CHANGE_REASONS):
            cfn.delete_change_set(ChangeSetName=change_set, StackName=name)
            return change_set, None
        raise DeployError(f"CloudFormation refused the change set of stack {name}: {reason}")
    changes = []
    for page in _change_pages(cfn, name, change_set, described):
        for change in page.get("Changes", []):
            resource = change.get("ResourceChange", {})
            changes.append(Change(resource.get("Action", "?"), resource.get("LogicalResourceId",
                                  "?"), resource.get("ResourceType", "?"),
                                  str(resource.get("Replacement", ""))))  # fmt: skip
    return change_set, changes


def _change_pages(cfn: Any, name: str, change_set: str, first: Mapping[str, Any]):
    page: Mapping[str, Any] = first
    while True:
        yield page
        token = page.get("NextToken")
        if not token:
            return
        page = cfn.describe_change_set(ChangeSetName=change_set, StackName=name, NextToken=token)


def _execute(
    cfn: Any, name: str, change_set: str, creating: bool, first: bool = False
) -> dict[str, Any]:
    """Execute a change set and wait for the stack; the stack when it succeeded.

    Raises:
        DeployError: the operation failed; CloudFormation rolled it back, and the message
            names each failed resource with its reason.
    """
    before = describe(cfn, name)
    since = _latest_event_time(cfn, name) if before else None
    cfn.execute_change_set(ChangeSetName=change_set, StackName=name)
    final = wait(lambda: _status(cfn, name), lambda s: not s.endswith(_BUSY_SUFFIX),
                 f"stack {name}")  # fmt: skip
    if final in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return describe(cfn, name) or {}
    reasons = "\n  ".join(failure_reasons(cfn, name, since)) or "(no resource event)"
    if final == "UPDATE_ROLLBACK_FAILED":
        raise DeployError(
            f"stack {name}: the update failed and so did its rollback ({final}); fix what the "
            "failed resources below name, then run `aws cloudformation "
            f"continue-update-rollback --stack-name {name}`. Failed resources:\n  {reasons}"
        )
    state = {
        "UPDATE_ROLLBACK_COMPLETE": "the stage is as it was before this deploy"
        + (" (its stack holds only its bucket: deploy again once fixed)" if first else ""),
        "ROLLBACK_COMPLETE": "nothing was created (the next deploy deletes the empty stack)",
    }.get(final, f"the stack is {final}")
    raise DeployError(
        f"stack {name}: {'create' if creating else 'update'} failed and CloudFormation "
        f"rolled it back ({final}); {state}. Failed resources:\n  {reasons}"
    )


def _latest_event_time(cfn: Any, name: str) -> Any:
    events = cfn.describe_stack_events(StackName=name).get("StackEvents", [])
    return events[0]["Timestamp"] if events else None


def template_url(target: Target, bucket: str, key: str) -> str:
    """Path-style S3 URL of an object (CloudFormation's ``TemplateURL``)."""
    suffix = ".cn" if target.partition == "aws-cn" else ""
    return f"https://s3.{target.region}.amazonaws.com{suffix}/{bucket}/{key}"


def upload_template(s3: Any, target: Target, bucket: str, body: str) -> str:
    """Store the template in the stage's bucket (the caller's account must own it) and
    return its ``TemplateURL``; the key is the template's digest (same template, same key)."""
    key = TEMPLATE_PREFIX + hashlib.sha256(body.encode()).hexdigest() + ".json"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json",
                  ExpectedBucketOwner=target.account)  # fmt: skip
    return template_url(target, bucket, key)


def _prepare(cfn: Any, name: str, diff: bool) -> dict[str, Any] | None:
    """The stack to update, or None for a new one. A stack whose first create failed
    (ROLLBACK_COMPLETE, ROLLBACK_FAILED) holds nothing and must be deleted before a create,
    as AWS asks: a deploy deletes it, a preview (``diff``) only treats it as absent.

    Raises:
        DeployError: the stack is busy or stuck, or the failed one cannot be deleted.
    """
    stack = describe(cfn, name)
    check_not_busy(stack, name)
    if stack and stack["StackStatus"] in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
        if diff:
            return None
        print(f"deleting stack {name} ({stack['StackStatus']}: its first create failed)",
              file=sys.stderr)  # fmt: skip
        delete(cfn, name)
        return None
    if stack and stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        return None  # only change sets, nothing created: a CREATE change set applies
    return stack


def _check_template(cfn: Any, name: str, change_set: str, template: Mapping[str, Any]) -> None:
    """The change set holds the template this deploy uploaded, not one written to the
    bucket after it (``templates/`` is not guarded by principal: whoever deploys next must
    be able to upload). What CloudFormation read is what it would execute.

    Raises:
        DeployError: another template; the change set is deleted, nothing changed.
    """
    got = cfn.get_template(StackName=name, ChangeSetName=change_set, TemplateStage="Original")
    body = got.get("TemplateBody")
    if isinstance(body, str):
        body = json.loads(body)
    if body != json.loads(json.dumps(template)):
        cfn.delete_change_set(ChangeSetName=change_set, StackName=name)
        raise DeployError(
            f"stack {name}: the change set holds another template than the one uploaded (the "
            "object was replaced in the stage bucket's templates/ meanwhile); nothing was "
            "changed. Find who writes there, then deploy again."
        )


def deploy(
    aws: Any,
    target: Target,
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    *,
    diff: bool = False,
    report: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> Outcome:
    """Bring the stage's stack to ``template`` through a change set (``diff``: only show
    the change set, then delete it).

    Raises:
        DeployError: the stack is busy, CloudFormation refused the change set, or the
            change failed (rolled back; the message names the failed resources).
    """
    cfn, name = aws.client("cloudformation"), target.stack_name
    stack = _prepare(cfn, name, diff)
    outcome = Outcome()
    if stack is None:
        if diff:
            report(f"stack {name} does not exist; a deploy creates it with:")
            resources = sorted(present(template, parameters).items())
            outcome.changes = [Change("Add", logical, r["Type"]) for logical, r in resources]
            return outcome
        report(f"creating stack {name}")
        body = json.dumps(bootstrap_template(target.stage))
        change_set, _ = _change_set(cfn, target, "CREATE", {}, TemplateBody=body)
        stack = _execute(cfn, name, change_set, creating=True)
        outcome.created = True
    if not outcome.created and unchanged(cfn, stack, template, parameters):
        report(f"stack {name}: no changes")
        outcome.outputs = outputs(stack)
        return outcome
    bucket = outputs(stack).get("FleetBucketName") or _physical_id(cfn, name, "FleetBucket")
    body = json.dumps(template, separators=(",", ":"), sort_keys=True)
    url = upload_template(aws.client("s3"), target, bucket, body)
    change_set, changes = _change_set(cfn, target, "UPDATE", parameters, TemplateURL=url)
    _check_template(cfn, name, change_set, template)
    if changes is None:
        report(f"stack {name}: no changes")
        outcome.outputs = outputs(stack)
        return outcome
    outcome.changes = changes
    if diff:
        cfn.delete_change_set(ChangeSetName=change_set, StackName=name)
        return outcome
    for change in changes:
        report(change.line())
    stack = _execute(cfn, name, change_set, creating=False, first=outcome.created)
    outcome.outputs = outputs(stack)
    report(f"stack {name}: {stack.get('StackStatus')}")
    return outcome


def _condition(node: Any, parameters: Mapping[str, str], conditions: Mapping[str, Any]) -> Any:
    """The value of a condition expression of the shapes the stage template uses
    (``Fn::Not``, ``Fn::Equals``, ``Fn::And``, ``Fn::Or``, ``Condition``, ``Ref``)."""
    if isinstance(node, dict):
        [(key, value)] = node.items()
        if key == "Ref":
            return parameters[value]
        if key == "Condition":
            return _condition(conditions[value], parameters, conditions)
        items = [_condition(item, parameters, conditions) for item in value]
        return {
            "Fn::Not": lambda: not items[0],
            "Fn::Equals": lambda: items[0] == items[1],
            "Fn::And": lambda: all(items),
            "Fn::Or": lambda: any(items),
        }[key]()
    return node


def present(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """The template's resources that a stack with ``parameters`` (defaults for the rest)
    holds: those whose ``Condition`` is false are not created."""
    values = {key: parameters.get(key, str(spec.get("Default", "")))
              for key, spec in template.get("Parameters", {}).items()}  # fmt: skip
    conditions = template.get("Conditions", {})
    return {
        logical: resource
        for logical, resource in template["Resources"].items()
        if "Condition" not in resource
        or _condition(conditions[resource["Condition"]], values, conditions)
    }


def unchanged(
    cfn: Any, stack: Mapping[str, Any], template: Mapping[str, Any], parameters: Mapping[str, str]
) -> bool:
    """Whether the stack already holds ``template`` with ``parameters`` (its defaults for the
    rest), so that a deploy with nothing to change creates no change set at all. Anything
    else -- another template, another value, a stack that is not settled -- goes through a
    change set, which has the last word."""
    if stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE",
                                    "UPDATE_ROLLBACK_COMPLETE"):  # fmt: skip
        return False
    current = cfn.get_template(StackName=stack["StackName"], TemplateStage="Original")
    body = current.get("TemplateBody")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return False  # not a template of ours
    if json.loads(json.dumps(body)) != json.loads(json.dumps(template)):
        return False
    deployed = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters") or []}
    declared = template.get("Parameters", {})
    wanted = {key: parameters.get(key, str(spec.get("Default", ""))) for key, spec in
              declared.items()}  # fmt: skip
    return deployed == wanted


def _physical_id(cfn: Any, name: str, logical: str) -> str:
    resource = cfn.describe_stack_resource(StackName=name, LogicalResourceId=logical)
    return str(resource["StackResourceDetail"]["PhysicalResourceId"])


# -- delete ---------------------------------------------------------------------------------
def empty_bucket(s3: Any, bucket: str, owner: str) -> int:
    """Delete every version and delete marker (CloudFormation cannot delete a bucket that
    holds any) of the stage's bucket, owned by ``owner``; how many were deleted.

    Raises:
        DeployError: S3 refused to delete some of them (the first refusal named).
    """
    from botocore.exceptions import ClientError

    deleted = 0
    try:
        pages = s3.get_paginator("list_object_versions").paginate(
            Bucket=bucket, ExpectedBucketOwner=owner
        )
        for page in pages:
            found = (*page.get("Versions", []), *page.get("DeleteMarkers", []))
            keys = [{"Key": o["Key"], "VersionId": o["VersionId"]} for o in found]
            if not keys:
                continue
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True},
                                       ExpectedBucketOwner=owner)  # fmt: skip
            errors = answer.get("Errors") or []
            if errors:
                first = errors[0]
                raise DeployError(
                    f"bucket {bucket}: {len(errors)} object version(s) could not be deleted "
                    f"(e.g. {first.get('Key')}: {first.get('Code')} {first.get('Message')})"
                )
            deleted += len(keys)
    except ClientError as error:
        if _code(error) not in ("NoSuchBucket", "404"):
            raise
    return deleted


def delete(cfn: Any, name: str) -> bool:
    """Delete the stack and wait; False when there was none.

    Raises:
        DeployError: CloudFormation could not delete it (the failed resources named).
    """
    stack = describe(cfn, name)
    if stack is None:
        return False
    check_not_busy(stack, name, updating=False)
    since = _latest_event_time(cfn, name)
    cfn.delete_stack(StackName=name)
    final = wait(lambda: _status(cfn, name), lambda s: not s.endswith(_BUSY_SUFFIX),
                 f"deleting stack {name}")  # fmt: skip
    if final not in _GONE:
        raise DeployError(
            f"stack {name} could not be deleted ({final}):\n  "
            + "\n  ".join(failure_reasons(cfn, name, since))
        )
    return True


# -- status and drift ------------------------------------------------------------------------
def drift(cfn: Any, name: str) -> dict[str, Any]:
    """Run drift detection on the stack; its status and each resource changed by hand.

    Raises:
        DeployError: detection failed.
    """
    detection = cfn.detect_stack_drift(StackName=name)["StackDriftDetectionId"]
    status = wait(
        lambda: cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection),
        lambda s: s["DetectionStatus"] != "DETECTION_IN_PROGRESS",
        f"drift detection of stack {name}",
    )
    if status["DetectionStatus"] == "DETECTION_FAILED" and not status.get("StackDriftStatus"):
        raise DeployError(
            f"drift detection of {name} failed: {status.get('DetectionStatusReason')}"
        )
    drifted = []
    arguments = {"StackName": name, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]}
    while True:  # botocore has no paginator for it: NextToken by hand
        page = cfn.describe_stack_resource_drifts(**arguments)
        for resource in page.get("StackResourceDrifts", []):
            drifted.append({
                "resource": resource["LogicalResourceId"],
                "type": resource["ResourceType"],
                "status": resource["StackResourceDriftStatus"],
                "properties": [
                    {"path": d.get("PropertyPath"), "expected": d.get("ExpectedValue"),
                     "actual": d.get("ActualValue"), "change": d.get("DifferenceType")}
                    for d in resource.get("PropertyDifferences", [])
                ],
            })  # fmt: skip
        if not page.get("NextToken"):
            break
        arguments["NextToken"] = page["NextToken"]
    return {
        "status": status.get("StackDriftStatus", "UNKNOWN"),
        "detection": status["DetectionStatus"],
        "reason": status.get("DetectionStatusReason"),
        "drifted": drifted,
    }


def status(cfn: Any, name: str, with_drift: bool = True) -> dict[str, Any] | None:
    """The stack's status, outputs and (``with_drift``) drift; None when there is none."""
    stack = describe(cfn, name)
    if stack is None:
        return None
    answer: dict[str, Any] = {
        "stack": name,
        "status": stack["StackStatus"],
        "reason": stack.get("StackStatusReason"),
        "updated": str(stack.get("LastUpdatedTime") or stack.get("CreationTime")),
        "outputs": outputs(stack),
    }
    if with_drift and not stack["StackStatus"].endswith(_BUSY_SUFFIX):
        answer["drift"] = drift(cfn, name)
    return answer


def running_executions(sfn: Any, machines: Iterable[str]) -> list[str]:
    """Executions of these machines still RUNNING (at most a few per machine)."""
    running: list[str] = []
    for arn in machines:
        try:
            page = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=5)
        except sfn.exceptions.StateMachineDoesNotExist:
            continue
        running += [e["executionArn"] for e in page.get("executions", [])]
    return running
