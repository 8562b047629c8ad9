"""The query API's stack under Pulumi mocks: what the role may do, where the function runs, which
routes exist and how they are authorized, throttled and logged."""

from __future__ import annotations

import json

import pytest
from platform_infra.platform_outputs import PlatformOutput
from platform_infra.testing import assert_least_privilege, identity_statements
from query_api.routes import ROUTES
from query_api.settings import (
    CURSOR_SIGNING_KEY_ENV,
    DATABASE_IAM_AUTH_ENV,
    DATABASE_SECRET_ARN_ENV,
    DATABASE_SSLMODE_ENV,
    DATABASE_URL_ENV,
    HANDLER,
    TRACING_ENABLED_ENV,
    QuerySettings,
)
from query_api_stack.program import Export

pytestmark = pytest.mark.pulumi

FUNCTION = "aws:lambda/function:Function"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
STAGE = "aws:apigatewayv2/stage:Stage"
API = "aws:apigatewayv2/api:Api"
PERMISSION = "aws:lambda/permission:Permission"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:query-reader-AbCdEf"
JWT_CONFIG = {
    "authorization": "jwt",
    "jwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example",
    "jwtAudiences": '["queries-client"]',
    "jwtScopes": '["accounts/read"]',
}
EXPECTED_ROUTE_KEYS = {
    "GET /accounts",
    "GET /accounts/{account_id}",
    "GET /accounts/{account_id}/transactions",
    "$default",
}


def data_statements(stack):
    """Statements beyond the function's own plumbing (logs, network interfaces, traces)."""
    plumbing = {"logs", "ec2", "xray"}
    return [
        statement
        for statement in identity_statements(stack)
        if {action.split(":")[0] for action in statement.actions} - plumbing
    ]


SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"
"""How Pulumi marks a secret value on the wire."""


def environment_of(stack):
    environment = stack.one(FUNCTION).inputs["environment"]
    # The signing key makes the whole environment secret, so the state holds it encrypted.
    assert SECRET_SIGNATURE in environment, "the function's environment is not secret"
    return environment["value"]["variables"]


# ---------------------------------------------------------------------- IAM
def test_by_default_the_role_may_only_connect_as_the_query_reader_through_the_proxy(
    deploy, platform_outputs
):
    stack = deploy()

    [statement] = data_statements(stack)
    prefix = platform_outputs[PlatformOutput.DB_PROXY_USER_ARN_PREFIX]
    assert statement.actions == ("rds-db:connect",)
    assert statement.resources == (f"{prefix}/query_reader",)
    assert_least_privilege(identity_statements(stack))


def test_with_a_secret_the_role_may_only_read_that_secret(deploy):
    stack = deploy(config={"databaseSecretArn": SECRET_ARN})

    [statement] = data_statements(stack)
    assert statement.actions == ("secretsmanager:GetSecretValue",)
    assert statement.resources == (SECRET_ARN,)
    assert_least_privilege(identity_statements(stack))


def test_no_statement_can_write_or_reach_other_data(deploy):
    for config in ({}, {"databaseSecretArn": SECRET_ARN}, {"tracing": "true"}):
        stack = deploy(config=config)
        actions = {action for s in identity_statements(stack) for action in s.actions}
        services = {action.split(":")[0] for action in actions}
        assert services <= {"rds-db", "secretsmanager", "logs", "ec2", "xray"}, config
        assert not {a for a in actions if a.startswith(("rds:", "dynamodb:", "sns:", "sqs:"))}
        assert not {a for a in actions if a.startswith("secretsmanager:") and "Get" not in a}


def test_another_database_user_is_named_in_the_connect_resource(deploy, platform_outputs):
    stack = deploy(config={"databaseUser": "reporting_reader"})

    [statement] = data_statements(stack)
    prefix = platform_outputs[PlatformOutput.DB_PROXY_USER_ARN_PREFIX]
    assert statement.resources == (f"{prefix}/reporting_reader",)
    assert "reporting_reader@" in environment_of(stack)[DATABASE_URL_ENV]


def test_a_database_user_that_is_not_a_plain_name_is_refused(deploy):
    with pytest.raises(Exception, match="databaseUser"):
        deploy(config={"databaseUser": "*"})


def test_tracing_adds_only_x_ray_and_turns_the_tracer_on(deploy):
    stack = deploy(config={"tracing": "true"})

    assert stack.one(FUNCTION).inputs["tracingConfig"] == {"mode": "Active"}
    assert environment_of(stack)[TRACING_ENABLED_ENV] == "true"
    services = {a.split(":")[0] for s in identity_statements(stack) for a in s.actions}
    assert services == {"rds-db", "logs", "ec2", "xray"}


# ---------------------------------------------------------------------- the function
def test_the_function_runs_in_the_platforms_private_subnets(deploy, platform_outputs):
    vpc = deploy().one(FUNCTION).inputs["vpcConfig"]

    assert vpc["subnetIds"] == platform_outputs[PlatformOutput.PRIVATE_SUBNET_IDS]
    assert vpc["securityGroupIds"] == [platform_outputs[PlatformOutput.FUNCTIONS_SECURITY_GROUP_ID]]


def test_the_function_gets_the_settings_it_reads_iam_through_the_proxy(deploy, platform_outputs):
    stack = deploy()
    function = stack.one(FUNCTION).inputs
    environment = environment_of(stack)

    settings = QuerySettings.from_environment(environment)

    proxy = platform_outputs[PlatformOutput.DB_PROXY_ENDPOINT]
    database = platform_outputs[PlatformOutput.DB_NAME]
    assert function["handler"] == HANDLER
    assert settings.database.url == f"postgresql+psycopg://query_reader@{proxy}:5432/{database}"
    assert settings.database.iam_auth is True
    assert settings.database.secret_arn is None
    assert settings.database.sslmode == "verify-full"
    assert settings.tracing_enabled is False


def test_the_function_gets_the_settings_it_reads_with_a_secret(deploy, platform_outputs):
    environment = environment_of(deploy(config={"databaseSecretArn": SECRET_ARN}))

    settings = QuerySettings.from_environment(environment)

    host = platform_outputs[PlatformOutput.DB_INSTANCE_ADDRESS]
    assert settings.database.url.startswith(f"postgresql+psycopg://query_reader@{host}:5432/")
    assert settings.database.secret_arn == SECRET_ARN
    assert DATABASE_IAM_AUTH_ENV not in environment
    assert environment[DATABASE_SECRET_ARN_ENV] == SECRET_ARN
    assert environment[DATABASE_SSLMODE_ENV] == "require"


def test_the_cursor_signing_key_comes_from_config_and_stays_secret(deploy, signing_key):
    assert environment_of(deploy())[CURSOR_SIGNING_KEY_ENV] == signing_key


def test_a_short_cursor_signing_key_fails_the_deployment(deploy):
    with pytest.raises(Exception, match="at least 32"):
        deploy(config={"cursorSigningKey": "too-short"})


def test_the_cursor_signing_key_is_required(deploy):
    with pytest.raises(Exception, match="cursorSigningKey"):
        deploy(config={"cursorSigningKey": None})


# ---------------------------------------------------------------------- the HTTP API
def test_the_api_has_the_functions_routes_and_a_default_route(deploy):
    routes = deploy().of_type(ROUTE)

    assert {route.inputs["routeKey"] for route in routes} == EXPECTED_ROUTE_KEYS
    assert EXPECTED_ROUTE_KEYS - {"$default"} == {route.route_key for route in ROUTES}


def test_the_routes_are_the_ones_the_openapi_document_describes():
    from query_api.openapi import DOCUMENT  # noqa: PLC0415

    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    described = {
        f"{method.upper()} {path}": operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }

    assert described == {route.route_key: route.operation_id for route in ROUTES}


def test_every_route_needs_iam_by_default(deploy):
    stack = deploy()

    assert not stack.of_type(AUTHORIZER)
    for route in stack.of_type(ROUTE):
        assert route.inputs["authorizationType"] == "AWS_IAM", route.inputs["routeKey"]


def test_a_jwt_authorizer_replaces_iam_on_every_route(deploy):
    stack = deploy(config=JWT_CONFIG)

    authorizer = stack.one(AUTHORIZER)
    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["jwtConfiguration"] == {
        "issuer": JWT_CONFIG["jwtIssuer"],
        "audiences": ["queries-client"],
    }
    for route in stack.of_type(ROUTE):
        assert route.inputs["authorizationType"] == "JWT"
        assert route.inputs["authorizerId"] == authorizer.id
        assert route.inputs["authorizationScopes"] == ["accounts/read"]


def test_an_unknown_authorization_is_refused(deploy):
    with pytest.raises(Exception, match="authorization"):
        deploy(config={"authorization": "none"})


def test_every_route_goes_to_the_function_as_payload_2(deploy):
    stack = deploy()
    integration = stack.one(INTEGRATION)

    assert integration.inputs["integrationType"] == "AWS_PROXY"
    assert integration.inputs["payloadFormatVersion"] == "2.0"
    assert integration.inputs["integrationUri"] == stack.one(FUNCTION).outputs["arn"]
    for route in stack.of_type(ROUTE):
        assert route.inputs["target"] == f"integrations/{integration.id}"


def test_the_stage_throttles_and_writes_access_logs(deploy):
    stack = deploy(config={"throttlingBurstLimit": "50", "throttlingRateLimit": "20"})
    stage = stack.one(STAGE).inputs

    assert stage["autoDeploy"] is True
    assert stage["defaultRouteSettings"]["throttlingBurstLimit"] == 50
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == 20
    access_logs = [g for g in stack.of_type(LOG_GROUP) if "api-access" in g.inputs["name"]]
    [group] = access_logs
    assert group.inputs["name"].startswith("/aws/vendedlogs/")
    assert stage["accessLogSettings"]["destinationArn"] == group.outputs["arn"]
    fields = json.loads(stage["accessLogSettings"]["format"])
    assert {"requestId", "status", "routeKey", "caller"} <= set(fields)
    assert not any("querystring" in value.lower() for value in fields.values())


def test_throttling_has_defaults(deploy):
    settings = deploy().one(STAGE).inputs["defaultRouteSettings"]

    assert settings["throttlingBurstLimit"] > 0
    assert settings["throttlingRateLimit"] > 0


def test_api_gateway_may_invoke_the_function_for_these_routes_only(deploy):
    stack = deploy()
    execution_arn = stack.one(API).outputs["executionArn"]

    permissions = stack.of_type(PERMISSION)

    assert {p.inputs["sourceArn"] for p in permissions} == {
        f"{execution_arn}/*/GET/accounts",
        f"{execution_arn}/*/GET/accounts/*",
        f"{execution_arn}/*/GET/accounts/*/transactions",
        f"{execution_arn}/*/$default",
    }
    for permission in permissions:
        assert permission.inputs["principal"] == "apigateway.amazonaws.com"
        assert permission.inputs["action"] == "lambda:InvokeFunction"


def test_the_stack_exports_the_endpoint_and_what_callers_need(deploy):
    stack = deploy()

    assert set(stack.outputs) == {export.value for export in Export}
    assert stack.outputs[Export.API_ENDPOINT.value] == stack.one(API).outputs["apiEndpoint"]
