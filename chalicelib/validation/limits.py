"""Every limit the validation enforces, each with its source and its unit.

Role: the numbers (and patterns) behind the rules of ``chalicelib.validation``. The SDK's
OpenAPI document (``staxapp/data/schema.json``) is the first source; where it says
nothing, the limit is the one of the platform the request ends up in -- CloudFormation
(workload parameters), AWS tags (workload tags), Step Functions (the request travels in
execution input and state) -- counted in that platform's unit: CloudFormation and Step
Functions count **bytes** of UTF-8, AWS tagging counts **Unicode characters**.

Sources (as cited below):

* [SDK] the Stax SDK's OpenAPI document, ``staxapp/data/schema.json`` (staxapp 1.4.1).
* [CFN-QUOTAS] "AWS CloudFormation quotas", CloudFormation User Guide
  (docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html):
  Parameters "200 parameters"; Parameter name "255 characters"; Parameter value
  "4,096 bytes".
* [CFN-PARAMETERS] "CloudFormation template Parameters syntax", same guide
  (parameters-section-structure.html): each parameter has a logical name (logical ID),
  which "must be alphanumeric and unique among all logical names within the template".
* [AWS-TAGS] the AWS tag restrictions, as each service's tagging documentation states
  them (e.g. Amazon ECS ``Tag``, AWS Batch "Tag restrictions"): "Maximum key length - 128
  Unicode characters in UTF-8", "Maximum value length - 256 Unicode characters in UTF-8";
  ``aws:`` in any case is reserved for AWS use.
* [SFN-QUOTAS] "Step Functions service quotas", Step Functions Developer Guide: the
  input or output of a task, state or execution is at most 256 KiB "as a UTF-8 encoded
  string" (the API's ``input``/``output`` fields: "expressed as bytes in UTF-8
  encoding", at most 262,144); state machine and execution names at most 80
  characters; an execution history at most 25,000 events. A failed state's cause is
  cut at 32,768 characters.
"""

from __future__ import annotations

import re

# -- the request as a whole (Step Functions) ---------------------------------------------

#: [SFN-QUOTAS] execution input and state data: 256 KiB as UTF-8. The normalised request
#: travels through several states (plus the task watcher's input), so a request is kept
#: far below that. Unit: bytes of the compact JSON, UTF-8.
MAX_PAYLOAD_BYTES = 32 * 1024
#: The create/update/delete Lambdas get the *normalised* request, which can be a little
#: bigger than what validate_input measured (numbers and booleans gain two quotes: at most
#: 400 bytes for 200 parameters; plus the empty maps), so their limit has this margin;
#: ``orchestration`` is not counted. Unit: bytes.
NORMALISED_REQUEST_MARGIN_BYTES = 1024
#: Ours, not a platform's: objects and arrays nested in one another, counted from the
#: payload itself (1). The deepest valid request has 4 levels (a fleet request > targets >
#: a target > its workload_parameters); Python's json and every recursive walk fail with
#: RecursionError near 1,000 levels (the limit is shared with the caller's stack), so
#: anything deeper than this is refused before any such walk. Unit: levels.
MAX_NESTING_DEPTH = 32

# -- workload_tags (Stax, AWS tagging) ---------------------------------------------------

#: [SDK] ``components/schemas/Tags``: ``maxProperties: 100`` (values ``type: string``, no
#: length limit or pattern there). One of the 100 is reserved: a create adds the
#: orchestrator's execution tag (see ``RESERVED_TAG_KEY_PREFIXES``). Unit: tags.
STAX_MAX_TAGS = 100
MAX_TAGS = STAX_MAX_TAGS - 1
#: [AWS-TAGS] key 1-128, value 0-256, both in Unicode characters (not bytes: a value of
#: 256 two-byte characters is fine). The SDK's ``Tags`` schema has none; Stax's own
#: ``StaxTags`` schema in the same document also caps values at 256. Unit: characters
#: (code points).
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
#: Tag key prefixes users may not set, with the reason: [AWS-TAGS] reserves ``aws:``
#: (CloudFormation refuses such tags); ``stax-orchestrator:`` is for the orchestrator's
#: own tags (the create Lambda marks each workload with the execution that created it,
#: under a key with this prefix, to adopt it on a retry instead of creating a duplicate).
RESERVED_TAG_KEY_PREFIXES: dict[str, str] = {
    "aws:": "reserved by AWS",
    "stax-orchestrator:": "reserved for the orchestrator's own tags",
}

# -- workload_parameters (CloudFormation) ------------------------------------------------

#: [SDK] ``KeyValueRequestParameter``: ``Key``/``Value`` are plain strings (no limits).
#: The parameters end up as CloudFormation parameters, whose limits apply.
#: [CFN-QUOTAS] at most 200 parameters per template. Unit: parameters.
MAX_PARAMETERS = 200
#: [CFN-QUOTAS] parameter name: 255 characters. Names are ASCII (see
#: ``PARAMETER_KEY_PATTERN``), so characters and bytes agree. Unit: characters.
MAX_PARAMETER_KEY_LENGTH = 255
#: [CFN-PARAMETERS] a parameter's logical name is alphanumeric: ASCII letters and digits
#: only (no ``-``, ``_``, ``.``, spaces or other scripts' letters).
PARAMETER_KEY_PATTERN = re.compile(r"[A-Za-z0-9]+")
#: [CFN-QUOTAS] parameter value: 4,096 **bytes** -- a value of 2,049 two-byte characters
#: is too long although it has fewer than 4,096 characters. Unit: bytes of UTF-8.
MAX_PARAMETER_VALUE_BYTES = 4096

# -- names and ids (Stax) ----------------------------------------------------------------

#: [SDK] ``workloads.CreateWorkload`` property ``Name``: ``minLength``/``maxLength``/
#: ``pattern``. ASCII only, so characters and bytes agree. Unit: characters.
WORKLOAD_NAME_MIN_LENGTH = 2
WORKLOAD_NAME_MAX_LENGTH = 64
WORKLOAD_NAME_PATTERN = re.compile(r"[a-zA-Z][-a-zA-Z0-9]*")

#: [SDK] ``uuidv4``: ``^[0-9a-fA-F]{8}-...-[0-9a-fA-F]{12}$`` (canonical form only).
UUID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
UUID_EXAMPLE = "3fa85f64-5717-4562-b3fc-2c963f66afa6"

#: ``orchestration.execution_id`` is a Step Functions execution ARN ([SFN-QUOTAS]: state
#: machine and execution names are at most 80 characters each, so a real ARN stays well
#: below this). It is meant to be stored as a Stax tag value, hence the tag value limit.
#: Unit: characters.
MAX_EXECUTION_ID_LENGTH = MAX_TAG_VALUE_LENGTH

# -- get_task_status and the task watcher ------------------------------------------------

#: get_task_status ``polls``: a sanity bound; an execution history ([SFN-QUOTAS]: 25,000
#: events) ends far sooner. Unit: polls.
MAX_POLLS = 100_000
#: ``watch_timeout_seconds``: how long the task watcher follows one Stax task (the
#: deploy-time default applies when it is absent). A day at most, ours: the watcher
#: execution's own timeout is a backstop above that. Unit: seconds.
MAX_WATCH_TIMEOUT_SECONDS = 86_400
#: Informational free text of get_task_status (``workload_name``); ours, the tag value
#: limit. Unit: characters.
MAX_LABEL_LENGTH = 256

# -- the refusal itself ------------------------------------------------------------------

#: An error's ``str()`` becomes the Step Functions cause ([SFN-QUOTAS]: at most 32,768
#: characters, after Lambda wraps and escapes it): the report is cut to stay below this.
#: Unit: characters.
MAX_ERROR_CHARS = 12_000
#: At most this many fields are listed in ``details["errors"]``; the rest are counted.
MAX_REPORTED_FIELDS = 50

# -- fleet requests (Step Functions) -----------------------------------------------------

#: Targets per fleet request. The plan is written to S3 and read by a Distributed Map,
#: so nothing in the fleet execution's state grows with it; this bound keeps the plan
#: Lambda's work (validate every target, write the plan) within its time. Unit: targets.
MAX_TARGETS = 10_000
#: Targets running at once: the Distributed Map's MaxConcurrency (AWS allows up to
#: 10,000 child executions at once; ours is lower, so one fleet cannot take a whole
#: account's Stax and Step Functions capacity). Unit: executions.
MAX_CONCURRENCY = 1_000
DEFAULT_CONCURRENCY = 5
#: [SFN-QUOTAS] the fleet request is the fleet execution's input (256 KiB as UTF-8);
#: kept below it. A larger target list travels in S3 (``targets_location``).
#: Unit: bytes of the compact JSON, UTF-8.
MAX_FLEET_REQUEST_BYTES = 200 * 1024
#: A targets file (CSV, JSONL or JSON) read from S3 by the plan Lambda. Unit: bytes.
MAX_TARGETS_FILE_BYTES = 16 * 1024 * 1024
#: AWS's own key linking a child execution to the execution that started it
#: (the Step Functions console follows it); accepted on a workload request and dropped.
STARTED_BY_FIELD = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"
#: Canary stages of one fleet (``stages``): each a bounded Distributed Map run.
MAX_STAGES = 10
#: CloudWatch alarms a fleet may halt on (``halt_on_alarms``): one DescribeAlarms call
#: takes up to 100 names; ten keep the check one small call.
MAX_HALT_ALARMS = 10
#: [CW-ALARMS] an alarm name is 1 to 255 characters (PutMetricAlarm's AlarmName).
MAX_ALARM_NAME_LENGTH = 255
