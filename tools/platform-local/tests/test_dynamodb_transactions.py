"""moto's DynamoDB as the runner patches it (``aws.serialize_dynamodb``): no table is copied per
transaction (moto kept every copy: the runner grew by gigabytes and slowed down under sustained
load), a cancelled transaction still leaves the table and its stream as before, and a Query on
the table's key reads its partition only (moto sorted the whole table for each)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from platform_local.aws import DEFAULT_ACCOUNT_ID, REGION, serialize_dynamodb

from platform_events.layout import Attr, event_store_key_schema

TABLE = "event-store"
NEW_ITEM = f"attribute_not_exists({Attr.STREAM_ID.value})"


@pytest.fixture
def patched() -> Iterator[None]:
    """The patch is process-wide on moto's classes: put them back afterwards."""
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415 - moto internals
    from moto.dynamodb.models.table import Table  # noqa: PLC0415
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend  # noqa: PLC0415

    saved = {cls: dict(vars(cls)) for cls in (DynamoDBBackend, DynamoDBStreamsBackend, Table)}
    serialize_dynamodb()
    yield
    for cls, attributes in saved.items():
        for name in set(vars(cls)) - set(attributes):
            delattr(cls, name)
        for name, value in attributes.items():
            if vars(cls).get(name) is not value:
                setattr(cls, name, value)


@pytest.fixture
def dynamodb(patched: None) -> Iterator[Any]:
    with mock_aws():
        client: Any = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName=TABLE, **event_store_key_schema())
        yield client


def backend_table() -> Any:
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[TABLE]


def item(stream: str, version: int, payload: str = "x") -> dict[str, Any]:
    return {
        Attr.STREAM_ID.value: {"S": stream},
        Attr.VERSION.value: {"N": str(version)},
        Attr.PAYLOAD.value: {"S": payload},
    }


def put(value: dict[str, Any], condition: str | None = NEW_ITEM) -> dict[str, Any]:
    operation: dict[str, Any] = {"TableName": TABLE, "Item": value}
    if condition is not None:
        operation["ConditionExpression"] = condition
    return {"Put": operation}


def test_transactions_copy_no_table(dynamodb: Any) -> None:
    from moto.dynamodb.models.table import StreamShard, Table  # noqa: PLC0415

    def tracked() -> tuple[int, int]:
        # moto keeps every instance of its models ever made, in a list on each class
        return len(vars(Table)["instances_tracked"]), len(vars(StreamShard)["instances_tracked"])

    before = tracked()
    for version in range(1, 51):
        dynamodb.transact_write_items(TransactItems=[put(item("s", version))])
    assert tracked() == before
    assert dynamodb.scan(TableName=TABLE, Select="COUNT")["Count"] == 50


def test_a_cancelled_transaction_leaves_the_table_and_its_stream_as_before(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item=item("kept", 1, "before"))
    dynamodb.put_item(TableName=TABLE, Item=item("taken", 0))
    table = backend_table()
    streamed = len(table.stream_shard.items)

    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                put(item("new", 1)),  # goes in, then must go again
                put(item("kept", 1, "overwritten"), condition=None),  # must come back
                put(item("taken", 0)),  # its condition fails: the whole transaction is cancelled
            ]
        )

    assert backend_table() is table  # iterators on its stream stay valid
    assert len(table.stream_shard.items) == streamed  # nothing undone is ever streamed
    stored = {
        (i[Attr.STREAM_ID.value]["S"], i[Attr.PAYLOAD.value]["S"])
        for i in dynamodb.scan(TableName=TABLE)["Items"]
    }
    assert stored == {("kept", "before"), ("taken", "x")}
    # and the table takes writes as before
    dynamodb.transact_write_items(TransactItems=[put(item("new", 1))])
    assert len(table.stream_shard.items) == streamed + 1


def test_a_query_answers_from_its_partition_as_before(dynamodb: Any) -> None:
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    for stream in ("a", "b", "c"):
        for version in range(1, 6):
            dynamodb.put_item(TableName=TABLE, Item=item(stream, version, f"{stream}{version}"))
    table = backend_table()
    everything = table.items
    gathered = 0
    all_items = Table.all_items

    def counted(self: Any) -> Any:
        nonlocal gathered
        found = all_items(self)
        gathered += len(found)
        return found

    query = {
        "TableName": TABLE,
        "KeyConditionExpression": "#s = :s AND #v >= :v",
        "ExpressionAttributeNames": {"#s": Attr.STREAM_ID.value, "#v": Attr.VERSION.value},
        "ExpressionAttributeValues": {":s": {"S": "b"}, ":v": {"N": "2"}},
        "Limit": 2,
    }
    pages, start = [], None
    Table.all_items = counted  # type: ignore[method-assign]
    try:
        while True:
            page = dynamodb.query(**query, **({"ExclusiveStartKey": start} if start else {}))
            pages.append([i[Attr.PAYLOAD.value]["S"] for i in page["Items"]])
            start = page.get("LastEvaluatedKey")
            if start is None:
                break
        backwards = dynamodb.query(**{**query, "Limit": 10}, ScanIndexForward=False)["Items"]
        unknown = dynamodb.query(
            **{**query, "ExpressionAttributeValues": {":s": {"S": "z"}, ":v": {"N": "1"}}}
        )["Items"]
    finally:
        Table.all_items = all_items  # type: ignore[method-assign]

    assert pages == [["b2", "b3"], ["b4", "b5"]]
    assert [i[Attr.PAYLOAD.value]["S"] for i in backwards] == ["b5", "b4", "b3", "b2"]
    assert unknown == []
    # each query gathered b's five items (none for z), never a's and c's too
    assert gathered == 5 * (len(pages) + 1)
    assert table.items is everything
    assert dynamodb.scan(TableName=TABLE, Select="COUNT")["Count"] == 15
