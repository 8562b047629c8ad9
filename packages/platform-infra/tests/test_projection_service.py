"""The ProjectionService component under mocks: the replay wiring (queues, mappings, the state
machine built from platform_replay's definition, its least-privilege role) and the live mapping
that only the replay switches."""

from __future__ import annotations

import json

import pytest
from platform_infra.context import StackContext
from platform_infra.lambda_function import VpcConfig
from platform_infra.projection_exports import ProjectionExport, export_projection_service
from platform_infra.projection_service import ProjectionService, ProjectionServiceArgs
from platform_infra.testing import (
    assert_least_privilege,
    identity_statements,
    policy_statements,
)
from platform_replay.definition import (
    ReplayTarget,
    replay_assume_role_policy,
    replay_state_machine_definition,
)

pytestmark = pytest.mark.pulumi

TABLE_NAME = "cqrs-test-platform-events"
TABLE_ARN = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{TABLE_NAME}"
QUEUE = "aws:sqs/queue:Queue"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


@pytest.fixture
def args(lambda_package) -> ProjectionServiceArgs:
    return ProjectionServiceArgs(
        context=StackContext(
            project="cqrs", stack="test", service="projection-ledger", owner="team-ledger"
        ),
        package=lambda_package,
        projection="ledger",
        service_name="projection-ledger",
        handler="ledger.handler.lambda_handler",
        migration_handler="ledger.migrate.lambda_handler",
        aggregate_types=("Account",),
        event_types=("MoneyWithdrawn", "MoneyDeposited"),
        bus_topic_arn="arn:aws:sns:eu-west-1:123456789012:events.fifo",
        event_store_table_name=TABLE_NAME,
        event_store_table_arn=TABLE_ARN,
        vpc=VpcConfig(subnet_ids=["subnet-a"], security_group_ids=["sg-a"]),
        database_user_arn="arn:aws:rds-db:eu-west-1:123456789012:dbuser:prx-1/ledger_writer",
        migration_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:owner",
        replay_page_size=50,
        replay_drain_poll_seconds=5,
    )


@pytest.fixture
def deploy(pulumi_harness, args):
    def run(**changes):
        arguments = ProjectionServiceArgs(**{**args.__dict__, **changes})

        def program() -> None:
            export_projection_service(ProjectionService("ledger", arguments))

        return pulumi_harness.run(program, project="projection-ledger")

    return run


def queues(stack):
    return {queue.name: queue for queue in stack.of_type(QUEUE)}


def test_the_live_mapping_starts_disabled_and_no_deployment_switches_it(deploy):
    stack = deploy()
    live = stack.one(MAPPING, "ledger-live-mapping")

    assert live.inputs["enabled"] is False
    assert live.inputs["eventSourceArn"] == queues(stack)["ledger-live"].outputs["arn"]
    assert stack.options_of(live).ignore_changes == ("enabled",)


def test_the_replay_mapping_is_enabled_and_reads_the_replay_queue(deploy):
    stack = deploy(replay_maximum_concurrency=4)
    replay = stack.one(MAPPING, "ledger-replay-mapping")
    found = queues(stack)

    assert replay.inputs["enabled"] is True
    assert replay.inputs["eventSourceArn"] == found["ledger-replay"].outputs["arn"]
    # FIFO: ten messages per batch at most and no batching window; each is a page of events.
    assert replay.inputs["batchSize"] == 10
    assert "maximumBatchingWindowInSeconds" not in replay.inputs
    assert replay.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert replay.inputs["scalingConfig"] == {"maximumConcurrency": 4}
    assert stack.options_of(replay).ignore_changes == ()


def test_the_replay_queue_is_fifo_with_its_own_dead_letter_queue(deploy):
    found = queues(deploy(max_receive_count=3))
    replay, dead_letters = found["ledger-replay"], found["ledger-replay-dlq"]

    assert replay.inputs["fifoQueue"] is True
    assert replay.inputs["name"].endswith("ledger-replay.fifo")
    assert replay.inputs["contentBasedDeduplication"] is False
    assert dead_letters.inputs["fifoQueue"] is True
    assert json.loads(replay.inputs["redrivePolicy"]) == {
        "deadLetterTargetArn": dead_letters.outputs["arn"],
        "maxReceiveCount": 3,
    }
    assert found["ledger-live-dlq"].outputs["arn"] != dead_letters.outputs["arn"]


def test_the_state_machine_runs_platform_replays_definition_for_the_real_resources(deploy):
    stack = deploy()
    found = queues(stack)
    machine = stack.one(STATE_MACHINE)

    expected = ReplayTarget(
        projection="ledger",
        table_name=TABLE_NAME,
        aggregate_types=("Account",),
        event_types=("MoneyDeposited", "MoneyWithdrawn"),
        replay_queue_url=found["ledger-replay"].outputs["url"],
        live_mapping_uuid=stack.one(MAPPING, "ledger-live-mapping").outputs["uuid"],
        dead_letter_queue_url=found["ledger-replay-dlq"].outputs["url"],
        page_size=50,
        drain_poll_seconds=5,
    )
    assert json.loads(machine.inputs["definition"]) == replay_state_machine_definition(expected)
    assert machine.inputs["type"] == "STANDARD"
    assert machine.inputs["roleArn"] == stack.one(ROLE, "ledger-replay-role").outputs["arn"]
    logging = machine.inputs["loggingConfiguration"]
    log_group = stack.one("aws:cloudwatch/logGroup:LogGroup", "ledger-replay-logs")
    assert logging["logDestination"] == f"{log_group.outputs['arn']}:*"
    assert log_group.inputs["name"].startswith("/aws/vendedlogs/")
    assert logging["includeExecutionData"] is False
    # Created only once its role may deliver logs (Step Functions checks at creation).
    policy = stack.one(ROLE_POLICY, "ledger-replay-policy")
    assert stack.urn_of(policy) in stack.options_of(machine).dependencies


def test_the_state_machine_role_holds_only_what_a_replay_does(deploy):
    stack = deploy()
    found = queues(stack)
    role = stack.one(ROLE, "ledger-replay-role")
    statements = policy_statements(
        stack.one(ROLE_POLICY, "ledger-replay-policy").inputs["policy"], "replay"
    )

    assert json.loads(role.inputs["assumeRolePolicy"]) == replay_assume_role_policy()
    granted: dict[str, set[str]] = {}
    for statement in statements:
        for action in statement.actions:
            granted.setdefault(action, set()).update(statement.resources)
    replay_queue = found["ledger-replay"].outputs["arn"]
    log_delivery = {action for action, resources in granted.items() if resources == {"*"}}
    assert {action: resources for action, resources in granted.items() if resources != {"*"}} == {
        "dynamodb:Query": {f"{TABLE_ARN}/index/replay_index"},
        "sqs:SendMessage": {replay_queue},
        "sqs:GetQueueAttributes": {replay_queue, found["ledger-replay-dlq"].outputs["arn"]},
        "lambda:UpdateEventSourceMapping": {
            stack.one(MAPPING, "ledger-live-mapping").outputs["arn"]
        },
    }
    # Only CloudWatch Logs' delivery actions, which take no resource, are unscoped.
    assert log_delivery
    assert all(action.startswith("logs:") for action in log_delivery)
    assert "logs:PutLogEvents" not in log_delivery
    assert_least_privilege(statements)
    assert_least_privilege(identity_statements(stack))


def test_the_projection_function_consumes_both_queues_and_sends_to_neither(deploy):
    stack = deploy()
    found = queues(stack)
    function = [s for s in identity_statements(stack) if s.source.endswith(" ledger-policy")]
    granted = {action: set(s.resources) for s in function for action in s.actions}

    both = {found["ledger-live"].outputs["arn"], found["ledger-replay"].outputs["arn"]}
    assert granted["sqs:ReceiveMessage"] == granted["sqs:DeleteMessage"] == both
    assert "sqs:SendMessage" not in granted
    assert "states:StartExecution" not in granted


def test_the_stack_exports_what_operators_and_tools_need(deploy):
    stack = deploy()
    outputs = stack.outputs
    found = queues(stack)

    assert (
        outputs[ProjectionExport.REPLAY_STATE_MACHINE_ARN]
        == (stack.one(STATE_MACHINE).outputs["arn"])
    )
    assert outputs[ProjectionExport.REPLAY_QUEUE_URL] == found["ledger-replay"].outputs["url"]
    assert (
        outputs[ProjectionExport.REPLAY_DEAD_LETTER_QUEUE_URL]
        == (found["ledger-replay-dlq"].outputs["url"])
    )
    assert outputs[ProjectionExport.LIVE_QUEUE_URL] == found["ledger-live"].outputs["url"]
    assert (
        outputs[ProjectionExport.LIVE_MAPPING_ID]
        == (stack.one(MAPPING, "ledger-live-mapping").outputs["uuid"])
    )
    assert (
        outputs[ProjectionExport.REPLAY_MAPPING_ID]
        == (stack.one(MAPPING, "ledger-replay-mapping").outputs["uuid"])
    )
    assert outputs[ProjectionExport.FILTER_POLICY] == {
        "aggregate_type": ["Account"],
        "event_type": ["MoneyDeposited", "MoneyWithdrawn"],
    }
    assert set(outputs) == {export.value for export in ProjectionExport}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"replay_page_size": 0}, "page_size"),
        ({"replay_drain_poll_seconds": 0}, "drain_poll_seconds"),
        ({"replay_partition_concurrency": 0}, "max_concurrency"),
    ],
)
def test_replay_settings_are_checked_before_anything_is_created(args, change, message):
    with pytest.raises(ValueError, match=message):
        ProjectionServiceArgs(**{**args.__dict__, **change})
