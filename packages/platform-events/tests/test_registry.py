"""The registry, and schema evolution through chained upcasters, on a real example.

``ParcelShipped`` v1 carried ``weight_grams`` as an int and a single ``address`` string; v2 split
the address into ``street``/``city``; v3 switched to kilograms as a decimal string. Events stored
as v1 years ago must still decode as v3 today.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import JsonValue

import account_events
from platform_events import (
    EventEnvelope,
    EventPayload,
    EventRegistry,
    InvalidPayload,
    UnknownEventType,
    UpcastError,
    default_registry,
)
from platform_events.dynamodb import from_item, to_item


def shipping_registry() -> EventRegistry:
    registry = EventRegistry()

    @registry.register("ParcelShipped", aggregate_type="Parcel", schema_version=1)
    class ParcelShippedV1(EventPayload):
        weight_grams: int
        address: str

    @registry.register("ParcelShipped", aggregate_type="Parcel", schema_version=2)
    class ParcelShippedV2(EventPayload):
        weight_grams: int
        street: str
        city: str

    @registry.register("ParcelShipped", aggregate_type="Parcel", schema_version=3)
    class ParcelShipped(EventPayload):
        weight_kg: Decimal
        street: str
        city: str

    @registry.upcaster("ParcelShipped", from_version=1)
    def split_address(payload: dict[str, JsonValue]) -> dict[str, JsonValue]:
        street, _, city = str(payload["address"]).rpartition(", ")
        return {"weight_grams": payload["weight_grams"], "street": street, "city": city}

    @registry.upcaster("ParcelShipped", from_version=2)
    def grams_to_kilograms(payload: dict[str, JsonValue]) -> dict[str, JsonValue]:
        grams = payload["weight_grams"]
        assert isinstance(grams, int)
        kilograms = Decimal(grams) / 1000
        return {"weight_kg": str(kilograms), "street": payload["street"], "city": payload["city"]}

    return registry


def stored_v1() -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid4(),
        event_type="ParcelShipped",
        schema_version=1,
        stream_id="parcel-9",
        aggregate_type="Parcel",
        version=2,
        occurred_at=datetime(2019, 5, 1, tzinfo=UTC),
        correlation_id="c",
        payload={"weight_grams": 1250, "address": "Rue de la Paix 1, Paris"},
    )


def test_a_v1_payload_decodes_as_v3_through_the_chain() -> None:
    registry = shipping_registry()
    payload = registry.decode(stored_v1())
    assert payload.model_dump() == {
        "weight_kg": Decimal("1.25"),
        "street": "Rue de la Paix 1",
        "city": "Paris",
    }
    assert type(payload).__name__ == "ParcelShipped"


def test_upcast_lifts_the_envelope_and_keeps_everything_else() -> None:
    registry = shipping_registry()
    old = stored_v1()
    lifted = registry.upcast(old)
    assert lifted.schema_version == 3
    assert lifted.payload == {"weight_kg": "1.25", "street": "Rue de la Paix 1", "city": "Paris"}
    assert lifted.model_dump(exclude={"schema_version", "payload"}) == old.model_dump(
        exclude={"schema_version", "payload"}
    )


def test_old_versions_stay_stored_as_they_were() -> None:
    registry = shipping_registry()
    old = stored_v1()
    assert from_item(to_item(old, registry), registry) == old


def test_a_missing_step_in_the_chain_is_an_upcast_error() -> None:
    registry = EventRegistry()
    for version in (1, 2):
        registry.register("Thing", aggregate_type="T", schema_version=version)(
            type(f"ThingV{version}", (EventPayload,), {})
        )
    envelope = stored_v1().model_copy(update={"event_type": "Thing", "payload": {}})
    with pytest.raises(UpcastError, match="no upcaster from Thing v1 to v2"):
        registry.decode(envelope)


def test_a_version_newer_than_known_is_an_upcast_error() -> None:
    registry = shipping_registry()
    with pytest.raises(UpcastError, match="newer"):
        registry.decode(stored_v1().model_copy(update={"schema_version": 4}))


def test_unknown_types_are_a_typed_error_not_a_key_error() -> None:
    registry = EventRegistry()
    with pytest.raises(UnknownEventType, match="ParcelShipped") as caught:
        registry.decode(stored_v1())
    assert caught.value.event_type == "ParcelShipped"
    with pytest.raises(UnknownEventType):
        registry.latest_version("Nope")
    with pytest.raises(UnknownEventType):
        registry.info("Nope", 1)


def test_an_invalid_payload_is_a_typed_error() -> None:
    registry = shipping_registry()
    bad = stored_v1().model_copy(update={"payload": {"weight_grams": "heavy", "address": "x"}})
    with pytest.raises(InvalidPayload, match="weight_grams"):
        registry.validate_payload("ParcelShipped", 1, bad.payload)


def test_registering_the_same_version_twice_is_refused() -> None:
    registry = shipping_registry()
    with pytest.raises(ValueError, match="already registered"):
        registry.register("ParcelShipped", aggregate_type="Parcel", schema_version=3)(EventPayload)


def test_event_types_can_be_listed_per_aggregate() -> None:
    registry = shipping_registry()
    assert registry.event_types() == ["ParcelShipped"]
    assert registry.event_types("Account") == []
    assert default_registry.event_types(account_events.ACCOUNT) == sorted(
        account_events.ACCOUNT_EVENT_TYPES
    )
