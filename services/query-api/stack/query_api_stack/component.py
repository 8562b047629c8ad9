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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

import pulumi
from platform_infra.context import StackContext
from platform_infra.http_api import DEFAULT_ROUTE, HttpApi, HttpApiArgs, HttpApiOptions, HttpRoute
from platform_infra.iam import Statement
from platform_infra.lambda_function import LambdaFunction, LambdaFunctionArgs, VpcConfig
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

NOT_FOUND_ROUTE: Final = HttpRoute(DEFAULT_ROUTE, "notFound")
"""Every other path: the function answers it with a problem+json 404, authorized like the rest."""
INTEGRATION_TIMEOUT_MS: Final = 10_000
"""Above the function's own timeout, so API Gateway never cuts off an answer that is coming."""
DEFAULT_DATABASE_USER: Final = "query_reader"
DEFAULT_METRICS_NAMESPACE: Final = "cqrs-platform"
POSTGRES_PORT: Final = 5432
LAMBDA_CA_BUNDLE: Final = "/etc/pki/tls/certs/ca-bundle.crt"
"""The system trust store of the Lambda runtime (Amazon Linux 2023). RDS Proxy presents an ACM
certificate (Amazon Trust Services), which it verifies, so the proxy is checked by name."""

LogLevel: TypeAlias = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


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
    api: HttpApiOptions = field(default_factory=HttpApiOptions)
    """Authorization (IAM unless a JWT authorizer is given) and throttling."""
    tracing: bool = False
    """Active X-Ray tracing and powertools' Tracer (costs cold-start time, see the function)."""
    memory_mb: int = 512
    timeout_seconds: int = 6
    reserved_concurrency: int | None = None
    log_level: LogLevel = "INFO"
    log_retention_days: int = 30
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE

    def __post_init__(self) -> None:
        if self.timeout_seconds * 1000 >= INTEGRATION_TIMEOUT_MS:
            raise ValueError("the function must answer before API Gateway gives up")


class QueryApi(pulumi.ComponentResource):
    """The read side's HTTP API and its function."""

    handler: LambdaFunction
    http_api: HttpApi
    """The API, its routes (by route key, and ``$default``), stage, access logs and invoke
    permissions."""
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

        self.http_api = HttpApi(
            name,
            HttpApiArgs(
                context=context,
                function=self.handler,
                routes=[
                    *(HttpRoute(route.route_key, route.operation_id) for route in ROUTES),
                    NOT_FOUND_ROUTE,
                ],
                description="The read side: accounts as the read models last saw them",
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
