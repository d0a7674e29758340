"""Parity: prove that two stacks differ only where a person decided they may.

Both plans are matched by logical path. Inputs are compared after the tokens that
legitimately differ are normalized: the env name in physical names, the account id and the
region inside names and ARNs, and the live names of adopted (imported) resources. What is left
is either in :data:`ALLOWED_DIFFERENCES`, declared once here with its reason, or a divergence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.compare import normalize
from infra.config import StackConfig
from infra.plan import Plan, PlanEntry

ANY_TYPE = "*"


@dataclass(frozen=True)
class AllowedDifference:
    """A property that may differ between stacks, for every resource of ``type``."""

    type: str
    property: str
    reason: str


#: Every difference staging and prod may have. Anything else is a divergence.
ALLOWED_DIFFERENCES: tuple[AllowedDifference, ...] = (
    AllowedDifference("aws:lambda/function:Function", "reservedConcurrentExecutions",
                      "sizing: tandem:workers.<worker>.reservedConcurrency"),
    AllowedDifference("aws:lambda/function:Function", "memorySize",
                      "sizing: tandem:workers.<worker>.memory"),
    AllowedDifference("aws:lambda/eventSourceMapping:EventSourceMapping", "batchSize",
                      "sizing: tandem:workers.<worker>.batchSize"),
    AllowedDifference("aws:lambda/eventSourceMapping:EventSourceMapping", "scalingConfig",
                      "sizing: tandem:workers.<worker>.maxConcurrency"),
    AllowedDifference("aws:cloudwatch/logGroup:LogGroup", "retentionInDays",
                      "log retention: tandem:logRetentionDays"),
    AllowedDifference("aws:cloudwatch/eventRule:EventRule", "state",
                      "schedules on or off per stack"),
    AllowedDifference("aws:ecs/taskDefinition:TaskDefinition", "cpu",
                      "sizing: pipeline task cpu"),
    AllowedDifference("aws:ecs/taskDefinition:TaskDefinition", "memory",
                      "sizing: pipeline task memory"),
    AllowedDifference("aws:cloudwatch/metricAlarm:MetricAlarm", "threshold",
                      "alarm thresholds per stack"),
    AllowedDifference("aws:cloudwatch/metricAlarm:MetricAlarm", "alarmDescription",
                      "the description states the per-stack threshold"),
    AllowedDifference("aws:sns/topicSubscription:TopicSubscription", "endpoint",
                      "alarm e-mail: tandem:alarmEmail"),
    AllowedDifference(ANY_TYPE, "protect",
                      "stateful resources are protected in prod; imported ones everywhere"),
    AllowedDifference(ANY_TYPE, "importId", "adopted resources carry their import id"),
    AllowedDifference(ANY_TYPE, "physicalName", "adopted resources keep their live name"),
)


def allowed_reason(type_: str, prop: str) -> str | None:
    """Why ``prop`` of ``type_`` may differ, or None when it may not."""
    for allowed in ALLOWED_DIFFERENCES:
        if allowed.property == prop and allowed.type in (type_, ANY_TYPE):
            return allowed.reason
    return None


@dataclass
class ParityDifference:
    """One property that differs between the stacks."""

    path: str
    type: str
    property: str
    base: Any
    target: Any
    reason: str | None  # None: a divergence

    @property
    def allowed(self) -> bool:
        return self.reason is not None


@dataclass
class ParityReport:
    """The comparison of two stacks' plans."""

    base: str
    target: str
    differences: list[ParityDifference] = field(default_factory=list)
    only_in_base: list[PlanEntry] = field(default_factory=list)
    only_in_target: list[PlanEntry] = field(default_factory=list)

    @property
    def divergent(self) -> list[ParityDifference]:
        return [d for d in self.differences if not d.allowed]

    @property
    def exit_code(self) -> int:
        """0 when only allowed differences exist, 2 on any divergence."""
        return 2 if self.divergent or self.only_in_base or self.only_in_target else 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``tandem parity --format json`` (schema in the README)."""
        return {"schema": 1, "base": self.base, "target": self.target,
                "equal": self.exit_code == 0,
                "summary": {"allowed": len(self.differences) - len(self.divergent),
                            "divergent": len(self.divergent),
                            "onlyInBase": len(self.only_in_base),
                            "onlyInTarget": len(self.only_in_target)},
                "differences": [{"path": d.path, "type": d.type, "property": d.property,
                                 "base": d.base, "target": d.target, "allowed": d.allowed,
                                 "reason": d.reason} for d in self.differences],
                "onlyInBase": [{"path": e.path, "type": e.type} for e in self.only_in_base],
                "onlyInTarget": [{"path": e.path, "type": e.type}
                                 for e in self.only_in_target]}


class _Tokens:
    """Replaces one stack's own tokens with placeholders, so both stacks read alike: account
    id, region, env name in names, the network's VPC and subnet ids (each stack runs in its
    own network), and the image tags promoted into it."""

    def __init__(self, cfg: StackConfig, plan: Plan) -> None:
        self.env = cfg.env
        #: Adopted live names -> the other stack's planned name, already normalized.
        self.renames: dict[str, str] = {}
        network = {}
        if cfg.network:
            network[cfg.network.vpc_id] = "<vpc>"
            network.update({subnet: f"<private-subnet-{i + 1}>"
                            for i, subnet in enumerate(cfg.network.private_subnet_ids)})
        images = {f":{s.image_tag}": f":<{name}-image-tag>"
                  for name, s in cfg.pipelines.items()}
        self.pairs = sorted({
            **network,
            **images,
            plan.account_id: "<account>",
            cfg.account_id: "<account>",
            f"{cfg.app}-{cfg.env}-": f"{cfg.app}-<env>-",
            f"{cfg.app}-{cfg.env}": f"{cfg.app}-<env>",
        }.items(), key=lambda pair: len(pair[0]), reverse=True)
        self.region = plan.region

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            if value == self.env:
                return "<env>"
            for old, new in sorted(self.renames.items(), key=lambda p: -len(p[0])):
                value = value.replace(old, new)
            for old, new in self.pairs:
                value = value.replace(old, new)
            return value.replace(f":{self.region}:", ":<region>:").replace(
                f".{self.region}.", ".<region>.")
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def _adopted_renames(base: Plan, target: Plan) -> tuple[dict[str, str], dict[str, str]]:
    """For resources imported under a live name in either stack: live name -> the other
    stack's planned name, so references to the adopted name compare equal."""
    base_by_path = {e.path: e for e in base.resources}
    to_base: dict[str, str] = {}
    to_target: dict[str, str] = {}
    for entry in target.resources:
        other = base_by_path.get(entry.path)
        if other is None or not entry.physical_name or not other.physical_name:
            continue
        if entry.import_id and not other.import_id:
            to_base[entry.physical_name] = other.physical_name
        elif other.import_id and not entry.import_id:
            to_target[other.physical_name] = entry.physical_name
    return to_base, to_target


def _computed_ids(base: Plan, target: Plan) -> dict[str, str]:
    """Target -> base values of what AWS computes for the same resource in both stacks
    (ids it assigns, ARNs, URLs): one resource, two stacks, so they must compare equal."""
    base_by_path = {e.path: e for e in base.resources}
    pairs: dict[str, str] = {}
    for entry in target.resources:
        other = base_by_path.get(entry.path)
        if other is None:
            continue
        pairs[str(entry.id)] = str(other.id)
        for key, value in entry.outputs.items():
            if key not in entry.inputs and isinstance(value, str) and len(value) >= 6:
                counterpart = other.outputs.get(key)
                if isinstance(counterpart, str):
                    pairs[value] = counterpart
    return {k: v for k, v in pairs.items() if k != v}


def compare_plans(base: Plan, base_cfg: StackConfig, target: Plan,
                  target_cfg: StackConfig) -> ParityReport:
    """Every difference between two stacks' plans, each marked allowed or divergent."""
    to_base, to_target = _adopted_renames(base, target)
    base_tokens, target_tokens = _Tokens(base_cfg, base), _Tokens(target_cfg, target)
    target_tokens.renames = {
        **{computed: base_tokens(value) for computed, value in
           _computed_ids(base, target).items()},
        **{live: base_tokens(name) for live, name in to_base.items()}}
    base_tokens.renames = {live: target_tokens(name) for live, name in to_target.items()}
    base_entries = {e.path: e for e in base.entries}
    target_entries = {e.path: e for e in target.entries}
    report = ParityReport(base.stack, target.stack)
    report.only_in_base = [e for p, e in base_entries.items() if p not in target_entries]
    report.only_in_target = [e for p, e in target_entries.items() if p not in base_entries]
    for path, left in base_entries.items():
        right = target_entries.get(path)
        if right is None:
            continue
        if left.type != right.type:
            report.differences.append(ParityDifference(path, left.type, "type", left.type,
                                                       right.type, None))
            continue
        meta = {"protect": (left.protect, right.protect),
                "importId": (left.import_id, right.import_id)}
        if left.import_id or right.import_id:
            meta["physicalName"] = (left.physical_name, right.physical_name)
        for prop, (a, b) in meta.items():
            if a != b:
                report.differences.append(ParityDifference(
                    path, left.type, prop, a, b, allowed_reason(left.type, prop)))
        for prop in sorted(set(left.inputs) | set(right.inputs)):
            a, b = left.inputs.get(prop), right.inputs.get(prop)
            if normalize(base_tokens(a)) == normalize(target_tokens(b)):
                continue
            if prop == "name" and "physicalName" in meta:
                continue  # an adopted name: reported once, as physicalName
            report.differences.append(ParityDifference(
                path, left.type, prop, a, b, allowed_reason(left.type, prop)))
    return report
