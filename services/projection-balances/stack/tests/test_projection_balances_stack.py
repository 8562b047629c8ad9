"""The stack under mocks: queue semantics, the subscription's filter, the mapping, narrow roles."""

from __future__ import annotations

import json

import pytest
from platform_infra.platform_outputs import PlatformOutput
from platform_infra.projection_exports import ProjectionExport
from platform_infra.projection_service import ProjectionServiceArgs
from platform_infra.testing import (
    assert_least_privilege,
    identity_statements,
    public_access_violations,
    resource_policy_statements,
)
from projection_balances.projection import PROJECTION
from projection_balances.settings import HANDLER, MIGRATION_HANDLER

pytestmark = pytest.mark.pulumi

QUEUE = "aws:sqs/queue:Queue"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
INVOCATION = "aws:lambda/invocation:Invocation"


def queues(stack):
    return {q.name: q for q in stack.of_type(QUEUE)}


def functions(stack):
    return {f.inputs["handler"]: f for f in stack.of_type(FUNCTION)}


def statements_of(stack, policy_name):
    return [s for s in identity_statements(stack) if s.source == f"{ROLE_POLICY} {policy_name}"]


def test_the_live_queue_is_fifo_and_sends_poison_to_its_dead_letter_queue(deploy):
    stack = deploy()
    found = queues(stack)
    live, dlq = found["balances-live"].inputs, found["balances-live-dlq"]

    assert live["fifoQueue"] is True
    assert dlq.inputs["fifoQueue"] is True
    assert live["name"].endswith(".fifo")
    assert live["contentBasedDeduplication"] is False
    assert live["sqsManagedSseEnabled"] is True
    assert json.loads(live["redrivePolicy"]) == {
        "deadLetterTargetArn": dlq.outputs["arn"],
        "maxReceiveCount": 5,
    }
    timeout = functions(stack)[HANDLER].inputs["timeout"]
    assert live["visibilityTimeoutSeconds"] == 6 * timeout


def test_max_receive_count_comes_from_config(deploy):
    live = queues(deploy(config={"maxReceiveCount": "3"}))["balances-live"].inputs

    assert json.loads(live["redrivePolicy"])["maxReceiveCount"] == 3


def test_the_subscription_delivers_raw_envelopes_filtered_by_the_declaration(
    deploy, platform_outputs
):
    stack = deploy()
    subscription = stack.one(SUBSCRIPTION).inputs

    assert subscription["topic"] == platform_outputs[PlatformOutput.EVENT_BUS_TOPIC_ARN]
    assert subscription["protocol"] == "sqs"
    assert subscription["endpoint"] == queues(stack)["balances-live"].outputs["arn"]
    assert subscription["rawMessageDelivery"] is True
    assert subscription["filterPolicyScope"] == "MessageAttributes"
    assert json.loads(subscription["filterPolicy"]) == PROJECTION.filter_policy()
    assert json.loads(subscription["filterPolicy"])["event_type"] == [
        "AccountClosed",
        "AccountOpened",
        "MoneyDeposited",
        "MoneyWithdrawn",
    ]
    assert stack.outputs[ProjectionExport.FILTER_POLICY] == PROJECTION.filter_policy()


def test_only_the_event_bus_may_send_to_the_live_queue(deploy, platform_outputs):
    stack = deploy()
    (statement,) = resource_policy_statements(stack)

    assert statement.principal == {"Service": "sns.amazonaws.com"}
    assert statement.actions == ("sqs:SendMessage",)
    assert statement.resources == (queues(stack)["balances-live"].outputs["arn"],)
    assert statement.condition == {
        "ArnEquals": {"aws:SourceArn": platform_outputs[PlatformOutput.EVENT_BUS_TOPIC_ARN]}
    }
    assert public_access_violations(resource_policy_statements(stack)) == []


def test_both_mappings_report_batch_item_failures_in_batches_of_ten(deploy):
    stack = deploy()
    found = queues(stack)

    for name, queue in (
        ("balances-live-mapping", "balances-live"),
        ("balances-replay-mapping", "balances-replay"),
    ):
        mapping = stack.one(MAPPING, name).inputs
        assert mapping["eventSourceArn"] == found[queue].outputs["arn"]
        assert mapping["functionName"] == functions(stack)[HANDLER].outputs["arn"]
        assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["batchSize"] == 10


def test_concurrency_caps_come_from_config(deploy):
    stack = deploy(config={"maximumConcurrency": "5", "replayMaximumConcurrency": "3"})

    assert stack.one(MAPPING, "balances-live-mapping").inputs["scalingConfig"] == {
        "maximumConcurrency": 5
    }
    assert stack.one(MAPPING, "balances-replay-mapping").inputs["scalingConfig"] == {
        "maximumConcurrency": 3
    }


def test_the_projection_logs_in_as_its_writer_through_the_proxy_over_verified_tls(
    deploy, platform_outputs
):
    environment = functions(deploy())[HANDLER].inputs["environment"]["variables"]

    proxy = platform_outputs[PlatformOutput.DB_PROXY_ENDPOINT]
    assert (
        environment["DATABASE_URL"]
        == f"postgresql+psycopg://balances_writer@{proxy}:5432/projections"
    )
    assert environment["DATABASE_IAM_AUTH"] == "true"
    assert environment["DATABASE_SSLMODE"] == "verify-full"
    assert (
        environment["EVENT_STORE_TABLE"] == platform_outputs[PlatformOutput.EVENT_STORE_TABLE_NAME]
    )
    assert environment["PROJECTION_SCHEMA"] == "balances"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "projection-balances"
    assert "DATABASE_SECRET_ARN" not in environment
    assert not any("password" in key.lower() for key in environment)


def test_migrations_run_at_deploy_as_the_owner_with_its_secret(
    deploy, platform_outputs, lambda_package
):
    stack = deploy()
    migration = functions(stack)[MIGRATION_HANDLER]
    environment = migration.inputs["environment"]["variables"]
    run = stack.one(INVOCATION).inputs

    address = platform_outputs[PlatformOutput.DB_INSTANCE_ADDRESS]
    assert (
        environment["DATABASE_URL"]
        == f"postgresql+psycopg://platform_owner@{address}:5432/projections"
    )
    assert (
        environment["DATABASE_SECRET_ARN"] == platform_outputs[PlatformOutput.DB_MASTER_SECRET_ARN]
    )
    assert environment["DATABASE_SSLMODE"] == "require"
    assert run["functionName"] == migration.outputs["name"]
    assert run["triggers"] == {"package": lambda_package.sha256}


def test_new_code_is_deployed_only_after_its_migrations_ran(deploy):
    stack = deploy()
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
    live_queue = queues(stack)["balances-live"].outputs["arn"]

    replay_queue = queues(stack)["balances-replay"].outputs["arn"]
    projection = {
        action: set(s.resources)
        for s in statements_of(stack, "balances-policy")
        for action in s.actions
    }
    prefix = platform_outputs[PlatformOutput.DB_PROXY_USER_ARN_PREFIX]
    assert projection["rds-db:connect"] == {f"{prefix}/balances_writer"}
    assert projection["dynamodb:Query"] == {platform_outputs[PlatformOutput.EVENT_STORE_TABLE_ARN]}
    assert projection["sqs:ReceiveMessage"] == {live_queue, replay_queue}
    assert projection["sqs:DeleteMessage"] == {live_queue, replay_queue}
    assert "sqs:SendMessage" not in projection
    assert "secretsmanager:GetSecretValue" not in projection

    migration = {
        action: set(s.resources)
        for s in statements_of(stack, "balances-migrate-policy")
        for action in s.actions
    }
    assert migration["secretsmanager:GetSecretValue"] == {
        platform_outputs[PlatformOutput.DB_MASTER_SECRET_ARN]
    }
    assert not any(action.startswith(("sqs:", "dynamodb:", "rds-db:")) for action in migration)


def test_alarms_watch_the_dead_letter_queue_the_backlog_and_poison(deploy):
    stack = deploy(config={"alarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops"})
    alarms = {a.name: a.inputs for a in stack.of_type(ALARM)}
    found = queues(stack)

    dlq = alarms["balances-dlq-depth"]
    assert (dlq["metricName"], dlq["threshold"]) == ("ApproximateNumberOfMessagesVisible", 0)
    assert dlq["dimensions"] == {"QueueName": found["balances-live-dlq"].outputs["name"]}
    oldest = alarms["balances-oldest-message"]
    assert oldest["metricName"] == "ApproximateAgeOfOldestMessage"
    assert oldest["dimensions"] == {"QueueName": found["balances-live"].outputs["name"]}
    poison = alarms["balances-poison"]
    assert (poison["metricName"], poison["namespace"]) == ("PoisonMessages", "cqrs")
    assert poison["dimensions"] == {"projection": "balances", "service": "projection-balances"}
    replay_dlq = alarms["balances-replay-dlq-depth"]
    assert replay_dlq["dimensions"] == {"QueueName": found["balances-replay-dlq"].outputs["name"]}
    failed = alarms["balances-replay-failed"]
    assert (failed["namespace"], failed["metricName"]) == ("AWS/States", "ExecutionsFailed")
    assert failed["dimensions"] == {
        "StateMachineArn": stack.one("aws:sfn/stateMachine:StateMachine").outputs["arn"]
    }
    for alarm in alarms.values():
        assert alarm["alarmActions"] == ["arn:aws:sns:eu-west-1:123456789012:ops"]


@pytest.mark.parametrize(
    "change",
    [
        {"batch_size": 11},
        {"max_receive_count": 0},
        {"maximum_concurrency": 1},
        {"replay_maximum_concurrency": 1},
        {"event_types": ()},
        {"aggregate_types": ("",)},
    ],
    ids=[
        "fifo-batch-limit",
        "no-receives",
        "concurrency-below-two",
        "replay-concurrency-below-two",
        "no-event-types",
        "empty-aggregate-type",
    ],
)
def test_settings_out_of_range_are_refused(lambda_package, change):
    arguments = {
        "context": None,
        "package": lambda_package,
        "projection": "balances",
        "service_name": "projection-balances",
        "handler": HANDLER,
        "migration_handler": MIGRATION_HANDLER,
        "aggregate_types": PROJECTION.aggregate_types,
        "event_types": PROJECTION.event_types,
        "bus_topic_arn": "topic",
        "event_store_table_name": "table",
        "event_store_table_arn": "table",
        "vpc": None,
        "database_user_arn": "user",
        "migration_secret_arn": "secret",
    }
    with pytest.raises(ValueError, match="out of range"):
        ProjectionServiceArgs(**{**arguments, **change})
