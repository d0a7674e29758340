"""`tandem rollout` on the emulator: 10 -> 50 -> 100%, and a rollback on alarm."""

from __future__ import annotations

import json
import threading
import time

import pytest
from emulator_client import client

from infra.cli import run
from infra.local import configure_emulator, reset_emulator
from infra.plan import build_plan
from infra.rollout import RolloutError, rollout_target

REGION = "us-east-1"
FUNCTION = "acme-staging-api-fn"


@pytest.fixture
def deployed(emulator, api_slice, capsys):
    """Staging deployed, then new code for the API: version 2 exists, the alias is on 1."""
    reset_emulator(emulator.endpoint_url)
    configure_emulator(emulator.endpoint_url)
    assert run(["--project-dir", str(api_slice), "local", "up", "--stack", "staging",
                "--endpoint-url", emulator.endpoint_url, "--format", "json"]) == 0
    capsys.readouterr()
    client(emulator, "lambda").update_function_configuration(
        FunctionName=FUNCTION, Description="new code")
    return emulator


def rollout(emulator, project, capsys, *extra):
    code = run(["--project-dir", str(project), "rollout", "--stack", "staging", "--function",
                "api", "--endpoint-url", emulator.endpoint_url, "--format", "json",
                "--bake", "0.3", "--poll", "0.1", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_alarms_come_from_the_plan(plans):
    target = rollout_target(plans["staging"], "api")
    assert target.function == FUNCTION and target.alias == "live"
    assert target.alarms == ["acme-staging-api-errors", "acme-staging-api-latency-p95",
                             "acme-staging-api-server-error-rate"]
    with pytest.raises(RolloutError, match="no function 'billing'"):
        rollout_target(plans["staging"], "billing")


def test_rollout_goes_10_50_100_and_ends_on_the_new_version(deployed, api_slice, capsys):
    lam = client(deployed, "lambda")
    code, report = rollout(deployed, api_slice, capsys)
    assert code == 0, report
    assert report["outcome"] == "done"
    assert (report["fromVersion"], report["toVersion"]) == ("1", "2")
    assert [s["percent"] for s in report["steps"]] == [10, 50, 100]
    alias = lam.get_alias(FunctionName=FUNCTION, Name="live")
    assert alias["FunctionVersion"] == "2"
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")


def test_weights_are_set_at_each_step(deployed, api_slice, capsys, monkeypatch):
    from infra import rollout as rollout_module

    snapshots = []
    lam = client(deployed, "lambda")

    def watching(cloudwatch, alarms):
        alias = lam.get_alias(FunctionName=FUNCTION, Name="live")
        snapshots.append((alias["FunctionVersion"], (alias.get("RoutingConfig") or {}).get(
            "AdditionalVersionWeights") or {}))
        return None

    monkeypatch.setattr(rollout_module, "_firing", watching)
    code, _ = rollout(deployed, api_slice, capsys, "--bake", "0")
    assert code == 0
    assert snapshots == [("1", {"2": 0.1}), ("1", {"2": 0.5}), ("2", {})]


def test_alarm_during_rollout_restores_the_old_version_and_exits_2(deployed, api_slice, capsys):
    lam, cloudwatch = client(deployed, "lambda"), client(deployed, "cloudwatch")

    def fire_when_traffic_shifts():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            weights = (lam.get_alias(FunctionName=FUNCTION, Name="live").get(
                "RoutingConfig") or {}).get("AdditionalVersionWeights")
            if weights:
                cloudwatch.set_alarm_state(AlarmName="acme-staging-api-errors",
                                           StateValue="ALARM", StateReason="test")
                return
            time.sleep(0.05)

    thread = threading.Thread(target=fire_when_traffic_shifts)
    thread.start()
    code, report = rollout(deployed, api_slice, capsys, "--bake", "5", "--poll", "0.1")
    thread.join()
    assert code == 2
    assert report["outcome"] == "rolled_back"
    assert report["alarm"] == "acme-staging-api-errors"
    assert [s["percent"] for s in report["steps"]] == [10]
    alias = lam.get_alias(FunctionName=FUNCTION, Name="live")
    assert alias["FunctionVersion"] == "1"
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")


def test_dry_run_changes_nothing(deployed, api_slice, capsys):
    code, report = rollout(deployed, api_slice, capsys, "--dry-run", "--to-version", "2")
    assert code == 0 and report["outcome"] == "dry_run"
    alias = client(deployed, "lambda").get_alias(FunctionName=FUNCTION, Name="live")
    assert alias["FunctionVersion"] == "1"


def test_bad_steps_are_one_line_exit_1(root, capsys):
    code = run(["--project-dir", str(root), "rollout", "--stack", "staging", "--function",
                "api", "--steps", "50,10"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err


def test_no_alarms_means_no_rollout(tmp_path, root):
    (tmp_path / "Pulumi.yaml").write_text("name: other\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        'config:\n  aws:region: us-east-1\n  aws:allowedAccountIds: ["333333333333"]\n')
    (tmp_path / "__main__.py").write_text(
        "from components.api import ApiFunction, ApiFunctionArgs\n"
        "ApiFunction('web', ApiFunctionArgs(app='o', env='dev', "
        f"code_dir={str(root / 'infra' / 'handlers' / 'api')!r}))\n")
    with pytest.raises(RolloutError, match="has no alarms in the plan"):
        rollout_target(build_plan(tmp_path, "dev"), "web")
