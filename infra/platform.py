"""The reference platform, composed from tandem's components.

``build(cfg)`` declares the same resources for every stack; the stack config only sizes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.api import ApiFunction, ApiFunctionArgs
from components.monitoring import (
    MonitoredApi,
    MonitoredPipeline,
    MonitoredWorker,
    Monitoring,
    MonitoringArgs,
)
from components.naming import physical_name
from components.pipeline import StepPipeline, StepPipelineArgs, pipeline_names
from components.worker import DEFAULT_RUNTIME, QueueWorker, QueueWorkerArgs
from infra.config import StackConfig
from infra.workloads import API_HANDLER_DIR, COMMON_LAYER_DIR, PIPELINES, WORKERS

#: The env whose stateful resources (queues holding messages) are protected from deletion.
PROTECTED_ENV = "prod"


@dataclass
class Platform:
    """What ``build`` declared, for exports and tests."""

    common_layer: aws.lambda_.LayerVersion
    workers: dict[str, QueueWorker]
    api: ApiFunction
    monitoring: Monitoring
    pipelines: dict[str, StepPipeline]


def build(cfg: StackConfig) -> Platform:
    """Declare the platform for one stack."""
    layer = build_layer(cfg)
    workers = build_workers(cfg, layer)
    api = build_api(cfg, workers["analysis"])
    # Monitoring comes before the pipelines: their own alarms go to its topic.
    monitoring = build_monitoring(cfg, workers, [api], list(PIPELINES))
    pipelines = build_pipelines(cfg, monitoring.topic_arn)
    return Platform(common_layer=layer, workers=workers, api=api, monitoring=monitoring,
                    pipelines=pipelines)


def build_layer(cfg: StackConfig) -> aws.lambda_.LayerVersion:
    """The shared layer every worker loads (the ``tandem_worker`` package)."""
    return aws.lambda_.LayerVersion(
        "common-layer",
        layer_name=physical_name(cfg.app, cfg.env, "common", "layer", "lambda_layer"),
        code=pulumi.FileArchive(str(COMMON_LAYER_DIR)),
        compatible_runtimes=[DEFAULT_RUNTIME],
        description="tandem_worker: shared SQS batch handling for the workers")


def build_workers(cfg: StackConfig, layer: aws.lambda_.LayerVersion) -> dict[str, QueueWorker]:
    """One QueueWorker per entry of :data:`WORKERS`, sized by the stack."""
    workers = {}
    for name, spec in WORKERS.items():
        sizing = cfg.sizing(name)
        workers[name] = QueueWorker(name, QueueWorkerArgs(
            app=cfg.app,
            env=cfg.env,
            code_dir=str(spec.handler_dir),
            timeout_seconds=spec.timeout_seconds,
            memory_mb=sizing.memory or spec.memory_mb,
            batch_size=sizing.batch_size or spec.batch_size,
            reserved_concurrency=sizing.reserved_concurrency,
            max_concurrency=sizing.max_concurrency,
            log_retention_days=cfg.log_retention_days,
            bedrock=spec.bedrock,
            layers=[layer.arn],
            protect_queues=cfg.env == PROTECTED_ENV,
        ))
    return workers


def build_api(cfg: StackConfig, analysis: QueueWorker) -> ApiFunction:
    """The API function, which queues analyses for the analysis worker."""
    return ApiFunction("api", ApiFunctionArgs(
        app=cfg.app,
        env=cfg.env,
        code_dir=str(API_HANDLER_DIR),
        environment={"ANALYSIS_QUEUE_URL": analysis.queue_url},
        # The API only queues analyses: SendMessage on that one queue, nothing else.
        extra_statements=[{"Sid": "QueueAnalyses", "Effect": "Allow",
                           "Action": ["sqs:SendMessage"], "Resource": analysis.queue_arn}],
        log_retention_days=cfg.log_retention_days,
    ))


def build_monitoring(cfg: StackConfig, workers: dict[str, QueueWorker],
                     apis: list[ApiFunction], pipelines: list[str]) -> Monitoring:
    """Alarms and the dashboard for everything the platform declares, so a new worker, API
    or pipeline is monitored without anyone remembering to add it. Pipelines are described by
    their names, which are known before they are declared."""
    names = {name: pipeline_names(cfg.app, cfg.env, name) for name in pipelines}
    return Monitoring("monitoring", MonitoringArgs(
        app=cfg.app,
        env=cfg.env,
        workers=[MonitoredWorker.from_queue_worker(w) for w in workers.values()],
        apis=[MonitoredApi.from_api_function(api) for api in apis],
        pipelines=[MonitoredPipeline(name, cluster_name=n.cluster_name,
                                     state_machine_name=n.state_machine_name,
                                     alarm_names=n.alarm_names,
                                     dlq_name=n.schedule_dlq_name)
                   for name, n in names.items()],
        thresholds=cfg.alarm_thresholds,
        alarm_email=cfg.alarm_email,
    ))


def build_pipelines(cfg: StackConfig, topic_arn: pulumi.Input[str]) -> dict[str, StepPipeline]:
    """One StepPipeline per entry of :data:`PIPELINES`, in the stack's network."""
    pipelines = {}
    for name, spec in PIPELINES.items():
        settings = cfg.pipelines[name]
        sizing = {"cpu": settings.cpu, "memory_mb": settings.memory}
        pipelines[name] = StepPipeline(name, StepPipelineArgs(
            app=cfg.app,
            env=cfg.env,
            steps=list(spec.steps),
            vpc_id=cfg.network.vpc_id,
            subnet_ids=list(cfg.network.private_subnet_ids),
            image_tag=settings.image_tag,
            schedule_enabled=settings.schedule_enabled,
            log_retention_days=cfg.log_retention_days,
            alarm_actions=[topic_arn],
            protect=cfg.env == PROTECTED_ENV,
            **{k: v for k, v in sizing.items() if v is not None},
        ))
    return pipelines
