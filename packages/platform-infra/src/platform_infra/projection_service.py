"""A projection's infrastructure, for any projection: what is specific (its name, the event types it
reads, its handlers and environments) comes in through ``ProjectionServiceArgs``.

- the live queue: SQS FIFO (per-stream order, deduplication on ``event_id``), subscribed to the
  event bus with raw delivery and a filter policy on the projection's aggregate and event types,
  with a FIFO dead-letter queue that takes a message after ``max_receive_count`` failed receives;
- the replay queue: SQS FIFO fed by the replay state machine (one message per page of the event
  store, grouped by replay partition, plus a rebuild's control messages), with its own
  dead-letter queue;
- the migration function, in the VPC, invoked once per deployed package with the master user's
  secret: schema changes and grants happen at deploy only, before the new code is deployed;
- the projection function, in the VPC, reading both queues through event source mappings with
  ``ReportBatchItemFailures`` (the function reports failed FIFO groups), allowed to Query the
  event store (gap repair, a promote's catch-up) and to log in to the database as its writer role;
- the live mapping, created **disabled** and never switched by a later deployment
  (``ignore_changes=["enabled"]``): the replay switches it on once the history is in, and pauses
  and resumes it around a rebuild; the replay mapping, enabled;
- the replay state machine (``platform_replay.replay_state_machine_definition``, the same
  definition the tests execute in moto), its least-privilege role and its log group;
- alarms: anything in either dead-letter queue, the live queue falling behind, poison messages, a
  replay that failed.

The first replay of a new projection is one command (docs/projections.md):
``uv run python -m platform_replay start --state-machine-arn "$(pulumi stack output
replayStateMachineArn)"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pulumi
import pulumi_aws as aws
from platform_replay.definition import (
    DEFAULT_DRAIN_POLL_SECONDS,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_PAGE_SIZE,
    IAM_POLICY_VERSION,
    ReplayTarget,
    replay_assume_role_policy,
    replay_role_statements,
    replay_state_machine_definition,
)

from platform_events.messaging import MessageAttr
from platform_infra.context import StackContext
from platform_infra.iam import LOG_DELIVERY_ACTIONS, Statement
from platform_infra.lambda_function import LambdaFunction, LambdaFunctionArgs, VpcConfig
from platform_infra.naming import ResourceKind
from platform_infra.packaging import LambdaPackage

COMPONENT_TYPE: Final = "cqrs:projections:ProjectionService"
REPORT_BATCH_ITEM_FAILURES: Final = "ReportBatchItemFailures"
FIFO_MAX_BATCH_SIZE: Final = 10
"""Lambda takes at most 10 messages per batch from a FIFO queue and offers no batching window
for one; a replay batch is still up to 10 pages of ``replay_page_size`` events."""
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
STANDARD_WORKFLOW: Final = "STANDARD"
"""A replay runs minutes to hours and must be exactly-once per step: Express workflows last five
minutes at most and are at-least-once."""

LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
StateMachineLogLevel = Literal["ALL", "ERROR", "FATAL", "OFF"]


@dataclass(frozen=True)
class ProjectionServiceArgs:
    context: StackContext
    package: LambdaPackage
    projection: str
    """The projection's name (its schema): names the queues, functions, state machine, alarms."""
    service_name: str
    """The functions' powertools service name (the ``service`` dimension of their metrics)."""
    handler: str
    migration_handler: str
    aggregate_types: Sequence[str]
    """The aggregate types whose streams the projection follows (``PROJECTION.aggregate_types``):
    the subscription's filter and what a replay reads."""
    event_types: Sequence[str]
    """The event types it handles (``PROJECTION.event_types``): the subscription's filter and the
    replay's."""
    bus_topic_arn: pulumi.Input[str]
    event_store_table_name: pulumi.Input[str]
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
    """Live messages per batch."""
    max_receive_count: int = 5
    maximum_concurrency: int | None = None
    """Cap on concurrent live batches (2..1000), e.g. to protect the database's connections."""
    replay_maximum_concurrency: int | None = None
    """Cap on concurrent replay batches (2..1000): a replay can run one per partition at once."""
    memory_mb: int = 512
    timeout_seconds: int = 30
    migration_timeout_seconds: int = 300
    log_level: LogLevel = "INFO"
    oldest_message_age_threshold_seconds: int = 300
    alarm_actions: Sequence[pulumi.Input[str]] = ()
    replay_page_size: int = DEFAULT_PAGE_SIZE
    replay_partition_concurrency: int = DEFAULT_MAX_CONCURRENCY
    """Replay index partitions read at once by the state machine."""
    replay_drain_poll_seconds: int = DEFAULT_DRAIN_POLL_SECONDS
    replay_log_level: StateMachineLogLevel = "ERROR"
    log_retention_days: int = 30

    def __post_init__(self) -> None:
        checks = {
            # FIFO event sources take at most 10 messages per batch.
            "batch_size": 1 <= self.batch_size <= FIFO_MAX_BATCH_SIZE,
            "max_receive_count": 1 <= self.max_receive_count <= 1000,
            "maximum_concurrency": _concurrency_ok(self.maximum_concurrency),
            "replay_maximum_concurrency": _concurrency_ok(self.replay_maximum_concurrency),
            "timeout_seconds": 1 <= self.timeout_seconds <= 900 // VISIBILITY_TIMEOUT_FACTOR,
            "oldest_message_age_threshold_seconds": self.oldest_message_age_threshold_seconds > 0,
            "aggregate_types": bool(self.aggregate_types) and all(self.aggregate_types),
            "event_types": bool(self.event_types) and all(self.event_types),
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise ValueError(f"projection service settings out of range: {wrong}")
        # The replay's own checks (page size, concurrency, poll interval) fail here, at preview,
        # rather than when the outputs resolve.
        self.replay_target(
            table_name="table", replay_queue_url="queue", live_mapping_uuid="m", dlq_url="dlq"
        )

    @property
    def filter_policy(self) -> dict[str, list[str]]:
        """The SNS filter policy on message attributes (keys ANDed, values ORed)."""
        return {
            MessageAttr.AGGREGATE_TYPE.value: sorted(self.aggregate_types),
            MessageAttr.EVENT_TYPE.value: sorted(self.event_types),
        }

    def replay_target(
        self, *, table_name: str, replay_queue_url: str, live_mapping_uuid: str, dlq_url: str
    ) -> ReplayTarget:
        """The replay state machine's target, once the resources' values are known."""
        return ReplayTarget(
            projection=self.projection,
            table_name=table_name,
            aggregate_types=tuple(sorted(self.aggregate_types)),
            event_types=tuple(sorted(self.event_types)),
            replay_queue_url=replay_queue_url,
            live_mapping_uuid=live_mapping_uuid,
            dead_letter_queue_url=dlq_url,
            page_size=self.replay_page_size,
            max_concurrency=self.replay_partition_concurrency,
            drain_poll_seconds=self.replay_drain_poll_seconds,
        )


def _concurrency_ok(value: int | None) -> bool:
    return value is None or 2 <= value <= 1000


class ProjectionService(pulumi.ComponentResource):
    """Live and replay queues (each with a DLQ), subscription, projection and migration functions,
    both mappings, the replay state machine and its role, alarms."""

    live_queue: aws.sqs.Queue
    live_dead_letter_queue: aws.sqs.Queue
    replay_queue: aws.sqs.Queue
    replay_dead_letter_queue: aws.sqs.Queue
    subscription: aws.sns.TopicSubscription
    function: LambdaFunction
    migration: LambdaFunction
    migration_run: aws.lambda_.Invocation
    live_mapping: aws.lambda_.EventSourceMapping
    replay_mapping: aws.lambda_.EventSourceMapping
    replay_log_group: aws.cloudwatch.LogGroup
    replay_role: aws.iam.Role
    replay_role_policy: aws.iam.RolePolicy
    replay_state_machine: aws.sfn.StateMachine
    alarms: list[aws.cloudwatch.MetricAlarm]
    filter_policy: dict[str, list[str]]

    def __init__(
        self, name: str, args: ProjectionServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.filter_policy = args.filter_policy
        self.live_dead_letter_queue, self.live_queue = self._queue_pair(name, args, "live")
        self.replay_dead_letter_queue, self.replay_queue = self._queue_pair(name, args, "replay")
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-live-from-bus",
            queue_url=self.live_queue.url,
            policy=pulumi.Output.all(self.live_queue.arn, args.bus_topic_arn).apply(
                lambda parts: _bus_may_send(parts[0], parts[1])
            ),
            opts=child,
        )
        self.subscription = aws.sns.TopicSubscription(
            f"{name}-live-subscription",
            topic=args.bus_topic_arn,
            protocol="sqs",
            endpoint=self.live_queue.arn,
            # The envelope arrives as the body itself, not wrapped in an SNS notification.
            raw_message_delivery=True,
            filter_policy_scope="MessageAttributes",
            filter_policy=json.dumps(args.filter_policy, sort_keys=True),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[queue_policy]),
        )
        self.migration, self.migration_run = self._migration(name, args)
        self.function = self._projection_function(args)
        self.live_mapping = self._mapping(
            f"{name}-live-mapping",
            args,
            queue=self.live_queue,
            batch_size=args.batch_size,
            maximum_concurrency=args.maximum_concurrency,
            # Created off: live events wait in the queue until the first replay is in. Never
            # switched by a later deployment: the replay owns the switch from then on.
            enabled=False,
            ignore_changes=["enabled"],
        )
        self.replay_mapping = self._mapping(
            f"{name}-replay-mapping",
            args,
            queue=self.replay_queue,
            batch_size=FIFO_MAX_BATCH_SIZE,
            maximum_concurrency=args.replay_maximum_concurrency,
            enabled=True,
        )
        self._replay_state_machine(name, args)
        self.alarms = self._alarms(name, args)

        self.register_outputs(
            {
                "live_queue_url": self.live_queue.url,
                "live_queue_arn": self.live_queue.arn,
                "live_dead_letter_queue_url": self.live_dead_letter_queue.url,
                "replay_queue_url": self.replay_queue.url,
                "replay_dead_letter_queue_url": self.replay_dead_letter_queue.url,
                "function_name": self.function.function_name,
                "migration_function_name": self.migration.function_name,
                "live_mapping_id": self.live_mapping.uuid,
                "replay_mapping_id": self.replay_mapping.uuid,
                "replay_state_machine_arn": self.replay_state_machine.arn,
            }
        )

    # ------------------------------------------------------------------ queues
    def _queue_pair(
        self, name: str, args: ProjectionServiceArgs, role: Literal["live", "replay"]
    ) -> tuple[aws.sqs.Queue, aws.sqs.Queue]:
        """A FIFO queue and its FIFO dead-letter queue (which only that queue may redrive to)."""
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        base = f"{args.projection}-{role}"
        dead_letters = aws.sqs.Queue(
            f"{name}-{role}-dlq",
            name=context.name(f"{base}-dlq", ResourceKind.SQS_FIFO_QUEUE),
            fifo_queue=True,
            message_retention_seconds=RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        queue = aws.sqs.Queue(
            f"{name}-{role}",
            name=context.name(base, ResourceKind.SQS_FIFO_QUEUE),
            fifo_queue=True,
            # Senders set the deduplication id (the bus: event_id; the replay: a page's and a
            # control message's own); content-based dedup would merge distinct equal bodies.
            content_based_deduplication=False,
            deduplication_scope="messageGroup",
            fifo_throughput_limit="perMessageGroupId",
            visibility_timeout_seconds=args.timeout_seconds * VISIBILITY_TIMEOUT_FACTOR,
            message_retention_seconds=RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            redrive_policy=dead_letters.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": args.max_receive_count},
                    sort_keys=True,
                )
            ),
            opts=child,
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-{role}-dlq-sources",
            queue_url=dead_letters.url,
            redrive_allow_policy=queue.arn.apply(
                lambda arn: json.dumps(
                    {"redrivePermission": "byQueue", "sourceQueueArns": [arn]}, sort_keys=True
                )
            ),
            opts=child,
        )
        return dead_letters, queue

    # ------------------------------------------------------------------ functions
    def _migration(
        self, name: str, args: ProjectionServiceArgs
    ) -> tuple[LambdaFunction, aws.lambda_.Invocation]:
        migration = LambdaFunction(
            f"{args.projection}-migrate",
            LambdaFunctionArgs(
                context=args.context,
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
                log_retention_days=args.log_retention_days,
                vpc=args.vpc,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Runs when the package changes (new code may bring new migrations); a failing
        # migration fails the deployment before the new code is deployed or fed any batch.
        run = aws.lambda_.Invocation(
            f"{name}-migration-run",
            function_name=migration.function_name,
            input=json.dumps({"projection": args.projection}),
            triggers={"package": args.package.sha256},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[migration]),
        )
        return migration, run

    def _projection_function(self, args: ProjectionServiceArgs) -> LambdaFunction:
        return LambdaFunction(
            args.projection,
            LambdaFunctionArgs(
                context=args.context,
                package=args.package,
                handler=args.handler,
                description=f"Folds events into the {args.projection} read model",
                statements=[
                    Statement(
                        sid="ConsumeLiveAndReplayQueues",
                        actions=list(QUEUE_CONSUMER_ACTIONS),
                        resources=[self.live_queue.arn, self.replay_queue.arn],
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
                log_retention_days=args.log_retention_days,
                vpc=args.vpc,
            ),
            # New code may need the new schema: it deploys only once the migration ran (a
            # component's children wait for the component, which waits for its dependencies).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.migration_run]),
        )

    def _mapping(
        self,
        resource_name: str,
        args: ProjectionServiceArgs,
        *,
        queue: aws.sqs.Queue,
        batch_size: int,
        maximum_concurrency: int | None,
        enabled: bool,
        ignore_changes: Sequence[str] = (),
    ) -> aws.lambda_.EventSourceMapping:
        return aws.lambda_.EventSourceMapping(
            resource_name,
            event_source_arn=queue.arn,
            function_name=self.function.target_arn,
            batch_size=batch_size,
            enabled=enabled,
            function_response_types=[REPORT_BATCH_ITEM_FAILURES],
            scaling_config=(
                aws.lambda_.EventSourceMappingScalingConfigArgs(
                    maximum_concurrency=maximum_concurrency
                )
                if maximum_concurrency is not None
                else None
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.function, self.migration_run],
                ignore_changes=list(ignore_changes),
            ),
        )

    @staticmethod
    def _powertools(args: ProjectionServiceArgs) -> dict[str, pulumi.Input[str]]:
        return {
            SERVICE_NAME_ENV: args.service_name,
            METRICS_NAMESPACE_ENV: args.metrics_namespace or args.context.project,
        }

    # ------------------------------------------------------------------ replay
    def _replay_state_machine(self, name: str, args: ProjectionServiceArgs) -> None:
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        replay = f"{args.projection}-replay"
        self.replay_log_group = aws.cloudwatch.LogGroup(
            f"{name}-replay-logs",
            name=context.name(replay, ResourceKind.VENDED_LOG_GROUP),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.replay_role = aws.iam.Role(
            f"{name}-replay-role",
            name=context.name(replay, ResourceKind.IAM_ROLE),
            assume_role_policy=json.dumps(replay_assume_role_policy(), sort_keys=True),
            opts=child,
        )
        self.replay_role_policy = aws.iam.RolePolicy(
            f"{name}-replay-policy",
            role=self.replay_role.id,
            policy=pulumi.Output.all(
                table_arn=args.event_store_table_arn,
                replay_queue_arn=self.replay_queue.arn,
                live_mapping_arn=self.live_mapping.arn,
                dead_letter_queue_arn=self.replay_dead_letter_queue.arn,
            ).apply(_replay_policy),
            opts=child,
        )
        definition = pulumi.Output.all(
            table_name=args.event_store_table_name,
            replay_queue_url=self.replay_queue.url,
            live_mapping_uuid=self.live_mapping.uuid,
            dlq_url=self.replay_dead_letter_queue.url,
        ).apply(
            lambda values: json.dumps(
                replay_state_machine_definition(args.replay_target(**values)), sort_keys=True
            )
        )
        self.replay_state_machine = aws.sfn.StateMachine(
            f"{name}-replay",
            name=context.name(replay, ResourceKind.STATE_MACHINE),
            type=STANDARD_WORKFLOW,
            role_arn=self.replay_role.arn,
            definition=definition,
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level=args.replay_log_level,
                # Execution data holds envelopes (owners' names): only the states' names go out.
                include_execution_data=False,
                log_destination=self.replay_log_group.arn.apply(lambda arn: f"{arn}:*"),
            ),
            # Step Functions checks at creation that the role may deliver its logs.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.replay_role_policy]),
        )

    # ------------------------------------------------------------------ alarms
    def _alarms(self, name: str, args: ProjectionServiceArgs) -> list[aws.cloudwatch.MetricAlarm]:
        projection = args.projection
        namespace = args.metrics_namespace or args.context.project
        return [
            self._alarm(
                f"{name}-dlq-depth",
                args,
                alarm=f"{projection}-dlq-depth",
                description=(
                    f"Messages reached the {projection} live dead-letter queue: a poison message "
                    "(undecodable, or an event the projection's code rejects) and the messages "
                    "of its stream after it. Fix, then redrive the queue."
                ),
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": self.live_dead_letter_queue.name},
                statistic="Maximum",
                threshold=0,
            ),
            self._alarm(
                f"{name}-replay-dlq-depth",
                args,
                alarm=f"{projection}-replay-dlq-depth",
                description=(
                    f"Replay messages reached the {projection} replay dead-letter queue: the "
                    "replay (or rebuild) that sent them fails rather than going live with a "
                    "model that misses events. Fix, redrive or purge, replay again."
                ),
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": self.replay_dead_letter_queue.name},
                statistic="Maximum",
                threshold=0,
            ),
            self._alarm(
                f"{name}-oldest-message",
                args,
                alarm=f"{projection}-lag",
                description=(
                    f"The {projection} live queue is falling behind: its oldest message is "
                    "older than the threshold, so queries serve stale data (expected while a "
                    "replay or rebuild holds live events)."
                ),
                namespace="AWS/SQS",
                metric="ApproximateAgeOfOldestMessage",
                dimensions={"QueueName": self.live_queue.name},
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
                namespace=namespace,
                metric=POISON_METRIC,
                dimensions={"projection": projection, "service": args.service_name},
                statistic="Sum",
                threshold=0,
                period=300,
            ),
            self._alarm(
                f"{name}-replay-failed",
                args,
                alarm=f"{projection}-replay-failed",
                description=(
                    f"A replay or rebuild of {projection} failed: a first replay leaves the "
                    "live mapping off, a rebuild resumes the active generation. See the "
                    "execution's error."
                ),
                namespace="AWS/States",
                metric="ExecutionsFailed",
                dimensions={"StateMachineArn": self.replay_state_machine.arn},
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


def _replay_policy(values: dict[str, Any]) -> str:
    """The replay role's policy: platform_replay's least-privilege statements, plus the log
    delivery Step Functions needs to write its own execution logs (unscopable, see
    ``platform_infra.iam.LOG_DELIVERY_ACTIONS``)."""
    statements = replay_role_statements(
        table_arn=values["table_arn"],
        replay_queue_arn=values["replay_queue_arn"],
        live_mapping_arn=values["live_mapping_arn"],
        dead_letter_queue_arn=values["dead_letter_queue_arn"],
    )
    statements.append(
        {
            "Sid": "DeliverExecutionLogs",
            "Effect": "Allow",
            "Action": sorted(LOG_DELIVERY_ACTIONS),
            "Resource": "*",
        }
    )
    return json.dumps({"Version": IAM_POLICY_VERSION, "Statement": statements}, sort_keys=True)


def _bus_may_send(queue_arn: str, topic_arn: str) -> str:
    """Only the event bus (through SNS) may send to the live queue."""
    return json.dumps(
        {
            "Version": IAM_POLICY_VERSION,
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
