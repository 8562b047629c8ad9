"""Blue/green generations of a projection's tables: the control row and its transitions.

Every table of a projection (its model and the runtime's positions) carries ``generation`` as the
leading column of its primary key, and ``<schema>.generations`` holds one row per projection:

- ``active``: what readers see (``platform_sql.in_active_generation``) and the live queue writes;
- ``building``: what a rebuild in progress fills (replay pages write here; NULL when none runs);
- ``rebuild``: the rebuild that owns ``building``; ``promoted_by``: the one that made ``active``;
- ``latest``: the highest generation ever allocated (numbers are never reused);
- ``cleanup``: rows of other generations may remain, to be deleted in bounded rounds.

A rebuild changes only this row (pure DML, so the writer role, which owns nothing, can do it, on
Postgres and SQLite alike):

- ``begin(id)``: ``building = latest + 1``; an unfinished earlier rebuild's generation becomes
  garbage. Repeated for the same id: nothing.
- ``promote(id)``: ``active = building, building = NULL`` in one transaction, so readers switch
  from one whole model to the other. Repeated after it succeeded: nothing. For an id that is not
  the rebuild in progress: refused (the state machine sees the message dead-lettered).
- ``abort(id)``: ``building = NULL``; ``active`` never changed.

Transitions lock the row (``FOR UPDATE``); every batch reads it ``FOR SHARE`` for its whole
transaction, so a batch that chose its generation before a promote commits before the promote
reads positions, and none writes into a generation that stopped being the one it chose.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from platform_sql import GENERATION
from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union,
    update,
)
from sqlalchemy.dialects import postgresql

from platform_projections.positions import RuntimeTables
from platform_projections.projection import StateRows

FIRST_GENERATION: Final = 1


class ControlRefused(Exception):
    """A control message that cannot be applied in the projection's current state."""


class Lock(StrEnum):
    SHARE = "share"
    UPDATE = "update"


@dataclass(frozen=True, slots=True)
class Generations:
    """The control row of one projection."""

    active: int
    building: int | None
    rebuild: str | None
    promoted_by: str | None
    latest: int
    cleanup: bool

    @property
    def replay_target(self) -> int:
        """Where replay pages go: the generation being built, else (a new projection's first
        replay) the active one."""
        return self.building if self.building is not None else self.active

    def keeps(self) -> tuple[int, ...]:
        """The generations whose rows must stay."""
        return (self.active,) if self.building is None else (self.active, self.building)


def read_generations(
    connection: Connection, tables: RuntimeTables, projection: str, *, lock: Lock | None = None
) -> Generations:
    """The projection's control row, optionally locked until the transaction ends (on Postgres;
    SQLite's writers hold the database's write lock already)."""
    control = tables.generations
    statement = select(control).where(control.c.projection == projection)
    if lock is not None:
        statement = statement.with_for_update(read=lock is Lock.SHARE)
    row = connection.execute(statement).one_or_none()
    if row is None:
        msg = f"{control.fullname} has no row for {projection!r}: run the migrations"
        raise LookupError(msg)
    return Generations(
        active=int(row.active),
        building=None if row.building is None else int(row.building),
        rebuild=row.rebuild,
        promoted_by=row.promoted_by,
        latest=int(row.latest),
        cleanup=bool(row.cleanup),
    )


@dataclass(frozen=True, slots=True)
class LockedBatch:
    """What :func:`read_and_lock_positions` answers."""

    control: Generations
    positions: dict[int, dict[str, int]]
    """Per generation, the locked streams' positions."""
    states: dict[int, dict[str, Any]] | None
    """Per generation, the states of the locked streams that have one; None when not read, or
    when a position moved after the statement's snapshot was taken (the states it read may be
    older than the positions it locked: load them again)."""


def read_and_lock_positions(
    connection: Connection,
    tables: RuntimeTables,
    projection: str,
    *,
    live: Sequence[str],
    replayed: Sequence[str],
    rows: StateRows[Any] | None = None,
) -> LockedBatch:
    """Postgres: the control row, read ``FOR SHARE``, and the positions of the ``live`` streams
    in its active generation and of the ``replayed`` ones in its replay target, each locked as
    :func:`~platform_projections.positions.lock_positions` locks them, in one statement (one round
    trip instead of two); with ``rows``, the streams' states too (one more saved).

    The control row is locked before any position (the insert reads it), as in two statements,
    and positions are locked in (generation, stream) order, code point order within a generation
    as Python sorts, so every batch and every promote lock in one global order.

    States are read in the statement's snapshot, taken before the locks were granted: a batch
    that committed while this one waited for a lock moved the position past what the snapshot
    shows, and then the states are not answered. Otherwise every position the lock answers is
    the one the snapshot holds, and the snapshot's states are the ones written with them (a
    state and its position are always written in one transaction)."""
    statement = _read_and_lock_statement(tables, rows)
    found = connection.execute(
        statement,
        {"projection": projection, "live": list(live), "replayed": list(replayed)},
    ).all()
    if not found:
        msg = f"{tables.generations.fullname} has no row for {projection!r}: run the migrations"
        raise LookupError(msg)
    first = found[0]
    control = Generations(
        active=int(first.active),
        building=None if first.building is None else int(first.building),
        rebuild=first.rebuild,
        promoted_by=first.promoted_by,
        latest=int(first.latest),
        cleanup=bool(first.cleanup),
    )
    positions: dict[int, dict[str, int]] = {}
    states: dict[int, dict[str, Any]] | None = {} if rows is not None else None
    for row in found:
        if row.stream_id is None:
            continue
        generation, version = int(row.locked_generation), int(row.version)
        positions.setdefault(generation, {})[row.stream_id] = version
        if rows is None or states is None:
            continue
        if (row.seen_version or 0) != version:
            states = None
            continue
        values = row._mapping
        if values[_STATE_KEY] is not None:
            state = rows.state({name: values[f"{_STATE}{name}"] for name in rows.columns})
            states.setdefault(generation, {})[row.stream_id] = state
    return LockedBatch(control, positions, states)


_STATE: Final = "state_"
_STATE_KEY: Final = "state_key_"


@functools.cache
def _read_and_lock_statement(
    tables: RuntimeTables, rows: StateRows[Any] | None
) -> Select[tuple[object, ...]]:
    # Built once per schema (and store): its SQL is then compiled once and taken from
    # SQLAlchemy's cache.
    generations, positions = tables.generations, tables.positions
    control = (
        select(
            generations.c.active,
            generations.c.building,
            generations.c.rebuild,
            generations.c.promoted_by,
            generations.c.latest,
            generations.c.cleanup,
        )
        .where(generations.c.projection == bindparam("projection"))
        .with_for_update(read=True)
        # Evaluated once, before the insert reads it: the lock is taken first, and only once.
        .cte("control")
        .prefix_with("MATERIALIZED")
    )
    streams = postgresql.ARRAY(Text)
    live = (
        func.unnest(bindparam("live", type_=streams))
        .table_valued("stream_id")
        .render_derived(name="live")
    )
    replayed = (
        func.unnest(bindparam("replayed", type_=streams))
        .table_valued("stream_id")
        .render_derived(name="replayed")
    )
    # UNION drops a stream both kinds route to the same generation (no replay in progress).
    wanted = union(
        select(control.c.active.label(GENERATION), live.c.stream_id).select_from(
            control.join(live, true())
        ),
        select(
            func.coalesce(control.c.building, control.c.active).label(GENERATION),
            replayed.c.stream_id,
        ).select_from(control.join(replayed, true())),
    ).subquery("wanted")
    locking = (
        postgresql.insert(positions)
        .from_select(
            [GENERATION, "stream_id", "version"],
            select(wanted.c[GENERATION], wanted.c.stream_id, literal_column("0")).order_by(
                wanted.c[GENERATION], wanted.c.stream_id.collate("C")
            ),
        )
        .on_conflict_do_update(
            index_elements=[GENERATION, "stream_id"], set_={"version": positions.c.version}
        )
        .returning(positions.c[GENERATION], positions.c.stream_id, positions.c.version)
        .cte("locked")
    )
    columns: list[ColumnElement[Any]] = [
        control.c.active,
        control.c.building,
        control.c.rebuild,
        control.c.promoted_by,
        control.c.latest,
        control.c.cleanup,
        locking.c[GENERATION].label("locked_generation"),
        locking.c.stream_id,
        locking.c.version,
    ]
    joined = control.outerjoin(locking, true())
    if rows is not None:
        # Both read in the statement's snapshot (the insert's own writes are not visible here),
        # each by its primary key per locked row: LATERAL with LIMIT 1 (one key, one row) keeps
        # Postgres from flattening them into a join it may run as a scan of the whole table.
        seen = (
            select(positions.c.version.label("seen_version"))
            .where(
                positions.c[GENERATION] == locking.c[GENERATION],
                positions.c.stream_id == locking.c.stream_id,
            )
            .limit(1)
            .lateral("seen")
        )
        state_table = rows.table
        state = (
            select(
                state_table.c[rows.key].label(_STATE_KEY),
                *(state_table.c[name].label(f"{_STATE}{name}") for name in rows.columns),
            )
            .where(
                state_table.c[GENERATION] == locking.c[GENERATION],
                state_table.c[rows.key] == locking.c.stream_id,
            )
            .limit(1)
            .lateral("state")
        )
        columns.append(seen.c.seen_version)
        columns.append(state.c[_STATE_KEY])
        columns.extend(state.c[f"{_STATE}{name}"] for name in rows.columns)
        joined = joined.outerjoin(seen, true()).outerjoin(state, true())
    return select(*columns).select_from(joined)


def begin(
    connection: Connection, tables: RuntimeTables, projection: str, rebuild: str, now: datetime
) -> Generations:
    """Allocate a new generation for ``rebuild`` (see the module docstring)."""
    current = read_generations(connection, tables, projection, lock=Lock.UPDATE)
    if rebuild in (current.rebuild, current.promoted_by):
        return current
    building = current.latest + 1
    return _store(
        connection,
        tables,
        projection,
        now,
        building=building,
        rebuild=rebuild,
        latest=building,
        # An earlier rebuild that never finished left rows behind.
        cleanup=current.cleanup or current.building is not None,
    )


def promote_target(current: Generations, rebuild: str) -> int | None:
    """The generation ``promote(rebuild)`` would make active; None if it already did."""
    if current.promoted_by == rebuild:
        return None
    if current.rebuild != rebuild or current.building is None:
        msg = (
            f"rebuild {rebuild!r} is not in progress (building {current.building}, "
            f"owned by {current.rebuild!r}): its begin was never applied or a later rebuild "
            "took over"
        )
        raise ControlRefused(msg)
    return current.building


def swap(
    connection: Connection,
    tables: RuntimeTables,
    projection: str,
    *,
    rebuild: str,
    target: int,
    now: datetime,
) -> Generations:
    """Make ``target`` (what :func:`promote_target` answered) the active generation. The caller
    holds the row lock (``read_generations(..., lock=Lock.UPDATE)``) and has caught ``target`` up
    with the active generation."""
    return _store(
        connection,
        tables,
        projection,
        now,
        active=target,
        building=None,
        rebuild=None,
        promoted_by=rebuild,
        cleanup=True,
    )


def abort(
    connection: Connection, tables: RuntimeTables, projection: str, rebuild: str, now: datetime
) -> Generations:
    """Forget the generation ``rebuild`` was building; anything else is left as it is."""
    current = read_generations(connection, tables, projection, lock=Lock.UPDATE)
    if current.rebuild != rebuild:
        return current
    return _store(connection, tables, projection, now, building=None, rebuild=None, cleanup=True)


def garbage_condition(table: FromClause, keep: Generations) -> ColumnElement[bool]:
    """Rows of ``table`` in no generation ``keep`` keeps, as index ranges on the leading column
    (generations are allocated in increasing order, so ``active < building`` whenever both are
    set, and nothing lies above ``latest``)."""
    column = table.c[GENERATION]
    if keep.building is None:
        return or_(column < keep.active, column > keep.active)
    return or_(
        column < keep.active,
        and_(column > keep.active, column < keep.building),
        column > keep.building,
    )


def delete_garbage(
    connection: Connection, tables: Sequence[Table], keep: Generations, limit: int
) -> tuple[int, bool]:
    """Delete at most ``limit`` garbage rows from each table; answers how many rows went and
    whether that was the last of them (every table had fewer than ``limit``).

    Rows are picked by primary key in a subquery: neither Postgres nor SQLite's default build
    takes ``DELETE ... LIMIT``."""
    deleted = 0
    exhausted = True
    for table in tables:
        key = list(table.primary_key.columns)
        # An alias, so the subquery reads the table on its own instead of correlating to the
        # DELETE's row.
        picked = table.alias("doomed")
        doomed = (
            select(*(picked.c[column.name] for column in key))
            .where(garbage_condition(picked, keep))
            .limit(limit)
        )
        count = max(connection.execute(delete(table).where(tuple_(*key).in_(doomed))).rowcount, 0)
        deleted += count
        exhausted = exhausted and count < limit
    return deleted, exhausted


def finish_cleanup(
    connection: Connection, tables: RuntimeTables, projection: str, now: datetime
) -> None:
    _store(connection, tables, projection, now, cleanup=False)


def _store(
    connection: Connection,
    tables: RuntimeTables,
    projection: str,
    now: datetime,
    **changes: object,
) -> Generations:
    control = tables.generations
    connection.execute(
        update(control).where(control.c.projection == projection).values(**changes, updated_at=now)
    )
    return read_generations(connection, tables, projection)
