"""The emulated event store stream after a cancelled transaction: a stream consumer must see what
DynamoDB Streams would show, the committed writes and nothing else.

moto rolls a cancelled ``TransactWriteItems`` back by swapping in a copy of the table taken before
it; the stream records of the transaction's writes that did go through stay in the replaced shard,
which iterators handed out earlier keep reading. ``tests_integration.emulation.CurrentShardStreams``
is how the whole-system wiring reads the stream; platform-local's runner reads it directly, after
``platform_local.aws.serialize_dynamodb`` redid moto's rollback in place.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from platform_local.aws import serialize_dynamodb
from platform_local.pollers import ITERATOR_REFRESH_SECONDS, DynamoDbStreamEventSource
from tests_integration.emulation import CurrentShardStreams

from platform_events.layout import Attr, ItemKind, event_store_key_schema

TABLE = "event-store"


@pytest.fixture
def table() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        created = dynamodb.create_table(TableName=TABLE, **event_store_key_schema())
        yield dynamodb, created["TableDescription"]["LatestStreamArn"]


def item(stream_id: str, version: int, kind: ItemKind) -> dict[str, Any]:
    return {
        Attr.STREAM_ID.value: {"S": stream_id},
        Attr.VERSION.value: {"N": str(version)},
        Attr.ITEM_KIND.value: {"S": kind.value},
    }


def cancelled_open_with_a_taken_key(dynamodb: Any) -> None:
    """What the command API writes when two requests with one Idempotency-Key open an account
    at once: the loser's event goes in, its idempotency record's condition fails, and the whole
    transaction is cancelled."""
    new_item = f"attribute_not_exists({Attr.STREAM_ID.value})"
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": item("never-opened", 1, ItemKind.EVENT),
                        "ConditionExpression": new_item,
                    }
                },
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": item("$idempotency#key", 0, ItemKind.IDEMPOTENCY),
                        "ConditionExpression": new_item,
                    }
                },
            ]
        )


def delivered_after_a_cancelled_transaction(dynamodb: Any, streams: Any, arn: str) -> list[str]:
    delivered: list[str] = []

    def relay(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        delivered.extend(r["dynamodb"]["Keys"][Attr.STREAM_ID.value]["S"] for r in event["Records"])
        return {"batchItemFailures": []}

    poller = DynamoDbStreamEventSource(
        name="stream-relay", streams=streams, stream_arn=arn, handler=relay, function_name="relay"
    )
    dynamodb.put_item(TableName=TABLE, Item=item("$idempotency#key", 0, ItemKind.IDEMPOTENCY))
    poller.poll_once()
    cancelled_open_with_a_taken_key(dynamodb)
    dynamodb.put_item(TableName=TABLE, Item=item("opened", 1, ItemKind.EVENT))
    # Longer than the poller's idle renewal of its iterators, which must not matter.
    deadline = time.monotonic() + 3 * ITERATOR_REFRESH_SECONDS
    while time.monotonic() < deadline:
        poller.poll_once()
        time.sleep(0.1)
    stored = {i[Attr.STREAM_ID.value]["S"] for i in dynamodb.scan(TableName=TABLE)["Items"]}
    assert stored == {"$idempotency#key", "opened"}
    return delivered


def test_reading_through_the_current_shard_delivers_the_committed_writes_only(table) -> None:
    dynamodb, arn = table
    streams = CurrentShardStreams(boto3.client("dynamodbstreams"))

    delivered = delivered_after_a_cancelled_transaction(dynamodb, streams, arn)

    assert delivered == ["$idempotency#key", "opened"]


@pytest.fixture
def runner_emulation() -> Iterator[None]:
    """platform-local's emulator patches moto's DynamoDB classes for the whole process; they are
    put back afterwards, so that no other test runs on a moto that depends on test order."""
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415 - moto internals
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend  # noqa: PLC0415

    saved = {cls: dict(vars(cls)) for cls in (DynamoDBBackend, DynamoDBStreamsBackend)}
    serialize_dynamodb()
    yield
    for cls, attributes in saved.items():
        for name in set(vars(cls)) - set(attributes):
            delattr(cls, name)
        for name, value in attributes.items():
            if vars(cls).get(name) is not value:
                setattr(cls, name, value)


def test_platform_local_stream_poller_delivers_the_committed_writes_only(
    runner_emulation: None, table: tuple[Any, str]
) -> None:
    dynamodb, arn = table

    delivered = delivered_after_a_cancelled_transaction(
        dynamodb, boto3.client("dynamodbstreams"), arn
    )

    assert delivered == ["$idempotency#key", "opened"]
