"""Secrets Manager adapters: secrets (the container, never a value).

There is deliberately no adapter for ``aws.secretsmanager.SecretVersion``: a program that
puts a secret value in code cannot be planned.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef, error_code

_SUFFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def secret_arn(name: str, env: AwsEnv) -> str:
    """A secret's ARN. AWS appends six random letters to the name; the offline plan uses six
    derived from the name, so plans are reproducible (the live ARN replaces it)."""
    digest = hashlib.sha256(f"{env.account_id}/{env.region}/{name}".encode()).digest()
    suffix = "".join(_SUFFIX_ALPHABET[b % len(_SUFFIX_ALPHABET)] for b in digest[:6])
    return (f"arn:{env.partition}:secretsmanager:{env.region}:{env.account_id}:secret:"
            f"{name}-{suffix}")


class SecretAdapter(ResourceAdapter):
    """``aws.secretsmanager.Secret``; Pulumi id and import id: the secret ARN."""

    type_token = "aws:secretsmanager/secret:Secret"
    service = "secretsmanager"
    name_input = "name"
    name_kind = "secret"
    replace_on_change = {"name": None}
    uncompared = {
        "recoveryWindowInDays": "a delete-time setting; Secrets Manager does not report it",
        "forceOverwriteReplicaSecret": "a replication-time switch, not reported",
    }

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        arn = secret_arn(inputs["name"], env)
        return arn, {**inputs, "arn": arn, "id": arn}

    def _describe(self, session: Any, name: str) -> dict[str, Any] | None:
        try:
            secret = self.client(session, self.service).describe_secret(SecretId=name)
        except Exception as err:  # botocore ClientError; the session owns the class
            if error_code(err) == "ResourceNotFoundException":
                return None
            raise
        # Scheduled for deletion: gone as far as the plan is concerned.
        return None if secret.get("DeletedDate") else secret

    def create(self, session: Any, ref: ResourceRef) -> Created:
        name, inputs = ref.physical_name, ref.inputs
        secret = self._describe(session, name)
        existed = secret is not None
        if not existed:
            # Never a SecretString or SecretBinary: the value is set out of band.
            kwargs: dict[str, Any] = {"Name": name}
            if inputs.get("description"):
                kwargs["Description"] = inputs["description"]
            if inputs.get("kmsKeyId"):
                kwargs["KmsKeyId"] = inputs["kmsKeyId"]
            if inputs.get("tags"):
                kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in inputs["tags"].items()]
            secret = self.client(session, self.service).create_secret(**kwargs)
        arn = secret["ARN"]
        return Created(arn, {**inputs, "arn": arn, "id": arn}, existed)

    def _list(self, session: Any, prefix: str) -> list[dict[str, Any]]:
        paginator = self.client(session, self.service).get_paginator("list_secrets")
        filters = [{"Key": "name", "Values": [prefix]}] if prefix else []
        return [secret for page in paginator.paginate(Filters=filters)
                for secret in page["SecretList"]
                if secret["Name"].startswith(prefix) and not secret.get("DeletedDate")]

    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[str, dict]:
        """Every secret under the names' common prefix: one paginated ListSecrets, which
        returns description, KMS key and tags too."""
        prefix = os.path.commonprefix([ref.physical_name for ref in refs])
        return {secret["Name"]: secret for secret in self._list(session, prefix)}

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        secret = (prefetched.get(ref.physical_name) if prefetched is not None
                  else self._describe(session, ref.physical_name))
        if secret is None:
            return None
        return {"name": secret["Name"], "description": secret.get("Description"),
                "kmsKeyId": secret.get("KmsKeyId"),
                "tags": {t["Key"]: t["Value"] for t in secret.get("Tags") or []},
                "arn": secret["ARN"], "id": secret["ARN"]}

    def list(self, session: Any, prefix: str) -> list[str]:
        return [secret["ARN"] for secret in self._list(session, prefix)]


ADAPTERS = (SecretAdapter(),)
