"""`tandem parity`: the shipped stacks are in tandem; each unplanned difference is caught."""

from __future__ import annotations

import json

import pytest
from ruamel.yaml import YAML

import components.bedrock as bedrock
from infra import platform
from infra.cli import run
from infra.config import StackConfig
from infra.parity import ALLOWED_DIFFERENCES, compare_plans
from infra.plan import build_plan


def parity(project, capsys, fmt="json"):
    code = run(["--project-dir", str(project), "parity", "--format", fmt])
    out = capsys.readouterr().out
    return code, (json.loads(out) if fmt == "json" else out)


def compare(root, build_target=None):
    base = build_plan(root, "staging")
    target = build_target() if build_target else build_plan(root, "prod")
    return compare_plans(base, StackConfig.from_files(root, "staging"), target,
                         StackConfig.from_files(root, "prod"))


def test_shipped_stacks_are_in_tandem_with_allowed_differences(root, capsys):
    code, report = parity(root, capsys)
    assert code == 0 and report["equal"] is True
    assert report["summary"]["divergent"] == 0
    allowed = {(d["path"], d["property"]) for d in report["differences"]}
    assert ("profile/profile-function", "reservedConcurrentExecutions") in allowed
    assert ("profile/profile-logs", "retentionInDays") in allowed
    assert ("profile/profile-queue", "protect") in allowed
    assert all(d["allowed"] and d["reason"] for d in report["differences"])


def test_every_allowed_difference_has_a_reason():
    assert all(a.reason for a in ALLOWED_DIFFERENCES)


def test_markdown_table_for_pull_requests(root, capsys):
    code, out = parity(root, capsys, "markdown")
    assert code == 0
    assert out.startswith("### tandem parity: `staging` vs `prod`: in tandem")
    assert "| | logical path | property | staging | prod | reason |" in out
    assert "| allowed | `profile/profile-logs` | `retentionInDays` | 14 | 90 |" in out


def test_worker_removed_in_prod_is_divergent(root, monkeypatch):
    def prod_without_profile():
        monkeypatch.setattr(platform, "WORKERS", {"analysis": platform.WORKERS["analysis"]})
        try:
            return build_plan(root, "prod")
        finally:
            monkeypatch.undo()

    report = compare(root, prod_without_profile)
    assert report.exit_code == 2
    missing = {e.path for e in report.only_in_base}
    assert {"profile", "profile/profile-function", "profile/profile-queue",
            "monitoring/profile-errors"} <= missing


def test_a_stack_file_cannot_turn_a_worker_off(project, capsys):
    path = project / "Pulumi.prod.yaml"
    yaml = YAML()
    doc = yaml.load(path.read_text())
    doc["config"]["tandem:workers"]["analysis"]["enabled"] = False
    yaml.dump(doc, path.open("w"))
    code = run(["--project-dir", str(project), "parity"])
    assert code == 1
    assert "Pulumi.prod.yaml: tandem:workers.analysis.enabled: unknown key" in \
        capsys.readouterr().err


def test_prod_only_visibility_timeout_is_divergent(root, monkeypatch):
    original = platform.QueueWorkerArgs

    def longer_visibility_in_prod(**kwargs):
        if kwargs["env"] == "prod":
            kwargs["visibility_timeout_seconds"] = 900
        return original(**kwargs)

    def prod_with_other_timeout():
        monkeypatch.setattr(platform, "QueueWorkerArgs", longer_visibility_in_prod)
        try:
            return build_plan(root, "prod")
        finally:
            monkeypatch.undo()

    report = compare(root, prod_with_other_timeout)
    assert report.exit_code == 2
    divergent = {(d.path, d.property): d for d in report.divergent}
    difference = divergent[("profile/profile-queue", "visibilityTimeoutSeconds")]
    assert (difference.base, difference.target) == (360, 900)


def test_visibility_timeout_key_in_a_stack_file_is_refused(project, capsys):
    path = project / "Pulumi.prod.yaml"
    path.write_text(path.read_text().replace("      reservedConcurrency: 5",
                                             "      reservedConcurrency: 5\n"
                                             "      visibilityTimeout: 900"))
    assert run(["--project-dir", str(project), "parity"]) == 1
    assert "tandem:workers.profile.visibilityTimeout: unknown key" in capsys.readouterr().err


def test_bedrock_list_differing_between_builds_is_divergent(root, monkeypatch):
    def prod_without_haiku():
        monkeypatch.setattr(bedrock, "BEDROCK_MODELS", tuple(
            m for m in bedrock.BEDROCK_MODELS if "haiku" not in m.model_id))
        try:
            return build_plan(root, "prod")
        finally:
            monkeypatch.undo()

    report = compare(root, prod_without_haiku)
    assert report.exit_code == 2
    divergent = {(d.path, d.property) for d in report.divergent}
    assert ("profile/profile-policy", "policy") in divergent
    assert ("analysis/analysis-policy", "policy") in divergent
    assert ("profile/profile-function", "environment") in divergent  # BEDROCK_MODEL_IDS


def test_adopted_name_and_import_id_are_allowed(project, capsys):
    from infra.stackfile import record_imports

    record_imports(project / "Pulumi.prod.yaml", {
        "profile/profile-role": {"id": "legacy-profile-role", "name": "legacy-profile-role"}})
    code, report = parity(project, capsys)
    assert code == 0, [d for d in report["differences"] if not d["allowed"]]
    role = {d["property"]: d for d in report["differences"] if d["path"] ==
            "profile/profile-role"}
    assert set(role) == {"physicalName", "importId", "protect"}
    assert role["physicalName"]["target"] == "legacy-profile-role"


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_divergence_named_in_human_formats(root, monkeypatch, fmt):
    from infra.render import render_parity

    monkeypatch.setattr(platform, "WORKERS", {"analysis": platform.WORKERS["analysis"]})
    target = build_plan(root, "prod")
    monkeypatch.undo()
    report = compare_plans(build_plan(root, "staging"), StackConfig.from_files(root, "staging"),
                           target, StackConfig.from_files(root, "prod"))
    out = render_parity(report, fmt)
    assert "profile/profile-function" in out and "only in staging" in out
