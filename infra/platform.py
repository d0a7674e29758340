"""The reference platform, composed from tandem's components.

``build(cfg)`` declares the same resources for every stack; the stack config only sizes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.api import ApiFunction, ApiFunctionArgs
from components.monitoring import MonitoredApi, MonitoredWorker, Monitoring, MonitoringArgs
from components.naming import physical_name
from components.worker import DEFAULT_RUNTIME, QueueWorker, QueueWorkerArgs
from infra.config import StackConfig
from infra.workloads import API_HANDLER_DIR, COMMON_LAYER_DIR, WORKERS

#: The env whose stateful resources (queues holding messages) are protected from deletion.
PROTECTED_ENV = "prod"


@dataclass
class Platform:
    """What ``build`` declared, for exports and tests."""

    common_layer: aws.lambda_.LayerVersion
    workers: dict[str, QueueWorker]
    api: ApiFunction
    monitoring: Monitoring


def build(cfg: StackConfig) -> Platform:
    """Declare the platform for one stack."""
    layer = aws.lambda_.LayerVersion(
        "common-layer",
        layer_name=physical_name(cfg.app, cfg.env, "common", "layer", "lambda_layer"),
        code=pulumi.FileArchive(str(COMMON_LAYER_DIR)),
        compatible_runtimes=[DEFAULT_RUNTIME],
        description="tandem_worker: shared SQS batch handling for the workers")

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
    analysis = workers["analysis"]
    api = ApiFunction("api", ApiFunctionArgs(
        app=cfg.app,
        env=cfg.env,
        code_dir=str(API_HANDLER_DIR),
        environment={"ANALYSIS_QUEUE_URL": analysis.queue_url},
        # The API only queues analyses: SendMessage on that one queue, nothing else.
        extra_statements=[{"Sid": "QueueAnalyses", "Effect": "Allow",
                           "Action": ["sqs:SendMessage"], "Resource": analysis.queue_arn}],
        log_retention_days=cfg.log_retention_days,
    ))
    # Everything declared above is monitored: a new worker or API shows up on the dashboard
    # and gets its alarms without anyone remembering to add them.
    monitoring = Monitoring("monitoring", MonitoringArgs(
        app=cfg.app,
        env=cfg.env,
        workers=[MonitoredWorker.from_queue_worker(w) for w in workers.values()],
        apis=[MonitoredApi.from_api_function(api)],
        thresholds=cfg.alarm_thresholds,
        alarm_email=cfg.alarm_email,
    ))
    return Platform(common_layer=layer, workers=workers, api=api, monitoring=monitoring)
