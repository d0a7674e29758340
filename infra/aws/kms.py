"""KMS adapters: customer managed keys and their aliases.

A KMS key has no name: AWS assigns its id. tandem names a key by its ``Name`` tag (the plan
requires one) and finds it live through the alias ``alias/<Name>``, which every tandem key
has; when that alias is missing, by scanning the account's customer managed keys for the tag.
"""

from __future__ import annotations

from typing import Any

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef, deterministic_uuid

NAME_TAG = "Name"


def key_arn(key_id: str, env: AwsEnv) -> str:
    """The ARN of a key."""
    return f"arn:{env.partition}:kms:{env.region}:{env.account_id}:key/{key_id}"


def _aliases(kms: Any) -> dict[str, dict[str, Any]]:
    """Alias name -> ListAliases entry, for every alias of the account and region."""
    return {alias["AliasName"]: alias
            for page in kms.get_paginator("list_aliases").paginate()
            for alias in page["Aliases"]}


def _tags(kms: Any, key_id: str) -> dict[str, str]:
    return {t["TagKey"]: t["TagValue"]
            for page in kms.get_paginator("list_resource_tags").paginate(KeyId=key_id)
            for t in page.get("Tags") or []}


class KeyAdapter(ResourceAdapter):
    """``aws.kms.Key``; Pulumi id and import id: the key id. Physical name: the Name tag."""

    type_token = "aws:kms/key:Key"
    service = "kms"
    name_input = None
    requires_name = True
    # Key usage, key spec and multi-Region cannot change: the provider replaces the key.
    replace_on_change = {"keyUsage": "ENCRYPT_DECRYPT",
                         "customerMasterKeySpec": "SYMMETRIC_DEFAULT", "multiRegion": False}
    uncompared = {
        "deletionWindowInDays": "a delete-time setting; KMS reports it only once deletion "
                                "is scheduled",
        "bypassPolicyLockoutSafetyCheck": "a create-time switch, not a key property",
    }

    def physical_name(self, inputs: dict[str, Any]) -> str | None:
        return (inputs.get("tags") or {}).get(NAME_TAG)

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        key_id = deterministic_uuid("kms", env.account_id, env.region,
                                    str(self.physical_name(inputs)))
        return key_id, {**inputs, "arn": key_arn(key_id, env), "keyId": key_id, "id": key_id}

    def _find(self, kms: Any, name: str, aliases: dict[str, dict] | None = None
              ) -> dict[str, Any] | None:
        """DescribeKey's metadata of the live key named ``name``, or None."""
        aliases = aliases if aliases is not None else _aliases(kms)
        target = (aliases.get(f"alias/{name}") or {}).get("TargetKeyId")
        candidates = [target] if target else [
            key["KeyId"] for page in kms.get_paginator("list_keys").paginate()
            for key in page["Keys"]]
        for key_id in candidates:
            metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
            if metadata.get("KeyManager") != "CUSTOMER" \
                    or metadata.get("KeyState") in ("PendingDeletion", "PendingReplicaDeletion"):
                continue
            if target or _tags(kms, key_id).get(NAME_TAG) == name:
                return metadata
        return None

    def create(self, session: Any, ref: ResourceRef) -> Created:
        kms = self.client(session, self.service)
        inputs = ref.inputs
        metadata = self._find(kms, ref.physical_name)
        existed = metadata is not None
        if not existed:
            kwargs: dict[str, Any] = {
                "Tags": [{"TagKey": k, "TagValue": v} for k, v in inputs["tags"].items()]}
            for key, aws in (("description", "Description"), ("keyUsage", "KeyUsage"),
                             ("customerMasterKeySpec", "KeySpec"), ("policy", "Policy"),
                             ("multiRegion", "MultiRegion")):
                if inputs.get(key) is not None:
                    kwargs[aws] = inputs[key]
            metadata = kms.create_key(**kwargs)["KeyMetadata"]
            if inputs.get("enableKeyRotation"):
                rotation = ({"RotationPeriodInDays": int(inputs["rotationPeriodInDays"])}
                            if inputs.get("rotationPeriodInDays") else {})
                kms.enable_key_rotation(KeyId=metadata["KeyId"], **rotation)
        key_id = metadata["KeyId"]
        return Created(key_id, {**inputs, "arn": metadata["Arn"], "keyId": key_id,
                                "id": key_id}, existed)

    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[str, dict]:
        """Every alias of the account (one paginated ListAliases): a key's alias leads to it."""
        return _aliases(self.client(session, self.service))

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        kms = self.client(session, self.service)
        metadata = self._find(kms, ref.physical_name, prefetched)
        if metadata is None:
            return None
        key_id = metadata["KeyId"]
        state: dict[str, Any] = {
            "description": metadata.get("Description"),
            "isEnabled": metadata.get("KeyState") == "Enabled",
            "enableKeyRotation": kms.get_key_rotation_status(KeyId=key_id).get(
                "KeyRotationEnabled", False),
            "tags": _tags(kms, key_id),
            "arn": metadata["Arn"], "keyId": key_id, "id": key_id,
        }
        # Reported only when DescribeKey has them (left out, they read as AWS's defaults).
        for key, value in (("keyUsage", metadata.get("KeyUsage")),
                           ("customerMasterKeySpec", metadata.get("KeySpec")
                            or metadata.get("CustomerMasterKeySpec")),
                           ("multiRegion", metadata.get("MultiRegion"))):
            if value is not None:
                state[key] = value
        if "policy" in ref.inputs:
            state["policy"] = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
        return state

    def list(self, session: Any, prefix: str) -> list[str]:
        """Ids of the keys with an alias under ``alias/<prefix>`` (a key without an alias is
        not found: listing every key's tags would cost a call per key of the account)."""
        return sorted({alias["TargetKeyId"]
                       for name, alias in _aliases(self.client(session, self.service)).items()
                       if name.startswith(f"alias/{prefix}") and alias.get("TargetKeyId")})


class AliasAdapter(ResourceAdapter):
    """``aws.kms.Alias``; Pulumi id and import id: the alias name (``alias/...``)."""

    type_token = "aws:kms/alias:Alias"
    service = "kms"
    name_input = "name"
    name_kind = "kms_alias"
    replace_on_change = {"name": None}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        name = inputs["name"]
        prefix = f"arn:{env.partition}:kms:{env.region}:{env.account_id}"
        target = str(inputs.get("targetKeyId", ""))
        return name, {**inputs, "arn": f"{prefix}:{name}", "id": name,
                      "targetKeyArn": target if target.startswith("arn:")
                      else f"{prefix}:key/{target}"}

    @staticmethod
    def _state(alias: dict[str, Any]) -> dict[str, Any]:
        arn = alias["AliasArn"]
        return {"name": alias["AliasName"], "targetKeyId": alias.get("TargetKeyId"),
                "arn": arn, "id": alias["AliasName"],
                "targetKeyArn": f"{arn.rsplit(':', 1)[0]}:key/{alias.get('TargetKeyId')}"}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        kms = self.client(session, self.service)
        name = ref.physical_name
        alias = _aliases(kms).get(name)
        existed = alias is not None
        if not existed:
            kms.create_alias(AliasName=name, TargetKeyId=ref.inputs["targetKeyId"])
            alias = _aliases(kms)[name]
        return Created(name, {**ref.inputs, **self._state(alias)}, existed)

    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[str, dict]:
        return _aliases(self.client(session, self.service))

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        aliases = (prefetched if prefetched is not None
                   else _aliases(self.client(session, self.service)))
        alias = aliases.get(ref.physical_name)
        return self._state(alias) if alias else None

    def list(self, session: Any, prefix: str) -> list[str]:
        return sorted(name for name in _aliases(self.client(session, self.service))
                      if name.startswith(f"alias/{prefix}"))


ADAPTERS = (KeyAdapter(), AliasAdapter())
