"""Gradual rollout of an API function through its alias: 10% -> 50% -> 100%.

At each step the alias keeps the previous version and sends the step's share of traffic to the
new one (``RoutingConfig.AdditionalVersionWeights``); at 100% the alias points at the new
version with no routing. After each step it bakes, polling the function's alarms (taken from
the Plan); any alarm in ALARM restores the previous version with no routing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.errors import TandemError
from infra.plan import Plan, PlanEntry

ALIAS = "aws:lambda/alias:Alias"
FUNCTION = "aws:lambda/function:Function"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DEFAULT_STEPS = (10, 50, 100)
DEFAULT_BAKE = 300.0   # 5 minutes a step: long enough for a 1-minute alarm to fire twice
DEFAULT_POLL = 15.0
DESCRIBE_ALARMS_LIMIT = 100  # CloudWatch DescribeAlarms takes up to 100 AlarmNames


class RolloutError(TandemError):
    """The rollout cannot start (unknown function, no alias, no alarms to watch)."""


@dataclass
class RolloutTarget:
    """What the Plan says about the function being rolled out."""

    function: str
    alias: str
    alarms: list[str]


@dataclass
class RolloutReport:
    """What happened: the versions, every step taken, and the outcome."""

    stack: str
    function: str
    alias: str
    from_version: str
    to_version: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "pending"  # done | rolled_back | dry_run
    alarm: str | None = None

    @property
    def exit_code(self) -> int:
        return 2 if self.outcome == "rolled_back" else 0

    def to_dict(self) -> dict[str, Any]:
        return {"schema": 1, "stack": self.stack, "function": self.function,
                "alias": self.alias, "fromVersion": self.from_version,
                "toVersion": self.to_version, "outcome": self.outcome,
                "alarm": self.alarm, "steps": self.steps}


def _find_function(plan: Plan, name: str) -> PlanEntry:
    functions = [e for e in plan.resources if e.type == FUNCTION]
    for entry in functions:
        if name in (entry.physical_name, entry.path, entry.parent, entry.name):
            return entry
    known = sorted({e.parent or e.path for e in functions if any(
        a.parent == e.parent for a in plan.resources if a.type == ALIAS)})
    raise RolloutError(f"no function '{name}' in stack {plan.stack}; functions with an "
                       f"alias: {', '.join(known) or 'none'}")


def rollout_target(plan: Plan, name: str) -> RolloutTarget:
    """The function, its alias and its alarms, from the Plan."""
    function = _find_function(plan, name)
    fn_name = function.physical_name
    alias = next((e for e in plan.resources if e.type == ALIAS and str(
        e.inputs.get("functionName", "")).split(":function:")[-1] == fn_name), None)
    if alias is None:
        raise RolloutError(f"function {fn_name} has no alias to shift traffic with")
    component = function.parent or function.name
    prefix = fn_name.rsplit("-", 1)[0] + "-"  # {app}-{env}-{component}-
    alarms = sorted(e.physical_name for e in plan.resources if e.type == ALARM and (
        (e.inputs.get("dimensions") or {}).get("FunctionName") == fn_name
        or (e.physical_name or "").startswith(prefix)
        or e.parent == component))
    if not alarms:
        raise RolloutError(f"function {fn_name} has no alarms in the plan; a rollout needs "
                           "alarms to watch")
    return RolloutTarget(fn_name, alias.inputs["name"], alarms)


def _firing(cloudwatch: Any, alarms: list[str]) -> str | None:
    for start in range(0, len(alarms), DESCRIBE_ALARMS_LIMIT):
        names = alarms[start:start + DESCRIBE_ALARMS_LIMIT]
        for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNames=names):
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                if alarm.get("StateValue") == "ALARM":
                    return alarm["AlarmName"]
    return None


def rollout(plan: Plan, session: Any, function: str, to_version: str | None = None,
            steps: tuple[int, ...] = DEFAULT_STEPS, bake: float = DEFAULT_BAKE,
            poll: float = DEFAULT_POLL, dry_run: bool = False,
            on_event: Callable[[str, dict[str, Any]], None] | None = None,
            sleep: Callable[[float], None] = time.sleep) -> RolloutReport:
    """Shift the alias step by step; roll back on the first alarm."""
    if not steps or list(steps) != sorted(set(steps)) or steps[-1] != 100 or steps[0] <= 0:
        raise RolloutError("--steps must rise strictly from above 0 and end at 100, "
                           "e.g. 10,50,100")
    target = rollout_target(plan, function)
    lam, cloudwatch = session.client("lambda"), session.client("cloudwatch")
    try:
        current = lam.get_alias(FunctionName=target.function, Name=target.alias)
    except Exception as err:  # not deployed here
        raise RolloutError(f"alias {target.function}:{target.alias} not found: {err}") \
            from None
    old = current["FunctionVersion"]
    emit = on_event or (lambda kind, data: None)
    if to_version is None and not dry_run:
        to_version = lam.publish_version(FunctionName=target.function)["Version"]
        emit("published", {"version": to_version})
    new = to_version or "(published at run time)"
    report = RolloutReport(plan.stack, target.function, target.alias, old, new)
    if new == old:
        raise RolloutError(f"version {old} is already live on {target.function}:"
                           f"{target.alias}; deploy new code first or pass --to-version")
    if dry_run:
        report.steps = [{"percent": p, "bakeSeconds": bake} for p in steps]
        report.outcome = "dry_run"
        return report

    def point(version: str, weights: dict[str, float]) -> None:
        lam.update_alias(FunctionName=target.function, Name=target.alias,
                         FunctionVersion=version,
                         RoutingConfig={"AdditionalVersionWeights": weights})

    for percent in steps:
        if percent < 100:
            point(old, {new: percent / 100})
        else:
            point(new, {})
        step = {"percent": percent, "alarms": len(target.alarms)}
        report.steps.append(step)
        emit("step", step)
        started = time.monotonic()
        while True:
            firing = _firing(cloudwatch, target.alarms)
            if firing:
                point(old, {})
                report.outcome, report.alarm = "rolled_back", firing
                step["alarm"] = firing
                emit("rolled_back", {"alarm": firing, "version": old})
                return report
            elapsed = time.monotonic() - started
            if elapsed >= bake:
                break
            sleep(min(poll, bake - elapsed))
    report.outcome = "done"
    emit("done", {"version": new})
    return report
