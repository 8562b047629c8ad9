"""The Account aggregate as pure functions: commands in, event payloads out, no I/O."""

from command_api.domain.account import Account, AccountStatus, decide, evolve, fold
from command_api.domain.commands import CloseAccount, Command, Deposit, OpenAccount, Withdraw
from command_api.domain.errors import (
    AccountAlreadyClosed,
    AccountAlreadyExists,
    AccountNotEmpty,
    AccountNotFound,
    DomainError,
    InsufficientFunds,
)
from command_api.domain.values import InvalidValue

__all__ = [
    "Account",
    "AccountAlreadyClosed",
    "AccountAlreadyExists",
    "AccountNotEmpty",
    "AccountNotFound",
    "AccountStatus",
    "CloseAccount",
    "Command",
    "Deposit",
    "DomainError",
    "InsufficientFunds",
    "InvalidValue",
    "OpenAccount",
    "Withdraw",
    "decide",
    "evolve",
    "fold",
]
