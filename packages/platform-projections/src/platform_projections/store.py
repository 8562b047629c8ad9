"""The event store as a projection needs it: one stream's events in a version range, strongly
consistent. The port is what the runtime depends on; the fake serves unit tests and the local
runner, :mod:`platform_projections.dynamodb` serves AWS."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

from platform_events import EventEnvelope


class EventStoreUnavailable(Exception):
    """The event store could not be read (throttled, unreachable); the batch's group is retried."""


class EventStoreReader(ABC):
    """Reads one stream's events by version."""

    @abstractmethod
    def read(self, stream_id: str, first: int, last: int) -> Sequence[EventEnvelope]:
        """The stream's events with ``first <= version <= last``, in version order.

        Must be strongly consistent: a projection calls it because a later event already arrived,
        so every earlier version exists, and an eventually consistent read could miss it.
        """


class InMemoryEventStore(EventStoreReader):
    """An event store in a dict: append envelopes, read them back by stream and version."""

    def __init__(self, events: Iterable[EventEnvelope] = ()) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, dict[int, EventEnvelope]] = {}
        self.reads = 0
        for envelope in events:
            self.append(envelope)

    def append(self, envelope: EventEnvelope) -> None:
        with self._lock:
            stream = self._streams.setdefault(envelope.stream_id, {})
            if envelope.version in stream:
                msg = f"{envelope.stream_id} already has version {envelope.version}"
                raise ValueError(msg)
            if envelope.version != len(stream) + 1:
                msg = f"{envelope.stream_id} expects version {len(stream) + 1}"
                raise ValueError(msg)
            stream[envelope.version] = envelope

    def read(self, stream_id: str, first: int, last: int) -> Sequence[EventEnvelope]:
        with self._lock:
            self.reads += 1
            stream = self._streams.get(stream_id, {})
            return [stream[v] for v in range(first, last + 1) if v in stream]

    def stream(self, stream_id: str) -> list[EventEnvelope]:
        """Every event of one stream, in order."""
        with self._lock:
            stream = self._streams.get(stream_id, {})
            return [stream[v] for v in sorted(stream)]

    def stream_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._streams)
