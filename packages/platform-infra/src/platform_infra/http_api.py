"""An API Gateway HTTP API in front of one Lambda function: routes, authorization, throttling,
access logs and the function's invoke permissions, and nothing more::

    api = HttpApi(
        "commands",
        HttpApiArgs(
            context=context,
            function=handler,  # a LambdaFunction
            routes=[HttpRoute("POST /accounts", "openAccount")],
            description="The write side",
            integration_timeout_ms=15_000,
            options=HttpApiOptions.from_config(),  # authorization and throttling from config
        ),
    )
    # api.endpoint, api.execution_arn

Every route is authorized by IAM (SigV4) unless ``options.jwt`` asks for a JWT authorizer, which
then guards every route. One Lambda permission per route (any stage) lets API Gateway invoke the
function for exactly these routes of this API. The ``$default`` stage is auto-deployed, throttled
and writes one JSON access-log line per request to a vended log group.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import pulumi
import pulumi_aws as aws

from platform_infra.context import StackContext
from platform_infra.lambda_function import LambdaFunction
from platform_infra.naming import ResourceKind

IAM_AUTHORIZATION: Final = "AWS_IAM"
JWT_AUTHORIZATION: Final = "JWT"
DEFAULT_STAGE: Final = "$default"
DEFAULT_ROUTE: Final = "$default"
"""The route key of every request no other route matches."""
PAYLOAD_FORMAT: Final = "2.0"
MAX_INTEGRATION_TIMEOUT_MS: Final = 30_000
"""API Gateway's ceiling for HTTP API integrations."""
DEFAULT_BURST_LIMIT: Final = 200
DEFAULT_RATE_LIMIT: Final = 100.0
IAM: Final = "iam"
JWT: Final = "jwt"
"""The values of the ``authorization`` config key."""

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
"""One JSON line per request; ``requestId`` is the events' causation id. The query string is left
out on purpose: it may carry personal data and cursors, which are credentials of a sort."""

_PATH_PARAMETER: Final = re.compile(r"\{[^}]+\}")


class HttpApiConfigKey(StrEnum):
    """The optional config keys ``HttpApiOptions.from_config`` reads
    (``pulumi config set <key> <value>``)."""

    AUTHORIZATION = "authorization"
    """``iam`` (default) or ``jwt``."""
    JWT_ISSUER = "jwtIssuer"
    JWT_AUDIENCES = "jwtAudiences"
    """A JSON list: ``pulumi config set jwtAudiences '["commands"]'``."""
    JWT_SCOPES = "jwtScopes"
    """A JSON list of scopes every route requires."""
    THROTTLING_BURST_LIMIT = "throttlingBurstLimit"
    THROTTLING_RATE_LIMIT = "throttlingRateLimit"


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
class HttpApiOptions:
    """How callers are let in: authorization and stage-wide throttling."""

    jwt: JwtAuthorizer | None = None
    """``None``: IAM authorization (SigV4) on every route."""
    throttling_burst_limit: int = DEFAULT_BURST_LIMIT
    throttling_rate_limit: float = DEFAULT_RATE_LIMIT

    def __post_init__(self) -> None:
        if self.throttling_burst_limit < 1 or self.throttling_rate_limit <= 0:
            raise ValueError("throttling limits must be positive")

    @classmethod
    def from_config(cls, config: pulumi.Config | None = None) -> HttpApiOptions:
        """The options the ``HttpApiConfigKey`` keys of ``config`` (default: the current
        project's) ask for; every key is optional except the issuer and audiences with ``jwt``."""
        config = config or pulumi.Config()
        return cls(
            jwt=_jwt(config),
            throttling_burst_limit=config.get_int(HttpApiConfigKey.THROTTLING_BURST_LIMIT)
            or DEFAULT_BURST_LIMIT,
            throttling_rate_limit=config.get_float(HttpApiConfigKey.THROTTLING_RATE_LIMIT)
            or DEFAULT_RATE_LIMIT,
        )


@dataclass(frozen=True)
class HttpRoute:
    """One route to the function."""

    route_key: str
    """``METHOD /path`` with ``{parameter}`` segments, or ``$default``."""
    operation_id: str
    """The route's operation name, and the last part of its logical names."""

    @property
    def source_arn_suffix(self) -> str:
        """What follows ``<executionArn>/<stage>/`` in the ARN of a call to this route:
        ``POST/accounts/*/deposits`` for ``POST /accounts/{account_id}/deposits``."""
        method, _, path = self.route_key.partition(" ")
        return method + _PATH_PARAMETER.sub("*", path)


@dataclass(frozen=True)
class HttpApiArgs:
    context: StackContext
    function: LambdaFunction
    """What every route invokes (its ``target_arn``: the ``live`` alias when there is one)."""
    routes: Sequence[HttpRoute]
    description: str
    integration_timeout_ms: int = MAX_INTEGRATION_TIMEOUT_MS
    """Keep it above the function's own timeout, so API Gateway never cuts off an answer."""
    options: HttpApiOptions = field(default_factory=HttpApiOptions)
    log_retention_days: int = 30
    """Of the access logs."""
    resource: str = "api"
    """The API's physical name part; its access logs are ``<resource>-access``."""
    previous_parent: pulumi.Resource | None = None
    """The component these resources were children of before they moved into an ``HttpApi``:
    each child gets an alias to its old URN, so a deployed stack keeps them (no replacement)."""

    def __post_init__(self) -> None:
        if not self.routes:
            raise ValueError("an HTTP API needs at least one route")
        operations = [route.operation_id for route in self.routes]
        if len(set(operations)) != len(operations):
            raise ValueError("every route needs its own operation id")
        if not 50 <= self.integration_timeout_ms <= MAX_INTEGRATION_TIMEOUT_MS:
            raise ValueError(f"integration timeouts are 50 to {MAX_INTEGRATION_TIMEOUT_MS} ms")


class HttpApi(pulumi.ComponentResource):
    """An HTTP API, its routes to one function, its stage, access logs and invoke permissions."""

    api: aws.apigatewayv2.Api
    integration: aws.apigatewayv2.Integration
    authorizer: aws.apigatewayv2.Authorizer | None
    routes: dict[str, aws.apigatewayv2.Route]
    """By route key (``POST /accounts``, ``$default``)."""
    access_logs: aws.cloudwatch.LogGroup
    stage: aws.apigatewayv2.Stage
    permissions: dict[str, aws.lambda_.Permission]
    """By route key."""
    endpoint: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    """Callers need ``execute-api:Invoke`` on ``<execution_arn>/*/<METHOD>/<path>``."""

    def __init__(
        self, name: str, args: HttpApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cqrs:platform:HttpApi", name, None, opts)
        context = args.context
        options = args.options
        aliases = (
            [pulumi.Alias(parent=args.previous_parent)] if args.previous_parent is not None else []
        )
        child = pulumi.ResourceOptions(parent=self, aliases=aliases)

        self.api = aws.apigatewayv2.Api(
            f"{name}-http-api",
            name=context.name(args.resource, ResourceKind.HTTP_API),
            protocol_type="HTTP",
            description=args.description,
            opts=child,
        )
        self.integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=args.function.target_arn,
            payload_format_version=PAYLOAD_FORMAT,
            timeout_milliseconds=args.integration_timeout_ms,
            opts=child,
        )
        self.authorizer = None
        if options.jwt is not None:
            self.authorizer = aws.apigatewayv2.Authorizer(
                f"{name}-jwt",
                api_id=self.api.id,
                name=context.name("jwt"),
                authorizer_type=JWT_AUTHORIZATION,
                identity_sources=["$request.header.Authorization"],
                jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(
                    issuer=options.jwt.issuer, audiences=list(options.jwt.audiences)
                ),
                opts=child,
            )
        self.routes = {
            route.route_key: self._route(name, route, options, child) for route in args.routes
        }

        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=context.name(f"{args.resource}-access", ResourceKind.VENDED_LOG_GROUP),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.api.id,
            name=DEFAULT_STAGE,
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_burst_limit=options.throttling_burst_limit,
                throttling_rate_limit=options.throttling_rate_limit,
                detailed_metrics_enabled=True,
            ),
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=self.access_logs.arn, format=ACCESS_LOG_FORMAT
            ),
            # Routes first: an auto-deployed stage deploys what exists when it is created.
            opts=pulumi.ResourceOptions(
                parent=self, aliases=aliases, depends_on=list(self.routes.values())
            ),
        )
        # One permission per route (any stage), so API Gateway invokes the function for these
        # routes of this API only.
        self.permissions = {
            route.route_key: aws.lambda_.Permission(
                f"{name}-invoke-{route.operation_id}",
                action="lambda:InvokeFunction",
                function=args.function.function_name,
                qualifier=args.function.alias.name if args.function.alias is not None else None,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(
                    self.api.execution_arn, "/*/", route.source_arn_suffix
                ),
                opts=child,
            )
            for route in args.routes
        }

        self.endpoint = self.api.api_endpoint
        self.execution_arn = self.api.execution_arn
        self.register_outputs({"endpoint": self.endpoint, "execution_arn": self.execution_arn})

    def _route(
        self, name: str, route: HttpRoute, options: HttpApiOptions, opts: pulumi.ResourceOptions
    ) -> aws.apigatewayv2.Route:
        jwt = options.jwt
        return aws.apigatewayv2.Route(
            f"{name}-{route.operation_id}",
            api_id=self.api.id,
            route_key=route.route_key,
            operation_name=route.operation_id,
            target=pulumi.Output.concat("integrations/", self.integration.id),
            authorization_type=JWT_AUTHORIZATION if jwt is not None else IAM_AUTHORIZATION,
            authorizer_id=self.authorizer.id if self.authorizer is not None else None,
            authorization_scopes=list(jwt.scopes) if jwt is not None and jwt.scopes else None,
            opts=opts,
        )


def _jwt(config: pulumi.Config) -> JwtAuthorizer | None:
    authorization = (config.get(HttpApiConfigKey.AUTHORIZATION) or IAM).lower()
    if authorization == IAM:
        return None
    if authorization != JWT:
        raise ValueError(f"{HttpApiConfigKey.AUTHORIZATION.value} must be {IAM!r} or {JWT!r}")
    audiences = config.require_object(HttpApiConfigKey.JWT_AUDIENCES)
    scopes = config.get_object(HttpApiConfigKey.JWT_SCOPES) or []
    if not _strings(audiences) or not _strings(scopes):
        raise ValueError("jwtAudiences and jwtScopes are JSON lists of strings")
    return JwtAuthorizer(
        issuer=config.require(HttpApiConfigKey.JWT_ISSUER), audiences=audiences, scopes=scopes
    )


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
