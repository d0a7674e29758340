"""Analysis worker: classifies documents with a Bedrock model, several per batch.

Message body: ``{"document_id": "...", "content": "..."}``.
"""

from __future__ import annotations

from typing import Any

from tandem_worker import BadMessage, model_ids, parse_body, process_sqs_batch

MAX_CONTENT_CHARS = 100_000  # keeps one request well inside the model's context window

_bedrock = None


def _client():
    global _bedrock
    if _bedrock is None:
        import boto3

        _bedrock = boto3.client("bedrock-runtime")
    return _bedrock


def classify(body: dict[str, Any], client=None) -> str:
    """Return the label the fastest allowed model gives the document."""
    content = body["content"]
    if not isinstance(content, str) or not content.strip():
        raise BadMessage("content must be a non-empty string")
    if len(content) > MAX_CONTENT_CHARS:
        raise BadMessage(f"content is over {MAX_CONTENT_CHARS} characters")
    client = client or _client()
    models = model_ids()
    if not models:
        raise RuntimeError("BEDROCK_MODEL_IDS is not set")
    response = client.converse(
        modelId=models[-1],
        messages=[{"role": "user", "content": [
            {"text": f"Label this document with one word:\n{content}"}]}],
        inferenceConfig={"maxTokens": 16})
    return response["output"]["message"]["content"][0]["text"].strip()


def handler(event: dict[str, Any], context: Any = None, client=None) -> dict[str, list]:
    """Lambda entry point: returns the partial-batch response for the SQS event."""
    def process(record: dict[str, Any]) -> None:
        classify(parse_body(record, ("document_id", "content")), client)

    return process_sqs_batch(event, process)
