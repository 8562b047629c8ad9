"""The relay's core: a DynamoDB stream batch in, published envelopes and a checkpoint out.

What a batch means, and why the code is shaped this way:

* A DynamoDB stream batch is ordered per item, not per aggregate: each event is its own item, so
  ``(account, 3)`` may arrive before ``(account, 2)``. Events are therefore sorted by
  ``(stream_id, version)`` before publishing, which is the order SNS FIFO keeps per message group.
* With ``ReportBatchItemFailures`` Lambda checkpoints at the lowest reported sequence number and
  redelivers *every* record from there on. So the answer is a single position in the batch's
  original order: the first record that is not done. Because publishing happens in sorted order,
  that position is computed over the original record positions, never over the publish order;
  every record before it must be published or deliberately skipped, which is what makes
  acknowledging it safe.
* Records after that position are redelivered anyway. Re-publishing the ones that did go out is
  harmless: the bus is FIFO and deduplicates on ``event_id`` (and consumers are idempotent on
  ``(stream_id, version)``).
* A record that should be an event but cannot be decoded is a poison record. It is reported as the
  first failure, never dropped, so the mapping's bounded retries and bisection isolate it and its
  on-failure destination receives it. Events after it are not published in this invocation: they
  would be redelivered after it in any case, and publishing them on every retry of the poison
  record would only multiply duplicates.
* Records that are deliberately not events (idempotency items, MODIFY/REMOVE) are skipped and
  reported in the outcome, so the handler can count and log them.

Why not powertools' ``BatchProcessor``: it hands one record at a time to a record handler in
stream order and reports the records whose handler raised. The relay needs the whole batch at
once (to sort across records and to publish 10 entries per ``PublishBatch`` call), and its
failures come from a batch call after sorting, so there is no per-record handler whose exception
could carry the failure; the "first failure in stream order" rule is a few lines here instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from uuid import UUID

from platform_events import EventEnvelope, EventRegistry, EventsError, NotAnEvent
from platform_events.dynamodb import decode_stream_record

BATCH_ITEM_FAILURES: Final = "batchItemFailures"
ITEM_IDENTIFIER: Final = "itemIdentifier"


# ---------------------------------------------------------------------------------- the port
@dataclass(frozen=True, slots=True)
class PublishReport:
    """What a publisher did with the envelopes it was given.

    Only ids in ``published`` count as published: an envelope the publisher forgot to mention is
    retried, never acknowledged by accident.
    """

    published: frozenset[UUID]
    failures: Mapping[UUID, str] = field(default_factory=dict)
    """Why an envelope was not published, for logs."""


class EventPublisher(Protocol):
    """Puts envelopes on the bus in the order given (per-stream order matters, nothing else)."""

    def publish(self, envelopes: Sequence[EventEnvelope]) -> PublishReport: ...


# ---------------------------------------------------------------------------------- outcome
@dataclass(frozen=True, slots=True)
class RecordRef:
    """Where a record sits in the batch Lambda delivered."""

    position: int
    sequence_number: str | None


@dataclass(frozen=True, slots=True)
class Skipped:
    record: RecordRef
    reason: str


@dataclass(frozen=True, slots=True)
class Malformed:
    record: RecordRef
    error: str


@dataclass(frozen=True, slots=True)
class Unpublished:
    record: RecordRef
    envelope: EventEnvelope
    reason: str


class UnidentifiableRecord(Exception):
    """The first failed record has no sequence number, so no checkpoint can name it.

    Raising fails the whole invocation, which makes Lambda retry the batch: slower, never lossy.
    """


@dataclass(frozen=True, slots=True)
class RelayOutcome:
    """The result of one batch; ``retry_from`` is the record Lambda must resume at, if any."""

    received: int
    published: tuple[EventEnvelope, ...]
    skipped: tuple[Skipped, ...]
    malformed: tuple[Malformed, ...]
    unpublished: tuple[Unpublished, ...]
    deferred: tuple[RecordRef, ...]
    """Events after a poison record, left for the redelivery that follows it."""
    retry_from: RecordRef | None

    @property
    def redelivered(self) -> int:
        """How many records Lambda will deliver again (the retry point and all after it)."""
        return 0 if self.retry_from is None else self.received - self.retry_from.position

    def batch_response(self) -> dict[str, list[dict[str, str]]]:
        """Lambda's partial batch response: empty when done, else the first record not done."""
        if self.retry_from is None:
            return {BATCH_ITEM_FAILURES: []}
        if not self.retry_from.sequence_number:
            msg = f"record at position {self.retry_from.position} has no SequenceNumber"
            raise UnidentifiableRecord(msg)
        return {BATCH_ITEM_FAILURES: [{ITEM_IDENTIFIER: self.retry_from.sequence_number}]}


# ---------------------------------------------------------------------------------- the relay
def relay_records(
    records: Sequence[object],
    publisher: EventPublisher,
    registry: EventRegistry | None = None,
) -> RelayOutcome:
    """Publish the events in a stream batch and say where Lambda must resume."""
    skipped: list[Skipped] = []
    malformed: list[Malformed] = []
    events: list[tuple[RecordRef, EventEnvelope]] = []
    for position, record in enumerate(records):
        ref = RecordRef(position, _sequence_number(record))
        if not isinstance(record, Mapping):
            malformed.append(Malformed(ref, "stream record is not an object"))
            continue
        try:
            envelope = decode_stream_record(record, registry)
        except NotAnEvent as not_an_event:
            skipped.append(Skipped(ref, not_an_event.reason))
        except EventsError as error:
            malformed.append(Malformed(ref, str(error)))
        else:
            events.append((ref, envelope))

    poison_at = min((m.record.position for m in malformed), default=len(records))
    to_publish = sorted(
        ((ref, envelope) for ref, envelope in events if ref.position < poison_at),
        key=lambda pair: pair[1].key,
    )
    deferred = tuple(ref for ref, _ in events if ref.position > poison_at)

    report = (
        publisher.publish([envelope for _, envelope in to_publish])
        if to_publish
        else PublishReport(frozenset())
    )
    published: list[EventEnvelope] = []
    unpublished: list[Unpublished] = []
    for ref, envelope in to_publish:
        if envelope.event_id in report.published:
            published.append(envelope)
        else:
            reason = report.failures.get(envelope.event_id, "not reported by the publisher")
            unpublished.append(Unpublished(ref, envelope, reason))

    failed = [m.record for m in malformed] + [u.record for u in unpublished]
    retry_from = min(failed, key=lambda ref: ref.position) if failed else None
    return RelayOutcome(
        received=len(records),
        published=tuple(published),
        skipped=tuple(skipped),
        malformed=tuple(malformed),
        unpublished=tuple(sorted(unpublished, key=lambda u: u.record.position)),
        deferred=deferred,
        retry_from=retry_from,
    )


def _sequence_number(record: object) -> str | None:
    if not isinstance(record, Mapping):
        return None
    change: Any = record.get("dynamodb")
    value = change.get("SequenceNumber") if isinstance(change, Mapping) else None
    return value if isinstance(value, str) else None
