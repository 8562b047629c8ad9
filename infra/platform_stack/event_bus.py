"""The event bus: an SNS FIFO topic, encrypted with its own KMS key, closed to other accounts.

Ordering is per message group (``stream_id``) and deduplication is by the id every publisher sets
(``event_id``), so content-based deduplication stays off: two distinct events with equal bodies
must both be delivered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final, Literal

import pulumi
import pulumi_aws as aws
from platform_infra.context import StackContext
from platform_infra.iam import POLICY_VERSION
from platform_infra.naming import ResourceKind

_TOPIC_ACTIONS: Final = ("sns:Publish", "sns:Subscribe")
_OWNER_ACTIONS: Final = (
    "sns:Publish",
    "sns:Subscribe",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
)


@dataclass(frozen=True)
class EventBusArgs:
    context: StackContext
    throughput_scope: Literal["MessageGroup", "Topic"] = "MessageGroup"
    """``MessageGroup``: SNS FIFO high throughput, the rate limit applies per stream, not per
    topic."""


class EventBus(pulumi.ComponentResource):
    """The SNS FIFO topic every event is published to, and the key that encrypts it."""

    key: aws.kms.Key
    topic: aws.sns.Topic
    topic_arn: pulumi.Output[str]
    topic_name: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: EventBusArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cqrs:platform:EventBus", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        # No key policy given: AWS's default one delegates every use of the key to IAM in this
        # account, so the (least-privilege tested) identity policies of publishers decide.
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the {context.project} {context.stack} event bus",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=context.name("event-bus", ResourceKind.KMS_ALIAS),
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=context.name("events", ResourceKind.SNS_FIFO_TOPIC),
            fifo_topic=True,
            content_based_deduplication=False,
            fifo_throughput_scope=args.throughput_scope,
            kms_master_key_id=self.key.arn,
            opts=child,
        )
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, account, partition).apply(
                lambda parts: topic_policy(parts[0], parts[1], parts[2])
            ),
            opts=child,
        )
        self.topic_arn = self.topic.arn
        self.topic_name = self.topic.name
        self.key_arn = self.key.arn
        self.register_outputs(
            {"topic_arn": self.topic_arn, "topic_name": self.topic_name, "key_arn": self.key_arn}
        )


def topic_policy(topic_arn: str, account_id: str, partition: str) -> str:
    """Only this account publishes and subscribes, and only over TLS."""
    anyone = {"AWS": "*"}
    return json.dumps(
        {
            "Version": POLICY_VERSION,
            "Statement": [
                {
                    "Sid": "OwnerAccountUsesTheBus",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                    "Action": list(_OWNER_ACTIONS),
                    "Resource": topic_arn,
                },
                {
                    "Sid": "DenyOtherAccounts",
                    "Effect": "Deny",
                    "Principal": anyone,
                    "Action": list(_TOPIC_ACTIONS),
                    "Resource": topic_arn,
                    "Condition": {"StringNotEquals": {"aws:PrincipalAccount": account_id}},
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": anyone,
                    "Action": list(_TOPIC_ACTIONS),
                    "Resource": topic_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        },
        sort_keys=True,
    )
