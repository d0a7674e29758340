"""StepPipeline: a Step Functions state machine running each step as an ECS Fargate task.

Children (logical name ``{name}-<role>``, physical name ``{app}-{env}-{name}-<role>``):

- ECR repository (scan on push, immutable tags) and its lifecycle policy (keep the last 10);
- ECS cluster (Container Insights on), Fargate task definition with one container, its log
  group, an execution role (pull, logs, read the secret) and a task role (nothing by default);
- a security group with no ingress and HTTPS egress only, in the given VPC;
- a Secrets Manager secret encrypted with the pipeline's own KMS key (rotation on) and the key's
  alias; the code never creates a secret value, the task reads it by ARN;
- the state machine (one ``ecs:runTask.sync`` Task state per step, Retry, Catch to a Fail
  state), its log group (level ERROR) and X-Ray tracing, and its least-privilege role;
- an EventBridge schedule rule targeting the state machine with a fixed input, a retry policy
  and a dead-letter queue (with a queue policy for EventBridge), and the role it assumes;
- alarms: ExecutionsFailed, ExecutionThrottled, ExecutionsTimedOut, schedule DLQ messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.naming import check_length, physical_name
from components.worker import DEFAULT_LOG_RETENTION_DAYS, LOG_RETENTION_DAYS

# Every default below cites where its number comes from.
DEFAULT_CPU = 1024                       # issue 6: 1 vCPU per step task
DEFAULT_MEMORY_MB = 2048                 # issue 6: 2 GB per step task
DEFAULT_CPU_ARCHITECTURE = "X86_64"      # ECS RuntimePlatform default
DEFAULT_SCHEDULE = "cron(0 3 * * ? *)"   # tandem: daily 03:00 UTC; stacks set their own
DEFAULT_STEP_TIMEOUT_SECONDS = 1800      # tandem: about twice the longest whole run (17 min,
                                         # issue 6), so only a hung step reaches it
DEFAULT_RETRY_INTERVAL_SECONDS = 30      # tandem: Fargate capacity and ENI errors clear in tens
                                         # of seconds; the ASL default of 1 s wastes attempts
DEFAULT_RETRY_MAX_ATTEMPTS = 3           # Amazon States Language default MaxAttempts
DEFAULT_RETRY_BACKOFF_RATE = 2.0         # Amazon States Language default BackoffRate
DEFAULT_SCHEDULE_MAX_EVENT_AGE = 3600    # tandem: a run that cannot start within an hour goes to
                                         # the DLQ instead of starting late (EventBridge: 86,400)
DEFAULT_SCHEDULE_RETRY_ATTEMPTS = 185    # EventBridge RetryPolicy default (and maximum)
DLQ_RETENTION_SECONDS = 14 * 24 * 3600   # SQS maximum (1,209,600 s): keep failed starts longest
# CloudWatch User Guide, "Recommended alarms", AWS/States ExecutionsFailed, ExecutionThrottled
# and ExecutionsTimedOut: Sum >= 1 over 60 s, 1 of 1 datapoints. The same for the DLQ.
DEFAULT_ALARM_PERIOD_SECONDS = 60
DEFAULT_ALARM_EVALUATION_PERIODS = 1
DEFAULT_ALARM_THRESHOLD = 1
DEFAULT_EGRESS_PORTS = (443,)            # ECR, Secrets Manager, CloudWatch Logs and HTTPS APIs;
                                         # DNS to the VPC resolver is not filtered by security
                                         # groups (Amazon VPC User Guide, security group rules)
DEFAULT_SECRET_ENV_VAR = "PIPELINE_SECRET"
DEFAULT_SCHEDULE_INPUT: dict[str, Any] = {"trigger": "schedule"}

#: Task CPU units -> memory (MiB) Fargate accepts (Amazon ECS Developer Guide, "Task CPU and
#: memory", Linux; 8 and 16 vCPU need platform version 1.4.0 or later).
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
CPU_ARCHITECTURES = ("X86_64", "ARM64")  # ECS RuntimePlatform.cpuArchitecture
MAX_EXECUTION_SECONDS = 365 * 24 * 3600  # Step Functions Standard: an execution lasts <= 1 year
MAX_STATE_NAME = 80                      # Amazon States Language: state names <= 80 characters
MAX_TARGET_INPUT = 8192                  # EventBridge PutTargets: Input up to 8,192 characters
SCHEDULE_MAX_EVENT_AGE_RANGE = (60, 86_400)  # EventBridge RetryPolicy.MaximumEventAgeInSeconds
SCHEDULE_RETRY_RANGE = (0, 185)          # EventBridge RetryPolicy.MaximumRetryAttempts
ALARM_PERIODS = (10, 20, 30)             # CloudWatch: high-resolution periods, else n x 60
MAX_ALARM_WINDOW = 86_400                # CloudWatch: Period x EvaluationPeriods <= one day

#: Errors a step retries with backoff: ECS API failures, RunTask answering with ``Failures``
#: (``AmazonECS.Unknown``, Step Functions Developer Guide, "Run Amazon ECS or Fargate tasks"),
#: and the task itself failing (a non-zero exit: ``States.TaskFailed``, which never matches
#: ``States.Timeout``, so a timed-out step is not retried).
RETRY_ERRORS = ("ECS.AmazonECSException", "ECS.ServerException", "AmazonECS.Unknown",
                "States.TaskFailed")
#: The container's name in the task definition and in each step's overrides.
CONTAINER_NAME = "step"
#: Where the Catch puts the error, and the Fail state that records it.
ERROR_PATH = "$.error"
FAILED_STATE = "PipelineFailed"
#: Variables the state machine sets on every step: not allowed in ``environment``.
MANAGED_ENV_VARS = ("STEP_NAME", "EXECUTION_INPUT", "EXECUTION_ID")
#: The managed rule Step Functions uses to learn when a ``.sync`` ECS task stops (Step
#: Functions Developer Guide, "IAM policies for Amazon ECS/AWS Fargate").
SYNC_RULE = "StepFunctionsGetEventsForECSTaskRule"

_STEP_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_LIKE = re.compile(r"(password|passwd|secret|token|api_?key|private_?key|credential)",
                          re.IGNORECASE)
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")   # Docker tag grammar
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/#-]+$")
_CRON_NUMBER_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199))
_CRON_FIELD_NAMES = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")

ECS_TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"


def _int_in(arg: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(
            f"StepPipelineArgs.{arg}={value!r}: must be an integer from {low} to {high}")


def check_cron(expression: str) -> str:
    """Validate an EventBridge ``cron(...)`` expression with six fields; return it."""
    arg = "StepPipelineArgs.schedule"
    if not isinstance(expression, str) or not (
            expression.startswith("cron(") and expression.endswith(")")):
        raise ValueError(f"{arg}={expression!r}: must be an EventBridge cron expression, "
                         "cron(minutes hours day-of-month month day-of-week year)")
    fields = expression[5:-1].split()
    if len(fields) != 6:
        raise ValueError(f"{arg}={expression!r}: EventBridge cron takes six fields "
                         f"(minutes hours day-of-month month day-of-week year), got {len(fields)}")
    for name, value, (low, high) in zip(_CRON_FIELD_NAMES, fields, _CRON_NUMBER_RANGES,
                                        strict=True):
        if not _CRON_FIELD.match(value):
            raise ValueError(f"{arg}={expression!r}: {name} field '{value}' has characters "
                             "cron does not allow")
        for number in re.findall(r"\d+", value if "/" not in value else value.split("/")[0]):
            if not low <= int(number) <= high:
                raise ValueError(f"{arg}={expression!r}: {name} value {number} is outside "
                                 f"{low}-{high}")
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ValueError(f"{arg}={expression!r}: exactly one of day-of-month and day-of-week "
                         "must be '?' (EventBridge rule)")
    return expression


def _check_statements(arg: str, statements: list[dict]) -> None:
    for i, statement in enumerate(statements):
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else (actions or [])
        if not actions or any("*" in a for a in actions):
            raise ValueError(f"StepPipelineArgs.{arg}[{i}]: name explicit actions; wildcard "
                             "actions are not allowed")
        if "Resource" not in statement:
            raise ValueError(f"StepPipelineArgs.{arg}[{i}]: Resource is required")


@dataclass
class StepPipelineArgs:
    """Inputs of a :class:`StepPipeline`. ``app``, ``env``, ``steps``, ``vpc_id``,
    ``subnet_ids`` and ``image_tag`` are required; everything else has a cited default."""

    app: str
    env: str
    #: Step names in execution order; each runs the same image with ``STEP_NAME`` set.
    steps: list[str]
    vpc_id: str
    #: Private subnets the tasks run in (no public IP is assigned).
    subnet_ids: list[str]
    #: Tag of the image in the pipeline's repository (tags are immutable: one per build).
    image_tag: str
    cpu: int = DEFAULT_CPU
    memory_mb: int = DEFAULT_MEMORY_MB
    cpu_architecture: str = DEFAULT_CPU_ARCHITECTURE
    schedule: str = DEFAULT_SCHEDULE
    #: Off unless the stack turns it on (staging off, prod on).
    schedule_enabled: bool = False
    #: The fixed input every scheduled execution receives.
    schedule_input: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SCHEDULE_INPUT))
    schedule_max_event_age_seconds: int = DEFAULT_SCHEDULE_MAX_EVENT_AGE
    schedule_retry_attempts: int = DEFAULT_SCHEDULE_RETRY_ATTEMPTS
    step_timeout_seconds: int = DEFAULT_STEP_TIMEOUT_SECONDS
    #: Per-step overrides of ``step_timeout_seconds``.
    step_timeouts: dict[str, int] = field(default_factory=dict)
    #: None means len(steps) x the longest step timeout.
    execution_timeout_seconds: int | None = None
    retry_interval_seconds: int = DEFAULT_RETRY_INTERVAL_SECONDS
    retry_max_attempts: int = DEFAULT_RETRY_MAX_ATTEMPTS
    retry_backoff_rate: float = DEFAULT_RETRY_BACKOFF_RATE
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    #: Include execution input and output in the state machine's ERROR logs (Step Functions
    #: default: false; inputs may carry personal data).
    log_execution_data: bool = False
    #: Plain, non-secret configuration for the container. Secrets go in the secret.
    environment: dict[str, str] = field(default_factory=dict)
    #: Role part of the secret's name: ``{app}-{env}-{name}-{secret_suffix}``.
    secret_suffix: str = "secret"
    #: Variable that receives the whole secret string, when ``secret_keys`` is empty.
    secret_env_var: str = DEFAULT_SECRET_ENV_VAR
    #: Keys of a JSON secret, each injected as a variable of the same name.
    secret_keys: list[str] = field(default_factory=list)
    #: Extra statements for the task role (what the steps need); no wildcard actions.
    task_role_statements: list[dict] = field(default_factory=list)
    egress_ports: list[int] = field(default_factory=lambda: list(DEFAULT_EGRESS_PORTS))
    alarm_period_seconds: int = DEFAULT_ALARM_PERIOD_SECONDS
    alarm_evaluation_periods: int = DEFAULT_ALARM_EVALUATION_PERIODS
    failed_threshold: int = DEFAULT_ALARM_THRESHOLD
    throttled_threshold: int = DEFAULT_ALARM_THRESHOLD
    timed_out_threshold: int = DEFAULT_ALARM_THRESHOLD
    dlq_threshold: int = DEFAULT_ALARM_THRESHOLD
    #: Where the alarms notify (the Monitoring topic); empty: no actions.
    alarm_actions: list[pulumi.Input[str]] = field(default_factory=list)
    #: Protect what holds state (repository with its images, secret, key, DLQ): set in prod.
    protect: bool = False
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.steps, list | tuple) or not self.steps:
            raise ValueError("StepPipelineArgs.steps: at least one step is required")
        self.steps = list(self.steps)
        for step in self.steps:
            if not isinstance(step, str) or not _STEP_NAME.match(step) \
                    or len(step) > MAX_STATE_NAME:
                raise ValueError(f"StepPipelineArgs.steps: {step!r} is not a valid step name "
                                 "(lowercase letters, digits and single hyphens, starting with "
                                 f"a letter, at most {MAX_STATE_NAME} characters)")
        duplicates = sorted({s for s in self.steps if self.steps.count(s) > 1})
        if duplicates:
            raise ValueError(f"StepPipelineArgs.steps: {', '.join(duplicates)} listed twice; "
                             "step names must be unique")
        if not isinstance(self.vpc_id, str) or not _VPC_ID.match(self.vpc_id):
            raise ValueError(f"StepPipelineArgs.vpc_id={self.vpc_id!r}: must be a VPC id "
                             "(vpc-<hex>)")
        if not isinstance(self.subnet_ids, list | tuple) or not self.subnet_ids:
            raise ValueError("StepPipelineArgs.subnet_ids: at least one private subnet id is "
                             "required")
        self.subnet_ids = list(self.subnet_ids)
        for subnet in self.subnet_ids:
            if not isinstance(subnet, str) or not _SUBNET_ID.match(subnet):
                raise ValueError(f"StepPipelineArgs.subnet_ids: {subnet!r} is not a subnet id "
                                 "(subnet-<hex>)")
        if len(set(self.subnet_ids)) != len(self.subnet_ids):
            raise ValueError("StepPipelineArgs.subnet_ids: a subnet is listed twice")
        if not isinstance(self.image_tag, str) or not _IMAGE_TAG.match(self.image_tag):
            raise ValueError(f"StepPipelineArgs.image_tag={self.image_tag!r}: must be an image "
                             "tag (letters, digits, _ . -, at most 128 characters)")
        if self.cpu not in FARGATE_MEMORY:
            raise ValueError(f"StepPipelineArgs.cpu={self.cpu!r}: Fargate accepts "
                             f"{', '.join(map(str, FARGATE_MEMORY))} CPU units")
        if self.memory_mb not in FARGATE_MEMORY[self.cpu]:
            raise ValueError(f"StepPipelineArgs.memory_mb={self.memory_mb!r}: with cpu "
                             f"{self.cpu}, Fargate accepts "
                             f"{', '.join(map(str, FARGATE_MEMORY[self.cpu]))} MiB")
        if self.cpu_architecture not in CPU_ARCHITECTURES:
            raise ValueError(f"StepPipelineArgs.cpu_architecture={self.cpu_architecture!r}: "
                             f"must be one of {', '.join(CPU_ARCHITECTURES)}")
        check_cron(self.schedule)
        if not isinstance(self.schedule_enabled, bool):
            raise ValueError(f"StepPipelineArgs.schedule_enabled={self.schedule_enabled!r}: "
                             "must be true or false")
        if not isinstance(self.schedule_input, dict):
            raise ValueError("StepPipelineArgs.schedule_input: must be a JSON object")
        if len(json.dumps(self.schedule_input)) > MAX_TARGET_INPUT:
            raise ValueError(f"StepPipelineArgs.schedule_input: longer than {MAX_TARGET_INPUT} "
                             "characters as JSON (EventBridge limit)")
        _int_in("schedule_max_event_age_seconds", self.schedule_max_event_age_seconds,
                *SCHEDULE_MAX_EVENT_AGE_RANGE)
        _int_in("schedule_retry_attempts", self.schedule_retry_attempts, *SCHEDULE_RETRY_RANGE)
        _int_in("step_timeout_seconds", self.step_timeout_seconds, 1, MAX_EXECUTION_SECONDS)
        for step, seconds in self.step_timeouts.items():
            if step not in self.steps:
                raise ValueError(f"StepPipelineArgs.step_timeouts: '{step}' is not a step")
            _int_in(f"step_timeouts[{step}]", seconds, 1, MAX_EXECUTION_SECONDS)
        longest = max(self.timeout_of(s) for s in self.steps)
        if self.execution_timeout_seconds is None:
            self.execution_timeout_seconds = min(len(self.steps) * longest,
                                                 MAX_EXECUTION_SECONDS)
        _int_in("execution_timeout_seconds", self.execution_timeout_seconds, longest,
                MAX_EXECUTION_SECONDS)
        _int_in("retry_interval_seconds", self.retry_interval_seconds, 1, 99_999_999)
        _int_in("retry_max_attempts", self.retry_max_attempts, 0, 99_999_999)
        if isinstance(self.retry_backoff_rate, bool) \
                or not isinstance(self.retry_backoff_rate, int | float) \
                or self.retry_backoff_rate < 1.0:
            raise ValueError(f"StepPipelineArgs.retry_backoff_rate={self.retry_backoff_rate!r}: "
                             "must be a number of at least 1.0 (Amazon States Language)")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"StepPipelineArgs.log_retention_days={self.log_retention_days}: must be one "
                f"of {', '.join(map(str, LOG_RETENTION_DAYS))} (CloudWatch Logs values)")
        if not isinstance(self.secret_suffix, str) or not _STEP_NAME.match(self.secret_suffix):
            raise ValueError(f"StepPipelineArgs.secret_suffix={self.secret_suffix!r}: must be "
                             "lowercase letters, digits and single hyphens (a name part)")
        for key, value in self.environment.items():
            if not _ENV_NAME.match(key):
                raise ValueError(f"StepPipelineArgs.environment: '{key}' is not a valid variable "
                                 "name (letters, digits, underscore)")
            if key in MANAGED_ENV_VARS or key == self.secret_env_var or key in self.secret_keys:
                raise ValueError(f"StepPipelineArgs.environment: '{key}' is set by StepPipeline "
                                 "itself; remove it")
            if _SECRET_LIKE.search(key):
                raise ValueError(f"StepPipelineArgs.environment: '{key}' looks like a secret; "
                                 "put it in the pipeline's secret, never in plain variables")
            if not isinstance(value, str):
                raise ValueError(f"StepPipelineArgs.environment: '{key}' must be a string")
        for key in [self.secret_env_var, *self.secret_keys]:
            if not isinstance(key, str) or not _ENV_NAME.match(key) or key in MANAGED_ENV_VARS:
                raise ValueError(f"StepPipelineArgs.secret_keys: {key!r} cannot be a variable "
                                 "name (letters, digits, underscore; not a managed variable)")
        if len(set(self.secret_keys)) != len(self.secret_keys):
            raise ValueError("StepPipelineArgs.secret_keys: a key is listed twice")
        _check_statements("task_role_statements", self.task_role_statements)
        if not self.egress_ports:
            raise ValueError("StepPipelineArgs.egress_ports: at least one port is needed (443 "
                             "reaches ECR, Secrets Manager and CloudWatch Logs)")
        for port in self.egress_ports:
            _int_in("egress_ports[]", port, 1, 65535)
        self.egress_ports = sorted(set(self.egress_ports))
        if self.alarm_period_seconds not in ALARM_PERIODS and (
                not isinstance(self.alarm_period_seconds, int)
                or self.alarm_period_seconds <= 0 or self.alarm_period_seconds % 60):
            raise ValueError(f"StepPipelineArgs.alarm_period_seconds="
                             f"{self.alarm_period_seconds!r}: must be 10, 20, 30 or a multiple "
                             "of 60 (CloudWatch)")
        _int_in("alarm_evaluation_periods", self.alarm_evaluation_periods, 1,
                MAX_ALARM_WINDOW // self.alarm_period_seconds)
        for arg in ("failed_threshold", "throttled_threshold", "timed_out_threshold",
                    "dlq_threshold"):
            _int_in(arg, getattr(self, arg), 1, 1_000_000)
        if not isinstance(self.alarm_actions, list | tuple):
            raise ValueError("StepPipelineArgs.alarm_actions: must be a list of ARNs")

    def timeout_of(self, step: str) -> int:
        """The ``TimeoutSeconds`` of one step."""
        return self.step_timeouts.get(step, self.step_timeout_seconds)


#: Role parts of the four alarms' names (``{app}-{env}-{name}-<suffix>``).
ALARM_SUFFIXES = ("executions-failed", "executions-throttled", "executions-timed-out",
                  "schedule-dlq-messages")


@dataclass(frozen=True)
class PipelineNames:
    """Physical names a pipeline will have, known before it is declared (for Monitoring's
    ``MonitoredPipeline``: cluster, state machine and alarm names)."""

    cluster_name: str
    state_machine_name: str
    rule_name: str
    alarm_names: tuple[str, ...]
    schedule_dlq_name: str


def pipeline_names(app: str, env: str, name: str) -> PipelineNames:
    """The physical names :class:`StepPipeline` gives pipeline ``name`` of ``app``/``env``."""
    return PipelineNames(
        cluster_name=physical_name(app, env, name, "cluster", "ecs_cluster"),
        state_machine_name=physical_name(app, env, name, "sm", "sfn_state_machine"),
        rule_name=physical_name(app, env, name, "schedule", "event_rule"),
        alarm_names=tuple(physical_name(app, env, name, suffix, "alarm")
                          for suffix in ALARM_SUFFIXES),
        schedule_dlq_name=physical_name(app, env, name, "schedule-dlq", "sqs_queue"))


def _assume_role_policy(service: str, conditions: dict | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service},
                                 "Action": "sts:AssumeRole"}
    if conditions:
        statement["Condition"] = conditions
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _policy(statements: list[dict]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def state_machine_definition(args: StepPipelineArgs, cluster_arn: str,
                             task_definition_arn: str, security_group_id: str,
                             comment: str) -> dict[str, Any]:
    """The Amazon States Language document: one ``ecs:runTask.sync`` Task state per step."""
    states: dict[str, Any] = {}
    for index, step in enumerate(args.steps):
        state: dict[str, Any] = {
            "Type": "Task",
            "Comment": f"Step {index + 1} of {len(args.steps)}: runs the image with "
                       f"STEP_NAME={step}",
            "Resource": "arn:aws:states:::ecs:runTask.sync",
            "Parameters": {
                "Cluster": cluster_arn,
                "TaskDefinition": task_definition_arn,
                "LaunchType": "FARGATE",
                "NetworkConfiguration": {"AwsvpcConfiguration": {
                    "Subnets": list(args.subnet_ids),
                    "SecurityGroups": [security_group_id],
                    "AssignPublicIp": "DISABLED",
                }},
                "Overrides": {"ContainerOverrides": [{
                    "Name": CONTAINER_NAME,
                    "Environment": [
                        {"Name": "STEP_NAME", "Value": step},
                        # The execution input, passed through to every step unchanged.
                        {"Name": "EXECUTION_INPUT", "Value.$": "States.JsonToString($)"},
                        {"Name": "EXECUTION_ID", "Value.$": "$$.Execution.Id"},
                    ],
                }]},
            },
            # Discard the ECS result: the next step receives the execution input as it came.
            "ResultPath": None,
            "TimeoutSeconds": args.timeout_of(step),
            "Retry": [{
                "ErrorEquals": list(RETRY_ERRORS),
                "IntervalSeconds": args.retry_interval_seconds,
                "MaxAttempts": args.retry_max_attempts,
                "BackoffRate": float(args.retry_backoff_rate),
                # Builders' Library, "Timeouts, retries and backoff with jitter".
                "JitterStrategy": "FULL",
            }],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": ERROR_PATH,
                       "Next": FAILED_STATE}],
        }
        if index + 1 < len(args.steps):
            state["Next"] = args.steps[index + 1]
        else:
            state["End"] = True
        states[step] = state
    states[FAILED_STATE] = {
        "Type": "Fail",
        "Comment": "A step failed after its retries; the error and cause are the step's",
        "ErrorPath": f"{ERROR_PATH}.Error",
        "CausePath": f"{ERROR_PATH}.Cause",
    }
    return {"Comment": comment, "StartAt": args.steps[0],
            "TimeoutSeconds": args.execution_timeout_seconds, "States": states}


class StepPipeline(pulumi.ComponentResource):
    """A scheduled Step Functions pipeline whose steps run as ECS Fargate tasks.

    Outputs: ``state_machine_arn``, ``cluster_arn``, ``task_definition_arn``,
    ``repository_url``, ``secret_arn``, ``rule_name`` (and ``security_group_id``,
    ``dlq_url``, ``dlq_arn``, ``execution_role_arn``, ``task_role_arn``). ``names`` holds
    the plain physical names (:func:`pipeline_names`).
    """

    TYPE = "tandem:components:StepPipeline"

    def __init__(self, name: str, args: StepPipelineArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.args = args
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)

        def pname(role: str, kind: str) -> str:
            return physical_name(args.app, args.env, name, role, kind)

        tags = {"tandem:app": args.app, "tandem:env": args.env, "tandem:workload": name,
                **args.tags}
        invoke = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        region = aws.get_region_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        context = pulumi.Output.all(identity.account_id, region.region, partition.partition)

        self.names = pipeline_names(args.app, args.env, name)
        cluster_name = self.names.cluster_name
        state_machine_name = self.names.state_machine_name
        rule_name = self.names.rule_name
        family = pname("task", "ecs_task_family")

        # --- image repository -------------------------------------------------------------
        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            name=pname("repo", "ecr_repository"),
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            tags=tags,
            opts=stateful)
        self.lifecycle_policy = aws.ecr.LifecyclePolicy(
            f"{name}-repo-lifecycle",
            repository=self.repository.name,
            policy=json.dumps({"rules": [{
                "rulePriority": 1,
                "description": "Keep the last 10 images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                              "countNumber": 10},
                "action": {"type": "expire"},
            }]}),
            opts=child)

        # --- secret and its key -----------------------------------------------------------
        key_name = pname("key", "kms_alias")
        # No key policy given: AWS's default key policy lets the account's IAM policies grant
        # use of the key, so the execution role's own policy below decides who decrypts.
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{key_name}: encrypts the {name} pipeline's secret",
            enable_key_rotation=True,
            tags={**tags, "Name": key_name},
            opts=stateful)
        self.key_alias = aws.kms.Alias(
            f"{name}-key-alias",
            name=check_length(f"alias/{key_name}", "kms_alias"),
            target_key_id=self.key.key_id,
            opts=child)
        # The code never sets a value: see docs/pipeline.md for `put-secret-value`.
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=pname(args.secret_suffix, "secret"),
            description=f"Secrets of the {name} pipeline's steps (set out of band)",
            kms_key_id=self.key.arn,
            tags=tags,
            opts=stateful)

        # --- network ----------------------------------------------------------------------
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            name=pname("sg", "security_group"),
            # GroupDescription cannot change without replacing the group: keep it generic.
            description=f"{name} pipeline tasks: no ingress, egress only",
            vpc_id=args.vpc_id,
            ingress=[],
            egress=[{"protocol": "tcp", "from_port": port, "to_port": port,
                     "cidr_blocks": ["0.0.0.0/0"],
                     "description": f"{name} tasks to AWS APIs and HTTPS services"}
                    for port in args.egress_ports],
            tags=tags,
            opts=child)

        # --- ECS ----------------------------------------------------------------------------
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=cluster_name,
            settings=[{"name": "containerInsights", "value": "enabled"}],
            tags=tags,
            opts=child)
        self.task_log_group = aws.cloudwatch.LogGroup(
            f"{name}-task-logs",
            name=pname("task-logs", "log_group"),
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child)

        self.execution_role = aws.iam.Role(
            f"{name}-exec-role",
            name=pname("exec-role", "iam_role"),
            assume_role_policy=_assume_role_policy(ECS_TASKS_PRINCIPAL),
            tags=tags,
            opts=child)

        def execution_policy(values: list) -> str:
            repo_arn, log_group_arn, secret_arn, key_arn, region_name = values
            return _policy([
                {"Sid": "PullOwnImage", "Effect": "Allow",
                 "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
                            "ecr:BatchGetImage"],
                 "Resource": repo_arn},
                # GetAuthorizationToken is registry-wide: ECR accepts only "*" for it (ECR
                # User Guide, "Private registry authentication").
                {"Sid": "AuthenticateToRegistry", "Effect": "Allow",
                 "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                {"Sid": "WriteOwnLogs", "Effect": "Allow",
                 "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": f"{log_group_arn}:*"},
                {"Sid": "ReadOwnSecret", "Effect": "Allow",
                 "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn},
                {"Sid": "DecryptOwnSecret", "Effect": "Allow", "Action": "kms:Decrypt",
                 "Resource": key_arn,
                 "Condition": {"StringEquals": {
                     "kms:ViaService": f"secretsmanager.{region_name}.amazonaws.com"}}},
            ])

        self.execution_policy = aws.iam.RolePolicy(
            f"{name}-exec-policy",
            name=pname("exec-policy", "iam_role_policy"),
            role=self.execution_role.name,
            policy=pulumi.Output.all(self.repository.arn, self.task_log_group.arn,
                                     self.secret.arn, self.key.arn,
                                     region.region).apply(execution_policy),
            opts=child)

        # The task role: only what the steps need. AWS recommends the confused-deputy
        # conditions on it (Amazon ECS Developer Guide, "Task IAM role").
        self.task_role = aws.iam.Role(
            f"{name}-task-role",
            name=pname("task-role", "iam_role"),
            assume_role_policy=context.apply(lambda c: _assume_role_policy(
                ECS_TASKS_PRINCIPAL, {
                    "ArnLike": {"aws:SourceArn": f"arn:{c[2]}:ecs:{c[1]}:{c[0]}:*"},
                    "StringEquals": {"aws:SourceAccount": c[0]}})),
            tags=tags,
            opts=child)
        self.task_policy = None
        if args.task_role_statements:
            self.task_policy = aws.iam.RolePolicy(
                f"{name}-task-policy",
                name=pname("task-policy", "iam_role_policy"),
                role=self.task_role.name,
                policy=_policy(list(args.task_role_statements)),
                opts=child)

        def container_definitions(values: list) -> str:
            repository_url, secret_arn, log_group_name, region_name = values
            # The whole secret in one variable, or one variable per key of a JSON secret
            # (valueFrom "<arn>:<json-key>::", Amazon ECS Developer Guide, "Pass Secrets
            # Manager secrets through environment variables").
            injected = ([{"name": key, "valueFrom": f"{secret_arn}:{key}::"}
                         for key in args.secret_keys]
                        or [{"name": args.secret_env_var, "valueFrom": secret_arn}])
            container: dict[str, Any] = {
                "name": CONTAINER_NAME,
                "image": f"{repository_url}:{args.image_tag}",
                "essential": True,
                # Values come from Secrets Manager by ARN at start; never plain variables.
                "secrets": injected,
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": log_group_name,
                    "awslogs-region": region_name,
                    "awslogs-stream-prefix": name,
                }},
            }
            if args.environment:
                container["environment"] = [{"name": k, "value": v}
                                             for k, v in sorted(args.environment.items())]
            return json.dumps([container])

        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(args.cpu),
            memory=str(args.memory_mb),
            runtime_platform={"operating_system_family": "LINUX",
                              "cpu_architecture": args.cpu_architecture},
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            container_definitions=pulumi.Output.all(
                self.repository.repository_url, self.secret.arn, self.task_log_group.name,
                region.region).apply(container_definitions),
            tags=tags,
            # The execution role must be able to pull and read before a task starts.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.execution_policy]))

        # --- state machine ----------------------------------------------------------------
        # The /aws/vendedlogs/ prefix keeps the CloudWatch Logs resource policy that log
        # delivery writes small (Step Functions Developer Guide, "Logging using CloudWatch
        # Logs"); it cannot start with the stack prefix.
        self.state_machine_log_group = aws.cloudwatch.LogGroup(
            f"{name}-sm-logs",
            name=check_length(f"/aws/vendedlogs/states/{state_machine_name}", "log_group"),
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child)
        self.state_machine_role = aws.iam.Role(
            f"{name}-sm-role",
            name=pname("sm-role", "iam_role"),
            assume_role_policy=context.apply(lambda c: _assume_role_policy(
                "states.amazonaws.com", {
                    "ArnLike": {"aws:SourceArn": f"arn:{c[2]}:states:{c[1]}:{c[0]}:"
                                                 f"stateMachine:{state_machine_name}"},
                    "StringEquals": {"aws:SourceAccount": c[0]}})),
            tags=tags,
            opts=child)

        def state_machine_policy(values: list) -> str:
            (cluster_arn, execution_role_arn, task_role_arn, log_group_arn,
             account, region_name, part) = values
            ecs = f"arn:{part}:ecs:{region_name}:{account}"
            return _policy([
                {"Sid": "RunOwnTask", "Effect": "Allow", "Action": "ecs:RunTask",
                 "Resource": f"{ecs}:task-definition/{family}:*",
                 "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}}},
                # .sync polls and, on timeout or abort, stops the task. Task ids are unknown
                # in advance, so AWS's sample uses "*"; ECS accepts task ARNs per cluster
                # (Service Authorization Reference, ECS "task" resource), so only this
                # cluster's tasks.
                {"Sid": "TrackOwnTasks", "Effect": "Allow",
                 "Action": ["ecs:StopTask", "ecs:DescribeTasks"],
                 "Resource": f"{ecs}:task/{cluster_name}/*"},
                {"Sid": "PassTaskRoles", "Effect": "Allow", "Action": "iam:PassRole",
                 "Resource": [execution_role_arn, task_role_arn],
                 "Condition": {"StringEquals": {"iam:PassedToService": ECS_TASKS_PRINCIPAL}}},
                # The managed rule through which .sync learns that a task stopped.
                {"Sid": "SyncTaskEvents", "Effect": "Allow",
                 "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                 "Resource": f"arn:{part}:events:{region_name}:{account}:rule/{SYNC_RULE}"},
                # CloudWatch Logs log-delivery actions have no resource-level permissions:
                # "*" is the only resource AWS accepts (Step Functions Developer Guide, "IAM
                # policies for logging to CloudWatch Logs").
                {"Sid": "DeliverLogs", "Effect": "Allow",
                 "Action": ["logs:CreateLogDelivery", "logs:GetLogDelivery",
                            "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
                            "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                            "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"],
                 "Resource": "*"},
                {"Sid": "WriteOwnLogs", "Effect": "Allow",
                 "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": f"{log_group_arn}:*"},
                # X-Ray has no resource-level permissions: "*" is the only resource AWS
                # accepts (X-Ray IAM reference).
                {"Sid": "WriteTraces", "Effect": "Allow",
                 "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords",
                            "xray:GetSamplingRules", "xray:GetSamplingTargets"],
                 "Resource": "*"},
            ])

        self.state_machine_policy = aws.iam.RolePolicy(
            f"{name}-sm-policy",
            name=pname("sm-policy", "iam_role_policy"),
            role=self.state_machine_role.name,
            policy=pulumi.Output.all(self.cluster.arn, self.execution_role.arn,
                                     self.task_role.arn, self.state_machine_log_group.arn,
                                     identity.account_id, region.region,
                                     partition.partition).apply(state_machine_policy),
            opts=child)

        comment = f"{args.app}-{args.env} {name}: {', '.join(args.steps)}"
        self.state_machine = aws.sfn.StateMachine(
            f"{name}-sm",
            name=state_machine_name,
            type="STANDARD",
            role_arn=self.state_machine_role.arn,
            definition=pulumi.Output.all(
                self.cluster.arn, self.task_definition.arn, self.security_group.id
            ).apply(lambda v: json.dumps(state_machine_definition(args, v[0], v[1], v[2],
                                                                  comment))),
            logging_configuration={
                "level": "ERROR",
                "include_execution_data": args.log_execution_data,
                "log_destination": self.state_machine_log_group.arn.apply(lambda a: f"{a}:*"),
            },
            tracing_configuration={"enabled": True},
            tags=tags,
            # Step Functions checks the role's log delivery permissions at create.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.state_machine_policy]))

        # --- schedule ---------------------------------------------------------------------
        self.dlq = aws.sqs.Queue(
            f"{name}-schedule-dlq",
            name=pname("schedule-dlq", "sqs_queue"),
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=stateful)
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            name=rule_name,
            description=f"Starts the {name} pipeline: {args.schedule}",
            schedule_expression=args.schedule,
            state="ENABLED" if args.schedule_enabled else "DISABLED",
            tags=tags,
            opts=child)
        self.dlq_policy = aws.sqs.QueuePolicy(
            f"{name}-schedule-dlq-policy",
            queue_url=self.dlq.url,
            policy=pulumi.Output.all(self.dlq.arn, self.rule.arn).apply(lambda v: _policy([{
                "Sid": "ScheduleDeadLetters", "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": v[0],
                "Condition": {"ArnEquals": {"aws:SourceArn": v[1]}}}])),
            opts=child)
        self.events_role = aws.iam.Role(
            f"{name}-events-role",
            name=pname("events-role", "iam_role"),
            assume_role_policy=context.apply(lambda c: _assume_role_policy(
                "events.amazonaws.com", {
                    "ArnEquals": {"aws:SourceArn":
                                  f"arn:{c[2]}:events:{c[1]}:{c[0]}:rule/{rule_name}"},
                    "StringEquals": {"aws:SourceAccount": c[0]}})),
            tags=tags,
            opts=child)
        self.events_policy = aws.iam.RolePolicy(
            f"{name}-events-policy",
            name=pname("events-policy", "iam_role_policy"),
            role=self.events_role.name,
            policy=self.state_machine.arn.apply(lambda arn: _policy([{
                "Sid": "StartOwnStateMachine", "Effect": "Allow",
                "Action": "states:StartExecution", "Resource": arn}])),
            opts=child)
        self.target = aws.cloudwatch.EventTarget(
            f"{name}-schedule-target",
            rule=self.rule.name,
            target_id="state-machine",
            arn=self.state_machine.arn,
            role_arn=self.events_role.arn,
            input=json.dumps(args.schedule_input, sort_keys=True),
            retry_policy={"maximum_event_age_in_seconds": args.schedule_max_event_age_seconds,
                          "maximum_retry_attempts": args.schedule_retry_attempts},
            dead_letter_config={"arn": self.dlq.arn},
            opts=pulumi.ResourceOptions(parent=self,
                                        depends_on=[self.events_policy, self.dlq_policy]))

        # --- alarms -------------------------------------------------------------------------
        def alarm(role: str, namespace: str, metric: str, dimensions: Any, statistic: str,
                  threshold: int, description: str) -> aws.cloudwatch.MetricAlarm:
            return aws.cloudwatch.MetricAlarm(
                f"{name}-{role}",
                name=pname(role, "alarm"),
                alarm_description=description,
                namespace=namespace,
                metric_name=metric,
                dimensions=dimensions,
                statistic=statistic,
                period=args.alarm_period_seconds,
                evaluation_periods=args.alarm_evaluation_periods,
                datapoints_to_alarm=args.alarm_evaluation_periods,
                threshold=threshold,
                comparison_operator="GreaterThanOrEqualToThreshold",
                # No executions means nothing failed.
                treat_missing_data="notBreaching",
                alarm_actions=list(args.alarm_actions),
                ok_actions=list(args.alarm_actions),  # notify on recovery too
                tags=tags,
                opts=child)

        by_state_machine = {"StateMachineArn": self.state_machine.arn}
        failed, throttled, timed_out, dlq_messages = ALARM_SUFFIXES
        self.alarms = {
            "failed": alarm(failed, "AWS/States", "ExecutionsFailed",
                            by_state_machine, "Sum", args.failed_threshold,
                            f"{name}: pipeline executions failed"),
            "throttled": alarm(throttled, "AWS/States", "ExecutionThrottled",
                               by_state_machine, "Sum", args.throttled_threshold,
                               f"{name}: pipeline executions throttled"),
            "timed_out": alarm(timed_out, "AWS/States", "ExecutionsTimedOut",
                               by_state_machine, "Sum", args.timed_out_threshold,
                               f"{name}: pipeline executions timed out"),
            "dlq": alarm(dlq_messages, "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                         {"QueueName": self.dlq.name}, "Maximum", args.dlq_threshold,
                         f"{name}: scheduled starts failed and wait in the DLQ"),
        }

        self.state_machine_arn = self.state_machine.arn
        self.cluster_arn = self.cluster.arn
        self.task_definition_arn = self.task_definition.arn
        self.repository_url = self.repository.repository_url
        self.secret_arn = self.secret.arn
        self.rule_name = self.rule.name
        self.security_group_id = self.security_group.id
        self.dlq_url = self.dlq.url
        self.dlq_arn = self.dlq.arn
        self.execution_role_arn = self.execution_role.arn
        self.task_role_arn = self.task_role.arn
        self.register_outputs({
            "state_machine_arn": self.state_machine_arn, "cluster_arn": self.cluster_arn,
            "task_definition_arn": self.task_definition_arn,
            "repository_url": self.repository_url, "secret_arn": self.secret_arn,
            "rule_name": self.rule_name, "security_group_id": self.security_group_id,
            "dlq_url": self.dlq_url, "dlq_arn": self.dlq_arn,
            "execution_role_arn": self.execution_role_arn, "task_role_arn": self.task_role_arn,
        })
