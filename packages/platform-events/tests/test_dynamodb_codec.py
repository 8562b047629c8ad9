from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import given
from moto import mock_aws

from platform_events import EventEnvelope, EventRegistry, MalformedItem, NotAnEvent
from platform_events.dynamodb import (
    decode_stream_record,
    from_dynamodb_json,
    from_item,
    to_dynamodb_json,
    to_item,
)
from platform_events.layout import (
    REPLAY_SHARD_COUNT,
    Attr,
    ItemKind,
    event_store_key_schema,
    idempotency_stream_id,
    replay_shard_of,
)
from platform_testing.strategies import envelopes


def as_dynamodb_returns_it(value: Any) -> Any:
    """DynamoDB normalizes numbers ("12.50" comes back as "12.5"); do the same to images."""
    if isinstance(value, dict):
        if set(value) == {"N"}:
            return {"N": format(Decimal(value["N"]).normalize(), "f")}
        return {k: as_dynamodb_returns_it(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_dynamodb_returns_it(v) for v in value]
    return value


def stream_record(image: dict[str, Any], event_name: str = "INSERT") -> dict[str, Any]:
    return {
        "eventID": "1",
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {"NewImage": image, "SequenceNumber": "100", "StreamViewType": "NEW_IMAGE"},
    }


@given(envelopes())
def test_envelope_item_stream_record_envelope_is_identity(envelope: EventEnvelope) -> None:
    image = as_dynamodb_returns_it(to_dynamodb_json(envelope))
    assert decode_stream_record(stream_record(image)) == envelope


@given(envelopes())
def test_envelope_item_envelope_is_identity(envelope: EventEnvelope) -> None:
    item = to_item(envelope)
    assert from_item(item) == envelope
    # the canonical JSON copy the replay sends agrees with the typed attributes
    assert EventEnvelope.from_json(item[Attr.ENVELOPE]) == envelope


def without_text(image: dict[str, Any]) -> dict[str, Any]:
    """An item as a writer that predates the canonical text attribute stored it."""
    return {k: v for k, v in image.items() if k != Attr.ENVELOPE}


@given(envelopes())
def test_items_without_the_canonical_text_decode_from_typed_attributes(
    envelope: EventEnvelope,
) -> None:
    image = as_dynamodb_returns_it(without_text(to_dynamodb_json(envelope)))
    assert decode_stream_record(stream_record(image)) == envelope


def test_money_is_a_dynamodb_number_and_comes_back_exact(envelope: EventEnvelope) -> None:
    image = to_dynamodb_json(envelope)
    assert image[Attr.PAYLOAD]["M"]["amount"] == {"N": "12.50"}
    normalized = as_dynamodb_returns_it(image)
    assert normalized[Attr.PAYLOAD]["M"]["amount"] == {"N": "12.5"}
    assert from_dynamodb_json(normalized).payload["amount"] == "12.50"
    assert from_dynamodb_json(without_text(normalized)).payload["amount"] == "12.50"


def test_a_consumer_without_the_domain_registry_still_gets_exact_money(
    envelope: EventEnvelope,
) -> None:
    normalized = as_dynamodb_returns_it(to_dynamodb_json(envelope))
    assert from_dynamodb_json(normalized, EventRegistry()) == envelope


def test_canonical_text_that_disagrees_with_the_key_is_malformed(envelope: EventEnvelope) -> None:
    item = to_item(envelope)
    item[Attr.ENVELOPE] = envelope.model_copy(update={"version": 9}).to_json()
    with pytest.raises(MalformedItem, match="disagrees"):
        from_item(item)
    item[Attr.ENVELOPE] = "{broken"
    with pytest.raises(MalformedItem):
        from_item(item)


def test_items_carry_the_sharded_replay_index_keys(envelope: EventEnvelope) -> None:
    item = to_item(envelope)
    shard = replay_shard_of(envelope.stream_id)
    assert 0 <= shard < REPLAY_SHARD_COUNT
    assert item[Attr.REPLAY_SHARD] == f"Account#{shard}"
    assert item[Attr.REPLAY_SORT] == f"{envelope.stream_id}#000000000003"
    assert item[Attr.ITEM_KIND] == ItemKind.EVENT


def test_replay_shards_spread_streams() -> None:
    shards = {replay_shard_of(f"stream-{i}") for i in range(200)}
    assert shards == set(range(REPLAY_SHARD_COUNT))


def test_unregistered_types_round_trip_without_a_model(envelope: EventEnvelope) -> None:
    foreign = envelope.model_copy(
        update={"event_type": "ParcelShipped", "payload": {"weight": 3, "to": "Zürich"}}
    )
    item = to_item(foreign, EventRegistry())
    assert from_item(item, EventRegistry()) == foreign
    del item[Attr.ENVELOPE]
    assert from_item(item, EventRegistry()) == foreign


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda i: i.pop(Attr.EVENT_ID), "event_id"),
        (lambda i: i.update({Attr.VERSION: "three"}), "version"),
        (lambda i: i.update({Attr.VERSION: Decimal("1.5")}), "version"),
        (lambda i: i.update({Attr.PAYLOAD: "x"}), "payload"),
        (lambda i: i.update({Attr.PAYLOAD: {"amount": Decimal("1.234")}}), "two decimal"),
        (lambda i: i.update({Attr.OCCURRED_AT: "yesterday"}), "occurred_at"),
        (lambda i: i.update({Attr.ITEM_KIND: ItemKind.IDEMPOTENCY.value}), "not an event"),
    ],
)
def test_malformed_items_raise_malformed_item(
    envelope: EventEnvelope, mutate: Any, message: str
) -> None:
    item = to_item(envelope)
    del item[Attr.ENVELOPE]
    mutate(item)
    with pytest.raises(MalformedItem, match=message):
        from_item(item)


@pytest.mark.parametrize(
    "image",
    [
        {"stream_id": {"X": "nope"}},
        {"stream_id": "not dynamodb json"},
    ],
)
def test_images_that_are_not_dynamodb_json_raise_malformed_item(image: Any) -> None:
    with pytest.raises(MalformedItem):
        from_dynamodb_json(image)


def test_stream_records_that_are_not_new_events_are_not_events(envelope: EventEnvelope) -> None:
    image = to_dynamodb_json(envelope)
    for name in ("MODIFY", "REMOVE"):
        with pytest.raises(NotAnEvent, match=name):
            decode_stream_record(stream_record(image, name))
    other = copy.deepcopy(image)
    other[Attr.ITEM_KIND] = {"S": ItemKind.IDEMPOTENCY.value}
    with pytest.raises(NotAnEvent, match="idempotency"):
        decode_stream_record(stream_record(other))


def test_a_stream_record_without_an_image_is_malformed() -> None:
    with pytest.raises(MalformedItem, match="NewImage"):
        decode_stream_record({"eventName": "INSERT", "dynamodb": {}})


@pytest.fixture
def table() -> Iterator[tuple[Any, Any, str]]:
    with mock_aws():
        client = boto3.client("dynamodb")
        description = client.create_table(TableName="events", **event_store_key_schema())
        streams = boto3.client("dynamodbstreams")
        yield client, streams, description["TableDescription"]["LatestStreamArn"]


def test_real_stream_records_decode_to_the_written_envelopes(
    table: tuple[Any, Any, str], envelope: EventEnvelope
) -> None:
    client, streams, stream_arn = table
    second = envelope.model_copy(
        update={"version": 4, "payload": {"amount": "0.10", "reference": None}}
    )
    for written in (envelope, second):
        client.put_item(TableName="events", Item=to_dynamodb_json(written))
    client.put_item(
        TableName="events",
        Item={
            Attr.STREAM_ID: {"S": idempotency_stream_id("c0", "abc")},
            Attr.VERSION: {"N": "0"},
            Attr.ITEM_KIND: {"S": ItemKind.IDEMPOTENCY.value},
        },
    )
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    decoded, skipped = [], 0
    for record in records:
        try:
            decoded.append(decode_stream_record(record))
        except NotAnEvent:
            skipped += 1
    assert decoded == [
        envelope,
        second.model_copy(update={"payload": {"amount": "0.10", "reference": None}}),
    ]
    assert skipped == 1

    stored = client.get_item(
        TableName="events",
        Key={Attr.STREAM_ID: {"S": envelope.stream_id}, Attr.VERSION: {"N": "3"}},
        ConsistentRead=True,
    )["Item"]
    assert from_dynamodb_json(stored) == envelope
