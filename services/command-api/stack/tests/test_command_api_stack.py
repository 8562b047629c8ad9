"""The command API's stack under Pulumi mocks: what the role may do, which routes exist and how
they are authorized, throttled and logged."""

from __future__ import annotations

import importlib
import json
import re

import pytest
from command_api.http.routes import OPERATIONS
from command_api.settings import EVENT_STORE_TABLE_ENV, HANDLER, TRACING_ENABLED_ENV, Settings
from command_api_stack.program import Export
from platform_infra.platform_outputs import PlatformOutput
from platform_infra.testing import assert_least_privilege, identity_statements

pytestmark = pytest.mark.pulumi

FUNCTION = "aws:lambda/function:Function"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
STAGE = "aws:apigatewayv2/stage:Stage"
PERMISSION = "aws:lambda/permission:Permission"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

JWT_CONFIG = {
    "authorization": "jwt",
    "jwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example",
    "jwtAudiences": '["commands-client"]',
    "jwtScopes": '["accounts/write"]',
}


# ---------------------------------------------------------------------- IAM
def test_the_role_may_only_query_get_and_put_on_the_event_store_table(deploy, platform_outputs):
    statements = identity_statements(deploy())
    table_arn = platform_outputs[PlatformOutput.EVENT_STORE_TABLE_ARN]

    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in s.actions)]

    [store] = dynamodb
    assert set(store.actions) == {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"}
    assert store.resources == (table_arn,)  # the table, not its indexes or stream
    assert store.effect == "Allow"


def test_nothing_else_reaches_data_and_nothing_is_a_wildcard(deploy):
    statements = identity_statements(deploy())
    actions = {action for statement in statements for action in statement.actions}
    forbidden = {
        "dynamodb:Scan",
        "dynamodb:DeleteItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteTable",
        "dynamodb:PartiQLDelete",
    }
    assert not actions & forbidden
    assert {a.split(":")[0] for a in actions} <= {"dynamodb", "logs"}
    assert_least_privilege(statements)


def test_tracing_adds_only_x_ray_and_turns_the_tracer_on(deploy):
    stack = deploy(config={"tracing": "true"})
    function = stack.one(FUNCTION).inputs
    actions = {a for s in identity_statements(stack) for a in s.actions}
    assert function["tracingConfig"] == {"mode": "Active"}
    assert function["environment"]["variables"][TRACING_ENABLED_ENV] == "true"
    assert {a.split(":")[0] for a in actions} == {"dynamodb", "logs", "xray"}


# ---------------------------------------------------------------------- the function
def test_the_function_gets_the_settings_it_reads(deploy, platform_outputs):
    function = deploy().one(FUNCTION).inputs
    environment = function["environment"]["variables"]

    settings = Settings.from_environ(environment)

    table = platform_outputs[PlatformOutput.EVENT_STORE_TABLE_NAME]
    assert environment[EVENT_STORE_TABLE_ENV] == table
    assert settings.event_store_table == table
    assert settings.tracing_enabled is False
    assert function["handler"] == HANDLER
    module, _, attribute = HANDLER.rpartition(".")
    assert callable(getattr(importlib.import_module(module), attribute))
    assert function["architectures"] == ["arm64"]


def test_config_tunes_the_function(deploy):
    stack = deploy(config={"maxAppendAttempts": "3", "idempotencyTtlSeconds": "600"})
    settings = Settings.from_environ(stack.one(FUNCTION).inputs["environment"]["variables"])
    assert (settings.max_append_attempts, settings.idempotency_ttl_seconds) == (3, 600)


# ---------------------------------------------------------------------- routes
def test_each_command_has_its_route_and_nothing_else_is_routed(deploy):
    stack = deploy()
    integration = stack.one(INTEGRATION)

    routes = {route.inputs["routeKey"]: route.inputs for route in stack.of_type(ROUTE)}

    assert set(routes) == {
        "POST /accounts",
        "POST /accounts/{account_id}/deposits",
        "POST /accounts/{account_id}/withdrawals",
        "DELETE /accounts/{account_id}",
    }
    assert set(routes) == {operation.route_key for operation in OPERATIONS}
    for route in routes.values():
        assert route["target"] == f"integrations/{integration.id}"


def test_every_route_requires_iam_authorization_by_default(deploy):
    stack = deploy()
    assert not stack.of_type(AUTHORIZER)
    for route in stack.of_type(ROUTE):
        assert route.inputs["authorizationType"] == "AWS_IAM", route.inputs["routeKey"]
        assert "authorizerId" not in route.inputs


def test_a_jwt_authorizer_guards_every_route_when_configured(deploy):
    stack = deploy(config=JWT_CONFIG)
    authorizer = stack.one(AUTHORIZER)

    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["identitySources"] == ["$request.header.Authorization"]
    assert authorizer.inputs["jwtConfiguration"] == {
        "issuer": JWT_CONFIG["jwtIssuer"],
        "audiences": ["commands-client"],
    }
    for route in stack.of_type(ROUTE):
        assert route.inputs["authorizationType"] == "JWT"
        assert route.inputs["authorizerId"] == authorizer.id
        assert route.inputs["authorizationScopes"] == ["accounts/write"]


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"authorization": "basic"}, "must be 'iam' or 'jwt'"),
        ({"authorization": "jwt", "jwtAudiences": '["a"]'}, "jwtIssuer"),
        (
            {"authorization": "jwt", "jwtIssuer": "https://issuer.example", "jwtAudiences": "[]"},
            "at least one audience",
        ),
        ({**JWT_CONFIG, "jwtIssuer": "http://insecure.example"}, "https://"),
        ({**JWT_CONFIG, "jwtScopes": '"accounts/write"'}, "lists of strings"),
    ],
)
def test_an_incomplete_authorization_config_fails_the_deployment(deploy, config, complaint):
    with pytest.raises(Exception, match=re.escape(complaint)):
        deploy(config=config)


def test_the_integration_is_a_lambda_proxy_with_payload_2(deploy):
    stack = deploy()
    integration = stack.one(INTEGRATION).inputs
    function = stack.one(FUNCTION)

    assert integration["integrationType"] == "AWS_PROXY"
    assert integration["payloadFormatVersion"] == "2.0"
    assert integration["integrationUri"] == function.outputs["arn"]
    assert integration["timeoutMilliseconds"] > function.inputs["timeout"] * 1000


def test_api_gateway_may_invoke_the_function_for_these_routes_only(deploy):
    stack = deploy()
    execution_arn = stack.one("aws:apigatewayv2/api:Api").outputs["executionArn"]
    function_name = stack.one(FUNCTION).outputs["name"]

    permissions = [p.inputs for p in stack.of_type(PERMISSION)]

    assert {p["sourceArn"] for p in permissions} == {
        f"{execution_arn}/*/POST/accounts",
        f"{execution_arn}/*/POST/accounts/*/deposits",
        f"{execution_arn}/*/POST/accounts/*/withdrawals",
        f"{execution_arn}/*/DELETE/accounts/*",
    }
    for permission in permissions:
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["action"] == "lambda:InvokeFunction"
        assert permission["function"] == function_name


# ---------------------------------------------------------------------- stage
def test_the_default_stage_throttles_and_writes_json_access_logs(deploy):
    stack = deploy(config={"throttlingBurstLimit": "50", "throttlingRateLimit": "20"})
    stage = stack.one(STAGE).inputs
    [access_logs] = [g for g in stack.of_type(LOG_GROUP) if "vendedlogs" in g.inputs["name"]]

    assert stage["name"] == "$default"
    assert stage["autoDeploy"] is True
    assert stage["defaultRouteSettings"]["throttlingBurstLimit"] == 50
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == 20
    assert stage["accessLogSettings"]["destinationArn"] == access_logs.outputs["arn"]
    line = json.loads(stage["accessLogSettings"]["format"])
    assert line["requestId"] == "$context.requestId"
    assert {"routeKey", "status", "caller", "integrationError"} <= set(line)
    assert access_logs.inputs["retentionInDays"] > 0


def test_throttling_has_defaults(deploy):
    settings = deploy().one(STAGE).inputs["defaultRouteSettings"]
    assert settings["throttlingBurstLimit"] > 0
    assert settings["throttlingRateLimit"] > 0


def test_the_stack_exports_where_to_call_it(deploy):
    outputs = deploy().outputs
    assert outputs[Export.API_ENDPOINT.value].startswith("https://")
    assert outputs[Export.EXECUTION_ARN.value].startswith("arn:aws:execute-api:")
    assert outputs[Export.FUNCTION_NAME.value]
