"""The event source mapping's filter lets through exactly the records the relay publishes."""

from __future__ import annotations

from typing import Any

from stream_relay.selection import event_filter_pattern

from platform_events import NotAnEvent, layout
from platform_events.dynamodb import decode_stream_record


def matches(pattern: Any, data: Any) -> bool:
    """Lambda event filtering for the subset the pattern uses: nested keys, lists of exact
    values (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html)."""
    if isinstance(pattern, list):
        return data in pattern
    if not isinstance(data, dict):
        return False
    return all(key in data and matches(value, data[key]) for key, value in pattern.items())


def is_event(record: dict[str, Any]) -> bool:
    try:
        decode_stream_record(record)
    except NotAnEvent:
        return False
    return True


def test_the_filter_matches_new_events_only(event_store, account_history):
    key = event_store.record_idempotency("request-3")
    event_store.append(*account_history(deposits=1))
    event_store.client.update_item(
        TableName="event-store",
        Key=key,
        UpdateExpression="SET #r = :r",
        ExpressionAttributeNames={"#r": layout.Attr.RESPONSE.value},
        ExpressionAttributeValues={":r": {"S": "{}"}},
    )
    event_store.client.delete_item(TableName="event-store", Key=key)
    records = event_store.stream_records()

    selected = [matches(event_filter_pattern(), record) for record in records]

    assert selected == [is_event(record) for record in records]
    assert selected == [False, True, True, False, False]
