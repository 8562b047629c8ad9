"""Who may do what, across every stack: the real programs of the platform stack (``infra/``) and of
every service stack (``services/*/stack``) under Pulumi mocks, the services reading the
platform's recorded outputs (``tests_integration.stacks``), so that every ARN in a policy can be
followed back to the stack and resource that made it.

Each stack's own tests check its component; this module checks the system: no role anywhere
holds a wildcard action or an unscoped resource, each role reaches exactly its own data and
nothing of another service, nothing is open to the public, both HTTP APIs demand SigV4 (or a
JWT) on every route, the database is reachable only from the functions' security group, and
everything that stores data is encrypted at rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from command_api_stack.component import EVENT_STORE_ACTIONS
from platform_infra.http_api import HttpApiConfigKey
from platform_infra.iam import UNSCOPED_ACTIONS
from platform_infra.platform_outputs import PlatformOutput
from platform_infra.projection_service import QUEUE_CONSUMER_ACTIONS
from platform_infra.testing import (
    RecordedStack,
    least_privilege_violations,
    public_access_violations,
    resource_policy_statements,
)
from platform_projections import QUERY_READER
from projection_balances.projection import PROJECTION as BALANCES
from projection_transactions.projection import PROJECTION as TRANSACTIONS
from stream_relay_stack.stream_relay import STREAM_READ_ACTIONS
from tests_integration.stacks import Principal, Stacks, deployed_stacks

from platform_events.layout import REPLAY_INDEX_NAME

pytestmark = pytest.mark.pulumi

PROJECTIONS = {"projection-balances": BALANCES, "projection-transactions": TRANSACTIONS}
PLUMBING_SERVICES = frozenset({"logs", "ec2", "xray"})
"""What a role needs for its own function to run (its log group, its network interfaces,
traces), as opposed to the data it works on."""
IAM_AUTHORIZATION = "AWS_IAM"
JWT_AUTHORIZATION = "JWT"
POSTGRES = 5432
ROUTE = "aws:apigatewayv2/route:Route"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
QUEUE = "aws:sqs/queue:Queue"
JWT_CONFIG = {
    HttpApiConfigKey.AUTHORIZATION.value: "jwt",
    HttpApiConfigKey.JWT_ISSUER.value: "https://issuer.example.com/tenant",
    HttpApiConfigKey.JWT_AUDIENCES.value: '["cqrs-clients"]',
}


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stacks]:
    with deployed_stacks(tmp_path_factory.mktemp("packages")) as deployed:
        yield deployed


def data_reach(principal: Principal) -> dict[str, frozenset[str]]:
    """What a role may do to data: resource ARN -> actions, its plumbing left out."""
    reach: dict[str, set[str]] = {}
    for statement in principal.statements:
        services = {action.split(":")[0] for action in statement.actions}
        if services <= PLUMBING_SERVICES:
            continue
        for resource in statement.resources:
            reach.setdefault(resource, set()).update(statement.actions)
    return {resource: frozenset(actions) for resource, actions in reach.items()}


def arn_by_url(stack: RecordedStack, url: str) -> str:
    """The ARN of the queue of ``stack`` whose URL is ``url``."""
    (queue,) = [q for q in stack.of_type(QUEUE) if q.outputs["url"] == url]
    return str(queue.outputs["arn"])


def expected_reach(stacks: Stacks) -> dict[str, dict[str, frozenset[str]]]:
    """Every principal of the system (by the physical name of what runs as it, without the
    ``<project>-<stack>`` prefix) and the one set of data it exists to work on."""
    platform = stacks.platform.outputs
    table = platform[PlatformOutput.EVENT_STORE_TABLE_ARN]
    database_user = platform[PlatformOutput.DB_PROXY_USER_ARN_PREFIX] + "/{}"
    instance = stacks.platform.one("aws:rds/instance:Instance").outputs["resourceId"]
    rds_db = platform[PlatformOutput.DB_PROXY_USER_ARN_PREFIX].split(":dbuser:")[0]
    relay = stacks["stream-relay"].outputs
    reach = {
        "-platform-db": {f"{rds_db}:dbuser:{instance}/*": frozenset({"rds-db:connect"})},
        "-command-api-handler": {table: frozenset(EVENT_STORE_ACTIONS)},
        "-stream-relay-relay": {
            platform[PlatformOutput.EVENT_STORE_STREAM_ARN]: frozenset(STREAM_READ_ACTIONS),
            platform[PlatformOutput.EVENT_BUS_TOPIC_ARN]: frozenset({"sns:Publish"}),
            platform[PlatformOutput.EVENT_BUS_KEY_ARN]: frozenset(
                {"kms:GenerateDataKey", "kms:Decrypt"}
            ),
            relay["failureQueueArn"]: frozenset({"sqs:SendMessage"}),
        },
        "-query-api-handler": {database_user.format(QUERY_READER): frozenset({"rds-db:connect"})},
    }
    for project, projection in PROJECTIONS.items():
        stack = stacks[project]
        outputs = stack.outputs
        live = outputs["liveQueueArn"]
        replay = arn_by_url(stack, outputs["replayQueueUrl"])
        replay_dlq = arn_by_url(stack, outputs["replayDeadLetterQueueUrl"])
        (live_mapping,) = [
            m.outputs["arn"]
            for m in stack.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
            if m.outputs["uuid"] == outputs["liveMappingId"]
        ]
        name = f"-{project}-{projection.name}"
        reach[name] = {
            live: frozenset(QUEUE_CONSUMER_ACTIONS),
            replay: frozenset(QUEUE_CONSUMER_ACTIONS),
            table: frozenset({"dynamodb:Query"}),
            database_user.format(projection.writer_role): frozenset({"rds-db:connect"}),
        }
        reach[f"{name}-migrate"] = {
            platform[PlatformOutput.DB_MASTER_SECRET_ARN]: frozenset(
                {"secretsmanager:GetSecretValue"}
            )
        }
        reach[f"{name}-replay"] = {
            f"{table}/index/{REPLAY_INDEX_NAME}": frozenset({"dynamodb:Query"}),
            replay: frozenset({"sqs:SendMessage", "sqs:GetQueueAttributes"}),
            replay_dlq: frozenset({"sqs:GetQueueAttributes"}),
            live_mapping: frozenset({"lambda:UpdateEventSourceMapping"}),
        }
    return reach


# ---------------------------------------------------------------------- least privilege


def test_every_stack_of_the_repository_is_checked(stacks: Stacks) -> None:
    found = {path.parent.name for path in Path(__file__).parents[2].glob("services/*/stack")}
    assert set(stacks.services) == found
    assert {principal.stack for principal in stacks.principals()} == set(stacks)


def test_no_policy_in_any_stack_has_a_wildcard_action_or_an_unscoped_resource(
    stacks: Stacks,
) -> None:
    statements = [s for principal in stacks.principals() for s in principal.statements]
    assert len(statements) > 30
    assert least_privilege_violations(statements) == []
    for statement in statements:
        for resource in statement.resources:
            if resource == "*":
                assert set(statement.actions) <= UNSCOPED_ACTIONS, statement
                continue
            # arn:partition:service:region:account:resource - only the resource part may hold a
            # wildcard (a log group's streams, the account's network interfaces).
            parts = resource.split(":", 5)
            assert len(parts) == 6, resource
            assert not any("*" in part for part in parts[:5]), resource


def test_every_role_is_used_by_exactly_one_function_state_machine_or_proxy(
    stacks: Stacks,
) -> None:
    principals = stacks.principals()
    assert len(principals) == 10
    assert all(principal.used_by != "(nothing)" for principal in principals)
    assert len({principal.used_by for principal in principals}) == len(principals)


def test_each_role_reaches_exactly_its_own_data(stacks: Stacks) -> None:
    expected = expected_reach(stacks)
    principals = {
        suffix: stacks.principal(suffix) for suffix in expected
    }  # every principal of the system has an expectation
    assert len(principals) == len(stacks.principals())
    for suffix, principal in principals.items():
        assert data_reach(principal) == expected[suffix], principal.used_by


def test_plumbing_reaches_only_the_roles_own_log_group_and_the_platforms_network(
    stacks: Stacks,
) -> None:
    platform = stacks.platform.outputs
    own_network = {
        *(f"subnet/{subnet}" for subnet in platform[PlatformOutput.PRIVATE_SUBNET_IDS]),
        f"security-group/{platform[PlatformOutput.FUNCTIONS_SECURITY_GROUP_ID]}",
        "network-interface/*",
    }
    for principal in stacks.principals():
        stack = stacks[principal.stack]
        log_groups = {
            group.inputs["name"]: group.outputs["arn"]
            for group in stack.of_type("aws:cloudwatch/logGroup:LogGroup")
        }
        own_logs = {
            f"{log_groups[function.inputs['loggingConfig']['logGroup']]}:*"
            for function in stack.of_type("aws:lambda/function:Function")
            if function.inputs["name"] == principal.used_by
        }
        for statement in principal.statements:
            services = {action.split(":")[0] for action in statement.actions}
            if not services <= PLUMBING_SERVICES or "*" in statement.resources:
                continue
            for resource in statement.resources:
                if services == {"logs"}:
                    assert resource in own_logs, (principal.used_by, resource)
                else:
                    assert resource.split(":", 5)[5] in own_network, (principal.used_by, resource)


def test_the_query_role_cannot_touch_the_event_store_or_any_secret(stacks: Stacks) -> None:
    query = stacks.principal("-query-api-handler")
    actions = {action for statement in query.statements for action in statement.actions}
    assert not {a for a in actions if a.split(":")[0] in {"dynamodb", "secretsmanager", "sns"}}
    assert stacks.platform.outputs[PlatformOutput.EVENT_STORE_TABLE_ARN] not in str(query)


def test_the_command_role_cannot_reach_the_database_or_its_secret(stacks: Stacks) -> None:
    command = stacks.principal("-command-api-handler")
    services = {a.split(":")[0] for s in command.statements for a in s.actions}
    assert services == {"logs", "dynamodb"}


def test_only_the_migrations_may_read_the_database_owners_secret(stacks: Stacks) -> None:
    secret = stacks.platform.outputs[PlatformOutput.DB_MASTER_SECRET_ARN]
    readers = {p.used_by for p in stacks.principals() if p.actions_on(secret)}
    assert readers == {
        f"cqrs-test-{project}-{projection.name}-migrate"
        for project, projection in PROJECTIONS.items()
    }


def test_each_database_user_is_the_login_of_one_role_only(stacks: Stacks) -> None:
    prefix = stacks.platform.outputs[PlatformOutput.DB_PROXY_USER_ARN_PREFIX]
    logins = {
        resource.removeprefix(f"{prefix}/"): principal.used_by
        for principal in stacks.principals()
        for resource in principal.resources
        if resource.startswith(f"{prefix}/")
    }
    assert logins == {
        QUERY_READER: "cqrs-test-query-api-handler",
        BALANCES.writer_role: "cqrs-test-projection-balances-balances",
        TRANSACTIONS.writer_role: "cqrs-test-projection-transactions-transactions",
    }


def test_a_projection_cannot_touch_another_projections_resources(stacks: Stacks) -> None:
    for project in PROJECTIONS:
        others = set().union(
            *(stacks.created_arns(other) for other in PROJECTIONS if other != project)
        )
        assert others
        for principal in stacks.principals():
            if principal.stack == project:
                assert not principal.resources & others, principal.used_by


def test_no_service_reaches_what_another_service_created(stacks: Stacks) -> None:
    for principal in stacks.principals():
        foreign = set().union(
            *(
                stacks.created_arns(name)
                for name in stacks
                if name not in (principal.stack, "platform")
            )
        )
        reached = {r.removesuffix(":*") for r in principal.resources}
        assert not reached & foreign, principal.used_by


def test_the_event_store_is_append_only_for_every_role(stacks: Stacks) -> None:
    table = stacks.platform.outputs[PlatformOutput.EVENT_STORE_TABLE_ARN]
    writes = {"dynamodb:PutItem"}
    for principal in stacks.principals():
        on_table = {
            action
            for statement in principal.statements
            for resource in statement.resources
            if resource == table or resource.startswith(f"{table}/")
            for action in statement.actions
        }
        assert on_table <= {*EVENT_STORE_ACTIONS, *STREAM_READ_ACTIONS}, principal.used_by
        if on_table & writes:
            assert principal.used_by == "cqrs-test-command-api-handler"


def test_roles_trust_only_the_service_that_runs_as_them(stacks: Stacks) -> None:
    for principal in stacks.principals():
        trust = principal.role.inputs["assumeRolePolicy"]
        assert '"AWS"' not in trust, principal.used_by
        assert '"*"' not in trust, principal.used_by
        assert '"Service"' in trust


# ---------------------------------------------------------------------- nothing public


def test_no_resource_policy_in_any_stack_is_open_to_anyone(stacks: Stacks) -> None:
    statements = [s for stack in stacks.values() for s in resource_policy_statements(stack)]
    assert {s.source.split()[0] for s in statements} >= {
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:sqs/queuePolicy:QueuePolicy",
    }
    assert public_access_violations(statements) == []


def test_functions_may_be_invoked_only_by_their_own_api_routes(stacks: Stacks) -> None:
    for name, stack in stacks.items():
        for permission in stack.of_type("aws:lambda/permission:Permission"):
            inputs = permission.inputs
            assert inputs["principal"] == "apigateway.amazonaws.com", name
            assert inputs["action"] == "lambda:InvokeFunction"
            assert inputs["sourceArn"].startswith(f"{stack.outputs['executionArn']}/*/"), name


def test_the_stacks_create_no_users_access_keys_or_public_urls(stacks: Stacks) -> None:
    forbidden = (
        "aws:iam/user",
        "aws:iam/accessKey",
        "aws:lambda/functionUrl",
        "aws:ec2/internetGateway",
        "aws:ec2/natGateway",
        "aws:ec2/eip",
        "aws:s3/bucket",
    )
    for name, stack in stacks.items():
        assert not [r.type for r in stack.resources if r.type.startswith(forbidden)], name


# ---------------------------------------------------------------------- HTTP APIs


def api_routes(stacks: Stacks) -> dict[str, list[dict[str, object]]]:
    return {
        name: [route.inputs for route in stack.of_type(ROUTE)]
        for name, stack in stacks.items()
        if stack.of_type("aws:apigatewayv2/api:Api")
    }


def test_both_http_apis_require_iam_on_every_route_by_default(stacks: Stacks) -> None:
    routes = api_routes(stacks)
    assert set(routes) == {"command-api", "query-api"}
    for name, stack in stacks.items():
        for api in stack.of_type("aws:apigatewayv2/api:Api"):
            # Quick create would add an unauthorized $default route of its own.
            assert not {"target", "routeKey"} & set(api.inputs), name
    for name, inputs in routes.items():
        assert inputs, name
        assert {route["authorizationType"] for route in inputs} == {IAM_AUTHORIZATION}, name


def test_with_jwt_configured_every_route_requires_a_token(tmp_path: Path) -> None:
    config = {"command-api": JWT_CONFIG, "query-api": JWT_CONFIG}
    with deployed_stacks(tmp_path, config) as stacks:
        for name, inputs in api_routes(stacks).items():
            assert {route["authorizationType"] for route in inputs} == {JWT_AUTHORIZATION}, name
            (authorizer,) = stacks[name].of_type("aws:apigatewayv2/authorizer:Authorizer")
            assert {route["authorizerId"] for route in inputs} == {authorizer.id}, name


# ---------------------------------------------------------------------- network


def test_the_database_is_reachable_only_from_the_functions_security_group(stacks: Stacks) -> None:
    platform = stacks.platform
    outputs = platform.outputs
    functions = outputs[PlatformOutput.FUNCTIONS_SECURITY_GROUP_ID]
    proxy = outputs[PlatformOutput.PROXY_SECURITY_GROUP_ID]
    database = outputs[PlatformOutput.DATABASE_SECURITY_GROUP_ID]
    admitted: dict[str, set[tuple[str, int, int]]] = {}
    for rule in platform.of_type(INGRESS_RULE):
        inputs = rule.inputs
        assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(inputs), rule.name
        admitted.setdefault(inputs["securityGroupId"], set()).add(
            (inputs["referencedSecurityGroupId"], int(inputs["fromPort"]), int(inputs["toPort"]))
        )
    # The proxy is itself reachable from the functions only: nothing else gets to Postgres.
    assert admitted[proxy] == {(functions, POSTGRES, POSTGRES)}
    assert admitted[database] == {(functions, POSTGRES, POSTGRES), (proxy, POSTGRES, POSTGRES)}
    assert all(not group.inputs.get("ingress") for group in platform.of_type(SECURITY_GROUP))


def test_no_service_stack_opens_the_network(stacks: Stacks) -> None:
    functions = stacks.platform.outputs[PlatformOutput.FUNCTIONS_SECURITY_GROUP_ID]
    for name, stack in stacks.services.items():
        assert not [r for r in stack.resources if r.type.startswith(("aws:ec2/", "aws:vpc/"))]
        for function in stack.of_type("aws:lambda/function:Function"):
            vpc = function.inputs.get("vpcConfig")
            if vpc is not None:
                assert vpc["securityGroupIds"] == [functions], name


def test_the_database_is_private_and_its_proxy_demands_tls_and_iam(stacks: Stacks) -> None:
    instance = stacks.platform.one("aws:rds/instance:Instance").inputs
    assert instance["publiclyAccessible"] is False
    assert instance["iamDatabaseAuthenticationEnabled"] is True
    assert not [
        s
        for s in stacks.platform.of_type("aws:ec2/subnet:Subnet")
        if s.inputs["mapPublicIpOnLaunch"]
    ]
    proxy = stacks.platform.one("aws:rds/proxy:Proxy").inputs
    assert proxy["requireTls"] is True
    assert proxy["defaultAuthScheme"] == "IAM_AUTH"


# ---------------------------------------------------------------------- encryption at rest


def test_everything_that_stores_data_is_encrypted_at_rest(stacks: Stacks) -> None:
    platform = stacks.platform
    assert platform.one("aws:dynamodb/table:Table").inputs["serverSideEncryption"]["enabled"]
    assert (
        platform.one("aws:sns/topic:Topic").inputs["kmsMasterKeyId"]
        == (platform.one("aws:kms/key:Key").outputs["arn"])
    )
    instance = platform.one("aws:rds/instance:Instance").inputs
    assert instance["storageEncrypted"] is True
    # The owner's password lives in an RDS-managed Secrets Manager secret (KMS-encrypted).
    assert instance["manageMasterUserPassword"] is True
    queues = [(name, q) for name, stack in stacks.items() for q in stack.of_type(QUEUE)]
    assert len(queues) == 9
    for name, queue in queues:
        assert queue.inputs.get("sqsManagedSseEnabled") or queue.inputs.get("kmsMasterKeyId"), (
            name,
            queue.name,
        )
