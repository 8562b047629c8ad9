"""SQS records (Lambda's event shape) -> messages that know their FIFO group and what they carry.

Three kinds of message reach a projection:

- a live event: one envelope, raw or wrapped by SNS (the live queue, group = stream id);
- a replay page: ``{"replayed_events": ["<envelope JSON>", ...]}``, many envelopes of one replay
  index partition in per-stream version order (the replay queue, group = partition);
- a replay control message: ``{"replay_control": ..., "rebuild": ...}`` (the replay queue, group
  ``replay-control``; see :mod:`platform_replay.control`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from platform_replay.control import MalformedControl, ReplayControl, is_control, parse_control

from platform_events import EventEnvelope, EventsError
from platform_events.messaging import REPLAYED_EVENTS, decode_document_envelopes


class MessageKind(StrEnum):
    EVENT = "event"
    """A live event (written into the active generation)."""
    PAGE = "page"
    """A replay page (written into the generation being built, else the active one)."""
    CONTROL = "control"
    """A rebuild's control message."""
    UNDECODABLE = "undecodable"


@dataclass(frozen=True, slots=True)
class Message:
    """One delivered message: decoded, or carrying why it could not be."""

    message_id: str
    group_id: str
    kind: MessageKind
    envelopes: tuple[EventEnvelope, ...] = ()
    control: ReplayControl | None = None
    error: str | None = None

    @property
    def replayed(self) -> bool:
        return self.kind is MessageKind.PAGE


def read_messages(records: Iterable[Mapping[str, Any]]) -> list[Message]:
    """Decode every record; an undecodable one is kept, with its error."""
    messages = []
    for index, record in enumerate(records):
        message_id = str(record.get("messageId") or record.get("MessageId") or f"#{index}")
        attributes = record.get("attributes") or record.get("Attributes") or {}
        group = attributes.get("MessageGroupId") if isinstance(attributes, Mapping) else None
        message = _decode(message_id, str(group) if group else "", record)
        if not message.group_id:
            # FIFO queues always name the group; the stream id (then the message itself) stands
            # in for it elsewhere, matching how the bus groups messages.
            fallback = message.envelopes[0].stream_id if message.envelopes else message_id
            message = Message(
                message.message_id,
                fallback,
                message.kind,
                message.envelopes,
                message.control,
                message.error,
            )
        messages.append(message)
    return messages


def by_group(messages: Sequence[Message]) -> dict[str, list[Message]]:
    """Messages per FIFO group, each group in delivery order (dicts keep first-seen group order)."""
    groups: dict[str, list[Message]] = {}
    for message in messages:
        groups.setdefault(message.group_id, []).append(message)
    return groups


def _decode(message_id: str, group_id: str, record: Mapping[str, Any]) -> Message:
    body = record.get("body", record.get("Body"))
    if not isinstance(body, str):
        return _undecodable(message_id, group_id, "SQS record has no string body")
    try:
        document = json.loads(body)
    except ValueError as error:
        return _undecodable(message_id, group_id, f"message body is not JSON: {error}")
    if is_control(document):
        try:
            control = parse_control(document)
        except MalformedControl as error:
            return _undecodable(message_id, group_id, str(error))
        return Message(message_id, group_id, MessageKind.CONTROL, control=control)
    try:
        # The codec of platform_events decides what an envelope is, for pages and events alike;
        # it takes the body parsed once above (a page is tens of kilobytes).
        envelopes = tuple(decode_document_envelopes(document))
    except EventsError as error:
        return _undecodable(message_id, group_id, str(error))
    page = isinstance(document, dict) and REPLAYED_EVENTS in document
    kind = MessageKind.PAGE if page else MessageKind.EVENT
    return Message(message_id, group_id, kind, envelopes)


def _undecodable(message_id: str, group_id: str, error: str) -> Message:
    return Message(message_id, group_id, MessageKind.UNDECODABLE, error=error)
