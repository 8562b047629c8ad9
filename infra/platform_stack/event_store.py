"""The event store: one DynamoDB table built from ``platform_events.layout``, nothing hand-written.

``platform_events.layout.event_store_key_schema()`` gives the keys, attribute types, the sharded
replay index and the stream setting in boto3's ``create_table`` vocabulary; ``table_layout_args``
translates that vocabulary to Pulumi's, so the table deployed here is the very table the tests and
the local runner create.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

import pulumi
import pulumi_aws as aws
from platform_infra.context import StackContext
from platform_infra.naming import ResourceKind

from platform_events import layout

_TRANSLATED: Final = frozenset(
    {
        "AttributeDefinitions",
        "KeySchema",
        "GlobalSecondaryIndexes",
        "BillingMode",
        "StreamSpecification",
    }
)


@dataclass(frozen=True)
class EventStoreArgs:
    context: StackContext
    deletion_protection: bool = True


class EventStore(pulumi.ComponentResource):
    """The event store table: streamed, point-in-time recoverable, protected, encrypted."""

    table: aws.dynamodb.Table
    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]
    stream_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: EventStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cqrs:platform:EventStore", name, None, opts)
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=args.context.name("events", ResourceKind.DYNAMODB_TABLE),
            **table_layout_args(layout.event_store_key_schema()),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            deletion_protection_enabled=args.deletion_protection,
            # KMS with the AWS managed key, so CloudTrail records every use of the data key.
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=layout.TTL_ATTRIBUTE.value, enabled=True),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.stream_arn = self.table.stream_arn
        self.register_outputs(
            {
                "table_name": self.table_name,
                "table_arn": self.table_arn,
                "stream_arn": self.stream_arn,
            }
        )


def table_layout_args(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``aws.dynamodb.Table`` arguments for a boto3 ``create_table`` key schema.

    Refuses a schema with keys it does not translate, so a layout change cannot be dropped
    silently on its way to AWS.
    """
    unknown = set(schema) - _TRANSLATED
    if unknown:
        raise ValueError(f"event store layout has untranslated settings: {sorted(unknown)}")
    keys = {key["KeyType"]: key["AttributeName"] for key in schema["KeySchema"]}
    stream = cast(Mapping[str, Any], schema.get("StreamSpecification", {}))
    return {
        "attributes": [
            aws.dynamodb.TableAttributeArgs(
                name=attribute["AttributeName"], type=attribute["AttributeType"]
            )
            for attribute in schema["AttributeDefinitions"]
        ],
        "hash_key": keys["HASH"],
        "range_key": keys.get("RANGE"),
        "global_secondary_indexes": [
            aws.dynamodb.TableGlobalSecondaryIndexArgs(
                name=index["IndexName"],
                key_schemas=[
                    aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                        attribute_name=key["AttributeName"], key_type=key["KeyType"]
                    )
                    for key in index["KeySchema"]
                ],
                projection_type=index["Projection"]["ProjectionType"],
                non_key_attributes=index["Projection"].get("NonKeyAttributes"),
            )
            for index in schema.get("GlobalSecondaryIndexes", [])
        ],
        "billing_mode": schema.get("BillingMode", "PAY_PER_REQUEST"),
        "stream_enabled": bool(stream.get("StreamEnabled", False)),
        "stream_view_type": stream.get("StreamViewType"),
    }
