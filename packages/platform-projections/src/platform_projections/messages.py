"""SQS records (Lambda's event shape) -> messages that know their FIFO group and their envelope."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from platform_events import EventEnvelope, EventsError, decode_sqs_record


@dataclass(frozen=True, slots=True)
class Message:
    """One delivered message: decoded, or carrying why it could not be."""

    message_id: str
    group_id: str
    envelope: EventEnvelope | None
    error: str | None = None


def read_messages(records: Iterable[Mapping[str, Any]]) -> list[Message]:
    """Decode every record (raw or SNS-wrapped body); an undecodable one is kept, with its error."""
    messages = []
    for index, record in enumerate(records):
        message_id = str(record.get("messageId") or record.get("MessageId") or f"#{index}")
        attributes = record.get("attributes") or record.get("Attributes") or {}
        group = attributes.get("MessageGroupId") if isinstance(attributes, Mapping) else None
        try:
            envelope: EventEnvelope | None = decode_sqs_record(record)
            error = None
        except EventsError as problem:
            envelope, error = None, str(problem)
        # FIFO queues always name the group; the stream id (then the message itself) stands in
        # for it elsewhere, matching how the bus groups messages.
        group_id = str(group) if group else (envelope.stream_id if envelope else message_id)
        messages.append(Message(message_id, group_id, envelope, error))
    return messages


def by_group(messages: Sequence[Message]) -> dict[str, list[Message]]:
    """Messages per FIFO group, each group in delivery order (dicts keep first-seen group order)."""
    groups: dict[str, list[Message]] = {}
    for message in messages:
        groups.setdefault(message.group_id, []).append(message)
    return groups
