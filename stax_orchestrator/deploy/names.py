"""Every name a stage's resources have, derived from the stage alone.

Role: one place for the deterministic names of what a stage is made of: the stack that
holds it (found again from any machine, with no recorded state file), the Lambdas Chalice
names, and the named resources of the stage's template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

APP_NAME = "stax-orchestrator"
ROOT = Path(__file__).resolve().parents[2]
CHALICE_DIR = ROOT / ".chalice"
STATEMACHINES_DIR = ROOT / "statemachines"

#: The Lambda functions of ``app.py`` (Chalice name = Lambda suffix = ASL placeholder stem).
FUNCTIONS = (
    "validate_input",
    "create_workload",
    "update_workload",
    "delete_workload",
    "get_task_status",
    "plan_fleet",
    "next_fleet_stage",
    "record_fleet_target",
    "summarise_fleet",
    "publish_alert",
    "plan_account_baselines",
    "check_baseline_drift",
    "start_account_baselines",
    "publish_status_event",
)
#: The functions that read the Stax API token (and use the coordination table).
TOKEN_FUNCTIONS = (
    "create_workload",
    "update_workload",
    "delete_workload",
    "get_task_status",
    "plan_fleet",
    "plan_account_baselines",
    "check_baseline_drift",
)
#: The function that turns a failed execution's event into an alert.
ALERT_FUNCTION = "publish_alert"
#: The function the drift schedule invokes (not a state machine's).
DRIFT_FUNCTION = "check_baseline_drift"
#: The function the account events queue feeds (it starts the account baselines).
QUEUE_FUNCTION = "start_account_baselines"
#: The function that sends the orchestrator's own status events.
STATUS_FUNCTION = "publish_status_event"
#: Functions no state machine invokes (EventBridge or the account events queue does).
EVENT_FUNCTIONS = (ALERT_FUNCTION, DRIFT_FUNCTION, QUEUE_FUNCTION, STATUS_FUNCTION)
#: State machines in deployment order: each may run the ones before it.
STATE_MACHINES = ("task_watcher", "workload", "fleet", "account_baseline")
#: The prefix of the source of Stax's account events on its partner bus (a stage may name
#: another with ``deploy.sh --stax-event-source``).
DEFAULT_EVENT_SOURCE = "aws.partner/stax.io"
#: The Outputs of a stage's stack that say where its parts are (the CLI reads them).
OUTPUT_KEYS = {
    "workload": "WorkloadStateMachineArn",
    "task_watcher": "TaskWatcherStateMachineArn",
    "fleet": "FleetStateMachineArn",
    "account_baseline": "AccountBaselineStateMachineArn",
    "table": "CoordinationTableName",
    "fleet_bucket": "FleetBucketName",
    "alert_topic": "AlertTopicArn",
}
#: The machines whose failed, timed-out or aborted executions raise an alert.
ALERTED_MACHINES = ("workload", "fleet", "account_baseline")


def placeholder(function: str) -> str:
    """``validate_input`` -> ``ValidateInputArn`` (the ASL placeholder stem rule)."""
    return "".join(part.capitalize() for part in function.split("_")) + "Arn"


@dataclass(frozen=True)
class Target:
    """Where a stage is deployed: stage, region, account (and the names that follow)."""

    stage: str
    region: str
    account: str
    partition: str = "aws"
    #: Who resolved it (``sts get-caller-identity``): the principal that deploys.
    caller_arn: str = field(default="", compare=False)

    @property
    def prefix(self) -> str:
        return f"{APP_NAME}-{self.stage}"

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account}:{resource}"
        )

    # -- Lambda (Chalice's own naming) -------------------------------------------------
    def function_name(self, function: str) -> str:
        return f"{self.prefix}-{function}"

    def function_arn(self, function: str) -> str:
        return self.arn("lambda", f"function:{self.function_name(function)}")

    def function_role_name(self, function: str) -> str:
        """Chalice names a function's role so when the stage has its own policy files."""
        return f"{self.prefix}-{function}"

    def log_group(self, function: str) -> str:
        return f"/aws/lambda/{self.function_name(function)}"

    @property
    def layer_name(self) -> str:
        """The layer of ``automatic_layer: true``."""
        return f"{self.prefix}-managed-layer"

    # -- ours ------------------------------------------------------------------------
    @property
    def stack_name(self) -> str:
        """The stage's CloudFormation stack (everything but the Lambdas)."""
        return self.prefix

    @property
    def role_name(self) -> str:
        """The state machines' role."""
        return f"{self.prefix}-states"

    @property
    def table_name(self) -> str:
        """The coordination store (name claims, workload locks, fleet results)."""
        return f"{self.prefix}-coordination"

    def state_machine_name(self, kind: str) -> str:
        return f"{self.prefix}-{kind.replace('_', '-')}"

    def state_machine_arn(self, kind: str) -> str:
        return self.arn("states", f"stateMachine:{self.state_machine_name(kind)}")

    def state_machine_log_group(self, kind: str) -> str:
        """Where a machine's execution events go (the ``/aws/vendedlogs/`` prefix AWS
        recommends for Step Functions: it keeps the log group's resource policy small)."""
        return f"/aws/vendedlogs/states/{self.state_machine_name(kind)}"

    def log_group_arn(self, name: str) -> str:
        return self.arn("logs", f"log-group:{name}")

    def execution_arns(self, kind: str) -> str:
        """Every execution of one of the stage's machines (an IAM resource pattern)."""
        return self.arn("states", f"execution:{self.state_machine_name(kind)}:*")

    @property
    def fleet_bucket(self) -> str:
        """Fleet plans and big target lists (S3 names are global: account and region in)."""
        return f"{self.prefix}-{self.account}-{self.region}"

    @property
    def fleet_bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.fleet_bucket}"

    @property
    def alert_topic_name(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def alert_topic_arn(self) -> str:
        return self.arn("sns", self.alert_topic_name)

    @property
    def alert_rule_name(self) -> str:
        return f"{self.prefix}-operation-alerts"

    @property
    def status_rule_name(self) -> str:
        """The rule that turns the machines' status changes into the orchestrator's events."""
        return f"{self.prefix}-status-events"

    # -- observability (``deploy.sh --dashboard``) -----------------------------------
    @property
    def dashboard_name(self) -> str:
        return self.prefix

    def alarm_name(self, subject: str, metric: str) -> str:
        """``stax-orchestrator-local-workload-executions-failed`` and the like."""
        return f"{self.prefix}-{subject.replace('_', '-')}-{metric}"

    @property
    def stax_unavailable_filter_name(self) -> str:
        return f"{self.prefix}-stax-api-unavailable"

    # -- automatic baselining (``deploy.sh --baselines``) ----------------------------
    @property
    def account_events_rule_name(self) -> str:
        """The rule on the Stax event bus that starts the account baseline machine."""
        return f"{self.prefix}-account-baselines"

    @property
    def account_events_queue_name(self) -> str:
        """The queue between the rule and the account baselines (a burst waits there)."""
        return f"{self.prefix}-account-events"

    @property
    def account_events_queue_arn(self) -> str:
        return self.arn("sqs", self.account_events_queue_name)

    @property
    def account_events_dlq_name(self) -> str:
        """Where an account event lands that failed to start its baseline every time."""
        return f"{self.prefix}-account-events-dlq"

    @property
    def account_events_dlq_arn(self) -> str:
        return self.arn("sqs", self.account_events_dlq_name)

    @property
    def drift_rule_name(self) -> str:
        """The schedule of the drift check (on the default bus)."""
        return f"{self.prefix}-baseline-drift"

    @property
    def events_role_name(self) -> str:
        """The role EventBridge assumes to start the account baseline machine."""
        return f"{self.prefix}-events"


#: The longest AWS region code (``ap-southeast-2``, ``cn-northwest-1``): a stage's names must
#: fit in whichever region it is deployed to.
LONGEST_REGION = "ap-southeast-2"
#: An account id is always 12 digits.
ANY_ACCOUNT = "000000000000"
#: The suffixes of the stage's own roles after its prefix: a stage named ``x-states`` would
#: get, from Chalice, the role ``stax-orchestrator-x-states`` -- stage ``x``'s states role.
ROLE_SUFFIXES = ("-states", "-events")
#: A stage name: lower-case letters, digits and hyphens, starting with a letter (S3 bucket
#: names allow no upper case; every other name follows the bucket's rule).
STAGE_PATTERN = re.compile(r"[a-z][a-z0-9-]*")


def _names_by_limit(target: Target) -> list[tuple[int, str, str]]:
    """(limit, what, name) of every name a stage feeds, with the service's documented limit."""
    names = [(63, "S3 bucket names (the stage bucket)", target.fleet_bucket)]
    names += [(64, "Lambda function names", target.function_name(f)) for f in FUNCTIONS]
    names += [(64, "IAM role names", target.function_role_name(f)) for f in FUNCTIONS]
    names += [(64, "IAM role names", target.role_name), (64, "IAM role names",
               target.events_role_name)]  # fmt: skip
    names += [(64, "Lambda layer names", target.layer_name)]
    rules = (target.alert_rule_name, target.status_rule_name, target.account_events_rule_name,
             target.drift_rule_name)  # fmt: skip
    names += [(64, "EventBridge rule names", rule) for rule in rules]
    names += [(80, "Step Functions state machine names", target.state_machine_name(kind))
              for kind in STATE_MACHINES]  # fmt: skip
    queues = (target.account_events_queue_name, target.account_events_dlq_name)
    names += [(80, "SQS queue names", queue) for queue in queues]
    names += [(255, "DynamoDB table names", target.table_name)]
    names += [(256, "SNS topic names", target.alert_topic_name)]
    return names


def stage_name_problem(stage: str) -> str | None:
    """Why ``stage`` cannot name a stage (None when it can): its form, or the tightest name
    limit it would break in some region, named with the longest stage that fits."""
    if not STAGE_PATTERN.fullmatch(stage):
        return (
            f"bad stage name {stage!r}: use lower-case letters, digits and hyphens, "
            "starting with a letter"
        )
    for suffix in ROLE_SUFFIXES:
        if stage.endswith(suffix):
            return (
                f"bad stage name {stage!r}: a stage name may not end in {suffix!r} (Chalice's "
                f"role of stage {stage!r} would be the {suffix[1:]} role of stage "
                f"{stage.removesuffix(suffix)!r})"
            )
    target = Target(stage, LONGEST_REGION, ANY_ACCOUNT)
    broken = [(limit, what, name) for limit, what, name in _names_by_limit(target)
              if len(name) > limit]  # fmt: skip
    if not broken:
        return None
    limit, what, name = min(broken, key=lambda item: item[0] - len(item[2]))
    longest = len(stage) - (len(name) - limit)
    return (
        f"stage name {stage!r} is too long ({len(stage)} characters; at most {longest}): "
        f"{what} have at most {limit} characters, and {name!r} has {len(name)} in the "
        f"longest region ({LONGEST_REGION})"
    )
