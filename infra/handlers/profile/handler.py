"""Profile worker: summarises one user profile per message with a Bedrock model.

Message body: ``{"profile_id": "...", "text": "..."}``. One record a batch (batch size 1).
"""

from __future__ import annotations

from typing import Any

from tandem_worker import model_ids, parse_body, process_sqs_batch

_bedrock = None


def _client():
    global _bedrock
    if _bedrock is None:
        import boto3

        _bedrock = boto3.client("bedrock-runtime")
    return _bedrock


def summarise(body: dict[str, Any], client=None) -> str:
    """Ask the first allowed model for a one-paragraph summary of the profile text."""
    client = client or _client()
    models = model_ids()
    if not models:
        raise RuntimeError("BEDROCK_MODEL_IDS is not set")
    response = client.converse(
        modelId=models[0],
        messages=[{"role": "user", "content": [
            {"text": f"Summarise this profile in one paragraph:\n{body['text']}"}]}],
        inferenceConfig={"maxTokens": 512})
    return response["output"]["message"]["content"][0]["text"]


def handler(event: dict[str, Any], context: Any = None, client=None) -> dict[str, list]:
    """Lambda entry point: returns the partial-batch response for the SQS event."""
    def process(record: dict[str, Any]) -> None:
        body = parse_body(record, ("profile_id", "text"))
        summarise(body, client)

    return process_sqs_batch(event, process)
