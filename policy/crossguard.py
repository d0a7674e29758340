"""Adapts pulumi-policy's stack validation to ``policy.rules`` (no server is started here)."""

from __future__ import annotations

from typing import Any

from policy.rules import RULES, Resource, Rule


def to_resource(policy_resource: Any) -> Resource:
    """A pulumi-policy ``PolicyResource`` as the rules see it."""
    opts = getattr(policy_resource, "opts", None)
    parent = getattr(policy_resource, "parent", None)
    return Resource(type=policy_resource.resource_type, name=policy_resource.name,
                    urn=policy_resource.urn, props=dict(policy_resource.props or {}),
                    protect=bool(getattr(opts, "protect", False)),
                    parent=getattr(parent, "name", None))


def validator(rule: Rule):
    """A pulumi-policy stack validation callback running one rule."""
    def validate(args: Any, report_violation: Any) -> None:
        for violation in rule.check([to_resource(r) for r in args.resources]):
            report_violation(violation.message, violation.resource.urn)
    return validate


def stack_policies(policy_class: Any) -> list:
    """One ``StackValidationPolicy`` per rule."""
    return [policy_class(name=rule.name, description=rule.description.strip(),
                         validate=validator(rule)) for rule in RULES]
