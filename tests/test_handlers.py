"""The workers' handlers and the shared layer code, run as plain Python."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "infra" / "layers" / "common" / "python"))


def _load(worker: str):
    spec = importlib.util.spec_from_file_location(
        f"{worker}_handler", ROOT / "infra" / "handlers" / worker / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeBedrock:
    def __init__(self, fail_on: str | None = None):
        self.calls = []
        self.fail_on = fail_on

    def converse(self, modelId, messages, inferenceConfig):
        self.calls.append(modelId)
        text = messages[0]["content"][0]["text"]
        if self.fail_on and self.fail_on in text:
            raise RuntimeError("throttled")
        return {"output": {"message": {"content": [{"text": "label"}]}}}


def _event(*bodies):
    return {"Records": [{"messageId": f"m{i}", "body": b if isinstance(b, str) else
                         json.dumps(b)} for i, b in enumerate(bodies)]}


@pytest.fixture(autouse=True)
def models(monkeypatch):
    monkeypatch.setenv("BEDROCK_MODEL_IDS", "us.model-a,us.model-b")


def test_profile_reports_only_failed_records():
    handler = _load("profile")
    client = FakeBedrock()
    result = handler.handler(_event({"profile_id": "p1", "text": "hi"}, "not json",
                                    {"profile_id": "p3"}), client=client)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"},
                                            {"itemIdentifier": "m2"}]}
    assert client.calls == ["us.model-a"]


def test_analysis_fails_records_whose_model_call_fails():
    handler = _load("analysis")
    client = FakeBedrock(fail_on="boom")
    result = handler.handler(_event({"document_id": "d1", "content": "fine"},
                                    {"document_id": "d2", "content": "boom"},
                                    {"document_id": "d3", "content": "   "}), client=client)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"},
                                            {"itemIdentifier": "m2"}]}
    assert client.calls == ["us.model-b", "us.model-b"]


def test_empty_event_has_no_failures():
    assert _load("analysis").handler({}, client=FakeBedrock()) == {"batchItemFailures": []}


def test_missing_model_list_fails_the_record(monkeypatch):
    monkeypatch.setenv("BEDROCK_MODEL_IDS", "")
    result = _load("profile").handler(_event({"profile_id": "p", "text": "t"}),
                                      client=FakeBedrock())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}


def test_validation_probes_are_acknowledged_without_model_calls():
    client = FakeBedrock()
    result = _load("profile").handler(_event({"tandem_validation": True, "job_id": "j1"},
                                             {"tandem_validation": "yes"}), client=client)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert client.calls == []


def test_api_queues_valid_requests_and_rejects_others(monkeypatch):
    monkeypatch.setenv("ANALYSIS_QUEUE_URL", "https://sqs/q")
    api = _load("api")

    class FakeSqs:
        sent = []

        def send_message(self, QueueUrl, MessageBody):
            self.sent.append((QueueUrl, json.loads(MessageBody)))

    sqs = FakeSqs()

    def request(method, path, body):
        return {"requestContext": {"http": {"method": method, "path": path}}, "body": body}

    accepted = api.handler(request("POST", "/analyses", json.dumps(
        {"document_id": "d1", "content": "text"})), client=sqs)
    assert accepted["statusCode"] == 202
    job = json.loads(accepted["body"])["job_id"]
    assert sqs.sent == [("https://sqs/q", {"job_id": job, "document_id": "d1",
                                           "content": "text"})]
    assert api.handler(request("POST", "/analyses", "{bad"), client=sqs)["statusCode"] == 400
    assert api.handler(request("POST", "/analyses", "{}"), client=sqs)["statusCode"] == 400
    assert api.handler(request("GET", "/analyses", ""), client=sqs)["statusCode"] == 404
    assert len(sqs.sent) == 1
