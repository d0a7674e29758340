"""StepPipeline: the plan under Pulumi mocks (definition, schedule, IAM, secrets, alarms, Args
validation), then the same program deployed into the emulator, read back with boto3 and
checked for drift."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from emulator_client import client

from components.pipeline import (
    CONTAINER_NAME,
    FAILED_STATE,
    StepPipelineArgs,
    check_cron,
    pipeline_names,
)
from infra.checks import check_plan
from infra.deploy import deploy
from infra.drift import check_drift
from infra.importer import find_imports
from infra.plan import PlanError, build_plan
from infra.session import open_session, resolve_env

STEPS = ["get-or-create-batch", "check-balance", "start-batch", "run-questions", "track-usage",
         "complete-batch"]
VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
TOPIC = "arn:aws:sns:eu-west-1:333333333333:acme-prod-alarms"
CIPHERTEXT = "v1:AAABAHVuaXF1ZS1zZW50aW5lbC1jaXBoZXJ0ZXh0"
PREFIX = "pipe"

PROGRAM = f"""
import json
from pathlib import Path

import pulumi
from components.pipeline import StepPipeline, StepPipelineArgs

config = pulumi.Config()
pipeline = StepPipeline("org-eval", StepPipelineArgs(
    app="acme",
    env=pulumi.get_stack(),
    steps={STEPS!r},
    vpc_id=config.require("vpcId"),
    subnet_ids=config.require_object("subnetIds"),
    image_tag="2026.11.23-1",
    schedule="cron(30 2 ? * MON-FRI *)",
    schedule_enabled=config.require_bool("scheduleEnabled"),
    secret_keys=["OPENAI_API_KEY", "BILLING_TOKEN"],
    environment={{"STAGE": pulumi.get_stack()}},
    alarm_actions=config.get_object("alarmActions") or [],
    failed_threshold=2,
    protect=pulumi.get_stack() == "prod",
))
outputs = {{key: getattr(pipeline, key) for key in (
    "state_machine_arn", "cluster_arn", "task_definition_arn", "repository_url", "secret_arn",
    "rule_name")}}
pulumi.Output.all(**outputs).apply(
    lambda values: Path("outputs.json").write_text(json.dumps(values)))
"""


def write_project(root: Path, stacks: dict[str, dict]) -> Path:
    """A Pulumi project in ``root`` declaring one StepPipeline; ``stacks``: stack -> config."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text(f"name: {PREFIX}\nruntime: python\n")
    (root / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    for stack, config in stacks.items():
        (root / f"Pulumi.{stack}.yaml").write_text(json.dumps({"config": config}))
    return root


def stack_config(region: str, account: str, vpc: str, subnets: list[str], enabled: bool,
                 **extra) -> dict:
    return {"aws:region": region, "aws:allowedAccountIds": [account],
            f"{PREFIX}:vpcId": vpc, f"{PREFIX}:subnetIds": subnets,
            f"{PREFIX}:scheduleEnabled": enabled,
            **{f"{PREFIX}:{k}": v for k, v in extra.items()}}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return write_project(tmp_path_factory.mktemp("pipeline"), {
        "staging": stack_config("eu-west-1", "333333333333", VPC, SUBNETS, False,
                                apiToken={"secure": CIPHERTEXT}),
        "prod": stack_config("eu-west-1", "333333333333", VPC, SUBNETS, True,
                             alarmActions=[TOPIC]),
    })


@pytest.fixture(scope="module")
def recorded(project):
    """stack -> (plan, the component's outputs as the program saw them)."""
    recorded = {}
    for stack in ("staging", "prod"):
        plan = build_plan(project, stack)
        recorded[stack] = plan, json.loads((project / "outputs.json").read_text())
    return recorded


@pytest.fixture(scope="module")
def plans(recorded):
    return {stack: plan for stack, (plan, _) in recorded.items()}


def entry(plan, suffix):
    return plan.entry(f"org-eval/org-eval-{suffix}")


def definition(plan) -> dict:
    return json.loads(entry(plan, "sm").inputs["definition"])


def step_chain(document: dict) -> list[str]:
    names, current = [], document["StartAt"]
    while current:
        names.append(current)
        state = document["States"][current]
        current = None if state.get("End") else state.get("Next")
    return names


def policy_documents(plan) -> dict[str, dict]:
    """Every IAM document in the plan: inline role policies, trust policies, queue policies."""
    documents = {}
    for e in plan.resources:
        for key in ("policy", "assumeRolePolicy"):
            if e.type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/role:Role",
                          "aws:sqs/queuePolicy:QueuePolicy") and key in e.inputs:
                documents[f"{e.path}#{key}"] = json.loads(e.inputs[key])
    return documents


def statements(document: dict) -> list[dict]:
    found = document["Statement"]
    return [found] if isinstance(found, dict) else found


def as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


# --- the state machine ------------------------------------------------------------------

def test_definition_has_the_six_steps_in_order(plans):
    document = definition(plans["staging"])
    assert step_chain(document) == STEPS
    tasks = [name for name, s in document["States"].items() if s["Type"] == "Task"]
    assert tasks == STEPS
    assert document["States"][FAILED_STATE]["Type"] == "Fail"
    assert document["TimeoutSeconds"] == 6 * 1800  # len(steps) x the step timeout


def test_each_step_runs_the_planned_task_on_the_planned_cluster(plans):
    plan = plans["staging"]
    cluster_arn = entry(plan, "cluster").outputs["arn"]
    task_arn = entry(plan, "task").outputs["arn"]
    group_id = entry(plan, "sg").id
    assert cluster_arn.startswith("arn:aws:ecs:eu-west-1:333333333333:cluster/")
    assert task_arn.endswith(":task-definition/acme-staging-org-eval-task:1")
    for step in STEPS:
        state = definition(plan)["States"][step]
        assert state["Resource"] == "arn:aws:states:::ecs:runTask.sync"
        parameters = state["Parameters"]
        assert parameters["Cluster"] == cluster_arn
        assert parameters["TaskDefinition"] == task_arn
        assert parameters["LaunchType"] == "FARGATE"
        assert parameters["NetworkConfiguration"] == {"AwsvpcConfiguration": {
            "Subnets": SUBNETS, "SecurityGroups": [group_id], "AssignPublicIp": "DISABLED"}}
        [override] = parameters["Overrides"]["ContainerOverrides"]
        assert override["Name"] == CONTAINER_NAME
        variables = {v["Name"]: v for v in override["Environment"]}
        assert variables["STEP_NAME"] == {"Name": "STEP_NAME", "Value": step}
        # The execution input reaches every step unchanged: passed in, and the ECS result
        # discarded so the next step gets the same input.
        assert variables["EXECUTION_INPUT"]["Value.$"] == "States.JsonToString($)"
        assert state["ResultPath"] is None


def test_every_task_retries_with_backoff_and_catches_into_the_failure_state(plans):
    for step in STEPS:
        state = definition(plans["prod"])["States"][step]
        [retry] = state["Retry"]
        assert {"ECS.AmazonECSException", "States.TaskFailed"} <= set(retry["ErrorEquals"])
        assert retry["BackoffRate"] > 1 and retry["MaxAttempts"] >= 1
        assert retry["IntervalSeconds"] >= 1
        assert state["TimeoutSeconds"] == 1800
        [catch] = state["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                         "Next": FAILED_STATE}
    failed = definition(plans["prod"])["States"][FAILED_STATE]
    assert (failed["ErrorPath"], failed["CausePath"]) == ("$.error.Error", "$.error.Cause")


def test_state_machine_logs_errors_to_its_log_group_and_traces(plans):
    plan = plans["staging"]
    machine = entry(plan, "sm").inputs
    log_group = entry(plan, "sm-logs")
    assert machine["loggingConfiguration"]["level"] == "ERROR"
    assert machine["loggingConfiguration"]["logDestination"] == log_group.outputs["arn"] + ":*"
    assert machine["tracingConfiguration"] == {"enabled": True}
    assert log_group.inputs["retentionInDays"] == 30
    assert machine["roleArn"] == entry(plan, "sm-role").outputs["arn"]


def test_task_definition_is_fargate_with_the_image_and_its_own_logs(plans):
    plan = plans["staging"]
    task = entry(plan, "task").inputs
    assert (task["cpu"], task["memory"]) == ("1024", "2048")
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"
    assert task["executionRoleArn"] == entry(plan, "exec-role").outputs["arn"]
    assert task["taskRoleArn"] == entry(plan, "task-role").outputs["arn"]
    [container] = json.loads(task["containerDefinitions"])
    repo = entry(plan, "repo").outputs["repositoryUrl"]
    assert container["image"] == f"{repo}:2026.11.23-1"
    assert container["logConfiguration"]["options"]["awslogs-group"] == \
        entry(plan, "task-logs").inputs["name"]
    repository = entry(plan, "repo").inputs
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    rules = json.loads(entry(plan, "repo-lifecycle").inputs["policy"])["rules"]
    assert rules[0]["selection"]["countNumber"] == 10
    cluster = entry(plan, "cluster").inputs
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    group = entry(plan, "sg").inputs
    assert group["ingress"] == [] and group["vpcId"] == VPC
    assert [(r["protocol"], r["fromPort"], r["toPort"]) for r in group["egress"]] == [
        ("tcp", 443, 443)]


# --- schedule -------------------------------------------------------------------------------

def test_schedule_is_disabled_in_staging_and_enabled_in_prod(plans):
    assert entry(plans["staging"], "schedule").inputs["state"] == "DISABLED"
    assert entry(plans["prod"], "schedule").inputs["state"] == "ENABLED"
    for plan in plans.values():
        assert entry(plan, "schedule").inputs["scheduleExpression"] == "cron(30 2 ? * MON-FRI *)"


def test_schedule_targets_the_state_machine_with_retry_and_dead_letters(plans):
    plan = plans["prod"]
    target = entry(plan, "schedule-target").inputs
    rule_arn = entry(plan, "schedule").outputs["arn"]
    dlq = entry(plan, "schedule-dlq")
    assert target["arn"] == entry(plan, "sm").outputs["arn"]
    assert target["rule"] == "acme-prod-org-eval-schedule"
    assert json.loads(target["input"]) == {"trigger": "schedule"}
    assert target["retryPolicy"] == {"maximumEventAgeInSeconds": 3600,
                                     "maximumRetryAttempts": 185}
    assert target["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
    assert target["roleArn"] == entry(plan, "events-role").outputs["arn"]
    [allow] = statements(json.loads(entry(plan, "schedule-dlq-policy").inputs["policy"]))
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Resource"] == dlq.outputs["arn"]
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    [start] = statements(json.loads(entry(plan, "events-policy").inputs["policy"]))
    assert (start["Action"], start["Resource"]) == ("states:StartExecution",
                                                    entry(plan, "sm").outputs["arn"])


# --- IAM ------------------------------------------------------------------------------------

def test_no_statement_has_a_wildcard_action(plans):
    for plan in plans.values():
        documents = policy_documents(plan)
        assert len(documents) == 8  # 4 trust policies, 3 role policies, 1 queue policy
        for where, document in documents.items():
            for statement in statements(document):
                assert "NotAction" not in statement, where
                for action in as_list(statement["Action"]):
                    assert "*" not in action, (where, action)


def test_star_resources_only_where_aws_has_nothing_narrower(plans):
    starred = set()
    for document in policy_documents(plans["prod"]).values():
        for statement in statements(document):
            if "*" in as_list(statement.get("Resource", [])):
                starred.update(as_list(statement["Action"]))
    assert starred == {
        "ecr:GetAuthorizationToken",
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
        "xray:GetSamplingTargets"}


def test_pass_role_is_limited_to_the_two_task_roles(plans):
    plan = plans["prod"]
    passing = [(where, s) for where, d in policy_documents(plan).items()
               for s in statements(d) if "iam:PassRole" in as_list(s["Action"])]
    [(where, statement)] = passing
    assert where == "org-eval/org-eval-sm-policy#policy"
    assert as_list(statement["Action"]) == ["iam:PassRole"]
    assert sorted(as_list(statement["Resource"])) == sorted([
        entry(plan, "exec-role").outputs["arn"], entry(plan, "task-role").outputs["arn"]])
    assert statement["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_state_machine_role_runs_only_its_task_family_and_uses_the_sync_rule(plans):
    plan = plans["prod"]
    document = json.loads(entry(plan, "sm-policy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in statements(document)}
    assert by_sid["RunOwnTask"]["Resource"] == \
        "arn:aws:ecs:eu-west-1:333333333333:task-definition/acme-prod-org-eval-task:*"
    assert by_sid["RunOwnTask"]["Condition"] == {
        "ArnEquals": {"ecs:cluster": entry(plan, "cluster").outputs["arn"]}}
    assert by_sid["TrackOwnTasks"]["Resource"] == \
        "arn:aws:ecs:eu-west-1:333333333333:task/acme-prod-org-eval-cluster/*"
    assert sorted(by_sid["SyncTaskEvents"]["Action"]) == [
        "events:DescribeRule", "events:PutRule", "events:PutTargets"]
    assert by_sid["SyncTaskEvents"]["Resource"] == \
        "arn:aws:events:eu-west-1:333333333333:rule/StepFunctionsGetEventsForECSTaskRule"


def test_the_secret_is_readable_only_by_the_execution_role(plans):
    plan = plans["prod"]
    secret_arn = entry(plan, "secret").outputs["arn"]
    key_arn = entry(plan, "key").outputs["arn"]
    readers = {}
    for where, document in policy_documents(plan).items():
        for statement in statements(document):
            actions = as_list(statement["Action"])
            resources = as_list(statement.get("Resource", []))
            if any(a.startswith(("secretsmanager:", "kms:")) for a in actions) \
                    or {secret_arn, key_arn} & set(resources):
                readers.setdefault(where, []).append((actions, resources))
    assert readers == {"org-eval/org-eval-exec-policy#policy": [
        (["secretsmanager:GetSecretValue"], [secret_arn]), (["kms:Decrypt"], [key_arn])]}
    # The task role holds nothing by default.
    assert not any(e.path == "org-eval/org-eval-task-policy" for e in plan.entries)


def test_secret_is_encrypted_with_the_pipelines_own_rotating_key(plans):
    plan = plans["staging"]
    key = entry(plan, "key")
    assert entry(plan, "secret").inputs["kmsKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    assert entry(plan, "key-alias").inputs == {"name": "alias/acme-staging-org-eval-key",
                                               "targetKeyId": key.outputs["keyId"]}


def test_no_secret_value_in_the_plan(plans):
    for plan in plans.values():
        text = json.dumps(plan.to_dict())
        assert CIPHERTEXT not in text
        assert not any(e.type.startswith("aws:secretsmanager/secretVersion") for e in plan.entries)

        def keys(value):
            if isinstance(value, dict):
                for k, v in value.items():
                    yield k
                    yield from keys(v)
            elif isinstance(value, list):
                for v in value:
                    yield from keys(v)

        for e in plan.resources:
            assert not {"secretString", "secretBinary"} & set(keys(e.inputs)), e.path
        [container] = json.loads(entry(plan, "task").inputs["containerDefinitions"])
        secret_arn = entry(plan, "secret").outputs["arn"]
        assert container["secrets"] == [
            {"name": "OPENAI_API_KEY", "valueFrom": f"{secret_arn}:OPENAI_API_KEY::"},
            {"name": "BILLING_TOKEN", "valueFrom": f"{secret_arn}:BILLING_TOKEN::"}]
        assert container["environment"] == [{"name": "STAGE", "value": plan.stack}]


def test_a_program_that_writes_a_secret_value_cannot_be_planned(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: other\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        'config:\n  aws:region: eu-west-1\n  aws:allowedAccountIds: ["333333333333"]\n')
    (tmp_path / "__main__.py").write_text(textwrap.dedent("""
        import pulumi_aws as aws
        aws.secretsmanager.SecretVersion("v", secret_id="x", secret_string="hunter2")
    """))
    with pytest.raises(PlanError, match="secretVersion:SecretVersion has no adapter"):
        build_plan(tmp_path, "dev")


# --- alarms and outputs -----------------------------------------------------------------

def test_alarms_watch_the_state_machine_and_the_dlq(plans):
    plan = plans["prod"]
    machine_arn = entry(plan, "sm").outputs["arn"]
    expected = {"executions-failed": ("ExecutionsFailed", 2),
                "executions-throttled": ("ExecutionThrottled", 1),
                "executions-timed-out": ("ExecutionsTimedOut", 1)}
    for suffix, (metric, threshold) in expected.items():
        alarm = entry(plan, suffix).inputs
        assert (alarm["namespace"], alarm["metricName"]) == ("AWS/States", metric)
        assert alarm["dimensions"] == {"StateMachineArn": machine_arn}
        assert (alarm["threshold"], alarm["period"]) == (threshold, 60)
        assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["alarmActions"] == [TOPIC]
    dlq = entry(plan, "schedule-dlq-messages").inputs
    assert (dlq["namespace"], dlq["metricName"], dlq["threshold"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", 1)
    assert dlq["dimensions"] == {"QueueName": "acme-prod-org-eval-schedule-dlq"}
    assert entry(plans["staging"], "executions-failed").inputs["alarmActions"] == []


def test_outputs_resolve_to_the_planned_resources(recorded):
    plan, outputs = recorded["prod"]
    assert outputs == {
        "state_machine_arn": entry(plan, "sm").outputs["arn"],
        "cluster_arn": entry(plan, "cluster").outputs["arn"],
        "task_definition_arn": entry(plan, "task").outputs["arn"],
        "repository_url": entry(plan, "repo").outputs["repositoryUrl"],
        "secret_arn": entry(plan, "secret").outputs["arn"],
        "rule_name": "acme-prod-org-eval-schedule",
    }


def test_guardrail_rules_pass_and_prod_protects_what_holds_state(plans):
    for plan in plans.values():
        assert check_plan(plan) == [], plan.stack
    protected = {e.name for e in plans["prod"].resources if e.protect}
    assert protected == {"org-eval-repo", "org-eval-key", "org-eval-secret",
                         "org-eval-schedule-dlq"}
    assert not any(e.protect for e in plans["staging"].resources)


# --- Args validation ----------------------------------------------------------------------

def args(**changes) -> StepPipelineArgs:
    values = {"app": "acme", "env": "prod", "steps": list(STEPS), "vpc_id": VPC,
              "subnet_ids": list(SUBNETS), "image_tag": "v1", **changes}
    return StepPipelineArgs(**values)


def test_defaults_follow_the_issue():
    defaults = args()
    assert (defaults.cpu, defaults.memory_mb) == (1024, 2048)
    assert defaults.schedule_enabled is False
    assert defaults.execution_timeout_seconds == len(STEPS) * defaults.step_timeout_seconds


@pytest.mark.parametrize(("changes", "message"), [
    ({"steps": []}, r"steps: at least one step"),
    ({"steps": ["a", "b", "a"]}, r"steps: a listed twice"),
    ({"steps": ["Run_Questions"]}, r"steps: 'Run_Questions' is not a valid step name"),
    ({"cpu": 1000}, r"cpu=1000: Fargate accepts 256, 512, 1024"),
    ({"memory_mb": 1024}, r"memory_mb=1024: with cpu 1024, Fargate accepts 2048, 3072"),
    ({"cpu": 256, "memory_mb": 4096}, r"memory_mb=4096: with cpu 256"),
    ({"schedule": "0 3 * * ? *"}, r"schedule='0 3 \* \* \? \*': must be an EventBridge cron"),
    ({"schedule": "cron(0 3 * * ?)"}, r"six fields .* got 5"),
    ({"schedule": "cron(0 3 * * * *)"}, r"exactly one of day-of-month and day-of-week"),
    ({"schedule": "cron(61 3 * * ? *)"}, r"minutes value 61 is outside 0-59"),
    ({"vpc_id": "vpc_1"}, r"vpc_id='vpc_1': must be a VPC id"),
    ({"subnet_ids": []}, r"subnet_ids: at least one private subnet"),
    ({"subnet_ids": ["subnet-0123456789abcdef0"] * 2}, r"subnet_ids: a subnet is listed twice"),
    ({"image_tag": "has space"}, r"image_tag='has space': must be an image tag"),
    ({"environment": {"OPENAI_API_KEY": "sk-x"}}, r"'OPENAI_API_KEY' looks like a secret"),
    ({"environment": {"STEP_NAME": "x"}}, r"'STEP_NAME' is set by StepPipeline"),
    ({"secret_keys": ["OPENAI-KEY"]}, r"secret_keys: 'OPENAI-KEY' cannot be a variable name"),
    ({"secret_suffix": "Api_Keys"}, r"secret_suffix='Api_Keys': must be lowercase"),
    ({"task_role_statements": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:x"}]},
     r"task_role_statements\[0\]: name explicit actions"),
    ({"log_retention_days": 13}, r"log_retention_days=13: must be one of"),
    ({"step_timeout_seconds": 600, "execution_timeout_seconds": 60},
     r"execution_timeout_seconds=60: must be an integer from 600"),
    ({"step_timeouts": {"nope": 60}}, r"step_timeouts: 'nope' is not a step"),
    ({"retry_backoff_rate": 0.5}, r"retry_backoff_rate=0.5: must be a number of at least 1.0"),
    ({"alarm_period_seconds": 45}, r"alarm_period_seconds=45: must be 10, 20, 30 or a multiple"),
    ({"failed_threshold": 0}, r"failed_threshold=0: must be an integer from 1"),
    ({"schedule_retry_attempts": 186}, r"schedule_retry_attempts=186: must be an integer"),
])
def test_args_validation(changes, message):
    with pytest.raises(ValueError, match=message) as raised:
        args(**changes)
    assert str(raised.value).startswith("StepPipelineArgs.")
    assert "\n" not in str(raised.value)


def test_cron_accepts_eventbridge_forms():
    for expression in ("cron(0 3 * * ? *)", "cron(0/15 8-17 ? * MON-FRI *)",
                       "cron(0 12 L * ? 2027)", "cron(0 9 ? * 6#3 *)"):
        assert check_cron(expression) == expression


# --- on the emulator ----------------------------------------------------------------------

REGION = "us-east-1"


@pytest.fixture(scope="module")
def deployed(emulator, tmp_path_factory):
    """The pipeline planned against the emulator's account and its VPC, then deployed."""
    ec2 = client(emulator, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24")["Subnet"]["SubnetId"]
               for i in (1, 2)]
    root = write_project(tmp_path_factory.mktemp("pipeline-local"), {
        "prod": stack_config(REGION, "123456789012", vpc, subnets, True)})
    session = open_session(emulator.endpoint_url, region=REGION)
    plan = build_plan(root, "prod", resolve_env(session))
    results = deploy(plan, session)
    return plan, session, results, vpc


def test_local_deploy_creates_the_pipeline(deployed, emulator):
    plan, _, results, vpc = deployed
    assert {r.status for r in results} == {"created"}
    assert len(results) == len(plan.resources) == 26
    sfn = client(emulator, "stepfunctions")
    [machine] = sfn.list_state_machines()["stateMachines"]
    described = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
    document = json.loads(described["definition"])
    assert step_chain(document) == STEPS
    ecs = client(emulator, "ecs")
    [cluster] = ecs.describe_clusters(clusters=["acme-prod-org-eval-cluster"],
                                      include=["SETTINGS"])["clusters"]
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    task = ecs.describe_task_definition(taskDefinition="acme-prod-org-eval-task")[
        "taskDefinition"]
    assert document["States"]["check-balance"]["Parameters"]["TaskDefinition"] == \
        task["taskDefinitionArn"]
    assert document["States"]["check-balance"]["Parameters"]["Cluster"] == cluster["clusterArn"]
    secret = client(emulator, "secretsmanager").describe_secret(
        SecretId="acme-prod-org-eval-secret")
    kms = client(emulator, "kms")
    key = kms.describe_key(KeyId="alias/acme-prod-org-eval-key")["KeyMetadata"]
    assert secret["KmsKeyId"] == key["Arn"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    assert {s["valueFrom"].rsplit(":", 3)[0] for s in
            task["containerDefinitions"][0]["secrets"]} == {secret["ARN"]}
    events = client(emulator, "events")
    assert events.describe_rule(Name="acme-prod-org-eval-schedule")["State"] == "ENABLED"
    [target] = events.list_targets_by_rule(Rule="acme-prod-org-eval-schedule")["Targets"]
    assert target["Arn"] == machine["stateMachineArn"]
    assert target["DeadLetterConfig"]["Arn"].endswith(":acme-prod-org-eval-schedule-dlq")
    [group] = client(emulator, "ec2").describe_security_groups(Filters=[
        {"Name": "group-name", "Values": ["acme-prod-org-eval-sg"]}])["SecurityGroups"]
    assert group["VpcId"] == vpc and group["IpPermissions"] == []
    assert [(p["IpProtocol"], p["FromPort"]) for p in group["IpPermissionsEgress"]] == [
        ("tcp", 443)]
    ecr = client(emulator, "ecr")
    [repo] = ecr.describe_repositories(repositoryNames=["acme-prod-org-eval-repo"])[
        "repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    alarms = client(emulator, "cloudwatch").describe_alarms(
        AlarmNamePrefix="acme-prod-org-eval-")["MetricAlarms"]
    assert len(alarms) == 4


def test_drift_reports_the_pipeline_in_sync(deployed):
    plan, session, _, _ = deployed
    report = check_drift(plan, session, "acme-prod-")
    assert report.counts() == {"drifted": 0, "missing": 0, "unmanaged": 0, "unreadable": 0,
                               "in_sync": 26}, [r.to_dict() for r in report.resources
                                                if r.status != "in_sync"]
    assert not [r for r in report.resources if r.not_verifiable]


def test_import_finds_every_resource_under_pulumis_import_ids(deployed, emulator):
    plan, session, _, _ = deployed
    report = find_imports(plan, session)
    findings = {f.path.removeprefix("org-eval/org-eval-"): f for f in report.findings}
    assert {f.status for f in findings.values()} == {"found"}
    assert not [f.path for f in findings.values() if f.blocking or f.differences]
    key_id = client(emulator, "kms").describe_key(
        KeyId="alias/acme-prod-org-eval-key")["KeyMetadata"]["KeyId"]
    [group] = client(emulator, "ec2").describe_security_groups(Filters=[
        {"Name": "group-name", "Values": ["acme-prod-org-eval-sg"]}])["SecurityGroups"]
    prefix = "arn:aws:{}:us-east-1:123456789012:"
    expected = {
        "cluster": "acme-prod-org-eval-cluster",
        "task": prefix.format("ecs") + "task-definition/acme-prod-org-eval-task:1",
        "sm": prefix.format("states") + "stateMachine:acme-prod-org-eval-sm",
        "schedule": "acme-prod-org-eval-schedule",
        "schedule-target": "acme-prod-org-eval-schedule/state-machine",
        "key": key_id,
        "key-alias": "alias/acme-prod-org-eval-key",
        "repo": "acme-prod-org-eval-repo",
        "repo-lifecycle": "acme-prod-org-eval-repo",
        "sg": group["GroupId"],
    }
    assert {k: findings[k].import_id for k in expected} == expected
    assert findings["secret"].import_id.startswith(
        prefix.format("secretsmanager") + "secret:acme-prod-org-eval-secret-")


def test_second_deploy_finds_everything(deployed):
    plan, session, _, _ = deployed
    assert {r.status for r in deploy(plan, session)} == {"exists"}


def test_key_is_found_by_its_tag_when_its_alias_is_gone(deployed, emulator):
    plan, session, _, _ = deployed
    client(emulator, "kms").delete_alias(AliasName="alias/acme-prod-org-eval-key")
    report = check_drift(plan, session, "acme-prod-")
    problems = {r.path: r.status for r in report.resources if r.status != "in_sync"}
    assert problems == {"org-eval/org-eval-key-alias": "missing"}
    statuses = {r.path: r.status for r in deploy(plan, session)}
    assert statuses["org-eval/org-eval-key"] == "exists"  # not a second key
    assert statuses["org-eval/org-eval-key-alias"] == "created"
    assert check_drift(plan, session, "acme-prod-").exit_code == 0


def test_drift_sees_changes_made_by_hand(deployed, emulator):
    plan, session, _, _ = deployed
    events = client(emulator, "events")
    events.put_rule(Name="acme-prod-org-eval-schedule", State="DISABLED",
                    ScheduleExpression="cron(30 2 ? * MON-FRI *)",
                    Description="Starts the org-eval pipeline: cron(30 2 ? * MON-FRI *)")
    [target] = events.list_targets_by_rule(Rule="acme-prod-org-eval-schedule")["Targets"]
    events.put_targets(Rule="acme-prod-org-eval-schedule",
                       Targets=[{**target, "RetryPolicy": {"MaximumRetryAttempts": 0,
                                                           "MaximumEventAgeInSeconds": 60}}])
    ec2 = client(emulator, "ec2")
    [group] = ec2.describe_security_groups(Filters=[
        {"Name": "group-name", "Values": ["acme-prod-org-eval-sg"]}])["SecurityGroups"]
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    kms = client(emulator, "kms")
    kms.disable_key_rotation(KeyId=kms.describe_key(
        KeyId="alias/acme-prod-org-eval-key")["KeyMetadata"]["KeyId"])
    client(emulator, "ecr").create_repository(repositoryName="acme-prod-org-eval-stray")
    report = check_drift(plan, session, "acme-prod-")
    found = {(r.path, r.status): sorted(d.property for d in r.differences)
             for r in report.resources if r.status != "in_sync"}
    assert found == {
        ("org-eval/org-eval-schedule", "drifted"): ["state"],
        ("org-eval/org-eval-schedule-target", "drifted"): ["retryPolicy"],
        ("org-eval/org-eval-sg", "drifted"): ["ingress"],
        ("org-eval/org-eval-key", "drifted"): ["enableKeyRotation"],
        (None, "unmanaged"): [],
    }
    assert report.exit_code == 2


def test_names_are_known_before_the_pipeline_is_declared(plans):
    names = pipeline_names("acme", "prod", "org-eval")
    plan = plans["prod"]
    assert names.cluster_name == entry(plan, "cluster").physical_name
    assert names.state_machine_name == entry(plan, "sm").physical_name
    assert names.rule_name == entry(plan, "schedule").physical_name
    assert sorted(names.alarm_names) == sorted(
        e.physical_name for e in plan.resources if e.type.endswith("metricAlarm:MetricAlarm"))
