"""Where moto behaves unlike AWS in ways the whole system notices, and how the wiring adapts
(on the emulated side only: the services' code stays as deployed)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any


class CurrentShardStreams:
    """A DynamoDB Streams client whose shard iterators always read the table's current shard.

    moto rolls a cancelled ``TransactWriteItems`` back by putting a deep copy of the table taken
    before the transaction in place of the table, stream shard included, while the shard
    iterators handed out so far keep reading the replaced shard: a stream consumer would never
    see another record after the first concurrency conflict, and could read the stream records
    of the cancelled transaction's other writes (which DynamoDB never emits). DynamoDB's
    iterators name a position in the shard; this adapter does the same, fetching a fresh
    iterator for that position before every ``GetRecords``.
    """

    def __init__(
        self,
        client: Any,
        atomically: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        """``atomically``: a block in which no other thread calls moto, so that the fresh
        iterator and the read it serves see the same table (another thread's cancelled
        transaction could replace the table between the two calls)."""
        self._client = client
        self._atomically = atomically
        self._positions: dict[str, dict[str, Any]] = {}

    def get_shard_iterator(self, **request: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.get_shard_iterator(**request)
        self._positions[answer["ShardIterator"]] = dict(request)
        return answer

    def get_records(self, *, ShardIterator: str, **options: Any) -> dict[str, Any]:  # noqa: N803
        position = self._positions.pop(ShardIterator)
        with self._atomically():
            fresh = self._client.get_shard_iterator(**position)["ShardIterator"]
            answer: dict[str, Any] = self._client.get_records(ShardIterator=fresh, **options)
        records = answer.get("Records", [])
        if records:
            position = {
                "StreamArn": position["StreamArn"],
                "ShardId": position["ShardId"],
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "SequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            }
        following = answer.get("NextShardIterator")
        if following:
            self._positions[following] = position
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def detach_moto_invocation(account_id: str, region: str, queue_name: str) -> None:
    """Stop moto from invoking a queue's mapped function itself.

    moto delivers a message to the function of an enabled mapping the moment the message
    arrives (in Docker, consuming it); the pollers play Lambda's part instead and read the
    mapping's state through the Lambda API.
    """
    from moto.sqs.models import sqs_backends  # noqa: PLC0415 - moto internals, here only

    sqs_backends[account_id][region].queues[queue_name].lambda_event_source_mappings.clear()
