"""Why the Account refuses a command. Types, not messages: the HTTP layer maps them in one table."""

from __future__ import annotations

from decimal import Decimal


class DomainError(Exception):
    """The account's state forbids the command."""

    def __init__(self, account_id: str, message: str) -> None:
        super().__init__(message)
        self.account_id = account_id
        self.message = message


class AccountNotFound(DomainError):
    def __init__(self, account_id: str) -> None:
        super().__init__(account_id, f"account {account_id} does not exist")


class AccountAlreadyExists(DomainError):
    def __init__(self, account_id: str) -> None:
        super().__init__(account_id, f"account {account_id} already exists")


class AccountAlreadyClosed(DomainError):
    def __init__(self, account_id: str) -> None:
        super().__init__(account_id, f"account {account_id} is closed")


class InsufficientFunds(DomainError):
    def __init__(self, account_id: str, balance: Decimal, requested: Decimal) -> None:
        super().__init__(
            account_id,
            f"account {account_id} holds {balance:f}, less than the {requested:f} requested",
        )
        self.balance = balance
        self.requested = requested


class AccountNotEmpty(DomainError):
    def __init__(self, account_id: str, balance: Decimal) -> None:
        super().__init__(
            account_id, f"account {account_id} still holds {balance:f}; only an empty one closes"
        )
        self.balance = balance
