"""SQS adapters: queues and their redrive-allow policies."""

from __future__ import annotations

import json
import os
from typing import Any

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef, error_code
from infra.aws.limits import emulator_limit

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


class QueueAttributeAdapter(ResourceAdapter):
    """A resource that is one JSON attribute of a queue (a policy); Pulumi id and import id:
    the queue's URL. Subclasses name the attribute and its Plan input."""

    service = "sqs"
    name_input = None
    requires_name = False
    replace_on_change = {"queueUrl": None}
    #: SQS attribute name and the Plan input that carries it.
    attribute = ""
    input = ""

    def physical_name(self, inputs: dict[str, Any]) -> str | None:
        return inputs.get("queueUrl")

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        return inputs["queueUrl"], {**inputs, "id": inputs["queueUrl"]}

    def _current(self, session: Any, url: str) -> dict[str, str] | None:
        """The queue's attributes (the queue's own read may have fetched them moments ago);
        None when the queue is missing. InvalidAttributeName propagates (EMULATOR_LIMITS)."""
        known = getattr(session, "memo", {}).get(("sqs-attributes", url))
        if known is not None:
            return known
        try:
            return self.client(session, self.service).get_queue_attributes(
                QueueUrl=url, AttributeNames=[self.attribute]).get("Attributes", {})
        except Exception as err:
            if error_code(err) in _MISSING_QUEUE:
                return None
            raise

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        url = ref.inputs["queueUrl"]
        try:
            attributes = self._current(session, url)
        except Exception as err:
            if error_code(err) != "InvalidAttributeName":
                raise
            # The endpoint cannot report the attribute (EMULATOR_LIMITS): present, unread.
            return {"queueUrl": url, "id": url}
        if attributes is None:
            return None
        state: dict[str, Any] = {"queueUrl": url, "id": url}
        if attributes.get(self.attribute):
            state[self.input] = attributes[self.attribute]
            return state
        if emulator_limit(self.type_token, self.input, getattr(session, "endpoint_url", None)):
            return state  # the endpoint never reports it: not verifiable, not missing
        return None  # a queue without the attribute: this resource does not exist

    def list(self, session: Any, prefix: str) -> list[str]:
        # An attribute of a queue, not a resource of its own: queues are listed by QueueAdapter.
        return []

    def create(self, session: Any, ref: ResourceRef) -> Created:
        url, wanted = ref.inputs["queueUrl"], ref.inputs[self.input]
        try:
            current = (self._current(session, url) or {}).get(self.attribute)
            readable = True
        except Exception as err:
            if error_code(err) != "InvalidAttributeName":  # see EMULATOR_LIMITS
                raise
            current, readable = None, False
        if readable and current and json.loads(current) == json.loads(wanted):
            return Created(url, {**ref.inputs, "id": url}, existed=True)
        self.client(session, self.service).set_queue_attributes(
            QueueUrl=url, Attributes={self.attribute: wanted})
        return Created(url, {**ref.inputs, "id": url}, existed=bool(current),
                       rewritten=not readable)


class RedriveAllowPolicyAdapter(QueueAttributeAdapter):
    """``aws.sqs.RedriveAllowPolicy``: which queues may use this one as their DLQ."""

    type_token = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
    attribute, input = "RedriveAllowPolicy", "redriveAllowPolicy"


class QueuePolicyAdapter(QueueAttributeAdapter):
    """``aws.sqs.QueuePolicy``: the queue's resource policy."""

    type_token = "aws:sqs/queuePolicy:QueuePolicy"
    attribute, input = "Policy", "policy"


ADAPTERS = (QueueAdapter(), RedriveAllowPolicyAdapter(), QueuePolicyAdapter())
