"""CQRS reads: plain SQL over the denormalised read models, nothing else.

The only coupling to the projections is the contract in docs/conventions.md (schema, table and
column names), so the tables are described here with SQLAlchemy Core's lightweight ``table()``
(no MetaData, no ORM, never used for DDL). Every value travels as a bound parameter, and the
statements are plain enough to read as the SQL they produce, e.g. the second page of one owner's
open accounts::

    SELECT account_id, owner, currency, balance, status, version, updated_at
    FROM balances.accounts
    WHERE balances.accounts.generation = (
            SELECT active FROM balances.generations WHERE projection = 'balances')
      AND owner = :owner AND status = :status AND account_id > :after
    ORDER BY account_id LIMIT :limit

Every read sees only the projection's active generation (``platform_sql.in_active_generation``):
a rebuild fills another generation beside it and switches ``active`` in one transaction, and the
subquery and the rows are read in one statement, so a reader sees the old model whole or the new
one whole, never a half-built one.

Keyset pagination on the primary key keeps pages stable while rows are inserted or updated
between requests: a page starts strictly after the last id the client saw, so nothing is
repeated, and every row that existed when the first page was read is reached. The
``(generation, owner, account_id)``, ``(generation, status, account_id)`` and ``(generation,
owner, status, account_id)`` indexes the projection keeps make each page one index range scan.

An account's transactions (``transactions.transactions``, the second projection's table) are
paged the same way, oldest first, on the projection's primary key ``(generation, account_id,
version)``::

    SELECT event_id, type, amount, balance_after, reference, occurred_at, version
    FROM transactions.transactions
    WHERE transactions.transactions.generation = (
            SELECT active FROM transactions.generations WHERE projection = 'transactions')
      AND account_id = :account_id AND version > :after
    ORDER BY version LIMIT :limit

An account is known to the read side when either projection has seen it: a row in
``balances.accounts`` or any row in ``transactions.transactions``. The two projections catch up
independently, so an account whose first deposit the transactions projection already folded
is known even while balances lags, and an opened account without movements is known (with an
empty history) as soon as balances has it.

The same code runs on Postgres and on SQLite (where ``balances`` and ``transactions`` are
ATTACHed databases); the column types come from platform-sql so both hand back ``Decimal`` money
and aware UTC times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal, TypeAlias, TypeVar

from platform_sql import GENERATION, Money, UtcDateTime, in_active_generation
from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    Row,
    RowMapping,
    String,
    column,
    exists,
    or_,
    select,
    table,
)
from sqlalchemy.exc import ProgrammingError

AccountStatus: TypeAlias = Literal["open", "closed"]
STATUSES: Final[tuple[AccountStatus, ...]] = ("open", "closed")
TransactionType: TypeAlias = Literal["deposit", "withdrawal"]
TRANSACTION_TYPES: Final[tuple[TransactionType, ...]] = ("deposit", "withdrawal")
MISSING_RELATION: Final = frozenset({"42P01", "3F000"})
"""Postgres' undefined_table and invalid_schema_name: a read model that is not deployed."""

accounts = table(
    "accounts",
    column(GENERATION, Integer),
    column("account_id", String),
    column("owner", String),
    column("currency", String),
    column("balance", Money()),
    column("status", String),
    column("version", BigInteger),
    column("updated_at", UtcDateTime()),
    schema="balances",
)

transactions = table(
    "transactions",
    column(GENERATION, Integer),
    column("account_id", String),
    column("version", BigInteger),
    column("event_id", String),
    column("type", String),
    column("amount", Money()),
    column("balance_after", Money()),
    column("reference", String),
    column("occurred_at", UtcDateTime()),
    schema="transactions",
)

_ACCOUNT_COLUMNS: Final = tuple(c for c in accounts.columns if c.name != GENERATION)


class ReadModelMissing(Exception):
    """A read model's tables do not exist (its projection is not deployed yet)."""


@dataclass(frozen=True, slots=True)
class AccountView:
    """One row of ``balances.accounts``: an account as the balances projection last saw it."""

    account_id: str
    owner: str
    currency: str
    balance: Decimal
    status: AccountStatus
    version: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TransactionView:
    """One row of ``transactions.transactions``: a deposit or withdrawal and the balance after."""

    event_id: str
    type: TransactionType
    amount: Decimal
    balance_after: Decimal
    reference: str | None
    occurred_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class AccountFilters:
    """What a list of accounts is narrowed to; part of every cursor issued for that list."""

    owner: str | None = None
    status: AccountStatus | None = None


def find_account(connection: Connection, account_id: str) -> AccountView | None:
    statement = select(*_ACCOUNT_COLUMNS).where(
        in_active_generation(accounts), accounts.c.account_id == account_id
    )
    row = connection.execute(statement).one_or_none()
    return None if row is None else _account(row)


def list_accounts(
    connection: Connection, filters: AccountFilters, *, after: str | None, limit: int
) -> list[AccountView]:
    """Up to ``limit`` accounts in ``account_id`` order, starting strictly after ``after``."""
    statement = select(*_ACCOUNT_COLUMNS).where(in_active_generation(accounts))
    if filters.owner is not None:
        statement = statement.where(accounts.c.owner == filters.owner)
    if filters.status is not None:
        statement = statement.where(accounts.c.status == filters.status)
    if after is not None:
        statement = statement.where(accounts.c.account_id > after)
    statement = statement.order_by(accounts.c.account_id).limit(limit)
    return [_account(row) for row in connection.execute(statement)]


def list_transactions(
    connection: Connection, account_id: str, *, after: int | None, limit: int
) -> list[TransactionView]:
    """Up to ``limit`` of the account's transactions, oldest first, strictly after version
    ``after``; :class:`ReadModelMissing` when the transactions model is not deployed."""
    statement = select(
        transactions.c.event_id,
        transactions.c.type,
        transactions.c.amount,
        transactions.c.balance_after,
        transactions.c.reference,
        transactions.c.occurred_at,
        transactions.c.version,
    ).where(in_active_generation(transactions), transactions.c.account_id == account_id)
    if after is not None:
        statement = statement.where(transactions.c.version > after)
    statement = statement.order_by(transactions.c.version).limit(limit)
    try:
        rows = connection.execute(statement).all()
    except ProgrammingError as error:
        if getattr(error.orig, "sqlstate", None) in MISSING_RELATION:
            raise ReadModelMissing("transactions") from error
        raise
    return [_transaction(row._mapping) for row in rows]


def account_known(connection: Connection, account_id: str) -> bool:
    """Whether either read model has seen the account (see the module docstring)."""
    statement = select(
        or_(
            exists().where(in_active_generation(accounts), accounts.c.account_id == account_id),
            exists().where(
                in_active_generation(transactions), transactions.c.account_id == account_id
            ),
        )
    )
    return bool(connection.execute(statement).scalar_one())


def _transaction(values: RowMapping) -> TransactionView:
    return TransactionView(
        event_id=values["event_id"],
        type=_choice(values["type"], TRANSACTION_TYPES, "transactions.transactions.type"),
        amount=values["amount"],
        balance_after=values["balance_after"],
        reference=values["reference"],
        occurred_at=values["occurred_at"],
        version=values["version"],
    )


def _account(row: Row[tuple[object, ...]]) -> AccountView:
    values = row._mapping
    return AccountView(
        account_id=values["account_id"],
        owner=values["owner"],
        currency=values["currency"],
        balance=values["balance"],
        status=_choice(values["status"], STATUSES, "balances.accounts.status"),
        version=values["version"],
        updated_at=values["updated_at"],
    )


_Choice = TypeVar("_Choice", bound=str)


def _choice(value: object, choices: tuple[_Choice, ...], where: str) -> _Choice:
    for choice in choices:
        if value == choice:
            return choice
    # The projection broke the contract; answering with a guess would hide it.
    msg = f"{where} is {value!r}, not one of {choices}"
    raise ValueError(msg)
