"""Envelope <-> SNS/SQS message: the JSON body plus ``event_type``/``aggregate_type`` attributes.

Messages are FIFO: group id = ``stream_id`` (ordering per stream), deduplication id =
``event_id``. Consumers accept both raw delivery (the body is the envelope) and SNS's wrapped form
(the body is an SNS notification whose ``Message`` is the envelope).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Final

from platform_events.envelope import EventEnvelope
from platform_events.errors import MalformedEnvelope, MalformedMessage

STRING: Final = "String"
SNS_NOTIFICATION: Final = "Notification"
REPLAYED_EVENTS: Final = "replayed_events"
"""Key of a replay page: ``{"replayed_events": ["<envelope JSON>", ...]}``, one message per page of
the event store, so that a replay of N events costs N/page-size state transitions."""


class MessageAttr(StrEnum):
    """Message attributes every event message carries, for subscription filter policies."""

    EVENT_TYPE = "event_type"
    AGGREGATE_TYPE = "aggregate_type"


def message_attributes(envelope: EventEnvelope) -> dict[str, dict[str, str]]:
    """SNS/SQS ``MessageAttributes`` for an envelope (same shape for both services)."""
    return {
        MessageAttr.EVENT_TYPE.value: {"DataType": STRING, "StringValue": envelope.event_type},
        MessageAttr.AGGREGATE_TYPE.value: {
            "DataType": STRING,
            "StringValue": envelope.aggregate_type,
        },
    }


def sns_batch_entry(envelope: EventEnvelope, entry_id: str) -> dict[str, Any]:
    """One ``PublishBatchRequestEntries`` item for an SNS FIFO topic."""
    return {
        "Id": entry_id,
        "Message": envelope.to_json(),
        "MessageGroupId": envelope.stream_id,
        "MessageDeduplicationId": str(envelope.event_id),
        "MessageAttributes": message_attributes(envelope),
    }


def sqs_batch_entry(envelope: EventEnvelope, entry_id: str) -> dict[str, Any]:
    """One ``SendMessageBatch`` entry for an SQS FIFO queue (used by replays)."""
    return {
        "Id": entry_id,
        "MessageBody": envelope.to_json(),
        "MessageGroupId": envelope.stream_id,
        "MessageDeduplicationId": str(envelope.event_id),
        "MessageAttributes": message_attributes(envelope),
    }


def decode_message_body(body: str | bytes) -> EventEnvelope:
    """The envelope in an SQS message body, raw or wrapped in an SNS notification."""
    return _envelope_of_document(_parse(body))


def _parse(body: str | bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, TypeError) as error:
        msg = f"message body is not JSON: {error}"
        raise MalformedMessage(msg) from error


def _envelope_of_document(document: object) -> EventEnvelope:
    if not isinstance(document, dict):
        msg = "message body is not a JSON object"
        raise MalformedMessage(msg)
    if document.get("Type") == SNS_NOTIFICATION and "Message" in document:
        inner = document["Message"]
        if not isinstance(inner, str):
            msg = "SNS notification's Message is not a string"
            raise MalformedMessage(msg)
        return decode_message_body(inner)
    try:
        return EventEnvelope.from_dict(document)
    except MalformedEnvelope as error:
        raise MalformedMessage(str(error)) from error


def decode_sqs_record(record: Mapping[str, Any]) -> EventEnvelope:
    """The envelope in an SQS message: a Lambda event record (``body``) or a boto3 ``Message``
    (``Body``)."""
    return decode_message_body(_body(record))


def replay_page_body(envelopes: Iterable[EventEnvelope]) -> str:
    """The body of a replay page message (what the replay state machine sends)."""
    return json.dumps({REPLAYED_EVENTS: [envelope.to_json() for envelope in envelopes]})


def decode_message_envelopes(body: str | bytes) -> list[EventEnvelope]:
    """Every envelope in a message body: one for an event message (raw or SNS-wrapped), all of
    them, in order, for a replay page."""
    return decode_document_envelopes(_parse(body))


def decode_document_envelopes(document: object) -> list[EventEnvelope]:
    """:func:`decode_message_envelopes` for a body already parsed with ``json.loads``: a
    consumer that looked into the body first (a replay page is tens of kilobytes) need not
    parse it twice."""
    if isinstance(document, dict) and set(document) == {REPLAYED_EVENTS}:
        texts = document[REPLAYED_EVENTS]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            msg = f"{REPLAYED_EVENTS} is not a list of envelope JSON texts"
            raise MalformedMessage(msg)
        envelopes = []
        for text in texts:
            try:
                envelopes.append(EventEnvelope.from_json(text))
            except MalformedEnvelope as error:
                raise MalformedMessage(str(error)) from error
        return envelopes
    return [_envelope_of_document(document)]


def decode_sqs_record_envelopes(record: Mapping[str, Any]) -> list[EventEnvelope]:
    """Every envelope in an SQS message (see :func:`decode_message_envelopes`)."""
    return decode_message_envelopes(_body(record))


def _body(record: Mapping[str, Any]) -> str:
    body = record.get("body", record.get("Body"))
    if not isinstance(body, str):
        msg = "SQS record has no string body"
        raise MalformedMessage(msg)
    return body
