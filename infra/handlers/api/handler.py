"""API function: accepts an analysis request over HTTP and queues it for the analysis worker.

``POST /analyses`` with ``{"document_id": "...", "content": "..."}`` answers 202 with a job id;
the message goes to ``ANALYSIS_QUEUE_URL``. Anything else is a 4xx with a JSON error.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

_sqs = None


def _client():
    global _sqs
    if _sqs is None:
        import boto3

        _sqs = boto3.client("sqs")
    return _sqs


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps(body)}


def handler(event: dict[str, Any], context: Any = None, client=None) -> dict[str, Any]:
    """HTTP API (payload 2.0) entry point."""
    http = (event.get("requestContext") or {}).get("http") or {}
    if http.get("method") != "POST" or http.get("path") != "/analyses":
        return _response(404, {"error": "POST /analyses is the only route"})
    try:
        body = json.loads(event.get("body") or "")
    except ValueError:
        return _response(400, {"error": "body must be JSON"})
    if not isinstance(body, dict) or not body.get("document_id") or not isinstance(
            body.get("content"), str):
        return _response(400, {"error": "document_id and content are required"})
    job_id = str(uuid.uuid4())
    (client or _client()).send_message(
        QueueUrl=os.environ["ANALYSIS_QUEUE_URL"],
        MessageBody=json.dumps({"job_id": job_id, "document_id": body["document_id"],
                                "content": body["content"]}))
    return _response(202, {"job_id": job_id})
