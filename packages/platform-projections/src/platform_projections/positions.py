"""The runtime's own tables, inside each projection's schema.

``stream_positions`` holds, per stream, the last version folded into the read model; it is
written in the same transaction as the model, so model and position never disagree. Living in
the projection's schema, a rebuild into a fresh schema (blue/green) starts from position zero.
``schema_migrations`` records which migrations the schema has had.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from platform_sql import UtcDateTime, dialect_insert, upsert
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    select,
)

POSITIONS_TABLE: Final = "stream_positions"
MIGRATIONS_TABLE: Final = "schema_migrations"


@dataclass(frozen=True)
class RuntimeTables:
    metadata: MetaData
    positions: Table
    migrations: Table


@functools.cache
def runtime_tables(schema: str) -> RuntimeTables:
    """The runtime's tables in a projection's (logical) schema."""
    metadata = MetaData(schema=schema)
    positions = Table(
        POSITIONS_TABLE,
        metadata,
        Column("stream_id", Text, primary_key=True),
        Column("version", BigInteger, nullable=False),
        # When the last folded event happened and when it was folded: lag, for status pages.
        Column("occurred_at", UtcDateTime, nullable=True),
        Column("updated_at", UtcDateTime, nullable=True),
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
    return RuntimeTables(metadata, positions, migrations)


def lock_positions(
    connection: Connection, table: Table, stream_ids: Sequence[str]
) -> dict[str, int]:
    """The positions of ``stream_ids``, each row locked until the transaction ends.

    One statement: a new stream gets a row at position 0, an existing row is "updated" to itself,
    which takes its row lock. Two consumers of one stream (the live and the replay queue, or two
    batches racing after a timeout) therefore fold it one after the other, never side by side.
    Rows are locked in stream order so that two batches cannot deadlock. On SQLite the
    transaction already holds the database's write lock.
    """
    if not stream_ids:
        return {}
    ordered = sorted(set(stream_ids))
    insert = dialect_insert(connection, table).values(
        [{"stream_id": stream_id, "version": 0} for stream_id in ordered]
    )
    statement = insert.on_conflict_do_update(
        index_elements=["stream_id"], set_={"version": table.c.version}
    ).returning(table.c.stream_id, table.c.version)
    return {row.stream_id: int(row.version) for row in connection.execute(statement)}


def save_positions(
    connection: Connection, table: Table, reached: Mapping[str, tuple[int, datetime]], now: datetime
) -> None:
    """Record the version (and its event time) each stream reached."""
    rows = [
        {"stream_id": stream, "version": version, "occurred_at": occurred_at, "updated_at": now}
        for stream, (version, occurred_at) in sorted(reached.items())
    ]
    upsert(
        connection,
        table,
        rows,
        key=["stream_id"],
        where=lambda excluded: table.c.version < excluded.version,
    )


def read_positions(connection: Connection, table: Table) -> dict[str, int]:
    """Every stream's position (for status pages and tests)."""
    rows = connection.execute(select(table.c.stream_id, table.c.version))
    return {row.stream_id: int(row.version) for row in rows}
