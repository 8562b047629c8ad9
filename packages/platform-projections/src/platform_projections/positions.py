"""The runtime's own tables, inside each projection's schema.

``stream_positions`` holds, per generation and stream, the last version folded into that generation
of the read model; it is written in the same transaction as the model, so model and position
never disagree. ``generations`` is the control table: which generation readers see (``active``),
which one a rebuild is filling (``building``), and what the last rebuild did (blue/green, see
:mod:`platform_projections.generations`). ``schema_migrations`` records which migrations the schema
has had.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from platform_sql import (
    GENERATION,
    GENERATIONS_TABLE,
    ArrayUpsert,
    BoundUpsert,
    UtcDateTime,
    dialect_insert,
    upsert,
)
from platform_sql.generations import ACTIVE, PROJECTION
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    ScalarSelect,
    Table,
    Text,
    select,
)

POSITIONS_TABLE: Final = "stream_positions"
MIGRATIONS_TABLE: Final = "schema_migrations"


def generation_column() -> Column[int]:
    """The leading primary-key column every table of a projection declares first::

    Table("accounts", metadata, generation_column(), Column("account_id", Text, primary_key=True),
          ...)
    """
    return Column(GENERATION, Integer, primary_key=True, autoincrement=False, nullable=False)


@dataclass(frozen=True)
class RuntimeTables:
    metadata: MetaData
    positions: Table
    generations: Table
    migrations: Table


@functools.cache
def runtime_tables(schema: str) -> RuntimeTables:
    """The runtime's tables in a projection's (logical) schema."""
    metadata = MetaData(schema=schema)
    positions = Table(
        POSITIONS_TABLE,
        metadata,
        generation_column(),
        Column("stream_id", Text, primary_key=True),
        Column("version", BigInteger, nullable=False),
        # When the last folded event happened and when it was folded: lag, for status pages.
        Column("occurred_at", UtcDateTime, nullable=True),
        Column("updated_at", UtcDateTime, nullable=True),
    )
    generations = Table(
        GENERATIONS_TABLE,
        metadata,
        Column("projection", Text, primary_key=True),
        # What readers see; the live queue writes here.
        Column("active", Integer, nullable=False),
        # What the rebuild in progress fills (replay pages write here); NULL when none runs.
        Column("building", Integer, nullable=True),
        # The rebuild that owns ``building`` (its execution name).
        Column("rebuild", Text, nullable=True),
        # The rebuild that made ``active`` (NULL for the first generation): a repeated promote
        # of it is recognised as done.
        Column("promoted_by", Text, nullable=True),
        # The highest generation ever allocated: numbers are never reused, so rows an abandoned
        # rebuild left behind can never mix with a later one's.
        Column("latest", Integer, nullable=False),
        # Rows of generations other than active and building may remain: delete them in rounds.
        Column("cleanup", Boolean, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
    )
    migrations = Table(
        MIGRATIONS_TABLE,
        metadata,
        # Two tracks: the runtime's own tables ("runtime") and the projection's ("projection").
        Column("track", Text, nullable=False),
        Column("version", Integer, nullable=False),
        Column("name", Text, nullable=False),
        Column("applied_at", UtcDateTime, nullable=False),
        PrimaryKeyConstraint("track", "version"),
    )
    return RuntimeTables(metadata, positions, generations, migrations)


def lock_positions(
    connection: Connection, table: Table, generation: int, stream_ids: Sequence[str]
) -> dict[str, int]:
    """The positions of ``stream_ids`` in ``generation``, each row locked until the transaction
    ends.

    One statement: a new stream gets a row at position 0, an existing row is "updated" to itself,
    which takes its row lock. Two consumers of one stream (the live and the replay queue, or two
    batches racing after a timeout) therefore fold it one after the other, never side by side.
    Rows are locked in stream order so that two batches cannot deadlock. On SQLite the
    transaction already holds the database's write lock.
    """
    if not stream_ids:
        return {}
    ordered = sorted(set(stream_ids))
    statement = (
        dialect_insert(connection, table)
        .on_conflict_do_update(
            index_elements=[GENERATION, "stream_id"], set_={"version": table.c.version}
        )
        .returning(table.c.stream_id, table.c.version)
    )
    # Parameter sets, not ``.values(rows)``: SQLAlchemy caches the compiled statement and renders
    # the rows as one multi-row VALUES in their order ("insertmanyvalues"), one round trip.
    rows = [{GENERATION: generation, "stream_id": stream_id, "version": 0} for stream_id in ordered]
    return {row.stream_id: int(row.version) for row in connection.execute(statement, rows)}


def save_positions(
    connection: Connection,
    table: Table,
    generation: int,
    reached: Mapping[str, tuple[int, datetime]],
    now: datetime,
) -> None:
    """Record the version (and its event time) each stream reached in ``generation``."""
    rows = [
        {
            GENERATION: generation,
            "stream_id": stream,
            "version": version,
            "occurred_at": occurred_at,
            "updated_at": now,
        }
        for stream, (version, occurred_at) in sorted(reached.items())
    ]
    upsert(
        connection,
        table,
        rows,
        key=[GENERATION, "stream_id"],
        where=lambda excluded: table.c.version < excluded.version,
    )


def bound_positions(
    table: Table,
    generation: int,
    reached: Mapping[str, tuple[int, datetime]],
    now: datetime,
) -> BoundUpsert:
    """Postgres: :func:`save_positions` as one upsert with its values, to be sent in one statement
    with the states' (:func:`platform_sql.execute_together`)."""
    return _array_upsert(table).bind(
        [
            {
                GENERATION: generation,
                "stream_id": stream,
                "version": reached[stream][0],
                "occurred_at": reached[stream][1],
                "updated_at": now,
            }
            for stream in sorted(reached)
        ]
    )


POSITIONS_PREFIX: Final = "position_"


@functools.cache
def _array_upsert(table: Table) -> ArrayUpsert:
    return ArrayUpsert.build(
        table,
        [GENERATION, "stream_id", "version", "occurred_at", "updated_at"],
        key=[GENERATION, "stream_id"],
        where=lambda excluded: table.c.version < excluded.version,
        prefix=POSITIONS_PREFIX,
    )


def read_positions(
    connection: Connection, table: Table, generation: int | None = None
) -> dict[str, int]:
    """Every stream's position in ``generation`` (default: the active one), for status pages and
    tests."""
    if table.schema is None:
        msg = f"{table.name} has no schema"
        raise ValueError(msg)
    if generation is None:
        # The control table of the positions' own metadata, so that a connection's schema
        # translation (a physical schema other than the projection's) reaches it too.
        control = runtime_tables(table.schema).generations
        wanted: int | ScalarSelect[Any] = (
            select(control.c[ACTIVE]).where(control.c[PROJECTION] == table.schema).scalar_subquery()
        )
    else:
        wanted = generation
    rows = connection.execute(
        select(table.c.stream_id, table.c.version).where(table.c[GENERATION] == wanted)
    )
    return {row.stream_id: int(row.version) for row in rows}
