"""The read model's tables: ``balances.accounts``, one row per account and generation
(shared/CONTRACT.md). Readers see only the active generation
(``platform_sql.in_active_generation``); a rebuild fills the next one beside it
(``platform_projections.generations``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from platform_projections import generation_column
from platform_sql import Money, UtcDateTime
from sqlalchemy import BigInteger, Column, Index, MetaData, Table, Text

SCHEMA: Final = "balances"
"""The projection's name, its schema and (on SQLite) the name its database is ATTACHed as."""


class Status(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


metadata: Final = MetaData(schema=SCHEMA)

accounts: Final = Table(
    "accounts",
    metadata,
    generation_column(),
    Column("account_id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("balance", Money, nullable=False),
    Column("status", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Keyset pagination in account_id order, filtered by owner, by status, or by both, always
    # within one generation (the primary key serves the unfiltered order and lookups by id).
    Index("ix_accounts_owner_account_id", "generation", "owner", "account_id"),
    Index("ix_accounts_status_account_id", "generation", "status", "account_id"),
    Index("ix_accounts_owner_status_account_id", "generation", "owner", "status", "account_id"),
)
