"""platform_events: the normalized event envelope shared by producers and consumers.

Light at import: the DynamoDB codecs (which need boto3) live in :mod:`platform_events.dynamodb`.
"""

from platform_events.envelope import EventEnvelope, format_timestamp
from platform_events.errors import (
    EventsError,
    InvalidPayload,
    MalformedEnvelope,
    MalformedItem,
    MalformedMessage,
    NotAnEvent,
    UnknownEventType,
    UpcastError,
)
from platform_events.messaging import (
    MessageAttr,
    decode_message_body,
    decode_message_envelopes,
    decode_sqs_record,
    decode_sqs_record_envelopes,
    message_attributes,
    replay_page_body,
    sns_batch_entry,
    sqs_batch_entry,
)
from platform_events.registry import (
    EventPayload,
    EventRegistry,
    EventTypeInfo,
    default_registry,
    register_event,
    register_upcaster,
)

__all__ = [
    "EventEnvelope",
    "EventPayload",
    "EventRegistry",
    "EventTypeInfo",
    "EventsError",
    "InvalidPayload",
    "MalformedEnvelope",
    "MalformedItem",
    "MalformedMessage",
    "MessageAttr",
    "NotAnEvent",
    "UnknownEventType",
    "UpcastError",
    "decode_message_body",
    "decode_message_envelopes",
    "decode_sqs_record",
    "decode_sqs_record_envelopes",
    "default_registry",
    "format_timestamp",
    "message_attributes",
    "register_event",
    "register_upcaster",
    "replay_page_body",
    "sns_batch_entry",
    "sqs_batch_entry",
]
