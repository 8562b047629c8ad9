"""CQRS reads: plain SQL over the denormalised read models, nothing else.

The only coupling to the projections is the contract in docs/conventions.md (schema, table and
column names), so the tables are described here with SQLAlchemy Core's lightweight ``table()``
(no MetaData, no ORM, never used for DDL). Every value travels as a bound parameter, and the
statements are plain enough to read as the SQL they produce, e.g. the second page of one owner's
open accounts::

    SELECT account_id, owner, currency, balance, status, version, updated_at
    FROM balances.accounts
    WHERE owner = :owner AND status = :status AND account_id > :after
    ORDER BY account_id LIMIT :limit

Keyset pagination on the primary key keeps pages stable while rows are inserted or updated
between requests: a page starts strictly after the last id the client saw, so nothing is
repeated, and every row that existed when the first page was read is reached. The
``(owner, account_id)``, ``(status, account_id)`` and ``(owner, status, account_id)`` indexes the
projection keeps make each page one index range scan.

The same code runs on Postgres and on SQLite (where ``balances`` is an ATTACHed database); the
column types come from platform-sql so both hand back ``Decimal`` money and aware UTC times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal, TypeAlias

from platform_sql import Money, UtcDateTime
from sqlalchemy import BigInteger, Connection, Row, String, column, select, table

AccountStatus: TypeAlias = Literal["open", "closed"]
STATUSES: Final[tuple[AccountStatus, ...]] = ("open", "closed")

accounts = table(
    "accounts",
    column("account_id", String),
    column("owner", String),
    column("currency", String),
    column("balance", Money()),
    column("status", String),
    column("version", BigInteger),
    column("updated_at", UtcDateTime()),
    schema="balances",
)


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
class AccountFilters:
    """What a list of accounts is narrowed to; part of every cursor issued for that list."""

    owner: str | None = None
    status: AccountStatus | None = None


def find_account(connection: Connection, account_id: str) -> AccountView | None:
    statement = select(accounts).where(accounts.c.account_id == account_id)
    row = connection.execute(statement).one_or_none()
    return None if row is None else _account(row)


def list_accounts(
    connection: Connection, filters: AccountFilters, *, after: str | None, limit: int
) -> list[AccountView]:
    """Up to ``limit`` accounts in ``account_id`` order, starting strictly after ``after``."""
    statement = select(accounts)
    if filters.owner is not None:
        statement = statement.where(accounts.c.owner == filters.owner)
    if filters.status is not None:
        statement = statement.where(accounts.c.status == filters.status)
    if after is not None:
        statement = statement.where(accounts.c.account_id > after)
    statement = statement.order_by(accounts.c.account_id).limit(limit)
    return [_account(row) for row in connection.execute(statement)]


def _account(row: Row[tuple[object, ...]]) -> AccountView:
    values = row._mapping
    return AccountView(
        account_id=values["account_id"],
        owner=values["owner"],
        currency=values["currency"],
        balance=values["balance"],
        status=_status(values["status"]),
        version=values["version"],
        updated_at=values["updated_at"],
    )


def _status(value: object) -> AccountStatus:
    for status in STATUSES:
        if value == status:
            return status
    # The projection broke the contract; answering with a guess would hide it.
    msg = f"balances.accounts.status is {value!r}, not one of {STATUSES}"
    raise ValueError(msg)
