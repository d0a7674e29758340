"""`tandem drift` on the emulator: in sync after deploy, and each kind of drift detected."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from emulator_client import client

from infra.aws import ADAPTERS
from infra.aws.base import ResourceAdapter
from infra.cli import run
from infra.drift import check_drift
from infra.local import configure_emulator, reset_emulator
from infra.plan import build_plan
from infra.session import open_session, resolve_env

REGION = "us-east-1"


def fresh_deploy(emulator, project, capsys, *stacks):
    reset_emulator(emulator.endpoint_url)
    configure_emulator(emulator.endpoint_url)
    for stack in stacks:
        assert run(["--project-dir", str(project), "local", "up", "--stack", stack,
                    "--endpoint-url", emulator.endpoint_url, "--format", "json"]) == 0
    capsys.readouterr()
    return emulator


@pytest.fixture
def deployed(emulator, workers_slice, capsys):
    """A fresh emulator state with staging's workers deployed (the slice of the platform
    that every case below changes; the whole platform has its own in-sync test)."""
    return fresh_deploy(emulator, workers_slice, capsys, "staging")


def drift(emulator, root, capsys, stack="staging"):
    code = run(["--project-dir", str(root), "drift", "--stack", stack, "--endpoint-url",
                emulator.endpoint_url, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    return code, report


def only_problem(report):
    problems = [r for r in report["resources"] if r["status"] != "in_sync"]
    assert len(problems) == 1, problems
    return problems[0]


def test_every_planned_type_has_read_and_list(plans):
    for plan in plans.values():
        for entry in plan.resources:
            adapter = type(ADAPTERS[entry.type])
            assert adapter.read is not ResourceAdapter.read, entry.type
            assert adapter.list is not ResourceAdapter.list, entry.type


def test_both_stacks_in_sync_right_after_local_up(emulator, root, capsys, plans):
    fresh_deploy(emulator, root, capsys, "staging", "prod")
    for stack in ("staging", "prod"):
        code, report = drift(emulator, root, capsys, stack)
        assert code == 0, report["summary"]
        assert report["summary"] == {"drifted": 0, "missing": 0, "unmanaged": 0,
                                     "unreadable": 0, "in_sync": len(plans[stack].resources)}
        assert report["api_calls"] > 0 and report["seconds"] > 0
        limited = [r for r in report["resources"] if r["notVerifiable"]]
        assert {r["type"] for r in limited} == {"aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"}
        assert limited[0]["notVerifiable"][0]["property"] == "redriveAllowPolicy"


def test_removed_environment_variable(deployed, workers_slice, capsys):
    lam = client(deployed, "lambda")
    variables = lam.get_function_configuration(FunctionName="acme-staging-analysis-fn")[
        "Environment"]["Variables"]
    removed = dict(variables)
    del removed["QUEUE_NAME"]
    lam.update_function_configuration(FunctionName="acme-staging-analysis-fn",
                                      Environment={"Variables": removed})
    code, report = drift(deployed, workers_slice, capsys)
    problem = only_problem(report)
    assert code == 2
    assert (problem["path"], problem["status"]) == ("analysis/analysis-function", "drifted")
    [difference] = problem["differences"]
    assert difference["property"] == "environment"
    assert difference["expected"]["variables"]["QUEUE_NAME"] == "acme-staging-analysis-queue"
    assert "QUEUE_NAME" not in difference["actual"]["variables"]


def test_reserved_concurrency_changed(deployed, workers_slice, capsys):
    client(deployed, "lambda").put_function_concurrency(
        FunctionName="acme-staging-profile-fn", ReservedConcurrentExecutions=7)
    code, report = drift(deployed, workers_slice, capsys)
    problem = only_problem(report)
    assert code == 2 and problem["path"] == "profile/profile-function"
    assert problem["differences"] == [{"property": "reservedConcurrentExecutions",
                                       "expected": 2, "actual": 7}]


def test_layer_detached(deployed, workers_slice, capsys):
    client(deployed, "lambda").update_function_configuration(
        FunctionName="acme-staging-profile-fn", Layers=[])
    code, report = drift(deployed, workers_slice, capsys)
    problem = only_problem(report)
    assert code == 2 and problem["path"] == "profile/profile-function"
    [difference] = problem["differences"]
    assert difference["property"] == "layers" and difference["actual"] == []
    assert difference["expected"][0].endswith(":layer:acme-staging-common-layer:1")


def _edit_policy(emulator, worker, change):
    iam = client(emulator, "iam")
    role, name = f"acme-staging-{worker}-role", f"acme-staging-{worker}-policy"
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    change(document)
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


def test_bedrock_model_removed_from_role_policy(deployed, workers_slice, capsys):
    def drop_haiku(document):
        for statement in document["Statement"]:
            if statement.get("Sid") == "BedrockInvokeFoundationModels":
                statement["Resource"] = [r for r in statement["Resource"] if "haiku" not in r]

    _edit_policy(deployed, "profile", drop_haiku)
    code, report = drift(deployed, workers_slice, capsys)
    problem = only_problem(report)
    assert code == 2 and problem["path"] == "profile/profile-policy"
    [difference] = problem["differences"]
    assert difference["property"] == "policy"
    assert "claude-haiku" in difference["expected"]
    assert "claude-haiku-4-5-20251001-v1:0\"" not in difference["actual"].split(
        "inference-profile")[0]


def test_policy_statement_added(deployed, workers_slice, capsys):
    _edit_policy(deployed, "analysis", lambda d: d["Statement"].append(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"}))
    code, report = drift(deployed, workers_slice, capsys)
    problem = only_problem(report)
    assert code == 2 and problem["path"] == "analysis/analysis-policy"
    assert "s3:GetObject" in problem["differences"][0]["actual"]
    assert "s3:GetObject" not in problem["differences"][0]["expected"]


def test_max_receive_count_changed(deployed, workers_slice, capsys):
    sqs = client(deployed, "sqs")
    url = sqs.get_queue_url(QueueName="acme-staging-profile-queue")["QueueUrl"]
    redrive = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(
        {**redrive, "maxReceiveCount": 9})})
    code, report = drift(deployed, workers_slice, capsys)
    problem = only_problem(report)
    assert code == 2 and problem["path"] == "profile/profile-queue"
    [difference] = problem["differences"]
    assert difference["property"] == "redrivePolicy"
    assert json.loads(difference["expected"])["maxReceiveCount"] == 5
    assert json.loads(difference["actual"])["maxReceiveCount"] == 9


def test_dlq_deleted_is_missing(deployed, workers_slice, capsys):
    sqs = client(deployed, "sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="acme-staging-analysis-dlq")[
        "QueueUrl"])
    code, report = drift(deployed, workers_slice, capsys)
    missing = {r["path"] for r in report["resources"] if r["status"] == "missing"}
    assert code == 2
    assert "analysis/analysis-dlq" in missing
    assert missing <= {"analysis/analysis-dlq", "analysis/analysis-dlq-redrive-allow"}
    assert report["summary"]["drifted"] == 0


def test_log_retention_changed(deployed, workers_slice, capsys):
    client(deployed, "logs").put_retention_policy(
        logGroupName="/aws/lambda/acme-staging-profile-fn", retentionInDays=30)
    code, report = drift(deployed, workers_slice, capsys)
    problem = only_problem(report)
    assert code == 2 and problem["path"] == "profile/profile-logs"
    assert problem["differences"] == [{"property": "retentionInDays", "expected": 14,
                                       "actual": 30}]


def test_extra_queue_under_prefix_is_unmanaged(deployed, workers_slice, capsys):
    url = client(deployed, "sqs").create_queue(QueueName="acme-staging-handmade-queue")[
        "QueueUrl"]
    client(deployed, "sqs").create_queue(QueueName="other-app-queue")
    code, report = drift(deployed, workers_slice, capsys)
    problem = only_problem(report)
    assert code == 2
    assert problem == {"path": None, "type": "aws:sqs/queue:Queue", "physicalId": url,
                       "status": "unmanaged", "differences": [], "notVerifiable": [],
                       "notCompared": [], "error": None}


def test_unreadable_function_is_reported_and_the_scan_goes_on(deployed, workers_slice):
    session = open_session(deployed.endpoint_url, region=REGION)
    env = resolve_env(session)
    plan = build_plan(workers_slice, "staging", env)

    def deny(params, **_):
        if params.get("FunctionName") == "acme-staging-profile-fn":
            raise ClientError({"Error": {"Code": "AccessDeniedException",
                                         "Message": "not authorized to GetFunction"}},
                              "GetFunction")

    session.client("lambda").meta.events.register(
        "before-parameter-build.lambda.GetFunction", deny)
    report = check_drift(plan, session, "acme-staging-")
    by_path = {r.path: r for r in report.resources}
    assert report.exit_code == 1
    assert by_path["profile/profile-function"].status == "unreadable"
    assert by_path["profile/profile-function"].error == (
        "AccessDeniedException: not authorized to GetFunction")
    total = len(plan.resources)
    assert len(report.resources) == total
    assert sum(r.status == "in_sync" for r in report.resources) == total - 1


def test_text_and_markdown_group_by_status(deployed, workers_slice, capsys):
    client(deployed, "logs").put_retention_policy(
        logGroupName="/aws/lambda/acme-staging-profile-fn", retentionInDays=30)
    for fmt, heading in (("text", "drifted (1)"), ("markdown", "### tandem drift: `staging`")):
        assert run(["--project-dir", str(workers_slice), "drift", "--stack", "staging",
                    "--endpoint-url", deployed.endpoint_url, "--format", fmt]) == 2
        out = capsys.readouterr().out
        assert heading in out
        assert "retentionInDays" in out and "14" in out and "30" in out


def test_log_groups_are_listed_wherever_aws_puts_them(deployed):
    from infra.aws import ADAPTERS

    logs = client(deployed, "logs")
    for name in ("/aws/vendedlogs/states/acme-staging-stray-sm", "acme-staging-stray-logs",
                 "/aws/lambda/acme-staging-stray-fn", "/aws/lambda/other-app-fn"):
        logs.create_log_group(logGroupName=name)
    listed = ADAPTERS["aws:cloudwatch/logGroup:LogGroup"].list(
        open_session(deployed.endpoint_url, region=REGION), "acme-staging-")
    assert {"/aws/vendedlogs/states/acme-staging-stray-sm", "acme-staging-stray-logs",
            "/aws/lambda/acme-staging-stray-fn"} <= set(listed)
    assert "/aws/lambda/other-app-fn" not in listed
