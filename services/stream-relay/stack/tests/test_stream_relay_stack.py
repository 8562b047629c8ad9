"""The relay's stack under mocks: the mapping's failure semantics, alarms, and a narrow role."""

from __future__ import annotations

import json

import pytest
from platform_infra.context import StackContext
from platform_infra.platform_outputs import PlatformOutput
from platform_infra.testing import assert_least_privilege, identity_statements
from stream_relay.settings import BUS_TOPIC_ARN_ENV, HANDLER, SERVICE_NAME, SERVICE_NAME_ENV
from stream_relay_stack.program import Export
from stream_relay_stack.stream_relay import StreamRelayArgs

from platform_events.layout import Attr, ItemKind

pytestmark = pytest.mark.pulumi

MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def test_the_mapping_resumes_at_reported_failures_bisects_and_gives_up_boundedly(
    deploy, platform_outputs
):
    stack = deploy()
    mapping = stack.one(MAPPING).inputs
    queue = stack.one(QUEUE)

    assert mapping["eventSourceArn"] == platform_outputs[PlatformOutput.EVENT_STORE_STREAM_ARN]
    assert mapping["functionName"] == stack.one(FUNCTION).outputs["arn"]
    assert mapping["startingPosition"] == "TRIM_HORIZON"
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["bisectBatchOnFunctionError"] is True
    assert 0 <= mapping["maximumRetryAttempts"] <= 100
    assert 60 <= mapping["maximumRecordAgeInSeconds"] < 24 * 3600  # inside stream retention
    assert mapping["destinationConfig"]["onFailure"]["destinationArn"] == queue.outputs["arn"]
    assert mapping["batchSize"] == 100


def test_only_new_event_items_invoke_the_function(deploy):
    mapping = deploy().one(MAPPING).inputs

    [only] = mapping["filterCriteria"]["filters"]
    assert json.loads(only["pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {Attr.ITEM_KIND.value: {"S": [ItemKind.EVENT.value]}}},
    }


def test_config_tunes_the_mapping_within_bounds(deploy):
    stack = deploy(
        config={
            "batchSize": "25",
            "parallelizationFactor": "4",
            "maximumRetryAttempts": "5",
            "maximumRecordAgeSeconds": "600",
        }
    )
    mapping = stack.one(MAPPING).inputs
    assert (
        mapping["batchSize"],
        mapping["parallelizationFactor"],
        mapping["maximumRetryAttempts"],
        mapping["maximumRecordAgeInSeconds"],
    ) == (25, 4, 5, 600)


@pytest.mark.parametrize(
    "field",
    [
        {"maximum_retry_attempts": -1},
        {"maximum_record_age_seconds": -1},
        {"batch_size": 0},
        {"parallelization_factor": 11},
    ],
    ids=["infinite-retries", "infinite-age", "empty-batches", "too-parallel"],
)
def test_unbounded_or_impossible_settings_are_refused(lambda_package, field):
    context = StackContext(project="cqrs", stack="test", service="stream-relay", owner="team")
    with pytest.raises(ValueError, match=next(iter(field))):
        StreamRelayArgs(
            context=context, package=lambda_package, stream_arn="s", bus_topic_arn="t", **field
        )


def test_the_function_is_configured_from_the_function_packages_own_names(deploy, platform_outputs):
    function = deploy().one(FUNCTION).inputs
    assert function["handler"] == HANDLER
    variables = function["environment"]["variables"]
    assert variables[BUS_TOPIC_ARN_ENV] == platform_outputs[PlatformOutput.EVENT_BUS_TOPIC_ARN]
    assert variables[SERVICE_NAME_ENV] == SERVICE_NAME


def test_alarms_watch_the_iterator_age_and_the_failure_queue(deploy):
    stack = deploy(config={"alarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops"})
    function_name = stack.one(FUNCTION).inputs["name"]
    queue_name = stack.one(QUEUE).inputs["name"]
    alarms = {alarm.inputs["metricName"]: alarm.inputs for alarm in stack.of_type(ALARM)}

    iterator_age = alarms["IteratorAge"]
    assert iterator_age["namespace"] == "AWS/Lambda"
    assert iterator_age["dimensions"] == {"FunctionName": function_name}
    assert iterator_age["statistic"] == "Maximum"
    depth = alarms["ApproximateNumberOfMessagesVisible"]
    assert depth["namespace"] == "AWS/SQS"
    assert depth["dimensions"] == {"QueueName": queue_name}
    assert (depth["threshold"], depth["comparisonOperator"]) == (0, "GreaterThanThreshold")
    for alarm in (iterator_age, depth):
        assert alarm["alarmActions"] == ["arn:aws:sns:eu-west-1:123456789012:ops"]


def test_the_role_reads_only_this_stream_and_publishes_only_to_the_bus(deploy, platform_outputs):
    stack = deploy()
    statements = identity_statements(stack)
    assert_least_privilege(statements)
    queue_arn = stack.one(QUEUE).outputs["arn"]
    log_group_arn = stack.one("aws:cloudwatch/logGroup:LogGroup").outputs["arn"]

    granted = {
        (action, resource)
        for statement in statements
        for action in statement.actions
        for resource in statement.resources
    }
    stream = platform_outputs[PlatformOutput.EVENT_STORE_STREAM_ARN]
    bus = platform_outputs[PlatformOutput.EVENT_BUS_TOPIC_ARN]
    key = platform_outputs[PlatformOutput.EVENT_BUS_KEY_ARN]
    assert granted == {
        ("dynamodb:DescribeStream", stream),
        ("dynamodb:GetRecords", stream),
        ("dynamodb:GetShardIterator", stream),
        ("dynamodb:ListStreams", stream),
        ("sns:Publish", bus),
        ("sqs:SendMessage", queue_arn),
        ("kms:GenerateDataKey", key),
        ("kms:Decrypt", key),
        ("logs:CreateLogStream", f"{log_group_arn}:*"),
        ("logs:PutLogEvents", f"{log_group_arn}:*"),
    }
    [kms] = [s for s in statements if "kms:Decrypt" in s.actions]
    assert kms.condition == {"StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}}


def test_the_failure_queue_is_encrypted_and_keeps_messages_for_two_weeks(deploy):
    queue = deploy().one(QUEUE).inputs
    assert queue["sqsManagedSseEnabled"] is True
    assert queue["messageRetentionSeconds"] == 14 * 24 * 3600
    assert "fifoQueue" not in queue or queue["fifoQueue"] is False


def test_the_stack_reads_the_platform_by_reference_and_exports_what_operators_need(deploy):
    stack = deploy()
    assert stack.one("pulumi:pulumi:StackReference").id == "organization/platform/test"
    assert set(stack.outputs) == {export.value for export in Export}
    assert stack.outputs[Export.FUNCTION_NAME] == stack.one(FUNCTION).inputs["name"]


def test_every_resource_carries_the_standard_tags(deploy):
    stack = deploy()
    for resource in (stack.one(FUNCTION), stack.one(QUEUE), *stack.of_type(ALARM)):
        assert resource.inputs["tags"]["service"] == "stream-relay"
