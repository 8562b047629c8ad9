"""The DynamoDB adapter on moto: consistent paginated loads, conditional appends, records."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from command_api.adapters.dynamodb_store import DynamoDBEventStore
from command_api.adapters.event_store import (
    ConcurrencyConflict,
    CorruptStream,
    IdempotencyKey,
    IdempotencyKeyTaken,
    IdempotencyRecord,
)
from command_api.reply import Reply

from account_events import AccountOpened, MoneyDeposited
from platform_events import EventEnvelope, default_registry
from platform_events.dynamodb import to_dynamodb_json

STREAM = "6f1c3b0e-2a4d-4c1e-9b7a-3d2f1e0c9b8a"
KEY = IdempotencyKey("c" * 64, "d" * 64)


@pytest.fixture
def store(dynamodb, table_name, clock) -> DynamoDBEventStore:
    return DynamoDBEventStore(dynamodb, table_name, clock, page_size=2)


def envelope(version: int, clock) -> EventEnvelope:
    payload = (
        AccountOpened(owner="Ada", currency="EUR")
        if version == 1
        else MoneyDeposited(amount=Decimal(version))
    )
    return default_registry.envelope(
        payload,
        stream_id=STREAM,
        version=version,
        occurred_at=clock(),
        correlation_id="c",
        causation_id="r",
        event_id=uuid4(),
    )


def record(expires_at: int, request_hash: str = "h") -> IdempotencyRecord:
    reply = Reply(201, '{"ok":1}', {"ETag": '"1"'})
    return IdempotencyRecord(KEY, request_hash, reply, expires_at)


def test_an_unknown_stream_is_empty(store) -> None:
    assert store.load(STREAM) == []


def test_a_stream_loads_whole_across_pages_in_order(store, clock) -> None:
    events = [envelope(v, clock) for v in range(1, 8)]
    store.append(events[:1])
    store.append(events[1:4])
    store.append(events[4:])
    assert store.load(STREAM) == events


def test_an_append_onto_a_taken_version_is_a_conflict_and_writes_nothing(store, clock) -> None:
    store.append([envelope(1, clock), envelope(2, clock)])
    with pytest.raises(ConcurrencyConflict):
        store.append([envelope(2, clock), envelope(3, clock)])
    assert [e.version for e in store.load(STREAM)] == [1, 2]


def test_events_and_record_commit_together(store, clock) -> None:
    expiry = int(clock().timestamp()) + 60
    store.append([envelope(1, clock)], record(expiry))
    assert store.idempotency_record(KEY) == record(expiry)


def test_a_conflict_on_the_events_also_drops_the_record(store, clock) -> None:
    store.append([envelope(1, clock)])
    with pytest.raises(ConcurrencyConflict):
        store.append([envelope(1, clock)], record(int(clock().timestamp()) + 60))
    assert store.idempotency_record(KEY) is None


def test_a_live_record_takes_the_key_and_nothing_is_written(store, clock) -> None:
    expiry = int(clock().timestamp()) + 60
    store.record_idempotency(record(expiry))
    with pytest.raises(IdempotencyKeyTaken):
        store.append([envelope(1, clock)], record(expiry, "other"))
    with pytest.raises(IdempotencyKeyTaken):
        store.record_idempotency(record(expiry, "other"))
    assert store.load(STREAM) == []
    assert store.idempotency_record(KEY) == record(expiry)


def test_one_key_of_two_callers_is_two_records(store, clock) -> None:
    expiry = int(clock().timestamp()) + 60
    other_caller = IdempotencyKey("e" * 64, KEY.key_digest)
    store.record_idempotency(record(expiry))
    store.record_idempotency(IdempotencyRecord(other_caller, "other", record(expiry).reply, expiry))
    assert store.idempotency_record(KEY) == record(expiry)
    assert store.idempotency_record(other_caller).request_hash == "other"
    assert store.idempotency_record(IdempotencyKey("f" * 64, KEY.key_digest)) is None


def test_an_expired_record_that_ttl_has_not_deleted_yet_is_free(store, clock) -> None:
    store.record_idempotency(record(int(clock().timestamp()) + 60))
    clock.advance(timedelta(seconds=60))
    store.append([envelope(1, clock)], record(int(clock().timestamp()) + 60, "new"))
    assert store.idempotency_record(KEY).request_hash == "new"


def test_a_stream_with_a_gap_is_corrupt_not_silently_folded(store, dynamodb, table_name, clock):
    store.append([envelope(1, clock)])
    dynamodb.put_item(TableName=table_name, Item=to_dynamodb_json(envelope(3, clock)))
    with pytest.raises(CorruptStream):
        store.load(STREAM)


def test_an_empty_append_is_a_bug(store) -> None:
    with pytest.raises(ValueError, match="at least one event"):
        store.append([])
