"""The Account aggregate, functionally: state is a left fold of its events (``evolve``), and
``decide`` turns a command into new events or a :class:`DomainError`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Final, assert_never

from account_events import (
    AccountClosed,
    AccountEvent,
    AccountOpened,
    MoneyDeposited,
    MoneyWithdrawn,
)
from command_api.domain import errors
from command_api.domain.commands import CloseAccount, Command, Deposit, OpenAccount, Withdraw

ZERO: Final = Decimal("0.00")


class AccountStatus(StrEnum):
    NEW = "new"
    """No event yet: the stream does not exist."""
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Account:
    """What the events of one stream say about an account, and how many there are."""

    account_id: str
    version: int = 0
    status: AccountStatus = AccountStatus.NEW
    owner: str = ""
    currency: str = ""
    balance: Decimal = ZERO

    @property
    def exists(self) -> bool:
        return self.status is not AccountStatus.NEW


def evolve(state: Account, event: AccountEvent) -> Account:
    """The state after one more event (each event is the stream's next version)."""
    version = state.version + 1
    match event:
        case AccountOpened(owner=owner, currency=currency):
            return replace(
                state, version=version, status=AccountStatus.OPEN, owner=owner, currency=currency
            )
        case MoneyDeposited(amount=amount):
            return replace(state, version=version, balance=state.balance + amount)
        case MoneyWithdrawn(amount=amount):
            return replace(state, version=version, balance=state.balance - amount)
        case AccountClosed():
            return replace(state, version=version, status=AccountStatus.CLOSED)
        case _:
            assert_never(event)


def fold(account_id: str, events: Iterable[AccountEvent]) -> Account:
    """The state of an account from its whole history, oldest event first."""
    state = Account(account_id)
    for event in events:
        state = evolve(state, event)
    return state


def decide(state: Account, command: Command) -> list[AccountEvent]:
    """The events that record ``command``, or the :class:`DomainError` that forbids it."""
    match command:
        case OpenAccount(owner=owner, currency=currency):
            if state.exists:
                raise errors.AccountAlreadyExists(state.account_id)
            return [AccountOpened(owner=owner, currency=currency)]
        case Deposit(amount=amount, reference=reference):
            _require_open(state)
            return [MoneyDeposited(amount=amount, reference=reference)]
        case Withdraw(amount=amount, reference=reference):
            _require_open(state)
            if amount > state.balance:
                raise errors.InsufficientFunds(state.account_id, state.balance, amount)
            return [MoneyWithdrawn(amount=amount, reference=reference)]
        case CloseAccount():
            _require_open(state)
            if state.balance != 0:
                raise errors.AccountNotEmpty(state.account_id, state.balance)
            return [AccountClosed()]
        case _:
            assert_never(command)


def _require_open(state: Account) -> None:
    if state.status is AccountStatus.NEW:
        raise errors.AccountNotFound(state.account_id)
    if state.status is AccountStatus.CLOSED:
        raise errors.AccountAlreadyClosed(state.account_id)
