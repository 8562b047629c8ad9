"""``INSERT ... ON CONFLICT`` through the dialect's own insert: one call for Postgres and SQLite."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypeAlias

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Dialect,
    Table,
    Text,
    TypeDecorator,
    bindparam,
    cast,
    column,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement
from sqlalchemy.types import TypeEngine

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
    parameters: dict[str, Any]


class JsonRows(TypeDecorator[Sequence[Mapping[str, Any]]]):
    """Rows as one JSON text parameter: each value first passes its column type's bind processing
    (Money's exactness, UtcDateTime's awareness, ...), so checks and errors are those of any other
    statement; Decimals travel as strings (exact, never binary floats) and times as ISO 8601 with
    their offset. One string costs psycopg one dump, where an array per column cost it a Python
    loop (and a regular expression) per element."""

    impl = Text
    cache_ok = True

    def __init__(self, columns: tuple[tuple[str, TypeEngine[Any]], ...]) -> None:
        super().__init__()
        self.columns = columns

    def process_bind_param(
        self, value: Sequence[Mapping[str, Any]] | None, dialect: Dialect
    ) -> str:
        if value is None:
            msg = "an upsert needs its rows"
            raise ValueError(msg)
        processors = self._processors(dialect)
        rows = [{name: process(row[name]) for name, process in processors} for row in value]
        return json.dumps(rows, ensure_ascii=False, default=_json_value, separators=(",", ":"))

    def _processors(self, dialect: Dialect) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
        cache: dict[str, tuple[tuple[str, Callable[[Any], Any]], ...]] = self.__dict__.setdefault(
            "_processors_by_dialect", {}
        )
        found = cache.get(dialect.name)
        if found is None:
            found = tuple(
                (name, type_.dialect_impl(dialect).bind_processor(dialect) or _unchanged)
                for name, type_ in self.columns
            )
            cache[dialect.name] = found
        return found


def _unchanged(value: Any) -> Any:
    return value


def _json_value(value: object) -> str:
    # Only what the column types hand over reaches here; anything else is a caller's mistake.
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    msg = f"{type(value).__name__} values cannot travel in an upsert's rows"
    raise TypeError(msg)


@dataclass(frozen=True, slots=True)
class ArrayUpsert:
    """``INSERT INTO table (columns) SELECT * FROM json_to_recordset(:<prefix>rows) AS
    <prefix>rows(column type, ...) ON CONFLICT (key) DO UPDATE SET <the other columns>
    [WHERE where(excluded)]`` (Postgres): the rows travel as one JSON text parameter
    (:class:`JsonRows`), each value cast by Postgres to its column's type.

    Build it once: the statement carries no values, so its SQL is compiled once; its bind name
    starts with ``prefix``, so that two of them can share one statement."""

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
        for name in columns:
            if isinstance(table.c[name].type, JSON):
                # A JSON value would be serialised twice and arrive as a JSON string.
                msg = f"{table.name}.{name}: JSON columns cannot travel in an upsert's rows"
                raise NotImplementedError(msg)
        typed = tuple((name, table.c[name].type) for name in columns)
        parameter = bindparam(f"{prefix}rows", type_=JsonRows(typed))
        rows = (
            func.json_to_recordset(cast(parameter, postgresql.JSON))
            .table_valued(*(column(name, type_) for name, type_ in typed))
            .render_derived(name=f"{prefix}rows", with_types=True)
        )
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
        """The statement with ``rows`` (each names every column; no key repeats). The values are
        checked and encoded when the statement runs, as any statement's are."""
        return BoundUpsert(self.statement, {f"{self.prefix}rows": rows})


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
