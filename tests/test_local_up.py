"""`tandem local up` end to end on a ThreadedMotoServer, checked with plain boto3 calls."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from emulator_client import client

from infra.cli import run

REGION = "us-east-1"


@pytest.fixture(scope="module")
def staging(emulator, root):
    """Deploy staging once into the module's emulator; return the command's JSON report."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run(["--project-dir", str(root), "local", "up", "--stack", "staging",
                    "--endpoint-url", emulator.endpoint_url, "--format", "json"])
    assert code == 0
    return json.loads(out.getvalue())


def test_report_lists_every_planned_resource_as_created(staging, plans):
    assert staging["created"] == len(plans["staging"].resources) == len(staging["resources"])
    assert staging["existing"] == 0
    assert staging["accountId"] == "123456789012"  # from STS, not the stack file


def test_queues_have_redrive_and_visibility_as_planned(emulator, staging):
    sqs = client(emulator, "sqs")
    for worker, timeout in (("profile", 60), ("analysis", 120)):
        dlq_url = sqs.get_queue_url(QueueName=f"acme-staging-{worker}-dlq")["QueueUrl"]
        dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
        url = sqs.get_queue_url(QueueName=f"acme-staging-{worker}-queue")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url,
                                              AttributeNames=["All"])["Attributes"]
        assert attributes["VisibilityTimeout"] == str(6 * timeout)
        assert json.loads(attributes["RedrivePolicy"]) == {
            "deadLetterTargetArn": dlq["QueueArn"], "maxReceiveCount": 5}
        assert dlq["MessageRetentionPeriod"] == "1209600"


def test_functions_have_their_configuration(emulator, staging):
    lam = client(emulator, "lambda")
    layer = lam.list_layer_versions(LayerName="acme-staging-common-layer")["LayerVersions"]
    for worker, timeout, memory, reserved in (("profile", 60, 256, 2),
                                              ("analysis", 120, 512, None)):
        function = lam.get_function(FunctionName=f"acme-staging-{worker}-fn")
        config = function["Configuration"]
        assert config["Timeout"] == timeout
        assert config["MemorySize"] == memory
        assert config["TracingConfig"] == {"Mode": "Active"}
        assert [x["Arn"] for x in config["Layers"]] == [layer[0]["LayerVersionArn"]]
        variables = config["Environment"]["Variables"]
        queue_url = client(emulator, "sqs").get_queue_url(
            QueueName=f"acme-staging-{worker}-queue")["QueueUrl"]
        assert variables["QUEUE_URL"] == queue_url  # the emulator's URL, not the synthesized
        assert variables["QUEUE_NAME"] == f"acme-staging-{worker}-queue"
        assert variables["BEDROCK_MODEL_IDS"].startswith("us.anthropic.")
        assert function.get("Concurrency", {}).get("ReservedConcurrentExecutions") == reserved
        assert config["Role"].endswith(f":role/acme-staging-{worker}-role")


def test_event_source_mappings_have_batch_and_response_types(emulator, staging):
    lam = client(emulator, "lambda")
    for worker, batch in (("profile", 1), ("analysis", 5)):
        arn = lam.get_function(FunctionName=f"acme-staging-{worker}-fn")[
            "Configuration"]["FunctionArn"]
        mappings = lam.list_event_source_mappings(FunctionName=arn)["EventSourceMappings"]
        assert len(mappings) == 1
        assert mappings[0]["BatchSize"] == batch
        assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mappings[0]["EventSourceArn"].endswith(f":acme-staging-{worker}-queue")


def test_role_policies_are_the_planned_documents(emulator, staging, plans):
    iam = client(emulator, "iam")
    for worker in ("profile", "analysis"):
        document = iam.get_role_policy(RoleName=f"acme-staging-{worker}-role",
                                       PolicyName=f"acme-staging-{worker}-policy")[
            "PolicyDocument"]
        planned = json.loads(plans["staging"].entry(f"{worker}/{worker}-policy")
                             .inputs["policy"].replace("111111111111", "123456789012"))
        assert document == planned
        trust = iam.get_role(RoleName=f"acme-staging-{worker}-role")["Role"][
            "AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_log_groups_have_retention(emulator, staging):
    logs = client(emulator, "logs")
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/acme-staging-")[
        "logGroups"]
    assert {g["logGroupName"]: g["retentionInDays"] for g in groups} == {
        "/aws/lambda/acme-staging-profile-fn": 14, "/aws/lambda/acme-staging-analysis-fn": 14,
        "/aws/lambda/acme-staging-api-fn": 14}


def test_messages_are_consumed_through_the_mapping(emulator, staging):
    sqs = client(emulator, "sqs")
    url = sqs.get_queue_url(QueueName="acme-staging-profile-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"profile_id": "p", "text": "t"}))
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0",
                          "ApproximateNumberOfMessagesNotVisible": "0"}


def test_second_run_reports_existing_and_makes_no_duplicates(emulator, staging, root, capsys):
    code = run(["--project-dir", str(root), "local", "up", "--stack", "staging",
                "--endpoint-url", emulator.endpoint_url, "--format", "json"])
    again = json.loads(capsys.readouterr().out)
    assert code == 0
    assert again["created"] == 0
    # moto drops RedriveAllowPolicy (an emulator limit), so it is set again, never duplicated
    assert again["existing"] == len(staging["resources"]) - 2 and again["rewritten"] == 2
    assert {r["type"] for r in again["resources"] if r["status"] == "rewritten"} == {
        "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"}
    assert [r["physicalId"] for r in again["resources"]] == [
        r["physicalId"] for r in staging["resources"]]
    lam = client(emulator, "lambda")
    assert len(lam.list_event_source_mappings()["EventSourceMappings"]) == 2
    assert len(lam.list_layer_versions(LayerName="acme-staging-common-layer")[
        "LayerVersions"]) == 1
    queues = client(emulator, "sqs").list_queues(QueueNamePrefix="acme-staging-")["QueueUrls"]
    planned = [r for r in staging["resources"] if r["type"] == "aws:sqs/queue:Queue"]
    assert len(queues) == len(planned) == 5


def test_unreachable_endpoint_is_one_line_exit_1(root, capsys):
    code = run(["--project-dir", str(root), "local", "up", "--stack", "staging",
                "--endpoint-url", "http://127.0.0.1:9", "--format", "json"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("error: cannot reach http://127.0.0.1:9") and "\n" not in err


def test_unknown_stack_is_one_line_exit_1(root, capsys):
    code = run(["--project-dir", str(root), "local", "up", "--stack", "qa"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err == ("error: Pulumi.qa.yaml: stack: unknown stack 'qa'; known stacks: prod, "
                   "staging")


def test_console_script_starts_the_embedded_emulator_and_deploys_prod(workers_slice):
    # A process of its own: moto's state is per process, and this one must start empty.
    tandem = Path(sys.executable).with_name("tandem")
    result = subprocess.run([str(tandem), "local", "up", "--stack", "prod"], cwd=workers_slice,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.search(r"stack prod: \d+ created, 0 already existing, at http://127\.0\.0\.1:",
                     result.stdout)
    assert "acme-prod-profile-fn" in result.stdout


def test_keep_prints_the_endpoint_and_stops_on_ctrl_c(workers_slice):
    import signal
    import time

    tandem = Path(sys.executable).with_name("tandem")
    process = subprocess.Popen([str(tandem), "local", "up", "--stack", "staging", "--keep",
                                "--format", "markdown"], cwd=workers_slice,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "lambda list-functions" in line or not line:
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    text = "".join(lines) + out
    assert process.returncode == 0, err
    endpoint = re.search(r"Emulator running at (http://127\.0\.0\.1:\d+)", text).group(1)
    assert f"aws --endpoint-url {endpoint} sqs list-queues" in text
    assert f"aws --endpoint-url {endpoint} lambda list-functions" in text
