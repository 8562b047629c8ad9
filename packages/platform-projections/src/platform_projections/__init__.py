"""Projection runtime: SQS batches to ordered, exactly-once folds with gap repair.

Declare a projection (:class:`Projection` with :func:`on` handlers and a :class:`StateStore`,
every table keyed by :func:`generation_column` first), run it with a :class:`Projector`,
migrate it with :func:`migrate`. Blue/green rebuilds: :mod:`platform_projections.generations`.
The Lambda adapter lives in :mod:`platform_projections.lambda_handler` and the DynamoDB reader
in :mod:`platform_projections.dynamodb`, so importing this package stays light.
"""

from platform_projections.generations import ControlRefused, Generations
from platform_projections.migrations import (
    QUERY_READER,
    Migration,
    MigrationError,
    MigrationReport,
    Roles,
    add_generation,
    migrate,
    schema_drift,
)
from platform_projections.positions import generation_column, read_positions, runtime_tables
from platform_projections.projection import (
    Event,
    Handler,
    Projection,
    StateStore,
    UnknownEvent,
    on,
    subscription_filter_policy,
)
from platform_projections.rows import RowPerStream
from platform_projections.runtime import (
    BatchResult,
    ControlResult,
    FailureKind,
    GapNotRepaired,
    GroupFailure,
    Projector,
)
from platform_projections.store import EventStoreReader, EventStoreUnavailable, InMemoryEventStore

__all__ = [
    "QUERY_READER",
    "BatchResult",
    "ControlRefused",
    "ControlResult",
    "Event",
    "EventStoreReader",
    "EventStoreUnavailable",
    "FailureKind",
    "GapNotRepaired",
    "Generations",
    "GroupFailure",
    "Handler",
    "InMemoryEventStore",
    "Migration",
    "MigrationError",
    "MigrationReport",
    "Projection",
    "Projector",
    "Roles",
    "RowPerStream",
    "StateStore",
    "UnknownEvent",
    "add_generation",
    "generation_column",
    "migrate",
    "on",
    "read_positions",
    "runtime_tables",
    "schema_drift",
    "subscription_filter_policy",
]
