"""API Gateway v2 adapters: HTTP APIs, their integrations, routes and stages.

Integrations, routes and stages live inside an API and have no names of their own under the
stack's prefix: ``list`` returns nothing for them, and an unmanaged one shows as drift of its
API's children only when the program declares them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef, error_code

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _synthetic_id(*parts: str) -> str:
    """A stable 10-character id like API Gateway's, for the offline plan."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:10])


def _endpoints(api_id: str, env: AwsEnv) -> dict[str, str]:
    return {"apiEndpoint": f"https://{api_id}.execute-api.{env.region}.amazonaws.com",
            "executionArn": f"arn:{env.partition}:execute-api:{env.region}:{env.account_id}:"
                            f"{api_id}",
            "arn": f"arn:{env.partition}:apigateway:{env.region}::/apis/{api_id}"}


def _paged(client: Any, operation: str, key: str = "Items", **kwargs: Any) -> list[dict]:
    """Every item of an API Gateway v2 list call (NextToken paging)."""
    items, token = [], None
    while True:
        page = getattr(client, operation)(**kwargs, **({"NextToken": token} if token else {}))
        items += page.get(key) or []
        token = page.get("NextToken")
        if not token:
            return items


def _child(client: Any, operation: str, ref: ResourceRef, key: str, input_: str
           ) -> dict | None:
    """The item of an API's children (``get_integrations``, ``get_routes``) whose ``key``
    equals the Plan input ``input_``; None when the API or the item is missing."""
    try:
        items = _paged(client, operation, ApiId=ref.inputs["apiId"])
    except Exception as err:
        if error_code(err) == "NotFoundException":
            return None
        raise
    return next((i for i in items if i.get(key) == ref.inputs.get(input_)), None)


class ApiAdapter(ResourceAdapter):
    """``aws.apigatewayv2.Api``; Pulumi id and import id: the API id."""

    type_token = "aws:apigatewayv2/api:Api"
    service = "apigatewayv2"
    name_input = "name"
    name_kind = "http_api"
    replace_on_change = {"name": None, "protocolType": None}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        api_id = _synthetic_id(env.account_id, env.region, inputs["name"])
        return api_id, {**inputs, "id": api_id, **_endpoints(api_id, env)}

    def _state(self, api: dict, env: AwsEnv) -> dict[str, Any]:
        return {"name": api["Name"], "protocolType": api.get("ProtocolType"),
                "tags": api.get("Tags") or {}, "id": api["ApiId"],
                **_endpoints(api["ApiId"], env),
                "apiEndpoint": api.get("ApiEndpoint")}

    @staticmethod
    def _env(session: Any, ref: ResourceRef) -> AwsEnv:
        arn = str(ref.outputs.get("executionArn") or "arn:aws:execute-api:::")
        parts = arn.split(":")
        return AwsEnv(account_id=parts[4], region=session.region_name or parts[3],
                      partition=parts[1])

    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[str, dict]:
        return {api["Name"]: api
                for api in _paged(self.client(session, self.service), "get_apis")}

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        apis = prefetched if prefetched is not None else self.prefetch(session, [ref])
        api = apis.get(ref.physical_name)
        return self._state(api, self._env(session, ref)) if api else None

    def list(self, session: Any, prefix: str) -> list[str]:
        return [api["ApiId"] for api in _paged(self.client(session, self.service), "get_apis")
                if api["Name"].startswith(prefix)]

    def create(self, session: Any, ref: ResourceRef) -> Created:
        client = self.client(session, self.service)
        api = self.prefetch(session, [ref]).get(ref.physical_name)
        existed = api is not None
        if not existed:
            api = client.create_api(Name=ref.physical_name,
                                    ProtocolType=ref.inputs.get("protocolType", "HTTP"),
                                    Tags=ref.inputs.get("tags") or {})
        state = self._state(api, self._env(session, ref))
        return Created(api["ApiId"], {**ref.inputs, **state}, existed)


class ApiChildAdapter(ResourceAdapter):
    """A part of one HTTP API (integration, route, stage): found through its API, named by
    nothing of its own under the stack's prefix; import id ``api_id/<id>``."""

    service = "apigatewayv2"
    requires_name = False

    def import_id(self, ref: ResourceRef, env: AwsEnv) -> str:
        return f"{ref.inputs['apiId']}/{ref.id}"

    def list(self, session: Any, prefix: str) -> list[str]:
        return []  # listed with their API


class IntegrationAdapter(ApiChildAdapter):
    """``aws.apigatewayv2.Integration``; Pulumi id: the integration id; import id:
    ``api_id/integration_id``."""

    type_token = "aws:apigatewayv2/integration:Integration"
    replace_on_change = {"apiId": None, "integrationType": None}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        integration_id = _synthetic_id(str(inputs.get("apiId")),
                                       str(inputs.get("integrationUri")))[:7]
        return integration_id, {**inputs, "id": integration_id}

    def _find(self, session: Any, ref: ResourceRef) -> dict | None:
        return _child(self.client(session, self.service), "get_integrations", ref,
                      "IntegrationUri", "integrationUri")

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        found = self._find(session, ref)
        if found is None:
            return None
        return {"apiId": ref.inputs["apiId"], "integrationType": found.get("IntegrationType"),
                "integrationUri": found.get("IntegrationUri"),
                "integrationMethod": found.get("IntegrationMethod"),
                "payloadFormatVersion": found.get("PayloadFormatVersion"),
                "timeoutMilliseconds": found.get("TimeoutInMillis"),
                "id": found["IntegrationId"]}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        found = self._find(session, ref)
        existed = found is not None
        if not existed:
            kwargs = {"ApiId": ref.inputs["apiId"],
                      "IntegrationType": ref.inputs["integrationType"],
                      "IntegrationUri": ref.inputs["integrationUri"],
                      "PayloadFormatVersion": ref.inputs.get("payloadFormatVersion", "2.0")}
            if ref.inputs.get("integrationMethod"):
                kwargs["IntegrationMethod"] = ref.inputs["integrationMethod"]
            if ref.inputs.get("timeoutMilliseconds"):
                kwargs["TimeoutInMillis"] = int(ref.inputs["timeoutMilliseconds"])
            found = self.client(session, self.service).create_integration(**kwargs)
        return Created(found["IntegrationId"], {**ref.inputs, "id": found["IntegrationId"]},
                       existed)


class RouteAdapter(ApiChildAdapter):
    """``aws.apigatewayv2.Route``; Pulumi id: the route id; import id: ``api_id/route_id``."""

    type_token = "aws:apigatewayv2/route:Route"
    replace_on_change = {"apiId": None}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        route_id = _synthetic_id(str(inputs.get("apiId")), str(inputs.get("routeKey")))[:7]
        return route_id, {**inputs, "id": route_id}

    def _find(self, session: Any, ref: ResourceRef) -> dict | None:
        return _child(self.client(session, self.service), "get_routes", ref, "RouteKey",
                      "routeKey")

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        found = self._find(session, ref)
        if found is None:
            return None
        return {"apiId": ref.inputs["apiId"], "routeKey": found["RouteKey"],
                "target": found.get("Target"), "id": found["RouteId"]}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        found = self._find(session, ref)
        existed = found is not None
        if not existed:
            kwargs = {"ApiId": ref.inputs["apiId"], "RouteKey": ref.inputs["routeKey"]}
            if ref.inputs.get("target"):
                kwargs["Target"] = ref.inputs["target"]
            found = self.client(session, self.service).create_route(**kwargs)
        return Created(found["RouteId"], {**ref.inputs, "id": found["RouteId"]}, existed)


class StageAdapter(ApiChildAdapter):
    """``aws.apigatewayv2.Stage``; Pulumi id: the stage name; import id: ``api_id/name``."""

    type_token = "aws:apigatewayv2/stage:Stage"
    replace_on_change = {"apiId": None, "name": None}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        return inputs["name"], {**inputs, "id": inputs["name"]}

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        try:
            stage = self.client(session, self.service).get_stage(
                ApiId=ref.inputs["apiId"], StageName=ref.inputs["name"])
        except Exception as err:
            if error_code(err) == "NotFoundException":
                return None
            raise
        return {"apiId": ref.inputs["apiId"], "name": stage["StageName"],
                "autoDeploy": stage.get("AutoDeploy", False), "tags": stage.get("Tags") or {},
                "id": stage["StageName"]}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        existing = self.read(session, ref)
        if existing is None:
            self.client(session, self.service).create_stage(
                ApiId=ref.inputs["apiId"], StageName=ref.inputs["name"],
                AutoDeploy=bool(ref.inputs.get("autoDeploy")),
                Tags=ref.inputs.get("tags") or {})
        return Created(ref.inputs["name"], {**ref.inputs, "id": ref.inputs["name"]},
                       existing is not None)


ADAPTERS = (ApiAdapter(), IntegrationAdapter(), RouteAdapter(), StageAdapter())
