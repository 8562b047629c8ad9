"""The package's own errors: every malformed input raises one of these, never a KeyError."""

from __future__ import annotations


class EventsError(Exception):
    """Base class of every error raised by platform_events."""


class MalformedEnvelope(EventsError):
    """Data that claims to be an envelope does not satisfy the envelope's schema."""


class MalformedItem(EventsError):
    """A DynamoDB event-store item (or stream image) cannot be decoded into an envelope."""


class MalformedMessage(EventsError):
    """An SNS/SQS message body cannot be decoded into an envelope."""


class NotAnEvent(EventsError):
    """A DynamoDB stream record that is deliberately not an event (REMOVE, or a non-event item).

    Consumers skip these on purpose; ``reason`` says why, for a log line or a metric dimension.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownEventType(EventsError):
    """No payload model is registered for this ``(event_type, schema_version)``."""

    def __init__(self, event_type: str, schema_version: int | None = None) -> None:
        where = event_type if schema_version is None else f"{event_type} v{schema_version}"
        super().__init__(f"unknown event type: {where}")
        self.event_type = event_type
        self.schema_version = schema_version


class UpcastError(EventsError):
    """An old payload cannot be lifted to the current schema version."""


class InvalidPayload(EventsError):
    """A payload does not validate against its registered model."""
