"""The read model's table: ``transactions.transactions``, one row per deposit or withdrawal of an
account and generation, with the balance right after it (shared/CONTRACT.md, the transactions
query). Readers see only the active generation (``platform_sql.in_active_generation``); a rebuild
fills the next one beside it (``platform_projections.generations``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from platform_projections import generation_column
from platform_sql import Money, UtcDateTime
from sqlalchemy import BigInteger, CheckConstraint, Column, MetaData, Table, Text

SCHEMA: Final = "transactions"
"""The projection's name, its schema and (on SQLite) the name its database is ATTACHed as."""


class Kind(StrEnum):
    """The ``type`` of a transaction, as the query answers it."""

    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


metadata: Final = MetaData(schema=SCHEMA)

transactions: Final = Table(
    "transactions",
    metadata,
    # The primary key is also the only index the model needs: an account's page, oldest first,
    # is one range scan of it (generation = :active AND account_id = :id AND version > :after
    # ORDER BY version), and the projection's load (each account's last row) is one probe of it
    # per account.
    generation_column(),
    Column("account_id", Text, primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("event_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("amount", Money, nullable=False),
    Column("balance_after", Money, nullable=False),
    Column("reference", Text, nullable=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    CheckConstraint(
        "type IN ('deposit', 'withdrawal')",
        name="ck_transactions_type",
    ),
)
