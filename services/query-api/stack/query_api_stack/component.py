"""The query API: its function in the VPC, an API Gateway HTTP API with the read routes,
throttling, access logs, and a role that can log in to the read models as the read-only database
user, nothing else.

Authorization is IAM (SigV4) on every route unless a JWT authorizer is configured. The function
reaches Postgres in one of two ways, and its role holds exactly the permission that way needs:

- through the RDS Proxy with an IAM auth token (the platform's default, end-to-end IAM): only
  ``rds-db:connect`` as ``<dbProxyUserArnPrefix>/<user>``;
- directly to the instance with a password from a Secrets Manager secret: only
  ``secretsmanager:GetSecretValue`` on that secret.

Writes are refused by the database (``query_reader`` has SELECT only, granted by the projections'
migrations) and by the function (read-only transactions); IAM cannot express "SELECT only".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

import pulumi
import pulumi_aws as aws
from platform_infra.context import StackContext
from platform_infra.iam import Statement
from platform_infra.lambda_function import LambdaFunction, LambdaFunctionArgs, VpcConfig
from platform_infra.naming import ResourceKind
from platform_infra.packaging import LambdaPackage
from query_api.routes import ROUTES
from query_api.settings import (
    CURSOR_SIGNING_KEY_ENV,
    DATABASE_IAM_AUTH_ENV,
    DATABASE_SECRET_ARN_ENV,
    DATABASE_SSLMODE_ENV,
    DATABASE_SSLROOTCERT_ENV,
    DATABASE_URL_ENV,
    HANDLER,
    METRICS_NAMESPACE_ENV,
    MIN_SIGNING_KEY_LENGTH,
    SERVICE_NAME,
    SERVICE_NAME_ENV,
    TRACING_ENABLED_ENV,
)

IAM_AUTHORIZATION: Final = "AWS_IAM"
JWT_AUTHORIZATION: Final = "JWT"
DEFAULT_STAGE: Final = "$default"
DEFAULT_ROUTE: Final = "$default"
"""Every other path: the function answers it with a problem+json 404, authorized like the rest."""
NOT_FOUND_OPERATION: Final = "notFound"
PAYLOAD_FORMAT: Final = "2.0"
INTEGRATION_TIMEOUT_MS: Final = 10_000
"""Above the function's own timeout, so API Gateway never cuts off an answer that is coming."""
DEFAULT_BURST_LIMIT: Final = 200
DEFAULT_RATE_LIMIT: Final = 100.0
DEFAULT_DATABASE_USER: Final = "query_reader"
DEFAULT_METRICS_NAMESPACE: Final = "cqrs-platform"
POSTGRES_PORT: Final = 5432
LAMBDA_CA_BUNDLE: Final = "/etc/pki/tls/certs/ca-bundle.crt"
"""The system trust store of the Lambda runtime (Amazon Linux 2023). RDS Proxy presents an ACM
certificate (Amazon Trust Services), which it verifies, so the proxy is checked by name."""

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
"""One JSON line per request. The query string is left out on purpose: owners are personal data
and cursors are credentials of a sort."""

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
class ProxyIamLogin:
    """Connect to the RDS Proxy and log in with an IAM auth token (no password anywhere)."""

    proxy_endpoint: pulumi.Input[str]
    database: pulumi.Input[str]
    user_arn_prefix: pulumi.Input[str]
    """``arn:aws:rds-db:<region>:<account>:dbuser:prx-...`` (``dbProxyUserArnPrefix``)."""
    user: str = DEFAULT_DATABASE_USER


@dataclass(frozen=True)
class SecretLogin:
    """Connect to the instance directly with the user and password of a Secrets Manager secret
    (``{"username", "password"}``, the RDS secret shape)."""

    secret_arn: pulumi.Input[str]
    host: pulumi.Input[str]
    database: pulumi.Input[str]
    port: pulumi.Input[int] = POSTGRES_PORT
    user: str = DEFAULT_DATABASE_USER


DatabaseLogin: TypeAlias = ProxyIamLogin | SecretLogin


@dataclass(frozen=True)
class QueryApiArgs:
    context: StackContext
    package: LambdaPackage
    database: DatabaseLogin
    cursor_signing_key: pulumi.Input[str]
    """A secret of at least 32 characters; changing it invalidates the cursors in flight."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    security_group_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    jwt: JwtAuthorizer | None = None
    """``None``: IAM authorization (SigV4) on every route."""
    throttling_burst_limit: int = DEFAULT_BURST_LIMIT
    throttling_rate_limit: float = DEFAULT_RATE_LIMIT
    tracing: bool = False
    """Active X-Ray tracing and powertools' Tracer (costs cold-start time, see the function)."""
    memory_mb: int = 512
    timeout_seconds: int = 6
    reserved_concurrency: int | None = None
    log_level: LogLevel = "INFO"
    log_retention_days: int = 30
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE

    def __post_init__(self) -> None:
        if self.throttling_burst_limit < 1 or self.throttling_rate_limit <= 0:
            raise ValueError("throttling limits must be positive")
        if self.timeout_seconds * 1000 >= INTEGRATION_TIMEOUT_MS:
            raise ValueError("the function must answer before API Gateway gives up")


class QueryApi(pulumi.ComponentResource):
    """The read side's HTTP API and its function."""

    handler: LambdaFunction
    api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage
    integration: aws.apigatewayv2.Integration
    routes: dict[str, aws.apigatewayv2.Route]
    """By route key (``GET /accounts``, and ``$default``)."""
    authorizer: aws.apigatewayv2.Authorizer | None
    access_logs: aws.cloudwatch.LogGroup
    endpoint: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: QueryApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cqrs:query-api:QueryApi", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)

        database_environment, database_statement = _database_access(args.database)
        self.handler = LambdaFunction(
            "handler",
            LambdaFunctionArgs(
                context=context,
                package=args.package,
                handler=HANDLER,
                statements=[database_statement],
                environment={
                    **database_environment,
                    CURSOR_SIGNING_KEY_ENV: pulumi.Output.secret(args.cursor_signing_key).apply(
                        _checked_signing_key
                    ),
                    TRACING_ENABLED_ENV: "true" if args.tracing else "false",
                    SERVICE_NAME_ENV: SERVICE_NAME,
                    METRICS_NAMESPACE_ENV: args.metrics_namespace,
                },
                memory_mb=args.memory_mb,
                timeout_seconds=args.timeout_seconds,
                reserved_concurrency=args.reserved_concurrency,
                tracing=args.tracing,
                vpc=VpcConfig(
                    subnet_ids=args.subnet_ids, security_group_ids=args.security_group_ids
                ),
                log_level=args.log_level,
                log_retention_days=args.log_retention_days,
                description="Queries on the read models (API Gateway HTTP API)",
            ),
            opts=child,
        )

        self.api = aws.apigatewayv2.Api(
            f"{name}-http-api",
            name=context.name("api", ResourceKind.HTTP_API),
            protocol_type="HTTP",
            description="The read side: accounts as the read models last saw them",
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
            route.route_key: self._route(name, route.route_key, route.operation_id, args)
            for route in ROUTES
        }
        self.routes[DEFAULT_ROUTE] = self._route(name, DEFAULT_ROUTE, NOT_FOUND_OPERATION, args)

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
        self, name: str, route_key: str, operation: str, args: QueryApiArgs
    ) -> aws.apigatewayv2.Route:
        jwt = args.jwt
        return aws.apigatewayv2.Route(
            f"{name}-{operation}",
            api_id=self.api.id,
            route_key=route_key,
            operation_name=operation,
            target=self.integration.id.apply(lambda integration: f"integrations/{integration}"),
            authorization_type=JWT_AUTHORIZATION if jwt is not None else IAM_AUTHORIZATION,
            authorizer_id=self.authorizer.id if self.authorizer is not None else None,
            authorization_scopes=list(jwt.scopes) if jwt is not None and jwt.scopes else None,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _allow_invocations(self, name: str) -> None:
        # One permission per route (any stage), so API Gateway invokes the function for these
        # routes of this API only.
        suffixes = {route.operation_id: route.source_arn_suffix for route in ROUTES}
        suffixes[NOT_FOUND_OPERATION] = DEFAULT_ROUTE
        for operation, suffix in suffixes.items():
            aws.lambda_.Permission(
                f"{name}-invoke-{operation}",
                action="lambda:InvokeFunction",
                function=self.handler.function_name,
                qualifier=self.handler.alias.name if self.handler.alias is not None else None,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/", suffix),
                opts=pulumi.ResourceOptions(parent=self),
            )


def _database_access(
    login: DatabaseLogin,
) -> tuple[dict[str, pulumi.Input[str]], Statement]:
    """The function's database environment and the one statement its role needs for it."""
    if isinstance(login, ProxyIamLogin):
        url = pulumi.Output.format(
            "postgresql+psycopg://{0}@{1}:{2}/{3}",
            login.user,
            login.proxy_endpoint,
            POSTGRES_PORT,
            login.database,
        )
        environment: dict[str, pulumi.Input[str]] = {
            DATABASE_URL_ENV: url,
            DATABASE_IAM_AUTH_ENV: "true",
            DATABASE_SSLMODE_ENV: "verify-full",
            DATABASE_SSLROOTCERT_ENV: LAMBDA_CA_BUNDLE,
        }
        statement = Statement(
            sid="ConnectAsTheQueryReader",
            actions=["rds-db:connect"],
            resources=[pulumi.Output.concat(login.user_arn_prefix, "/", login.user)],
        )
        return environment, statement
    # Stack references carry numbers as JSON doubles: 5432 arrives as 5432.0.
    port = pulumi.Output.from_input(login.port).apply(lambda value: str(int(value)))
    url = pulumi.Output.format(
        "postgresql+psycopg://{0}@{1}:{2}/{3}", login.user, login.host, port, login.database
    )
    environment = {
        DATABASE_URL_ENV: url,
        DATABASE_SECRET_ARN_ENV: login.secret_arn,
        # The instance's certificate is signed by the RDS CA, which the runtime does not trust;
        # encrypted without verification until the RDS bundle ships in the package.
        DATABASE_SSLMODE_ENV: "require",
    }
    statement = Statement(
        sid="ReadTheQueryReaderSecret",
        actions=["secretsmanager:GetSecretValue"],
        resources=[login.secret_arn],
    )
    return environment, statement


def _checked_signing_key(key: str) -> str:
    if len(key) < MIN_SIGNING_KEY_LENGTH:
        raise ValueError(
            f"the cursor signing key must be at least {MIN_SIGNING_KEY_LENGTH} characters"
        )
    return key
