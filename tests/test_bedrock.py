"""The one shared Bedrock model list and the IAM built from it."""

from __future__ import annotations

import json
import re

import pytest

from components.bedrock import (
    BEDROCK_INVOKE_ACTIONS,
    BEDROCK_MODELS,
    BedrockModel,
    bedrock_invoke_statements,
)

MODEL_ID = re.compile(r"anthropic\.claude|amazon\.nova|meta\.llama|mistral\.|cohere\.")


def test_list_has_current_claude_sonnet_and_haiku():
    ids = [m.model_id for m in BEDROCK_MODELS]
    assert any("claude-sonnet-4" in i for i in ids)
    assert any("claude-haiku-4" in i for i in ids)
    assert len(ids) == len(set(ids))


def test_profile_models_are_marked_with_us_prefix():
    for model in BEDROCK_MODELS:
        if model.inference_profile:
            assert model.profile_id == f"us.{model.model_id}"
            assert model.invoke_id == model.profile_id
    assert BedrockModel("x.y").invoke_id == "x.y"


def test_statements_cover_every_model_with_only_invoke_actions():
    statements = bedrock_invoke_statements("eu-west-1", "123456789012")
    resources = [r for s in statements for r in s["Resource"]]
    for statement in statements:
        assert statement["Action"] == list(BEDROCK_INVOKE_ACTIONS)
        assert statement["Effect"] == "Allow"
    for model in BEDROCK_MODELS:
        assert f"arn:aws:bedrock:*::foundation-model/{model.model_id}" in resources
        if model.profile_id:
            assert (f"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/"
                    f"{model.profile_id}") in resources
    assert not any(r.endswith("/*") or r == "*" for r in resources)


def test_statements_need_region_and_account():
    with pytest.raises(ValueError, match="region and account_id"):
        bedrock_invoke_statements("", "123456789012")


def test_no_other_module_spells_a_model_id(root):
    offenders = []
    for path in [*root.glob("components/**/*.py"), *root.glob("infra/**/*.py"),
                 *root.glob("*.yaml"), *root.glob("policy/**/*.py")]:
        if path.name == "bedrock.py":
            continue
        if MODEL_ID.search(path.read_text()):
            offenders.append(str(path.relative_to(root)))
    assert offenders == []


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_bedrock_worker_policy_covers_every_model(plans, stack):
    plan = plans[stack]
    from infra.workloads import WORKERS

    bedrock_workers = {name for name, spec in WORKERS.items() if spec.bedrock}
    policies = [e for e in plan.resources if e.type == "aws:iam/rolePolicy:RolePolicy"
                and e.parent in bedrock_workers]
    assert len(policies) == len(bedrock_workers) == 2
    for policy in policies:
        document = json.loads(policy.inputs["policy"])
        resources = {r for s in document["Statement"] if s["Action"] == list(
            BEDROCK_INVOKE_ACTIONS) for r in s["Resource"]}
        for model in BEDROCK_MODELS:
            assert f"arn:aws:bedrock:*::foundation-model/{model.model_id}" in resources
            if model.profile_id:
                assert (f"arn:aws:bedrock:{plan.region}:{plan.account_id}:inference-profile/"
                        f"{model.profile_id}") in resources
