"""The event bus adapter: envelopes -> SNS FIFO ``PublishBatch`` calls, 10 entries at most each.

Per-stream order is what FIFO consumers rely on, so once an event of a stream fails, the later
events of that stream are held back from the following calls rather than published ahead of it
(the retry publishes them in order). Other streams carry on. Within one call SNS answers for each
entry separately and does not document whether it publishes an entry that follows a failed one
of the same group; such an event may overtake its predecessor, which the contract's consumers
tolerate (they fill gaps from the event store). A call that raises (throttling that
outlived botocore's retries, a timeout, a network error) stops publishing altogether: whether
any of its entries went out is unknown, the service is unwell, and everything not confirmed is
retried anyway; re-sent entries are dropped by the topic's deduplication on ``event_id``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, cast
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from platform_events import EventEnvelope, sns_batch_entry
from stream_relay.relay import PublishReport

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import PublishBatchRequestEntryTypeDef

MAX_BATCH_ENTRIES: Final = 10
MAX_BATCH_BYTES: Final = 256 * 1024
"""SNS limit on the total size of one ``PublishBatch`` call (messages plus attributes)."""
HELD_BACK: Final = "held back: an earlier event of its stream was not published"

_Pair = tuple[EventEnvelope, dict[str, Any]]


class SnsBusPublisher:
    """Publishes envelopes to the SNS FIFO bus with ``platform_events.sns_batch_entry``."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, envelopes: Sequence[EventEnvelope]) -> PublishReport:
        published: set[UUID] = set()
        failures: dict[UUID, str] = {}
        failed_streams: set[str] = set()
        chunks = list(_chunks([(e, sns_batch_entry(e, str(i))) for i, e in enumerate(envelopes)]))
        for index, chunk in enumerate(chunks):
            sendable = [pair for pair in chunk if pair[0].stream_id not in failed_streams]
            for envelope, _ in chunk:
                if envelope.stream_id in failed_streams:
                    failures[envelope.event_id] = HELD_BACK
            if not sendable:
                continue
            try:
                sent, refused = self._send(sendable)
            except (BotoCoreError, ClientError) as error:
                reason = f"PublishBatch raised {type(error).__name__}: {error}"
                not_sent = [pair for later in chunks[index + 1 :] for pair in later]
                for envelope, _ in sendable + not_sent:
                    failures.setdefault(envelope.event_id, reason)
                break
            published.update(sent)
            failures.update(refused)
            failed_streams.update(e.stream_id for e, _ in sendable if e.event_id not in sent)
        # An id both confirmed and refused (a duplicated event id) is retried, not acknowledged.
        published.difference_update(failures)
        return PublishReport(frozenset(published), failures)

    def _send(self, pairs: list[_Pair]) -> tuple[set[UUID], dict[UUID, str]]:
        response = self._client.publish_batch(
            TopicArn=self._topic_arn,
            PublishBatchRequestEntries=cast(
                "list[PublishBatchRequestEntryTypeDef]", [entry for _, entry in pairs]
            ),
        )
        by_id = {entry["Id"]: envelope for envelope, entry in pairs}
        sent = {
            by_id[success["Id"]].event_id
            for success in response.get("Successful", [])
            if success.get("Id") in by_id
        }
        refused = {
            by_id[failure["Id"]].event_id: f"{failure['Code']}: {failure.get('Message', '')}"
            for failure in response.get("Failed", [])
            if failure["Id"] in by_id
        }
        return sent, refused


def _chunks(pairs: Sequence[_Pair]) -> Iterator[list[_Pair]]:
    chunk: list[_Pair] = []
    size = 0
    for pair in pairs:
        entry_size = _entry_size(pair[1])
        if chunk and (len(chunk) == MAX_BATCH_ENTRIES or size + entry_size > MAX_BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(pair)
        size += entry_size
    if chunk:
        yield chunk


def _entry_size(entry: dict[str, Any]) -> int:
    size = len(entry["Message"].encode())
    for name, value in entry.get("MessageAttributes", {}).items():
        size += len(name.encode()) + len(value["DataType"]) + len(value["StringValue"].encode())
    return size
