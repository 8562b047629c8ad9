"""The transactions projection: every deposit and withdrawal of an account, in version order, with
the balance after it. Pure functions of (state, event); the runtime does ordering, deduplication,
gap repair and the transaction around the writes.

It handles only ``MoneyDeposited`` and ``MoneyWithdrawn``, so its subscription carries only those.
``AccountOpened`` (always a stream's version 1) and ``AccountClosed`` never reach its queue: the
runtime sees the hole below the first deposit, reads it from the event store (gap repair) and
steps its position over event types the projection does not handle.

The per-stream state is the running balance and the rows one fold added; it is loaded from the
account's last row (its ``balance_after`` is the running balance), so nothing is stored twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Final

from platform_projections import Event, Projection, StateStore, on
from platform_sql import GENERATION, dialect_insert
from sqlalchemy import Connection, Table, and_, func, select

from account_events import MoneyDeposited, MoneyWithdrawn
from projection_transactions.model import SCHEMA, Kind, metadata, transactions

ZERO: Final = Decimal("0.00")
REPLACEMENT_CHARACTER: Final = "\ufffd"
ROWS_PER_STATEMENT: Final = 1000
"""Rows per INSERT: at 9 bound values a row, below SQLite's 32,766 and Postgres' 65,535 bound
parameters. An ordinary batch (10 messages, a small gap) is one statement; only a long gap
repaired from the event store (a stream folded for the first time without a replay) takes more."""


class OutOfOrder(Exception):
    """An event at or below the last stored version: positions and rows disagree."""


@dataclass(frozen=True, slots=True)
class Transaction:
    """One row of ``transactions.transactions``."""

    account_id: str
    version: int
    event_id: str
    type: str
    amount: Decimal
    balance_after: Decimal
    reference: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class History:
    """An account's state as the projection folds it: the balance after its last movement, that
    movement's version, and the rows this fold added (written by the store, then forgotten)."""

    account_id: str
    balance: Decimal
    version: int
    added: tuple[Transaction, ...] = ()


def deposited(history: History | None, event: Event[MoneyDeposited]) -> History:
    amount = event.payload.amount
    return _moved(history, event, Kind.DEPOSIT, amount=amount, change=amount)


def withdrawn(history: History | None, event: Event[MoneyWithdrawn]) -> History:
    amount = event.payload.amount
    return _moved(history, event, Kind.WITHDRAWAL, amount=amount, change=-amount)


def storable_text(text: str | None) -> str | None:
    """``text`` with NUL as U+FFFD (the replacement character).

    The command API accepts any characters in a reference, and Postgres text cannot hold NUL:
    kept as it is, such an event would be a row the database refuses on every attempt, and the
    account's history would stop there for good. Replaced here, in the fold, so that Postgres
    and SQLite hold the same rows.
    """
    return None if text is None else text.replace("\x00", REPLACEMENT_CHARACTER)


def _moved(
    history: History | None,
    event: Event[MoneyDeposited] | Event[MoneyWithdrawn],
    kind: Kind,
    *,
    amount: Decimal,
    change: Decimal,
) -> History:
    # No history yet: the account was opened (version 1) with a zero balance, and opening is the
    # only event that can come before its first movement.
    current = history or History(account_id=event.stream_id, balance=ZERO, version=0)
    if event.version <= current.version:
        # The runtime folds each version once, after every earlier one; a lower version means the
        # stored rows are ahead of the stream's position, and chaining on would corrupt balances.
        msg = f"{event.stream_id} v{event.version} arrived after v{current.version} was stored"
        raise OutOfOrder(msg)
    balance = current.balance + change
    row = Transaction(
        account_id=event.stream_id,
        version=event.version,
        event_id=str(event.event_id),
        type=kind.value,
        amount=amount,
        balance_after=balance,
        reference=storable_text(event.payload.reference),
        occurred_at=event.occurred_at,
    )
    return History(event.stream_id, balance, event.version, (*current.added, row))


class HistoryStore(StateStore[History]):
    """Loads each account's last row in a generation (one query) and inserts the new rows (one
    statement per ``ROWS_PER_STATEMENT``) of every account a batch moved."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._columns = tuple(f.name for f in fields(Transaction))
        declared = {column.name for column in table.columns}
        # The generation is where a row is kept, not part of the transaction it records.
        if GENERATION in self._columns or set(self._columns) | {GENERATION} != declared:
            msg = (
                f"Transaction fields {sorted(self._columns)} + {GENERATION!r} != "
                f"{table} {sorted(declared)}"
            )
            raise ValueError(msg)

    def load(
        self, connection: Connection, stream_ids: Sequence[str], *, generation: int
    ) -> Mapping[str, History]:
        table = self.table
        last = (
            select(table.c.account_id, func.max(table.c.version).label("version"))
            .where(table.c[GENERATION] == generation, table.c.account_id.in_(list(stream_ids)))
            .group_by(table.c.account_id)
            .subquery("last")
        )
        statement = select(table.c.account_id, table.c.version, table.c.balance_after).join(
            last,
            and_(
                table.c[GENERATION] == generation,
                table.c.account_id == last.c.account_id,
                table.c.version == last.c.version,
            ),
        )
        return {
            row.account_id: History(row.account_id, row.balance_after, int(row.version))
            for row in connection.execute(statement)
        }

    def save(
        self, connection: Connection, states: Mapping[str, History], *, generation: int
    ) -> None:
        rows = [
            {GENERATION: generation, **{name: getattr(row, name) for name in self._columns}}
            for _, history in sorted(states.items())
            for row in history.added
        ]
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            # Rows never change once written; the runtime already serializes a stream's writers,
            # and a stale writer (an old Lambda still running after a timeout) adds nothing.
            statement = (
                dialect_insert(connection, self.table)
                .values(chunk)
                .on_conflict_do_nothing(index_elements=[GENERATION, "account_id", "version"])
            )
            connection.execute(statement)


PROJECTION: Final = Projection(
    name=SCHEMA,
    metadata=metadata,
    store=HistoryStore(transactions),
    handlers=(
        on(MoneyDeposited, deposited),
        on(MoneyWithdrawn, withdrawn),
    ),
)
"""Declared once: drives the handler, the subscription's filter policy, migrations and replay."""
