"""Shared runtime code for tandem's worker Lambdas, shipped as the common layer.

``process_sqs_batch`` runs one function per SQS record and returns the partial-batch response
(``batchItemFailures``) that the event source mapping's ``ReportBatchItemFailures`` expects, so
only the records that failed return to the queue.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("tandem_worker")


class BadMessage(ValueError):
    """A record that can never succeed (malformed body); it still goes back to the queue so
    that, after maxReceiveCount receives, it lands in the DLQ for inspection."""


def parse_body(record: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    """The record's JSON body, checked to be an object holding every ``required`` key."""
    try:
        body = json.loads(record.get("body") or "")
    except ValueError as err:
        raise BadMessage(f"body is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise BadMessage("body must be a JSON object")
    missing = [key for key in required if key not in body]
    if missing:
        raise BadMessage(f"body lacks {', '.join(missing)}")
    return body


def is_validation_probe(record: dict[str, Any]) -> bool:
    """Whether the record is a ``tandem validate`` probe (acknowledged, never processed)."""
    try:
        body = json.loads(record.get("body") or "")
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("tandem_validation") is True


def process_sqs_batch(event: dict[str, Any],
                      process: Callable[[dict[str, Any]], None]) -> dict[str, list]:
    """Call ``process`` on each record; report the message ids of the ones that raised.
    ``tandem validate`` probes are acknowledged without calling ``process``."""
    failures = []
    for record in event.get("Records") or []:
        message_id = record.get("messageId")
        if is_validation_probe(record):
            logger.info("validation probe %s acknowledged", message_id)
            continue
        try:
            process(record)
        except Exception:  # noqa: BLE001 - any failure must only fail this one record
            logger.exception("record %s failed", message_id)
            if message_id:
                failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def model_ids() -> list[str]:
    """The Bedrock model ids this worker may call, set by QueueWorker from the shared list."""
    return [m for m in os.environ.get("BEDROCK_MODEL_IDS", "").split(",") if m]
