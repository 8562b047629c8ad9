from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from platform_projections import EventStoreUnavailable
from platform_projections.dynamodb import DynamoDBEventStoreReader

from platform_events.dynamodb import to_dynamodb_json
from platform_events.layout import event_store_key_schema

TABLE = "event-store"


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(TableName=TABLE, **event_store_key_schema())
        yield client


def test_a_version_range_is_read_in_order_across_pages(dynamodb, history):
    events = history(*[f"d{i}" for i in range(1, 12)])
    for envelope in events:
        dynamodb.put_item(TableName=TABLE, Item=to_dynamodb_json(envelope))
    reader = DynamoDBEventStoreReader(dynamodb, TABLE, page_size=3)

    found = reader.read(events[0].stream_id, 2, 10)

    assert found == events[1:10]


def test_other_streams_and_an_empty_range_read_nothing(dynamodb, history):
    events = history("d1")
    for envelope in events:
        dynamodb.put_item(TableName=TABLE, Item=to_dynamodb_json(envelope))
    reader = DynamoDBEventStoreReader(dynamodb, TABLE)

    assert reader.read("no-such-stream", 1, 5) == []
    assert reader.read(events[0].stream_id, 3, 2) == []


def test_an_unreachable_table_is_reported_as_unavailable(dynamodb):
    reader = DynamoDBEventStoreReader(dynamodb, "missing-table")

    with pytest.raises(EventStoreUnavailable, match="missing-table"):
        reader.read("stream", 1, 2)
