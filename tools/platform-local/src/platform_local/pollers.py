"""Pollers that play the part of Lambda's event source mappings.

They honour what the real mappings do and what the handlers rely on: batch sizes, an enabled flag
(the replay switches a live mapping on), partial batch responses (``batchItemFailures``), retries,
and -- through the queues' own redrive policies -- dead-letter queues after ``maxReceiveCount``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from platform_local.lambda_events import dynamodb_stream_record, failed_identifiers, sqs_record

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]
FAILED_RETRY_DELAY_SECONDS: Final = 1
"""How long a failed SQS message stays invisible before its retry (Lambda waits for the queue's
visibility timeout; locally a second keeps retries prompt without spinning)."""


@dataclass(frozen=True, slots=True)
class LambdaContext:
    """The parts of Lambda's context object that handlers and powertools read."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@dataclass(slots=True)
class PollerStats:
    """What a poller has done, for ``platform-local status``."""

    batches: int = 0
    records: int = 0
    failed_records: int = 0
    handler_errors: int = 0
    last_batch_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "records": self.records,
            "failed_records": self.failed_records,
            "handler_errors": self.handler_errors,
            "last_batch_at": self.last_batch_at,
        }


class Poller(Protocol):
    name: str
    stats: PollerStats

    def poll_once(self) -> int: ...


def invoke(handler: Handler, event: dict[str, Any], function_name: str) -> object:
    """Call a handler as Lambda would; an exception means the whole batch failed."""
    return handler(event, LambdaContext(function_name=function_name))


class SqsEventSource:
    """An SQS event source mapping: receive up to ``batch_size``, invoke, delete what succeeded."""

    def __init__(
        self,
        *,
        name: str,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        handler: Handler,
        function_name: str,
        batch_size: int = 10,
        enabled: Callable[[], bool] = lambda: True,
        region: str = "eu-west-1",
        wait_seconds: int = 1,
    ) -> None:
        self.name = name
        self.stats = PollerStats()
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._handler = handler
        self._function_name = function_name
        self._batch_size = batch_size
        self._enabled = enabled
        self._region = region
        self._wait_seconds = wait_seconds

    @property
    def enabled(self) -> bool:
        return self._enabled()

    def poll_once(self) -> int:
        """One receive-invoke-settle round; returns how many messages it handled."""
        if not self._enabled():
            return 0
        received = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = received.get("Messages", [])
        if not messages:
            return 0
        records = [sqs_record(m, self._queue_arn, self._region) for m in messages]
        started = time.monotonic()
        try:
            response = invoke(self._handler, {"Records": records}, self._function_name)
            failed = failed_identifiers(response)
        except Exception:
            log.exception("%s: handler raised; the whole batch will be retried", self.name)
            self.stats.handler_errors += 1
            failed = None
        failed_ids = {r["messageId"] for r in records} if failed is None else set(failed)
        succeeded = [m for m in messages if m["MessageId"] not in failed_ids]
        for start in range(0, len(succeeded), 10):
            chunk = succeeded[start : start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
        for message in messages:
            if message["MessageId"] in failed_ids:
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=FAILED_RETRY_DELAY_SECONDS,
                )
        self.stats.batches += 1
        self.stats.records += len(messages)
        self.stats.failed_records += len(failed_ids)
        self.stats.last_batch_at = time.time()
        log.info(
            "%s: batch of %d, %d failed, %.0f ms",
            self.name,
            len(messages),
            len(failed_ids),
            (time.monotonic() - started) * 1000,
        )
        return len(messages)


ITERATOR_REFRESH_SECONDS: Final = 0.5
"""An idle shard's iterator is renewed after this long: iterators expire (after 15 minutes in
AWS), and moto's stay bound to a copy of the stream once a cancelled transaction has restored
its table snapshot, so a poller that never renews would stop seeing new records."""


@dataclass(slots=True)
class _ShardCursor:
    shard_id: str
    iterator: str | None
    attempts: int = 0
    last_sequence_number: str | None = None
    idle_since: float | None = None


class DynamoDbStreamEventSource:
    """A DynamoDB Streams event source mapping with ``ReportBatchItemFailures``.

    A failure reported for a record makes the next batch start AT that record (everything after
    it is redelivered too); after ``max_retries`` failed attempts the record is handed to
    ``on_failure`` (the mapping's on-failure destination) and the shard moves past it.
    """

    def __init__(
        self,
        *,
        name: str,
        streams: Any,
        stream_arn: str,
        handler: Handler,
        function_name: str,
        batch_size: int = 100,
        max_retries: int = 5,
        on_failure: Callable[[dict[str, Any]], None] = lambda record: None,
        region: str = "eu-west-1",
    ) -> None:
        self.name = name
        self.stats = PollerStats()
        self._streams = streams
        self._stream_arn = stream_arn
        self._handler = handler
        self._function_name = function_name
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._on_failure = on_failure
        self._region = region
        self._cursors: dict[str, _ShardCursor] = {}

    def _refresh_shards(self) -> None:
        description = self._streams.describe_stream(StreamArn=self._stream_arn)
        for shard in description["StreamDescription"]["Shards"]:
            if shard["ShardId"] not in self._cursors:
                iterator = self._streams.get_shard_iterator(
                    StreamArn=self._stream_arn,
                    ShardId=shard["ShardId"],
                    ShardIteratorType="TRIM_HORIZON",
                )["ShardIterator"]
                self._cursors[shard["ShardId"]] = _ShardCursor(shard["ShardId"], iterator)

    def _iterator(self, shard_id: str, kind: str, sequence_number: str) -> str:
        return str(
            self._streams.get_shard_iterator(
                StreamArn=self._stream_arn,
                ShardId=shard_id,
                ShardIteratorType=kind,
                SequenceNumber=sequence_number,
            )["ShardIterator"]
        )

    def poll_once(self) -> int:
        self._refresh_shards()
        handled = 0
        for cursor in self._cursors.values():
            if cursor.iterator is None:
                continue
            answer = self._streams.get_records(
                ShardIterator=cursor.iterator, Limit=self._batch_size
            )
            raw = answer.get("Records", [])
            if not raw:
                cursor.iterator = answer.get("NextShardIterator")
                self._renew_when_idle(cursor)
                continue
            cursor.idle_since = None
            handled += self._deliver(cursor, raw, answer.get("NextShardIterator"))
        return handled

    def _renew_when_idle(self, cursor: _ShardCursor) -> None:
        now = time.monotonic()
        if cursor.idle_since is None:
            cursor.idle_since = now
            return
        if now - cursor.idle_since < ITERATOR_REFRESH_SECONDS:
            return
        cursor.idle_since = now
        if cursor.last_sequence_number is None:
            cursor.iterator = self._streams.get_shard_iterator(
                StreamArn=self._stream_arn,
                ShardId=cursor.shard_id,
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
        else:
            cursor.iterator = self._iterator(
                cursor.shard_id, "AFTER_SEQUENCE_NUMBER", cursor.last_sequence_number
            )

    def _deliver(self, cursor: _ShardCursor, raw: list[dict[str, Any]], after: str | None) -> int:
        records = [dynamodb_stream_record(r, self._stream_arn, self._region) for r in raw]
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in raw]
        try:
            failed = failed_identifiers(
                invoke(self._handler, {"Records": records}, self._function_name)
            )
        except Exception:
            log.exception("%s: handler raised; the batch will be retried", self.name)
            self.stats.handler_errors += 1
            failed = None
        if failed is not None and failed and failed[0] not in sequence_numbers:
            log.error("%s: unknown itemIdentifier %r; retrying the batch", self.name, failed[0])
            failed = None
        self.stats.batches += 1
        self.stats.records += len(raw)
        self.stats.last_batch_at = time.time()
        if failed == []:
            cursor.iterator = after
            cursor.attempts = 0
            cursor.last_sequence_number = sequence_numbers[-1]
            log.info("%s: batch of %d relayed", self.name, len(raw))
            return len(raw)
        retry_from = sequence_numbers[0] if failed is None else min(failed, key=int)
        position = sequence_numbers.index(retry_from)
        self.stats.failed_records += len(raw) - position
        cursor.attempts += 1
        if cursor.attempts > self._max_retries:
            log.error(
                "%s: record %s failed %d times; sent to the on-failure destination",
                self.name,
                retry_from,
                cursor.attempts,
            )
            self._on_failure(records[position])
            cursor.attempts = 0
            cursor.last_sequence_number = retry_from
            cursor.iterator = self._iterator(cursor.shard_id, "AFTER_SEQUENCE_NUMBER", retry_from)
        else:
            log.warning(
                "%s: retrying from record %s (attempt %d)", self.name, retry_from, cursor.attempts
            )
            if position > 0:
                cursor.last_sequence_number = sequence_numbers[position - 1]
            cursor.iterator = self._iterator(cursor.shard_id, "AT_SEQUENCE_NUMBER", retry_from)
        return position


class PollerThreads:
    """One background thread per poller (each mapping polls independently, as Lambda's do)."""

    def __init__(self, pollers: list[Poller], *, idle_sleep: float = 0.05) -> None:
        self.pollers = pollers
        self._idle_sleep = idle_sleep
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(p,), name=f"poller-{p.name}", daemon=True)
            for p in pollers
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, poller: Poller) -> None:
        while not self._stop.is_set():
            try:
                busy = poller.poll_once()
            except Exception:
                log.exception("%s: poll failed", poller.name)
                busy = 0
            if not busy:
                self._stop.wait(self._idle_sleep)
