"""The balances schema's migrations, in order. Released migrations are never edited: a change to
``model.py`` comes with a new migration here, and ``migrate`` refuses to finish (and fails the
deploy) when the migrated database and ``model.py`` disagree."""

from __future__ import annotations

from typing import Final

from platform_projections import Migration, add_generation
from platform_sql import Money, UtcDateTime
from sqlalchemy import BigInteger, Column, Connection, Index, Integer, MetaData, Table, Text

from projection_balances.model import SCHEMA


def _create_accounts(connection: Connection, _schema: str) -> None:
    # The table as first released, spelled out: later edits to model.py must not change what
    # this step did on databases migrated before them.
    table = Table(
        "accounts",
        MetaData(schema=SCHEMA),
        Column("account_id", Text, primary_key=True),
        Column("owner", Text, nullable=False),
        Column("currency", Text, nullable=False),
        Column("balance", Money, nullable=False),
        Column("status", Text, nullable=False),
        Column("version", BigInteger, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        Index("ix_accounts_owner_account_id", "owner", "account_id"),
        Index("ix_accounts_status_account_id", "status", "account_id"),
        Index("ix_accounts_owner_status_account_id", "owner", "status", "account_id"),
    )
    table.create(connection)


def _generations(connection: Connection, schema: str) -> None:
    # Every existing row becomes generation 1 (the runtime's own migration made generation 1
    # active); the pagination indexes lead with the generation, as every read filters on it.
    table = Table(
        "accounts",
        MetaData(schema=SCHEMA),
        Column("generation", Integer, primary_key=True, autoincrement=False),
        Column("account_id", Text, primary_key=True),
        Column("owner", Text, nullable=False),
        Column("currency", Text, nullable=False),
        Column("balance", Money, nullable=False),
        Column("status", Text, nullable=False),
        Column("version", BigInteger, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        Index("ix_accounts_owner_account_id", "generation", "owner", "account_id"),
        Index("ix_accounts_status_account_id", "generation", "status", "account_id"),
        Index("ix_accounts_owner_status_account_id", "generation", "owner", "status", "account_id"),
    )
    add_generation(connection, schema, table)


MIGRATIONS: Final = (
    Migration(1, "accounts", _create_accounts),
    Migration(2, "accounts by generation", _generations),
)
