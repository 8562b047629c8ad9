"""The HTTP API component: IAM unless a JWT authorizer is asked for, a throttled stage with JSON
access logs, and one invoke permission per route."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pytest
from platform_infra.context import StackContext
from platform_infra.http_api import (
    ACCESS_LOG_FORMAT,
    DEFAULT_BURST_LIMIT,
    DEFAULT_RATE_LIMIT,
    HttpApi,
    HttpApiArgs,
    HttpApiOptions,
    HttpRoute,
    JwtAuthorizer,
)
from platform_infra.lambda_function import LIVE_ALIAS, LambdaFunction, LambdaFunctionArgs
from platform_infra.packaging import LambdaPackage
from platform_infra.testing import PulumiHarness, RecordedStack
from pulumi.runtime.mocks import MockMonitor

pytestmark = pytest.mark.pulumi

API = "aws:apigatewayv2/api:Api"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
STAGE = "aws:apigatewayv2/stage:Stage"
PERMISSION = "aws:lambda/permission:Permission"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FUNCTION = "aws:lambda/function:Function"

IAM_DEFAULTS = HttpApiOptions()
ROUTES = (
    HttpRoute("POST /accounts", "openAccount"),
    HttpRoute("GET /accounts/{account_id}/transactions", "listTransactions"),
    HttpRoute("$default", "notFound"),
)
JWT = JwtAuthorizer(
    issuer="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example",
    audiences=["client"],
    scopes=["accounts/write"],
)
JWT_CONFIG = {
    "authorization": "jwt",
    "jwtIssuer": JWT.issuer,
    "jwtAudiences": '["client"]',
    "jwtScopes": '["accounts/write"]',
}


@pytest.fixture
def deploy(
    pulumi_harness: PulumiHarness, context: StackContext, lambda_package: LambdaPackage
) -> Callable[..., RecordedStack]:
    """``deploy(options=..., config=..., snap_start=..., **args)``: a function and its API;
    ``options=None`` reads them from ``config``."""

    def run(
        options: HttpApiOptions | None = IAM_DEFAULTS,
        config: Mapping[str, str] | None = None,
        snap_start: bool = False,
        **args: Any,
    ) -> RecordedStack:
        def program() -> None:
            function = LambdaFunction(
                "handler",
                LambdaFunctionArgs(
                    context=context,
                    package=lambda_package,
                    handler="app.handler",
                    snap_start=snap_start,
                ),
            )
            api = HttpApi(
                "api",
                HttpApiArgs(
                    context=context,
                    function=function,
                    routes=ROUTES,
                    description="tests",
                    options=options if options is not None else HttpApiOptions.from_config(),
                    **args,
                ),
            )
            pulumi.export("endpoint", api.endpoint)
            pulumi.export("executionArn", api.execution_arn)

        return pulumi_harness.run(program, project="command-api", config=config)

    return run


# ---------------------------------------------------------------------- authorization
def test_every_route_needs_iam_by_default(deploy: Callable[..., RecordedStack]) -> None:
    stack = deploy()

    assert not stack.of_type(AUTHORIZER)
    routes = stack.of_type(ROUTE)
    assert {route.inputs["routeKey"] for route in routes} == {r.route_key for r in ROUTES}
    for route in routes:
        assert route.inputs["authorizationType"] == "AWS_IAM", route.inputs["routeKey"]
        assert "authorizerId" not in route.inputs
        assert "authorizationScopes" not in route.inputs


def test_a_jwt_authorizer_guards_every_route(deploy: Callable[..., RecordedStack]) -> None:
    stack = deploy(options=HttpApiOptions(jwt=JWT))

    authorizer = stack.one(AUTHORIZER)
    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["identitySources"] == ["$request.header.Authorization"]
    assert authorizer.inputs["jwtConfiguration"] == {"issuer": JWT.issuer, "audiences": ["client"]}
    assert authorizer.inputs["name"] == "cqrs-test-command-api-jwt"
    for route in stack.of_type(ROUTE):
        assert route.inputs["authorizationType"] == "JWT"
        assert route.inputs["authorizerId"] == authorizer.id
        assert route.inputs["authorizationScopes"] == ["accounts/write"]


def test_a_jwt_authorizer_without_scopes_takes_any_valid_token(
    deploy: Callable[..., RecordedStack],
) -> None:
    stack = deploy(options=HttpApiOptions(jwt=JwtAuthorizer(JWT.issuer, ["client"])))

    for route in stack.of_type(ROUTE):
        assert route.inputs["authorizationType"] == "JWT"
        assert "authorizationScopes" not in route.inputs


@pytest.mark.parametrize(
    ("issuer", "audiences", "complaint"),
    [("http://insecure.example", ["a"], "https://"), ("https://i.example", [], "audience")],
)
def test_a_jwt_authorizer_needs_an_https_issuer_and_an_audience(
    issuer: str, audiences: list[str], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        JwtAuthorizer(issuer, audiences)


# ---------------------------------------------------------------------- integration and routes
def test_every_route_goes_to_the_function_as_payload_2(
    deploy: Callable[..., RecordedStack],
) -> None:
    stack = deploy(integration_timeout_ms=12_000)
    integration = stack.one(INTEGRATION)

    assert integration.inputs["integrationType"] == "AWS_PROXY"
    assert integration.inputs["integrationMethod"] == "POST"
    assert integration.inputs["payloadFormatVersion"] == "2.0"
    assert integration.inputs["timeoutMilliseconds"] == 12_000
    assert integration.inputs["integrationUri"] == stack.one(FUNCTION).outputs["arn"]
    for route in stack.of_type(ROUTE):
        assert route.inputs["target"] == f"integrations/{integration.id}"
    operations = {r.inputs["routeKey"]: r.inputs["operationName"] for r in stack.of_type(ROUTE)}
    assert operations == {route.route_key: route.operation_id for route in ROUTES}


def test_the_api_is_named_by_the_context_and_exports_where_to_call_it(
    deploy: Callable[..., RecordedStack],
) -> None:
    stack = deploy()
    api = stack.one(API)

    assert api.inputs["name"] == "cqrs-test-command-api-api"
    assert api.inputs["protocolType"] == "HTTP"
    assert api.inputs["description"] == "tests"
    assert stack.outputs["endpoint"] == api.outputs["apiEndpoint"]
    assert stack.outputs["endpoint"].startswith("https://")
    assert stack.outputs["executionArn"] == api.outputs["executionArn"]
    assert stack.outputs["executionArn"].startswith("arn:aws:execute-api:eu-west-1:123456789012:")


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"routes": ()}, "at least one route"),
        ({"routes": (ROUTES[0], HttpRoute("GET /accounts", "openAccount"))}, "operation id"),
        ({"integration_timeout_ms": 30_001}, "integration timeouts"),
    ],
)
def test_args_that_cannot_be_deployed_are_refused(
    context: StackContext, changes: dict[str, Any], complaint: str
) -> None:
    fields = {"context": context, "function": None, "routes": ROUTES, "description": "tests"}
    with pytest.raises(ValueError, match=complaint):
        HttpApiArgs(**{**fields, **changes})


# ---------------------------------------------------------------------- stage
def test_the_stage_throttles_as_asked(deploy: Callable[..., RecordedStack]) -> None:
    stage = deploy(options=HttpApiOptions(throttling_burst_limit=50, throttling_rate_limit=20.0))

    settings = stage.one(STAGE).inputs["defaultRouteSettings"]
    assert settings["throttlingBurstLimit"] == 50
    assert settings["throttlingRateLimit"] == 20
    assert settings["detailedMetricsEnabled"] is True


def test_throttling_has_defaults(deploy: Callable[..., RecordedStack]) -> None:
    settings = deploy().one(STAGE).inputs["defaultRouteSettings"]

    assert settings["throttlingBurstLimit"] == DEFAULT_BURST_LIMIT
    assert settings["throttlingRateLimit"] == DEFAULT_RATE_LIMIT


@pytest.mark.parametrize(("burst", "rate"), [(0, 1.0), (1, 0.0)])
def test_throttling_limits_must_be_positive(burst: int, rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        HttpApiOptions(throttling_burst_limit=burst, throttling_rate_limit=rate)


def test_the_default_stage_deploys_itself_and_writes_json_access_logs(
    deploy: Callable[..., RecordedStack],
) -> None:
    stack = deploy(log_retention_days=14)
    stage = stack.one(STAGE).inputs
    [access_logs] = stack.of_type(LOG_GROUP)[1:]  # the first is the function's own

    assert stage["name"] == "$default"
    assert stage["autoDeploy"] is True
    assert access_logs.inputs["name"] == "/aws/vendedlogs/cqrs/test/command-api/api-access"
    assert access_logs.inputs["retentionInDays"] == 14
    assert stage["accessLogSettings"]["destinationArn"] == access_logs.outputs["arn"]
    assert stage["accessLogSettings"]["format"] == ACCESS_LOG_FORMAT
    line = json.loads(stage["accessLogSettings"]["format"])
    assert line["requestId"] == "$context.requestId"
    assert {"routeKey", "status", "caller", "subject", "integrationError"} <= set(line)
    assert all(value.startswith("$context.") for value in line.values())
    assert not any("querystring" in value.lower() for value in line.values())


def test_another_resource_name_keeps_two_apis_apart(deploy: Callable[..., RecordedStack]) -> None:
    stack = deploy(resource="admin-api")

    assert stack.one(API).inputs["name"] == "cqrs-test-command-api-admin-api"
    names = {group.inputs["name"] for group in stack.of_type(LOG_GROUP)}
    assert "/aws/vendedlogs/cqrs/test/command-api/admin-api-access" in names


# ---------------------------------------------------------------------- permissions
def test_one_permission_per_route_and_no_other(deploy: Callable[..., RecordedStack]) -> None:
    stack = deploy()
    execution_arn = stack.one(API).outputs["executionArn"]
    function_name = stack.one(FUNCTION).outputs["name"]

    permissions = [permission.inputs for permission in stack.of_type(PERMISSION)]

    assert len(permissions) == len(ROUTES)
    assert {p["sourceArn"] for p in permissions} == {
        f"{execution_arn}/*/POST/accounts",
        f"{execution_arn}/*/GET/accounts/*/transactions",
        f"{execution_arn}/*/$default",
    }
    for permission in permissions:
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["action"] == "lambda:InvokeFunction"
        assert permission["function"] == function_name
        assert "qualifier" not in permission


def test_with_a_live_alias_the_alias_is_invoked_and_permitted(
    deploy: Callable[..., RecordedStack],
) -> None:
    stack = deploy(snap_start=True)
    alias = stack.one("aws:lambda/alias:Alias")

    assert stack.one(INTEGRATION).inputs["integrationUri"] == alias.outputs["arn"]
    for permission in stack.of_type(PERMISSION):
        assert permission.inputs["qualifier"] == LIVE_ALIAS


@pytest.mark.parametrize(
    ("route_key", "suffix"),
    [
        ("POST /accounts", "POST/accounts"),
        ("DELETE /accounts/{account_id}", "DELETE/accounts/*"),
        ("GET /a/{x}/b/{y}", "GET/a/*/b/*"),
        ("ANY /files/{proxy+}", "ANY/files/*"),
        ("$default", "$default"),
    ],
)
def test_a_routes_source_arn_suffix(route_key: str, suffix: str) -> None:
    assert HttpRoute(route_key, "op").source_arn_suffix == suffix


# ---------------------------------------------------------------------- config
def test_options_come_from_config(deploy: Callable[..., RecordedStack]) -> None:
    config = {**JWT_CONFIG, "throttlingBurstLimit": "50", "throttlingRateLimit": "2.5"}
    stack = deploy(options=None, config=config)

    assert stack.one(AUTHORIZER).inputs["jwtConfiguration"]["issuer"] == JWT.issuer
    for route in stack.of_type(ROUTE):
        assert route.inputs["authorizationScopes"] == ["accounts/write"]
    settings = stack.one(STAGE).inputs["defaultRouteSettings"]
    assert (settings["throttlingBurstLimit"], settings["throttlingRateLimit"]) == (50, 2.5)


def test_without_config_the_options_are_the_defaults(
    deploy: Callable[..., RecordedStack],
) -> None:
    stack = deploy(options=None, config={"authorization": "IAM"})

    assert not stack.of_type(AUTHORIZER)
    settings = stack.one(STAGE).inputs["defaultRouteSettings"]
    assert settings["throttlingBurstLimit"] == DEFAULT_BURST_LIMIT


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"authorization": "basic"}, "must be 'iam' or 'jwt'"),
        ({"authorization": "jwt", "jwtAudiences": '["a"]'}, "jwtIssuer"),
        ({"authorization": "jwt", "jwtIssuer": JWT.issuer}, "jwtAudiences"),
        ({**JWT_CONFIG, "jwtAudiences": "[]"}, "at least one audience"),
        ({**JWT_CONFIG, "jwtScopes": '"accounts/write"'}, "lists of strings"),
        ({**JWT_CONFIG, "jwtAudiences": "[1]"}, "lists of strings"),
        ({"throttlingBurstLimit": "-1"}, "positive"),
    ],
)
def test_config_that_cannot_be_deployed_fails_the_deployment(
    deploy: Callable[..., RecordedStack], config: dict[str, str], complaint: str
) -> None:
    with pytest.raises(Exception, match=complaint):
        deploy(options=None, config=config)


# ---------------------------------------------------------------------- moving in
@pytest.fixture
def aliases(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The parent URNs of the aliases each registered resource declares, by logical name."""
    seen: dict[str, list[str]] = {}
    register = MockMonitor.RegisterResource

    def recording(self: MockMonitor, request: Any) -> Any:
        seen[request.name] = [alias.spec.parentUrn for alias in request.aliases]
        return register(self, request)

    monkeypatch.setattr(MockMonitor, "RegisterResource", recording)
    return seen


def test_resources_moved_in_from_another_parent_keep_their_old_urns(
    pulumi_harness: PulumiHarness,
    context: StackContext,
    lambda_package: LambdaPackage,
    aliases: dict[str, list[str]],
) -> None:
    class Service(pulumi.ComponentResource):
        def __init__(self) -> None:
            super().__init__("tests:index:Service", "service")
            child = pulumi.ResourceOptions(parent=self)
            function = LambdaFunction(
                "handler",
                LambdaFunctionArgs(context=context, package=lambda_package, handler="app.h"),
                opts=child,
            )
            HttpApi(
                "service",
                HttpApiArgs(
                    context=context,
                    function=function,
                    routes=ROUTES,
                    description="tests",
                    options=HttpApiOptions(jwt=JWT),
                    previous_parent=self,
                ),
                opts=child,
            )

    stack = pulumi_harness.run(Service, project="command-api")

    [service] = [urn for urn in stack.urns if urn.endswith("::service") and "Service::" in urn]
    moved = [
        resource.name
        for resource in stack.resources
        if resource.custom and resource.name.startswith("service-")
    ]
    # the API, integration, authorizer, access logs, stage, and a route and permission per route
    assert len(moved) == 5 + 2 * len(ROUTES)
    for name in moved:
        assert aliases[name] == [service], name
    assert aliases["handler-function"] == []  # not moved


def test_without_a_previous_parent_nothing_is_aliased(
    deploy: Callable[..., RecordedStack], aliases: dict[str, list[str]]
) -> None:
    stack = deploy()

    assert all(aliases[resource.name] == [] for resource in stack.resources if resource.custom)
