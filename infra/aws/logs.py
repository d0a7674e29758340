"""CloudWatch Logs adapters: log groups."""

from __future__ import annotations

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


ADAPTERS = (LogGroupAdapter(),)
