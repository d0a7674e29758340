"""StackConfig: loading both ways, and one clear line per bad stack file."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ruamel.yaml import YAML

from infra.cli import run
from infra.config import ConfigError, StackConfig


def edit_stack(project, stack, change):
    yaml = YAML()
    path = project / f"Pulumi.{stack}.yaml"
    doc = yaml.load(path.read_text())
    change(doc["config"])
    with path.open("w") as handle:
        yaml.dump(doc, handle)


def plan_error(project, stack, capsys) -> str:
    code = run(["--project-dir", str(project), "plan", "--stack", stack])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert "\n" not in err and "Traceback" not in err
    return err


def test_shipped_stacks_load(root):
    prod = StackConfig.from_files(root, "prod")
    assert (prod.app, prod.env, prod.account_id, prod.region) == (
        "acme", "prod", "222222222222", "us-east-1")
    assert prod.sizing("profile").reserved_concurrency == 5
    assert prod.log_retention_days == 90
    assert prod.imports == {}
    assert StackConfig.from_files(root, "staging").sizing("analysis").memory == 512


def test_project_level_default_applies(project):
    edit_stack(project, "staging", lambda c: c.pop("tandem:logRetentionDays"))
    assert StackConfig.from_files(project, "staging").log_retention_days == 30


def test_plan_exits_1_on_unknown_key(project, capsys):
    edit_stack(project, "prod", lambda c: c.__setitem__("tandem:logRetentionDay", 30))
    err = plan_error(project, "prod", capsys)
    assert err.startswith("error: Pulumi.prod.yaml: tandem:logRetentionDay: unknown key")
    assert "did you mean 'tandem:logRetentionDays'?" in err


def test_plan_exits_1_on_unknown_nested_key(project, capsys):
    edit_stack(project, "prod", lambda c: c["tandem:workers"]["profile"].__setitem__(
        "memroy", 512))
    err = plan_error(project, "prod", capsys)
    assert "Pulumi.prod.yaml: tandem:workers.profile.memroy: unknown key; did you mean " \
           "'memory'?" in err


def test_plan_exits_1_on_plain_text_secret(project, capsys):
    edit_stack(project, "staging", lambda c: c.__setitem__("tandem:apiToken", "abc123"))
    err = plan_error(project, "staging", capsys)
    assert "Pulumi.staging.yaml: tandem:apiToken: looks like a secret but holds plain text" \
        in err
    assert "pulumi config set --secret" in err


def test_plan_exits_1_on_wrong_type(project, capsys):
    edit_stack(project, "prod", lambda c: c["tandem:workers"]["profile"].__setitem__(
        "reservedConcurrency", "five"))
    err = plan_error(project, "prod", capsys)
    assert "Pulumi.prod.yaml: tandem:workers.profile.reservedConcurrency: must be an " \
           "integer, got str 'five'" in err


def test_plan_exits_1_on_missing_required_key(project, capsys):
    edit_stack(project, "prod", lambda c: c.pop("tandem:app"))
    assert "Pulumi.prod.yaml: tandem:app: missing" in plan_error(project, "prod", capsys)


def test_unquoted_account_id_is_a_type_error(project, capsys):
    edit_stack(project, "prod", lambda c: c.__setitem__("tandem:accountId", 222222222222))
    assert "tandem:accountId: 222222222222 must be a quoted 12-digit account id" in \
        plan_error(project, "prod", capsys)


def test_allowed_accounts_must_contain_the_account(project, capsys):
    edit_stack(project, "staging", lambda c: c.__setitem__("aws:allowedAccountIds",
                                                           ["222222222222"]))
    assert "Pulumi.staging.yaml: aws:allowedAccountIds: does not contain tandem:accountId" in \
        plan_error(project, "staging", capsys)


def test_allowed_accounts_are_required(project, capsys):
    edit_stack(project, "staging", lambda c: c.pop("aws:allowedAccountIds"))
    assert "aws:allowedAccountIds: missing" in plan_error(project, "staging", capsys)


def test_region_is_required(project, capsys):
    edit_stack(project, "staging", lambda c: c.pop("aws:region"))
    assert "aws:region: missing" in plan_error(project, "staging", capsys)


def test_unknown_worker_cannot_be_added_from_a_stack_file(project, capsys):
    edit_stack(project, "prod", lambda c: c["tandem:workers"].__setitem__("billing", {}))
    assert "tandem:workers.billing: unknown worker" in plan_error(project, "prod", capsys)


def test_out_of_range_sizing(project, capsys):
    edit_stack(project, "prod", lambda c: c["tandem:workers"]["analysis"].__setitem__(
        "memory", 64))
    assert "tandem:workers.analysis.memory: 64 is out of range 128..10240" in \
        plan_error(project, "prod", capsys)


def test_bad_retention_value(project, capsys):
    edit_stack(project, "prod", lambda c: c.__setitem__("tandem:logRetentionDays", 13))
    assert "tandem:logRetentionDays: 13 is not a CloudWatch Logs retention" in \
        plan_error(project, "prod", capsys)


def test_invalid_yaml_names_the_file(project, capsys):
    (project / "Pulumi.prod.yaml").write_text("config:\n  tandem:app: [unclosed\n")
    assert plan_error(project, "prod", capsys).startswith("error: Pulumi.prod.yaml: line ")


def test_unknown_stack(project, capsys):
    assert "unknown stack 'qa'; known stacks: prod, staging" in plan_error(project, "qa", capsys)


def test_secure_value_is_accepted_as_opaque_but_still_schema_checked():
    network = {"vpcId": "vpc-0123456789abcdef0", "privateSubnetIds": ["subnet-0123456789abcdef0"]}
    raw = {"tandem:network": network, "tandem:pipelines": {"org-eval": {"imageTag": "v1"}},
           "tandem:app": "acme", "tandem:env": "prod", "tandem:accountId": "222222222222",
           "aws:region": "us-east-1", "aws:allowedAccountIds": ["222222222222"],
           "tandem:alarmEmail": {"secure": "v1:abcd"}}
    with pytest.raises(ConfigError, match="tandem:alarmEmail: must not be a secret"):
        StackConfig.from_raw(raw, "Pulumi.prod.yaml")
    raw["tandem:dbPassword"] = {"secure": "v1:abcd"}
    raw.pop("tandem:alarmEmail")
    with pytest.raises(ConfigError, match="tandem:dbPassword: unknown key"):
        StackConfig.from_raw(raw, "Pulumi.prod.yaml")


def test_from_pulumi_reads_engine_strings(monkeypatch):
    from pulumi.runtime.config import set_all_config

    set_all_config({"tandem:app": "acme", "tandem:env": "qa", "tandem:accountId": "333333333333",
                    "aws:region": "eu-west-1", "aws:allowedAccountIds": '["333333333333"]',
                    "tandem:logRetentionDays": "60",
                    "tandem:workers": '{"profile": {"memory": 1024}}',
                    "tandem:network": '{"vpcId": "vpc-0123456789abcdef0", '
                                      '"privateSubnetIds": ["subnet-0123456789abcdef0"]}',
                    "tandem:pipelines": '{"org-eval": {"imageTag": "v1", '
                                        '"scheduleEnabled": true}}'}, [])
    try:
        cfg = StackConfig.from_pulumi()
    finally:
        set_all_config({}, [])
    assert (cfg.env, cfg.region, cfg.log_retention_days) == ("qa", "eu-west-1", 60)
    assert cfg.sizing("profile").memory == 1024
    assert cfg.network.private_subnet_ids == ("subnet-0123456789abcdef0",)
    assert cfg.pipelines["org-eval"].schedule_enabled is True


def test_console_script_prints_one_line_without_traceback(project):
    (project / "Pulumi.prod.yaml").write_text(
        (project / "Pulumi.prod.yaml").read_text().replace("tandem:alarmEmail", "tandem:alarmMail"))
    result = subprocess.run([sys.executable, "-m", "infra.cli", "--project-dir", str(project),
                             "plan", "--stack", "prod"], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: Pulumi.prod.yaml: tandem:alarmMail: unknown key; did you mean "
        "'tandem:alarmEmail'?"]


def test_pipeline_settings_are_checked(project, capsys):
    edit_stack(project, "prod", lambda c: c["tandem:pipelines"]["org-eval"].__setitem__(
        "scheduleEnabled", "yes"))
    assert "tandem:pipelines.org-eval.scheduleEnabled: must be true or false, got 'yes'" in \
        plan_error(project, "prod", capsys)


def test_network_ids_are_checked(project, capsys):
    edit_stack(project, "staging", lambda c: c["tandem:network"].__setitem__("vpcId", "vpc_1"))
    assert "tandem:network.vpcId: 'vpc_1' is not a VPC id" in \
        plan_error(project, "staging", capsys)


def test_a_pipeline_cannot_be_removed_from_a_stack_file(project, capsys):
    edit_stack(project, "prod", lambda c: c["tandem:pipelines"].pop("org-eval"))
    assert "tandem:pipelines.org-eval: missing" in plan_error(project, "prod", capsys)
