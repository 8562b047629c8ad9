"""The command API: its function, an API Gateway HTTP API with one route per command, throttling,
access logs, and a role that can read the event store and append to it, nothing else.

Authorization is IAM (SigV4) on every route unless a JWT authorizer is configured. The role may
``Query`` and ``GetItem`` (load a stream, read an idempotency record) and ``PutItem`` (the Put
actions of ``TransactWriteItems``, which IAM authorizes as ``PutItem``; DynamoDB has no separate
``TransactWriteItems`` permission) on the table itself: no index, no Scan, no Update, no Delete.
IAM cannot demand a condition expression, so "conditional puts only" is the code's promise
(every put is ``attribute_not_exists``), tested in the function's own tests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

import pulumi
import pulumi_aws as aws
from command_api.http.routes import OPERATIONS, Operation
from command_api.settings import (
    DEFAULT_METRICS_NAMESPACE,
    DEFAULT_SERVICE_NAME,
    EVENT_STORE_TABLE_ENV,
    HANDLER,
    IDEMPOTENCY_TTL_SECONDS_ENV,
    MAX_APPEND_ATTEMPTS_ENV,
    METRICS_NAMESPACE_ENV,
    SERVICE_NAME_ENV,
    TRACING_ENABLED_ENV,
)
from platform_infra.context import StackContext
from platform_infra.iam import Statement
from platform_infra.lambda_function import LambdaFunction, LambdaFunctionArgs
from platform_infra.naming import ResourceKind
from platform_infra.packaging import LambdaPackage

EVENT_STORE_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
IAM_AUTHORIZATION: Final = "AWS_IAM"
JWT_AUTHORIZATION: Final = "JWT"
DEFAULT_STAGE: Final = "$default"
PAYLOAD_FORMAT: Final = "2.0"
INTEGRATION_TIMEOUT_MS: Final = 15_000
"""Above the function's own timeout, so API Gateway never cuts off an answer that is coming."""
DEFAULT_BURST_LIMIT: Final = 200
DEFAULT_RATE_LIMIT: Final = 100.0

ACCESS_LOG_FORMAT: Final = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTime",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "caller": "$context.identity.userArn",
        "subject": "$context.authorizer.claims.sub",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "path": "$context.path",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "integrationStatus": "$context.integrationStatus",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
        "error": "$context.error.message",
    },
    sort_keys=True,
)
"""One JSON line per request; ``requestId`` is the events' causation id."""

LogLevel: TypeAlias = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


@dataclass(frozen=True)
class JwtAuthorizer:
    """Use a JWT authorizer (e.g. Cognito) instead of IAM on every route."""

    issuer: str
    audiences: Sequence[str]
    scopes: Sequence[str] = ()
    """Scopes a token must carry on every route (none: any valid token)."""

    def __post_init__(self) -> None:
        if not self.issuer.startswith("https://"):
            raise ValueError("a JWT issuer is an https:// URL")
        if not self.audiences:
            raise ValueError("a JWT authorizer needs at least one audience")


@dataclass(frozen=True)
class CommandApiArgs:
    context: StackContext
    package: LambdaPackage
    event_store_table_name: pulumi.Input[str]
    event_store_table_arn: pulumi.Input[str]
    jwt: JwtAuthorizer | None = None
    """``None``: IAM authorization (SigV4) on every route."""
    throttling_burst_limit: int = DEFAULT_BURST_LIMIT
    throttling_rate_limit: float = DEFAULT_RATE_LIMIT
    idempotency_ttl_seconds: int = 24 * 3600
    max_append_attempts: int = 5
    tracing: bool = False
    """Active X-Ray tracing and powertools' Tracer (costs cold-start time, see the function)."""
    memory_mb: int = 512
    timeout_seconds: int = 10
    reserved_concurrency: int | None = None
    log_level: LogLevel = "INFO"
    log_retention_days: int = 30
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE

    def __post_init__(self) -> None:
        if self.throttling_burst_limit < 1 or self.throttling_rate_limit <= 0:
            raise ValueError("throttling limits must be positive")
        if self.timeout_seconds * 1000 >= INTEGRATION_TIMEOUT_MS:
            raise ValueError("the function must answer before API Gateway gives up")


class CommandApi(pulumi.ComponentResource):
    """The write side's HTTP API and its function."""

    handler: LambdaFunction
    api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage
    integration: aws.apigatewayv2.Integration
    routes: dict[str, aws.apigatewayv2.Route]
    """By route key (``POST /accounts``)."""
    authorizer: aws.apigatewayv2.Authorizer | None
    access_logs: aws.cloudwatch.LogGroup
    endpoint: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: CommandApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cqrs:command-api:CommandApi", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)

        self.handler = LambdaFunction(
            "handler",
            LambdaFunctionArgs(
                context=context,
                package=args.package,
                handler=HANDLER,
                statements=[
                    Statement(
                        sid="LoadAndAppendEvents",
                        actions=list(EVENT_STORE_ACTIONS),
                        resources=[args.event_store_table_arn],
                    )
                ],
                environment={
                    EVENT_STORE_TABLE_ENV: args.event_store_table_name,
                    IDEMPOTENCY_TTL_SECONDS_ENV: str(args.idempotency_ttl_seconds),
                    MAX_APPEND_ATTEMPTS_ENV: str(args.max_append_attempts),
                    TRACING_ENABLED_ENV: "true" if args.tracing else "false",
                    SERVICE_NAME_ENV: DEFAULT_SERVICE_NAME,
                    METRICS_NAMESPACE_ENV: args.metrics_namespace,
                },
                memory_mb=args.memory_mb,
                timeout_seconds=args.timeout_seconds,
                reserved_concurrency=args.reserved_concurrency,
                tracing=args.tracing,
                log_level=args.log_level,
                log_retention_days=args.log_retention_days,
                description="Commands on accounts in, events out (API Gateway HTTP API)",
            ),
            opts=child,
        )

        self.api = aws.apigatewayv2.Api(
            f"{name}-http-api",
            name=context.name("api", ResourceKind.HTTP_API),
            protocol_type="HTTP",
            description="The write side: commands on bank accounts",
            opts=child,
        )
        self.integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=self.handler.target_arn,
            payload_format_version=PAYLOAD_FORMAT,
            timeout_milliseconds=INTEGRATION_TIMEOUT_MS,
            opts=child,
        )
        self.authorizer = None
        if args.jwt is not None:
            self.authorizer = aws.apigatewayv2.Authorizer(
                f"{name}-jwt",
                api_id=self.api.id,
                name=context.name("jwt"),
                authorizer_type=JWT_AUTHORIZATION,
                identity_sources=["$request.header.Authorization"],
                jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(
                    issuer=args.jwt.issuer, audiences=list(args.jwt.audiences)
                ),
                opts=child,
            )
        self.routes = {
            operation.route_key: self._route(name, operation, args) for operation in OPERATIONS
        }

        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=context.name("api-access", ResourceKind.VENDED_LOG_GROUP),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.api.id,
            name=DEFAULT_STAGE,
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_burst_limit=args.throttling_burst_limit,
                throttling_rate_limit=args.throttling_rate_limit,
                detailed_metrics_enabled=True,
            ),
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=self.access_logs.arn, format=ACCESS_LOG_FORMAT
            ),
            # Routes first: an auto-deployed stage deploys what exists when it is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.routes.values())),
        )
        self._allow_invocations(name)

        self.endpoint = self.api.api_endpoint
        self.execution_arn = self.api.execution_arn
        self.function_name = self.handler.function_name
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "execution_arn": self.execution_arn,
                "function_name": self.function_name,
            }
        )

    def _route(
        self, name: str, operation: Operation, args: CommandApiArgs
    ) -> aws.apigatewayv2.Route:
        jwt = self.authorizer is not None and args.jwt is not None
        return aws.apigatewayv2.Route(
            f"{name}-{operation.operation_id}",
            api_id=self.api.id,
            route_key=operation.route_key,
            operation_name=operation.operation_id,
            target=self.integration.id.apply(lambda integration: f"integrations/{integration}"),
            authorization_type=JWT_AUTHORIZATION if jwt else IAM_AUTHORIZATION,
            authorizer_id=self.authorizer.id if self.authorizer is not None else None,
            authorization_scopes=(
                list(args.jwt.scopes) if args.jwt is not None and args.jwt.scopes else None
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _allow_invocations(self, name: str) -> None:
        # One permission per route (any stage), so the function answers exactly these routes.
        for operation in OPERATIONS:
            route = f"{operation.method}{operation.path.replace('{account_id}', '*')}"
            aws.lambda_.Permission(
                f"{name}-invoke-{operation.operation_id}",
                action="lambda:InvokeFunction",
                function=self.handler.function_name,
                qualifier=self.handler.alias.name if self.handler.alias is not None else None,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/", route),
                opts=pulumi.ResourceOptions(parent=self),
            )
