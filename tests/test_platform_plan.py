"""The reference platform as the offline plan records it (Pulumi mocks, no CLI)."""

from __future__ import annotations

import json
import re

import pytest

from components.worker import VISIBILITY_TIMEOUT_FACTOR
from infra.workloads import WORKERS

WORKER_TYPES = {
    "aws:sqs/queue:Queue": 2,
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": 1,
    "aws:iam/role:Role": 1,
    "aws:iam/rolePolicy:RolePolicy": 1,
    "aws:cloudwatch/logGroup:LogGroup": 1,
    "aws:lambda/function:Function": 1,
    "aws:lambda/eventSourceMapping:EventSourceMapping": 1,
}


def children(plan, worker):
    return [e for e in plan.resources if e.parent == worker]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_each_worker_has_its_resources_parented_to_it(plans, stack):
    plan = plans[stack]
    for worker in WORKERS:
        assert plan.entry(worker).type == "tandem:components:QueueWorker"
        counts = {}
        for entry in children(plan, worker):
            counts[entry.type] = counts.get(entry.type, 0) + 1
        assert counts == WORKER_TYPES


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_visibility_timeout_is_at_least_six_function_timeouts(plans, stack):
    plan = plans[stack]
    for worker in WORKERS:
        queue = plan.entry(f"{worker}/{worker}-queue")
        function = plan.entry(f"{worker}/{worker}-function")
        assert queue.inputs["visibilityTimeoutSeconds"] >= (
            VISIBILITY_TIMEOUT_FACTOR * function.inputs["timeout"])


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_queue_redrives_to_its_own_dlq(plans, stack):
    plan = plans[stack]
    for worker in WORKERS:
        dlq = plan.entry(f"{worker}/{worker}-dlq")
        queue = plan.entry(f"{worker}/{worker}-queue")
        redrive = json.loads(queue.inputs["redrivePolicy"])
        assert redrive == {"deadLetterTargetArn": dlq.outputs["arn"], "maxReceiveCount": 5}
        assert dlq.inputs["messageRetentionSeconds"] == 1_209_600
        assert dlq.inputs["sqsManagedSseEnabled"] and queue.inputs["sqsManagedSseEnabled"]
        allow = plan.entry(f"{worker}/{worker}-dlq-redrive-allow")
        assert allow.inputs["queueUrl"] == dlq.outputs["url"]
        assert json.loads(allow.inputs["redriveAllowPolicy"]) == {
            "redrivePermission": "byQueue", "sourceQueueArns": [queue.outputs["arn"]]}


def test_prod_arns_use_prod_account_and_region(plans):
    plan = plans["prod"]
    assert (plan.account_id, plan.region) == ("222222222222", "us-east-1")
    text = json.dumps([e.outputs for e in plan.resources] + [e.inputs for e in plan.resources])
    assert "111111111111" not in text
    arns = re.findall(r"arn:aws:[a-z0-9-]+:[^:\"]*:[^:\"]*:[^\" ,]+", text)
    assert len(set(arns)) >= 20
    for arn in arns:
        if arn.startswith("arn:aws:apigateway:"):
            continue  # invokeArn: the API Gateway service path, no account
        parts = arn.split(":")
        assert parts[4] in ("222222222222", ""), arn   # foundation models have no account
        assert parts[3] in ("us-east-1", "*", ""), arn  # IAM has no region


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_functions_get_queue_env_layer_tracing_and_log_group_first(plans, stack):
    plan = plans[stack]
    layer = plan.entry("common-layer")
    for worker in WORKERS:
        function = plan.entry(f"{worker}/{worker}-function")
        queue = plan.entry(f"{worker}/{worker}-queue")
        variables = function.inputs["environment"]["variables"]
        assert variables["QUEUE_URL"] == queue.outputs["url"]
        assert variables["QUEUE_NAME"] == queue.physical_name
        assert variables["BEDROCK_MODEL_IDS"]
        assert function.inputs["layers"] == [layer.outputs["arn"]]
        assert function.inputs["tracingConfig"] == {"mode": "Active"}
        assert f"{worker}/{worker}-logs" in function.dependencies
        assert plan.entry(f"{worker}/{worker}-logs").physical_name == (
            f"/aws/lambda/{function.physical_name}")
        mapping = plan.entry(f"{worker}/{worker}-trigger")
        assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping.inputs["eventSourceArn"] == queue.outputs["arn"]


def test_physical_names_follow_the_convention(plans):
    for stack, plan in plans.items():
        for entry in plan.resources:
            name = entry.physical_name or ""
            if entry.type in ("aws:sqs/queue:Queue", "aws:iam/role:Role",
                              "aws:iam/rolePolicy:RolePolicy",
                              "aws:lambda/function:Function"):
                assert name.startswith(f"acme-{stack}-"), name


def test_policy_is_least_privilege(plans):
    policy = json.loads(plans["staging"].entry("profile/profile-policy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["ConsumeOwnQueue"]["Resource"] == (
        "arn:aws:sqs:us-east-1:111111111111:acme-staging-profile-queue")
    assert by_sid["WriteOwnLogs"]["Resource"] == ("arn:aws:logs:us-east-1:111111111111:"
                                                  "log-group:/aws/lambda/acme-staging-profile-fn:*")
    wildcard = [s["Sid"] for s in policy["Statement"] if s["Resource"] == "*"]
    assert wildcard == ["WriteTraces"]
    assert all("*" not in a for s in policy["Statement"] for a in s["Action"])


def test_stack_sizing_reaches_the_resources(plans):
    prod, staging = plans["prod"], plans["staging"]
    assert prod.entry("profile/profile-function").inputs["reservedConcurrentExecutions"] == 5
    assert prod.entry("profile/profile-trigger").inputs["batchSize"] == 1
    assert prod.entry("analysis/analysis-trigger").inputs["scalingConfig"] == {
        "maximumConcurrency": 10}
    assert prod.entry("profile/profile-logs").inputs["retentionInDays"] == 90
    assert staging.entry("profile/profile-logs").inputs["retentionInDays"] == 14


def test_queues_are_protected_in_prod_only(plans):
    for stack, expected in (("prod", True), ("staging", False)):
        plan = plans[stack]
        stateful = {"aws:sqs/queue:Queue", "aws:secretsmanager/secret:Secret",
                    "aws:ecr/repository:Repository"}
        queues = [e for e in plan.resources if e.type == "aws:sqs/queue:Queue"]
        assert len(queues) == 5
        assert all(e.protect is expected for e in plan.resources if e.type in stateful)
        protected = {e.type for e in plan.resources if e.protect}
        # the pipeline's key guards its secret, so it is kept with it
        assert protected <= stateful | {"aws:kms/key:Key"}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_api_may_send_to_the_analysis_queue_only(plans, stack):
    plan = plans[stack]
    queue = plan.entry("analysis/analysis-queue")
    function = plan.entry("api/api-function")
    assert function.inputs["environment"]["variables"] == {
        "ANALYSIS_QUEUE_URL": queue.outputs["url"]}
    policy = json.loads(plan.entry("api/api-policy").inputs["policy"])
    sqs = [s for s in policy["Statement"] if any(a.startswith("sqs:") for a in s["Action"])]
    assert sqs == [{"Sid": "QueueAnalyses", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                    "Resource": queue.outputs["arn"]}]


def test_api_alias_is_left_to_rollout_and_the_api_invokes_it(plans):
    plan = plans["staging"]
    alias = plan.entry("api/api-alias")
    function = plan.entry("api/api-function")
    assert alias.inputs["name"] == "live"
    assert alias.inputs["functionVersion"] == function.outputs["version"]
    assert sorted(alias.ignore_changes) == ["functionVersion", "routingConfig"]
    assert function.inputs["publish"] is True
    integration = plan.entry("api/api-integration")
    assert integration.inputs["integrationUri"] == alias.outputs["arn"]
    assert integration.inputs["integrationType"] == "AWS_PROXY"
    permission = plan.entry("api/api-invoke")
    assert permission.inputs["qualifier"] == "live"
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["sourceArn"] == plan.entry("api/api-api").outputs[
        "executionArn"] + "/*/*"
    assert plan.entry("api/api-route").inputs["target"] == (
        f"integrations/{integration.outputs['id']}")


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_dashboard_and_alarms_cover_the_whole_platform(plans, stack):
    from components.monitoring import alarm_action_problems, dashboard_problems

    assert dashboard_problems(plans[stack]) == []
    assert alarm_action_problems(plans[stack]) == []
    alarms = [e for e in plans[stack].resources
              if e.type == "aws:cloudwatch/metricAlarm:MetricAlarm"]
    # six per worker, three for the API, four for the pipeline
    assert len(alarms) == 6 * len(WORKERS) + 3 + 4


def test_a_worker_left_off_monitoring_is_caught(root, monkeypatch):
    from components.monitoring import dashboard_problems
    from infra import platform
    from infra.plan import build_plan

    original = platform.build_monitoring

    def forgetting_profile(cfg, workers, apis, pipelines):
        return original(cfg, {k: v for k, v in workers.items() if k != "profile"}, apis,
                        pipelines)

    monkeypatch.setattr(platform, "build_monitoring", forgetting_profile)
    problems = dashboard_problems(build_plan(root, "staging"))
    assert "aws:sqs/queue:Queue acme-staging-profile-queue is not on the dashboard" in problems
    assert "aws:lambda/function:Function acme-staging-profile-fn is not on the dashboard" in \
        problems


def test_threshold_overridden_in_prod_only(plans):
    def depth(stack):
        return plans[stack].entry("monitoring/profile-queue-depth").inputs["threshold"]

    assert (depth("staging"), depth("prod")) == (50, 200)


def test_pipeline_schedule_is_off_in_staging_on_in_prod(plans):
    states = {stack: plans[stack].entry("org-eval/org-eval-schedule").inputs["state"]
              for stack in ("staging", "prod")}
    assert states == {"staging": "DISABLED", "prod": "ENABLED"}
