"""SNS adapters: topics and topic subscriptions."""

from __future__ import annotations

from typing import Any

from infra.aws.base import (
    AwsEnv,
    Created,
    ResourceAdapter,
    ResourceRef,
    deterministic_uuid,
    error_code,
)

#: Plan input name -> topic attribute, for the attributes tandem's programs set.
TOPIC_ATTRIBUTES: dict[str, str] = {
    "displayName": "DisplayName",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "policy": "Policy",
    "deliveryPolicy": "DeliveryPolicy",
    "fifoTopic": "FifoTopic",
    "contentBasedDeduplication": "ContentBasedDeduplication",
    "signatureVersion": "SignatureVersion",
    "tracingConfig": "TracingConfig",
}
#: Plan input name -> subscription attribute.
SUBSCRIPTION_ATTRIBUTES: dict[str, str] = {
    "rawMessageDelivery": "RawMessageDelivery",
    "filterPolicy": "FilterPolicy",
    "filterPolicyScope": "FilterPolicyScope",
    "redrivePolicy": "RedrivePolicy",
    "deliveryPolicy": "DeliveryPolicy",
    "subscriptionRoleArn": "SubscriptionRoleArn",
}
#: What ListSubscriptionsByTopic shows instead of an ARN for a subscription that is not
#: confirmed yet (an e-mail address that has not clicked the link).
PENDING = "PendingConfirmation"


def topic_arn(name: str, env: AwsEnv) -> str:
    """The ARN of a topic."""
    return f"arn:{env.partition}:sns:{env.region}:{env.account_id}:{name}"


def _name_of(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def _attribute_value(value: Any) -> str:
    """SNS takes every attribute as a string; booleans lowercase."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _missing(err: Exception) -> bool:
    return error_code(err) in ("NotFound", "NotFoundException")


def _topic_names(sns: Any, prefix: str) -> list[str]:
    """ARNs of the topics whose names start with ``prefix`` (SNS lists all, so by hand)."""
    return [topic["TopicArn"] for page in sns.get_paginator("list_topics").paginate()
            for topic in page.get("Topics") or []
            if _name_of(topic["TopicArn"]).startswith(prefix)]


class TopicAdapter(ResourceAdapter):
    """``aws.sns.Topic``; Pulumi id and import id: the topic ARN."""

    type_token = "aws:sns/topic:Topic"
    service = "sns"
    name_input = "name"
    name_kind = "sns_topic"

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        arn = topic_arn(inputs["name"], env)
        return arn, {**inputs, "arn": arn, "id": arn, "owner": env.account_id}

    def _arn(self, ref: ResourceRef) -> str:
        return ref.outputs.get("arn") or ref.id or ""

    def create(self, session: Any, ref: ResourceRef) -> Created:
        sns = self.client(session, self.service)
        name = ref.physical_name
        existing = [arn for arn in _topic_names(sns, name) if _name_of(arn) == name]
        if existing:
            arn, existed = existing[0], True
        else:
            attributes = {aws: _attribute_value(ref.inputs[key])
                          for key, aws in TOPIC_ATTRIBUTES.items()
                          if ref.inputs.get(key) is not None}
            tags = [{"Key": k, "Value": v} for k, v in (ref.inputs.get("tags") or {}).items()]
            arn = sns.create_topic(Name=name, Attributes=attributes, Tags=tags)["TopicArn"]
            existed = False
        return Created(arn, {**ref.inputs, "arn": arn, "id": arn,
                             "owner": arn.split(":")[4]}, existed)

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        # GetTopicAttributes is the only read of a topic's settings (ListTopics gives ARNs
        # only), so there is no batch read; a stack has one alarm topic.
        sns = self.client(session, self.service)
        arn = self._arn(ref)
        try:
            attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
            tags = (sns.list_tags_for_resource(ResourceArn=arn).get("Tags") or []
                    if "tags" in ref.inputs else None)
        except Exception as err:
            if _missing(err):
                return None
            raise
        state: dict[str, Any] = {"name": _name_of(arn), "arn": attributes.get("TopicArn", arn),
                                 "id": attributes.get("TopicArn", arn),
                                 "owner": attributes.get("Owner")}
        for key, aws in TOPIC_ATTRIBUTES.items():
            if attributes.get(aws) not in (None, ""):
                state[key] = attributes[aws]
        if tags is not None:
            state["tags"] = {t["Key"]: t["Value"] for t in tags}
        return state

    def list(self, session: Any, prefix: str) -> list[str]:
        return _topic_names(self.client(session, self.service), prefix)


class TopicSubscriptionAdapter(ResourceAdapter):
    """``aws.sns.TopicSubscription``; Pulumi id and import id: the subscription ARN.

    AWS names a subscription itself (topic ARN plus a UUID), so the Plan carries no physical
    name: a subscription is found by its topic, protocol and endpoint."""

    type_token = "aws:sns/topicSubscription:TopicSubscription"
    service = "sns"
    name_input = None
    requires_name = False
    uncompared = {
        "endpointAutoConfirms": "a provider setting for waiting on confirmation, not stored "
                                "by SNS",
        "confirmationTimeoutInMinutes": "a provider setting for waiting on confirmation, not "
                                        "stored by SNS",
    }

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        topic = str(inputs.get("topic"))
        suffix = deterministic_uuid(topic, str(inputs.get("protocol")),
                                    str(inputs.get("endpoint")))
        arn = f"{topic}:{suffix}"
        return arn, {**inputs, "arn": arn, "id": arn}

    @staticmethod
    def _by_topic(sns: Any, topic: str) -> list[dict[str, Any]]:
        try:
            return [sub for page in sns.get_paginator("list_subscriptions_by_topic").paginate(
                        TopicArn=topic) for sub in page.get("Subscriptions") or []]
        except Exception as err:
            if _missing(err):
                return []
            raise

    @staticmethod
    def _match(subscriptions: list[dict[str, Any]], inputs: dict[str, Any]
               ) -> dict[str, Any] | None:
        return next((sub for sub in subscriptions
                     if sub.get("Protocol") == inputs.get("protocol")
                     and sub.get("Endpoint") == inputs.get("endpoint")), None)

    def create(self, session: Any, ref: ResourceRef) -> Created:
        sns = self.client(session, self.service)
        found = self._match(self._by_topic(sns, ref.inputs["topic"]), ref.inputs)
        if found is not None and found["SubscriptionArn"] != PENDING:
            arn, existed = found["SubscriptionArn"], True
        else:
            attributes = {aws: _attribute_value(ref.inputs[key])
                          for key, aws in SUBSCRIPTION_ATTRIBUTES.items()
                          if ref.inputs.get(key) is not None}
            # Subscribe is idempotent for the same topic, protocol and endpoint.
            arn = sns.subscribe(TopicArn=ref.inputs["topic"], Protocol=ref.inputs["protocol"],
                                Endpoint=ref.inputs["endpoint"], Attributes=attributes,
                                ReturnSubscriptionArn=True)["SubscriptionArn"]
            existed = found is not None
        return Created(arn, {**ref.inputs, "arn": arn, "id": arn}, existed)

    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[str, list[dict]]:
        """Topic ARN -> its subscriptions: one paginated ListSubscriptionsByTopic per topic."""
        sns = self.client(session, self.service)
        return {topic: self._by_topic(sns, topic)
                for topic in sorted({str(ref.inputs.get("topic")) for ref in refs})}

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        sns = self.client(session, self.service)
        topic = str(ref.inputs.get("topic"))
        subscriptions = (prefetched or {}).get(topic) if prefetched is not None else None
        if subscriptions is None:
            subscriptions = self._by_topic(sns, topic)
        found = self._match(subscriptions, ref.inputs)
        if found is None:
            return None
        arn = found["SubscriptionArn"]
        state: dict[str, Any] = {"topic": found.get("TopicArn", topic),
                                 "protocol": found.get("Protocol"),
                                 "endpoint": found.get("Endpoint"), "arn": arn, "id": arn}
        if arn == PENDING:
            # Not confirmed yet: SNS gives no ARN, so its attributes cannot be read.
            state["pendingConfirmation"] = True
            return state
        try:
            attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        except Exception as err:
            if _missing(err):
                return None
            raise
        for key, aws in SUBSCRIPTION_ATTRIBUTES.items():
            if attributes.get(aws) not in (None, ""):
                state[key] = attributes[aws]
        state["pendingConfirmation"] = attributes.get("PendingConfirmation") == "true"
        return state

    def list(self, session: Any, prefix: str) -> list[str]:
        sns = self.client(session, self.service)
        return [sub["SubscriptionArn"] for topic in _topic_names(sns, prefix)
                for sub in self._by_topic(sns, topic) if sub["SubscriptionArn"] != PENDING]


ADAPTERS = (TopicAdapter(), TopicSubscriptionAdapter())
