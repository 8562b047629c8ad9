"""``INSERT ... ON CONFLICT`` through the dialect's own insert: one call for Postgres and SQLite."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, Connection, Table, bindparam, func, select
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


@dataclass(frozen=True, slots=True)
class BoundUpsert:
    """An upsert of many rows as one Postgres statement with its values (:class:`ArrayUpsert`).
    Unlike an ``executemany`` it can be a data-modifying CTE of another statement
    (:func:`execute_together`)."""

    statement: postgresql.Insert
    parameters: dict[str, list[Any]]


@dataclass(frozen=True, slots=True)
class ArrayUpsert:
    """``INSERT INTO table (columns) SELECT * FROM unnest(:<prefix><column>, ...) ON CONFLICT
    (key) DO UPDATE SET <the other columns> [WHERE where(excluded)]`` (Postgres): the rows travel
    as one array per column.

    Build it once: the statement carries no values, so its SQL is compiled once; its bind names
    start with ``prefix``, so that two of them can share one statement."""

    statement: postgresql.Insert
    columns: tuple[str, ...]
    prefix: str

    @classmethod
    def build(
        cls,
        table: Table,
        columns: Sequence[str],
        *,
        key: Sequence[str],
        where: Callable[[Excluded], ColumnElement[bool]] | None = None,
        prefix: str,
    ) -> ArrayUpsert:
        arrays = [
            bindparam(f"{prefix}{name}", type_=postgresql.ARRAY(table.c[name].type))
            for name in columns
        ]
        rows = func.unnest(*arrays).table_valued(*columns).render_derived(name=f"{prefix}rows")
        statement = postgresql.insert(table).from_select(
            list(columns), select(*(rows.c[name] for name in columns))
        )
        excluded = statement.excluded
        updates = {name: excluded[name] for name in columns if name not in key}
        if updates:
            guard = where(excluded) if where is not None else None
            statement = statement.on_conflict_do_update(
                index_elements=list(key), set_=updates, where=guard
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=list(key))
        return cls(statement, tuple(columns), prefix)

    def bind(self, rows: Sequence[Mapping[str, Any]]) -> BoundUpsert:
        """The statement with ``rows`` (each names every column; no key repeats)."""
        return BoundUpsert(
            self.statement,
            {f"{self.prefix}{name}": [row[name] for row in rows] for name in self.columns},
        )


def execute_together(connection: Connection, first: BoundUpsert, last: BoundUpsert) -> None:
    """Both upserts in one statement (``first`` as a data-modifying CTE of ``last``): one round
    trip. Postgres runs both to completion, in one snapshot, so they must not write the same
    rows."""
    statement = _together(first.statement, last.statement)
    connection.execute(statement, first.parameters | last.parameters)


@functools.cache
def _together(first: postgresql.Insert, last: postgresql.Insert) -> postgresql.Insert:
    # Built once per pair of (long-lived) statements, so it is compiled once too.
    return last.add_cte(first.cte("first_upsert"))
