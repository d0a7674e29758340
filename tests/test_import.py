"""`tandem import`: adopting hand-made prod resources, recorded in the stack file."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from emulator_client import client

from infra.cli import run
from infra.stackfile import record_imports

REGION = "us-east-1"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})
PULUMI_IMPORT_KEYS = {"type", "name", "logicalName", "id", "parent", "provider", "version",
                      "properties", "component", "remote", "pluginDownloadUrl"}


@pytest.fixture(scope="module")
def handmade(emulator):
    """What teams live with: prod resources clicked together before any code existed."""
    sqs, iam = client(emulator, "sqs"), client(emulator, "iam")
    logs, lam = client(emulator, "logs"), client(emulator, "lambda")
    dlq = sqs.create_queue(QueueName="acme-prod-analysis-dlq", Attributes={
        "MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName="acme-prod-analysis-queue", Attributes={
        "VisibilityTimeout": "720", "MessageRetentionPeriod": "345600",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})})[
        "QueueUrl"]
    role_arn = iam.create_role(RoleName="analysis-worker-role",
                               AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    logs.create_log_group(logGroupName="/aws/lambda/analysis-worker-prod")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    lam.create_function(
        FunctionName="analysis-worker-prod", Role=role_arn, Runtime="python3.12",
        Handler="handler.handler", Code={"ZipFile": buffer.getvalue()}, Timeout=120,
        MemorySize=1024, Environment={"Variables": {"QUEUE_URL": queue, "DLQ_URL": dlq}})
    fifo = sqs.create_queue(QueueName="legacy-profile.fifo", Attributes={
        "FifoQueue": "true"})["QueueUrl"]
    return {"queue": queue, "dlq": dlq, "fifo": fifo}


ADOPT = ["--name", "analysis/analysis-function=analysis-worker-prod",
         "--name", "analysis/analysis-role=analysis-worker-role",
         "--name", "analysis/analysis-logs=/aws/lambda/analysis-worker-prod"]


def tandem_import(workers_project, emulator, capsys, *extra):
    code = run(["--project-dir", str(workers_project), "import", "--stack", "prod",
                "--endpoint-url",
                emulator.endpoint_url, "--format", "json", *extra])
    captured = capsys.readouterr()
    tandem_import.err = captured.err
    return code, json.loads(captured.out)


def test_import_reports_ids_differences_and_what_will_be_created(workers_project, emulator,
                                                                 handmade, capsys):
    code, report = tandem_import(workers_project, emulator, capsys, *ADOPT)
    by_path = {r["path"]: r for r in report["resources"]}
    assert code == 0
    function = by_path["analysis/analysis-function"]
    assert (function["status"], function["importId"], function["liveName"]) == (
        "found", "analysis-worker-prod", "analysis-worker-prod")
    environment = next(d for d in function["differences"] if d["property"] == "environment")
    assert "QUEUE_NAME" in environment["expected"]["variables"]
    assert "QUEUE_NAME" not in environment["actual"]["variables"]
    assert {d["property"] for d in function["differences"]} >= {"environment", "tracingConfig"}
    assert by_path["analysis/analysis-role"]["importId"] == "analysis-worker-role"
    assert by_path["analysis/analysis-logs"]["importId"] == "/aws/lambda/analysis-worker-prod"
    queue = by_path["analysis/analysis-queue"]
    assert (queue["status"], queue["importId"]) == ("found", handmade["queue"])
    redrive = next(d for d in queue["differences"] if d["property"] == "redrivePolicy")
    assert json.loads(redrive["expected"])["maxReceiveCount"] == 5
    assert json.loads(redrive["actual"])["maxReceiveCount"] == 3
    assert by_path["analysis/analysis-dlq"]["importId"] == handmade["dlq"]
    assert by_path["profile/profile-dlq"]["status"] == "will_be_created"
    assert by_path["profile/profile-dlq"]["importId"] is None
    assert report["summary"]["blocking"] == 0


def test_write_records_ids_and_names_and_plan_adopts_them(workers_project, emulator, handmade,
                                                          capsys):
    stack_file = workers_project / "Pulumi.prod.yaml"
    before = stack_file.read_text()
    code, _ = tandem_import(workers_project, emulator, capsys, "--write", *ADOPT)
    assert code == 0
    after = stack_file.read_text()
    for comment in [line.strip() for line in before.splitlines() if "#" in line]:
        assert comment in after, comment  # every comment survives
    assert "analysis/analysis-function:\n      id: analysis-worker-prod\n      name: " \
           "analysis-worker-prod" in after
    assert f"analysis/analysis-queue: {handmade['queue']}" in after
    assert "profile/profile-dlq" not in after
    # no temporary file left behind
    assert not [p for p in workers_project.iterdir() if p.name.startswith(".Pulumi")]

    assert run(["--project-dir", str(workers_project), "plan", "--stack", "prod", "--format",
                "json"]) == 0
    plan = {r["path"]: r for r in json.loads(capsys.readouterr().out)["resources"]}
    function = plan["analysis/analysis-function"]
    assert (function["importId"], function["protect"], function["physicalName"]) == (
        "analysis-worker-prod", True, "analysis-worker-prod")
    assert plan["analysis/analysis-role"]["physicalName"] == "analysis-worker-role"
    assert plan["analysis/analysis-queue"]["importId"] == handmade["queue"]
    assert plan["analysis/analysis-queue"]["protect"] is True
    assert plan["profile/profile-dlq"]["importId"] is None
    # the adopted role name flows into what references it
    assert plan["analysis/analysis-policy"]["inputs"]["role"] == "analysis-worker-role"

    # a second run sees them as already imported
    code, report = tandem_import(workers_project, emulator, capsys, *ADOPT)
    statuses = {r["path"]: r["status"] for r in report["resources"]}
    assert statuses["analysis/analysis-function"] == "already_imported"


def test_pulumi_json_document_has_pulumis_structure(workers_project, emulator, handmade, capsys,
                                                    tmp_path):
    target = tmp_path / "import.json"
    code, report = tandem_import(workers_project, emulator, capsys, "--pulumi-json", str(target),
                                 *ADOPT)
    assert code == 0
    document = json.loads(target.read_text())
    assert set(document) == {"nameTable", "resources"}
    assert isinstance(document["nameTable"], dict)
    names = [r["name"] for r in document["resources"]]
    assert len(names) == len(set(names))
    found = {r["path"] for r in report["resources"] if r["status"] == "found"}
    imported = [r for r in document["resources"] if not r.get("component")]
    assert len(imported) == len(found)
    for resource in document["resources"]:
        assert set(resource) <= PULUMI_IMPORT_KEYS, resource
        assert isinstance(resource["type"], str) and resource["logicalName"] == resource["name"]
        if resource.get("component"):
            assert "id" not in resource and resource["type"] == "tandem:components:QueueWorker"
        else:
            assert resource["id"]
        if "parent" in resource:
            assert resource["parent"] in names or resource["parent"] in document["nameTable"]
    function = next(r for r in imported if r["name"] == "analysis-function")
    assert function == {"type": "aws:lambda/function:Function", "name": "analysis-function",
                        "logicalName": "analysis-function", "id": "analysis-worker-prod",
                        "parent": "analysis"}


def test_difference_forcing_replacement_blocks_with_exit_2(workers_project, emulator, handmade,
                                                           capsys):
    code, report = tandem_import(workers_project, emulator, capsys, "--write",
                                 "--name", "profile/profile-queue=legacy-profile.fifo")
    queue = next(r for r in report["resources"] if r["path"] == "profile/profile-queue")
    assert code == 2
    assert queue["blocking"] == ["fifoQueue"]
    assert report["summary"]["blocking"] == 1
    assert "legacy-profile" not in (workers_project / "Pulumi.prod.yaml").read_text()
    assert "nothing written: an import above would replace a resource" in tandem_import.err


def test_discover_suggests_off_convention_names(workers_project, emulator, handmade, capsys):
    code, report = tandem_import(workers_project, emulator, capsys, "--discover")
    function = next(r for r in report["resources"] if r["path"] == "analysis/analysis-function")
    assert function["status"] == "will_be_created"
    assert "analysis-worker-prod" in function["candidates"]


def test_unknown_name_path_is_one_line_exit_1(workers_project, emulator, capsys):
    code = run(["--project-dir", str(workers_project), "import", "--stack", "prod",
                "--endpoint-url",
                emulator.endpoint_url, "--name", "analysis/analysis-fn=x"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("error: --name analysis/analysis-fn=...: no resource at this "
                          "logical path; did you mean 'analysis/")
    assert "\n" not in err


def test_unknown_import_path_in_stack_file_is_a_config_error(project, capsys):
    record_imports(project / "Pulumi.prod.yaml", {"profile/profile-fn": "x"})
    code = run(["--project-dir", str(project), "plan", "--stack", "prod"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("error: Pulumi.prod.yaml: tandem:imports.profile/profile-fn: no "
                          "resource at this logical path")


def test_record_imports_keeps_comments_order_and_other_keys(project):
    stack_file = project / "Pulumi.prod.yaml"
    before = stack_file.read_text()
    record_imports(stack_file, {"profile/profile-role": "acme-prod-profile-role",
                                "profile/profile-function": {"id": "legacy", "name": "legacy"}})
    after = stack_file.read_text()
    assert after.startswith(before.split("  tandem:imports")[0])  # everything before: same
    assert "  tandem:imports:\n    profile/profile-role: acme-prod-profile-role\n" in after
    assert "reservedConcurrency: 5   # issue 2: the profile worker is capped at 5 in prod" \
        in after
    record_imports(stack_file, {"analysis/analysis-role": "r"})
    final = stack_file.read_text()
    assert "profile/profile-role: acme-prod-profile-role" in final  # merged, not replaced
    assert "analysis/analysis-role: r" in final
