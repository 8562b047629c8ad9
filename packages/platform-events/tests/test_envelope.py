from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from platform_events import EventEnvelope, MalformedEnvelope

CONTRACT_FIELDS = {
    "event_id",
    "event_type",
    "schema_version",
    "stream_id",
    "aggregate_type",
    "version",
    "occurred_at",
    "correlation_id",
    "causation_id",
    "payload",
    "metadata",
}


def fields(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_id": str(uuid4()),
        "event_type": "MoneyDeposited",
        "schema_version": 1,
        "stream_id": "acc-1",
        "aggregate_type": "Account",
        "version": 1,
        "occurred_at": "2026-11-28T12:00:00Z",
        "correlation_id": "c",
        "causation_id": None,
        "payload": {"amount": "1.00", "reference": None},
        "metadata": {},
    }
    base.update(overrides)
    return base


def test_the_json_form_has_exactly_the_contracts_fields(envelope: EventEnvelope) -> None:
    document = json.loads(envelope.to_json())
    assert set(document) == CONTRACT_FIELDS
    assert document["occurred_at"] == "2026-11-28T12:00:00.000007Z"
    assert document["payload"] == {"amount": "12.50", "reference": "salary"}


def test_envelopes_are_frozen(envelope: EventEnvelope) -> None:
    with pytest.raises(ValueError, match="frozen"):
        envelope.version = 4  # type: ignore[misc]


def test_occurred_at_is_normalized_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    envelope = EventEnvelope.from_dict(
        fields(occurred_at=datetime(2026, 1, 1, 14, 0, tzinfo=plus_two).isoformat())
    )
    assert envelope.occurred_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert envelope.occurred_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"occurred_at": "2026-11-28T12:00:00"}, "occurred_at"),  # naive
        ({"version": 0}, "version"),
        ({"schema_version": 0}, "schema_version"),
        ({"event_id": "not-a-uuid"}, "event_id"),
        ({"stream_id": ""}, "stream_id"),
        ({"payload": {"amount": 1.5}}, "payload"),  # floats never carry money
        ({"metadata": {"nested": [{"x": 0.1}]}}, "metadata"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_envelopes_raise_the_packages_error(
    override: dict[str, object], field: str
) -> None:
    with pytest.raises(MalformedEnvelope, match=field):
        EventEnvelope.from_dict(fields(**override))


def test_a_missing_field_is_named() -> None:
    data = fields()
    del data["correlation_id"]
    with pytest.raises(MalformedEnvelope, match="correlation_id"):
        EventEnvelope.from_dict(data)


def test_malformed_json_raises_the_packages_error() -> None:
    with pytest.raises(MalformedEnvelope):
        EventEnvelope.from_json("{not json")


def test_key_is_stream_and_version(envelope: EventEnvelope) -> None:
    assert envelope.key == ("5b0c6f43-8a51-4a8e-9f3c-1f6c2e1f0a11", 3)


def test_a_float_deep_in_a_payload_is_named_by_its_path() -> None:
    with pytest.raises(MalformedEnvelope, match=r"\$\.lines\[1\]\.amounts\[0\]"):
        EventEnvelope.from_dict(fields(payload={"lines": [{"n": 1}, {"amounts": [2.5]}]}))
