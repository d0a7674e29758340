"""The one list of Amazon Bedrock models the platform may call, and the IAM built from it.

Every role that calls Bedrock gets its statements from :func:`bedrock_invoke_statements` and
nowhere else, so staging and prod can never disagree about which models a worker may invoke.
No other module spells a Bedrock model id (a test greps the tree for that).

Model ids checked against AWS's Bedrock model catalogue (Claude Sonnet 4.6, Sonnet 4.5 and
Haiku 4.5; 2026-11). The Claude 4 family accepts on-demand calls only through a cross-region
inference profile, whose id is the model id with a geography prefix (``us.``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The only actions a Bedrock caller gets: synchronous and streaming invocation.
BEDROCK_INVOKE_ACTIONS: tuple[str, ...] = (
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
)


@dataclass(frozen=True)
class BedrockModel:
    """One callable model.

    ``model_id`` is the foundation-model id. ``inference_profile`` is the geography prefix
    (``"us"``) when the model is called through a cross-region inference profile, else None.
    """

    model_id: str
    inference_profile: str | None = None

    @property
    def profile_id(self) -> str | None:
        """The inference-profile id that callers pass as ``modelId`` (``us.<model id>``)."""
        return f"{self.inference_profile}.{self.model_id}" if self.inference_profile else None

    @property
    def invoke_id(self) -> str:
        """The id application code passes to ``InvokeModel``."""
        return self.profile_id or self.model_id


#: The single list of models the platform may call.
BEDROCK_MODELS: tuple[BedrockModel, ...] = (
    BedrockModel("anthropic.claude-sonnet-4-6", inference_profile="us"),
    BedrockModel("anthropic.claude-sonnet-4-5-20250929-v1:0", inference_profile="us"),
    BedrockModel("anthropic.claude-haiku-4-5-20251001-v1:0", inference_profile="us"),
)


def foundation_model_arn(model_id: str, partition: str = "aws") -> str:
    """ARN of a foundation model in any region.

    A cross-region profile routes a call to any region of its geography, and IAM checks the
    foundation model in the destination region, hence the ``*`` region (AWS Bedrock user guide,
    "Prerequisites for inference profiles").
    """
    return f"arn:{partition}:bedrock:*::foundation-model/{model_id}"


def allowed_bedrock_arn(arn: str) -> bool:
    """Whether an IAM resource ARN names a model (or profile) of :data:`BEDROCK_MODELS`, in
    exactly the shape :func:`bedrock_invoke_statements` grants."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "bedrock":
        return False
    kind, _, ident = parts[5].partition("/")
    if kind == "foundation-model":
        return parts[3] == "*" and parts[4] == "" and ident in {
            m.model_id for m in BEDROCK_MODELS}
    if kind == "inference-profile":
        return bool(parts[3]) and bool(parts[4]) and ident in {
            m.profile_id for m in BEDROCK_MODELS if m.profile_id}
    return False


def inference_profile_arn(profile_id: str, region: str, account_id: str,
                          partition: str = "aws") -> str:
    """ARN of a system-defined cross-region inference profile as seen from one account."""
    return f"arn:{partition}:bedrock:{region}:{account_id}:inference-profile/{profile_id}"


def bedrock_invoke_statements(region: str, account_id: str, partition: str = "aws",
                              models: tuple[BedrockModel, ...] | None = None) -> list[dict]:
    """IAM statements allowing invocation of every model in ``models`` (default: the shared
    :data:`BEDROCK_MODELS`, read at call time) and nothing else.

    One statement for the foundation models, one for the inference profiles (when any model
    uses one). Resources are listed explicitly: no wildcard in the model part of an ARN.
    """
    models = BEDROCK_MODELS if models is None else models
    if not region or not account_id:
        raise ValueError("bedrock_invoke_statements: region and account_id are required")
    statements = [{
        "Sid": "BedrockInvokeFoundationModels",
        "Effect": "Allow",
        "Action": list(BEDROCK_INVOKE_ACTIONS),
        "Resource": [foundation_model_arn(m.model_id, partition) for m in models],
    }]
    profiles = [inference_profile_arn(m.profile_id, region, account_id, partition)
                for m in models if m.profile_id]
    if profiles:
        statements.append({
            "Sid": "BedrockInvokeInferenceProfiles",
            "Effect": "Allow",
            "Action": list(BEDROCK_INVOKE_ACTIONS),
            "Resource": profiles,
        })
    return statements
