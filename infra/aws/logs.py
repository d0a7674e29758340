"""CloudWatch Logs adapters: log groups."""

from __future__ import annotations

import os
from typing import Any

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef


def log_group_arn(name: str, env: AwsEnv) -> str:
    """The log group ARN as the Pulumi provider reports it (without the trailing ``:*``)."""
    return f"arn:{env.partition}:logs:{env.region}:{env.account_id}:log-group:{name}"


class LogGroupAdapter(ResourceAdapter):
    """``aws.cloudwatch.LogGroup``; Pulumi id and import id: the log group name."""

    type_token = "aws:cloudwatch/logGroup:LogGroup"
    service = "logs"
    name_input = "name"
    name_kind = "log_group"
    replace_on_change = {"name": None}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        name = inputs["name"]
        return name, {**inputs, "arn": log_group_arn(name, env), "id": name}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        logs = self.client(session, self.service)
        name = ref.physical_name
        group = self._describe(logs, name)
        existed = group is not None
        if not existed:
            kwargs: dict[str, Any] = {"logGroupName": name}
            if ref.inputs.get("kmsKeyId"):
                kwargs["kmsKeyId"] = ref.inputs["kmsKeyId"]
            if ref.inputs.get("tags"):
                kwargs["tags"] = ref.inputs["tags"]
            logs.create_log_group(**kwargs)
            if ref.inputs.get("retentionInDays"):
                logs.put_retention_policy(logGroupName=name,
                                          retentionInDays=int(ref.inputs["retentionInDays"]))
            group = self._describe(logs, name)
        # DescribeLogGroups reports the ARN with a trailing ":*"; the provider strips it.
        arn = group["arn"].removesuffix(":*")
        return Created(name, {**ref.inputs, "arn": arn, "id": name}, existed)

    @staticmethod
    def _describe(logs: Any, name: str) -> dict[str, Any] | None:
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name):
            for group in page["logGroups"]:
                if group["logGroupName"] == name:
                    return group
        return None


    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[str, dict]:
        """Every log group under the names' common prefix: one paginated DescribeLogGroups."""
        logs = self.client(session, self.service)
        prefix = os.path.commonprefix([ref.physical_name for ref in refs])
        return {group["logGroupName"]: group
                for page in logs.get_paginator("describe_log_groups").paginate(
                    **({"logGroupNamePrefix": prefix} if prefix else {}))
                for group in page["logGroups"]}

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        logs = self.client(session, self.service)
        groups = prefetched if prefetched is not None else self.prefetch(session, [ref])
        group = groups.get(ref.physical_name)
        if group is None:
            return None
        arn = group["arn"].removesuffix(":*")
        state = {"name": group["logGroupName"], "arn": arn, "id": group["logGroupName"],
                 "retentionInDays": group.get("retentionInDays"),
                 "kmsKeyId": group.get("kmsKeyId")}
        if "tags" in ref.inputs:  # Logs has no batch read of tags
            state["tags"] = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
        return state

    def list(self, session: Any, prefix: str) -> list[str]:
        paginator = self.client(session, self.service).get_paginator("describe_log_groups")
        # The stack's own names, and the AWS-mandated homes of its functions' and state
        # machines' logs (Step Functions recommends /aws/vendedlogs/ for its log groups).
        prefixes = ((prefix, f"/aws/lambda/{prefix}", f"/aws/vendedlogs/states/{prefix}")
                    if prefix else ("",))
        return sorted({group["logGroupName"]
                       for name_prefix in prefixes
                       for page in paginator.paginate(
                           **({"logGroupNamePrefix": name_prefix} if name_prefix else {}))
                       for group in page["logGroups"]})


ADAPTERS = (LogGroupAdapter(),)
