"""A projection, declared once: its name (= its schema), its tables, how its state is stored, and
one apply function per event type it handles. The handler, the subscription filter policy, the
migrations and the replay are all driven by this declaration.

State is folded per stream: the runtime loads the state of every stream a batch touches in one
query, applies each stream's new events in version order in memory, and hands all new states to
the projection's :class:`StateStore` to write in one set-based statement.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Generic, TypeVar
from uuid import UUID

from platform_sql import GENERATION, BoundUpsert
from pydantic import BaseModel
from sqlalchemy import Connection, Integer, MetaData, Table

from platform_events import EventEnvelope, EventRegistry, default_registry
from platform_events.messaging import MessageAttr

P = TypeVar("P", bound=BaseModel)
S = TypeVar("S")

_MAX_NAME_LENGTH: Final = 40  # leaves room for suffixes such as "_writer" within Postgres' 63


@dataclass(frozen=True, slots=True)
class Event(Generic[P]):
    """An event as an apply function sees it: the envelope and its typed payload (latest schema)."""

    envelope: EventEnvelope
    payload: P

    @property
    def stream_id(self) -> str:
        return self.envelope.stream_id

    @property
    def version(self) -> int:
        return self.envelope.version

    @property
    def occurred_at(self) -> datetime:
        return self.envelope.occurred_at

    @property
    def event_id(self) -> UUID:
        return self.envelope.event_id


@dataclass(frozen=True, slots=True)
class Handler(Generic[S]):
    """One event type and the function that folds it into a stream's state."""

    event_type: str
    payload_model: type[BaseModel]
    apply: Callable[[S | None, Event[Any]], S]


def on(
    payload_model: type[P],
    apply: Callable[[S | None, Event[P]], S],
    *,
    registry: EventRegistry = default_registry,
) -> Handler[S]:
    """Declare that events carrying ``payload_model`` are folded with ``apply``.

    ``apply(state, event)`` gets the stream's state so far (None before its first handled event)
    and returns the new state; it must be pure, because the runtime may fold the same events
    again after a rolled-back attempt.
    """
    info = registry.info_for_model(payload_model)
    latest = registry.latest_version(info.event_type)
    if info.schema_version != latest:
        # Payloads reach apply functions upcast to the latest version, never an older model.
        msg = f"{payload_model.__name__} is {info.event_type} v{info.schema_version}, not v{latest}"
        raise ValueError(msg)
    return Handler(info.event_type, payload_model, apply)


@dataclass(frozen=True, eq=False)
class StateRows(Generic[S]):
    """How a store keeps each stream's state as one row of ``table``, keyed by (``generation``,
    ``key`` = the stream id): enough for the runtime to load the states in the statement that
    locks their positions (Postgres)."""

    table: Table
    key: str
    columns: tuple[str, ...]
    """The columns a state is made from (``generation`` excluded)."""
    state: Callable[[Mapping[str, Any]], S]
    """The state a row (those columns by name) holds."""


class StateStore(ABC, Generic[S]):
    """Reads and writes a projection's per-stream state, set-based, on the runtime's connection.

    Every table of a projection leads its primary key with ``generation`` (blue/green rebuilds,
    see :mod:`platform_projections.generations`): a store reads and writes only the rows of the
    ``generation`` it is given, and puts it in the key of every row it writes.
    """

    @abstractmethod
    def load(
        self, connection: Connection, stream_ids: Sequence[str], *, generation: int
    ) -> Mapping[str, S]:
        """The stored state of those streams that have one (one query for all of them)."""

    @abstractmethod
    def save(self, connection: Connection, states: Mapping[str, S], *, generation: int) -> None:
        """Write the new state of each stream (one statement for all of them)."""

    def state_rows(self) -> StateRows[S] | None:
        """The one-row-per-stream layout, if the store keeps its states so (the same object on
        every call): the runtime then loads states while it locks positions, one round trip
        instead of two. ``None`` (the default): the runtime calls :meth:`load`."""
        return None

    def bound_upsert(self, states: Mapping[str, S], *, generation: int) -> BoundUpsert | None:
        """Postgres only: :meth:`save` as one upsert with its values, which the runtime sends in
        one statement with the positions' (a round trip fewer per batch). It must write exactly
        what ``save`` writes. ``None`` (the default): the runtime calls ``save``."""
        return None


class UnknownEvent(Exception):
    """The projection has no handler for this event type (a subscription or replay bug)."""


@dataclass(frozen=True)
class Projection(Generic[S]):
    """The declaration of a read model.

    ``name`` is also the Postgres schema (an ATTACHed database on SQLite) that holds
    ``metadata``'s tables and the runtime's tables; its writer role is ``<name>_writer``. Every
    table leads its primary key with ``generation_column()``.
    """

    name: str
    metadata: MetaData
    store: StateStore[S]
    handlers: Sequence[Handler[S]]
    registry: EventRegistry = field(default=default_registry, repr=False)
    _by_type: dict[str, Handler[S]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or not self.name.islower():
            msg = f"a projection name is a lower-case identifier: {self.name!r}"
            raise ValueError(msg)
        if len(self.name) > _MAX_NAME_LENGTH:
            msg = f"a projection name has at most {_MAX_NAME_LENGTH} characters"
            raise ValueError(msg)
        for table in self.metadata.tables.values():
            if table.schema != self.name:
                msg = f"table {table.fullname} is outside the projection's schema {self.name!r}"
                raise ValueError(msg)
            key = list(table.primary_key.columns)
            if not key or key[0].name != GENERATION or not isinstance(key[0].type, Integer):
                # Blue/green rebuilds keep two generations of every row side by side.
                msg = (
                    f"table {table.fullname} must lead its primary key with an integer "
                    f"{GENERATION!r} column (platform_projections.generation_column())"
                )
                raise ValueError(msg)
        by_type: dict[str, Handler[S]] = {}
        for handler in self.handlers:
            if handler.event_type in by_type:
                msg = f"{handler.event_type} has two apply functions"
                raise ValueError(msg)
            by_type[handler.event_type] = handler
        if not by_type:
            msg = "a projection handles at least one event type"
            raise ValueError(msg)
        object.__setattr__(self, "_by_type", by_type)

    @property
    def schema(self) -> str:
        """The schema (logical name) the projection's tables live in."""
        return self.name

    @property
    def writer_role(self) -> str:
        return f"{self.name}_writer"

    @property
    def event_types(self) -> tuple[str, ...]:
        """The event types the projection handles, sorted."""
        return tuple(sorted(self._by_type))

    @property
    def aggregate_types(self) -> tuple[str, ...]:
        """The aggregate types whose streams the projection follows (what a replay reads)."""
        return tuple(sorted({self.registry.info(t).aggregate_type for t in self._by_type}))

    def handles(self, event_type: str) -> bool:
        return event_type in self._by_type

    def apply(self, state: S | None, envelope: EventEnvelope) -> S:
        """Fold one event into a stream's state (payload decoded and upcast first)."""
        handler = self._by_type.get(envelope.event_type)
        if handler is None:
            msg = f"{self.name} does not handle {envelope.event_type}"
            raise UnknownEvent(msg)
        payload = self.registry.decode(envelope)
        if not isinstance(payload, handler.payload_model):
            msg = f"{envelope.event_type} decoded to {type(payload).__name__}"
            raise UnknownEvent(msg)
        return handler.apply(state, Event(envelope, payload))

    def filter_policy(self) -> dict[str, list[str]]:
        """The SNS subscription filter policy (on message attributes) that selects its events."""
        return subscription_filter_policy(self)


def subscription_filter_policy(projection: Projection[Any]) -> dict[str, list[str]]:
    """``{"aggregate_type": [...], "event_type": [...]}``: SNS ANDs the keys, ORs each list.

    A projection that handles only some of a stream's event types still sees the others: the
    runtime reads them from the event store as a gap and steps its position over them.
    """
    return {
        MessageAttr.AGGREGATE_TYPE.value: list(projection.aggregate_types),
        MessageAttr.EVENT_TYPE.value: list(projection.event_types),
    }
