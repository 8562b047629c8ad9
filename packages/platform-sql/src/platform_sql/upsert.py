"""``INSERT ... ON CONFLICT`` through the dialect's own insert: one call for Postgres and SQLite."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement

Excluded: TypeAlias = ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]
"""The proposed row of an upsert (``excluded.*`` in SQL)."""


def dialect_insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The insert construct of the connection's dialect (both offer ``on_conflict_do_*``)."""
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    msg = f"no ON CONFLICT support for dialect {name!r}"
    raise NotImplementedError(msg)


def upsert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    where: Callable[[Excluded], ColumnElement[bool]] | None = None,
) -> None:
    """Insert ``rows`` in one round trip; on a key conflict, update the non-key columns.

    ``where`` builds the update's guard from the proposed row, e.g.
    ``lambda excluded: table.c.version < excluded.version``. The rows must not repeat a key
    (callers fold per key first) and must all name the same columns.

    The statement carries no values: the rows travel as the parameter sets of one
    ``executemany``, so its SQL is compiled once per shape and taken from SQLAlchemy's cache
    afterwards (a multi-row ``VALUES`` built with ``.values(rows)`` has no cache key and was
    compiled again for every batch), and psycopg pipelines the rows in one round trip.
    """
    if not rows:
        return
    statement = dialect_insert(connection, table)
    excluded = statement.excluded
    updates = {name: excluded[name] for name in rows[0] if name not in key}
    if updates:
        guard = where(excluded) if where is not None else None
        statement = statement.on_conflict_do_update(
            index_elements=list(key), set_=updates, where=guard
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))
    connection.execute(statement, list(rows))
