"""`tandem plan`: formats, the JSON schema, name limits, and planning any Pulumi program."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from components.naming import check_length, physical_name
from infra.cli import run
from infra.plan import PlanError, build_plan, check_names


def plan_output(root, capsys, stack, fmt):
    assert run(["--project-dir", str(root), "plan", "--stack", stack, "--format", fmt]) == 0
    return capsys.readouterr().out


def test_json_lists_every_worker_resource_with_prod_arns(root, capsys):
    document = json.loads(plan_output(root, capsys, "prod", "json"))
    assert document["schema"] == 1
    assert (document["stack"], document["accountId"], document["region"]) == (
        "prod", "222222222222", "us-east-1")
    by_path = {r["path"]: r for r in document["resources"]}
    for worker in ("profile", "analysis"):
        for suffix, type_ in (("dlq", "aws:sqs/queue:Queue"), ("queue", "aws:sqs/queue:Queue"),
                              ("role", "aws:iam/role:Role"),
                              ("policy", "aws:iam/rolePolicy:RolePolicy"),
                              ("logs", "aws:cloudwatch/logGroup:LogGroup"),
                              ("function", "aws:lambda/function:Function"),
                              ("trigger", "aws:lambda/eventSourceMapping:EventSourceMapping")):
            entry = by_path[f"{worker}/{worker}-{suffix}"]
            assert entry["type"] == type_
            assert entry["parent"] == worker
            assert set(entry) >= {"name", "physicalName", "inputs", "outputs", "protect",
                                  "importId", "dependencies", "id"}
            arn = entry["outputs"].get("arn")
            if arn:
                assert ":222222222222:" in arn and ("us-east-1" in arn or ":iam:" in arn)
    assert by_path["profile/profile-queue"]["protect"] is True
    assert document["counts"]["aws:sqs/queue:Queue"] == 5  # 2 per worker, the schedule DLQ


def test_text_is_a_tree_with_counts(root, capsys):
    out = plan_output(root, capsys, "staging", "text")
    assert "Plan of stack staging (project tandem, account 111111111111, region us-east-1)" in out
    assert " +   profile-queue " in out  # indented under its component
    assert re.search(r"Resources: \d+ to create", out)
    assert "    5  aws:sqs/queue:Queue" in out


def test_markdown_has_a_resource_table(root, capsys):
    out = plan_output(root, capsys, "prod", "markdown")
    assert out.startswith("### tandem plan: `prod`")
    assert "| logical path | type | physical name | flags |" in out
    assert "| `profile/profile-queue` | `aws:sqs/queue:Queue` | `acme-prod-profile-queue` | " \
           "protected |" in out


def test_usage_error_is_one_line_exit_1(root, capsys):
    assert run(["--project-dir", str(root), "plan", "--stack", "prod", "--format", "yaml"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "invalid choice: 'yaml'" in err


def test_name_limits_are_checked():
    assert physical_name("acme", "prod", "profile", "queue", "sqs_queue") == \
        "acme-prod-profile-queue"
    with pytest.raises(ValueError, match="is 65 characters; AWS allows 64 for iam_role"):
        physical_name("acme", "prod", "w" * 50, "role", "iam_role")
    with pytest.raises(ValueError, match="workload 'Bad_Name' must be lowercase"):
        physical_name("acme", "prod", "Bad_Name", "queue", "sqs_queue")
    assert check_length("x" * 80, "sqs_queue")


def test_plan_rejects_a_name_over_the_limit(plans):
    plan = plans["staging"]
    original = plan.entry("profile/profile-function").physical_name
    plan.entry("profile/profile-function").physical_name = "f" * 65
    try:
        with pytest.raises(PlanError, match="is 65 characters; AWS allows 64"):
            check_names(plan)
    finally:
        plan.entry("profile/profile-function").physical_name = original


def write_program(tmp_path, body: str):
    (tmp_path / "Pulumi.yaml").write_text("name: other\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        'config:\n  aws:region: eu-west-1\n  aws:allowedAccountIds: ["333333333333"]\n')
    (tmp_path / "__main__.py").write_text(textwrap.dedent(body))


def test_any_program_with_adapted_types_can_be_planned(tmp_path):
    write_program(tmp_path, """
        import pulumi, pulumi_aws as aws
        q = aws.sqs.Queue("jobs", name="other-jobs", opts=pulumi.ResourceOptions(protect=True))
        aws.cloudwatch.LogGroup("logs", name="/other/" + "jobs", retention_in_days=7,
                                opts=pulumi.ResourceOptions(depends_on=[q]))
    """)
    plan = build_plan(tmp_path, "dev")
    assert [e.path for e in plan.entries] == ["jobs", "logs"]
    assert plan.entry("jobs").outputs["arn"] == "arn:aws:sqs:eu-west-1:333333333333:other-jobs"
    assert plan.entry("jobs").protect is True
    assert plan.entry("logs").dependencies == ["jobs"]


def test_type_without_adapter_is_a_plan_error(tmp_path):
    write_program(tmp_path, """
        import pulumi_aws as aws
        aws.s3.Bucket("data", bucket="other-data")
    """)
    with pytest.raises(PlanError, match="type aws:s3/bucket:Bucket has no adapter"):
        build_plan(tmp_path, "dev")


def test_resource_without_physical_name_is_a_plan_error(tmp_path):
    write_program(tmp_path, """
        import pulumi_aws as aws
        aws.sqs.Queue("jobs")
    """)
    with pytest.raises(PlanError, match="'jobs' .* no explicit physical name; set 'name'"):
        build_plan(tmp_path, "dev")
