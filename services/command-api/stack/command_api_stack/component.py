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

from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

import pulumi
from command_api.http.routes import OPERATIONS
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
from platform_infra.http_api import HttpApi, HttpApiArgs, HttpApiOptions, HttpRoute
from platform_infra.iam import Statement
from platform_infra.lambda_function import LambdaFunction, LambdaFunctionArgs
from platform_infra.packaging import LambdaPackage

EVENT_STORE_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
INTEGRATION_TIMEOUT_MS: Final = 15_000
"""Above the function's own timeout, so API Gateway never cuts off an answer that is coming."""

LogLevel: TypeAlias = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


@dataclass(frozen=True)
class CommandApiArgs:
    context: StackContext
    package: LambdaPackage
    event_store_table_name: pulumi.Input[str]
    event_store_table_arn: pulumi.Input[str]
    api: HttpApiOptions = field(default_factory=HttpApiOptions)
    """Authorization (IAM unless a JWT authorizer is given) and throttling."""
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
        if self.timeout_seconds * 1000 >= INTEGRATION_TIMEOUT_MS:
            raise ValueError("the function must answer before API Gateway gives up")


class CommandApi(pulumi.ComponentResource):
    """The write side's HTTP API and its function."""

    handler: LambdaFunction
    http_api: HttpApi
    """The API, its routes (by route key), stage, access logs and invoke permissions."""
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

        self.http_api = HttpApi(
            name,
            HttpApiArgs(
                context=context,
                function=self.handler,
                routes=[HttpRoute(op.route_key, op.operation_id) for op in OPERATIONS],
                description="The write side: commands on bank accounts",
                integration_timeout_ms=INTEGRATION_TIMEOUT_MS,
                options=args.api,
                log_retention_days=args.log_retention_days,
                previous_parent=self,
            ),
            opts=child,
        )

        self.endpoint = self.http_api.endpoint
        self.execution_arn = self.http_api.execution_arn
        self.function_name = self.handler.function_name
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "execution_arn": self.execution_arn,
                "function_name": self.function_name,
            }
        )
