"""EventBridge adapters: rules and their targets.

The Pulumi types live in the ``cloudwatch`` module (``aws.cloudwatch.EventRule`` and
``aws.cloudwatch.EventTarget``); the API is EventBridge's (boto3 client ``events``).
"""

from __future__ import annotations

import os
from typing import Any

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef, error_code

DEFAULT_BUS = "default"

#: Plan input name -> PutRule / ListRules field.
RULE_FIELDS: dict[str, str] = {
    "description": "Description",
    "scheduleExpression": "ScheduleExpression",
    "eventPattern": "EventPattern",
    "state": "State",
    "roleArn": "RoleArn",
}


def _bus(inputs: dict[str, Any]) -> str:
    return inputs.get("eventBusName") or DEFAULT_BUS


def rule_arn(name: str, env: AwsEnv, bus: str = DEFAULT_BUS) -> str:
    """The ARN of a rule (a rule on a custom bus has the bus in its path)."""
    path = name if bus == DEFAULT_BUS else f"{bus}/{name}"
    return f"arn:{env.partition}:events:{env.region}:{env.account_id}:rule/{path}"


def _rule_id(name: str, bus: str) -> str:
    return name if bus == DEFAULT_BUS else f"{bus}/{name}"


class RuleAdapter(ResourceAdapter):
    """``aws.cloudwatch.EventRule``; Pulumi id and import id: the rule name (``bus/name``
    on a custom bus)."""

    type_token = "aws:cloudwatch/eventRule:EventRule"
    service = "events"
    name_input = "name"
    name_kind = "event_rule"
    replace_on_change = {"name": None, "eventBusName": DEFAULT_BUS}
    uncompared = {"forceDestroy": "a delete-time switch of the provider"}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        name, bus = inputs["name"], _bus(inputs)
        rule_id = _rule_id(name, bus)
        return rule_id, {**inputs, "arn": rule_arn(name, env, bus), "id": rule_id}

    def _describe(self, session: Any, name: str, bus: str) -> dict[str, Any] | None:
        try:
            return self.client(session, self.service).describe_rule(Name=name,
                                                                   EventBusName=bus)
        except Exception as err:  # botocore ClientError; the session owns the class
            if error_code(err) == "ResourceNotFoundException":
                return None
            raise

    def create(self, session: Any, ref: ResourceRef) -> Created:
        name, inputs = ref.physical_name, ref.inputs
        bus = _bus(inputs)
        rule = self._describe(session, name, bus)
        existed = rule is not None
        if not existed:
            kwargs: dict[str, Any] = {"Name": name, "EventBusName": bus}
            for key, aws in RULE_FIELDS.items():
                if inputs.get(key) is not None:
                    kwargs[aws] = inputs[key]
            if inputs.get("isEnabled") is not None and "State" not in kwargs:
                kwargs["State"] = "ENABLED" if inputs["isEnabled"] else "DISABLED"
            if inputs.get("tags"):
                kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in inputs["tags"].items()]
            arn = self.client(session, self.service).put_rule(**kwargs)["RuleArn"]
        else:
            arn = rule["Arn"]
        rule_id = _rule_id(name, bus)
        return Created(rule_id, {**inputs, "arn": arn, "id": rule_id}, existed)

    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[tuple[str, str], dict]:
        """Every rule under the names' common prefix, per bus: paginated ListRules, which
        returns schedule, pattern, state and description (not tags)."""
        paginator = self.client(session, self.service).get_paginator("list_rules")
        found: dict[tuple[str, str], dict] = {}
        for bus in sorted({_bus(ref.inputs) for ref in refs}):
            prefix = os.path.commonprefix([ref.physical_name for ref in refs
                                           if _bus(ref.inputs) == bus])
            kwargs = {"EventBusName": bus, **({"NamePrefix": prefix} if prefix else {})}
            for page in paginator.paginate(**kwargs):
                for rule in page["Rules"]:
                    found[(bus, rule["Name"])] = rule
        return found

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        bus = _bus(ref.inputs)
        rule = (prefetched.get((bus, ref.physical_name)) if prefetched is not None
                else self._describe(session, ref.physical_name, bus))
        if rule is None:
            return None
        state: dict[str, Any] = {"name": rule["Name"], "arn": rule["Arn"],
                                 "id": _rule_id(rule["Name"], bus),
                                 "isEnabled": rule.get("State") != "DISABLED"}
        if "eventBusName" in ref.inputs:
            state["eventBusName"] = rule.get("EventBusName", bus)
        for key, aws in RULE_FIELDS.items():
            state[key] = rule.get(aws)
        if "tags" in ref.inputs:  # EventBridge has no batch read of tags
            tags = self.client(session, self.service).list_tags_for_resource(
                ResourceARN=rule["Arn"]).get("Tags") or []
            state["tags"] = {t["Key"]: t["Value"] for t in tags}
        return state

    def list(self, session: Any, prefix: str) -> list[str]:
        paginator = self.client(session, self.service).get_paginator("list_rules")
        return [rule["Name"] for page in paginator.paginate(NamePrefix=prefix)
                for rule in page["Rules"]] if prefix else []


def _target_to_aws(inputs: dict[str, Any]) -> dict[str, Any]:
    """The Plan's target inputs as one PutTargets entry (the fields tandem uses)."""
    target: dict[str, Any] = {"Id": inputs["targetId"], "Arn": inputs["arn"]}
    for key, aws in (("roleArn", "RoleArn"), ("input", "Input"), ("inputPath", "InputPath")):
        if inputs.get(key) is not None:
            target[aws] = inputs[key]
    retry = inputs.get("retryPolicy") or {}
    if retry:
        target["RetryPolicy"] = {aws: int(retry[key]) for key, aws in (
            ("maximumRetryAttempts", "MaximumRetryAttempts"),
            ("maximumEventAgeInSeconds", "MaximumEventAgeInSeconds")) if retry.get(key)
            is not None}
    dead_letter = (inputs.get("deadLetterConfig") or {}).get("arn")
    if dead_letter:
        target["DeadLetterConfig"] = {"Arn": dead_letter}
    return target


class TargetAdapter(ResourceAdapter):
    """``aws.cloudwatch.EventTarget``. Pulumi id: ``rule-targetId`` (the provider joins them
    with "-"); import id: ``rule/targetId`` (``bus/rule/targetId`` on a custom bus)."""

    type_token = "aws:cloudwatch/eventTarget:EventTarget"
    service = "events"
    name_input = None
    requires_name = False
    uncompared = {"forceDestroy": "a delete-time switch of the provider"}
    replace_on_change = {"rule": None, "targetId": None, "eventBusName": DEFAULT_BUS}

    def physical_name(self, inputs: dict[str, Any]) -> str | None:
        if not inputs.get("rule") or not inputs.get("targetId"):
            return None
        return f"{inputs['rule']}/{inputs['targetId']}"

    @staticmethod
    def _id(inputs: dict[str, Any]) -> str:
        bus = _bus(inputs)
        parts = [inputs["rule"], inputs["targetId"]]
        return "-".join(parts if bus == DEFAULT_BUS else [bus, *parts])

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        target_id = self._id(inputs)
        return target_id, {**inputs, "id": target_id}

    def import_id(self, ref: ResourceRef, env: AwsEnv) -> str:
        bus = _bus(ref.inputs)
        parts = [ref.inputs["rule"], ref.inputs["targetId"]]
        return "/".join(parts if bus == DEFAULT_BUS else [bus, *parts])

    def _targets(self, session: Any, rule: str, bus: str) -> list[dict[str, Any]] | None:
        paginator = self.client(session, self.service).get_paginator("list_targets_by_rule")
        try:
            return [target for page in paginator.paginate(Rule=rule, EventBusName=bus)
                    for target in page["Targets"]]
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":
                return None
            raise

    def create(self, session: Any, ref: ResourceRef) -> Created:
        inputs = ref.inputs
        bus = _bus(inputs)
        existing = self._targets(session, inputs["rule"], bus) or []
        existed = any(t["Id"] == inputs["targetId"] for t in existing)
        if not existed:
            result = self.client(session, self.service).put_targets(
                Rule=inputs["rule"], EventBusName=bus, Targets=[_target_to_aws(inputs)])
            if result.get("FailedEntryCount"):
                failed = result["FailedEntries"][0]
                raise RuntimeError(f"PutTargets failed: {failed.get('ErrorCode')}: "
                                   f"{failed.get('ErrorMessage')}")
        target_id = self._id(inputs)
        return Created(target_id, {**inputs, "id": target_id}, existed)

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        inputs = ref.inputs
        targets = self._targets(session, inputs["rule"], _bus(inputs))
        target = next((t for t in targets or [] if t["Id"] == inputs["targetId"]), None)
        if target is None:
            return None
        retry = target.get("RetryPolicy") or {}
        state: dict[str, Any] = {
            "rule": inputs["rule"], "targetId": target["Id"], "arn": target["Arn"],
            "roleArn": target.get("RoleArn"), "input": target.get("Input"),
            "inputPath": target.get("InputPath"),
            "retryPolicy": {key: retry[aws] for key, aws in (
                ("maximumEventAgeInSeconds", "MaximumEventAgeInSeconds"),
                ("maximumRetryAttempts", "MaximumRetryAttempts")) if aws in retry} or None,
            "deadLetterConfig": ({"arn": target["DeadLetterConfig"]["Arn"]}
                                 if (target.get("DeadLetterConfig") or {}).get("Arn")
                                 else None),
            "id": self._id(inputs),
        }
        if "eventBusName" in inputs:
            state["eventBusName"] = _bus(inputs)
        return state

    def list(self, session: Any, prefix: str) -> list[str]:
        """Pulumi ids (``rule-targetId``, what reads report) of the targets of the default
        bus's rules under ``prefix``: one ListTargetsByRule a rule."""
        ids = []
        for rule in RuleAdapter().list(session, prefix):
            for target in self._targets(session, rule, DEFAULT_BUS) or []:
                ids.append(f"{rule}-{target['Id']}")
        return ids


ADAPTERS = (RuleAdapter(), TargetAdapter())
