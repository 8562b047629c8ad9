"""The event store port: what the command executor needs from storage, whatever the backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from command_api.reply import Reply
from platform_events import EventEnvelope


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """An ``Idempotency-Key`` within its caller's scope, both as SHA-256 hex digests.

    Keys are chosen by clients, so two callers may pick the same one; scoping each to its caller
    keeps one caller from replaying (reading) another's answer or probing which keys it used.
    """

    caller_digest: str
    key_digest: str


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The first answer given to an ``Idempotency-Key``, kept until ``expires_at`` (epoch s)."""

    key: IdempotencyKey
    request_hash: str
    reply: Reply
    expires_at: int


class ConcurrencyConflict(Exception):
    """Another writer appended to the stream since it was loaded; reload and decide again."""


class IdempotencyKeyTaken(Exception):
    """Another request recorded the same ``Idempotency-Key`` first; its answer wins."""


class CorruptStream(Exception):
    """A stream's stored versions are not 1..N: a bug or a manual edit, never client input."""


class EventStore(ABC):
    @abstractmethod
    def load(self, stream_id: str) -> list[EventEnvelope]:
        """Every event of a stream, oldest first, read strongly consistently ([] if none)."""

    @abstractmethod
    def append(
        self, events: Sequence[EventEnvelope], idempotency: IdempotencyRecord | None = None
    ) -> None:
        """Write ``events`` (and the idempotency record) atomically, or nothing.

        Raises :class:`ConcurrencyConflict` when one of the events' versions exists already and
        :class:`IdempotencyKeyTaken` when a live record with the same key (of the same caller)
        exists.
        """

    @abstractmethod
    def idempotency_record(self, key: IdempotencyKey) -> IdempotencyRecord | None:
        """The record stored for a caller's key, expired or not, read strongly consistently."""

    @abstractmethod
    def record_idempotency(self, record: IdempotencyRecord) -> None:
        """Store a record on its own (an answer that wrote no event); same conflict as append."""
