"""Guardrail rules: once through pulumi-policy's validation arguments, once through
`tandem check` on a deliberately broken plan."""

from __future__ import annotations

import copy
import json

import pytest
from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.checks import check_plan
from infra.cli import run
from policy.crossguard import stack_policies
from policy.rules import RULES

POLICIES = {p.name: p for p in stack_policies(StackValidationPolicy)}


def policy_resources(plan):
    """The plan's resources as pulumi-policy hands them to a stack validation."""
    by_path = {}
    for entry in plan.entries:
        opts = PolicyResourceOptions(protect=entry.protect, ignore_changes=[],
                                     delete_before_replace=None, aliases=[],
                                     custom_timeouts=None, additional_secret_outputs=[],
                                     parent=None)
        by_path[entry.path] = PolicyResource(
            resource_type=entry.type, props=copy.deepcopy(entry.inputs), urn=entry.urn,
            name=entry.name, opts=opts, provider=None,
            parent=by_path.get(entry.parent), dependencies=[], property_dependencies={})
    return [by_path[e.path] for e in plan.resources]


def crossguard(rule, resources):
    """Run one rule as the CrossGuard pack would; return the reported (message, urn)."""
    reported = []
    POLICIES[rule].validate(StackValidationArgs(resources, {}),
                            lambda message, urn=None: reported.append((message, urn)))
    return reported


def broken(plan, path, change):
    """A copy of ``plan`` with one entry's inputs changed by ``change(inputs)``."""
    plan = copy.deepcopy(plan)
    entry = plan.entry(path)
    change(entry.inputs)
    return plan


def edit_policy(change):
    def edit(inputs):
        document = json.loads(inputs["policy"])
        change(document)
        inputs["policy"] = json.dumps(document)
    return edit


def drop_redrive(inputs):
    inputs.pop("redrivePolicy")


def wildcard(document):
    document["Statement"].append({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:x"})


def foreign_model(document):
    document["Statement"].append({"Effect": "Allow", "Action": "bedrock:InvokeModel",
                                  "Resource": "arn:aws:bedrock:*::foundation-model/meta.llama3"})


def drop_retention(inputs):
    inputs.pop("retentionInDays")


CASES = {
    "queue-has-dlq": ("profile/profile-queue", drop_redrive, "has no redrive policy"),
    "no-wildcard-actions": ("profile/profile-policy", edit_policy(wildcard),
                            "wildcard action 's3:*'"),
    "bedrock-from-shared-list": ("analysis/analysis-policy", edit_policy(foreign_model),
                                 "meta.llama3"),
    "log-retention": ("profile/profile-logs", drop_retention, "has no retention"),
}


def test_every_rule_has_a_case():
    assert {r.name for r in RULES} == set(CASES) | {"worker-has-alarms",
                                                     "prod-stateful-protected"}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_through_pulumi_policy(plans, rule):
    path, change, message = CASES[rule]
    plan = broken(plans["staging"], path, change)
    reported = crossguard(rule, policy_resources(plan))
    assert len(reported) == 1 and message in reported[0][0]
    assert reported[0][1] == plan.entry(path).urn
    assert crossguard(rule, policy_resources(plans["staging"])) == []


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_through_tandem_check(plans, rule):
    path, change, message = CASES[rule]
    violations = [v for v in check_plan(broken(plans["staging"], path, change))
                  if v.rule == rule]
    assert len(violations) == 1 and message in violations[0].message


def unprotect(plan, path):
    plan = copy.deepcopy(plan)
    plan.entry(path).protect = False
    return plan


def test_prod_stateful_protected_through_both(plans):
    plan = unprotect(plans["prod"], "analysis/analysis-dlq")
    reported = crossguard("prod-stateful-protected", policy_resources(plan))
    assert [urn for _, urn in reported] == [plan.entry("analysis/analysis-dlq").urn]
    violations = [v for v in check_plan(plan) if v.rule == "prod-stateful-protected"]
    assert [v.resource.name for v in violations] == ["analysis-dlq"]
    # staging's queues are not protected, and that is allowed
    assert [v for v in check_plan(plans["staging"]) if v.rule ==
            "prod-stateful-protected"] == []


def without_alarms(plan, metric):
    plan = copy.deepcopy(plan)
    plan.entries = [e for e in plan.entries if not (
        e.type == "aws:cloudwatch/metricAlarm:MetricAlarm"
        and e.inputs.get("metricName") == metric and e.inputs.get("namespace") == "AWS/Lambda")]
    return plan


def test_worker_alarms_through_both(plans):
    plan = without_alarms(plans["prod"], "Throttles")
    reported = crossguard("worker-has-alarms", policy_resources(plan))
    assert len(reported) == 2 and all("no Throttles alarm" in m for m, _ in reported)
    violations = [v for v in check_plan(plan) if v.rule == "worker-has-alarms"]
    assert {v.resource.name for v in violations} == {"profile-function", "analysis-function"}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_tandem_check_passes_on_shipped_stacks(root, capsys, stack):
    code = run(["--project-dir", str(root), "check", "--stack", stack, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["violations"] == [] and code == 0
    assert len(report["rules"]) == 6


def test_tandem_check_exits_2_on_violation(root, capsys, monkeypatch):
    import infra.checks

    original = infra.checks.plan_resources

    def with_wildcard(plan):
        resources = original(plan)
        policy = next(r for r in resources if r.type == "aws:iam/rolePolicy:RolePolicy")
        document = json.loads(policy.props["policy"])
        wildcard(document)
        policy.props["policy"] = json.dumps(document)
        return resources

    monkeypatch.setattr(infra.checks, "plan_resources", with_wildcard)
    assert run(["--project-dir", str(root), "check", "--stack", "staging"]) == 2
    assert "VIOLATION no-wildcard-actions" in capsys.readouterr().out


def test_pack_entry_point_builds_the_pack_only_in_main():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "policy"
    assert "PolicyPack(" in (root / "__main__.py").read_text()
    for module in ("rules.py", "crossguard.py"):
        assert "PolicyPack(" not in (root / module).read_text()
