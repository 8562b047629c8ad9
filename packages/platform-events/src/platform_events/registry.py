"""A registry of event types: typed payload models, their schema versions, and upcasters.

A payload model is registered under its ``event_type`` and ``schema_version``. Old versions stay
registered (so stored events keep their schema), and an upcaster lifts a payload from version N
to N+1; decoding chains them up to the latest version before validating.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from platform_events.envelope import EventEnvelope, _summarize
from platform_events.errors import InvalidPayload, UnknownEventType, UpcastError

PayloadT = TypeVar("PayloadT", bound=BaseModel)
Upcaster = Callable[[dict[str, JsonValue]], dict[str, JsonValue]]


class EventPayload(BaseModel):
    """Base class for event payload models: frozen, strict about unknown fields.

    Built on first use (``defer_build``): a process validates the payloads of the event types it
    meets, so a cold start pays for those only, not for every type a domain package registers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


@dataclass(frozen=True, slots=True)
class EventTypeInfo:
    """What the registry knows about one version of one event type."""

    event_type: str
    schema_version: int
    aggregate_type: str
    model: type[BaseModel]


class EventRegistry:
    """Maps ``(event_type, schema_version)`` to payload models, and lifts old payloads."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, int], EventTypeInfo] = {}
        self._by_model: dict[type[BaseModel], EventTypeInfo] = {}
        self._latest: dict[str, int] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    # ------------------------------------------------------------------ registration
    def register(
        self, event_type: str, *, aggregate_type: str, schema_version: int = 1
    ) -> Callable[[type[PayloadT]], type[PayloadT]]:
        """Class decorator registering a payload model under ``event_type`` v``schema_version``."""
        if schema_version < 1:
            msg = "schema_version starts at 1"
            raise ValueError(msg)

        name = str(event_type)  # a StrEnum member registers under its plain value

        def decorate(model: type[PayloadT]) -> type[PayloadT]:
            key = (name, schema_version)
            if key in self._by_key:
                msg = f"{name} v{schema_version} is already registered"
                raise ValueError(msg)
            info = EventTypeInfo(name, schema_version, str(aggregate_type), model)
            self._by_key[key] = info
            self._by_model[model] = info
            self._latest[name] = max(self._latest.get(name, 0), schema_version)
            return model

        return decorate

    def upcaster(self, event_type: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Function decorator: the function lifts a ``from_version`` payload to the next version."""

        def decorate(function: Upcaster) -> Upcaster:
            key = (str(event_type), from_version)
            if key in self._upcasters:
                msg = f"an upcaster for {event_type} v{from_version} is already registered"
                raise ValueError(msg)
            self._upcasters[key] = function
            return function

        return decorate

    # ------------------------------------------------------------------ lookup
    def info(self, event_type: str, schema_version: int | None = None) -> EventTypeInfo:
        """The registration of one version (the latest when ``schema_version`` is None)."""
        version = self._latest.get(event_type) if schema_version is None else schema_version
        info = self._by_key.get((event_type, version)) if version is not None else None
        if info is None:
            raise UnknownEventType(event_type, schema_version)
        return info

    def info_for_model(self, model: type[BaseModel]) -> EventTypeInfo:
        """The registration of a payload model class."""
        try:
            return self._by_model[model]
        except KeyError:
            raise UnknownEventType(model.__name__) from None

    def is_registered(self, event_type: str, schema_version: int | None = None) -> bool:
        """Whether the type (at that version, or at all) is known."""
        if schema_version is None:
            return event_type in self._latest
        return (event_type, schema_version) in self._by_key

    def latest_version(self, event_type: str) -> int:
        """The current schema version of an event type."""
        try:
            return self._latest[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def event_types(self, aggregate_type: str | None = None) -> list[str]:
        """Registered event types, sorted, optionally only those of one aggregate type."""
        return sorted(
            name
            for name, version in self._latest.items()
            if aggregate_type in (None, self._by_key[(name, version)].aggregate_type)
        )

    def registrations(self) -> Iterable[EventTypeInfo]:
        """Every registered version of every event type."""
        return sorted(self._by_key.values(), key=lambda i: (i.event_type, i.schema_version))

    # ------------------------------------------------------------------ decoding
    def upcast_payload(
        self, event_type: str, schema_version: int, payload: Mapping[str, JsonValue]
    ) -> tuple[int, dict[str, JsonValue]]:
        """Lift a payload from ``schema_version`` to the latest version, one step at a time."""
        latest = self.latest_version(event_type)
        if schema_version > latest:
            msg = f"{event_type} v{schema_version} is newer than the latest known v{latest}"
            raise UpcastError(msg)
        current = dict(payload)
        for version in range(schema_version, latest):
            step = self._upcasters.get((event_type, version))
            if step is None:
                msg = f"no upcaster from {event_type} v{version} to v{version + 1}"
                raise UpcastError(msg)
            current = step(current)
        return latest, current

    def upcast(self, envelope: EventEnvelope) -> EventEnvelope:
        """The same envelope with its payload lifted to the latest schema version."""
        latest, payload = self.upcast_payload(
            envelope.event_type, envelope.schema_version, envelope.payload
        )
        if latest == envelope.schema_version:
            return envelope
        return envelope.model_copy(update={"schema_version": latest, "payload": payload})

    def decode(self, envelope: EventEnvelope) -> BaseModel:
        """The envelope's payload as its registered model, at the latest schema version."""
        latest, payload = self.upcast_payload(
            envelope.event_type, envelope.schema_version, envelope.payload
        )
        return self.validate_payload(envelope.event_type, latest, payload)

    def validate_payload(
        self, event_type: str, schema_version: int, payload: Mapping[str, Any]
    ) -> BaseModel:
        """Validate a payload against the model registered for exactly that version."""
        model = self.info(event_type, schema_version).model
        try:
            return model.model_validate(payload)
        except ValidationError as error:
            msg = f"{event_type} v{schema_version}: {_summarize(error)}"
            raise InvalidPayload(msg) from error

    # ------------------------------------------------------------------ encoding
    def envelope(
        self,
        payload: BaseModel,
        *,
        stream_id: str,
        version: int,
        occurred_at: datetime,
        correlation_id: str,
        causation_id: str | None = None,
        event_id: UUID | None = None,
        metadata: Mapping[str, JsonValue] | None = None,
    ) -> EventEnvelope:
        """Wrap a registered payload model in an envelope."""
        info = self.info_for_model(type(payload))
        return EventEnvelope(
            event_id=event_id or uuid4(),
            event_type=info.event_type,
            schema_version=info.schema_version,
            stream_id=stream_id,
            aggregate_type=info.aggregate_type,
            version=version,
            occurred_at=occurred_at,
            correlation_id=correlation_id,
            causation_id=causation_id,
            payload=payload.model_dump(mode="json"),
            metadata=dict(metadata or {}),
        )


default_registry = EventRegistry()
"""The process-wide registry that event modules register into (e.g. ``account_events``)."""

register_event = default_registry.register
register_upcaster = default_registry.upcaster
