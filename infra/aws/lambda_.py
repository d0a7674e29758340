"""Lambda adapters: functions, layer versions and event source mappings."""

from __future__ import annotations

import json
from typing import Any

from infra.aws.archive import archive_bytes
from infra.aws.base import (
    AwsEnv,
    Created,
    ResourceAdapter,
    ResourceRef,
    deterministic_uuid,
    error_code,
)


def function_arn(name: str, env: AwsEnv) -> str:
    """The unqualified ARN of a function."""
    return f"arn:{env.partition}:lambda:{env.region}:{env.account_id}:function:{name}"


def _function_outputs(inputs: dict[str, Any], arn: str, region: str,
                      version: str = "$LATEST") -> dict[str, Any]:
    invoke_arn = (f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
                  f"{arn}/invocations")
    return {**inputs, "arn": arn, "id": inputs["name"], "invokeArn": invoke_arn,
            "qualifiedArn": f"{arn}:{version}", "version": version}


class FunctionAdapter(ResourceAdapter):
    """``aws.lambda_.Function``; Pulumi id and import id: the function name."""

    type_token = "aws:lambda/function:Function"
    service = "lambda"
    name_input = "name"
    name_kind = "lambda_function"
    replace_on_change = {"name": None, "packageType": "Zip"}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        version = "1" if inputs.get("publish") else "$LATEST"
        return inputs["name"], _function_outputs(inputs, function_arn(inputs["name"], env),
                                                 env.region, version)

    def create(self, session: Any, ref: ResourceRef) -> Created:
        client = self.client(session, self.service)
        name, inputs = ref.physical_name, ref.inputs
        try:
            config = client.get_function(FunctionName=name)["Configuration"]
            existed = True
        except Exception as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            kwargs: dict[str, Any] = {
                "FunctionName": name, "Role": inputs["role"], "Runtime": inputs["runtime"],
                "Handler": inputs["handler"],
                "Code": {"ZipFile": archive_bytes(inputs["code"], ref.project_dir)},
                "Publish": bool(inputs.get("publish")),
            }
            optional = {"MemorySize": inputs.get("memorySize"),
                        "Timeout": inputs.get("timeout"),
                        "Description": inputs.get("description"),
                        "Layers": inputs.get("layers"),
                        "Tags": inputs.get("tags")}
            kwargs.update({k: v for k, v in optional.items() if v})
            if (inputs.get("environment") or {}).get("variables"):
                kwargs["Environment"] = {"Variables": inputs["environment"]["variables"]}
            if (inputs.get("tracingConfig") or {}).get("mode"):
                kwargs["TracingConfig"] = {"Mode": inputs["tracingConfig"]["mode"]}
            config = client.create_function(**kwargs)
            reserved = inputs.get("reservedConcurrentExecutions")
            if reserved is not None and reserved >= 0:
                client.put_function_concurrency(FunctionName=name,
                                                ReservedConcurrentExecutions=int(reserved))
            existed = False
        version = config.get("Version", "$LATEST")
        return Created(name, _function_outputs(inputs, config["FunctionArn"],
                                               client.meta.region_name, version), existed)


    uncompared = {
        "code": "Lambda reports only a hash of the deployed package, and Pulumi zips it its "
                "own way",
        "publish": "a deploy-time switch, not a property of the function",
    }

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        """One GetFunction call: configuration, tags and reserved concurrency together
        (ListFunctions returns neither tags nor concurrency, so it would cost more calls)."""
        client = self.client(session, self.service)
        try:
            function = client.get_function(FunctionName=ref.physical_name)
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":
                return None
            raise
        config = function["Configuration"]
        state: dict[str, Any] = {
            "name": config["FunctionName"], "role": config.get("Role"),
            "runtime": config.get("Runtime"), "handler": config.get("Handler"),
            "memorySize": config.get("MemorySize"), "timeout": config.get("Timeout"),
            "description": config.get("Description") or None,
            "layers": [layer["Arn"] for layer in config.get("Layers") or []],
            "environment": {"variables": (config.get("Environment") or {}).get(
                "Variables") or {}},
            "tracingConfig": {"mode": (config.get("TracingConfig") or {}).get(
                "Mode", "PassThrough")},
            "reservedConcurrentExecutions": (function.get("Concurrency") or {}).get(
                "ReservedConcurrentExecutions"),
            "tags": function.get("Tags") or {},
            "packageType": config.get("PackageType", "Zip"),
        }
        state.update(_function_outputs(state, config["FunctionArn"], client.meta.region_name,
                                       config.get("Version", "$LATEST")))
        return state

    def list(self, session: Any, prefix: str) -> list[str]:
        paginator = self.client(session, self.service).get_paginator("list_functions")
        return [f["FunctionName"] for page in paginator.paginate()
                for f in page["Functions"] if f["FunctionName"].startswith(prefix)]


class LayerVersionAdapter(ResourceAdapter):
    """``aws.lambda_.LayerVersion``; Pulumi id and import id: the layer version ARN."""

    type_token = "aws:lambda/layerVersion:LayerVersion"
    service = "lambda"
    name_input = "layerName"
    name_kind = "lambda_layer"
    # A layer version is immutable: any change publishes a new version.
    replace_on_change = {"layerName": None, "compatibleRuntimes": None, "description": None}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        layer_arn = (f"arn:{env.partition}:lambda:{env.region}:{env.account_id}:layer:"
                     f"{inputs['layerName']}")
        arn = f"{layer_arn}:1"
        return arn, {**inputs, "arn": arn, "id": arn, "layerArn": layer_arn, "version": "1"}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        client = self.client(session, self.service)
        name, inputs = ref.physical_name, ref.inputs
        versions = client.list_layer_versions(LayerName=name).get("LayerVersions") or []
        if versions:
            latest = max(versions, key=lambda v: v["Version"])
            arn, existed = latest["LayerVersionArn"], True
            version = latest["Version"]
        else:
            kwargs: dict[str, Any] = {
                "LayerName": name,
                "Content": {"ZipFile": archive_bytes(inputs["code"], ref.project_dir)}}
            if inputs.get("compatibleRuntimes"):
                kwargs["CompatibleRuntimes"] = inputs["compatibleRuntimes"]
            if inputs.get("description"):
                kwargs["Description"] = inputs["description"]
            published = client.publish_layer_version(**kwargs)
            arn, version, existed = published["LayerVersionArn"], published["Version"], False
        layer_arn = arn.rsplit(":", 1)[0]
        return Created(arn, {**inputs, "arn": arn, "id": arn, "layerArn": layer_arn,
                             "version": str(version)}, existed)


    uncompared = {"code": "Lambda reports only a hash of the layer's package"}

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        client = self.client(session, self.service)
        try:
            versions = client.list_layer_versions(LayerName=ref.physical_name).get(
                "LayerVersions") or []
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":
                return None
            raise
        if not versions:
            return None
        latest = max(versions, key=lambda v: v["Version"])
        arn = latest["LayerVersionArn"]
        return {"layerName": ref.physical_name, "arn": arn, "id": arn,
                "layerArn": arn.rsplit(":", 1)[0], "version": str(latest["Version"]),
                "compatibleRuntimes": latest.get("CompatibleRuntimes") or [],
                "description": latest.get("Description") or None}

    def list(self, session: Any, prefix: str) -> list[str]:
        paginator = self.client(session, self.service).get_paginator("list_layers")
        return [layer["LatestMatchingVersion"]["LayerVersionArn"]
                for page in paginator.paginate() for layer in page["Layers"]
                if layer["LayerName"].startswith(prefix)]


class EventSourceMappingAdapter(ResourceAdapter):
    """``aws.lambda_.EventSourceMapping``; Pulumi id and import id: the mapping's UUID."""

    type_token = "aws:lambda/eventSourceMapping:EventSourceMapping"
    service = "lambda"
    requires_name = False
    replace_on_change = {"eventSourceArn": None}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        mapping_id = deterministic_uuid(str(inputs.get("eventSourceArn")),
                                        str(inputs.get("functionName")))
        function = inputs.get("functionName", "")
        if not str(function).startswith("arn:"):
            function = function_arn(function, env)
        return mapping_id, {**inputs, "id": mapping_id, "uuid": mapping_id,
                            "functionArn": function, "state": "Enabled"}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        client = self.client(session, self.service)
        inputs = ref.inputs
        source, function = inputs["eventSourceArn"], inputs["functionName"]
        found = []
        for page in client.get_paginator("list_event_source_mappings").paginate(
                EventSourceArn=source, FunctionName=function):
            found += page["EventSourceMappings"]
        if found:
            mapping, existed = found[0], True
        else:
            kwargs: dict[str, Any] = {"EventSourceArn": source, "FunctionName": function,
                                      "Enabled": inputs.get("enabled", True)}
            optional = {"BatchSize": inputs.get("batchSize"),
                        "MaximumBatchingWindowInSeconds":
                            inputs.get("maximumBatchingWindowInSeconds"),
                        "FunctionResponseTypes": inputs.get("functionResponseTypes")}
            kwargs.update({k: v for k, v in optional.items() if v is not None})
            scaling = (inputs.get("scalingConfig") or {}).get("maximumConcurrency")
            if scaling:
                kwargs["ScalingConfig"] = {"MaximumConcurrency": scaling}
            mapping, existed = client.create_event_source_mapping(**kwargs), False
        mapping_id = mapping["UUID"]
        return Created(mapping_id, {**inputs, "id": mapping_id, "uuid": mapping_id,
                                    "functionArn": mapping["FunctionArn"],
                                    "state": mapping.get("State", "Enabled")}, existed)


    def prefetch(self, session: Any, refs: list[ResourceRef]) -> list[dict]:
        """Every mapping of the account and region: one paginated ListEventSourceMappings
        (100 a page) instead of one filtered call per mapping."""
        paginator = self.client(session, self.service).get_paginator(
            "list_event_source_mappings")
        return [m for page in paginator.paginate() for m in page["EventSourceMappings"]]

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        client = self.client(session, self.service)
        source, function = ref.inputs["eventSourceArn"], ref.inputs["functionName"]
        if prefetched is not None:
            found = [m for m in prefetched if m.get("EventSourceArn") == source
                     and _function_name(m.get("FunctionArn", "")) == _function_name(function)]
        else:
            try:
                found = [m for page in client.get_paginator(
                    "list_event_source_mappings").paginate(
                    EventSourceArn=source, FunctionName=function)
                    for m in page["EventSourceMappings"]]
            except Exception as err:
                if error_code(err) == "ResourceNotFoundException":
                    return None
                raise
        if not found:
            return None
        mapping = found[0]
        scaling = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
        return {
            "eventSourceArn": mapping.get("EventSourceArn"),
            "functionName": function if mapping.get("FunctionArn") == function
            else mapping.get("FunctionArn"),
            "batchSize": mapping.get("BatchSize"),
            "maximumBatchingWindowInSeconds": mapping.get("MaximumBatchingWindowInSeconds"),
            "functionResponseTypes": mapping.get("FunctionResponseTypes") or [],
            "scalingConfig": {"maximumConcurrency": scaling} if scaling else None,
            "enabled": mapping.get("State") in ("Enabled", "Enabling", "Updating"),
            "id": mapping["UUID"], "uuid": mapping["UUID"],
            "functionArn": mapping.get("FunctionArn"), "state": mapping.get("State"),
        }

    def list(self, session: Any, prefix: str) -> list[str]:
        paginator = self.client(session, self.service).get_paginator(
            "list_event_source_mappings")
        return [m["UUID"] for page in paginator.paginate()
                for m in page["EventSourceMappings"]
                if m.get("FunctionArn", "").split(":function:")[-1].startswith(prefix)]


def _function_name(value: str) -> str:
    """A function name from a name or an (optionally qualified) ARN."""
    return value.split(":function:")[-1].split(":")[0] if ":function:" in value else value


class AliasAdapter(ResourceAdapter):
    """``aws.lambda_.Alias``; Pulumi id: the alias ARN; import id: ``function/alias``."""

    type_token = "aws:lambda/alias:Alias"
    service = "lambda"
    replace_on_change = {"name": None, "functionName": None}
    uncompared = {
        "functionVersion": "owned by tandem rollout (the program ignores its changes)",
        "routingConfig": "owned by tandem rollout (the program ignores its changes)",
    }

    def physical_name(self, inputs: dict[str, Any]) -> str | None:
        if not inputs.get("name") or not inputs.get("functionName"):
            return None
        return f"{_function_name(str(inputs['functionName']))}:{inputs['name']}"

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        arn = f"{function_arn(_function_name(str(inputs['functionName'])), env)}:{inputs['name']}"
        return arn, {**inputs, "arn": arn, "id": arn,
                     "invokeArn": f"arn:aws:apigateway:{env.region}:lambda:path/2015-03-31/"
                                  f"functions/{arn}/invocations"}

    def import_id(self, ref: ResourceRef, env: AwsEnv) -> str:
        return f"{_function_name(str(ref.inputs['functionName']))}/{ref.inputs['name']}"

    def _state(self, ref: ResourceRef, alias: dict, region: str) -> dict[str, Any]:
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        arn = alias["AliasArn"]
        return {"name": alias["Name"], "functionName": ref.inputs["functionName"],
                "functionVersion": alias.get("FunctionVersion"),
                "description": alias.get("Description") or None,
                "routingConfig": {"additionalVersionWeights": weights} if weights else None,
                "arn": arn, "id": arn,
                "invokeArn": f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
                             f"{arn}/invocations"}

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        client = self.client(session, self.service)
        try:
            alias = client.get_alias(FunctionName=_function_name(str(ref.inputs[
                "functionName"])), Name=ref.inputs["name"])
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":
                return None
            raise
        return self._state(ref, alias, client.meta.region_name)

    def list(self, session: Any, prefix: str) -> list[str]:
        client = self.client(session, self.service)
        functions = FunctionAdapter().list(session, prefix)
        return [alias["AliasArn"] for name in functions
                for page in client.get_paginator("list_aliases").paginate(FunctionName=name)
                for alias in page["Aliases"]]

    def create(self, session: Any, ref: ResourceRef) -> Created:
        client = self.client(session, self.service)
        existing = self.read(session, ref)
        if existing is not None:
            return Created(existing["id"], {**ref.inputs, **existing}, existed=True)
        alias = client.create_alias(
            FunctionName=_function_name(str(ref.inputs["functionName"])),
            Name=ref.inputs["name"], FunctionVersion=str(ref.inputs["functionVersion"]),
            **({"Description": ref.inputs["description"]} if ref.inputs.get("description")
               else {}))
        state = self._state(ref, alias, client.meta.region_name)
        return Created(state["id"], {**ref.inputs, **state})


class PermissionAdapter(ResourceAdapter):
    """``aws.lambda_.Permission``; Pulumi id: the statement id; import id:
    ``function[:qualifier]/statement_id``."""

    type_token = "aws:lambda/permission:Permission"
    service = "lambda"
    name_input = "statementId"
    name_kind = "lambda_statement"
    replace_on_change = {"statementId": None, "function": None, "action": None,
                         "principal": None, "sourceArn": None, "qualifier": None}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        return inputs["statementId"], {**inputs, "id": inputs["statementId"]}

    def import_id(self, ref: ResourceRef, env: AwsEnv) -> str:
        function = _function_name(str(ref.inputs["function"]))
        qualifier = ref.inputs.get("qualifier")
        return f"{function}{':' + qualifier if qualifier else ''}/{ref.inputs['statementId']}"

    def _statement(self, session: Any, ref: ResourceRef) -> dict | None:
        kwargs = {"FunctionName": _function_name(str(ref.inputs["function"]))}
        if ref.inputs.get("qualifier"):
            kwargs["Qualifier"] = ref.inputs["qualifier"]
        try:
            policy = self.client(session, self.service).get_policy(**kwargs)["Policy"]
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":
                return None
            raise
        statements = json.loads(policy).get("Statement") or []
        return next((s for s in statements if s.get("Sid") == ref.inputs["statementId"]), None)

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        statement = self._statement(session, ref)
        if statement is None:
            return None
        principal = statement.get("Principal")
        condition = (statement.get("Condition") or {}).get("ArnLike") or {}
        return {"statementId": statement["Sid"], "action": statement.get("Action"),
                "function": ref.inputs["function"], "qualifier": ref.inputs.get("qualifier"),
                "principal": principal.get("Service") if isinstance(principal, dict)
                else principal,
                "sourceArn": condition.get("AWS:SourceArn"), "id": statement["Sid"]}

    def list(self, session: Any, prefix: str) -> list[str]:
        # Statements of a function's policy, not resources under the stack's prefix.
        return []

    def create(self, session: Any, ref: ResourceRef) -> Created:
        existed = self._statement(session, ref) is not None
        if not existed:
            kwargs = {"FunctionName": _function_name(str(ref.inputs["function"])),
                      "StatementId": ref.inputs["statementId"],
                      "Action": ref.inputs["action"], "Principal": ref.inputs["principal"]}
            if ref.inputs.get("qualifier"):
                kwargs["Qualifier"] = ref.inputs["qualifier"]
            if ref.inputs.get("sourceArn"):
                kwargs["SourceArn"] = ref.inputs["sourceArn"]
            self.client(session, self.service).add_permission(**kwargs)
        return Created(ref.inputs["statementId"], {**ref.inputs,
                                                   "id": ref.inputs["statementId"]}, existed)


ADAPTERS = (FunctionAdapter(), LayerVersionAdapter(), EventSourceMappingAdapter(),
            AliasAdapter(), PermissionAdapter())
