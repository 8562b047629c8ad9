"""The event store's item layout: one DynamoDB item per event, defined here and nowhere else.

The table is keyed by ``(stream_id, version)``, so a conditional put on that key is the optimistic
concurrency check. A sparse, sharded global secondary index (``replay_index``) lets a replay read
one aggregate type's events in per-stream version order without a hot partition: the partition key
is ``"<aggregate_type>#<shard>"`` with the shard derived from the stream id, the sort key is
``"<stream_id>#<version, zero padded>"``. Only event items carry the index attributes, so other
items (idempotency records) never appear in a replay.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Final


class Attr(StrEnum):
    """Attribute names of event-store items."""

    STREAM_ID = "stream_id"
    VERSION = "version"
    ITEM_KIND = "item_kind"
    EVENT_ID = "event_id"
    EVENT_TYPE = "event_type"
    SCHEMA_VERSION = "schema_version"
    AGGREGATE_TYPE = "aggregate_type"
    OCCURRED_AT = "occurred_at"
    CORRELATION_ID = "correlation_id"
    CAUSATION_ID = "causation_id"
    PAYLOAD = "payload"
    METADATA = "metadata"
    REPLAY_SHARD = "replay_shard"
    REPLAY_SORT = "replay_sort"
    ENVELOPE = "envelope"
    """The envelope's canonical JSON text. The typed attributes are the source of truth; this copy
    lets the replay state machine (JSONPath only, no code) send events without DynamoDB JSON."""
    # idempotency records (see ItemKind.IDEMPOTENCY)
    REQUEST_HASH = "request_hash"
    RESPONSE = "response"
    EXPIRES_AT = "expires_at"


class ItemKind(StrEnum):
    """What an item in the event store table is; only ``EVENT`` items are events."""

    EVENT = "event"
    IDEMPOTENCY = "idempotency"


PARTITION_KEY: Final = Attr.STREAM_ID
SORT_KEY: Final = Attr.VERSION
REPLAY_INDEX_NAME: Final = "replay_index"
REPLAY_SHARD_COUNT: Final = 8
"""Shards per aggregate type in the replay index. Changing it needs a backfill of the index keys."""
VERSION_DIGITS: Final = 12
TTL_ATTRIBUTE: Final = Attr.EXPIRES_AT
IDEMPOTENCY_STREAM_PREFIX: Final = "$idempotency#"
IDEMPOTENCY_VERSION: Final = 0
"""Idempotency records sit at version 0 of a reserved stream id, so they can never collide with an
event (events start at version 1) and are written in the same transaction as the events."""


def replay_shard_of(stream_id: str) -> int:
    """The replay index shard of a stream: stable across processes and Python versions."""
    digest = hashlib.blake2b(stream_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % REPLAY_SHARD_COUNT


def replay_partition(aggregate_type: str, shard: int) -> str:
    """The replay index partition key value of one shard of an aggregate type."""
    return f"{aggregate_type}#{shard}"


def replay_sort_key(stream_id: str, version: int) -> str:
    """Sorts a shard's events by stream, then version (zero padded so strings sort as numbers)."""
    return f"{stream_id}#{version:0{VERSION_DIGITS}d}"


def idempotency_stream_id(caller_digest: str, key_digest: str) -> str:
    """The reserved stream id of the idempotency record of one caller's ``Idempotency-Key``.

    Both parts are hex digests (of the caller's identity and of the key), so no identity text needs
    escaping and the id stays short; the caller's part keeps one caller from ever reading, or
    colliding with, another caller's record.
    """
    return f"{IDEMPOTENCY_STREAM_PREFIX}{caller_digest}#{key_digest}"


def event_store_key_schema() -> dict[str, object]:
    """The table's keys, attribute types and replay index, for Pulumi and for emulators alike.

    Returned as plain data in boto3's ``create_table`` vocabulary so that the platform stack, the
    tests and the local runner all create the very same table.
    """
    return {
        "AttributeDefinitions": [
            {"AttributeName": Attr.STREAM_ID.value, "AttributeType": "S"},
            {"AttributeName": Attr.VERSION.value, "AttributeType": "N"},
            {"AttributeName": Attr.REPLAY_SHARD.value, "AttributeType": "S"},
            {"AttributeName": Attr.REPLAY_SORT.value, "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": Attr.STREAM_ID.value, "KeyType": "HASH"},
            {"AttributeName": Attr.VERSION.value, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": REPLAY_INDEX_NAME,
                "KeySchema": [
                    {"AttributeName": Attr.REPLAY_SHARD.value, "KeyType": "HASH"},
                    {"AttributeName": Attr.REPLAY_SORT.value, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    }
