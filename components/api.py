"""ApiFunction: an API Lambda behind an HTTP API, invoked through an alias for gradual rollout.

Children (logical name ``{name}-<role>``): role, inline role policy, log group, function
(published: every code change makes a version), alias ``live``, HTTP API, its AWS_PROXY
integration to the alias, the ``$default`` route and stage, and the permission that lets the
API invoke the alias.

The alias ignores changes to its version and routing (``ignore_changes``): ``tandem rollout``
owns traffic shifting, and ``pulumi up`` must not undo a rollout in progress. So a ``pulumi
up`` publishes a new version but does not send traffic to it; ``tandem rollout`` does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.naming import check_length, physical_name
from components.worker import (
    LAMBDA_ASSUME_ROLE_POLICY,
    LOG_RETENTION_DAYS,
    MAX_LAMBDA_TIMEOUT,
    MEMORY_RANGE,
    RESERVED_ENV_VARS,
    logging_and_tracing_statements,
)

DEFAULT_RUNTIME = "python3.12"      # newest Python runtime with Lambda standard support in 2026
DEFAULT_MEMORY_MB = 512             # API latency: Lambda allots CPU in proportion to memory
DEFAULT_TIMEOUT_SECONDS = 10        # well under API Gateway's 30 s integration timeout
DEFAULT_LOG_RETENTION_DAYS = 30     # tandem: CloudWatch Logs keeps logs forever by default
DEFAULT_ALIAS = "live"
PAYLOAD_FORMAT_VERSION = "2.0"      # HTTP API Lambda proxy format (API Gateway developer guide)
API_INTEGRATION_TIMEOUT = 30        # API Gateway HTTP API quota: 30 s per integration
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass
class ApiFunctionArgs:
    """Inputs of an :class:`ApiFunction`."""

    app: str
    env: str
    code_dir: str
    handler: str = "handler.handler"
    runtime: str = DEFAULT_RUNTIME
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    environment: dict[str, Any] = field(default_factory=dict)
    extra_statements: list[dict] = field(default_factory=list)
    layers: list[Any] = field(default_factory=list)
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    alias_name: str = DEFAULT_ALIAS
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.code_dir:
            raise ValueError("ApiFunctionArgs.code_dir: the handler's directory is required")
        if not 1 <= self.timeout_seconds <= min(MAX_LAMBDA_TIMEOUT, API_INTEGRATION_TIMEOUT):
            raise ValueError(f"ApiFunctionArgs.timeout_seconds={self.timeout_seconds}: must be "
                             f"1 to {API_INTEGRATION_TIMEOUT} (the API's integration timeout)")
        if not MEMORY_RANGE[0] <= self.memory_mb <= MEMORY_RANGE[1]:
            raise ValueError(f"ApiFunctionArgs.memory_mb={self.memory_mb}: must be "
                             f"{MEMORY_RANGE[0]} to {MEMORY_RANGE[1]}")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"ApiFunctionArgs.log_retention_days={self.log_retention_days}: "
                             "must be a CloudWatch Logs retention value")
        if not re.match(r"^[A-Za-z][A-Za-z0-9_-]{0,127}$", self.alias_name):
            raise ValueError(f"ApiFunctionArgs.alias_name='{self.alias_name}': letters, "
                             "digits, - and _, up to 128 characters")
        for key in self.environment:
            if not _ENV_NAME.match(key) or key in RESERVED_ENV_VARS:
                raise ValueError(f"ApiFunctionArgs.environment: '{key}' is not a name a "
                                 "function may set")
        for i, statement in enumerate(self.extra_statements):
            actions = statement.get("Action")
            actions = [actions] if isinstance(actions, str) else (actions or [])
            if not actions or any("*" in a for a in actions):
                raise ValueError(f"ApiFunctionArgs.extra_statements[{i}]: name explicit "
                                 "actions; wildcard actions are not allowed")
            if not statement.get("Resource") or statement.get("Resource") == "*":
                raise ValueError(f"ApiFunctionArgs.extra_statements[{i}]: scope Resource to "
                                 "the ARNs the function needs")


class ApiFunction(pulumi.ComponentResource):
    """A published Lambda with a ``live`` alias behind an HTTP API.

    Outputs: ``function_name``, ``function_arn``, ``alias_name``, ``alias_arn``, ``api_id``,
    ``api_endpoint``, ``role_arn``, ``log_group_name``.
    """

    TYPE = "tandem:components:ApiFunction"

    def __init__(self, name: str, args: ApiFunctionArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.args = args
        self.workload = name
        child = pulumi.ResourceOptions(parent=self)

        def pname(role: str, kind: str) -> str:
            return physical_name(args.app, args.env, name, role, kind)

        tags = {"tandem:app": args.app, "tandem:env": args.env, "tandem:workload": name,
                **args.tags}
        function_name = pname("fn", "lambda_function")
        #: The function's physical name, known before deployment (for alarms and dashboards).
        self.physical_function_name = function_name

        self.role = aws.iam.Role(f"{name}-role", name=pname("role", "iam_role"),
                                 assume_role_policy=LAMBDA_ASSUME_ROLE_POLICY, tags=tags,
                                 opts=child)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=check_length(f"/aws/lambda/{function_name}", "log_group"),
            retention_in_days=args.log_retention_days, tags=tags, opts=child)

        def policy_document(log_group_arn: str, extra: list[dict]) -> str:
            statements = [*logging_and_tracing_statements(log_group_arn), *extra]
            return json.dumps({"Version": "2012-10-17", "Statement": statements})

        self.policy = aws.iam.RolePolicy(
            f"{name}-policy", name=pname("policy", "iam_role_policy"), role=self.role.name,
            policy=pulumi.Output.all(self.log_group.arn,
                                     pulumi.Output.from_input(args.extra_statements)).apply(
                lambda values: policy_document(*values)),
            opts=child)

        self.function = aws.lambda_.Function(
            f"{name}-function", name=function_name, role=self.role.arn, runtime=args.runtime,
            handler=args.handler, code=pulumi.FileArchive(args.code_dir),
            memory_size=args.memory_mb, timeout=args.timeout_seconds, publish=True,
            environment={"variables": args.environment} if args.environment else None,
            layers=args.layers or None, tracing_config={"mode": "Active"}, tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group,
                                                                 self.policy]))

        self.alias = aws.lambda_.Alias(
            f"{name}-alias", name=args.alias_name, function_name=self.function.name,
            function_version=self.function.version,
            # tandem rollout shifts traffic; pulumi up must not undo a rollout.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=[
                "functionVersion", "routingConfig"]))

        self.api = aws.apigatewayv2.Api(f"{name}-api", name=pname("api", "http_api"),
                                        protocol_type="HTTP", tags=tags, opts=child)
        self.integration = aws.apigatewayv2.Integration(
            f"{name}-integration", api_id=self.api.id, integration_type="AWS_PROXY",
            integration_uri=self.alias.arn, integration_method="POST",
            payload_format_version=PAYLOAD_FORMAT_VERSION,
            timeout_milliseconds=API_INTEGRATION_TIMEOUT * 1000, opts=child)
        self.route = aws.apigatewayv2.Route(
            f"{name}-route", api_id=self.api.id, route_key="$default",
            target=self.integration.id.apply(lambda i: f"integrations/{i}"), opts=child)
        self.stage = aws.apigatewayv2.Stage(f"{name}-stage", api_id=self.api.id,
                                            name="$default", auto_deploy=True, tags=tags,
                                            opts=child)
        self.permission = aws.lambda_.Permission(
            f"{name}-invoke", statement_id=pname("apigw", "lambda_statement"),
            action="lambda:InvokeFunction", function=self.function.name,
            qualifier=self.alias.name, principal="apigateway.amazonaws.com",
            # Only this API, any stage and route.
            source_arn=self.api.execution_arn.apply(lambda arn: f"{arn}/*/*"), opts=child)

        self.function_name = self.function.name
        self.function_arn = self.function.arn
        self.alias_name = self.alias.name
        self.alias_arn = self.alias.arn
        self.api_id = self.api.id
        self.api_endpoint = self.api.api_endpoint
        self.role_arn = self.role.arn
        self.log_group_name = self.log_group.name
        self.register_outputs({
            "function_name": self.function_name, "function_arn": self.function_arn,
            "alias_name": self.alias_name, "alias_arn": self.alias_arn,
            "api_id": self.api_id, "api_endpoint": self.api_endpoint,
            "role_arn": self.role_arn, "log_group_name": self.log_group_name,
        })
