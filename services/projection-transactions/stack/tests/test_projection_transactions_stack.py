"""The stack under mocks: what is specific to transactions (the money-only filter, its writer, its
own replay), and the policy every projection stack must keep (FIFO queues with dead letters, live
mapping off until the replay, narrow roles)."""

from __future__ import annotations

import json

import pytest
from platform_infra.platform_outputs import PLATFORM_PROJECT, PlatformOutput, platform_stack_name
from platform_infra.projection_exports import ProjectionExport
from platform_infra.testing import (
    ORGANIZATION,
    assert_least_privilege,
    identity_statements,
    public_access_violations,
    resource_policy_statements,
)
from platform_replay.definition import ReplayTarget, replay_state_machine_definition
from projection_transactions.projection import PROJECTION
from projection_transactions.settings import HANDLER, MIGRATION_HANDLER

pytestmark = pytest.mark.pulumi

QUEUE = "aws:sqs/queue:Queue"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
INVOCATION = "aws:lambda/invocation:Invocation"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
MONEY = ["MoneyDeposited", "MoneyWithdrawn"]


def queues(stack):
    return {q.name: q for q in stack.of_type(QUEUE)}


def functions(stack):
    return {f.inputs["handler"]: f for f in stack.of_type(FUNCTION)}


def statements_of(stack, policy_name):
    return [s for s in identity_statements(stack) if s.source == f"{ROLE_POLICY} {policy_name}"]


def test_the_subscription_carries_only_deposits_and_withdrawals(deploy, platform_outputs):
    stack = deploy()
    subscription = stack.one(SUBSCRIPTION).inputs

    assert subscription["topic"] == platform_outputs[PlatformOutput.EVENT_BUS_TOPIC_ARN]
    assert subscription["endpoint"] == queues(stack)["transactions-live"].outputs["arn"]
    assert subscription["rawMessageDelivery"] is True
    assert subscription["filterPolicyScope"] == "MessageAttributes"
    assert json.loads(subscription["filterPolicy"]) == {
        "aggregate_type": ["Account"],
        "event_type": MONEY,
    }
    assert json.loads(subscription["filterPolicy"]) == PROJECTION.filter_policy()
    assert stack.outputs[ProjectionExport.FILTER_POLICY] == PROJECTION.filter_policy()


def test_the_replay_reads_only_the_projections_event_types(deploy, platform_outputs):
    stack = deploy(config={"replayPageSize": "40"})
    found = queues(stack)

    expected = ReplayTarget(
        projection="transactions",
        table_name=platform_outputs[PlatformOutput.EVENT_STORE_TABLE_NAME],
        aggregate_types=("Account",),
        event_types=tuple(MONEY),
        replay_queue_url=found["transactions-replay"].outputs["url"],
        live_mapping_uuid=stack.one(MAPPING, "transactions-live-mapping").outputs["uuid"],
        dead_letter_queue_url=found["transactions-replay-dlq"].outputs["url"],
        page_size=40,
    )
    definition = json.loads(stack.one(STATE_MACHINE).inputs["definition"])
    assert definition == replay_state_machine_definition(expected)
    assert (
        stack.outputs[ProjectionExport.REPLAY_STATE_MACHINE_ARN]
        == stack.one(STATE_MACHINE).outputs["arn"]
    )


def test_live_events_wait_in_the_queue_until_the_first_replay_is_in(deploy):
    stack = deploy()
    live = stack.one(MAPPING, "transactions-live-mapping")
    replay = stack.one(MAPPING, "transactions-replay-mapping")

    assert live.inputs["enabled"] is False
    assert stack.options_of(live).ignore_changes == ("enabled",)
    assert replay.inputs["enabled"] is True
    for mapping, queue in ((live, "transactions-live"), (replay, "transactions-replay")):
        assert mapping.inputs["eventSourceArn"] == queues(stack)[queue].outputs["arn"]
        assert mapping.inputs["functionName"] == functions(stack)[HANDLER].outputs["arn"]
        assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping.inputs["batchSize"] == 10


def test_both_queues_are_fifo_and_send_poison_to_their_own_dead_letter_queue(deploy):
    stack = deploy(config={"maxReceiveCount": "3"})
    found = queues(stack)
    timeout = functions(stack)[HANDLER].inputs["timeout"]

    for name in ("transactions-live", "transactions-replay"):
        queue, dead_letters = found[name].inputs, found[f"{name}-dlq"]
        assert queue["fifoQueue"] is True
        assert dead_letters.inputs["fifoQueue"] is True
        assert queue["contentBasedDeduplication"] is False
        assert queue["sqsManagedSseEnabled"] is True
        assert queue["visibilityTimeoutSeconds"] == 6 * timeout
        assert json.loads(queue["redrivePolicy"]) == {
            "deadLetterTargetArn": dead_letters.outputs["arn"],
            "maxReceiveCount": 3,
        }


def test_only_the_event_bus_may_send_to_the_live_queue(deploy, platform_outputs):
    stack = deploy()
    (statement,) = resource_policy_statements(stack)

    assert statement.principal == {"Service": "sns.amazonaws.com"}
    assert statement.actions == ("sqs:SendMessage",)
    assert statement.resources == (queues(stack)["transactions-live"].outputs["arn"],)
    assert statement.condition == {
        "ArnEquals": {"aws:SourceArn": platform_outputs[PlatformOutput.EVENT_BUS_TOPIC_ARN]}
    }
    assert public_access_violations(resource_policy_statements(stack)) == []


def test_the_stack_reads_the_platform_through_its_own_stack_reference(deploy):
    stack = deploy()

    (reference,) = stack.of_type(STACK_REFERENCE)
    assert reference.id == platform_stack_name(stack="test", organization=ORGANIZATION)
    assert reference.id.endswith(f"/{PLATFORM_PROJECT}/test")


def test_the_projection_logs_in_as_its_writer_through_the_proxy_over_verified_tls(
    deploy, platform_outputs
):
    environment = functions(deploy())[HANDLER].inputs["environment"]["variables"]

    proxy = platform_outputs[PlatformOutput.DB_PROXY_ENDPOINT]
    assert (
        environment["DATABASE_URL"]
        == f"postgresql+psycopg://transactions_writer@{proxy}:5432/projections"
    )
    assert environment["DATABASE_IAM_AUTH"] == "true"
    assert environment["DATABASE_SSLMODE"] == "verify-full"
    assert (
        environment["EVENT_STORE_TABLE"] == platform_outputs[PlatformOutput.EVENT_STORE_TABLE_NAME]
    )
    assert environment["PROJECTION_SCHEMA"] == "transactions"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "projection-transactions"
    assert "DATABASE_SECRET_ARN" not in environment
    assert not any("password" in key.lower() for key in environment)


def test_migrations_run_at_deploy_as_the_owner_before_the_new_code(
    deploy, platform_outputs, lambda_package
):
    stack = deploy(config={"schema": "transactions_copy"})
    migration = functions(stack)[MIGRATION_HANDLER]
    environment = migration.inputs["environment"]["variables"]
    run = stack.one(INVOCATION).inputs

    address = platform_outputs[PlatformOutput.DB_INSTANCE_ADDRESS]
    assert (
        environment["DATABASE_URL"]
        == f"postgresql+psycopg://platform_owner@{address}:5432/projections"
    )
    assert environment["DATABASE_SSLMODE"] == "require"
    assert environment["PROJECTION_SCHEMA"] == "transactions_copy"
    assert run["functionName"] == migration.outputs["name"]
    assert run["triggers"] == {"package": lambda_package.sha256}
    order = [(r.type, r.inputs.get("handler")) for r in stack.resources]
    migrated = order.index((INVOCATION, None))
    assert order.index((FUNCTION, MIGRATION_HANDLER)) < migrated
    assert migrated < order.index((FUNCTION, HANDLER)) < order.index((MAPPING, None))


def test_both_functions_run_in_the_private_subnets(deploy, platform_outputs):
    for function in deploy().of_type(FUNCTION):
        vpc = function.inputs["vpcConfig"]
        assert vpc["subnetIds"] == platform_outputs[PlatformOutput.PRIVATE_SUBNET_IDS]
        assert vpc["securityGroupIds"] == [
            platform_outputs[PlatformOutput.FUNCTIONS_SECURITY_GROUP_ID]
        ]


def test_each_role_holds_only_what_its_function_needs(deploy, platform_outputs):
    stack = deploy()
    assert_least_privilege(identity_statements(stack))
    found = queues(stack)
    both = {found["transactions-live"].outputs["arn"], found["transactions-replay"].outputs["arn"]}

    projection = {
        action: set(s.resources)
        for s in statements_of(stack, "transactions-policy")
        for action in s.actions
    }
    prefix = platform_outputs[PlatformOutput.DB_PROXY_USER_ARN_PREFIX]
    assert projection["rds-db:connect"] == {f"{prefix}/transactions_writer"}
    # Gap repair reads AccountOpened (never delivered to this projection) from the event store.
    assert projection["dynamodb:Query"] == {platform_outputs[PlatformOutput.EVENT_STORE_TABLE_ARN]}
    assert projection["sqs:ReceiveMessage"] == projection["sqs:DeleteMessage"] == both
    assert "sqs:SendMessage" not in projection
    assert "secretsmanager:GetSecretValue" not in projection

    migration = {
        action: set(s.resources)
        for s in statements_of(stack, "transactions-migrate-policy")
        for action in s.actions
    }
    assert migration["secretsmanager:GetSecretValue"] == {
        platform_outputs[PlatformOutput.DB_MASTER_SECRET_ARN]
    }
    assert not any(action.startswith(("sqs:", "dynamodb:", "rds-db:")) for action in migration)


def test_alarms_name_this_projection(deploy):
    stack = deploy(config={"alarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops"})
    alarms = {a.name: a.inputs for a in stack.of_type(ALARM)}
    found = queues(stack)

    assert alarms["transactions-dlq-depth"]["dimensions"] == {
        "QueueName": found["transactions-live-dlq"].outputs["name"]
    }
    assert alarms["transactions-replay-dlq-depth"]["dimensions"] == {
        "QueueName": found["transactions-replay-dlq"].outputs["name"]
    }
    assert alarms["transactions-poison"]["dimensions"] == {
        "projection": "transactions",
        "service": "projection-transactions",
    }
    for alarm in alarms.values():
        assert alarm["alarmActions"] == ["arn:aws:sns:eu-west-1:123456789012:ops"]


def test_the_stack_exports_every_standard_projection_output(deploy):
    assert set(deploy().outputs) == {export.value for export in ProjectionExport}


def test_a_log_level_outside_the_runtimes_is_refused(deploy):
    with pytest.raises(ValueError, match="logLevel"):
        deploy(config={"logLevel": "LOUD"})
