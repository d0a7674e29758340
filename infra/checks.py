"""``tandem check``: the CrossGuard pack's rules run on the offline Plan."""

from __future__ import annotations

from infra.plan import Plan
from policy.rules import Resource, Violation, check_all


def plan_resources(plan: Plan) -> list[Resource]:
    """The plan's AWS resources as the rules see them (inputs, protect, parent)."""
    return [Resource(type=e.type, name=e.name, urn=e.urn, props=e.inputs, protect=e.protect,
                     parent=e.parent) for e in plan.resources]


def check_plan(plan: Plan) -> list[Violation]:
    """Every rule's violations on ``plan``."""
    return check_all(plan_resources(plan))
