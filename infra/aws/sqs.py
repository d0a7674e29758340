"""SQS adapters: queues and their redrive-allow policies."""

from __future__ import annotations

import json
import os
from typing import Any

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef, error_code

#: Plan input name -> SQS attribute name, for the attributes tandem's programs set.
QUEUE_ATTRIBUTES: dict[str, str] = {
    "visibilityTimeoutSeconds": "VisibilityTimeout",
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "delaySeconds": "DelaySeconds",
    "maxMessageSize": "MaximumMessageSize",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "redrivePolicy": "RedrivePolicy",
    "fifoQueue": "FifoQueue",
}


_MISSING_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _attribute_value(value: Any) -> str:
    """SQS takes every attribute as a string; booleans lowercase."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def queue_url(name: str, env: AwsEnv) -> str:
    """The URL AWS gives a queue (the SQS endpoint of the region, then account and name)."""
    return f"https://sqs.{env.region}.amazonaws.com/{env.account_id}/{name}"


def queue_arn(name: str, env: AwsEnv) -> str:
    """The ARN of a queue."""
    return f"arn:{env.partition}:sqs:{env.region}:{env.account_id}:{name}"


class QueueAdapter(ResourceAdapter):
    """``aws.sqs.Queue``; Pulumi id and import id: the queue URL."""

    type_token = "aws:sqs/queue:Queue"
    service = "sqs"
    name_input = "name"
    name_kind = "sqs_queue"
    replace_on_change = {"name": None, "fifoQueue": False}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        name = inputs["name"]
        url = queue_url(name, env)
        return url, {**inputs, "arn": queue_arn(name, env), "url": url, "id": url}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        sqs = self.client(session, self.service)
        name = ref.physical_name
        existed = True
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except Exception as err:  # botocore ClientError; the session owns the class
            if error_code(err) not in _MISSING_QUEUE:
                raise
            attributes = {aws: _attribute_value(ref.inputs[key])
                          for key, aws in QUEUE_ATTRIBUTES.items()
                          if ref.inputs.get(key) is not None}
            url = sqs.create_queue(QueueName=name, Attributes=attributes,
                                   tags=ref.inputs.get("tags") or {})["QueueUrl"]
            existed = False
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        return Created(url, {**ref.inputs, "arn": arn, "url": url, "id": url}, existed)


    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[str, str]:
        """Queue name -> URL for every queue under the names' common prefix (one paginated
        ListQueues instead of a GetQueueUrl per queue)."""
        prefix = os.path.commonprefix([ref.physical_name for ref in refs])
        return {_queue_name(url): url for url in self.list(session, prefix)}

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        sqs = self.client(session, self.service)
        try:
            if prefetched is not None:
                url = prefetched.get(ref.physical_name)
                if url is None:
                    return None
            else:
                url = sqs.get_queue_url(QueueName=ref.physical_name)["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url,
                                                  AttributeNames=["All"])["Attributes"]
            getattr(session, "memo", {})[("sqs-attributes", url)] = attributes
            tags = (sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}
                    if "tags" in ref.inputs else None)
        except Exception as err:
            if error_code(err) in _MISSING_QUEUE:
                return None
            raise
        state: dict[str, Any] = {"name": _queue_name(url), "url": url, "id": url,
                                 "arn": attributes.get("QueueArn"), "tags": tags}
        for key, aws in QUEUE_ATTRIBUTES.items():
            if aws in attributes:
                state[key] = attributes[aws]
        state.setdefault("fifoQueue", False)  # SQS reports FifoQueue only for FIFO queues
        return state

    def list(self, session: Any, prefix: str) -> list[str]:
        paginator = self.client(session, self.service).get_paginator("list_queues")
        return [url for page in paginator.paginate(
                    **({"QueueNamePrefix": prefix} if prefix else {}))
                for url in page.get("QueueUrls") or []]


class RedriveAllowPolicyAdapter(ResourceAdapter):
    """``aws.sqs.RedriveAllowPolicy``; Pulumi id and import id: the DLQ's URL."""

    type_token = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
    service = "sqs"
    name_input = None
    requires_name = False
    replace_on_change = {"queueUrl": None}

    def physical_name(self, inputs: dict[str, Any]) -> str | None:
        return inputs.get("queueUrl")

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        return inputs["queueUrl"], {**inputs, "id": inputs["queueUrl"]}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        sqs = self.client(session, self.service)
        url, wanted = ref.inputs["queueUrl"], ref.inputs["redriveAllowPolicy"]
        try:
            current = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["RedriveAllowPolicy"]).get(
                "Attributes", {}).get("RedriveAllowPolicy")
            readable = True
        except Exception as err:
            if error_code(err) != "InvalidAttributeName":  # see EMULATOR_LIMITS
                raise
            current, readable = None, False
        if readable and current and json.loads(current) == json.loads(wanted):
            return Created(url, {**ref.inputs, "id": url}, existed=True)
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": wanted})
        return Created(url, {**ref.inputs, "id": url}, existed=bool(current),
                       rewritten=not readable)

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        sqs = self.client(session, self.service)
        url = ref.inputs["queueUrl"]
        state: dict[str, Any] = {"queueUrl": url, "id": url}
        known = getattr(session, "memo", {}).get(("sqs-attributes", url))
        if known is not None:  # the queue's own read got All attributes moments ago
            if "RedriveAllowPolicy" in known:
                state["redriveAllowPolicy"] = known["RedriveAllowPolicy"]
            return state
        try:
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["RedriveAllowPolicy"]).get("Attributes", {})
        except Exception as err:
            code = error_code(err)
            if code in _MISSING_QUEUE:
                return None
            if code == "InvalidAttributeName":  # the endpoint cannot report it: EMULATOR_LIMITS
                return state
            raise
        if "RedriveAllowPolicy" in attributes:
            state["redriveAllowPolicy"] = attributes["RedriveAllowPolicy"]
        return state

    def list(self, session: Any, prefix: str) -> list[str]:
        # An attribute of a queue, not a resource of its own: queues are listed by QueueAdapter.
        return []


ADAPTERS = (QueueAdapter(), RedriveAllowPolicyAdapter())


class QueuePolicyAdapter(ResourceAdapter):
    """``aws.sqs.QueuePolicy``; Pulumi id and import id: the queue URL."""

    type_token = "aws:sqs/queuePolicy:QueuePolicy"
    service = "sqs"
    name_input = None
    requires_name = False
    replace_on_change = {"queueUrl": None}

    def physical_name(self, inputs: dict[str, Any]) -> str | None:
        return inputs.get("queueUrl")

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        return inputs["queueUrl"], {**inputs, "id": inputs["queueUrl"]}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        sqs = self.client(session, self.service)
        url, wanted = ref.inputs["queueUrl"], ref.inputs["policy"]
        current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get(
            "Attributes", {}).get("Policy")
        if current and json.loads(current) == json.loads(wanted):
            return Created(url, {**ref.inputs, "id": url}, existed=True)
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": wanted})
        return Created(url, {**ref.inputs, "id": url}, existed=bool(current))

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        url = ref.inputs["queueUrl"]
        attributes = getattr(session, "memo", {}).get(("sqs-attributes", url))
        if attributes is None:  # else the queue's own read got All attributes moments ago
            try:
                attributes = self.client(session, self.service).get_queue_attributes(
                    QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
            except Exception as err:
                if error_code(err) in _MISSING_QUEUE:
                    return None
                raise
        if not attributes.get("Policy"):
            return None  # a queue without a policy: the policy resource is missing
        return {"queueUrl": url, "policy": attributes["Policy"], "id": url}

    def list(self, session: Any, prefix: str) -> list[str]:
        # An attribute of a queue, not a resource of its own: queues are listed by QueueAdapter.
        return []


ADAPTERS = (*ADAPTERS, QueuePolicyAdapter())
