"""The balances projection: each account's owner, currency, balance and status, folded from its
events. Pure functions of (state, event); the runtime does ordering, deduplication and writes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from platform_projections import Event, Projection, RowPerStream, on

from account_events import AccountClosed, AccountOpened, MoneyDeposited, MoneyWithdrawn
from projection_balances.model import SCHEMA, Status, accounts, metadata

ZERO: Final = Decimal("0.00")


class NotAnOpenAccount(Exception):
    """An event that only an open account can take reached one that is missing or closed."""


@dataclass(frozen=True, slots=True)
class Account:
    """One row of ``balances.accounts``."""

    account_id: str
    owner: str
    currency: str
    balance: Decimal
    status: str
    version: int
    updated_at: datetime


def opened(account: Account | None, event: Event[AccountOpened]) -> Account:
    if account is not None:
        msg = f"{event.stream_id} is opened twice (v{account.version} and v{event.version})"
        raise NotAnOpenAccount(msg)
    return Account(
        account_id=event.stream_id,
        owner=event.payload.owner,
        currency=event.payload.currency,
        balance=ZERO,
        status=Status.OPEN.value,
        version=event.version,
        # The event's time, not the clock's: the row stays a pure fold of the event store.
        updated_at=event.occurred_at,
    )


def deposited(account: Account | None, event: Event[MoneyDeposited]) -> Account:
    current = _open(account, event)
    return _moved(current, event, current.balance + event.payload.amount)


def withdrawn(account: Account | None, event: Event[MoneyWithdrawn]) -> Account:
    current = _open(account, event)
    return _moved(current, event, current.balance - event.payload.amount)


def closed(account: Account | None, event: Event[AccountClosed]) -> Account:
    current = _open(account, event)
    return replace(
        current,
        status=Status.CLOSED.value,
        version=event.version,
        updated_at=event.occurred_at,
    )


def _open(account: Account | None, event: Event[Any]) -> Account:
    if account is None or account.status != Status.OPEN:
        state = "missing" if account is None else account.status
        msg = f"{event.envelope.event_type} v{event.version} on a {state} account {event.stream_id}"
        raise NotAnOpenAccount(msg)
    return account


def _moved(account: Account, event: Event[Any], balance: Decimal) -> Account:
    return replace(account, balance=balance, version=event.version, updated_at=event.occurred_at)


PROJECTION: Final = Projection(
    name=SCHEMA,
    metadata=metadata,
    store=RowPerStream(accounts, Account, key="account_id"),
    handlers=(
        on(AccountOpened, opened),
        on(MoneyDeposited, deposited),
        on(MoneyWithdrawn, withdrawn),
        on(AccountClosed, closed),
    ),
)
"""Declared once: drives the handler, the subscription's filter policy, migrations and replay."""
