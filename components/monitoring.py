"""Monitoring: one alarm topic, a full alarm set per worker, and one dashboard per stack.

Children (logical name, physical name):

- ``{name}-topic``: SNS topic ``{app}-{env}-alarms``, encrypted at rest;
- ``{name}-email``: optional e-mail subscription to the topic;
- ``{worker}-{what}``: metric alarm ``{app}-{env}-{worker}-{what}`` per worker, for each
  ``what`` in :data:`WORKER_ALARMS`; every alarm notifies the topic on ALARM and on OK;
- ``{name}-dashboard``: CloudWatch dashboard ``{app}-{env}``: a row per worker, a row per
  pipeline, and an alarm status widget listing every alarm.

What to monitor is described by plain, typed values (:class:`MonitoredWorker`,
:class:`MonitoredPipeline`) whose physical names are deterministic strings, so Monitoring can be
declared before the pipelines that send their own alarms to :attr:`Monitoring.topic_arn`: a
pipeline is described by its names, and its state machine ARN and alarm ARNs are built from
them (or given as Inputs when the pipeline already exists).

:func:`dashboard_problems` checks a recorded plan: every queue, function, state machine and
cluster must be on the dashboard, every metric on it must name a planned resource, and every
planned alarm must be in the alarm widget.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import pulumi
import pulumi_aws as aws

from components.naming import check_length, physical_name

# --- defaults, each with its source ------------------------------------------------------------
# "AWS recommended alarms" below is the CloudWatch user guide page "Recommended alarms"
# (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Best_Practice_Recommended_Alarms_AWS_
# Services.html), sections Amazon SQS and AWS Lambda. "cdk-monitoring-constructs" is
# github.com/cdklabs/cdk-monitoring-constructs, lib/common/monitoring/alarms/*AlarmFactory.ts.

#: Every alarm evaluates one-minute periods: SQS and Lambda publish one-minute metrics, and AWS
#: recommended alarms use Period 60 for every SQS and Lambda alarm.
PERIOD_SECONDS = 60
#: DLQ: any message at all is a failure someone must look at (issue 7: "DLQ visible messages
#: >= 1"; AWS recommended alarms, SQS dead-letter queue alarm). One period: alert at once.
DLQ_THRESHOLD = 1
DLQ_EVALUATION_PERIODS = 1
#: Queue backlog: issue 7 default ("queue depth > 50").
DEFAULT_QUEUE_DEPTH = 50
#: Backlog and age alarms must breach for 15 of 15 one-minute periods (AWS recommended alarms,
#: SQS ApproximateNumberOfMessagesVisible and ApproximateAgeOfOldestMessage: Datapoints to alarm
#: 15, Evaluation periods 15): a burst that the worker drains within minutes does not page.
DEFAULT_BACKLOG_EVALUATION_PERIODS = 15
#: Lambda errors: > 0 in 3 of 3 one-minute periods (issue 7; AWS recommended alarms, Lambda
#: Errors: Period 60, Datapoints to alarm 3, Evaluation periods 3, GreaterThanThreshold).
DEFAULT_ERRORS = 0
DEFAULT_ERROR_EVALUATION_PERIODS = 3
#: Lambda throttles: > 0 (issue 7) in 5 of 5 one-minute periods (AWS recommended alarms, Lambda
#: Throttles: Datapoints to alarm 5, Evaluation periods 5). Behind an SQS event source a
#: throttled batch goes back to the queue and is retried, so only sustained throttling matters.
DEFAULT_THROTTLES = 0
DEFAULT_THROTTLE_EVALUATION_PERIODS = 5
#: Duration p95 > 80% of the function timeout (issue 7). The AWS recommended Duration alarm
#: sets its threshold relative to the timeout and uses 15 of 15 one-minute periods.
DEFAULT_DURATION_TIMEOUT_RATIO = 0.8
DEFAULT_DURATION_EVALUATION_PERIODS = 15
DURATION_STATISTIC = "p95"
#: The AWS-managed SNS key that issue 7 names. CloudWatch alarms cannot publish to a topic under
#: it: its key policy does not let cloudwatch.amazonaws.com call kms:GenerateDataKey* and
#: kms:Decrypt and cannot be edited (AWS Knowledge Center, "How do I configure a CloudWatch
#: alarm with an encrypted SNS topic?"). So by default Monitoring creates a customer managed
#: key for the topic whose policy includes :func:`alarm_topic_key_statement`; passing this
#: value as ``MonitoringArgs.topic_kms_key_id`` restores the issue's literal choice.
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
#: CloudWatch limits: EvaluationPeriods x Period at most one day (PutMetricAlarm reference).
MAX_EVALUATION_SECONDS = 24 * 3600
#: The alarm status widget lists at most 100 alarms (CloudWatch dashboard body reference,
#: "alarm" widget: "alarms" array of up to 100 ARNs).
ALARMS_PER_STATUS_WIDGET = 100
LAMBDA_TIMEOUT_RANGE = (1, 900)         # Lambda quota: 15 minutes
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# treat_missing_data, per alarm:
#: DLQ: nothing polls a DLQ, so SQS stops publishing its metrics once it has been empty and
#: untouched for about six hours (SQS developer guide, "Available CloudWatch metrics": metrics
#: stop for inactive queues); a queue holding messages is active and keeps publishing. Missing
#: data therefore means "empty".
DLQ_MISSING_DATA = "notBreaching"
#: Queue depth and age: the Lambda event source polls the queue all the time, so SQS always
#: publishes; a gap means the metrics are not arriving, which should show as INSUFFICIENT_DATA,
#: not as a quiet OK (cdk-monitoring-constructs QueueAlarmFactory default: MISSING).
BACKLOG_MISSING_DATA = "missing"
#: Lambda errors, throttles and duration: Lambda publishes them only for minutes with
#: invocations, so a missing point means no invocations, hence no errors and no slow calls
#: (cdk-monitoring-constructs ErrorAlarmFactory and LatencyAlarmFactory default: NOT_BREACHING).
LAMBDA_MISSING_DATA = "notBreaching"

#: The alarm suffixes every worker gets (physical name ``{app}-{env}-{worker}-{suffix}``).
WORKER_ALARMS = ("dlq-messages", "queue-depth", "oldest-message-age", "errors", "throttles",
                 "duration-p95")


def _check_int(owner: str, arg: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high):
        rule = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise ValueError(f"{owner}.{arg}={value!r}: must be an integer {rule}")


def _check_periods(owner: str, arg: str, value: Any) -> None:
    _check_int(owner, arg, value, 1, MAX_EVALUATION_SECONDS // PERIOD_SECONDS)


@dataclass(frozen=True)
class AlarmThresholds:
    """Per-stack alarm thresholds (an allowed parity difference). Defaults: see the constants
    above, each with its source."""

    queue_depth: int = DEFAULT_QUEUE_DEPTH
    #: None: derived per worker as max_receive_count x visibility timeout (see
    #: :meth:`MonitoredWorker.oldest_message_age_threshold`).
    oldest_message_age_seconds: int | None = None
    backlog_evaluation_periods: int = DEFAULT_BACKLOG_EVALUATION_PERIODS
    errors: int = DEFAULT_ERRORS
    error_evaluation_periods: int = DEFAULT_ERROR_EVALUATION_PERIODS
    throttles: int = DEFAULT_THROTTLES
    throttle_evaluation_periods: int = DEFAULT_THROTTLE_EVALUATION_PERIODS
    duration_timeout_ratio: float = DEFAULT_DURATION_TIMEOUT_RATIO
    duration_evaluation_periods: int = DEFAULT_DURATION_EVALUATION_PERIODS

    def __post_init__(self) -> None:
        owner = "AlarmThresholds"
        _check_int(owner, "queue_depth", self.queue_depth, 1)
        if self.oldest_message_age_seconds is not None:
            _check_int(owner, "oldest_message_age_seconds", self.oldest_message_age_seconds,
                       PERIOD_SECONDS, 14 * 24 * 3600)  # SQS keeps messages 14 days at most
        _check_int(owner, "errors", self.errors, 0)
        _check_int(owner, "throttles", self.throttles, 0)
        for arg in ("backlog_evaluation_periods", "error_evaluation_periods",
                    "throttle_evaluation_periods", "duration_evaluation_periods"):
            _check_periods(owner, arg, getattr(self, arg))
        ratio = self.duration_timeout_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio <= 1:
            raise ValueError(f"{owner}.duration_timeout_ratio={ratio!r}: must be a number "
                             "above 0 and at most 1 (a share of the function timeout)")

    @classmethod
    def config_keys(cls) -> dict[str, str]:
        """Stack-config key (camelCase, as in ``Pulumi.<stack>.yaml``) -> field name."""
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), f.name): f.name
                for f in fields(cls)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None,
                     source: str = "thresholds") -> AlarmThresholds:
        """Thresholds from stack config: known keys only (camelCase, or the field names),
        the rest default."""
        keys = cls.config_keys()
        known = {**keys, **{name: name for name in keys.values()}}
        unknown = sorted(set(values or {}) - set(known))
        if unknown:
            raise ValueError(f"{source}: unknown key '{unknown[0]}'; allowed: "
                             f"{', '.join(sorted(keys))}")
        return cls(**{known[key]: value for key, value in (values or {}).items()})


@dataclass(frozen=True)
class MonitoredWorker:
    """A queue worker to monitor, by the physical names of its queue, DLQ and function."""

    name: str
    queue_name: str
    dlq_name: str
    function_name: str
    timeout_seconds: int
    #: The queue's visibility timeout and maxReceiveCount; they give the default age threshold.
    visibility_timeout_seconds: int | None = None
    max_receive_count: int | None = None

    def __post_init__(self) -> None:
        owner = f"MonitoredWorker({self.name!r})"
        for arg in ("name", "queue_name", "dlq_name", "function_name"):
            if not isinstance(getattr(self, arg), str) or not getattr(self, arg):
                raise ValueError(f"{owner}.{arg}: a non-empty physical name is required")
        _check_int(owner, "timeout_seconds", self.timeout_seconds, *LAMBDA_TIMEOUT_RANGE)
        if self.visibility_timeout_seconds is not None:
            _check_int(owner, "visibility_timeout_seconds", self.visibility_timeout_seconds, 0)
        if self.max_receive_count is not None:
            _check_int(owner, "max_receive_count", self.max_receive_count, 1)

    @classmethod
    def from_queue_worker(cls, worker: Any) -> MonitoredWorker:
        """The description of a :class:`components.worker.QueueWorker`, from its args and the
        same naming rule it used."""
        args, name = worker.args, worker.pulumi_resource_name
        return cls(
            name=name,
            queue_name=physical_name(args.app, args.env, name, "queue", "sqs_queue"),
            dlq_name=physical_name(args.app, args.env, name, "dlq", "sqs_queue"),
            function_name=physical_name(args.app, args.env, name, "fn", "lambda_function"),
            timeout_seconds=args.timeout_seconds,
            visibility_timeout_seconds=args.visibility_timeout_seconds,
            max_receive_count=args.max_receive_count)

    def oldest_message_age_threshold(self, thresholds: AlarmThresholds) -> int:
        """The age alarm's threshold in seconds. Unless set per stack: the time a message may
        legitimately spend being retried (maxReceiveCount receives, each hidden for the
        visibility timeout) before it moves to the DLQ; a message older than that is waiting
        for a consumer, not for a retry. Without those settings: 6 x timeout x 5, the
        QueueWorker defaults (Lambda developer guide, "Using Lambda with Amazon SQS")."""
        if thresholds.oldest_message_age_seconds is not None:
            return thresholds.oldest_message_age_seconds
        visibility = self.visibility_timeout_seconds or 6 * self.timeout_seconds
        receives = self.max_receive_count or 5
        return max(PERIOD_SECONDS, visibility * receives)

    def duration_threshold_ms(self, thresholds: AlarmThresholds) -> int:
        """p95 duration threshold: a share of the timeout, in milliseconds (Lambda's unit)."""
        return int(math.floor(self.timeout_seconds * 1000 * thresholds.duration_timeout_ratio))


@dataclass(frozen=True)
class MonitoredPipeline:
    """A Step Functions + ECS pipeline for the dashboard's pipeline row.

    Give ``state_machine_arn`` (an Input, when the pipeline exists already) or
    ``state_machine_name`` (Monitoring then builds the ARN for the stack's account and region,
    so it can be declared before the pipeline). ``alarm_names`` are the pipeline's own alarms
    (created by the pipeline with ``Monitoring.topic_arn``), listed in the alarm widget.
    The ECS panel reads Container Insights metrics, so the cluster needs containerInsights."""

    name: str
    cluster_name: str
    state_machine_arn: Any = None
    state_machine_name: str | None = None
    alarm_names: tuple[str, ...] = ()
    #: The schedule's dead-letter queue, shown next to the executions.
    dlq_name: str | None = None

    def __post_init__(self) -> None:
        owner = f"MonitoredPipeline({self.name!r})"
        if not self.name or not self.cluster_name:
            raise ValueError(f"{owner}: name and cluster_name are required")
        if (self.state_machine_arn is None) == (self.state_machine_name is None):
            raise ValueError(f"{owner}: give exactly one of state_machine_arn and "
                             "state_machine_name")
        object.__setattr__(self, "alarm_names", tuple(self.alarm_names))


#: API alarms (issue 10): 5xx rate above 5% over 5 minutes (metric math), p95 latency above
#: 3 s, and any function error. Sources: AWS recommended alarms, API Gateway 5XXError ("a
#: threshold of 5% ... over 5 minutes" is tandem's rollout policy) and Latency (p90/p95
#: against the SLA; 3 s is the API's target); Lambda Errors as for workers.
API_5XX_RATE_PERCENT = 5
API_5XX_PERIOD_SECONDS = 300
API_LATENCY_P95_MS = 3000
API_LATENCY_EVALUATION_PERIODS = 5
#: The alarm suffixes every API gets (physical name ``{app}-{env}-{api}-{suffix}``).
API_ALARMS = ("server-error-rate", "latency-p95", "errors")


@dataclass(frozen=True)
class MonitoredApi:
    """An HTTP API and the Lambda behind it. ``api_id`` is an Input (the API's id output)."""

    name: str
    function_name: str
    api_id: Any

    def __post_init__(self) -> None:
        if not self.name or not self.function_name or self.api_id is None:
            raise ValueError(f"MonitoredApi({self.name!r}): name, function_name and api_id "
                             "are required")

    @classmethod
    def from_api_function(cls, api: Any) -> MonitoredApi:
        """Describe a :class:`components.api.ApiFunction`."""
        return cls(name=api.workload, function_name=api.physical_function_name,
                   api_id=api.api_id)


@dataclass
class MonitoringArgs:
    """Inputs of :class:`Monitoring`. Thresholds and ``alarm_email`` are per-stack config."""

    app: str
    env: str
    workers: Sequence[MonitoredWorker] = ()
    pipelines: Sequence[MonitoredPipeline] = ()
    apis: Sequence[MonitoredApi] = ()
    thresholds: AlarmThresholds = field(default_factory=AlarmThresholds)
    #: Subscribed to the topic when set (AWS sends a confirmation mail first).
    alarm_email: str | None = None
    #: None: a customer managed key made for the topic (see AWS_MANAGED_SNS_KEY for why).
    topic_kms_key_id: Any = None
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workers = list(self.workers)
        self.pipelines = list(self.pipelines)
        self.apis = list(self.apis)
        if not isinstance(self.thresholds, AlarmThresholds):
            raise ValueError("MonitoringArgs.thresholds: must be an AlarmThresholds")
        if self.alarm_email is not None and not _EMAIL.match(self.alarm_email):
            raise ValueError(f"MonitoringArgs.alarm_email={self.alarm_email!r}: must be one "
                             "e-mail address (name@domain)")
        if self.topic_kms_key_id == "":
            raise ValueError("MonitoringArgs.topic_kms_key_id: the alarm topic must be "
                             "encrypted; give a KMS key id, ARN or alias")
        prefix = f"{self.app}-{self.env}-"
        seen: set[str] = set()
        for item in [*self.workers, *self.pipelines, *self.apis]:
            if item.name in seen:
                raise ValueError(f"MonitoringArgs: '{item.name}' is listed twice; each worker "
                                 "and pipeline is monitored once")
            seen.add(item.name)
        for worker in self.workers:
            for arg in ("queue_name", "dlq_name", "function_name"):
                if not getattr(worker, arg).startswith(prefix):
                    raise ValueError(
                        f"MonitoringArgs.workers['{worker.name}'].{arg}="
                        f"'{getattr(worker, arg)}': must belong to this stack (start with "
                        f"'{prefix}')")


def alarm_topic_key_statement(account_id: str, region: str, partition: str = "aws"
                              ) -> dict[str, Any]:
    """The key-policy statement a customer managed key needs before CloudWatch alarms in this
    account and region can publish to a topic encrypted with it (AWS Knowledge Center, "How do
    I configure a CloudWatch alarm with an encrypted SNS topic?"). ``Resource: "*"`` is the only
    form a key policy accepts (it means the key itself); the conditions scope it to this
    account's alarms."""
    return {
        "Sid": "AllowCloudWatchAlarmsToUseTheKey",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn":
                        f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"},
        },
    }


@dataclass(frozen=True)
class _AlarmSpec:
    """One worker alarm, before it becomes a MetricAlarm."""

    suffix: str
    description: str
    namespace: str
    metric_name: str
    dimensions: dict[str, str]
    comparison: str
    threshold: float
    evaluation_periods: int
    treat_missing_data: str
    statistic: str | None = None
    extended_statistic: str | None = None


def worker_alarm_specs(worker: MonitoredWorker, thresholds: AlarmThresholds
                       ) -> list[_AlarmSpec]:
    """The six alarms of one worker (order and suffixes as :data:`WORKER_ALARMS`)."""
    dlq = {"QueueName": worker.dlq_name}
    queue = {"QueueName": worker.queue_name}
    function = {"FunctionName": worker.function_name}
    age = worker.oldest_message_age_threshold(thresholds)
    duration = worker.duration_threshold_ms(thresholds)
    return [
        _AlarmSpec("dlq-messages",
                   f"{worker.name}: messages reached the dead-letter queue {worker.dlq_name}; "
                   "inspect them, fix the cause, then redrive", "AWS/SQS",
                   "ApproximateNumberOfMessagesVisible", dlq, "GreaterThanOrEqualToThreshold",
                   DLQ_THRESHOLD, DLQ_EVALUATION_PERIODS, DLQ_MISSING_DATA,
                   statistic="Maximum"),
        _AlarmSpec("queue-depth",
                   f"{worker.name}: more than {thresholds.queue_depth} messages waiting in "
                   f"{worker.queue_name} for {thresholds.backlog_evaluation_periods} minutes",
                   "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue,
                   "GreaterThanThreshold", thresholds.queue_depth,
                   thresholds.backlog_evaluation_periods, BACKLOG_MISSING_DATA,
                   statistic="Maximum"),
        _AlarmSpec("oldest-message-age",
                   f"{worker.name}: the oldest message in {worker.queue_name} is older than "
                   f"{age} s; the worker is not keeping up", "AWS/SQS",
                   "ApproximateAgeOfOldestMessage", queue, "GreaterThanThreshold", age,
                   thresholds.backlog_evaluation_periods, BACKLOG_MISSING_DATA,
                   statistic="Maximum"),
        _AlarmSpec("errors",
                   f"{worker.name}: {worker.function_name} reported errors in "
                   f"{thresholds.error_evaluation_periods} consecutive minutes", "AWS/Lambda",
                   "Errors", function, "GreaterThanThreshold", thresholds.errors,
                   thresholds.error_evaluation_periods, LAMBDA_MISSING_DATA, statistic="Sum"),
        _AlarmSpec("throttles",
                   f"{worker.name}: {worker.function_name} was throttled for "
                   f"{thresholds.throttle_evaluation_periods} consecutive minutes",
                   "AWS/Lambda", "Throttles", function, "GreaterThanThreshold",
                   thresholds.throttles, thresholds.throttle_evaluation_periods,
                   LAMBDA_MISSING_DATA, statistic="Sum"),
        _AlarmSpec("duration-p95",
                   f"{worker.name}: {worker.function_name} p95 duration above {duration} ms "
                   f"({thresholds.duration_timeout_ratio:.0%} of its {worker.timeout_seconds} "
                   "s timeout)", "AWS/Lambda", "Duration", function, "GreaterThanThreshold",
                   duration, thresholds.duration_evaluation_periods, LAMBDA_MISSING_DATA,
                   extended_statistic=DURATION_STATISTIC),
    ]


# --- dashboard body ----------------------------------------------------------------------------

WIDGET_WIDTH = 6       # four widgets fill the dashboard's 24-column grid
WIDGET_HEIGHT = 6


def _metric(namespace: str, name: str, dimension: str, value: str, stat: str,
            label: str, **extra: Any) -> list[Any]:
    return [namespace, name, dimension, value, {"stat": stat, "label": label, **extra}]


def _graph(title: str, metrics: list[list[Any]], x: int, y: int, region: str,
           **properties: Any) -> dict[str, Any]:
    return {"type": "metric", "x": x, "y": y, "width": WIDGET_WIDTH, "height": WIDGET_HEIGHT,
            "properties": {"title": title, "view": "timeSeries", "stacked": False,
                           "region": region, "period": PERIOD_SECONDS, "metrics": metrics,
                           **properties}}


def worker_widgets(worker: MonitoredWorker, y: int, region: str) -> list[dict[str, Any]]:
    """The worker's row: queue depth with the DLQ; invocations and errors; duration p50, p95
    and p99; throttles and concurrency."""
    fn = worker.function_name
    return [
        _graph(f"{worker.name}: queue depth", [
            _metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                    worker.queue_name, "Maximum", "queue visible"),
            _metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                    worker.dlq_name, "Maximum", "DLQ visible"),
            _metric("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName",
                    worker.queue_name, "Maximum", "oldest message (s)", yAxis="right"),
        ], 0, y, region),
        _graph(f"{worker.name}: invocations and errors", [
            _metric("AWS/Lambda", "Invocations", "FunctionName", fn, "Sum", "invocations"),
            _metric("AWS/Lambda", "Errors", "FunctionName", fn, "Sum", "errors"),
        ], WIDGET_WIDTH, y, region),
        _graph(f"{worker.name}: duration (ms)", [
            _metric("AWS/Lambda", "Duration", "FunctionName", fn, stat, stat)
            for stat in ("p50", "p95", "p99")
        ], 2 * WIDGET_WIDTH, y, region,
            annotations={"horizontal": [{"label": "timeout",
                                         "value": worker.timeout_seconds * 1000}]}),
        _graph(f"{worker.name}: throttles and concurrency", [
            _metric("AWS/Lambda", "Throttles", "FunctionName", fn, "Sum", "throttles"),
            _metric("AWS/Lambda", "ConcurrentExecutions", "FunctionName", fn, "Maximum",
                    "concurrency", yAxis="right"),
        ], 3 * WIDGET_WIDTH, y, region),
    ]


def pipeline_widgets(pipeline: MonitoredPipeline, state_machine_arn: str, y: int,
                     region: str) -> list[dict[str, Any]]:
    """The pipeline's row: executions started, succeeded, failed and timed out; ECS CPU and
    memory (Container Insights, cluster level)."""
    executions = [
        _metric("AWS/States", metric, "StateMachineArn", state_machine_arn, "Sum", label)
        for metric, label in (("ExecutionsStarted", "started"),
                              ("ExecutionsSucceeded", "succeeded"),
                              ("ExecutionsFailed", "failed"),
                              ("ExecutionsTimedOut", "timed out"))]
    resources = [
        _metric("ECS/ContainerInsights", metric, "ClusterName", pipeline.cluster_name,
                "Average", label)
        for metric, label in (("CpuUtilized", "CPU used (units)"),
                              ("CpuReserved", "CPU reserved (units)"),
                              ("MemoryUtilized", "memory used (MiB)"),
                              ("MemoryReserved", "memory reserved (MiB)"))]
    widgets = [
        _graph(f"{pipeline.name}: executions", executions, 0, y, region),
        {**_graph(f"{pipeline.name}: ECS CPU and memory", resources, WIDGET_WIDTH, y, region),
         "width": 2 * WIDGET_WIDTH},
    ]
    if pipeline.dlq_name:
        widgets.append(_graph(f"{pipeline.name}: schedule DLQ", [
            _metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                    pipeline.dlq_name, "Maximum", "undelivered schedule events")],
            3 * WIDGET_WIDTH, y, region))
    return widgets


def api_widgets(api: MonitoredApi, api_id: str, y: int, region: str) -> list[dict[str, Any]]:
    """The API's row: requests and 5xx; latency p50, p95 and p99; function errors."""
    fn = api.function_name
    return [
        _graph(f"{api.name}: requests and 5xx", [
            _metric("AWS/ApiGateway", "Count", "ApiId", api_id, "Sum", "requests"),
            _metric("AWS/ApiGateway", "5xx", "ApiId", api_id, "Sum", "5xx"),
            _metric("AWS/ApiGateway", "4xx", "ApiId", api_id, "Sum", "4xx"),
        ], 0, y, region),
        _graph(f"{api.name}: latency (ms)", [
            _metric("AWS/ApiGateway", "Latency", "ApiId", api_id, stat, stat)
            for stat in ("p50", "p95", "p99")
        ], WIDGET_WIDTH, y, region,
            annotations={"horizontal": [{"label": "p95 target",
                                         "value": API_LATENCY_P95_MS}]}),
        _graph(f"{api.name}: function invocations and errors", [
            _metric("AWS/Lambda", "Invocations", "FunctionName", fn, "Sum", "invocations"),
            _metric("AWS/Lambda", "Errors", "FunctionName", fn, "Sum", "errors"),
        ], 2 * WIDGET_WIDTH, y, region),
    ]


def dashboard_body(workers: Sequence[MonitoredWorker],
                   pipelines: Sequence[tuple[MonitoredPipeline, str]],
                   alarm_arns: Sequence[str], region: str,
                   apis: Sequence[tuple[MonitoredApi, str]] = ()) -> str:
    """The dashboard JSON: an alarm status row, then a row per worker and per pipeline."""
    widgets: list[dict[str, Any]] = []
    chunks = [list(alarm_arns[i:i + ALARMS_PER_STATUS_WIDGET])
              for i in range(0, len(alarm_arns), ALARMS_PER_STATUS_WIDGET)]
    y = 0
    for index, chunk in enumerate(chunks):
        widgets.append({"type": "alarm", "x": 0, "y": y, "width": 4 * WIDGET_WIDTH,
                        "height": WIDGET_HEIGHT,
                        "properties": {"title": "Alarm status" + (
                            f" ({index + 1}/{len(chunks)})" if len(chunks) > 1 else ""),
                            "alarms": chunk, "sortBy": "stateUpdatedTimestamp"}})
        y += WIDGET_HEIGHT
    for worker in workers:
        widgets += worker_widgets(worker, y, region)
        y += WIDGET_HEIGHT
    for pipeline, arn in pipelines:
        widgets += pipeline_widgets(pipeline, arn, y, region)
        y += WIDGET_HEIGHT
    for api, api_id in apis:
        widgets += api_widgets(api, api_id, y, region)
        y += WIDGET_HEIGHT
    return json.dumps({"widgets": widgets}, sort_keys=True)


# --- the component -----------------------------------------------------------------------------

class Monitoring(pulumi.ComponentResource):
    """The stack's alarm topic, worker alarms and dashboard.

    Outputs: ``topic_arn``, ``topic_name``, ``dashboard_name``, ``alarm_arns`` (name -> ARN of
    the alarms it created).
    """

    TYPE = "tandem:components:Monitoring"

    def __init__(self, name: str, args: MonitoringArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.args = args
        child = pulumi.ResourceOptions(parent=self)
        tags = {"tandem:app": args.app, "tandem:env": args.env, **args.tags}

        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        topic_name = check_length(f"{args.app}-{args.env}-alarms", "sns_topic")
        key_id = args.topic_kms_key_id
        self.topic_key = None
        if key_id is None:
            self.topic_key = aws.kms.Key(
                f"{name}-topic-key",
                description=f"{topic_name}: encrypts the alarm topic; CloudWatch alarms of "
                            "this account may use it",
                enable_key_rotation=True,
                policy=pulumi.Output.all(identity.account_id, region.region,
                                         partition.partition).apply(
                    lambda v: json.dumps({"Version": "2012-10-17", "Statement": [
                        # The default key policy: the account's IAM policies decide who may
                        # use the key ("kms:*" for the account root, as AWS writes it).
                        {"Sid": "EnableIamPolicies", "Effect": "Allow",
                         "Principal": {"AWS": f"arn:{v[2]}:iam::{v[0]}:root"},
                         "Action": "kms:*", "Resource": "*"},
                        alarm_topic_key_statement(v[0], v[1], v[2])]})),
                tags={**tags, "Name": topic_name, "tandem:workload": "monitoring"},
                opts=child)
            self.topic_key_alias = aws.kms.Alias(
                f"{name}-topic-key-alias", name=check_length(f"alias/{topic_name}", "kms_alias"),
                target_key_id=self.topic_key.key_id, opts=child)
            key_id = self.topic_key.arn

        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=topic_name,
            kms_master_key_id=key_id,
            tags={**tags, "tandem:workload": "monitoring"},
            opts=child)

        self.email_subscription = None
        if args.alarm_email:
            self.email_subscription = aws.sns.TopicSubscription(
                f"{name}-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=child)

        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for worker in args.workers:
            for spec in worker_alarm_specs(worker, args.thresholds):
                alarm_name = physical_name(args.app, args.env, worker.name, spec.suffix,
                                           "alarm")
                self.alarms[alarm_name] = aws.cloudwatch.MetricAlarm(
                    f"{worker.name}-{spec.suffix}",
                    name=alarm_name,
                    alarm_description=spec.description,
                    namespace=spec.namespace,
                    metric_name=spec.metric_name,
                    dimensions=spec.dimensions,
                    statistic=spec.statistic,
                    extended_statistic=spec.extended_statistic,
                    period=PERIOD_SECONDS,
                    evaluation_periods=spec.evaluation_periods,
                    datapoints_to_alarm=spec.evaluation_periods,
                    threshold=spec.threshold,
                    comparison_operator=spec.comparison,
                    treat_missing_data=spec.treat_missing_data,
                    alarm_actions=[self.topic.arn],
                    ok_actions=[self.topic.arn],
                    tags={**tags, "tandem:workload": worker.name},
                    opts=child)

        for api in args.apis:
            self._api_alarms(api, tags, child)

        def build(values: list[Any]) -> str:
            account_id, region_name, partition_name, *rest = values
            own = rest[:len(self.alarms)]
            given_arns = rest[len(self.alarms):len(self.alarms) + len(args.pipelines)]
            api_ids = rest[len(self.alarms) + len(args.pipelines):]
            pipeline_arns = []
            extra_alarms = []
            for pipeline, given in zip(args.pipelines, given_arns, strict=True):
                arn = given or (f"arn:{partition_name}:states:{region_name}:{account_id}:"
                                f"stateMachine:{pipeline.state_machine_name}")
                pipeline_arns.append((pipeline, arn))
                extra_alarms += [f"arn:{partition_name}:cloudwatch:{region_name}:{account_id}:"
                                 f"alarm:{alarm}" for alarm in pipeline.alarm_names]
            return dashboard_body(args.workers, pipeline_arns, [*own, *extra_alarms],
                                  region_name, list(zip(args.apis, api_ids, strict=True)))

        body = pulumi.Output.all(
            identity.account_id, region.region, partition.partition,
            *[alarm.arn for alarm in self.alarms.values()],
            *[pipeline.state_machine_arn for pipeline in args.pipelines],
            *[api.api_id for api in args.apis],
        ).apply(build)

        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=check_length(f"{args.app}-{args.env}", "dashboard"),
            dashboard_body=body,
            opts=child)

        self.topic_arn = self.topic.arn
        self.topic_name = self.topic.name
        self.dashboard_name = self.dashboard.dashboard_name
        self.alarm_arns = {alarm_name: alarm.arn for alarm_name, alarm in self.alarms.items()}
        self.register_outputs({
            "topic_arn": self.topic_arn, "topic_name": self.topic_name,
            "dashboard_name": self.dashboard_name, "alarm_arns": self.alarm_arns,
        })


    def _api_alarms(self, api: MonitoredApi, tags: dict[str, str],
                    child: pulumi.ResourceOptions) -> None:
        """The API's three alarms: 5xx rate (metric math), p95 latency, function errors."""
        args = self.args
        common = {"alarm_actions": [self.topic.arn], "ok_actions": [self.topic.arn],
                  "tags": {**tags, "tandem:workload": api.name}, "opts": child}

        def name(suffix: str) -> str:
            return physical_name(args.app, args.env, api.name, suffix, "alarm")

        def api_metric(metric: str) -> dict[str, Any]:
            return {"metric": {"namespace": "AWS/ApiGateway", "metric_name": metric,
                               "dimensions": {"ApiId": api.api_id},
                               "period": API_5XX_PERIOD_SECONDS, "stat": "Sum"},
                    "return_data": False}

        self.alarms[name("server-error-rate")] = aws.cloudwatch.MetricAlarm(
            f"{api.name}-server-error-rate", name=name("server-error-rate"),
            alarm_description=f"{api.name}: more than {API_5XX_RATE_PERCENT}% of requests "
                              f"answered 5xx over {API_5XX_PERIOD_SECONDS // 60} minutes",
            metric_queries=[
                {"id": "errors", **api_metric("5xx")},
                {"id": "requests", **api_metric("Count")},
                {"id": "rate", "expression": "100 * errors / requests",
                 "label": "5xx rate (%)", "return_data": True},
            ],
            evaluation_periods=1, datapoints_to_alarm=1, threshold=API_5XX_RATE_PERCENT,
            comparison_operator="GreaterThanThreshold",
            # No requests means no 5xx: an idle API is healthy.
            treat_missing_data="notBreaching", **common)
        self.alarms[name("latency-p95")] = aws.cloudwatch.MetricAlarm(
            f"{api.name}-latency-p95", name=name("latency-p95"),
            alarm_description=f"{api.name}: p95 latency above {API_LATENCY_P95_MS} ms",
            namespace="AWS/ApiGateway", metric_name="Latency",
            dimensions={"ApiId": api.api_id}, extended_statistic="p95",
            period=PERIOD_SECONDS, evaluation_periods=API_LATENCY_EVALUATION_PERIODS,
            datapoints_to_alarm=API_LATENCY_EVALUATION_PERIODS, threshold=API_LATENCY_P95_MS,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching", **common)  # no requests: nothing slow
        self.alarms[name("errors")] = aws.cloudwatch.MetricAlarm(
            f"{api.name}-errors", name=name("errors"),
            alarm_description=f"{api.name}: {api.function_name} reported errors",
            namespace="AWS/Lambda", metric_name="Errors",
            dimensions={"FunctionName": api.function_name}, statistic="Sum",
            period=PERIOD_SECONDS, evaluation_periods=1, datapoints_to_alarm=1, threshold=0,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data=LAMBDA_MISSING_DATA, **common)


# --- plan checks (duck-typed over infra.plan.Plan: no import of infra) ---------------------------

ALARM_TYPE = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD_TYPE = "aws:cloudwatch/dashboard:Dashboard"
#: Dashboard metric dimension -> (resource type, where the value is in the plan entry) that
#: dimension must name.
DIMENSION_RESOURCES: dict[str, tuple[str, str]] = {
    "QueueName": ("aws:sqs/queue:Queue", "name"),
    "FunctionName": ("aws:lambda/function:Function", "name"),
    "StateMachineArn": ("aws:sfn/stateMachine:StateMachine", "arn"),
    "ClusterName": ("aws:ecs/cluster:Cluster", "name"),
    "ApiId": ("aws:apigatewayv2/api:Api", "id"),
}


def _value(entry: Any, key: str) -> Any:
    return (entry.outputs or {}).get(key, (entry.inputs or {}).get(key))


def dashboard_metrics(body: str) -> list[tuple[str, str, dict[str, str]]]:
    """``(namespace, metric, dimensions)`` for every metric of a dashboard body."""
    found = []
    for widget in json.loads(body).get("widgets", []):
        for metric in (widget.get("properties") or {}).get("metrics") or []:
            plain = [part for part in metric if not isinstance(part, dict)]
            namespace, name, *pairs = plain
            found.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return found


def dashboard_alarms(body: str) -> set[str]:
    """The alarm ARNs the dashboard's alarm status widgets list."""
    return {arn for widget in json.loads(body).get("widgets", [])
            if widget.get("type") == "alarm"
            for arn in (widget.get("properties") or {}).get("alarms") or []}


def dashboard_problems(plan: Any, required: Sequence[str] = tuple(DIMENSION_RESOURCES)
                       ) -> list[str]:
    """What the plan's dashboard misses or gets wrong; empty when it covers the stack.

    - every metric dimension listed in :data:`DIMENSION_RESOURCES` names a planned resource;
    - every planned resource of the ``required`` dimensions' types (by default every queue,
      function, state machine and ECS cluster) appears in some metric: a worker added without
      being passed to Monitoring fails here;
    - every planned metric alarm is in the alarm status widget, and the widget lists no alarm
      that is not planned.
    """
    resources = plan.resources
    dashboards = [e for e in resources if e.type == DASHBOARD_TYPE]
    if len(dashboards) != 1:
        return [f"expected one dashboard, the plan has {len(dashboards)}"]
    body = dashboards[0].inputs["dashboardBody"]
    problems = []
    planned = {dimension: {_value(e, key) for e in resources if e.type == type_}
               for dimension, (type_, key) in DIMENSION_RESOURCES.items()}
    shown: dict[str, set[str]] = {dimension: set() for dimension in DIMENSION_RESOURCES}
    for namespace, name, dimensions in dashboard_metrics(body):
        for dimension, value in dimensions.items():
            if dimension not in DIMENSION_RESOURCES:
                problems.append(f"metric {namespace}/{name}: dimension {dimension} is not "
                                "checked against the plan")
                continue
            shown[dimension].add(value)
            if value not in planned[dimension]:
                problems.append(f"metric {namespace}/{name}: {dimension}={value} names no "
                                f"{DIMENSION_RESOURCES[dimension][0]} in the plan")
    for dimension in required:
        for value in sorted(planned[dimension] - shown[dimension]):
            problems.append(f"{DIMENSION_RESOURCES[dimension][0]} {value} is not on the "
                            "dashboard")
    alarms = {_value(e, "arn") for e in resources if e.type == ALARM_TYPE}
    listed = dashboard_alarms(body)
    problems += [f"alarm {arn} is not in the alarm status widget"
                 for arn in sorted(alarms - listed)]
    problems += [f"alarm status widget lists {arn}, which is not in the plan"
                 for arn in sorted(listed - alarms)]
    return problems


def alarm_action_problems(plan: Any, topic_arn: str | None = None) -> list[str]:
    """Alarms whose ALARM or OK actions do not send to the alarm topic (by default the plan's
    one ``*-alarms`` SNS topic)."""
    if topic_arn is None:
        topics = [_value(e, "arn") for e in plan.resources if e.type == "aws:sns/topic:Topic"
                  and str(e.inputs.get("name", "")).endswith("-alarms")]
        if len(topics) != 1:
            return [f"expected one alarm topic, the plan has {len(topics)}"]
        topic_arn = topics[0]
    problems = []
    for entry in plan.resources:
        if entry.type != ALARM_TYPE:
            continue
        for key in ("alarmActions", "okActions"):
            if topic_arn not in (entry.inputs.get(key) or []):
                problems.append(f"{entry.path}: {key} does not include {topic_arn}")
    return problems
