"""A projection's infrastructure, for any projection: what is specific (its name, its filter policy,
its handlers and environments) comes in through ``ProjectionServiceArgs``.

- the live queue: SQS FIFO (per-stream order, deduplication on ``event_id``), subscribed to the
  event bus with raw delivery and the projection's filter policy, with a FIFO dead-letter queue
  that takes a message after ``max_receive_count`` failed receives (a poison message);
- the migration function, in the VPC, invoked once per deployed package with the master user's
  secret: schema changes and grants happen at deploy only, before the new code is deployed;
- the projection function, in the VPC, reading the live queue through an event source mapping
  with ``ReportBatchItemFailures`` (the function reports failed FIFO groups), allowed to Query the
  event store (gap repair) and to log in to the database as its writer role through the proxy;
- alarms: anything in the dead-letter queue, the live queue falling behind, poison messages.

Nothing here is specific to balances: a second projection builds the same component with its
own arguments (and it belongs in ``platform_infra`` once another stack needs it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import pulumi
import pulumi_aws as aws
from platform_infra.context import StackContext
from platform_infra.iam import Statement
from platform_infra.lambda_function import LambdaFunction, LambdaFunctionArgs, VpcConfig
from platform_infra.naming import ResourceKind
from platform_infra.packaging import LambdaPackage

REPORT_BATCH_ITEM_FAILURES: Final = "ReportBatchItemFailures"
FIFO_MAX_BATCH_SIZE: Final = 10
RETENTION_SECONDS: Final = 14 * 24 * 3600
"""SQS's maximum: a stalled projection (or a poison message) keeps its events two weeks."""
VISIBILITY_TIMEOUT_FACTOR: Final = 6
"""AWS's advice for SQS event sources: six times the function timeout, so a message is not
redelivered while a throttled or retried invocation still holds it."""
QUEUE_CONSUMER_ACTIONS: Final = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
)
POISON_METRIC: Final = "PoisonMessages"
"""Published by ``platform_projections.lambda_handler`` per batch, with dimensions ``service``
(powertools adds it) and ``projection``."""
SERVICE_NAME_ENV: Final = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE_ENV: Final = "POWERTOOLS_METRICS_NAMESPACE"

LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


@dataclass(frozen=True)
class ProjectionServiceArgs:
    context: StackContext
    package: LambdaPackage
    projection: str
    """The projection's name (its schema): names the queues, functions and alarms."""
    service_name: str
    """The functions' powertools service name (the ``service`` dimension of their metrics)."""
    handler: str
    migration_handler: str
    filter_policy: Mapping[str, Sequence[str]]
    """The SNS filter policy on message attributes, from the projection's declaration."""
    bus_topic_arn: pulumi.Input[str]
    event_store_table_arn: pulumi.Input[str]
    vpc: VpcConfig
    database_user_arn: pulumi.Input[str]
    """``<dbProxyUserArnPrefix>/<writer role>``: the one database user the function may be."""
    migration_secret_arn: pulumi.Input[str]
    """The master user's secret: only the migration function may read it."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    migration_environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    metrics_namespace: str | None = None
    """CloudWatch namespace of the projection's metrics; defaults to the project."""
    batch_size: int = FIFO_MAX_BATCH_SIZE
    max_receive_count: int = 5
    live_mapping_enabled: bool = True
    """False holds live events in the queue (a replay enables the mapping when it is done)."""
    maximum_concurrency: int | None = None
    """Cap on concurrent batches (2..1000), e.g. to protect the database's connections."""
    memory_mb: int = 512
    timeout_seconds: int = 30
    migration_timeout_seconds: int = 300
    log_level: LogLevel = "INFO"
    oldest_message_age_threshold_seconds: int = 300
    alarm_actions: Sequence[pulumi.Input[str]] = ()

    def __post_init__(self) -> None:
        checks = {
            # FIFO event sources take at most 10 messages per batch.
            "batch_size": 1 <= self.batch_size <= FIFO_MAX_BATCH_SIZE,
            "max_receive_count": 1 <= self.max_receive_count <= 1000,
            "maximum_concurrency": self.maximum_concurrency is None
            or 2 <= self.maximum_concurrency <= 1000,
            "timeout_seconds": 1 <= self.timeout_seconds <= 900 // VISIBILITY_TIMEOUT_FACTOR,
            "oldest_message_age_threshold_seconds": self.oldest_message_age_threshold_seconds > 0,
            "filter_policy": bool(self.filter_policy)
            and all(bool(values) for values in self.filter_policy.values()),
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise ValueError(f"projection service settings out of range: {wrong}")


class ProjectionService(pulumi.ComponentResource):
    """Live queue + DLQ + subscription, projection and migration functions, mapping, alarms."""

    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue
    subscription: aws.sns.TopicSubscription
    function: LambdaFunction
    migration: LambdaFunction
    migration_run: aws.lambda_.Invocation
    mapping: aws.lambda_.EventSourceMapping
    alarms: list[aws.cloudwatch.MetricAlarm]

    def __init__(
        self, name: str, args: ProjectionServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cqrs:projections:ProjectionService", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        live = f"{args.projection}-live"

        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-live-dlq",
            name=context.name(f"{live}-dlq", ResourceKind.SQS_FIFO_QUEUE),
            fifo_queue=True,
            message_retention_seconds=RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            f"{name}-live",
            name=context.name(live, ResourceKind.SQS_FIFO_QUEUE),
            fifo_queue=True,
            # The bus sets the deduplication id (event_id); content-based dedup would be wrong
            # for two distinct events with the same body.
            content_based_deduplication=False,
            deduplication_scope="messageGroup",
            fifo_throughput_limit="perMessageGroupId",
            visibility_timeout_seconds=args.timeout_seconds * VISIBILITY_TIMEOUT_FACTOR,
            message_retention_seconds=RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            redrive_policy=self.dead_letter_queue.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": args.max_receive_count},
                    sort_keys=True,
                )
            ),
            opts=child,
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-live-dlq-sources",
            queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=self.queue.arn.apply(
                lambda arn: json.dumps(
                    {"redrivePermission": "byQueue", "sourceQueueArns": [arn]}, sort_keys=True
                )
            ),
            opts=child,
        )
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-live-from-bus",
            queue_url=self.queue.url,
            policy=pulumi.Output.all(self.queue.arn, args.bus_topic_arn).apply(
                lambda parts: _bus_may_send(parts[0], parts[1])
            ),
            opts=child,
        )
        self.subscription = aws.sns.TopicSubscription(
            f"{name}-live-subscription",
            topic=args.bus_topic_arn,
            protocol="sqs",
            endpoint=self.queue.arn,
            # The envelope arrives as the body itself, not wrapped in an SNS notification.
            raw_message_delivery=True,
            filter_policy_scope="MessageAttributes",
            filter_policy=json.dumps(
                {key: sorted(values) for key, values in args.filter_policy.items()},
                sort_keys=True,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[queue_policy]),
        )

        self.migration = LambdaFunction(
            f"{args.projection}-migrate",
            LambdaFunctionArgs(
                context=context,
                package=args.package,
                handler=args.migration_handler,
                description=f"Migrates the {args.projection} schema and its roles (deploy only)",
                statements=[
                    Statement(
                        sid="ReadOwnerSecret",
                        actions=["secretsmanager:GetSecretValue"],
                        resources=[args.migration_secret_arn],
                    )
                ],
                environment={**self._powertools(args), **args.migration_environment},
                timeout_seconds=args.migration_timeout_seconds,
                log_level=args.log_level,
                vpc=args.vpc,
            ),
            opts=child,
        )
        # Runs when the package changes (new code may bring new migrations); a failing
        # migration fails the deployment before the new code is deployed or fed any batch.
        self.migration_run = aws.lambda_.Invocation(
            f"{name}-migration-run",
            function_name=self.migration.function_name,
            input=json.dumps({"projection": args.projection}),
            triggers={"package": args.package.sha256},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.migration]),
        )
        self.function = LambdaFunction(
            args.projection,
            LambdaFunctionArgs(
                context=context,
                package=args.package,
                handler=args.handler,
                description=f"Folds events into the {args.projection} read model",
                statements=[
                    Statement(
                        sid="ConsumeLiveQueue",
                        actions=list(QUEUE_CONSUMER_ACTIONS),
                        resources=[self.queue.arn],
                    ),
                    Statement(
                        sid="RepairGapsFromEventStore",
                        actions=["dynamodb:Query"],
                        resources=[args.event_store_table_arn],
                    ),
                    Statement(
                        sid="ConnectAsWriter",
                        actions=["rds-db:connect"],
                        resources=[args.database_user_arn],
                    ),
                ],
                environment={**self._powertools(args), **args.environment},
                memory_mb=args.memory_mb,
                timeout_seconds=args.timeout_seconds,
                log_level=args.log_level,
                vpc=args.vpc,
            ),
            # New code may need the new schema: it deploys only once the migration ran (a
            # component's children wait for the component, which waits for its dependencies).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.migration_run]),
        )
        self.mapping = aws.lambda_.EventSourceMapping(
            f"{name}-live-mapping",
            event_source_arn=self.queue.arn,
            function_name=self.function.target_arn,
            batch_size=args.batch_size,
            enabled=args.live_mapping_enabled,
            function_response_types=[REPORT_BATCH_ITEM_FAILURES],
            scaling_config=(
                aws.lambda_.EventSourceMappingScalingConfigArgs(
                    maximum_concurrency=args.maximum_concurrency
                )
                if args.maximum_concurrency is not None
                else None
            ),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.function, self.migration_run]
            ),
        )
        self.alarms = self._alarms(name, args)

        self.register_outputs(
            {
                "queue_url": self.queue.url,
                "queue_arn": self.queue.arn,
                "dead_letter_queue_url": self.dead_letter_queue.url,
                "function_name": self.function.function_name,
                "migration_function_name": self.migration.function_name,
                "mapping_id": self.mapping.uuid,
            }
        )

    @staticmethod
    def _powertools(args: ProjectionServiceArgs) -> dict[str, pulumi.Input[str]]:
        return {
            SERVICE_NAME_ENV: args.service_name,
            METRICS_NAMESPACE_ENV: args.metrics_namespace or args.context.project,
        }

    def _alarms(self, name: str, args: ProjectionServiceArgs) -> list[aws.cloudwatch.MetricAlarm]:
        projection = args.projection
        return [
            self._alarm(
                f"{name}-dlq-depth",
                args,
                alarm=f"{projection}-dlq-depth",
                description=(
                    f"Messages reached the {projection} dead-letter queue: a poison message "
                    "(undecodable, or an event the projection's code rejects) and the messages "
                    "of its stream after it. Fix, then redrive the queue."
                ),
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": self.dead_letter_queue.name},
                statistic="Maximum",
                threshold=0,
            ),
            self._alarm(
                f"{name}-oldest-message",
                args,
                alarm=f"{projection}-lag",
                description=(
                    f"The {projection} live queue is falling behind: its oldest message is "
                    "older than the threshold, so queries serve stale data."
                ),
                namespace="AWS/SQS",
                metric="ApproximateAgeOfOldestMessage",
                dimensions={"QueueName": self.queue.name},
                statistic="Maximum",
                threshold=args.oldest_message_age_threshold_seconds,
                evaluation_periods=5,
                datapoints_to_alarm=3,
            ),
            self._alarm(
                f"{name}-poison",
                args,
                alarm=f"{projection}-poison",
                description=(
                    f"The {projection} projection stopped a message group on a poison message; "
                    "it reaches the dead-letter queue after the receive limit."
                ),
                namespace=args.metrics_namespace or args.context.project,
                metric=POISON_METRIC,
                dimensions={"projection": projection, "service": args.service_name},
                statistic="Sum",
                threshold=0,
                period=300,
            ),
        ]

    def _alarm(
        self,
        resource_name: str,
        args: ProjectionServiceArgs,
        *,
        alarm: str,
        description: str,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, pulumi.Input[str]],
        statistic: str,
        threshold: float,
        period: int = 60,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
    ) -> aws.cloudwatch.MetricAlarm:
        actions = list(args.alarm_actions)
        return aws.cloudwatch.MetricAlarm(
            resource_name,
            name=args.context.name(alarm, ResourceKind.CLOUDWATCH_ALARM),
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions=dict(dimensions),
            statistic=statistic,
            period=period,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            threshold=threshold,
            comparison_operator="GreaterThanThreshold",
            # No messages, no invocations: nothing is waiting or failing.
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            opts=pulumi.ResourceOptions(parent=self),
        )


def _bus_may_send(queue_arn: str, topic_arn: str) -> str:
    """Only the event bus (through SNS) may send to the live queue."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EventBusDelivers",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        },
        sort_keys=True,
    )
