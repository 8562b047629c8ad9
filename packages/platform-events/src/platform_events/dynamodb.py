"""Envelope <-> DynamoDB event-store item, and DynamoDB Streams record -> envelope.

Items use the layout in :mod:`platform_events.layout`. Numbers are exact: a registered payload is
stored through its model, so money fields (``Decimal``) become DynamoDB Numbers and come back as
the same decimal strings; nothing ever passes through a float.

Needs boto3 (the ``dynamodb`` extra) for DynamoDB JSON's type serializers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import JsonValue

from platform_events.envelope import EventEnvelope, format_timestamp
from platform_events.errors import EventsError, MalformedItem, NotAnEvent
from platform_events.layout import (
    Attr,
    ItemKind,
    replay_partition,
    replay_shard_of,
    replay_sort_key,
)
from platform_events.registry import EventRegistry, default_registry

_serializer: Final = TypeSerializer()
_deserializer: Final = TypeDeserializer()

INSERT: Final = "INSERT"


def to_item(envelope: EventEnvelope, registry: EventRegistry | None = None) -> dict[str, Any]:
    """The event-store item of an envelope, as Python values (boto3's resource-level shape)."""
    registry = registry or default_registry
    item: dict[str, Any] = {
        Attr.STREAM_ID: envelope.stream_id,
        Attr.VERSION: envelope.version,
        Attr.ITEM_KIND: ItemKind.EVENT.value,
        Attr.EVENT_ID: str(envelope.event_id),
        Attr.EVENT_TYPE: envelope.event_type,
        Attr.SCHEMA_VERSION: envelope.schema_version,
        Attr.AGGREGATE_TYPE: envelope.aggregate_type,
        Attr.OCCURRED_AT: format_timestamp(envelope.occurred_at),
        Attr.CORRELATION_ID: envelope.correlation_id,
        Attr.PAYLOAD: _payload_to_item(envelope, registry),
        Attr.METADATA: _json_to_item(envelope.metadata),
        Attr.REPLAY_SHARD: replay_partition(
            envelope.aggregate_type, replay_shard_of(envelope.stream_id)
        ),
        Attr.REPLAY_SORT: replay_sort_key(envelope.stream_id, envelope.version),
        Attr.ENVELOPE: envelope.to_json(),
    }
    if envelope.causation_id is not None:
        item[Attr.CAUSATION_ID] = envelope.causation_id
    return {str(key): value for key, value in item.items()}


def from_item(item: Mapping[str, Any], registry: EventRegistry | None = None) -> EventEnvelope:
    """Decode an event-store item (Python values, numbers as ``Decimal``) into an envelope.

    Items carry the envelope's canonical JSON text, which is decoded as written (checked against
    the key attributes); items without it are decoded from their typed attributes, through the
    registry's payload models where the type is registered.
    """
    registry = registry or default_registry
    kind = item.get(Attr.ITEM_KIND)
    if kind != ItemKind.EVENT:
        msg = f"item is not an event (item_kind={kind!r})"
        raise MalformedItem(msg)
    text = item.get(Attr.ENVELOPE)
    if text is not None:
        return _from_canonical_text(item, text)
    return _from_typed_attributes(item, registry)


def _from_canonical_text(item: Mapping[str, Any], text: object) -> EventEnvelope:
    # The producer's exact JSON: no registry needed, and numbers are as written (DynamoDB would
    # have normalized "12.50" to 12.5 in the typed payload map).
    if not isinstance(text, str):
        msg = f"attribute {Attr.ENVELOPE.value!r} is not a string"
        raise MalformedItem(msg)
    try:
        envelope = EventEnvelope.from_json(text)
    except EventsError as error:
        raise MalformedItem(str(error)) from error
    if envelope.key != (_str(item, Attr.STREAM_ID), _int(item, Attr.VERSION)) or str(
        envelope.event_id
    ) != item.get(Attr.EVENT_ID):
        msg = "the item's envelope text disagrees with its key attributes"
        raise MalformedItem(msg)
    return envelope


def _from_typed_attributes(item: Mapping[str, Any], registry: EventRegistry) -> EventEnvelope:
    try:
        event_type = _str(item, Attr.EVENT_TYPE)
        schema_version = _int(item, Attr.SCHEMA_VERSION)
        raw_payload = item.get(Attr.PAYLOAD, {})
        if not isinstance(raw_payload, Mapping):
            msg = "payload is not a map"
            raise MalformedItem(msg)
        raw_metadata = item.get(Attr.METADATA, {})
        if not isinstance(raw_metadata, Mapping):
            msg = "metadata is not a map"
            raise MalformedItem(msg)
        data = {
            "event_id": _str(item, Attr.EVENT_ID),
            "event_type": event_type,
            "schema_version": schema_version,
            "stream_id": _str(item, Attr.STREAM_ID),
            "aggregate_type": _str(item, Attr.AGGREGATE_TYPE),
            "version": _int(item, Attr.VERSION),
            "occurred_at": _str(item, Attr.OCCURRED_AT),
            "correlation_id": _str(item, Attr.CORRELATION_ID),
            "causation_id": item.get(Attr.CAUSATION_ID),
            "payload": _payload_from_item(event_type, schema_version, raw_payload, registry),
            "metadata": _item_to_json(raw_metadata),
        }
        return EventEnvelope.from_dict(data)
    except MalformedItem:
        raise
    except EventsError as error:
        raise MalformedItem(str(error)) from error


def to_dynamodb_json(
    envelope: EventEnvelope, registry: EventRegistry | None = None
) -> dict[str, Any]:
    """The event-store item in DynamoDB JSON (``{"S": ...}``), for the low-level client."""
    return serialize(to_item(envelope, registry))


def from_dynamodb_json(
    image: Mapping[str, Any], registry: EventRegistry | None = None
) -> EventEnvelope:
    """Decode an item in DynamoDB JSON (a ``get_item`` answer or a stream ``NewImage``)."""
    return from_item(deserialize(image), registry)


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """Python values -> DynamoDB JSON."""
    try:
        return {key: _serializer.serialize(value) for key, value in item.items()}
    except (TypeError, ValueError) as error:
        raise MalformedItem(str(error)) from error


def deserialize(image: object) -> dict[str, Any]:
    """DynamoDB JSON -> Python values (numbers as ``Decimal``)."""
    if not isinstance(image, Mapping):
        msg = "image is not a map"
        raise MalformedItem(msg)
    try:
        return {key: _deserializer.deserialize(value) for key, value in image.items()}
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        msg = f"not DynamoDB JSON: {error}"
        raise MalformedItem(msg) from error


def decode_stream_record(
    record: Mapping[str, Any], registry: EventRegistry | None = None
) -> EventEnvelope:
    """The envelope carried by a DynamoDB Streams record in Lambda's event shape.

    Raises :class:`NotAnEvent` for records that are not new events (``MODIFY``/``REMOVE``, or an
    item of another kind such as an idempotency record) and :class:`MalformedItem` for records
    that should be events but cannot be decoded.
    """
    event_name = record.get("eventName")
    if event_name != INSERT:
        raise NotAnEvent(f"stream record is {event_name!r}, not INSERT")
    change = record.get("dynamodb")
    image = change.get("NewImage") if isinstance(change, Mapping) else None
    if not isinstance(image, Mapping):
        msg = "stream record has no NewImage (is the stream view type NEW_IMAGE?)"
        raise MalformedItem(msg)
    kind = image.get(Attr.ITEM_KIND, {})
    kind_value = kind.get("S") if isinstance(kind, Mapping) else None
    if kind_value != ItemKind.EVENT:
        raise NotAnEvent(f"item_kind is {kind_value!r}")
    return from_dynamodb_json(image, registry)


# ---------------------------------------------------------------------- payload conversion
def _payload_to_item(envelope: EventEnvelope, registry: EventRegistry) -> dict[str, Any]:
    if registry.is_registered(envelope.event_type, envelope.schema_version):
        model = registry.validate_payload(
            envelope.event_type, envelope.schema_version, envelope.payload
        )
        stored: dict[str, Any] = _python_to_item(model.model_dump(mode="python"))
        return stored
    return _json_to_item(envelope.payload)


def _payload_from_item(
    event_type: str, schema_version: int, payload: Mapping[str, Any], registry: EventRegistry
) -> dict[str, JsonValue]:
    if registry.is_registered(event_type, schema_version):
        model = registry.validate_payload(event_type, schema_version, payload)
        wire: dict[str, JsonValue] = model.model_dump(mode="json")
        return wire
    decoded: dict[str, JsonValue] = _item_to_json(payload)
    return decoded


def _python_to_item(value: Any) -> Any:
    """A model's python-mode dump -> values DynamoDB accepts (no floats, no datetimes)."""
    if isinstance(value, dict):
        return {str(k): _python_to_item(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_python_to_item(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | Decimal):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    # UUIDs, enums and other scalars travel as their string form.
    return str(value.value if hasattr(value, "value") else value)


def _json_to_item(value: Mapping[str, JsonValue]) -> dict[str, Any]:
    return {key: _python_to_item(item) for key, item in value.items()}


def _item_to_json(value: Any) -> Any:
    """Schema-free decoding for unregistered types: integral numbers -> int, others -> str."""
    if isinstance(value, Mapping):
        return {str(k): _item_to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_item_to_json(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, bytes | bytearray):
        msg = "binary attributes are not part of the event layout"
        raise MalformedItem(msg)
    return value


def _str(item: Mapping[str, Any], attr: Attr) -> str:
    value = item.get(attr)
    if not isinstance(value, str):
        msg = f"attribute {attr.value!r} is missing or not a string"
        raise MalformedItem(msg)
    return value


def _int(item: Mapping[str, Any], attr: Attr) -> int:
    value = item.get(attr)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        msg = f"attribute {attr.value!r} is missing or not a number"
        raise MalformedItem(msg)
    if value != int(value):
        msg = f"attribute {attr.value!r} is not an integer"
        raise MalformedItem(msg)
    return int(value)
