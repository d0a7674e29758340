"""Progressive validation of a deployed worker: 1, then 6, then 20 messages.

Each step sends that many probe messages (unique job ids, in batches of 10), waits until the
queue shows nothing visible and nothing in flight, and checks that the DLQ is still empty.
It stops at the first failed step. Probe bodies carry ``"tandem_validation": true``; the
workers' shared layer acknowledges them without doing real work (no model call), so a
validation never costs Bedrock tokens.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.errors import TandemError
from infra.plan import Plan

QUEUE = "aws:sqs/queue:Queue"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
SQS_BATCH_LIMIT = 10  # SendMessageBatch takes at most 10 entries (SQS quota)
DEFAULT_STEPS = (1, 6, 20)
DEFAULT_TIMEOUT = 120.0
POLL_SECONDS = 0.2


class ValidationError(TandemError):
    """The worker cannot be validated (unknown worker, queue not found)."""


@dataclass
class StepResult:
    """One step: how many messages, how long, and why it failed (if it did)."""

    messages: int
    passed: bool
    seconds: float
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else float(self.messages)


@dataclass
class ValidationReport:
    """Every step run, in order (the failed one last)."""

    stack: str
    worker: str
    queue: str
    dlq: str
    steps: list[StepResult] = field(default_factory=list)
    preflight: str = ""

    @property
    def passed(self) -> bool:
        return not self.preflight and bool(self.steps) and all(s.passed for s in self.steps)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 2

    def to_dict(self) -> dict[str, Any]:
        return {"schema": 1, "stack": self.stack, "worker": self.worker, "queue": self.queue,
                "dlq": self.dlq, "passed": self.passed, "preflight": self.preflight or None,
                "steps": [{"messages": s.messages, "passed": s.passed,
                           "seconds": round(s.seconds, 3), "messagesPerSecond": round(s.rate, 1),
                           "detail": s.detail or None} for s in self.steps]}


def worker_queues(plan: Plan, worker: str) -> tuple[str, str]:
    """Physical names of the worker's source queue and its DLQ, from the plan."""
    children = [e for e in plan.resources if e.parent == worker]
    if not children:
        workers = sorted({e.parent for e in plan.resources if e.type == MAPPING and e.parent})
        raise ValidationError(f"no worker '{worker}' in stack {plan.stack}; workers: "
                              f"{', '.join(workers) or 'none'}")
    queues = {e.outputs.get("arn"): e for e in children if e.type == QUEUE}
    mapping = next((e for e in children if e.type == MAPPING), None)
    source = queues.get(mapping.inputs.get("eventSourceArn")) if mapping else None
    if source is None:
        raise ValidationError(f"worker '{worker}' has no queue feeding a function")
    redrive = json.loads(source.inputs.get("redrivePolicy") or "{}")
    dlq = queues.get(redrive.get("deadLetterTargetArn"))
    if dlq is None:
        raise ValidationError(f"worker '{worker}': queue {source.physical_name} has no DLQ")
    return source.physical_name, dlq.physical_name


def _depth(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return (int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]))


def _send(sqs: Any, url: str, count: int, step: int) -> None:
    jobs = [str(uuid.uuid4()) for _ in range(count)]
    for start in range(0, count, SQS_BATCH_LIMIT):
        batch = jobs[start:start + SQS_BATCH_LIMIT]
        result = sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": json.dumps(
                {"tandem_validation": True, "job_id": job, "step": step})}
            for i, job in enumerate(batch)])
        if result.get("Failed"):
            failure = result["Failed"][0]
            raise ValidationError(f"sending to {url} failed: {failure.get('Code')} "
                                  f"{failure.get('Message', '')}".strip())


def validate_worker(plan: Plan, session: Any, worker: str,
                    steps: tuple[int, ...] = DEFAULT_STEPS, timeout: float = DEFAULT_TIMEOUT,
                    on_step: Callable[[str, int, int], None] | None = None
                    ) -> ValidationReport:
    """Run the steps against the live worker; ``on_step(phase, step_index, messages)``
    reports progress."""
    queue_name, dlq_name = worker_queues(plan, worker)
    sqs = session.client("sqs")
    try:
        queue = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        dlq = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
    except Exception as err:  # botocore ClientError: the stack is not deployed here
        raise ValidationError(f"worker '{worker}' is not deployed: {err}") from None
    report = ValidationReport(plan.stack, worker, queue_name, dlq_name)
    waiting = sum(_depth(sqs, dlq))
    if waiting:
        report.preflight = (f"the DLQ {dlq_name} already holds {waiting} message(s); "
                            "inspect and purge it before validating")
        return report
    for index, count in enumerate(steps):
        if on_step:
            on_step("send", index, count)
        started = time.monotonic()
        _send(sqs, queue, count, index + 1)
        visible = in_flight = -1
        while time.monotonic() - started < timeout:
            visible, in_flight = _depth(sqs, queue)
            if visible == 0 and in_flight == 0:
                break
            time.sleep(POLL_SECONDS)
        seconds = time.monotonic() - started
        if visible or in_flight:
            report.steps.append(StepResult(count, False, seconds,
                                           f"queue did not drain in {timeout:g} s: {visible} "
                                           f"visible, {in_flight} in flight"))
            return report
        dead = sum(_depth(sqs, dlq))
        if dead:
            report.steps.append(StepResult(count, False, seconds,
                                           f"{dead} message(s) reached the DLQ {dlq_name}"))
            return report
        report.steps.append(StepResult(count, True, seconds))
        if on_step:
            on_step("done", index, count)
    return report
