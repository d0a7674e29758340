"""Deterministic physical names: ``{app}-{env}-{workload}-{role}``.

Names are checked against AWS limits when the program runs, so a name that is too long fails
at ``pulumi preview`` (and ``tandem plan``), not halfway through ``pulumi up``.
"""

from __future__ import annotations

import re

#: Maximum physical-name length per kind of resource, from each service's API reference.
AWS_NAME_LIMITS: dict[str, int] = {
    "sqs_queue": 80,          # SQS CreateQueue: QueueName up to 80 characters
    "iam_role": 64,           # IAM CreateRole: RoleName up to 64 characters
    "iam_role_policy": 128,   # IAM PutRolePolicy: PolicyName up to 128 characters
    "log_group": 512,         # CloudWatch Logs CreateLogGroup: logGroupName up to 512
    "lambda_function": 64,    # Lambda CreateFunction: FunctionName up to 64 (name form)
    "lambda_layer": 64,       # Lambda PublishLayerVersion: LayerName up to 64 (name form)
    "alarm": 255,             # CloudWatch PutMetricAlarm: AlarmName up to 255 characters
    "dashboard": 255,         # CloudWatch PutDashboard: DashboardName up to 255 (A-Z a-z 0-9 - _)
    "sns_topic": 256,         # SNS CreateTopic: Name up to 256 characters
    "ecr_repository": 256,    # ECR CreateRepository: repositoryName 2 to 256 characters
    "ecs_cluster": 255,       # ECS CreateCluster: clusterName up to 255 letters, digits, - and _
    "ecs_task_family": 255,   # ECS RegisterTaskDefinition: family up to 255 characters
    "sfn_state_machine": 80,  # Step Functions CreateStateMachine: name 1 to 80 characters
    "secret": 512,            # Secrets Manager CreateSecret: Name up to 512 characters
    "event_rule": 64,         # EventBridge PutRule: Name 1 to 64 characters
    "security_group": 255,    # EC2 CreateSecurityGroup: GroupName up to 255 characters
    "kms_alias": 256,         # KMS CreateAlias: AliasName 1 to 256 characters, "alias/" included
    "http_api": 128,          # API Gateway v2 CreateApi: Name up to 128 characters
    "lambda_statement": 100,  # Lambda AddPermission: StatementId up to 100 characters
}

_PART = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def check_length(name: str, kind: str) -> str:
    """Return ``name`` if it fits the AWS limit for ``kind``; raise ValueError otherwise."""
    limit = AWS_NAME_LIMITS[kind]
    if len(name) > limit:
        raise ValueError(
            f"physical name '{name}' is {len(name)} characters; AWS allows {limit} for {kind}: "
            "shorten the app, env or workload name")
    return name


def physical_name(app: str, env: str, workload: str, role: str, kind: str) -> str:
    """Build ``{app}-{env}-{workload}-{role}`` and check it against the limit for ``kind``."""
    for label, part in (("app", app), ("env", env), ("workload", workload), ("role", role)):
        if not _PART.match(part or ""):
            raise ValueError(
                f"{label} '{part}' must be lowercase letters, digits and single hyphens, "
                "starting with a letter")
    return check_length(f"{app}-{env}-{workload}-{role}", kind)


def stack_prefix(app: str, env: str) -> str:
    """The prefix every physical name of one stack starts with."""
    return f"{app}-{env}-"
