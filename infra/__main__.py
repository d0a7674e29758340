"""The stack program: what ``pulumi up`` runs (through the root ``__main__.py``)."""

from __future__ import annotations

import pulumi

from infra.adoption import adopt
from infra.config import StackConfig
from infra.platform import build


def main() -> None:
    """Build the platform from the stack's config and export the key outputs."""
    cfg = StackConfig.from_pulumi()
    adopt(cfg.imports)
    platform = build(cfg)
    pulumi.export("commonLayerArn", platform.common_layer.arn)
    pulumi.export("apiEndpoint", platform.api.api_endpoint)
    pulumi.export("apiFunctionName", platform.api.function_name)
    for name, worker in platform.workers.items():
        pulumi.export(f"{name}QueueUrl", worker.queue_url)
        pulumi.export(f"{name}DlqUrl", worker.dlq_url)
        pulumi.export(f"{name}FunctionName", worker.function_name)


if __name__ == "__main__":
    main()
