"""Monitoring: worker alarms, the alarm topic and the dashboard, planned offline and deployed
on the emulator (drift clean, a deleted alarm reported missing)."""

from __future__ import annotations

import json
import textwrap

import pytest
from emulator_client import client

from components.monitoring import (
    AlarmThresholds,
    MonitoredPipeline,
    MonitoredWorker,
    MonitoringArgs,
    alarm_action_problems,
    alarm_topic_key_statement,
    dashboard_metrics,
    dashboard_problems,
)
from infra.aws.base import ResourceRef
from infra.aws.cloudwatch import MetricAlarmAdapter
from infra.compare import differences
from infra.deploy import deploy
from infra.drift import check_drift
from infra.plan import build_plan
from infra.session import open_session, resolve_env

CODE_DIR = "/work/main/infra/handlers/profile"
REGION = "us-east-1"
ACCOUNT = "123456789012"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:acme-test-alarms"

PROGRAM = """
    from components.monitoring import (
        AlarmThresholds, Monitoring, MonitoringArgs, MonitoredPipeline, MonitoredWorker)
    from components.worker import QueueWorker, QueueWorkerArgs

    CODE = {code!r}
    profile = QueueWorker("profile", QueueWorkerArgs(app="acme", env="test", code_dir=CODE))
    analysis = QueueWorker("analysis", QueueWorkerArgs(
        app="acme", env="test", code_dir=CODE, timeout_seconds=120, max_receive_count=3))
    monitored = [profile, analysis]
    {extra}
    Monitoring("monitoring", MonitoringArgs(
        app="acme", env="test",
        workers=[MonitoredWorker.from_queue_worker(w) for w in monitored],
        pipelines={pipelines},
        thresholds=AlarmThresholds.from_mapping({thresholds!r}),
        alarm_email="ops@example.com"))
"""


def write_program(path, extra="", pipelines="[]", thresholds=None):
    (path / "Pulumi.yaml").write_text("name: mon\nruntime: python\n")
    (path / "Pulumi.test.yaml").write_text(
        f'config:\n  aws:region: {REGION}\n  aws:allowedAccountIds: ["{ACCOUNT}"]\n')
    (path / "__main__.py").write_text(textwrap.dedent(PROGRAM).format(
        code=CODE_DIR, extra=extra, pipelines=pipelines, thresholds=thresholds or {}))
    return path


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    return build_plan(write_program(tmp_path_factory.mktemp("monitoring")), "test")


def alarms_of(plan):
    return {e.physical_name: e for e in plan.resources
            if e.type == "aws:cloudwatch/metricAlarm:MetricAlarm"}


def body_of(plan):
    return json.loads(plan.entry("monitoring/monitoring-dashboard").inputs["dashboardBody"])


# (suffix, namespace, metric, dimension, queue or function role, statistic key, statistic,
#  comparison, evaluation periods, treat missing data)
EXPECTED = [
    ("dlq-messages", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "dlq",
     "statistic", "Maximum", "GreaterThanOrEqualToThreshold", 1, "notBreaching"),
    ("queue-depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "queue",
     "statistic", "Maximum", "GreaterThanThreshold", 15, "missing"),
    ("oldest-message-age", "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "queue",
     "statistic", "Maximum", "GreaterThanThreshold", 15, "missing"),
    ("errors", "AWS/Lambda", "Errors", "FunctionName", "fn", "statistic", "Sum",
     "GreaterThanThreshold", 3, "notBreaching"),
    ("throttles", "AWS/Lambda", "Throttles", "FunctionName", "fn", "statistic", "Sum",
     "GreaterThanThreshold", 5, "notBreaching"),
    ("duration-p95", "AWS/Lambda", "Duration", "FunctionName", "fn", "extendedStatistic",
     "p95", "GreaterThanThreshold", 15, "notBreaching"),
]
#: Thresholds per worker: profile has a 30 s timeout (visibility 180 s, 5 receives), analysis
#: 120 s (visibility 720 s, 3 receives).
THRESHOLDS = {
    "profile": {"dlq-messages": 1, "queue-depth": 50, "oldest-message-age": 900, "errors": 0,
                "throttles": 0, "duration-p95": 24_000},
    "analysis": {"dlq-messages": 1, "queue-depth": 50, "oldest-message-age": 2160,
                 "errors": 0, "throttles": 0, "duration-p95": 96_000},
}


def test_every_worker_has_each_alarm_with_the_right_metric(plan):
    alarms = alarms_of(plan)
    assert len(alarms) == 12
    for worker in ("profile", "analysis"):
        for (suffix, namespace, metric, dimension, role, stat_key, stat, comparison, periods,
             missing) in EXPECTED:
            name = f"acme-test-{worker}-{suffix}"
            inputs = alarms[name].inputs
            assert alarms[name].path == f"monitoring/{worker}-{suffix}"
            assert (inputs["namespace"], inputs["metricName"]) == (namespace, metric), name
            assert inputs["dimensions"] == {dimension: f"acme-test-{worker}-{role}"}, name
            assert inputs[stat_key] == stat, name
            other = {"statistic", "extendedStatistic"} - {stat_key}
            assert not inputs.get(other.pop()), name
            assert inputs["threshold"] == THRESHOLDS[worker][suffix], name
            assert inputs["comparisonOperator"] == comparison, name
            assert inputs["evaluationPeriods"] == inputs["datapointsToAlarm"] == periods, name
            assert inputs["period"] == 60, name
            assert inputs["treatMissingData"] == missing, name
            assert inputs["tags"]["tandem:workload"] == worker


def test_every_alarm_notifies_the_topic_on_alarm_and_ok(plan):
    topic = plan.entry("monitoring/monitoring-topic")
    assert topic.outputs["arn"] == TOPIC_ARN
    # A customer managed key: CloudWatch alarms cannot publish under alias/aws/sns.
    key = plan.entry("monitoring/monitoring-topic-key")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    statements = json.loads(key.inputs["policy"])["Statement"]
    assert statements[1]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statements[1]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    for alarm in alarms_of(plan).values():
        assert alarm.inputs["alarmActions"] == [TOPIC_ARN], alarm.path
        assert alarm.inputs["okActions"] == [TOPIC_ARN], alarm.path
        assert "monitoring/monitoring-topic" in alarm.dependencies
    email = plan.entry("monitoring/monitoring-email")
    assert (email.inputs["topic"], email.inputs["protocol"], email.inputs["endpoint"]) == (
        TOPIC_ARN, "email", "ops@example.com")
    assert alarm_action_problems(plan) == []
    broken = alarms_of(plan)["acme-test-profile-errors"]
    saved = broken.inputs["okActions"]
    broken.inputs["okActions"] = []
    try:
        assert alarm_action_problems(plan) == [
            f"monitoring/profile-errors: okActions does not include {TOPIC_ARN}"]
    finally:
        broken.inputs["okActions"] = saved


def test_dashboard_is_json_built_from_planned_names(plan):
    dashboard = plan.entry("monitoring/monitoring-dashboard")
    assert dashboard.physical_name == "acme-test"
    widgets = body_of(plan)["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    assert titles == ["Alarm status"] + [
        f"{worker}: {panel}" for worker in ("profile", "analysis")
        for panel in ("queue depth", "invocations and errors", "duration (ms)",
                      "throttles and concurrency")]
    assert sorted(widgets[0]["properties"]["alarms"]) == sorted(
        e.outputs["arn"] for e in alarms_of(plan).values())
    duration = widgets[3]["properties"]["metrics"]
    assert [m[4]["stat"] for m in duration] == ["p50", "p95", "p99"]
    depth = {m[3] for m in widgets[1]["properties"]["metrics"]}
    assert depth == {"acme-test-profile-queue", "acme-test-profile-dlq"}
    planned = {e.physical_name for e in plan.resources}
    metrics = dashboard_metrics(dashboard.inputs["dashboardBody"])
    assert len(metrics) == 2 * 10
    for _namespace, _metric, dimensions in metrics:
        assert set(dimensions.values()) <= planned
    assert dashboard_problems(plan) == []


def test_a_worker_left_out_of_monitoring_is_caught(tmp_path):
    plan = build_plan(write_program(tmp_path, extra=(
        'QueueWorker("billing", QueueWorkerArgs(app="acme", env="test", code_dir=CODE))')),
        "test")
    assert dashboard_problems(plan) == [
        "aws:sqs/queue:Queue acme-test-billing-dlq is not on the dashboard",
        "aws:sqs/queue:Queue acme-test-billing-queue is not on the dashboard",
        "aws:lambda/function:Function acme-test-billing-fn is not on the dashboard",
    ]
    # A metric naming something that is not planned is caught too.
    entry = plan.entry("monitoring/monitoring-dashboard")
    entry.inputs["dashboardBody"] = entry.inputs["dashboardBody"].replace(
        "acme-test-profile-fn", "acme-test-profil-fn")
    assert ("metric AWS/Lambda/Invocations: FunctionName=acme-test-profil-fn names no "
            "aws:lambda/function:Function in the plan") in dashboard_problems(plan)


def test_pipeline_row_from_names_and_threshold_override(tmp_path):
    pipelines = ('[MonitoredPipeline("ingest", cluster_name="acme-test-ingest-cluster", '
                 'state_machine_name="acme-test-ingest-sm", '
                 'alarm_names=["acme-test-ingest-failed"])]')
    plan = build_plan(write_program(tmp_path, pipelines=pipelines,
                                    thresholds={"queueDepth": 10,
                                                "oldest_message_age_seconds": 600}), "test")
    alarms = alarms_of(plan)
    assert alarms["acme-test-profile-queue-depth"].inputs["threshold"] == 10
    assert alarms["acme-test-analysis-oldest-message-age"].inputs["threshold"] == 600
    widgets = body_of(plan)["widgets"]
    executions, ecs = widgets[-2:]
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:acme-test-ingest-sm"
    assert [(m[1], m[3]) for m in executions["properties"]["metrics"]] == [
        (metric, arn) for metric in ("ExecutionsStarted", "ExecutionsSucceeded",
                                     "ExecutionsFailed", "ExecutionsTimedOut")]
    assert {(m[0], m[2], m[3]) for m in ecs["properties"]["metrics"]} == {
        ("ECS/ContainerInsights", "ClusterName", "acme-test-ingest-cluster")}
    assert f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:acme-test-ingest-failed" in \
        widgets[0]["properties"]["alarms"]
    # No state machine, cluster or pipeline alarm is planned here: the check says so.
    problems = dashboard_problems(plan)
    assert any(f"StateMachineArn={arn} names no aws:sfn/stateMachine:StateMachine" in p
               for p in problems)
    assert any("ClusterName=acme-test-ingest-cluster names no" in p for p in problems)
    assert any("acme-test-ingest-failed, which is not in the plan" in p for p in problems)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: AlarmThresholds(queue_depth=0),
     r"AlarmThresholds.queue_depth=0: must be an integer of at least 1"),
    (lambda: AlarmThresholds(duration_timeout_ratio=1.5),
     r"AlarmThresholds.duration_timeout_ratio=1.5: must be a number above 0"),
    (lambda: AlarmThresholds(error_evaluation_periods=1441),
     r"AlarmThresholds.error_evaluation_periods=1441: must be an integer from 1 to 1440"),
    (lambda: AlarmThresholds.from_mapping({"queueDept": 5}, "tandem:alarmThresholds"),
     r"tandem:alarmThresholds: unknown key 'queueDept'; allowed: backlogEvaluationPeriods, "),
    (lambda: MonitoredWorker("w", "acme-test-w-queue", "acme-test-w-dlq", "acme-test-w-fn",
                             timeout_seconds=901),
     r"MonitoredWorker\('w'\).timeout_seconds=901: must be an integer from 1 to 900"),
    (lambda: MonitoringArgs("acme", "test", alarm_email="ops"),
     r"MonitoringArgs.alarm_email='ops': must be one e-mail address"),
    (lambda: MonitoringArgs("acme", "test", workers=[
        MonitoredWorker("w", "acme-prod-w-queue", "acme-test-w-dlq", "acme-test-w-fn", 30)]),
     r"workers\['w'\].queue_name='acme-prod-w-queue': must belong to this stack"),
    (lambda: MonitoringArgs("acme", "test", workers=[
        MonitoredWorker("w", "acme-test-w-queue", "acme-test-w-dlq", "acme-test-w-fn", 30)] * 2),
     r"'w' is listed twice"),
    (lambda: MonitoredPipeline("p", cluster_name="c"),
     r"give exactly one of state_machine_arn and state_machine_name"),
])
def test_bad_arguments_are_one_line_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_customer_managed_key_statement_lets_only_this_accounts_alarms_in():
    statement = alarm_topic_key_statement(ACCOUNT, REGION)
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == \
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"


# --- on the emulator -----------------------------------------------------------------------------

def test_deployed_alarms_and_dashboard_exist_and_drift_is_clean(emulator, plan):
    session = open_session(emulator.endpoint_url, region=REGION)
    assert resolve_env(session).account_id == ACCOUNT
    statuses = {d.path: d.status for d in deploy(plan, session)}
    assert set(statuses.values()) == {"created"}

    cloudwatch = client(emulator, "cloudwatch")
    live = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(
        AlarmNamePrefix="acme-test-")["MetricAlarms"]}
    assert set(live) == set(alarms_of(plan))
    errors = live["acme-test-analysis-errors"]
    assert (errors["MetricName"], errors["Statistic"], errors["EvaluationPeriods"]) == (
        "Errors", "Sum", 3)
    assert errors["AlarmActions"] == errors["OKActions"] == [TOPIC_ARN]
    assert live["acme-test-analysis-duration-p95"]["ExtendedStatistic"] == "p95"
    dashboard = cloudwatch.get_dashboard(DashboardName="acme-test")
    assert json.loads(dashboard["DashboardBody"]) == body_of(plan)
    sns = client(emulator, "sns")
    key_arn = sns.get_topic_attributes(TopicArn=TOPIC_ARN)["Attributes"]["KmsMasterKeyId"]
    key = client(emulator, "kms").describe_key(KeyId="alias/acme-test-alarms")["KeyMetadata"]
    assert key_arn == key["Arn"]
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]
    assert subscription["Endpoint"] == "ops@example.com"

    # A second deploy finds everything (moto cannot report a redrive-allow policy, so that one
    # is written again: EMULATOR_LIMITS).
    again = {d.path: d.status for d in deploy(plan, session)}
    assert {p for p, s in again.items() if s != "exists"} == {
        "profile/profile-dlq-redrive-allow", "analysis/analysis-dlq-redrive-allow"}

    report = check_drift(plan, session, "acme-test-")
    assert report.counts() == {"drifted": 0, "missing": 0, "unmanaged": 0, "unreadable": 0,
                               "in_sync": len(plan.resources)}, [
        r.to_dict() for r in report.resources if r.status != "in_sync"]

    cloudwatch.delete_alarms(AlarmNames=["acme-test-profile-throttles"])
    cloudwatch.put_metric_alarm(**{**MetricAlarmAdapter.put_request(
        alarms_of(plan)["acme-test-profile-errors"].inputs, "acme-test-profile-errors"),
        "Threshold": 5.0})
    problems = {(r.path, r.status): r for r in check_drift(plan, session, "acme-test-").resources
                if r.status != "in_sync"}
    assert set(problems) == {("monitoring/profile-throttles", "missing"),
                             ("monitoring/profile-errors", "drifted")}
    [difference] = problems[("monitoring/profile-errors", "drifted")].differences
    assert (difference.property, difference.expected, difference.actual) == ("threshold", 0, 5)


def test_metric_math_alarm_round_trips_and_reads_batch_100_names(emulator):
    """The pipeline's alarms use metricQueries; DescribeAlarms reads 100 names a call."""
    session = open_session(emulator.endpoint_url, region=REGION)
    adapter = MetricAlarmAdapter()
    sm = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:zeta-test-ingest-sm"
    inputs = {
        "name": "zeta-test-ingest-failed", "comparisonOperator": "GreaterThanOrEqualToThreshold",
        "evaluationPeriods": 1, "threshold": 1, "treatMissingData": "notBreaching",
        "alarmActions": [TOPIC_ARN], "okActions": [TOPIC_ARN],
        "metricQueries": [
            {"id": "failed", "expression": "m1 + m2", "label": "failed or timed out",
             "returnData": True},
            {"id": "m1", "returnData": False, "metric": {
                "namespace": "AWS/States", "metricName": "ExecutionsFailed", "period": 300,
                "stat": "Sum", "dimensions": {"StateMachineArn": sm}}},
            {"id": "m2", "metric": {
                "namespace": "AWS/States", "metricName": "ExecutionsTimedOut", "period": 300,
                "stat": "Sum", "dimensions": {"StateMachineArn": sm}}},
        ]}
    ref = ResourceRef(adapter.type_token, "math", inputs["name"], inputs)
    assert adapter.create(session, ref).existed is False
    assert adapter.create(session, ref).existed is True
    live = adapter.read(session, ref)
    assert differences(inputs, live) == []
    changed = {**inputs, "metricQueries": [{**inputs["metricQueries"][0],
                                            "expression": "m1"}, *inputs["metricQueries"][1:]]}
    assert [d.property for d in differences(changed, live)] == ["metricQueries"]

    names = [f"zeta-test-a{i:03}" for i in range(150)]
    refs = [ResourceRef(adapter.type_token, n, n, {"name": n}) for n in names]
    calls = []
    cloudwatch = session.client("cloudwatch")
    cloudwatch.meta.events.register("before-parameter-build.cloudwatch.DescribeAlarms",
                                     lambda params, **_: calls.append(params["AlarmNames"]))
    assert adapter.prefetch(session, refs) == {}
    assert [len(batch) for batch in calls] == [100, 50]
    assert adapter.read(session, refs[0], {}) is None
