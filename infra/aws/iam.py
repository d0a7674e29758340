"""IAM adapters: roles and inline role policies."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef, error_code, short_hash


def _document(value: Any) -> str:
    """A policy document as JSON text (IAM sends documents URL-encoded; boto3 usually
    decodes them, but not in every response)."""
    if isinstance(value, str):
        return unquote(value) if value.startswith("%7B") else value
    return json.dumps(value)


def authorization_details(session: Any) -> dict[str, dict]:
    """Role name -> role detail (trust policy, tags, inline policies with documents) for
    every role, from paginated GetAccountAuthorizationDetails: IAM's one batch read."""
    iam = session.client("iam")
    return {role["RoleName"]: role
            for page in iam.get_paginator("get_account_authorization_details").paginate(
                Filter=["Role"])
            for role in page["RoleDetailList"]}


class RoleAdapter(ResourceAdapter):
    """``aws.iam.Role``; Pulumi id and import id: the role name."""

    type_token = "aws:iam/role:Role"
    service = "iam"
    name_input = "name"
    name_kind = "iam_role"
    replace_on_change = {"name": None, "path": "/"}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        name = inputs["name"]
        path = inputs.get("path") or "/"
        arn = f"arn:{env.partition}:iam::{env.account_id}:role{path}{name}"
        return name, {**inputs, "arn": arn, "id": name, "path": path,
                      "uniqueId": "AROA" + short_hash(arn)}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        iam = self.client(session, self.service)
        name = ref.physical_name
        try:
            role = iam.get_role(RoleName=name)["Role"]
            existed = True
        except Exception as err:
            if error_code(err) != "NoSuchEntity":
                raise
            tags = [{"Key": k, "Value": v} for k, v in (ref.inputs.get("tags") or {}).items()]
            role = iam.create_role(RoleName=name, Path=ref.inputs.get("path") or "/",
                                   AssumeRolePolicyDocument=_document(
                                       ref.inputs["assumeRolePolicy"]),
                                   Tags=tags)["Role"]
            existed = False
        return Created(name, {**ref.inputs, "arn": role["Arn"], "id": name,
                              "uniqueId": role["RoleId"]}, existed)


    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[str, dict]:
        return authorization_details(session)

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        if prefetched is not None:
            role = prefetched.get(ref.physical_name)
            if role is None:
                return None
        else:
            try:
                role = self.client(session, self.service).get_role(
                    RoleName=ref.physical_name)["Role"]
            except Exception as err:
                if error_code(err) == "NoSuchEntity":
                    return None
                raise
        return {"name": role["RoleName"], "path": role.get("Path", "/"),
                "assumeRolePolicy": _document(role.get("AssumeRolePolicyDocument") or {}),
                "tags": {t["Key"]: t["Value"] for t in role.get("Tags") or []},
                "arn": role["Arn"], "id": role["RoleName"], "uniqueId": role.get("RoleId")}

    def list(self, session: Any, prefix: str) -> list[str]:
        return list_role_names(self.client(session, self.service), prefix)


def list_role_names(iam: Any, prefix: str) -> list[str]:
    """Names of the roles starting with ``prefix`` (IAM filters only by path, so by hand)."""
    return [role["RoleName"] for page in iam.get_paginator("list_roles").paginate()
            for role in page["Roles"] if role["RoleName"].startswith(prefix)]


class RolePolicyAdapter(ResourceAdapter):
    """``aws.iam.RolePolicy``; Pulumi id and import id: ``role:policy``."""

    type_token = "aws:iam/rolePolicy:RolePolicy"
    service = "iam"
    name_input = "name"
    name_kind = "iam_role_policy"
    replace_on_change = {"name": None, "role": None}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        policy_id = f"{inputs['role']}:{inputs['name']}"
        return policy_id, {**inputs, "id": policy_id}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        iam = self.client(session, self.service)
        role, name = ref.inputs["role"], ref.physical_name
        existed = name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        if not existed:
            iam.put_role_policy(RoleName=role, PolicyName=name,
                                PolicyDocument=_document(ref.inputs["policy"]))
        policy_id = f"{role}:{name}"
        return Created(policy_id, {**ref.inputs, "id": policy_id}, existed)

    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[str, dict]:
        return authorization_details(session)

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        role, name = ref.inputs["role"], ref.physical_name
        if prefetched is not None:
            policies = {p["PolicyName"]: p["PolicyDocument"]
                        for p in (prefetched.get(role) or {}).get("RolePolicyList") or []}
            if name not in policies:
                return None
            document = policies[name]
        else:
            try:
                document = self.client(session, self.service).get_role_policy(
                    RoleName=role, PolicyName=name)["PolicyDocument"]
            except Exception as err:
                if error_code(err) == "NoSuchEntity":
                    return None
                raise
        return {"role": role, "name": name, "policy": _document(document),
                "id": f"{role}:{name}"}

    def list(self, session: Any, prefix: str) -> list[str]:
        return [f"{name}:{policy['PolicyName']}"
                for name, role in authorization_details(session).items()
                if name.startswith(prefix) for policy in role.get("RolePolicyList") or []]


ADAPTERS = (RoleAdapter(), RolePolicyAdapter())
