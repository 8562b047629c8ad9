from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from platform_local.journal import EventStoreJournal

from platform_events.layout import Attr, event_store_key_schema

TABLE = "events"


def event_item(stream: str, version: int) -> dict[str, Any]:
    return {
        Attr.STREAM_ID.value: {"S": stream},
        Attr.VERSION.value: {"N": str(version)},
        Attr.ITEM_KIND.value: {"S": "event"},
    }


def append(client: Any, *items: dict[str, Any]) -> None:
    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(#v)",
                    "ExpressionAttributeNames": {"#v": Attr.VERSION.value},
                }
            }
            for item in items
        ]
    )


@pytest.fixture
def client() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(TableName=TABLE, **event_store_key_schema())
        yield client


def stored(client: Any) -> list[tuple[str, str]]:
    items = client.scan(TableName=TABLE)["Items"]
    return sorted((i["stream_id"]["S"], i["version"]["N"]) for i in items)


def test_successful_writes_are_journaled_and_conflicts_are_not(client: Any, tmp_path: Path) -> None:
    journal = EventStoreJournal(tmp_path / "journal.jsonl")
    journal.attach(client)
    append(client, event_item("a", 1), event_item("a", 2))
    with pytest.raises(ClientError):
        append(client, event_item("a", 2))  # version 2 exists: the transaction is cancelled
    client.put_item(TableName=TABLE, Item=event_item("b", 1))
    journal.close()
    assert [
        (e["Item"]["stream_id"]["S"], e["Item"]["version"]["N"]) for e in journal.entries()
    ] == [
        ("a", "1"),
        ("a", "2"),
        ("b", "1"),
    ]


def test_restore_rebuilds_the_table_in_a_fresh_emulator(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(TableName=TABLE, **event_store_key_schema())
        journal = EventStoreJournal(path)
        journal.attach(client)
        for version in range(1, 31):
            append(client, event_item("a", version))
        expected = stored(client)
        journal.close()
    with mock_aws():  # a new process: nothing in memory
        client = boto3.client("dynamodb")
        client.create_table(TableName=TABLE, **event_store_key_schema())
        assert EventStoreJournal(path).restore(client) == 30
        assert stored(client) == expected


def test_a_torn_last_line_is_ignored(client: Any, tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = EventStoreJournal(path)
    journal.attach(client)
    append(client, event_item("a", 1))
    journal.close()
    with path.open("ab") as raw:
        raw.write(b'[{"TableName": "events", "Item": {"stream')  # killed mid-write
    assert len(list(EventStoreJournal(path).entries())) == 1
