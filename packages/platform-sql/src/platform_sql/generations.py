"""Which generation of a projection's tables a reader may see: the query side's half of blue/green.

Every table a projection keeps carries a ``generation`` integer as the leading column of its primary
key, and the projection's schema holds a control table ``<schema>.generations`` with one row per
projection naming its ``active`` generation. A rebuild fills another generation next to the
serving one and then switches ``active`` in one transaction, so a reader that filters on it sees
either the old model whole or the new one whole, never a half-built one::

    SELECT ... FROM balances.accounts
    WHERE balances.accounts.generation = (
        SELECT balances.generations.active FROM balances.generations
        WHERE balances.generations.projection = 'balances')
      AND ...

One statement, one snapshot (Postgres takes a statement's snapshot once, SQLite a transaction's), so
the subquery and the rows always agree. Only names travel here: this module imports SQLAlchemy
Core and nothing of the projection runtime, so the query side stays small.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import ColumnElement, Integer, ScalarSelect, String, column, select, table
from sqlalchemy.sql.expression import TableClause

GENERATION: Final = "generation"
"""The leading primary-key column of every table a projection keeps."""
GENERATIONS_TABLE: Final = "generations"
"""The control table, one per projection schema."""
PROJECTION: Final = "projection"
ACTIVE: Final = "active"
BUILDING: Final = "building"


def generations_table(schema: str) -> TableClause:
    """The columns of ``<schema>.generations`` a reader needs (never used for DDL)."""
    return table(
        GENERATIONS_TABLE,
        column(PROJECTION, String),
        column(ACTIVE, Integer),
        column(BUILDING, Integer),
        schema=schema,
    )


def active_generation(schema: str, projection: str | None = None) -> ScalarSelect[Any]:
    """``(SELECT active FROM <schema>.generations WHERE projection = :projection)``.

    ``projection`` defaults to ``schema``: a projection's schema is named after it.
    """
    control = generations_table(schema)
    return (
        select(control.c[ACTIVE])
        .where(control.c[PROJECTION] == (projection or schema))
        .scalar_subquery()
    )


def in_active_generation(
    model: TableClause, *, projection: str | None = None
) -> ColumnElement[bool]:
    """``<model>.generation = (SELECT active ...)``: add it to every read of a projection table.

    ``model`` is a ``Table`` or a lightweight ``table()`` in the projection's schema that declares
    a ``generation`` column, e.g. ``select(accounts).where(in_active_generation(accounts), ...)``.
    """
    if model.schema is None:
        msg = f"{model.name} has no schema: a projection's tables live in its schema"
        raise ValueError(msg)
    if GENERATION not in model.c:
        msg = f"{model.schema}.{model.name} declares no {GENERATION!r} column"
        raise ValueError(msg)
    generation: ColumnElement[Any] = model.c[GENERATION]
    return generation == active_generation(model.schema, projection)
