"""QueueWorker: an SQS queue with a dead-letter queue, feeding a worker Lambda.

Children (logical name ``{name}-<role>``, physical name ``{app}-{env}-{name}-<role>``):
dead-letter queue, its redrive-allow policy, queue, role, inline role policy, log group,
function and the event source mapping from the queue to the function.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import bedrock
from components.naming import check_length, physical_name

# Every default below cites where its number comes from.
DEFAULT_RUNTIME = "python3.12"          # newest Python runtime with Lambda standard support in 2026
DEFAULT_MEMORY_MB = 256                 # Lambda's default 128 MB leaves little for boto3 + handler
DEFAULT_TIMEOUT_SECONDS = 30            # Lambda's default 3 s is too short for one model call
VISIBILITY_TIMEOUT_FACTOR = 6           # Lambda dev guide, "Using Lambda with Amazon SQS": set the
                                        # queue's visibility timeout to at least 6x the timeout
DEFAULT_MAX_RECEIVE_COUNT = 5           # same guide: maxReceiveCount of at least 5 on the queue
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # SQS maximum (1,209,600 s): keep failures longest
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600  # SQS default MessageRetentionPeriod (345,600 s)
DEFAULT_BATCH_SIZE = 10                 # Lambda's default BatchSize for an SQS source
DEFAULT_BATCHING_WINDOW_SECONDS = 0     # Lambda's default MaximumBatchingWindowInSeconds (SQS)
DEFAULT_LOG_RETENTION_DAYS = 30         # tandem: CloudWatch Logs keeps logs forever by default
MAX_LAMBDA_TIMEOUT = 900                # Lambda quota: 15 minutes
MAX_VISIBILITY_TIMEOUT = 43_200         # SQS quota: 12 hours
MEMORY_RANGE = (128, 10_240)            # Lambda quota: 128 MB to 10,240 MB
MAX_RECEIVE_RANGE = (1, 1000)           # SQS RedrivePolicy maxReceiveCount
BATCH_SIZE_RANGE = (1, 10_000)          # Lambda CreateEventSourceMapping, standard SQS queue
BATCHING_WINDOW_RANGE = (0, 300)        # Lambda CreateEventSourceMapping
MAX_CONCURRENCY_RANGE = (2, 1000)       # Lambda ScalingConfig.MaximumConcurrency
#: Values CloudWatch Logs PutRetentionPolicy accepts.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)
#: Environment variable names Lambda reserves (Lambda dev guide, "Defined runtime environment
#: variables"); a function may not set them.
RESERVED_ENV_VARS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
#: Variables the component sets itself, so no worker can ship without them.
MANAGED_ENV_VARS = ("QUEUE_URL", "QUEUE_NAME", "DLQ_URL", "BEDROCK_MODEL_IDS")
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

LAMBDA_ASSUME_ROLE_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }],
})


def logging_and_tracing_statements(log_group_arn: str) -> list[dict]:
    """What every Lambda of tandem may do besides its job: write its own log group and put
    X-Ray traces."""
    return [
        {"Sid": "WriteOwnLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"{log_group_arn}:*"},
        # X-Ray trace segments have no resource-level permissions: "*" is the only resource
        # AWS accepts (X-Ray IAM reference).
        {"Sid": "WriteTraces", "Effect": "Allow",
         "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"},
    ]


def _check_range(arg: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(
            f"QueueWorkerArgs.{arg}={value!r}: must be an integer from {low} to {high}")


@dataclass
class QueueWorkerArgs:
    """Inputs of a :class:`QueueWorker`. Every field but ``app``, ``env`` and ``code_dir``
    has a default that follows AWS guidance (see the constants above)."""

    app: str
    env: str
    code_dir: str
    handler: str = "handler.handler"
    runtime: str = DEFAULT_RUNTIME
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    #: None means VISIBILITY_TIMEOUT_FACTOR x timeout_seconds.
    visibility_timeout_seconds: int | None = None
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT
    environment: dict[str, Any] = field(default_factory=dict)
    layers: list[Any] = field(default_factory=list)
    reserved_concurrency: int | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    max_batching_window_seconds: int = DEFAULT_BATCHING_WINDOW_SECONDS
    max_concurrency: int | None = None
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    bedrock: bool = False
    extra_statements: list[dict] = field(default_factory=list)
    #: Protect the queues (they hold messages) from deletion: set in prod.
    protect_queues: bool = False
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.code_dir:
            raise ValueError("QueueWorkerArgs.code_dir: the handler's directory is required")
        _check_range("timeout_seconds", self.timeout_seconds, 1, MAX_LAMBDA_TIMEOUT)
        _check_range("memory_mb", self.memory_mb, *MEMORY_RANGE)
        if self.visibility_timeout_seconds is None:
            self.visibility_timeout_seconds = VISIBILITY_TIMEOUT_FACTOR * self.timeout_seconds
        _check_range("visibility_timeout_seconds", self.visibility_timeout_seconds,
                     0, MAX_VISIBILITY_TIMEOUT)
        if self.visibility_timeout_seconds < self.timeout_seconds:
            raise ValueError(
                f"QueueWorkerArgs.visibility_timeout_seconds={self.visibility_timeout_seconds}: "
                f"must be at least timeout_seconds ({self.timeout_seconds}), or messages are "
                "received twice while the function still runs")
        _check_range("max_receive_count", self.max_receive_count, *MAX_RECEIVE_RANGE)
        _check_range("batch_size", self.batch_size, *BATCH_SIZE_RANGE)
        _check_range("max_batching_window_seconds", self.max_batching_window_seconds,
                     *BATCHING_WINDOW_RANGE)
        if self.batch_size > 10 and self.max_batching_window_seconds < 1:
            raise ValueError(
                f"QueueWorkerArgs.batch_size={self.batch_size}: a batch above 10 needs "
                "max_batching_window_seconds of at least 1 (Lambda rule)")
        if self.reserved_concurrency is not None:
            _check_range("reserved_concurrency", self.reserved_concurrency, 1, 10_000)
        if self.max_concurrency is not None:
            _check_range("max_concurrency", self.max_concurrency, *MAX_CONCURRENCY_RANGE)
            if (self.reserved_concurrency is not None
                    and self.max_concurrency > self.reserved_concurrency):
                raise ValueError(
                    f"QueueWorkerArgs.max_concurrency={self.max_concurrency}: must not exceed "
                    f"reserved_concurrency ({self.reserved_concurrency}), or the mapping "
                    "throttles the function and messages go to the DLQ")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"QueueWorkerArgs.log_retention_days={self.log_retention_days}: must be one of "
                f"{', '.join(map(str, LOG_RETENTION_DAYS))} (CloudWatch Logs values)")
        for key in self.environment:
            if not _ENV_NAME.match(key):
                raise ValueError(f"QueueWorkerArgs.environment: '{key}' is not a valid "
                                 "variable name (letters, digits, underscore)")
            if key in RESERVED_ENV_VARS:
                raise ValueError(f"QueueWorkerArgs.environment: '{key}' is reserved by Lambda")
            if key in MANAGED_ENV_VARS:
                raise ValueError(f"QueueWorkerArgs.environment: '{key}' is set by QueueWorker "
                                 "itself; remove it")
        for i, statement in enumerate(self.extra_statements):
            actions = statement.get("Action")
            actions = [actions] if isinstance(actions, str) else (actions or [])
            if not actions or any(a == "*" or a.endswith(":*") for a in actions):
                raise ValueError(f"QueueWorkerArgs.extra_statements[{i}]: name explicit actions; "
                                 "wildcard actions are not allowed")
            if "Resource" not in statement:
                raise ValueError(f"QueueWorkerArgs.extra_statements[{i}]: Resource is required")


class QueueWorker(pulumi.ComponentResource):
    """An SQS queue with a DLQ feeding a Lambda function, with a least-privilege role.

    Outputs: ``queue_url``, ``queue_arn``, ``dlq_url``, ``dlq_arn``, ``function_name``,
    ``function_arn``, ``role_name``, ``role_arn``, ``log_group_name``.
    """

    TYPE = "tandem:components:QueueWorker"

    def __init__(self, name: str, args: QueueWorkerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.args = args
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect_queues)

        def pname(role: str, kind: str) -> str:
            return physical_name(args.app, args.env, name, role, kind)

        tags = {"tandem:app": args.app, "tandem:env": args.env, "tandem:workload": name,
                **args.tags}

        self.dlq = aws.sqs.Queue(
            f"{name}-dlq",
            name=pname("dlq", "sqs_queue"),
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=stateful)

        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=pname("queue", "sqs_queue"),
            visibility_timeout_seconds=args.visibility_timeout_seconds,
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            redrive_policy=self.dlq.arn.apply(lambda arn: json.dumps(
                {"deadLetterTargetArn": arn, "maxReceiveCount": args.max_receive_count})),
            tags=tags,
            opts=stateful)

        # A separate resource: set on the DLQ itself, the policy would need the source queue's
        # ARN while the source queue needs the DLQ's, a cycle.
        self.dlq_redrive_allow = aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-redrive-allow",
            queue_url=self.dlq.url,
            redrive_allow_policy=self.queue.arn.apply(lambda arn: json.dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [arn]})),
            opts=child)

        self.role = aws.iam.Role(
            f"{name}-role",
            name=pname("role", "iam_role"),
            assume_role_policy=LAMBDA_ASSUME_ROLE_POLICY,
            tags=tags,
            opts=child)

        function_name = pname("fn", "lambda_function")
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=check_length(f"/aws/lambda/{function_name}", "log_group"),
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child)

        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))

        def policy_document(values: list) -> str:
            queue_arn, log_group_arn, account_id, region_name, partition_name, extra = values
            statements = [
                {"Sid": "ConsumeOwnQueue", "Effect": "Allow",
                 "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage",
                            "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
                 "Resource": queue_arn},
                *logging_and_tracing_statements(log_group_arn),
            ]
            if args.bedrock:
                statements += bedrock.bedrock_invoke_statements(region_name, account_id,
                                                                partition_name)
            statements += extra
            return json.dumps({"Version": "2012-10-17", "Statement": statements})

        self.policy = aws.iam.RolePolicy(
            f"{name}-policy",
            name=pname("policy", "iam_role_policy"),
            role=self.role.name,
            policy=pulumi.Output.all(self.queue.arn, self.log_group.arn, identity.account_id,
                                     region.region, partition.partition,
                                     pulumi.Output.from_input(args.extra_statements)
                                     ).apply(policy_document),
            opts=child)

        environment = {"QUEUE_URL": self.queue.url, "QUEUE_NAME": self.queue.name,
                       "DLQ_URL": self.dlq.url, **args.environment}
        if args.bedrock:
            environment["BEDROCK_MODEL_IDS"] = ",".join(m.invoke_id
                                                        for m in bedrock.BEDROCK_MODELS)

        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            role=self.role.arn,
            runtime=args.runtime,
            handler=args.handler,
            code=pulumi.FileArchive(args.code_dir),
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            environment={"variables": environment},
            layers=args.layers or None,
            tracing_config={"mode": "Active"},
            reserved_concurrent_executions=args.reserved_concurrency,
            tags=tags,
            # The log group must exist first, or Lambda creates it without retention; the
            # policy must exist first, or the first invocations cannot read the queue.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, self.policy]))

        self.event_source_mapping = aws.lambda_.EventSourceMapping(
            f"{name}-trigger",
            event_source_arn=self.queue.arn,
            function_name=self.function.arn,
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.max_batching_window_seconds,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=({"maximum_concurrency": args.max_concurrency}
                            if args.max_concurrency is not None else None),
            opts=child)

        self.queue_url = self.queue.url
        self.queue_arn = self.queue.arn
        self.dlq_url = self.dlq.url
        self.dlq_arn = self.dlq.arn
        self.function_name = self.function.name
        self.function_arn = self.function.arn
        self.role_name = self.role.name
        self.role_arn = self.role.arn
        self.log_group_name = self.log_group.name
        self.register_outputs({
            "queue_url": self.queue_url, "queue_arn": self.queue_arn,
            "dlq_url": self.dlq_url, "dlq_arn": self.dlq_arn,
            "function_name": self.function_name, "function_arn": self.function_arn,
            "role_name": self.role_name, "role_arn": self.role_arn,
            "log_group_name": self.log_group_name,
        })
