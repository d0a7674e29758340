"""Step Functions adapters: state machines."""

from __future__ import annotations

from typing import Any

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef, error_code


def state_machine_arn(name: str, env: AwsEnv) -> str:
    """The ARN of a state machine."""
    return f"arn:{env.partition}:states:{env.region}:{env.account_id}:stateMachine:{name}"


def _logging_to_aws(logging: dict[str, Any]) -> dict[str, Any]:
    """The Plan's ``loggingConfiguration`` as the API takes it."""
    result: dict[str, Any] = {}
    if logging.get("level"):
        result["level"] = logging["level"]
    if logging.get("includeExecutionData") is not None:
        result["includeExecutionData"] = bool(logging["includeExecutionData"])
    if logging.get("logDestination"):
        result["destinations"] = [{"cloudWatchLogsLogGroup": {
            "logGroupArn": logging["logDestination"]}}]
    return result


def _logging_from_aws(logging: dict[str, Any] | None) -> dict[str, Any]:
    logging = logging or {}
    destinations = logging.get("destinations") or []
    destination = ((destinations[0].get("cloudWatchLogsLogGroup") or {}).get("logGroupArn")
                   if destinations else None)
    return {key: value for key, value in (
        ("level", logging.get("level", "OFF")),
        ("includeExecutionData", logging.get("includeExecutionData", False)),
        ("logDestination", destination)) if value is not None}


class StateMachineAdapter(ResourceAdapter):
    """``aws.sfn.StateMachine``; Pulumi id and import id: the state machine ARN."""

    type_token = "aws:sfn/stateMachine:StateMachine"
    service = "stepfunctions"
    name_input = "name"
    name_kind = "sfn_state_machine"
    replace_on_change = {"name": None, "type": "STANDARD"}
    uncompared = {"publish": "a deploy-time switch (publish a version), not a property of "
                             "the state machine"}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        arn = state_machine_arn(inputs["name"], env)
        return arn, {**inputs, "arn": arn, "id": arn, "status": "ACTIVE"}

    def _arns(self, session: Any) -> dict[str, str]:
        """Name -> ARN of every state machine (one paginated ListStateMachines)."""
        paginator = self.client(session, self.service).get_paginator("list_state_machines")
        return {machine["name"]: machine["stateMachineArn"]
                for page in paginator.paginate() for machine in page["stateMachines"]}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        sfn = self.client(session, self.service)
        name, inputs = ref.physical_name, ref.inputs
        arn = self._arns(session).get(name)
        existed = arn is not None
        if not existed:
            kwargs: dict[str, Any] = {"name": name, "definition": inputs["definition"],
                                      "roleArn": inputs["roleArn"],
                                      "type": inputs.get("type") or "STANDARD"}
            if inputs.get("loggingConfiguration"):
                kwargs["loggingConfiguration"] = _logging_to_aws(inputs["loggingConfiguration"])
            tracing = inputs.get("tracingConfiguration") or {}
            if tracing.get("enabled") is not None:
                kwargs["tracingConfiguration"] = {"enabled": bool(tracing["enabled"])}
            if inputs.get("tags"):
                kwargs["tags"] = [{"key": k, "value": v} for k, v in inputs["tags"].items()]
            arn = sfn.create_state_machine(**kwargs)["stateMachineArn"]
        return Created(arn, {**inputs, "arn": arn, "id": arn, "status": "ACTIVE"}, existed)

    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[str, str]:
        return self._arns(session)

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        sfn = self.client(session, self.service)
        arns = prefetched if prefetched is not None else self._arns(session)
        arn = arns.get(ref.physical_name)
        if arn is None:
            return None
        try:
            machine = sfn.describe_state_machine(stateMachineArn=arn)
        except Exception as err:
            if error_code(err) == "StateMachineDoesNotExist":
                return None
            raise
        if machine.get("status") == "DELETING":
            return None
        state: dict[str, Any] = {
            "name": machine["name"], "definition": machine["definition"],
            "roleArn": machine["roleArn"], "type": machine.get("type"),
            "loggingConfiguration": _logging_from_aws(machine.get("loggingConfiguration")),
            "tracingConfiguration": {"enabled": bool(
                (machine.get("tracingConfiguration") or {}).get("enabled"))},
            "arn": arn, "id": arn, "status": machine.get("status"),
        }
        if "tags" in ref.inputs:  # Step Functions has no batch read of tags
            tags = sfn.list_tags_for_resource(resourceArn=arn).get("tags") or []
            state["tags"] = {t["key"]: t["value"] for t in tags}
        return state

    def list(self, session: Any, prefix: str) -> list[str]:
        return [arn for name, arn in self._arns(session).items() if name.startswith(prefix)]


ADAPTERS = (StateMachineAdapter(),)
