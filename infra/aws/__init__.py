"""AWS adapters, one module per service; :data:`ADAPTERS` maps a Pulumi type token to its
adapter. A resource type without an adapter cannot be planned."""

from __future__ import annotations

from infra.aws import iam, lambda_, logs, sqs
from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef

ADAPTERS: dict[str, ResourceAdapter] = {
    adapter.type_token: adapter
    for module in (sqs, iam, logs, lambda_)
    for adapter in module.ADAPTERS
}

__all__ = ["ADAPTERS", "AwsEnv", "Created", "ResourceAdapter", "ResourceRef"]
