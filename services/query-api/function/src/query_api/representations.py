"""What the queries answer: the contract's JSON documents, their ETags and conditional requests.

ETags (RFC 9110):

- An account is ``"<version>"``, a strong validator. The version numbers the account's events,
  and the read model's row is a function of them, so equal versions mean equal documents. It is
  also exactly what the command API's ``If-Match`` takes: a client reads an account and sends the
  ETag back with its next command.
- A page of a list is ``W/"<hash>"`` over the ids and versions on it and the next cursor. Weak,
  because it vouches for the same accounts at the same versions rather than for the bytes.
- A page of an account's transactions is ``W/"<hash>"`` over its event ids and versions and the
  next cursor: a transaction never changes once recorded, so the page changes only when a
  transaction joins it (or the next cursor appears).

``If-None-Match`` is honoured with a 304 (the query still runs: the answer's freshness is what
is being asked about, and a single indexed read is cheap).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from query_api.views import AccountView, TransactionView

CENT: Final = Decimal("0.01")
LIST_ETAG_HEX_DIGITS: Final = 32


class Account(BaseModel):
    """An account as the balances read model last saw it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str = Field(examples=["2f1c2b8e-8d7c-4f5e-9a51-7f3c1c0e4d2a"])
    owner: str
    currency: str = Field(examples=["EUR"])
    balance: str = Field(
        pattern=r"^-?\d+\.\d{2}$",
        examples=["70.25"],
        description="Exact decimal as a string, always two decimal places.",
    )
    status: Literal["open", "closed"]
    version: int = Field(
        ge=1,
        description="Version of the last event the read model applied to this account; compare"
        " it with a command's answer to tell whether the read model has caught up.",
    )
    updated_at: str = Field(
        json_schema_extra={"format": "date-time"},
        examples=["2024-05-01T12:30:00.000000Z"],
        description="RFC 3339, UTC.",
    )


class AccountPage(BaseModel):
    """One page of accounts in ``account_id`` order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[Account]
    next_cursor: str | None = Field(
        description="Pass as `cursor`, with the same filters, for the next page; null on the last"
        " page.",
    )


class Transaction(BaseModel):
    """A deposit or withdrawal, as the transactions read model recorded it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(
        examples=["6a1f0c3e-5b2d-4e8f-9c7a-1d2e3f4a5b6c"],
        description="The event that recorded it.",
    )
    type: Literal["deposit", "withdrawal"]
    amount: str = Field(
        pattern=r"^\d+\.\d{2}$",
        examples=["12.50"],
        description="Exact decimal as a string, always two decimal places.",
    )
    balance_after: str = Field(
        pattern=r"^-?\d+\.\d{2}$",
        examples=["70.25"],
        description="The account's balance right after this transaction.",
    )
    reference: str | None = Field(description="The reference the command carried, if any.")
    occurred_at: str = Field(
        json_schema_extra={"format": "date-time"},
        examples=["2024-05-01T12:30:00.000000Z"],
        description="RFC 3339, UTC.",
    )
    version: int = Field(ge=1, description="The event's version in the account's stream.")


class TransactionPage(BaseModel):
    """One page of an account's transactions, oldest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[Transaction]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page.",
    )


def account_document(view: AccountView) -> Account:
    return Account(
        account_id=view.account_id,
        owner=view.owner,
        currency=view.currency,
        balance=money_text(view.balance),
        status=view.status,
        version=view.version,
        updated_at=timestamp_text(view.updated_at),
    )


def transaction_document(view: TransactionView) -> Transaction:
    return Transaction(
        event_id=view.event_id,
        type=view.type,
        amount=money_text(view.amount),
        balance_after=money_text(view.balance_after),
        reference=view.reference,
        occurred_at=timestamp_text(view.occurred_at),
        version=view.version,
    )


def timestamp_text(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: ``2024-05-01T12:30:00.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def money_text(amount: Decimal) -> str:
    """``Decimal("70.2")`` -> ``"70.20"``: the contract's two-decimal string, never via float."""
    return f"{amount.quantize(CENT):f}"


def account_etag(view: AccountView) -> str:
    return f'"{view.version}"'


def page_etag(views: Sequence[AccountView], next_cursor: str | None) -> str:
    digest = hashlib.sha256()
    for view in views:
        digest.update(f"{view.account_id}:{view.version}\n".encode())
    digest.update(f"next:{next_cursor or ''}".encode())
    return f'W/"{digest.hexdigest()[:LIST_ETAG_HEX_DIGITS]}"'


def transactions_page_etag(views: Sequence[TransactionView], next_cursor: str | None) -> str:
    digest = hashlib.sha256()
    for view in views:
        digest.update(f"{view.event_id}:{view.version}\n".encode())
    digest.update(f"next:{next_cursor or ''}".encode())
    return f'W/"{digest.hexdigest()[:LIST_ETAG_HEX_DIGITS]}"'


def none_match(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` matches ``etag`` (weak comparison, as RFC 9110 asks for GET)."""
    if if_none_match is None:
        return False
    wanted = if_none_match.strip()
    if wanted == "*":
        return True
    ours = _opaque(etag)
    return any(_opaque(candidate) == ours for candidate in wanted.split(","))


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag
