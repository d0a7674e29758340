"""Guardrail rules, as plain functions over a stack's resources.

The CrossGuard pack (``policy/__main__.py``) feeds them pulumi-policy's resources;
``tandem check`` feeds them the offline Plan. Both go through :class:`Resource`, so the rules
never depend on either. Each rule returns its violations; an empty list means compliant.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from components.bedrock import allowed_bedrock_arn

QUEUE = "aws:sqs/queue:Queue"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION = "aws:lambda/function:Function"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY_DOCUMENT_TYPES = {ROLE_POLICY: "policy", "aws:iam/policy:Policy": "policy",
                         "aws:iam/role:Role": "inlinePolicies"}
#: Types that hold data; in prod they must be protected from deletion.
STATEFUL_TYPES = frozenset({
    QUEUE, "aws:dynamodb/table:Table", "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2",
    "aws:secretsmanager/secret:Secret", "aws:ecr/repository:Repository",
    "aws:rds/instance:Instance", "aws:rds/cluster:Cluster",
})
PROTECTED_STACKS = frozenset({"prod"})
#: The alarms a worker function must have (CloudWatch metric names, namespace AWS/Lambda).
WORKER_ALARM_METRICS = ("Errors", "Throttles", "Duration")


@dataclass(frozen=True)
class Resource:
    """What a rule sees of one resource: its type, names, input properties and protect."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    protect: bool = False
    parent: str | None = None

    @property
    def stack(self) -> str:
        """The stack name, from the URN (``urn:pulumi:<stack>::<project>::...``)."""
        return self.urn.split("::")[0].split(":")[-1] if self.urn.startswith("urn:") else ""


@dataclass(frozen=True)
class Violation:
    """One broken rule on one resource."""

    rule: str
    resource: Resource
    message: str


@dataclass(frozen=True)
class Rule:
    """A named guardrail."""

    name: str
    description: str
    check: Callable[[list[Resource]], list[Violation]]


def _known(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _statements(resource: Resource) -> list[dict]:
    key = POLICY_DOCUMENT_TYPES.get(resource.type)
    raw = resource.props.get(key) if key else None
    documents = []
    if isinstance(raw, list):  # Role.inlinePolicies
        documents = [item.get("policy") for item in raw if isinstance(item, dict)]
    elif raw is not None:
        documents = [raw]
    statements = []
    for document in documents:
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError:
                continue
        if isinstance(document, dict):
            found = document.get("Statement") or []
            statements += found if isinstance(found, list) else [found]
    return [s for s in statements if isinstance(s, dict)]


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def _queue_for(mapping: Resource, queues: list[Resource]) -> Resource | None:
    source = mapping.props.get("eventSourceArn")
    if _known(source):
        for queue in queues:
            if source.endswith(f":{queue.props.get('name')}"):
                return queue
    # Unknown during a first preview: the mapping's sibling queue (same component).
    siblings = [q for q in queues if q.parent and q.parent == mapping.parent
                and "redrivePolicy" in q.props]
    return siblings[0] if siblings else None


def queues_feeding_lambda_have_a_dlq(resources: list[Resource]) -> list[Violation]:
    """Every SQS queue feeding a Lambda has a redrive policy to a dead-letter queue."""
    queues = [r for r in resources if r.type == QUEUE]
    violations = []
    for mapping in (r for r in resources if r.type == MAPPING):
        source = mapping.props.get("eventSourceArn")
        if _known(source) and ":sqs:" not in source:
            continue
        queue = _queue_for(mapping, queues)
        if queue is None:
            continue
        redrive = queue.props.get("redrivePolicy")
        if isinstance(redrive, str):
            try:
                redrive = json.loads(redrive)
            except ValueError:
                redrive = None
        if not redrive or (isinstance(redrive, dict) and not redrive.get(
                "deadLetterTargetArn")):
            violations.append(Violation("queue-has-dlq", queue, f"queue '{queue.name}' feeds "
                                        "a Lambda but has no redrive policy to a DLQ"))
    return violations


def worker_functions_have_alarms(resources: list[Resource]) -> list[Violation]:
    """Every function fed by a queue has Errors, Throttles and Duration alarms."""
    alarms: dict[str, set[str]] = {}
    for alarm in (r for r in resources if r.type == ALARM):
        dimensions = alarm.props.get("dimensions") or {}
        function = dimensions.get("FunctionName") if isinstance(dimensions, dict) else None
        if alarm.props.get("namespace") == "AWS/Lambda" and _known(function):
            alarms.setdefault(function, set()).add(alarm.props.get("metricName"))
    functions = {r.props.get("name"): r for r in resources if r.type == FUNCTION}
    violations = []
    for mapping in (r for r in resources if r.type == MAPPING):
        target = mapping.props.get("functionName")
        name = target.split(":function:")[-1].split(":")[0] if _known(target) else None
        function = functions.get(name) or next(
            (f for f in functions.values() if f.parent and f.parent == mapping.parent), None)
        if function is None:
            continue
        missing = [m for m in WORKER_ALARM_METRICS
                   if m not in alarms.get(function.props.get("name"), set())]
        if missing:
            violations.append(Violation(
                "worker-has-alarms", function, f"worker function '{function.props.get('name')}'"
                f" has no {', '.join(missing)} alarm"))
    return violations


def no_wildcard_actions(resources: list[Resource]) -> list[Violation]:
    """No IAM statement allows a wildcard action (``*`` or ``service:*``)."""
    violations = []
    for resource in resources:
        for statement in _statements(resource):
            if statement.get("Effect", "Allow") != "Allow":
                continue
            for action in _as_list(statement.get("Action")):
                if isinstance(action, str) and "*" in action:
                    violations.append(Violation(
                        "no-wildcard-actions", resource,
                        f"'{resource.name}' allows the wildcard action '{action}'"))
    return violations


def bedrock_from_shared_list(resources: list[Resource]) -> list[Violation]:
    """Every Bedrock resource in IAM is a model (or profile) of the shared model list."""
    violations = []
    for resource in resources:
        for statement in _statements(resource):
            actions = [a for a in _as_list(statement.get("Action")) if isinstance(a, str)]
            resources_ = [r for r in _as_list(statement.get("Resource")) if isinstance(r, str)]
            bedrock = any(a.startswith("bedrock:") for a in actions)
            for arn in resources_:
                if (":bedrock:" in arn or bedrock) and not allowed_bedrock_arn(arn):
                    violations.append(Violation(
                        "bedrock-from-shared-list", resource,
                        f"'{resource.name}' grants Bedrock on '{arn}', which is not in "
                        "components/bedrock.py BEDROCK_MODELS"))
    return violations


def prod_stateful_resources_protected(resources: list[Resource]) -> list[Violation]:
    """In prod, resources that hold data are protected from deletion."""
    return [Violation("prod-stateful-protected", r,
                      f"'{r.name}' ({r.type}) holds data but is not protected in {r.stack}")
            for r in resources
            if r.type in STATEFUL_TYPES and r.stack in PROTECTED_STACKS and not r.protect]


def log_groups_have_retention(resources: list[Resource]) -> list[Violation]:
    """Every log group sets a retention (CloudWatch keeps logs forever by default)."""
    return [Violation("log-retention", r, f"log group '{r.props.get('name', r.name)}' has no "
                      "retention")
            for r in resources
            if r.type == LOG_GROUP and not r.props.get("retentionInDays")]


RULES: tuple[Rule, ...] = (
    Rule("queue-has-dlq", queues_feeding_lambda_have_a_dlq.__doc__ or "",
         queues_feeding_lambda_have_a_dlq),
    Rule("worker-has-alarms", worker_functions_have_alarms.__doc__ or "",
         worker_functions_have_alarms),
    Rule("no-wildcard-actions", no_wildcard_actions.__doc__ or "", no_wildcard_actions),
    Rule("bedrock-from-shared-list", bedrock_from_shared_list.__doc__ or "",
         bedrock_from_shared_list),
    Rule("prod-stateful-protected", prod_stateful_resources_protected.__doc__ or "",
         prod_stateful_resources_protected),
    Rule("log-retention", log_groups_have_retention.__doc__ or "", log_groups_have_retention),
)


def check_all(resources: list[Resource]) -> list[Violation]:
    """Every rule's violations, in rule order."""
    return [v for rule in RULES for v in rule.check(resources)]
