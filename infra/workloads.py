"""What the reference platform contains, decided once in code for every stack.

A stack file may size these workers (the keys in :data:`WORKER_SIZING_KEYS`) but can neither
add nor remove one: an unknown worker name in a stack file is a config error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HANDLERS_DIR = Path(__file__).resolve().parent / "handlers"
LAYERS_DIR = Path(__file__).resolve().parent / "layers"


@dataclass(frozen=True)
class WorkerSpec:
    """A worker of the reference platform: its code and the defaults stacks may resize."""

    handler_dir: Path
    bedrock: bool
    timeout_seconds: int
    batch_size: int
    memory_mb: int = 256


WORKERS: dict[str, WorkerSpec] = {
    # One profile per message: a Bedrock call per record, retried on its own.
    "profile": WorkerSpec(HANDLERS_DIR / "profile", bedrock=True, timeout_seconds=60,
                          batch_size=1),
    "analysis": WorkerSpec(HANDLERS_DIR / "analysis", bedrock=True, timeout_seconds=120,
                           batch_size=5, memory_mb=512),
}

@dataclass(frozen=True)
class PipelineSpec:
    """A Step Functions + ECS pipeline of the reference platform: its steps, in order."""

    steps: tuple[str, ...]


PIPELINES: dict[str, PipelineSpec] = {
    # The organisation evaluation run: six steps, 6 to 17 minutes in all.
    "org-eval": PipelineSpec(steps=("get-or-create-batch", "check-balance", "start-batch",
                                    "run-questions", "track-usage", "complete-batch")),
}

#: Per-pipeline keys a stack file may set under ``tandem:pipelines.<name>``: key -> kind.
PIPELINE_KEYS: dict[str, str] = {
    "scheduleEnabled": "boolean",  # schedules on or off per stack
    "imageTag": "string",          # the image promoted into this stack
    "cpu": "integer",              # Fargate sizing
    "memory": "integer",
}

#: Per-worker keys a stack file may set under ``tandem:workers.<name>``, with their ranges.
WORKER_SIZING_KEYS: dict[str, tuple[int, int]] = {
    "reservedConcurrency": (1, 10_000),
    "memory": (128, 10_240),
    "batchSize": (1, 10_000),
    "maxConcurrency": (2, 1000),
}

#: The API function's handler.
API_HANDLER_DIR = HANDLERS_DIR / "api"

#: The shared dependency layer every worker loads.
COMMON_LAYER_DIR = LAYERS_DIR / "common"
