"""The transactions schema's migrations, in order. Released migrations are never edited: a change
to ``model.py`` comes with a new migration here, and ``migrate`` refuses to finish (and fails the
deploy) when the migrated database and ``model.py`` disagree."""

from __future__ import annotations

from typing import Final

from platform_projections import Migration, add_generation
from platform_sql import Money, UtcDateTime
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    Text,
)

from projection_transactions.model import SCHEMA


def _create_transactions(connection: Connection, _schema: str) -> None:
    # The table as first released, spelled out: later edits to model.py must not change what
    # this step did on databases migrated before them.
    table = Table(
        "transactions",
        MetaData(schema=SCHEMA),
        Column("account_id", Text, primary_key=True),
        Column("version", BigInteger, primary_key=True),
        Column("event_id", Text, nullable=False),
        Column("type", Text, nullable=False),
        Column("amount", Money, nullable=False),
        Column("balance_after", Money, nullable=False),
        Column("reference", Text, nullable=True),
        Column("occurred_at", UtcDateTime, nullable=False),
        CheckConstraint("type IN ('deposit', 'withdrawal')", name="ck_transactions_type"),
    )
    table.create(connection)


def _generations(connection: Connection, schema: str) -> None:
    # Every existing row becomes generation 1 (the runtime's own migration made generation 1
    # active); the primary key, which is also the pages' index, leads with the generation.
    table = Table(
        "transactions",
        MetaData(schema=SCHEMA),
        Column("generation", Integer, primary_key=True, autoincrement=False),
        Column("account_id", Text, primary_key=True),
        Column("version", BigInteger, primary_key=True),
        Column("event_id", Text, nullable=False),
        Column("type", Text, nullable=False),
        Column("amount", Money, nullable=False),
        Column("balance_after", Money, nullable=False),
        Column("reference", Text, nullable=True),
        Column("occurred_at", UtcDateTime, nullable=False),
        CheckConstraint("type IN ('deposit', 'withdrawal')", name="ck_transactions_type"),
    )
    add_generation(connection, schema, table)


MIGRATIONS: Final = (
    Migration(1, "transactions", _create_transactions),
    Migration(2, "transactions by generation", _generations),
)
