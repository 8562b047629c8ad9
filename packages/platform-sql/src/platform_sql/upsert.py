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
    """Insert ``rows`` as one multi-row statement; on a key conflict, update the non-key columns.

    ``where`` builds the update's guard from the proposed row, e.g.
    ``lambda excluded: table.c.version < excluded.version``. The rows must not repeat a key:
    one statement may not touch a row twice, so callers fold per key first.
    """
    if not rows:
        return
    statement = dialect_insert(connection, table).values(list(rows))
    excluded = statement.excluded
    updates = {name: excluded[name] for name in rows[0] if name not in key}
    if updates:
        guard = where(excluded) if where is not None else None
        connection.execute(
            statement.on_conflict_do_update(index_elements=list(key), set_=updates, where=guard)
        )
    else:
        connection.execute(statement.on_conflict_do_nothing(index_elements=list(key)))
