"""The stream relay: its function, the event source mapping on the event store's stream, where
poison batches go, and the alarms that say when the relay falls behind or drops something.

The mapping's settings are the other half of the function's failure semantics
(``stream_relay.relay``): ``ReportBatchItemFailures`` makes Lambda resume at the record the
function names, bisection isolates a poison record, retries and record age are bounded so one
bad record cannot stop the stream for its 24 hours of retention, and what is given up on lands
in an SQS queue whose depth alarms. That queue receives Lambda's description of the failed
batch (shard, sequence numbers), not the records: an operator re-drives from the event store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

import pulumi
import pulumi_aws as aws
from platform_infra.context import StackContext
from platform_infra.iam import Statement
from platform_infra.lambda_function import LambdaFunction, LambdaFunctionArgs
from platform_infra.naming import ResourceKind
from platform_infra.packaging import LambdaPackage
from stream_relay.selection import event_filter_pattern
from stream_relay.settings import (
    BUS_TOPIC_ARN_ENV,
    HANDLER,
    METRICS_NAMESPACE_ENV,
    SERVICE_NAME,
    SERVICE_NAME_ENV,
)

STARTING_POSITION: Final = "TRIM_HORIZON"
"""Start with the oldest record the stream still holds: a new relay misses no event."""
REPORT_BATCH_ITEM_FAILURES: Final = "ReportBatchItemFailures"
STREAM_READ_ACTIONS: Final = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
FAILURE_QUEUE_RETENTION_SECONDS: Final = 14 * 24 * 3600
"""SQS's maximum: time for an operator to look, well beyond the stream's 24 hour retention."""

LogLevel: TypeAlias = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
DEFAULT_BATCH_SIZE: Final = 100
"""At most ten PublishBatch calls per invocation."""
DEFAULT_PARALLELIZATION_FACTOR: Final = 1
DEFAULT_MAXIMUM_RETRY_ATTEMPTS: Final = 50
"""Enough to ride out a short SNS disturbance; bisection needs only log2(batch size) of them to
isolate a poison record."""
DEFAULT_MAXIMUM_RECORD_AGE_SECONDS: Final = 6 * 3600
"""Give up on a record after six hours: well inside the stream's 24 hour retention, so what the
failure queue names can still be read back while someone looks at it."""
DEFAULT_ITERATOR_AGE_THRESHOLD_MS: Final = 120_000


@dataclass(frozen=True)
class StreamRelayArgs:
    context: StackContext
    package: LambdaPackage
    stream_arn: pulumi.Input[str]
    """The event store table's stream: the only one the relay may read."""
    bus_topic_arn: pulumi.Input[str]
    """The SNS FIFO event bus: the only topic the relay may publish to."""
    bus_key_arn: pulumi.Input[str] | None = None
    """The KMS key encrypting the bus; publishing needs to use it."""
    batch_size: int = DEFAULT_BATCH_SIZE
    maximum_batching_window_seconds: int = 0
    """0: invoke as soon as records arrive; events are latency-sensitive, not cost-sensitive."""
    parallelization_factor: int = DEFAULT_PARALLELIZATION_FACTOR
    """Concurrent batches per shard. Records of one item (one event) stay in one batch lane, and
    each stream_id's events keep their order within the shard, so raising it keeps ordering."""
    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_record_age_seconds: int = DEFAULT_MAXIMUM_RECORD_AGE_SECONDS
    memory_mb: int = 256
    timeout_seconds: int = 60
    log_level: LogLevel = "INFO"
    metrics_namespace: str | None = None
    """CloudWatch namespace of the relay's metrics; defaults to the project."""
    iterator_age_threshold_ms: int = DEFAULT_ITERATOR_AGE_THRESHOLD_MS
    """Alarm when the oldest unprocessed record is older than this for three minutes."""
    alarm_actions: Sequence[pulumi.Input[str]] = ()
    """ARNs notified when an alarm fires or clears (e.g. an operations SNS topic)."""

    def __post_init__(self) -> None:
        # Bounds from CreateEventSourceMapping for DynamoDB streams; -1 (forever) is refused on
        # purpose: an unbounded poison record would block its shard until the records expire.
        checks = {
            "batch_size": 1 <= self.batch_size <= 10_000,
            "maximum_batching_window_seconds": 0 <= self.maximum_batching_window_seconds <= 300,
            "parallelization_factor": 1 <= self.parallelization_factor <= 10,
            "maximum_retry_attempts": 0 <= self.maximum_retry_attempts <= 10_000,
            "maximum_record_age_seconds": 60 <= self.maximum_record_age_seconds <= 604_800,
            "iterator_age_threshold_ms": self.iterator_age_threshold_ms > 0,
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise ValueError(f"stream relay settings out of range: {wrong}")


class StreamRelay(pulumi.ComponentResource):
    """DynamoDB stream -> relay function -> SNS FIFO bus, with its failure queue and alarms."""

    function: LambdaFunction
    mapping: aws.lambda_.EventSourceMapping
    failure_queue: aws.sqs.Queue
    iterator_age_alarm: aws.cloudwatch.MetricAlarm
    failure_queue_alarm: aws.cloudwatch.MetricAlarm
    function_name: pulumi.Output[str]
    failure_queue_arn: pulumi.Output[str]
    failure_queue_url: pulumi.Output[str]
    mapping_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: StreamRelayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cqrs:stream-relay:StreamRelay", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)

        # A standard queue: Lambda's stream on-failure destinations do not take FIFO queues.
        self.failure_queue = aws.sqs.Queue(
            f"{name}-failures",
            name=context.name(f"{name}-failures", ResourceKind.SQS_QUEUE),
            message_retention_seconds=FAILURE_QUEUE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=child,
        )

        self.function = LambdaFunction(
            name,
            LambdaFunctionArgs(
                context=context,
                package=args.package,
                handler=HANDLER,
                description="Publishes event store stream records to the event bus",
                statements=self._statements(args),
                environment={
                    BUS_TOPIC_ARN_ENV: args.bus_topic_arn,
                    SERVICE_NAME_ENV: SERVICE_NAME,
                    METRICS_NAMESPACE_ENV: args.metrics_namespace or context.project,
                },
                memory_mb=args.memory_mb,
                timeout_seconds=args.timeout_seconds,
                log_level=args.log_level,
            ),
            opts=child,
        )

        self.mapping = aws.lambda_.EventSourceMapping(
            f"{name}-mapping",
            event_source_arn=args.stream_arn,
            function_name=self.function.target_arn,
            starting_position=STARTING_POSITION,
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.maximum_batching_window_seconds,
            parallelization_factor=args.parallelization_factor,
            function_response_types=[REPORT_BATCH_ITEM_FAILURES],
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=args.maximum_retry_attempts,
            maximum_record_age_in_seconds=args.maximum_record_age_seconds,
            destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
                on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                    destination_arn=self.failure_queue.arn
                )
            ),
            filter_criteria=aws.lambda_.EventSourceMappingFilterCriteriaArgs(
                filters=[
                    aws.lambda_.EventSourceMappingFilterCriteriaFilterArgs(
                        pattern=json.dumps(event_filter_pattern(), sort_keys=True)
                    )
                ]
            ),
            # Lambda checks the role when the mapping is created: the policy must exist first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.function]),
        )

        alarm_actions = list(args.alarm_actions)
        self.iterator_age_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-iterator-age",
            name=context.name(f"{name}-iterator-age", ResourceKind.CLOUDWATCH_ALARM),
            alarm_description=(
                "The relay is behind the event store: events reach the bus late, and records "
                "near the stream's 24 hour retention are at risk."
            ),
            namespace="AWS/Lambda",
            metric_name="IteratorAge",
            dimensions={"FunctionName": self.function.function_name},
            statistic="Maximum",
            period=60,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            threshold=args.iterator_age_threshold_ms,
            comparison_operator="GreaterThanThreshold",
            # No invocations means nothing is waiting.
            treat_missing_data="notBreaching",
            alarm_actions=alarm_actions,
            ok_actions=alarm_actions,
            opts=child,
        )
        self.failure_queue_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-failures-depth",
            name=context.name(f"{name}-failures-depth", ResourceKind.CLOUDWATCH_ALARM),
            alarm_description=(
                "The relay gave up on stream records (poison record, or retries/record age "
                "exhausted): events in that range are not on the bus. Re-drive them from the "
                "event store; the failure message names the shard and sequence numbers."
            ),
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": self.failure_queue.name},
            statistic="Maximum",
            period=300,
            evaluation_periods=1,
            threshold=0,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=alarm_actions,
            ok_actions=alarm_actions,
            opts=child,
        )

        self.function_name = self.function.function_name
        self.failure_queue_arn = self.failure_queue.arn
        self.failure_queue_url = self.failure_queue.url
        self.mapping_id = self.mapping.uuid
        self.register_outputs(
            {
                "function_name": self.function_name,
                "failure_queue_arn": self.failure_queue_arn,
                "failure_queue_url": self.failure_queue_url,
                "mapping_id": self.mapping_id,
            }
        )

    def _statements(self, args: StreamRelayArgs) -> list[Statement]:
        statements = [
            Statement(
                sid="ReadEventStoreStream",
                actions=list(STREAM_READ_ACTIONS),
                resources=[args.stream_arn],
            ),
            Statement(
                sid="PublishToEventBus", actions=["sns:Publish"], resources=[args.bus_topic_arn]
            ),
            Statement(
                sid="SendGivenUpBatches",
                actions=["sqs:SendMessage"],
                resources=[self.failure_queue.arn],
            ),
        ]
        if args.bus_key_arn is not None:
            region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
            statements.append(
                Statement(
                    sid="EncryptForEventBus",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[args.bus_key_arn],
                    # Only through SNS: the key is not the relay's to use for anything else.
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": region.apply(lambda r: f"sns.{r}.amazonaws.com")
                        }
                    },
                )
            )
        return statements
