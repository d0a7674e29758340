"""ECS adapters: clusters and task definitions."""

from __future__ import annotations

import json
from typing import Any

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef, error_code

#: DescribeClusters accepts at most 100 clusters per call (ECS API reference).
DESCRIBE_CLUSTERS_BATCH = 100


def _ecs_arn(env: AwsEnv, resource: str) -> str:
    return f"arn:{env.partition}:ecs:{env.region}:{env.account_id}:{resource}"


def _tags_to_aws(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in (tags or {}).items()]


def _tags_from_aws(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["key"]: t["value"] for t in tags or []}


class ClusterAdapter(ResourceAdapter):
    """``aws.ecs.Cluster``; Pulumi id: the cluster ARN; import id: the cluster name."""

    type_token = "aws:ecs/cluster:Cluster"
    service = "ecs"
    name_input = "name"
    name_kind = "ecs_cluster"
    replace_on_change = {"name": None}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        arn = _ecs_arn(env, f"cluster/{inputs['name']}")
        return arn, {**inputs, "arn": arn, "id": arn}

    def import_id(self, ref: ResourceRef, env: AwsEnv) -> str:
        return ref.physical_name or ref.inputs["name"]

    def _describe(self, session: Any, names: list[str]) -> dict[str, dict]:
        """Cluster name -> ACTIVE cluster, with settings and tags (100 names a call)."""
        ecs = self.client(session, self.service)
        found: dict[str, dict] = {}
        for start in range(0, len(names), DESCRIBE_CLUSTERS_BATCH):
            batch = names[start:start + DESCRIBE_CLUSTERS_BATCH]
            for cluster in ecs.describe_clusters(clusters=batch,
                                                 include=["SETTINGS", "TAGS"])["clusters"]:
                if cluster.get("status") != "INACTIVE":  # INACTIVE: deleted
                    found[cluster["clusterName"]] = cluster
        return found

    def create(self, session: Any, ref: ResourceRef) -> Created:
        name, inputs = ref.physical_name, ref.inputs
        cluster = self._describe(session, [name]).get(name)
        existed = cluster is not None
        if not existed:
            kwargs: dict[str, Any] = {"clusterName": name}
            if inputs.get("settings"):
                kwargs["settings"] = [{"name": s["name"], "value": s["value"]}
                                      for s in inputs["settings"]]
            if inputs.get("tags"):
                kwargs["tags"] = _tags_to_aws(inputs["tags"])
            cluster = self.client(session, self.service).create_cluster(**kwargs)["cluster"]
        arn = cluster["clusterArn"]
        return Created(arn, {**inputs, "arn": arn, "id": arn}, existed)

    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[str, dict]:
        """Every planned cluster in DescribeClusters calls of up to 100 names each."""
        return self._describe(session, sorted({r.physical_name for r in refs
                                               if r.physical_name}))

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        clusters = (prefetched if prefetched is not None
                    else self._describe(session, [ref.physical_name]))
        cluster = clusters.get(ref.physical_name)
        if cluster is None:
            return None
        arn = cluster["clusterArn"]
        return {"name": cluster["clusterName"],
                "settings": [{"name": s["name"], "value": s["value"]}
                             for s in cluster.get("settings") or []],
                "tags": _tags_from_aws(cluster.get("tags")), "arn": arn, "id": arn}

    def list(self, session: Any, prefix: str) -> list[str]:
        """Cluster ARNs (the Pulumi id) of the clusters whose names start with ``prefix``."""
        paginator = self.client(session, self.service).get_paginator("list_clusters")
        return [arn for page in paginator.paginate() for arn in page["clusterArns"]
                if arn.split(":cluster/", 1)[-1].startswith(prefix)]


def _clean_container(container: dict[str, Any]) -> dict[str, Any]:
    """A live container definition without what ECS reports for unset fields (empty lists
    and maps, and ``cpu: 0``), so it compares with the definition as registered."""
    return {key: value for key, value in container.items()
            if value not in ([], {}, None) and not (key == "cpu" and value == 0)}


class TaskDefinitionAdapter(ResourceAdapter):
    """``aws.ecs.TaskDefinition``; Pulumi id: the family; import id: the revision's ARN.

    Reads compare the family's latest ACTIVE revision with the plan."""

    type_token = "aws:ecs/taskDefinition:TaskDefinition"
    service = "ecs"
    name_input = "family"
    name_kind = "ecs_task_family"
    # Any other change registers a new revision (the provider replaces the resource), which
    # running tasks do not notice: only another family blocks an import.
    replace_on_change = {"family": None}
    uncompared = {"skipDestroy": "a delete-time switch of the provider",
                  "trackLatest": "a switch of the provider, not a task definition property"}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        family = inputs["family"]
        without = _ecs_arn(env, f"task-definition/{family}")
        return family, {**inputs, "arn": f"{without}:1", "arnWithoutRevision": without,
                        "revision": 1, "id": family}

    def import_id(self, ref: ResourceRef, env: AwsEnv) -> str:
        return ref.outputs.get("arn") or self.outputs(ref.inputs, env)[1]["arn"]

    @staticmethod
    def _outputs(definition: dict[str, Any]) -> dict[str, Any]:
        arn = definition["taskDefinitionArn"]
        return {"arn": arn, "arnWithoutRevision": arn.rsplit(":", 1)[0],
                "revision": definition["revision"], "id": definition["family"]}

    def _describe(self, ecs: Any, family: str) -> dict[str, Any] | None:
        try:
            found = ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
        except Exception as err:
            # ECS answers ClientException for a family without an ACTIVE revision.
            if error_code(err) == "ClientException":
                return None
            raise
        definition = found["taskDefinition"]
        if definition.get("status") == "INACTIVE":
            return None
        return {**definition, "tags": found.get("tags") or []}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        ecs = self.client(session, self.service)
        family, inputs = ref.physical_name, ref.inputs
        definition = self._describe(ecs, family)
        existed = definition is not None
        if not existed:
            kwargs: dict[str, Any] = {
                "family": family,
                "containerDefinitions": json.loads(inputs["containerDefinitions"]),
            }
            for key, aws in (("cpu", "cpu"), ("memory", "memory"),
                             ("networkMode", "networkMode"),
                             ("requiresCompatibilities", "requiresCompatibilities"),
                             ("executionRoleArn", "executionRoleArn"),
                             ("taskRoleArn", "taskRoleArn")):
                if inputs.get(key):
                    kwargs[aws] = inputs[key]
            platform = inputs.get("runtimePlatform") or {}
            if platform:
                kwargs["runtimePlatform"] = {k: v for k, v in platform.items() if v}
            if inputs.get("tags"):
                kwargs["tags"] = _tags_to_aws(inputs["tags"])
            definition = ecs.register_task_definition(**kwargs)["taskDefinition"]
        return Created(family, {**inputs, **self._outputs(definition)}, existed)

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        definition = self._describe(self.client(session, self.service), ref.physical_name)
        if definition is None:
            return None
        platform = definition.get("runtimePlatform") or {}
        return {
            "family": definition["family"],
            "cpu": definition.get("cpu"), "memory": definition.get("memory"),
            "networkMode": definition.get("networkMode"),
            "requiresCompatibilities": definition.get("requiresCompatibilities") or [],
            "executionRoleArn": definition.get("executionRoleArn"),
            "taskRoleArn": definition.get("taskRoleArn"),
            "runtimePlatform": {k: v for k, v in (
                ("operatingSystemFamily", platform.get("operatingSystemFamily")),
                ("cpuArchitecture", platform.get("cpuArchitecture"))) if v} or None,
            "containerDefinitions": json.dumps(
                [_clean_container(c) for c in definition.get("containerDefinitions") or []]),
            "tags": _tags_from_aws(definition.get("tags")),
            **self._outputs(definition),
        }

    def list(self, session: Any, prefix: str) -> list[str]:
        """Families (the Pulumi id) with an ACTIVE revision, starting with ``prefix``."""
        paginator = self.client(session, self.service).get_paginator(
            "list_task_definition_families")
        return [family for page in paginator.paginate(familyPrefix=prefix, status="ACTIVE")
                for family in page["families"]]


ADAPTERS = (ClusterAdapter(), TaskDefinitionAdapter())
