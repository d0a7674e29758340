"""`tandem validate` on the emulator: passes on a deployed worker, fails where it must."""

from __future__ import annotations

import json

import pytest
from emulator_client import client

from infra.cli import run
from infra.local import configure_emulator, reset_emulator

REGION = "us-east-1"


@pytest.fixture
def deployed(emulator, workers_slice, capsys):
    reset_emulator(emulator.endpoint_url)
    configure_emulator(emulator.endpoint_url)
    assert run(["--project-dir", str(workers_slice), "local", "up", "--stack", "staging",
                "--endpoint-url", emulator.endpoint_url, "--format", "json"]) == 0
    capsys.readouterr()
    return emulator


def validate(emulator, project, capsys, *extra):
    code = run(["--project-dir", str(project), "validate", "--stack", "staging", "--worker",
                "profile", "--endpoint-url", emulator.endpoint_url, "--format", "json",
                *extra])
    return code, json.loads(capsys.readouterr().out)


def test_validate_passes_on_a_deployed_worker(deployed, workers_slice, capsys):
    code, report = validate(deployed, workers_slice, capsys)
    assert code == 0 and report["passed"] is True
    assert [s["messages"] for s in report["steps"]] == [1, 6, 20]
    assert all(s["passed"] and s["messagesPerSecond"] > 0 for s in report["steps"])


def test_validate_fails_at_step_one_when_the_mapping_is_disabled(deployed, workers_slice, capsys):
    lam = client(deployed, "lambda")
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        if mapping["EventSourceArn"].endswith(":acme-staging-profile-queue"):
            lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    code, report = validate(deployed, workers_slice, capsys, "--timeout", "1")
    assert code == 2 and report["passed"] is False
    assert len(report["steps"]) == 1
    assert report["steps"][0]["detail"].startswith("queue did not drain in 1 s: 1 visible")


def test_validate_fails_when_a_message_is_already_in_the_dlq(deployed, workers_slice, capsys):
    sqs = client(deployed, "sqs")
    dlq = sqs.get_queue_url(QueueName="acme-staging-profile-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    code, report = validate(deployed, workers_slice, capsys)
    assert code == 2
    assert report["preflight"].startswith("the DLQ acme-staging-profile-dlq already holds 1")
    assert report["steps"] == []


def test_unknown_worker_is_one_line_exit_1(deployed, workers_slice, capsys):
    code = run(["--project-dir", str(workers_slice), "validate", "--stack", "staging",
                "--worker", "billing", "--endpoint-url", deployed.endpoint_url])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err == "error: no worker 'billing' in stack staging; workers: analysis, profile"


def test_bad_steps_are_a_usage_error(root, capsys):
    code = run(["--project-dir", str(root), "validate", "--stack", "staging", "--worker",
                "profile", "--steps", "1,x"])
    assert code == 1
    assert "'1,x' is not a comma-separated list of integers" in capsys.readouterr().err
