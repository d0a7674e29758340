"""ECR adapters: repositories and their lifecycle policies."""

from __future__ import annotations

from typing import Any

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef, error_code

_MISSING_REPOSITORY = "RepositoryNotFoundException"


def repository_arn(name: str, env: AwsEnv) -> str:
    """The ARN of a repository."""
    return f"arn:{env.partition}:ecr:{env.region}:{env.account_id}:repository/{name}"


def repository_url(name: str, env: AwsEnv) -> str:
    """The repository URI (registry host of the account and region, then the name)."""
    return f"{env.account_id}.dkr.ecr.{env.region}.amazonaws.com/{name}"


def _tags_to_aws(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


class RepositoryAdapter(ResourceAdapter):
    """``aws.ecr.Repository``; Pulumi id and import id: the repository name."""

    type_token = "aws:ecr/repository:Repository"
    service = "ecr"
    name_input = "name"
    name_kind = "ecr_repository"
    # The provider replaces a repository on a new name or encryption (ForceNew).
    replace_on_change = {"name": None, "encryptionConfigurations": [{"encryptionType": "AES256"}]}
    uncompared = {"forceDelete": "a delete-time switch of the provider, not a repository "
                                 "property"}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        name = inputs["name"]
        return name, {**inputs, "arn": repository_arn(name, env),
                      "repositoryUrl": repository_url(name, env),
                      "registryId": env.account_id, "id": name}

    @staticmethod
    def _describe(ecr: Any, name: str) -> dict[str, Any] | None:
        try:
            return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        except Exception as err:  # botocore ClientError; the session owns the class
            if error_code(err) == _MISSING_REPOSITORY:
                return None
            raise

    @staticmethod
    def _state(repo: dict[str, Any]) -> dict[str, Any]:
        return {"arn": repo["repositoryArn"], "repositoryUrl": repo["repositoryUri"],
                "registryId": repo["registryId"], "id": repo["repositoryName"]}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        ecr = self.client(session, self.service)
        name, inputs = ref.physical_name, ref.inputs
        repo = self._describe(ecr, name)
        existed = repo is not None
        if not existed:
            kwargs: dict[str, Any] = {"repositoryName": name}
            if inputs.get("imageTagMutability"):
                kwargs["imageTagMutability"] = inputs["imageTagMutability"]
            scanning = inputs.get("imageScanningConfiguration") or {}
            if scanning.get("scanOnPush") is not None:
                kwargs["imageScanningConfiguration"] = {"scanOnPush": scanning["scanOnPush"]}
            encryption = (inputs.get("encryptionConfigurations") or [None])[0]
            if encryption:
                kwargs["encryptionConfiguration"] = {
                    k: v for k, v in (("encryptionType", encryption.get("encryptionType")),
                                      ("kmsKey", encryption.get("kmsKey"))) if v}
            if inputs.get("tags"):
                kwargs["tags"] = _tags_to_aws(inputs["tags"])
            repo = ecr.create_repository(**kwargs)["repository"]
        return Created(name, {**inputs, **self._state(repo)}, existed)

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        ecr = self.client(session, self.service)
        repo = self._describe(ecr, ref.physical_name)
        if repo is None:
            return None
        encryption = repo.get("encryptionConfiguration") or {}
        state: dict[str, Any] = {
            "name": repo["repositoryName"],
            "imageTagMutability": repo.get("imageTagMutability"),
            "imageScanningConfiguration": {"scanOnPush": bool(
                (repo.get("imageScanningConfiguration") or {}).get("scanOnPush"))},
            "encryptionConfigurations": [{k: v for k, v in (
                ("encryptionType", encryption.get("encryptionType")),
                ("kmsKey", encryption.get("kmsKey"))) if v}] if encryption else None,
            **self._state(repo),
        }
        if "tags" in ref.inputs:  # ECR has no batch read of tags
            tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])
            state["tags"] = {t["Key"]: t["Value"] for t in tags.get("tags") or []}
        return state

    def list(self, session: Any, prefix: str) -> list[str]:
        paginator = self.client(session, self.service).get_paginator("describe_repositories")
        return [repo["repositoryName"] for page in paginator.paginate()
                for repo in page["repositories"] if repo["repositoryName"].startswith(prefix)]


class LifecyclePolicyAdapter(ResourceAdapter):
    """``aws.ecr.LifecyclePolicy``; Pulumi id and import id: the repository name."""

    type_token = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
    service = "ecr"
    name_input = None
    requires_name = False
    replace_on_change = {"repository": None}

    def physical_name(self, inputs: dict[str, Any]) -> str | None:
        return inputs.get("repository")

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        repository = inputs["repository"]
        return repository, {**inputs, "registryId": env.account_id, "id": repository}

    @staticmethod
    def _get(ecr: Any, repository: str) -> dict[str, Any] | None:
        try:
            return ecr.get_lifecycle_policy(repositoryName=repository)
        except Exception as err:
            if error_code(err) in ("LifecyclePolicyNotFoundException", _MISSING_REPOSITORY):
                return None
            raise

    def create(self, session: Any, ref: ResourceRef) -> Created:
        ecr = self.client(session, self.service)
        repository = ref.inputs["repository"]
        found = self._get(ecr, repository)
        existed = found is not None
        if not existed:
            found = ecr.put_lifecycle_policy(repositoryName=repository,
                                             lifecyclePolicyText=ref.inputs["policy"])
        return Created(repository, {**ref.inputs, "registryId": found["registryId"],
                                    "id": repository}, existed)

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        repository = ref.inputs["repository"]
        found = self._get(self.client(session, self.service), repository)
        if found is None:
            return None
        return {"repository": found["repositoryName"], "policy": found["lifecyclePolicyText"],
                "registryId": found["registryId"], "id": found["repositoryName"]}

    def list(self, session: Any, prefix: str) -> list[str]:
        # A setting of a repository, listed with it by RepositoryAdapter.
        return []


ADAPTERS = (RepositoryAdapter(), LifecyclePolicyAdapter())
