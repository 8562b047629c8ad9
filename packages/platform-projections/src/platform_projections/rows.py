"""A state store for the common shape "one row per stream": the state is a dataclass whose fields
are the table's columns (all but ``generation``), loaded with one ``SELECT ... WHERE generation =
:g AND key IN (...)`` and written with one ``INSERT ... ON CONFLICT (generation, key) DO UPDATE
... WHERE version < excluded.version``."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from platform_sql import GENERATION, ArrayUpsert, BoundUpsert, upsert
from sqlalchemy import Connection, Table, select

from platform_projections.projection import StateRows, StateStore

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


class RowPerStream(StateStore[R]):
    """Stores each stream's state as one row of ``table`` per generation, keyed by the stream id."""

    def __init__(
        self, table: Table, row_type: type[R], *, key: str, version: str = "version"
    ) -> None:
        self._fields = tuple(f.name for f in dataclasses.fields(row_type))
        columns = {c.name for c in table.columns}
        # The generation is where a row is kept, not part of the state it holds.
        if GENERATION in self._fields or set(self._fields) | {GENERATION} != columns:
            msg = (
                f"{row_type.__name__} fields {sorted(self._fields)} + {GENERATION!r} != "
                f"{table} {sorted(columns)}"
            )
            raise ValueError(msg)
        if key not in columns or version not in columns:
            msg = f"{table} needs columns {key!r} and {version!r}"
            raise ValueError(msg)
        self.table = table
        self._row_type = row_type
        self._key = key
        self._version = version

    def load(
        self, connection: Connection, stream_ids: Sequence[str], *, generation: int
    ) -> Mapping[str, R]:
        columns = [self.table.c[name] for name in self._fields]
        statement = select(*columns).where(
            self.table.c[GENERATION] == generation, self.table.c[self._key].in_(list(stream_ids))
        )
        return {
            getattr(row, self._key): self._row_type(**dict(row._mapping))
            for row in connection.execute(statement)
        }

    def save(self, connection: Connection, states: Mapping[str, R], *, generation: int) -> None:
        version = self.table.c[self._version]
        rows = [self._row(state, generation) for _, state in sorted(states.items())]
        # The runtime already serializes a stream's writers; the guard keeps a stale writer (an
        # old Lambda still running after a timeout) from ever moving a row backwards.
        upsert(
            connection,
            self.table,
            rows,
            key=[GENERATION, self._key],
            where=lambda excluded: version < excluded[self._version],
        )

    def state_rows(self) -> StateRows[R]:
        return self._state_rows

    @functools.cached_property
    def _state_rows(self) -> StateRows[R]:
        row_type = self._row_type
        return StateRows(self.table, self._key, self._fields, lambda columns: row_type(**columns))

    def bound_upsert(self, states: Mapping[str, R], *, generation: int) -> BoundUpsert:
        rows = [self._row(state, generation) for _, state in sorted(states.items())]
        return self._array_upsert.bind(rows)

    @functools.cached_property
    def _array_upsert(self) -> ArrayUpsert:
        # Built on first use (Postgres only), then kept: compiled once.
        version = self.table.c[self._version]
        return ArrayUpsert.build(
            self.table,
            [GENERATION, *self._fields],
            key=[GENERATION, self._key],
            where=lambda excluded: version < excluded[self._version],
            prefix="state_",
        )

    def _row(self, state: R, generation: int) -> dict[str, Any]:
        return {GENERATION: generation, **{name: getattr(state, name) for name in self._fields}}
